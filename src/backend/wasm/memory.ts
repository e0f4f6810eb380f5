/**
 * What the WebAssembly engines (gemm.ts, norm.ts, elementwise.ts) share: the
 * typed view of the `WebAssembly` namespace they use, and growing their linear
 * memory to hold a working set.
 */

/** The part of `WebAssembly.Memory` an engine holds (plain or shared). */
export interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}

/** The parts of the WebAssembly namespace the engines use (lib ES2022 does not declare it). */
export interface WasmApi {
  validate(bytes: Uint8Array): boolean;
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: unknown };
  Memory: new (d: { initial: number; maximum: number; shared?: boolean }) => WasmMemory;
}

/**
 * The host's `WebAssembly` namespace, or undefined where there is none (the
 * engines then decline and the IR kernels run).
 *
 * @example const api = wasmApi(); if (api === undefined) return null;
 */
export function wasmApi(): WasmApi | undefined {
  return (globalThis as { WebAssembly?: WasmApi }).WebAssembly;
}

/** A WebAssembly page: 64 KiB. */
export const PAGE = 65536;

/** The part of `WebAssembly.Memory` the engines use (plain or shared). */
export interface GrowableMemory {
  readonly buffer: ArrayBufferLike;
  grow(pages: number): number;
}

/**
 * Grows `memory` so that `bytes` bytes from address 0 exist.
 *
 * @returns false when the memory cannot grow that far (its declared maximum,
 *   or the host refusing the allocation); the caller then runs the IR kernels.
 *   Nothing is changed in that case.
 * @example growTo(memory, 4 * n) || fallBack();
 */
export function growTo(memory: GrowableMemory, bytes: number): boolean {
  const have = memory.buffer.byteLength;
  if (bytes <= have) return true;
  try {
    memory.grow(Math.ceil((bytes - have) / PAGE));
    return true;
  } catch {
    // NOTE: a failed grow leaves the memory as it was (the WebAssembly spec), so nothing to undo
    return false;
  }
}
