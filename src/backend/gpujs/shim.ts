/**
 * The part of gpu.js gpugrad uses, typed (gpu.js ships CommonJS and loose
 * typings), its loader, and the checks on what its kernels return.
 */
import { platform } from '../platform/platform.js';

/** A pipeline result: GL texture or WebGPU buffer handle. cpu/webasm return plain arrays. */
export interface GpuJsHandle {
  toArray(): unknown;
  delete(): void;
}
/** What a gpu.js kernel returns in pipeline mode. */
export type Handle = Float32Array | GpuJsHandle;

interface GpuJsKernelImpl {
  readonly constructor: { readonly mode?: string };
  readonly fallbackReason?: string | null;
}
/** A compiled gpu.js kernel. */
export interface GpuJsKernel {
  (...args: unknown[]): unknown;
  destroy(removeCanvasReferences?: boolean): void;
  readonly kernel?: GpuJsKernelImpl;
}
/** The JavaScript function gpu.js compiles. */
export type KernelSource = (...args: never[]) => unknown;
/** A gpu.js instance (one per device). */
export interface GpuJs {
  createKernel(source: KernelSource, settings: Record<string, unknown>): GpuJsKernel;
  destroy(): unknown;
}
/** The gpu.js package. */
export type GpuJsModule = {
  WebGPUContext?: { destroy(): Promise<void> };
  GPU: (new (settings: { mode: string }) => GpuJs) & { readonly isHeadlessGLSupported?: boolean; readonly isWebAssemblySupported?: boolean };
};

let gpujsModule: GpuJsModule | undefined;
/** The gpu.js package, loaded through the platform on first use. */
export function gpujs(): GpuJsModule {
  return (gpujsModule ??= platform().loadPackage('gpu.js') as GpuJsModule);
}

/** An unknown thrown value as an Error. */
export function asError(e: unknown): Error {
  return e instanceof Error ? e : new Error(String(e));
}

function isHandle(v: unknown): v is GpuJsHandle {
  return typeof v === 'object' && v !== null && typeof (v as GpuJsHandle).toArray === 'function' && typeof (v as GpuJsHandle).delete === 'function';
}

/** Check what kernel `what` returned. */
export function asHandle(v: unknown, what: string): Handle {
  if (v instanceof Float32Array || isHandle(v)) return v;
  throw new Error(`internal: gpu.js kernel ${what} returned ${Object.prototype.toString.call(v)}, expected a pipeline handle`);
}

/** Flatten what `toArray()` gives (a Float32Array for 1D outputs) into one Float32Array. */
export function flat(v: unknown, size: number): Float32Array {
  if (v instanceof Float32Array) return v.length === size ? v : v.slice(0, size);
  if (Array.isArray(v)) {
    const out = new Float32Array(size);
    let at = 0;
    const walk = (x: unknown): void => {
      if (x instanceof Float32Array) {
        out.set(x.subarray(0, Math.min(x.length, size - at)), at);
        at += x.length;
      } else if (Array.isArray(x)) x.forEach(walk);
      else if (typeof x === 'number') out[at++] = x;
    };
    walk(v);
    return out;
  }
  throw new Error(`internal: gpu.js readback gave ${Object.prototype.toString.call(v)}`);
}
