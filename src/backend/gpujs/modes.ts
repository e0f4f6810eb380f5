/**
 * The gpu.js modes gpugrad offers as devices in Node, and what differs
 * between them. The browser bundle uses modes.browser.ts instead (same
 * exports; scripts/build-browser.mjs swaps `X.ts` for `X.browser.ts`).
 *
 * - `gpu:cpu`        gpu.js mode 'cpu' (transpiled JavaScript), synchronous.
 * - `gpu:webasm`     mode 'webasm' under the async contract (`asyncMode: true`),
 *                    so kernels of 4096+ cells split across worker threads.
 * - `gpu:headlessgl` WebGL 1 through the `gl` package; needs an X display.
 * - `gpu:webgpu`     WGSL compute shaders on Dawn (the `webgpu` package).
 */

/** Every gpu.js device name, in Node or in a browser (modes.browser.ts has `gpu:webgl2` and `gpu:webgl`). */
export type GpuDeviceName = 'gpu:webgpu' | 'gpu:webgl2' | 'gpu:webgl' | 'gpu:headlessgl' | 'gpu:webasm' | 'gpu:cpu';

/** The gpu.js devices of this runtime, best first when hardware is present. */
export const gpuDeviceNames: readonly GpuDeviceName[] = ['gpu:webgpu', 'gpu:headlessgl', 'gpu:webasm', 'gpu:cpu'];

/** Whether `name` is one of this runtime's gpu.js devices. */
export function isGpuName(name: string): name is GpuDeviceName {
  return (gpuDeviceNames as readonly string[]).includes(name);
}

/**
 * The order `'gpu'` prefers among the devices that run: hardware adapters
 * first (WebGPU, then WebGL); with only software renderers, the mode measured
 * fastest on a 2-core CPU machine (webasm: its SIMD loops beat llvmpipe's
 * emulated shaders; see docs/notes/devices.md).
 */
export function bestOrder(hardware: boolean): readonly GpuDeviceName[] {
  return hardware ? ['gpu:webgpu', 'gpu:headlessgl'] : ['gpu:webasm', 'gpu:headlessgl', 'gpu:webgpu', 'gpu:cpu'];
}

/**
 * Whether a device opened only for its probe is closed again (it reopens on
 * first use). NOTE: a live Dawn device keeps Node's event loop busy.
 */
export function closeAfterProbe(name: GpuDeviceName): boolean {
  return name === 'gpu:webgpu';
}

/** Per-mode facts. */
export interface ModeConfig {
  /** gpu.js's name of the mode. */
  readonly mode: 'cpu' | 'webasm' | 'headlessgl' | 'webgpu' | 'webgl2' | 'webgl';
  /** Runs resolve later: use the serial queue, no synchronous reads. */
  readonly async: boolean;
  /** Results are host typed arrays (cpu, webasm): upload is a copy, free drops the reference. */
  readonly hostMemory: boolean;
  /** Compiled kernels kept per device. */
  readonly cacheSize: number;
}

/** The mode of each device of this runtime. */
export const modes: Partial<Record<GpuDeviceName, ModeConfig>> = {
  'gpu:cpu': { mode: 'cpu', async: false, hostMemory: true, cacheSize: 512 },
  'gpu:webasm': { mode: 'webasm', async: true, hostMemory: true, cacheSize: 256 },
  'gpu:headlessgl': { mode: 'headlessgl', async: false, hostMemory: false, cacheSize: 256 },
  'gpu:webgpu': { mode: 'webgpu', async: true, hostMemory: false, cacheSize: 256 },
};
