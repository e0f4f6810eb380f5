/**
 * The gpu.js modes gpugrad offers as devices, and what differs between them.
 *
 * - `gpu:cpu`        gpu.js mode 'cpu' (transpiled JavaScript), synchronous.
 * - `gpu:webasm`     mode 'webasm' under the async contract (`asyncMode: true`),
 *                    so kernels of 4096+ cells split across worker threads.
 * - `gpu:headlessgl` WebGL 1 through the `gl` package; needs an X display.
 * - `gpu:webgpu`     WGSL compute shaders on Dawn (the `webgpu` package).
 */

/** The gpu.js devices, best first when hardware is present. */
export const gpuDeviceNames = ['gpu:webgpu', 'gpu:headlessgl', 'gpu:webasm', 'gpu:cpu'] as const;
export type GpuDeviceName = (typeof gpuDeviceNames)[number];

/** Whether `name` is one of the gpu.js devices. */
export function isGpuName(name: string): name is GpuDeviceName {
  return (gpuDeviceNames as readonly string[]).includes(name);
}

/** Per-mode facts. */
export interface ModeConfig {
  /** gpu.js's name of the mode. */
  readonly mode: 'cpu' | 'webasm' | 'headlessgl' | 'webgpu';
  /** Runs resolve later: use the serial queue, no synchronous reads. */
  readonly async: boolean;
  /** Results are host typed arrays (cpu, webasm): upload is a copy, free drops the reference. */
  readonly hostMemory: boolean;
  /** Compiled kernels kept per device. */
  readonly cacheSize: number;
}

export const modes: Record<GpuDeviceName, ModeConfig> = {
  'gpu:cpu': { mode: 'cpu', async: false, hostMemory: true, cacheSize: 512 },
  'gpu:webasm': { mode: 'webasm', async: true, hostMemory: true, cacheSize: 256 },
  'gpu:headlessgl': { mode: 'headlessgl', async: false, hostMemory: false, cacheSize: 256 },
  'gpu:webgpu': { mode: 'webgpu', async: true, hostMemory: false, cacheSize: 256 },
};
