/**
 * What the WebAssembly engines (gemm.ts, norm.ts) share about their linear
 * memory: growing it to hold a working set.
 */

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
