/**
 * Max pooling over 2×2 windows that tile the image, and its backward, in
 * WebAssembly SIMD (window.wat), for the `cpu` device's float32 window passes
 * (docs/notes/architecture.md, "The window fast path"). The JavaScript passes
 * (backend/window-passes.ts) branch on the data at every comparison (a max
 * of random values mispredicts about every other one); these are
 * branch-free: `f32x4.gt`/`ne` masks and `v128.bitselect`, the IR
 * reduction's steps in its order, and the backward's mask / count · g in
 * float64 lanes rounded once to float32, as the loop's double arithmetic and
 * store do. The results are the IR kernels' bit for bit (NaN payloads aside).
 * The operands are copied into the module's memory and the result out.
 */
import { decodeBase64 } from './threads.js';
import { growTo, wasmApi, type WasmMemory } from './memory.js';
import { windowWasm } from './window-wasm.js';

interface WindowExports {
  maxPool2(a: number, o: number, planes: number, h: number, w: number): void;
  maxPool2Backward(a: number, r: number, g: number, o: number, planes: number, h: number, w: number): void;
}

/** The most memory the engine takes: 256 MiB; larger images run the JavaScript passes. */
const MAX_BYTES = 2 ** 28;

/** The two passes over one WebAssembly instance and its memory (one thread). */
export class WasmWindow {
  /** Passes run so far (for tests and profiles). */
  runs = 0;
  constructor(
    private readonly exp: WindowExports,
    private readonly memory: WasmMemory,
  ) {}

  private reserve(floats: number): Float32Array | null {
    return floats * 4 <= MAX_BYTES && growTo(this.memory, floats * 4) ? new Float32Array(this.memory.buffer) : null;
  }

  /**
   * `out` (planes, h/2, w/2) = the max of each 2×2 window of the dense image
   * `a[off ..]` (planes, h, w; h and w even); false when the memory cannot
   * hold them (nothing written).
   */
  maxPool2(a: Float32Array, off: number, planes: number, h: number, w: number, out: Float32Array): boolean {
    const n = planes * h * w;
    const f = this.reserve(n + n / 4);
    if (!f) return false;
    f.set(a.subarray(off, off + n), 0);
    this.exp.maxPool2(0, n * 4, planes, h, w);
    out.set(f.subarray(n, n + n / 4));
    this.runs++;
    return true;
  }

  /**
   * `out` (planes, h, w) = the gradient of `maxPool2` at the image `a[aOff ..]`
   * for its result `r[rOff ..]` and output gradient `g[gOff ..]` (both
   * (planes, h/2, w/2), dense); false when the memory cannot hold them.
   */
  maxPool2Backward(a: Float32Array, aOff: number, r: Float32Array, rOff: number, g: Float32Array, gOff: number, planes: number, h: number, w: number, out: Float32Array): boolean {
    const n = planes * h * w;
    const q = n / 4;
    const f = this.reserve(2 * n + 2 * q);
    if (!f) return false;
    f.set(a.subarray(aOff, aOff + n), 0);
    f.set(r.subarray(rOff, rOff + q), n);
    f.set(g.subarray(gOff, gOff + q), n + q);
    this.exp.maxPool2Backward(0, n * 4, (n + q) * 4, (n + 2 * q) * 4, planes, h, w);
    out.set(f.subarray(n + 2 * q, 2 * n + 2 * q));
    this.runs++;
    return true;
  }
}

let reason = '';

/** A new engine, or null where this runtime lacks WebAssembly SIMD (`wasmWindowUnavailable()` says why). */
export function openWasmWindow(): WasmWindow | null {
  const api = wasmApi();
  try {
    if (!api) throw new Error('no WebAssembly in this runtime');
    const bytes = decodeBase64(windowWasm);
    // NOTE: validate first: an engine without 128-bit SIMD rejects the module here, not mid-run
    if (!api.validate(bytes)) throw new Error('this WebAssembly engine lacks 128-bit SIMD');
    const memory = new api.Memory({ initial: 1, maximum: 32768 });
    const inst = new api.Instance(new api.Module(bytes), { env: { memory } });
    return new WasmWindow(inst.exports as WindowExports, memory);
  } catch (e) {
    reason = e instanceof Error ? e.message : String(e);
    return null;
  }
}

/** Why `openWasmWindow()` gave null ('' when it did not, or was not called). */
export function wasmWindowUnavailable(): string {
  return reason;
}
