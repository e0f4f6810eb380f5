/**
 * The gpu.js modes gpugrad offers as devices in a web page (the browser
 * bundle's modes.ts; scripts/build-browser.mjs swaps the files):
 *
 * - `gpu:webgpu`  WGSL compute shaders through `navigator.gpu`; asynchronous.
 * - `gpu:webgl2`  fragment shaders on the page's WebGL 2 context.
 * - `gpu:webgl`   the same on WebGL 1 (float textures needed).
 * - `gpu:cpu`     gpu.js's transpiled JavaScript.
 *
 * No `gpu:webasm` (its kernels split across worker threads, and its
 * `WebAssembly.Memory` failed to allocate in Chromium here) and no
 * `gpu:headlessgl` (a native Node module); see docs/notes/browser.md.
 */
import type { GpuDeviceName, ModeConfig } from './modes.js';

export type { GpuDeviceName, ModeConfig } from './modes.js';

/** The gpu.js devices of a web page, best first when hardware is present. */
export const gpuDeviceNames: readonly GpuDeviceName[] = ['gpu:webgpu', 'gpu:webgl2', 'gpu:webgl', 'gpu:cpu'];

/** Whether `name` is one of this runtime's gpu.js devices. */
export function isGpuName(name: string): name is GpuDeviceName {
  return (gpuDeviceNames as readonly string[]).includes(name);
}

/**
 * The order `'gpu'` prefers among the devices that run: a hardware WebGPU,
 * then WebGL 2, then WebGL. NOTE: with software renderers only (SwiftShader),
 * WebGL 2 first: not measured against the others yet.
 */
export function bestOrder(hardware: boolean): readonly GpuDeviceName[] {
  return hardware ? ['gpu:webgpu', 'gpu:webgl2', 'gpu:webgl'] : ['gpu:webgl2', 'gpu:webgpu', 'gpu:webgl', 'gpu:cpu'];
}

/** A page keeps a probed device open: nothing waits on it, and reopening costs a new context. */
export function closeAfterProbe(_name: GpuDeviceName): boolean {
  return false;
}

/** The mode of each device of a web page. */
export const modes: Partial<Record<GpuDeviceName, ModeConfig>> = {
  'gpu:cpu': { mode: 'cpu', async: false, hostMemory: true, cacheSize: 512 },
  'gpu:webgl2': { mode: 'webgl2', async: false, hostMemory: false, cacheSize: 256 },
  'gpu:webgl': { mode: 'webgl', async: false, hostMemory: false, cacheSize: 256 },
  'gpu:webgpu': { mode: 'webgpu', async: true, hostMemory: false, cacheSize: 256 },
};
