/**
 * Byte ranges of a WebAssembly memory, handed out and taken back: the
 * normalize engine's working arrays (norm.ts) and the output arrays it lends
 * the cpu device (docs/notes/architecture.md, "The normalization fast path",
 * Outputs in the memory). First fit over the free ranges, neighbours merged
 * when a range comes back, the memory grown at the top when nothing fits.
 * A WebAssembly memory never shrinks: the arena only reuses what it grew.
 */
import { growTo, type GrowableMemory } from './memory.js';

/** Ranges start and end on 64-byte boundaries (a cache line; float64 and v128 aligned). */
const ALIGN = 64;

/** `bytes` rounded up to `ALIGN` (at least one unit). */
function rounded(bytes: number): number {
  return Math.max(ALIGN, Math.ceil(bytes / ALIGN) * ALIGN);
}

/** One free range [start, end) below `top`. */
interface Range {
  start: number;
  end: number;
}

export class Arena {
  /** Free ranges below `top`, sorted by start, none touching another or `top`. */
  private readonly free: Range[] = [];
  /** Where the unused part of the memory starts (everything at or above is free). */
  private top = 0;
  /** Bytes handed out and not taken back (for tests and notes). */
  used = 0;

  constructor(
    private readonly memory: GrowableMemory,
    /** The most bytes of memory the arena may grow to. */
    private readonly maxBytes: number,
  ) {}

  /**
   * The start of a new range of at least `bytes` bytes, or -1 when it would
   * take the memory past `maxBytes` or the host refuses to grow it (nothing
   * is changed then).
   *
   * @example const at = arena.alloc(4 * n); if (at < 0) return false;
   */
  alloc(bytes: number): number {
    const size = rounded(bytes);
    for (let i = 0; i < this.free.length; i++) {
      const r = this.free[i] as Range;
      if (r.end - r.start < size) continue;
      const at = r.start;
      r.start += size;
      if (r.start === r.end) this.free.splice(i, 1);
      this.used += size;
      return at;
    }
    const at = this.top;
    if (at + size > this.maxBytes || !growTo(this.memory, at + size)) return -1;
    this.top = at + size;
    this.used += size;
    return at;
  }

  /** Take back the range `alloc` gave at `at` for `bytes` (the same `bytes`). */
  release(at: number, bytes: number): void {
    const size = rounded(bytes);
    this.used -= size;
    let end = at + size;
    let start = at;
    // the first free range after this one, and the one before it
    let i = this.free.findIndex((r) => r.start > at);
    if (i < 0) i = this.free.length;
    const before = this.free[i - 1];
    const after = this.free[i];
    if (after && after.start === end) {
      end = after.end;
      this.free.splice(i, 1);
    }
    if (before && before.end === start) {
      start = before.start;
      this.free.splice(i - 1, 1);
      i--;
    }
    if (end === this.top) {
      this.top = start;
      return;
    }
    this.free.splice(i, 0, { start, end });
  }

  /** The end of the highest range in use (for tests). */
  get highWater(): number {
    return this.top;
  }
}
