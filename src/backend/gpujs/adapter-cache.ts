/**
 * The memory of which adapter each gpu.js device found, shared by
 * adapters.ts (Node) and adapters.browser.ts (a web page): each of them says
 * how to search, this keeps one search per device and its settled answer for
 * the life of the process or page.
 */
import { asError } from './shim.js';
import type { GpuDeviceName } from './modes.js';
import type { AdapterInfo } from './adapters.js';

/** The three questions the registry asks about adapters. */
export interface AdapterCache {
  /** Find (once) what `name` runs on: its adapter, or why it cannot run. */
  findAdapter(name: GpuDeviceName): Promise<AdapterInfo | string>;
  /** The settled answer, or one found now where that needs no waiting (not WebGPU); undefined: probe first. */
  knownAdapter(name: GpuDeviceName): AdapterInfo | string | undefined;
  /** Record that `name` failed its probe kernel: it is not opened again. */
  markUnusable(name: GpuDeviceName, reason: string): void;
}

/**
 * A cache over `search` (may wait) and `searchNow` (answers at once; never
 * asked for WebGPU, whose adapter only arrives asynchronously).
 */
export function adapterCache(
  search: (name: GpuDeviceName) => Promise<AdapterInfo | string>,
  searchNow: (name: Exclude<GpuDeviceName, 'gpu:webgpu'>) => AdapterInfo | string,
): AdapterCache {
  const searches = new Map<GpuDeviceName, Promise<AdapterInfo | string>>();
  const settled = new Map<GpuDeviceName, AdapterInfo | string>();
  return {
    async findAdapter(name) {
      let p = searches.get(name);
      if (!p) {
        p = search(name).catch((e: unknown) => `probing '${name}' failed: ${asError(e).message}`);
        searches.set(name, p);
      }
      const found = await p;
      settled.set(name, found);
      return found;
    },
    knownAdapter(name) {
      let p = settled.get(name);
      if (p === undefined && name !== 'gpu:webgpu') {
        p = searchNow(name);
        settled.set(name, p);
      }
      return p;
    },
    markUnusable(name, reason) {
      settled.set(name, reason);
    },
  };
}
