/**
 * The runtime the library runs in, behind one small interface: environment
 * variables, files, the host's threads, warnings, and the native or
 * CommonJS packages the gpu.js devices load (gpu.js, gl, webgpu). Nothing
 * else in src/ touches `process`, `node:*` modules or those packages
 * directly, so tensor/, autograd/ and nn/ load in any JavaScript runtime.
 *
 * The default is `portablePlatform`, which needs nothing from its host: no
 * environment, no files, no packages (the gpu.js devices then report why they
 * are unavailable). The Node entry point (src/index.ts) installs
 * `nodePlatform` (./node.ts); a browser build would install its own.
 */

/** The packages the gpu.js devices load through the platform. */
export type PlatformPackage = 'gpu.js' | 'gl' | 'webgpu';

/** What gpugrad asks of the JavaScript runtime it runs in. */
export interface Platform {
  /** A short name for messages ('node', 'portable', ...). */
  readonly name: string;
  /** The operating system as Node's `process.platform` names it ('linux', ...), or '' when unknown. */
  readonly os: string;
  /** An environment variable, or undefined. */
  env(name: string): string | undefined;
  /** Set an environment variable unless it is set (a native package reads it when it loads). */
  setEnvDefault(name: string, value: string): void;
  /** Load a package synchronously (gpu.js, gl); throws with the runtime's reason when it cannot. */
  loadPackage(name: PlatformPackage): unknown;
  /** Load a package that may be an ES module (webgpu); rejects with the runtime's reason when it cannot. */
  importPackage(name: PlatformPackage): Promise<unknown>;
  /** Whether a file or directory exists (false when the runtime has no files). */
  exists(path: string): boolean;
  /** Hardware threads the host offers. */
  hardwareThreads(): number;
  /** Read a whole file. */
  readFile(path: string): Uint8Array;
  /** Write a whole file. */
  writeFile(path: string, bytes: Uint8Array): void;
  /** Report a warning (`kind` as Python's warning categories: 'UserWarning', ...). */
  warn(message: string, kind: string): void;
  /**
   * Start a thread running `source` (a script body that finds `data`, a
   * structured clone, in a variable of that name) that does not keep the process alive, where the runtime's
   * main thread may block on `Atomics.wait` while it works (Node); absent or
   * null elsewhere. `onExit` is called if the thread stops. The cpu device's
   * float32 gemm splits large products over such threads (wasm/gemm.ts).
   */
  startThread?(source: string, data: unknown, onExit: (why: string) => void): { terminate(): void } | null;
}

/** A runtime with nothing but ECMAScript: no environment, no files, no packages. */
export const portablePlatform: Platform = {
  name: 'portable',
  os: '',
  env: () => undefined,
  setEnvDefault: () => undefined,
  loadPackage: (name) => {
    throw new Error(`the '${name}' package cannot be loaded: no platform with packages is installed (the Node entry point installs one)`);
  },
  importPackage: (name) => Promise.reject(new Error(`the '${name}' package cannot be loaded: no platform with packages is installed (the Node entry point installs one)`)),
  exists: () => false,
  hardwareThreads: () => 1,
  readFile: (path) => {
    throw new Error(`cannot read '${path}': this runtime has no file system (read the bytes yourself and use fromSafetensorsBytes)`);
  },
  writeFile: (path) => {
    throw new Error(`cannot write '${path}': this runtime has no file system (use toSafetensorsBytes and store the bytes yourself)`);
  },
  warn: (message, kind) => console.warn(`${kind}: ${message}`),
};

let current: Platform = portablePlatform;

/** The platform in use. @example platform().env('GPUGRAD_PROFILE') */
export function platform(): Platform {
  return current;
}

/** Install the platform (entry points do this once, before opening devices). @example setPlatform(nodePlatform) */
export function setPlatform(p: Platform): void {
  current = p;
}

/**
 * @internal Switches of fast paths that live in modules (not in a device),
 * each on unless its environment variable is `'0'`, as
 * `{ key: boolean }` with a setter so tests can compare both paths
 * (`onThenOff`). Each is read at its first use, not when the module loads:
 * the entry point installs the platform that reads the environment only after
 * every module has loaded, so a value read at load never saw the variable.
 * @example const settings = envSwitches({ fusedCrossEntropy: 'GPUGRAD_FUSED_CE' }); if (settings.fusedCrossEntropy) ...
 */
export function envSwitches<K extends string>(variables: Record<K, string>): Record<K, boolean> {
  const switches = {} as Record<K, boolean>;
  for (const key of Object.keys(variables) as K[]) {
    let value: boolean | null = null;
    Object.defineProperty(switches, key, {
      enumerable: true,
      get: () => (value ??= platform().env(variables[key]) !== '0'),
      set: (on: boolean) => {
        value = on;
      },
    });
  }
  return switches;
}
