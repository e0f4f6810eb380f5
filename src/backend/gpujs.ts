/**
 * gpu.js devices (STUB: being implemented). See DESIGN.md.
 */
import type { Device } from './device.js';

export const gpuDeviceNames = ['gpu:webgpu', 'gpu:headlessgl', 'gpu:webasm', 'gpu:cpu'] as const;
export type GpuDeviceName = (typeof gpuDeviceNames)[number];

export function openGpuDevice(name: GpuDeviceName): Device {
  throw new Error(`device '${name}' is not implemented yet`);
}

export function probeGpuDevice(name: GpuDeviceName): Promise<string | null> {
  return Promise.resolve(`device '${name}' is not implemented yet`);
}
