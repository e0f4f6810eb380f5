import type { BrowserContext } from 'playwright-core';
export declare const chromiumPaths: string[];
export declare const chromiumFlags: string[];
export declare function findChromium(): { path: string; reason?: undefined } | { path: null; reason: string };
export declare function launchChromium(opts?: { headless?: boolean }): Promise<{ context: BrowserContext; close(): Promise<void> }>;
