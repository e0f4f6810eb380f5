export declare function serveStatic(
  root: string,
  opts?: { port?: number; mounts?: Record<string, string>; index?: string },
): Promise<{ url: string; close(): Promise<void> }>;
