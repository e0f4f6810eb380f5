/**
 * gpugrad: tensors with reverse-mode autograd whose kernels are compiled by
 * gpu.js. `import * as gg from 'gpugrad'`. It installs the host's platform:
 * Node's (backend/platform/node.ts), or in the browser bundle the web page's
 * (backend/platform/browser.ts; host.ts picks, see docs/notes/browser.md).
 */
import { availableDevices, getDevice, openDevices, probeDevice, releaseDevice as release, unavailableReasons } from './backend/registry.js';
import { setPlatform } from './backend/platform/platform.js';
import { hostPlatform } from './backend/platform/host.js';
import type { DeviceInfo, DeviceStats } from './backend/device.js';

export { Tensor, type RemovableHandle, type TensorJSON } from './tensor/tensor.js';
export type { NestedArray } from './tensor/format.js';
export type { NdArray, NdArrayLike, NdDataType } from './tensor/ndarray.js';
export type { Dims, Shape, ShapeArgs } from './tensor/shape.js';
export type { HostArray } from './backend/types.js';
export type { Node, Edge, GradHook, InputMeta } from './autograd/graph.js';
export type { Disposable } from './tensor/storage.js';
export { norm, type NormOrd } from './tensor/composites.js';
export type { BackwardOptions } from './autograd/engine.js';
export {
  tensor, zeros, ones, full, zerosLike, onesLike, fullLike, arange, rand, randn, randint, type ArangeOptions,
  setDefaultDevice, getDefaultDevice, setDefaultDtype, getDefaultDtype, type TensorOptions, type TensorData,
} from './tensor/creation.js';
export { cat, stack, where, rsub, type AlphaOptions, type VarOptions } from './tensor/composites.js';
// PyTorch's top-level tensor functions (torch.exp(x), torch.maximum(a, b), ...): the methods, tensor first
export {
  neg, exp, log, sqrt, rsqrt, reciprocal, square, abs, sign, floor, ceil, round, relu, sigmoid, tanh, clone, detach,
  add, sub, mul, div, pow, maximum, minimum, eq, ne, lt, le, gt, ge, clamp,
  sum, mean, var, std, max, min, amax, argmax, argmin, logsumexp, softmax, logSoftmax,
  matmul, mm, reshape, permute, transpose, t, squeeze, unsqueeze, flatten, narrow, type TensorFunction, type TensorMethod, type MethodArgs,
} from './tensor/functional.js';
export { manualSeed } from './tensor/random.js';
export { tidy, keep } from './tensor/storage.js';
export { noGrad, enableGrad, isGradEnabled } from './autograd/grad-mode.js';
export type { DType } from './backend/types.js';
export { promoteTypes } from './backend/types.js';
export type { DeviceInfo, DeviceStats } from './backend/device.js';
export * as autograd from './autograd/index.js';
export * as nn from './nn/index.js';
// ---- optim, io (src/nn/optim.ts, src/nn/io.ts) ----
export * as optim from './nn/optim.js';
export * as io from './nn/io.js';
export { profile, type Profile, type KernelRecord, type KernelSummary, type ProfileOptions } from './profile.js';
export { availableDevices, unavailableReasons };

// Node: files, environment, gl and webgpu come from Node; a web page: WebGL, navigator.gpu, no files.
setPlatform(hostPlatform);

/**
 * Open a device (and resolve `'gpu'` to the best mode) before first use.
 * @example await gg.initDevice('gpu'); gg.setDefaultDevice('gpu');
 */
export async function initDevice(name: string): Promise<string> {
  if (name === 'gpu') await availableDevices();
  else {
    // a gpu.js mode is probed (only it), so a missing one fails here with its reason
    const reason = await probeDevice(name);
    if (reason !== null) throw new Error(`device '${name}' is not available here: ${reason}`);
  }
  return getDevice(name).name;
}

/**
 * What a device runs on: backend, adapter, software or hardware.
 * @example gg.deviceInfo('cpu').backend // 'javascript (reference)'
 */
export function deviceInfo(name: string): DeviceInfo {
  return getDevice(name).info();
}

/**
 * Live device buffers, bytes, uploads and downloads, per opened device and in total.
 * @example const before = gg.memory().liveBuffers;
 */
export function memory(): DeviceStats & { devices: Record<string, DeviceStats> } {
  const total: DeviceStats = { liveBuffers: 0, liveBytes: 0, uploads: 0, downloads: 0, kernelRuns: 0, kernelsCompiled: 0 };
  const devices: Record<string, DeviceStats> = {};
  for (const d of openDevices()) {
    devices[d.name] = { ...d.stats };
    for (const k of Object.keys(total) as (keyof DeviceStats)[]) total[k] += d.stats[k];
  }
  return { ...total, devices };
}

/**
 * Release a device's kernels and cached state (`'gpu:webgpu'`, ...).
 * @example gg.releaseDevice('gpu:headlessgl');
 */
export function releaseDevice(name: string): void {
  release(name);
}
