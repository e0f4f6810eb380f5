/**
 * The Node.js platform: the one file of src/ that imports `node:*` modules
 * and reads `process`. src/index.ts, the entry point for Node, installs it.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { Platform, PlatformPackage } from './platform.js';

const require = createRequire(import.meta.url);

/** Node: `process.env`, `node:fs`, `node:os`, packages through `require`, warnings through `process.emitWarning`. */
export const nodePlatform: Platform = {
  name: 'node',
  os: process.platform,
  env: (name) => process.env[name],
  setEnvDefault: (name, value) => {
    process.env[name] ??= value;
  },
  loadPackage: (name: PlatformPackage): unknown => {
    // NOTE: literal specifiers, so that scripts/build-package.mjs can point gpu.js at the bundled copy
    switch (name) {
      case 'gpu.js':
        return require('gpu.js');
      case 'gl':
        return require('gl');
      case 'webgpu':
        return require('webgpu');
      default:
        return name satisfies never;
    }
  },
  importPackage: async (name: PlatformPackage) => {
    try {
      // NOTE: a variable specifier keeps tsc from resolving the package's types (webgpu's need @webgpu/types)
      const specifier: string = name;
      return (await import(specifier)) as unknown;
    } catch (e) {
      // webgpu is ESM; keep a CommonJS fallback for bundlers that rewrite it
      try {
        return nodePlatform.loadPackage(name);
      } catch {
        throw e;
      }
    }
  },
  exists: (path) => existsSync(path),
  hardwareThreads: () => availableParallelism(),
  readFile: (path) => {
    const buf = readFileSync(path);
    return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
  },
  writeFile: (path, bytes) => writeFileSync(path, bytes),
  warn: (message, kind) => process.emitWarning(message, kind),
  startThread: (source, data, onExit) => {
    const script = `const data = require('node:worker_threads').workerData;\n${source}`;
    const w = new Worker(script, { eval: true, workerData: data });
    w.unref();
    w.on('error', (e: Error) => onExit(e.message));
    w.on('exit', (code: number) => onExit(`exit ${code}`));
    return { terminate: () => void w.terminate() };
  },
};
