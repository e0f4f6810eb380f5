/**
 * The web page platform: no environment, no files, no worker threads, no
 * native packages; gpu.js is its browser build, bundled. The browser bundle's
 * entry installs it (host.browser.ts). See docs/notes/browser.md.
 */
import * as gpujsBrowser from 'gpu.js';
import type { Platform, PlatformPackage } from './platform.js';

function noFiles(what: string, instead: string): never {
  throw new Error(`${what}: a web page has no file system; ${instead}`);
}

function nodeOnly(name: PlatformPackage): Error {
  return new Error(`the '${name}' package is for Node; a web page uses WebGL and navigator.gpu instead`);
}

/** Web pages (and workers): what the browser bundle uses. */
export const browserPlatform: Platform = {
  name: 'browser',
  os: '',
  env: () => undefined,
  setEnvDefault: () => undefined,
  loadPackage: (name) => {
    // NOTE: gpu.js's browser build is UMD; bundled as CommonJS, its exports sit on `default`
    if (name === 'gpu.js') return (gpujsBrowser as { default?: unknown }).default ?? gpujsBrowser;
    throw nodeOnly(name);
  },
  importPackage: (name) => (name === 'gpu.js' ? Promise.resolve(browserPlatform.loadPackage(name)) : Promise.reject(nodeOnly(name))),
  exists: () => false,
  hardwareThreads: () => (globalThis as { navigator?: { hardwareConcurrency?: number } }).navigator?.hardwareConcurrency ?? 1,
  readFile: (path) => noFiles(`cannot read '${path}'`, 'use gg.io.readSafetensors(await fetch(url)) or fromSafetensorsBytes(bytes)'),
  writeFile: (path) => noFiles(`cannot write '${path}'`, 'use gg.io.toSafetensorsBlob(stateDict) or toSafetensorsBytes(stateDict)'),
  warn: (message, kind) => console.warn(`${kind}: ${message}`),
};
