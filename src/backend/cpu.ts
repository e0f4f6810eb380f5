/**
 * The reference device: runs the kernel IR as plain JavaScript loops over
 * Float32Array or Float64Array. float64 here is what gradcheck relies on.
 * One exception, float32 matmul: it runs on the WebAssembly SIMD gemm
 * (wasm/gemm.ts; docs/notes/architecture.md, "The float32 matmul fast path")
 * where the runtime has it; float64 always runs the loop. Another, float32
 * normalization: the normalize primitive's passes run as fused loops
 * (group-passes.ts, wasm/norm.ts; docs/notes/architecture.md, "The
 * normalization fast path") through `runHost`, their outputs written in
 * place into arrays lent from that engine's WebAssembly memory where it is
 * shared, and a float32 `sum` of such a whole array runs there (`sumAll`).
 * int32 tensors live in an Int32Array (a stored result wraps as C's int32
 * does), int64 in a Float64Array (exact for |v| <= 2^53; docs/notes/dtypes.md).
 */
import { Device, KernelCache, type DeviceBuffer, type DeviceInfo } from './device.js';
import { int, type GemmSpec, type Kernel, type WindowSpec } from './kernel.js';
import { col2imPass } from './window-passes.js';
import { hostArray, type DType, type HostArray } from './types.js';
import { platform } from './platform/platform.js';
import { biasLayout, Columns, wasmGemm, wasmGemmUnavailable, worthPacking, type GemmSource, type WasmGemm } from './wasm/gemm.js';
import { profiling, recordKernel } from './profile.js';
import { jsPasses, type GroupPasses } from './group-passes.js';
import { openWasmNorm, wasmNormUnavailable, type WasmNorm } from './wasm/norm.js';
import { openWasmWindow, wasmWindowUnavailable, type WasmWindow } from './wasm/window.js';
import { elementwiseKind, openWasmElementwise, wasmElementwiseUnavailable, type ElementwiseKind, type WasmElementwise } from './wasm/elementwise.js';

interface CpuBuffer extends DeviceBuffer {
  readonly data: HostArray;
}

type Compiled = (out: HostArray, ...inputs: HostArray[]) => void;

/**
 * A float32 im2col result that was not written (docs/notes/architecture.md,
 * "Implicit im2col"): the gemm writes the columns it reads from `columns`'
 * image; anything else that reads `data` gets them written out once
 * (`materialize`, the same values).
 */
class LazyColumns implements CpuBuffer {
  readonly dtype = 'float32' as const;
  freed = false;
  private written: Float32Array | null = null;
  constructor(
    readonly device: CpuDevice,
    readonly size: number,
    readonly columns: Columns,
    private readonly write: (c: Columns) => Float32Array,
  ) {}

  get data(): HostArray {
    return (this.written ??= this.write(this.columns));
  }

  /** The columns for the gemm: the written array once there is one, else the image and geometry. */
  get source(): GemmSource {
    return this.written ?? this.columns;
  }

  /** The arrays it holds, for the pool when it is freed. */
  arrays(): Float32Array[] {
    return this.written ? [this.written, this.columns.image] : [this.columns.image];
  }
}

/** A compiled kernel: its loop, and the elementwise.wat pass that computes the same values in float32 (or null). */
interface CompiledKernel {
  readonly fn: Compiled;
  readonly pass: ElementwiseKind | null;
}

/** Turn kernel text into a loop: the same source gpu.js compiles, one thread per iteration. */
export function compileLoop(kernel: Kernel): Compiled {
  const params = ['out', ...Array.from({ length: kernel.inputs }, (_, k) => `in${k}`)];
  let src: string;
  if (kernel.grid) {
    // nested loops over the grid: the same statements, indices counted instead of divided out
    // statements that depend only on outer indices run once per outer iteration (hoisted)
    const { shape, prefix, body } = kernel.grid;
    const levels = hoistLevels(body, prefix, shape.length);
    let inner = `${(levels[shape.length] as string[]).join(' ')} out[gid] = ${kernel.result}; gid++;`;
    for (let d = shape.length - 1; d >= 0; d--) {
      inner = `${(levels[d] as string[]).join(' ')} for (let ${prefix}${d} = 0; ${prefix}${d} < ${int(shape[d] ?? 1)}; ${prefix}${d}++) { ${inner} }`;
    }
    src = `let gid = 0; ${inner}`;
  } else {
    src = `for (let gid = 0; gid < ${int(kernel.size)}; gid++) { ${kernel.body.join(' ')} out[gid] = ${kernel.result}; }`;
  }
  return new Function(...params, src) as Compiled;
}

/**
 * Arrays of freed buffers, by dtype and length, handed out again for the
 * next result of that dtype and length. Why: a fresh typed array of a few MB
 * costs V8 a zeroed allocation, page faults on first touch and later GC
 * work, as much as the elementwise pass that fills it (docs/notes/bench.md,
 * W5); a training step frees and allocates the same sizes every iteration.
 * Small arrays (cheap to allocate) are not kept, and the pool holds at most
 * `POOL_BYTES` (the oldest arrays are dropped to the garbage collector).
 */
export class BufferPool {
  private readonly free = new Map<string, HostArray[]>();
  /** Keys in the order their arrays were given (oldest first), to drop past the cap. */
  private readonly order: string[] = [];
  private bytes = 0;

  /** An array of `dtype` and `length`: a pooled one (old values still in it) or a new zeroed one. */
  take(dtype: DType, length: number): HostArray {
    if (length >= POOL_MIN) {
      const list = this.free.get(`${dtype}:${length}`);
      const a = list?.pop();
      if (a) {
        this.bytes -= a.byteLength;
        return a;
      }
    }
    return hostArray(dtype, length);
  }

  /** Keep `data` for a later `take` (the caller no longer uses it). */
  give(dtype: DType, data: HostArray): void {
    if (data.length < POOL_MIN || data.byteLength > POOL_BYTES) return;
    const key = `${dtype}:${data.length}`;
    let list = this.free.get(key);
    if (!list) this.free.set(key, (list = []));
    list.push(data);
    this.order.push(key);
    this.bytes += data.byteLength;
    while (this.bytes > POOL_BYTES && this.order.length) {
      const old = this.free.get(this.order.shift() as string);
      const dropped = old?.shift();
      if (dropped) this.bytes -= dropped.byteLength;
    }
    // the order list only grows with gives; keep it from outgrowing the arrays it indexes
    if (this.order.length > 4 * POOL_ENTRIES) this.compactOrder();
  }

  /** Bytes held now (for tests). */
  get heldBytes(): number {
    return this.bytes;
  }

  clear(): void {
    this.free.clear();
    this.order.length = 0;
    this.bytes = 0;
  }

  private compactOrder(): void {
    const live = new Map<string, number>();
    for (const [k, l] of this.free) live.set(k, l.length);
    const kept: string[] = [];
    for (let i = this.order.length - 1; i >= 0; i--) {
      const k = this.order[i] as string;
      const left = live.get(k) ?? 0;
      if (left > 0) {
        kept.push(k);
        live.set(k, left - 1);
      }
    }
    this.order.length = 0;
    this.order.push(...kept.reverse());
  }
}

/**
 * @internal Implicit columns written by a JavaScript loop: gemm.wat's
 * `im2col` where the gemm's memory cannot hold them (tests compare the two).
 */
export function columnsLoop(c: Columns, out: Float32Array): Float32Array {
  const { g } = c;
  let o = 0;
  for (let e = 0; e < g.planes; e++) {
    const base = e * g.h * g.w;
    for (let ki = 0; ki < g.kh; ki++) {
      for (let kj = 0; kj < g.kw; kj++) {
        for (let oy = 0; oy < g.oh; oy++) {
          const iy = oy * g.sh - g.ph + ki * g.dh;
          for (let ox = 0; ox < g.ow; ox++, o++) {
            const ix = ox * g.sw - g.pw + kj * g.dw;
            out[o] = iy >= 0 && iy < g.h && ix >= 0 && ix < g.w ? (c.image[base + iy * g.w + ix] as number) : 0;
          }
        }
      }
    }
  }
  return out;
}

/** col2im's accumulators are kept between calls up to this many doubles (32 MiB). */
const SCRATCH_KEPT = 2 ** 22;
/** Arrays shorter than this are not pooled (allocating them is cheap). */
const POOL_MIN = 4096;
/** The most bytes the pool keeps. */
const POOL_BYTES = 64 * 2 ** 20;
/** Rough number of arrays the pool indexes before its order list is compacted. */
const POOL_ENTRIES = 256;

/**
 * The loop level each statement of a grid body runs at: level 0 before every
 * loop, level d + 1 inside the loop over `${prefix}d` (`dims`: innermost,
 * once per element). A `const NAME = EXPR;` whose identifiers are only grid
 * indices, inputs (`inK`), `Math` and earlier hoisted constants runs at the
 * deepest level among them; anything else (a `let`, a loop, an unknown name,
 * `gid`) stays innermost, in order.
 * Why: V8 does not move typed-array loads out of a loop whose body stores to
 * another typed array (they could alias), so a per-channel operand read in
 * the innermost loop costs a load per element (docs/notes/bench.md,
 * "Where the time goes"). Inputs are never written while a kernel runs and
 * the statements are pure expressions, so computing them once per outer
 * iteration gives the same values.
 */
export function hoistLevels(body: readonly string[], prefix: string, dims: number): string[][] {
  const levels: string[][] = Array.from({ length: dims + 1 }, () => []);
  const known = new Map<string, number>();
  const index = new RegExp(`^${prefix}(\\d+)$`);
  for (const stmt of body) {
    const m = /^const ([A-Za-z_$][\w$]*) = (.*);$/.exec(stmt);
    let level = dims;
    if (m) {
      level = 0;
      // identifiers not after a '.', numbers skipped (1e-5 is one token)
      for (const t of (m[2] as string).matchAll(/\d[\d.]*(?:[eE][+-]?\d+)?|(\.?)([A-Za-z_$][\w$]*)/g)) {
        const name = t[2];
        if (name === undefined || t[1] === '.') continue;
        const ix = index.exec(name);
        const at = ix ? Number(ix[1]) + 1 : /^in\d+$/.test(name) || name === 'Math' ? 0 : known.get(name) ?? dims;
        level = Math.max(level, Math.min(at, dims));
      }
      known.set(m[1] as string, level);
    }
    (levels[level] as string[]).push(stmt);
  }
  return levels;
}

/**
 * A float32 product whose A is the same matrix for every batch entry (a
 * convolution's `Wᵀ·G[n]`), not yet run (docs/notes/architecture.md,
 * "Implicit col2im"): copies of its operands and its spec. col2im over it
 * runs as a transposed convolution instead (`CpuDevice.transposedConv`);
 * anything else that reads `data` gets the product run then (`write`: the
 * same gemm call on the same values, so the same result).
 */
class LazyProduct implements CpuBuffer {
  readonly dtype = 'float32' as const;
  freed = false;
  private written: Float32Array | null = null;
  private operands: [Float32Array, Float32Array] | null;
  constructor(
    readonly device: CpuDevice,
    readonly size: number,
    a: Float32Array,
    b: Float32Array,
    readonly spec: GemmSpec,
    private readonly write: (a: Float32Array, b: Float32Array) => Float32Array,
    private readonly done: (arrays: Float32Array[]) => void,
  ) {
    this.operands = [a, b];
  }

  get data(): HostArray {
    if (!this.written) {
      const [a, b] = this.operands as [Float32Array, Float32Array];
      this.written = this.write(a, b);
      this.done([a, b]);
      this.operands = null;
    }
    return this.written;
  }

  /** The operands' copies while the product has not run (null after). */
  get pending(): [Float32Array, Float32Array] | null {
    return this.operands;
  }

  /** The arrays it holds, for the pool when it is freed. */
  arrays(): Float32Array[] {
    return [...(this.written ? [this.written] : []), ...(this.operands ?? [])];
  }
}

/** Options of a cpu device (tests open one without the fast path to check the loop). */
export interface CpuDeviceOptions {
  /** Run float32 matmul on the WebAssembly gemm, and ReLU and SGD passes on elementwise.wat, when the runtime has WebAssembly SIMD (default: true unless `GPUGRAD_WASM=0`). */
  readonly wasm?: boolean;
  /**
   * Run the normalize primitive's float32 passes as fused host loops
   * (group-passes.ts; WebAssembly SIMD when `wasm` is on and the runtime has
   * it; default: true unless `GPUGRAD_FAST_NORM=0`). Off, every pass is its
   * IR kernel, as on the other devices.
   */
  readonly fastNorm?: boolean;
  /**
   * Let those passes map the output and x's gradient in float32 lanes, with
   * per-group coefficients computed in double (PyTorch's CPU batch norm does
   * the same; docs/notes/normalization.md, "float32 lanes"; default: true
   * unless `GPUGRAD_FAST_NORM_F32=0`). Off, the maps compute the IR kernel's
   * double formula and give its float32 results bit for bit.
   */
  readonly normLanes?: boolean;
  /**
   * Let the WebAssembly normalize engine run the backward's sums and x's
   * gradient (float32 lanes) as one pass per group, the per-group
   * coefficients computed between them in the pass and checked against the
   * per-group kernels' (docs/notes/architecture.md, "The normalization fast
   * path"; default: true unless `GPUGRAD_FAST_NORM_FUSED=0`). Off, the two
   * passes run apart; the values are the same either way.
   */
  readonly normFused?: boolean;
  /**
   * Let the WebAssembly normalize engine run the forward's moments and output
   * (float32 lanes) as one pass per group, the output's coefficients computed
   * between them in the pass and checked against the per-group kernels'
   * (docs/notes/architecture.md, "The normalization fast path"; default: true
   * unless `GPUGRAD_FAST_NORM_FUSED_FORWARD=0`). Off, the moments and the
   * output run as two passes; the values are the same either way.
   */
  readonly normFusedForward?: boolean;
  /**
   * Let the WebAssembly normalize passes write their outputs into arrays that
   * live in their (shared) memory, read them there in place, and sum such an
   * array there (`sum()` of a whole dense float32 tensor) (default: true
   * unless `GPUGRAD_WASM_ARENA=0`; docs/notes/architecture.md, "The
   * normalization fast path"). Off, outputs are copied out into pooled arrays.
   */
  readonly wasmArena?: boolean;
  /**
   * Run float32 col2im and max reductions over small windows (max
   * pooling's) and their backward as the window passes of window-passes.ts (default: true
   * unless `GPUGRAD_FAST_WINDOWS=0`). Off, they run their IR kernels.
   */
  readonly fastWindows?: boolean;
  /**
   * Run the `addmm` primitive (Linear's x·Wᵀ + b) as one kernel, the gemm
   * with its bias epilogue (float32 on the WebAssembly gemm) or the fused
   * loop (float64), with the two kernels' values (default: true unless
   * `GPUGRAD_GEMM_BIAS=0`). Off, it runs the matmul kernel, then the add's.
   */
  readonly gemmBias?: boolean;
  /**
   * Leave float32 im2col results (2-d and 1-d windows, zero padding) unwritten
   * and let the WebAssembly gemm write the columns it reads from the image
   * (docs/notes/architecture.md, "Implicit im2col"; default: true unless
   * `GPUGRAD_IMPLICIT_IM2COL=0`; needs the gemm).
   */
  readonly implicitIm2col?: boolean;
  /**
   * Run the window passes of max pooling over 2×2 windows that tile the
   * image (forward and backward) in WebAssembly SIMD (wasm/window.ts;
   * default: true unless `GPUGRAD_WINDOW_SIMD=0`; needs `wasm` and
   * `fastWindows`). Off, the JavaScript passes run them.
   */
  readonly windowSimd?: boolean;
  /**
   * Run col2im over a float32 product `Wᵀ·G` (a convolution's input
   * gradient, stride 1, 1-d or 2-d) as one transposed convolution on the
   * gemm, columns of G written inside it (docs/notes/architecture.md,
   * "Implicit col2im"; default: true unless `GPUGRAD_IMPLICIT_COL2IM=0`;
   * needs the gemm). Its sums run in another order: values agree with the
   * product-then-col2im path to float32 rounding, not bit for bit.
   */
  readonly implicitCol2im?: boolean;
}

export class CpuDevice extends Device {
  readonly name = 'cpu';
  readonly dtypes: readonly DType[] = ['float32', 'float64', 'int32', 'int64'];
  readonly syncRead = true;
  /** int32 lives in an Int32Array, int64 in a Float64Array: whole numbers, exact up to 2^53. */
  readonly exactIntegers = 2 ** 53;
  /** Kernels are JavaScript: IEEE comparisons, NaN included. */
  override readonly fusesNanExactly = true;
  private readonly cache = new KernelCache<CompiledKernel>(4096);
  /** Freed arrays, reused for results of the same dtype and size (see `BufferPool`). */
  private readonly pool = new BufferPool();
  /** Time per kernel name, when profiling is on (`GPUGRAD_PROFILE=1` or `startProfile()`). */
  profile: Map<string, { calls: number; ms: number; elements: number }> | null = platform().env('GPUGRAD_PROFILE') ? new Map() : null;
  /** The float32 matmul engine, or null (turned off, or the runtime lacks WebAssembly SIMD). */
  private readonly gemm: WasmGemm | null;
  /** Why `gemm` is null, for `info().notes`. */
  private readonly gemmNote: string;

  /**
   * Whether the normalize primitive's float32 passes run as fused host loops
   * (group-passes.ts). Writable: tests turn it off to compare with the IR kernels.
   */
  fastNorm: boolean;
  /**
   * The loops of those passes: WebAssembly SIMD (wasm/norm.ts) where the
   * runtime has it and `wasm` is on, else JavaScript (group-passes.ts).
   * Writable: tests run both on the same inputs.
   */
  groupPasses: GroupPasses;
  /**
   * Whether those passes map the output and x's gradient in float32 lanes
   * (`CpuDeviceOptions.normLanes`). Writable: tests compare both.
   */
  normLanes: boolean;
  /** Whether the backward's sums and x's gradient may run as one pass (`CpuDeviceOptions.normFused`). Writable: tests compare both. */
  normFused: boolean;
  /** Whether the forward's moments and output may run as one pass (`CpuDeviceOptions.normFusedForward`). Writable: tests compare both. */
  normFusedForward: boolean;
  /** The WebAssembly engine of those passes, or null (turned off, or the runtime lacks it). */
  private readonly normEngine: WasmNorm | null;
  /**
   * Whether that engine lends its memory for the passes' outputs and sums
   * them there (`CpuDeviceOptions.wasmArena`). Writable: tests compare both.
   */
  wasmArena: boolean;
  /** What runs the normalize passes, for `info().notes`. */
  private readonly normNote: string;
  /**
   * Whether float32 col2im and small-window max (forward and backward) run
   * as the window passes (window-passes.ts). Writable: tests compare them with the IR kernels.
   */
  fastWindows: boolean;
  /**
   * Whether addmm runs as one kernel (`fusesBias`). Writable: tests compare
   * it with the two kernels.
   */
  gemmBias: boolean;
  /**
   * Whether float32 im2col results are left for the gemm to write
   * (`LazyColumns`). Writable: tests compare with the IR kernel.
   */
  implicitIm2col: boolean;
  /**
   * The SIMD passes of 2×2 max pooling (wasm/window.ts), or null (turned
   * off, or no WebAssembly SIMD): the JavaScript window passes run then.
   * Writable: tests run both on the same inputs.
   */
  windowSimd: WasmWindow | null;
  /** What runs the 2×2 max pooling passes, for `info().notes`. */
  private readonly windowNote: string;
  /**
   * Whether float32 products with a broadcast A are deferred (`LazyProduct`)
   * so that col2im over them runs as a transposed convolution. Writable:
   * tests compare with the product-then-col2im path.
   */
  implicitCol2im: boolean;
  /** Transposed convolutions run for col2im so far (for tests and profiles). */
  transposedConvs = 0;
  /** col2im's double accumulators, grown to the largest image seen. */
  private scratch = new Float64Array(0);
  /**
   * The float32 ReLU, ReLU-backward and SGD-update passes in WebAssembly SIMD
   * (wasm/elementwise.ts), or null (turned off, or the runtime lacks it): those
   * kernels then run their loops. Writable: tests run both on the same inputs.
   */
  elementwise: WasmElementwise | null;
  /** What runs those passes, for `info().notes`. */
  private readonly elementwiseNote: string;

  constructor(options: CpuDeviceOptions = {}) {
    super();
    this.fastNorm = options.fastNorm ?? platform().env('GPUGRAD_FAST_NORM') !== '0';
    this.normLanes = options.normLanes ?? platform().env('GPUGRAD_FAST_NORM_F32') !== '0';
    this.normFused = options.normFused ?? platform().env('GPUGRAD_FAST_NORM_FUSED') !== '0';
    this.normFusedForward = options.normFusedForward ?? platform().env('GPUGRAD_FAST_NORM_FUSED_FORWARD') !== '0';
    this.fastWindows = options.fastWindows ?? platform().env('GPUGRAD_FAST_WINDOWS') !== '0';
    this.gemmBias = options.gemmBias ?? platform().env('GPUGRAD_GEMM_BIAS') !== '0';
    this.implicitIm2col = options.implicitIm2col ?? platform().env('GPUGRAD_IMPLICIT_IM2COL') !== '0';
    this.implicitCol2im = options.implicitCol2im ?? platform().env('GPUGRAD_IMPLICIT_COL2IM') !== '0';
    const wasmOn = options.wasm ?? platform().env('GPUGRAD_WASM') !== '0';
    const windowSimd = wasmOn && this.fastWindows && (options.windowSimd ?? platform().env('GPUGRAD_WINDOW_SIMD') !== '0');
    this.windowSimd = windowSimd ? openWasmWindow() : null;
    this.windowNote = this.windowSimd ? 'float32 2×2 max pooling: WebAssembly SIMD passes' : `float32 2×2 max pooling: ${this.fastWindows ? 'JavaScript window passes' : 'IR kernels'}${windowSimd ? ` (${wasmWindowUnavailable()})` : ''}`;
    const norm = wasmOn && this.fastNorm ? openWasmNorm() : null;
    this.groupPasses = norm ?? jsPasses;
    this.normEngine = norm;
    this.wasmArena = options.wasmArena ?? platform().env('GPUGRAD_WASM_ARENA') !== '0';
    this.normNote = !this.fastNorm ? 'float32 normalization: IR kernels (fast passes turned off)' : norm ? 'float32 normalization: WebAssembly SIMD passes' : `float32 normalization: JavaScript passes${wasmOn ? ` (${wasmNormUnavailable()})` : ''}`;
    this.elementwise = wasmOn ? openWasmElementwise() : null;
    this.elementwiseNote = this.elementwise ? 'float32 ReLU and SGD passes: WebAssembly SIMD' : `float32 ReLU and SGD passes: JavaScript loops${wasmOn ? ` (${wasmElementwiseUnavailable()})` : ''}`;
    this.gemm = wasmOn ? wasmGemm() : null;
    this.gemmNote = !wasmOn ? 'float32 matmul: JavaScript loop (WebAssembly gemm turned off)' : this.gemm ? 'float32 matmul: WebAssembly SIMD gemm' : `float32 matmul: JavaScript loop (${wasmGemmUnavailable()})`;
  }

  /** Whether float32 matmul runs on the WebAssembly gemm. */
  get wasmGemm(): boolean {
    return this.gemm !== null;
  }

  override readsStridedMatmul(dtype: DType): boolean {
    return dtype === 'float32' && this.gemm !== null;
  }

  /**
   * float64: the loop's sum is a float64 either way, and `sum + bias` is the
   * add kernel's float64 sum; float32: where the gemm takes the product (its
   * tile's float32 values, then gemm.wat's `biasAdd`, one float32 addition
   * each, the add kernel's values). A product the gemm leaves to the loop (a
   * matrix–vector one) runs the two kernels: the loop sums in float64, and
   * adding the bias before the float32 store would round once instead of twice.
   */
  override fusesBias(dtype: DType, spec: GemmSpec): boolean {
    if (!this.gemmBias) return false;
    if (dtype === 'float64') return true;
    return dtype === 'float32' && this.gemm !== null && worthPacking(spec) && biasLayout(spec) !== null;
  }

  protected uploadImpl(data: HostArray, dtype: DType): DeviceBuffer {
    const copy = this.pool.take(dtype, data.length);
    copy.set(data);
    return this.wrap(copy, dtype);
  }

  protected runImpl(kernel: Kernel, inputs: readonly DeviceBuffer[], dtype: DType): DeviceBuffer {
    const { fn, pass } = this.cache.get(kernel.key, () => {
      this.stats.kernelsCompiled++;
      return { fn: compileLoop(kernel), pass: elementwiseKind(kernel) };
    });
    const t0 = this.profile ? performance.now() : 0;
    // float32 im2col left unwritten: the gemm writes the columns it reads (docs/notes/architecture.md)
    const lazy = kernel.columns && dtype === 'float32' && this.implicitColumns(kernel.columns, inputs[0] as CpuBuffer, kernel.size);
    // a float32 product with a broadcast A, deferred: col2im over it runs as a transposed convolution
    const g = kernel.gemm;
    const deferred = g && dtype === 'float32' && this.deferProduct(g, inputs, kernel.size, fn);
    if (lazy || deferred) {
      this.profileRun(kernel, t0);
      return (lazy || deferred) as CpuBuffer;
    }
    // every kernel writes each of its outputs (the loop, and the gemm, which says so), so a
    // pooled buffer's old values never show
    const out = this.pool.take(dtype, kernel.size);
    const w = kernel.window;
    const product = w && inputs[0] instanceof LazyProduct ? inputs[0] : null;
    if (w && product && out instanceof Float32Array && this.transposedConv(w, product, out)) {
      this.profileRun(kernel, t0);
      return this.wrap(out, dtype);
    }
    // float32 matmul on the SIMD gemm, unless it is a matrix–vector product (the loop streams
    // those faster); the gemm declines (false) only past wasm32's memory, then the loop runs.
    // Implicit columns go to it as they are (it writes the parts it reads)
    const source = (x: DeviceBuffer | undefined): GemmSource | HostArray | undefined => (x instanceof LazyColumns ? x.source : (x as CpuBuffer | undefined)?.data);
    const [ga, gb] = g && this.gemm && worthPacking(g) && out instanceof Float32Array ? [source(inputs[0]), source(inputs[1])] : [];
    // addmm's bias (gemm.wat's epilogue), a plain array
    const gc = g?.bias ? (inputs[2] as CpuBuffer | undefined)?.data : undefined;
    const fast = g && this.gemm && (ga instanceof Float32Array || ga instanceof Columns) && (gb instanceof Float32Array || gb instanceof Columns) && (!g.bias || gc instanceof Float32Array) && this.gemm.run(out as Float32Array, ga, gb, g, gc as Float32Array | undefined);
    if (fast) {
      this.profileRun(kernel, t0);
      return this.wrap(out, dtype);
    }
    const data = inputs.map((b) => (b as CpuBuffer).data);
    const [a, b] = data;
    // float32 col2im as row loops (window-passes.ts): the IR kernel's values, bit for bit
    const windowed = !fast && w && this.fastWindows && out instanceof Float32Array && a instanceof Float32Array && this.col2im(w, a, out);
    // float32 passes of elementwise.wat (wasm/elementwise.ts): a matrix–vector product (left to
    // the loop by the gemm) where its matrix is dense, and the kernels elementwiseKind recognises
    // (ReLU, SGD's update, spectral norm's passes); they decline (false) past their memory cap or
    // for a layout they do not take, then the loop runs
    const f32 = this.elementwise && out instanceof Float32Array && data.every((d) => d instanceof Float32Array);
    const gemv = !fast && !windowed && f32 && g && !g.bias && !worthPacking(g) && this.elementwise?.gemv(out, a as Float32Array, b as Float32Array, g, inputs);
    const simd = !fast && !windowed && !gemv && pass !== null && f32 && this.elementwise?.runKernel(pass, kernel, out, data as Float32Array[], inputs);
    // a float32 sum of a whole array that lives in the normalize engine's memory (an output it
    // lent): summed there in SIMD, in double (wasm/norm.ts, `sum`); null where it does not apply
    const all = kernel.sumAll;
    const summed = !fast && !windowed && !gemv && !simd && all && out instanceof Float32Array && a instanceof Float32Array ? this.normEngine?.sum(a, all.offset, all.n) ?? null : null;
    if (summed !== null) out[0] = summed;
    else if (!fast && !windowed && !gemv && !simd) fn(out, ...data);
    this.profileRun(kernel, t0);
    return this.wrap(out, dtype);
  }

  /**
   * A float32 product deferred (`LazyProduct`), or null (it runs now): the
   * implicit col2im on with the gemm, a batched product (one or more entries) over one
   * A (batch strides 0), B dense from offset 0 (a convolution's output
   * gradient), no summed dims and no bias epilogue, both operands plain arrays. The operands are
   * copied (pooled arrays; a cpu buffer's array is reused once it is freed).
   */
  private deferProduct(g: GemmSpec, inputs: readonly DeviceBuffer[], size: number, fn: Compiled): LazyProduct | null {
    const gemm = this.gemm;
    if (!gemm || !this.implicitCol2im || g.sum || g.bias || !worthPacking(g)) return null;
    const [ia, ib] = inputs;
    if (ia instanceof LazyColumns || ib instanceof LazyColumns || ia instanceof LazyProduct || ib instanceof LazyProduct) return null;
    const a = (ia as CpuBuffer | undefined)?.data;
    const b = (ib as CpuBuffer | undefined)?.data;
    if (!(a instanceof Float32Array) || !(b instanceof Float32Array)) return null;
    const r = g.batch.length;
    const count = g.batch.reduce((x, y) => x * y, 1);
    if (r === 0 || count < 1 || a.length > 2 ** 20 || !g.a.strides.slice(0, r).every((v, d) => v === 0 || g.batch[d] === 1)) return null;
    // B dense: row-major over (batch..., k, n), from 0, the whole array
    const dims = [...g.batch, g.k, g.n];
    let stride = 1;
    for (let d = dims.length - 1; d >= 0; d--) {
      if ((dims[d] ?? 1) > 1 && g.b.strides[d] !== stride) return null;
      stride *= dims[d] ?? 1;
    }
    if (g.b.offset !== 0 || b.length !== stride) return null;
    const ac = this.pool.take('float32', a.length) as Float32Array;
    const bc = this.pool.take('float32', b.length) as Float32Array;
    ac.set(a);
    bc.set(b);
    return new LazyProduct(this, size, ac, bc, g, (x, y) => {
      const out = this.pool.take('float32', size) as Float32Array;
      if (!gemm.run(out, x, y, g)) fn(out, x, y);
      return out;
    }, (arrays) => {
      for (const arr of arrays) this.pool.give('float32', arr);
    });
  }

  /**
   * col2im over a deferred product Wᵀ·G as one transposed convolution
   * (docs/notes/architecture.md, "Implicit col2im"): the image's pixel
   * (c, y, x) is Σ over (co, a, b) of W[co, c, kh-1-a, kw-1-b] · G[co, y + a·dh - q_h, ...]
   * with q = dilation·(kernel-1) - padding, i.e. a gemm of the flipped
   * weight (C × Cout·kh·kw) with G's columns for windows of that padding,
   * written inside the gemm (`Columns`). Taken for stride 1, 1-d or 2-d
   * windows, padding at most dilation·(kernel-1), the columns read as the
   * product's dense output, A the same for every entry. False: the product
   * runs and col2im after it.
   */
  private transposedConv(w: WindowSpec, p: LazyProduct, out: Float32Array): boolean {
    const gemm = this.gemm;
    const ops = p.pending;
    if (!gemm || !ops) return false;
    const { geom, lead, op } = w;
    const r = geom.kernel.length;
    if (r < 1 || r > 2 || !geom.stride.every((v) => v === 1)) return false;
    if (!geom.padding.every((v, d) => v >= 0 && v <= (geom.dilation[d] ?? 1) * ((geom.kernel[d] ?? 1) - 1))) return false;
    // the columns are the product's output as it is: dense from 0 over (lead..., *kernel, *outSize)
    const dims = [...lead, ...geom.kernel, ...geom.outSize];
    let stride = 1;
    for (let d = dims.length - 1; d >= 0; d--) {
      if ((dims[d] ?? 1) > 1 && op.strides[d] !== stride) return false;
      stride *= dims[d] ?? 1;
    }
    const g = p.spec;
    const taps = geom.kernel.reduce((x, y) => x * y, 1);
    const positions = geom.outSize.reduce((x, y) => x * y, 1);
    const pixels = geom.inSize.reduce((x, y) => x * y, 1);
    const count = g.batch.reduce((x, y) => x * y, 1);
    if (op.offset !== 0 || stride !== p.size || g.n !== positions || g.m % taps !== 0 || out.length !== count * (g.m / taps) * pixels) return false;
    const [a, b] = ops;
    const cg = g.m / taps;
    const kk = g.k * taps;
    // the flipped weight: A2[c, co·K + t] = A[c·K + (K-1-t), co] (A's batch strides are 0)
    const r0 = g.batch.length;
    const [sam, sak] = [g.a.strides[r0] ?? 0, g.a.strides[r0 + 1] ?? 0];
    const a2 = new Float32Array(cg * kk);
    let finite = true;
    for (let c = 0; c < cg; c++) {
      for (let co = 0; co < g.k; co++) {
        for (let t = 0; t < taps; t++) {
          const v = a[g.a.offset + (c * taps + (taps - 1 - t)) * sam + co * sak] as number;
          finite &&= Number.isFinite(v);
          a2[c * kk + co * taps + t] = v;
        }
      }
    }
    // The transposed convolution also multiplies the weight by the zeros around G that col2im
    // never reads: with an inf or NaN weight that adds 0·inf = NaN to pixels the product-then-col2im
    // leaves finite (PyTorch too), so such a weight takes that path (docs/notes/architecture.md, "Implicit col2im").
    if (!finite) return false;
    const at = (xs: readonly number[], d: number, one: number): number => (r === 2 ? (xs[d] ?? one) : d === 0 ? one : (xs[0] ?? one));
    const kh = at(geom.kernel, 0, 1);
    const kw = at(geom.kernel, 1, 1);
    const dh = at(geom.dilation, 0, 1);
    const dw = at(geom.dilation, 1, 1);
    const cols = new Columns(b, {
      planes: count * g.k,
      h: at(geom.outSize, 0, 1), w: at(geom.outSize, 1, 1),
      kh, kw, sh: 1, sw: 1,
      ph: dh * (kh - 1) - at(geom.padding, 0, 0), pw: dw * (kw - 1) - at(geom.padding, 1, 0),
      dh, dw,
      oh: at(geom.inSize, 0, 1), ow: at(geom.inSize, 1, 1),
    });
    const spec: GemmSpec = { a: { offset: 0, strides: [0, kk, 1] }, b: { offset: 0, strides: [kk * pixels, pixels, 1] }, batch: [count], m: cg, k: kk, n: pixels };
    if (!gemm.run(out, a2, cols, spec)) return false;
    this.transposedConvs++;
    return true;
  }

  /** Add a kernel run that started at `t0` to `profile`. */
  private profileRun(kernel: Kernel, t0: number): void {
    if (!this.profile) return;
    const entry = this.profile.get(kernel.name) ?? { calls: 0, ms: 0, elements: 0 };
    entry.calls++;
    entry.ms += performance.now() - t0;
    entry.elements += kernel.size;
    this.profile.set(kernel.name, entry);
  }

  /**
   * An im2col result left for the gemm to write (`LazyColumns`), or null (the
   * kernel runs): float32 with the gemm on, zero padding, 1-d or 2-d windows,
   * a dense image (copied, so the columns never depend on its buffer staying
   * alive) that is not itself unwritten columns.
   */
  private implicitColumns(spec: NonNullable<Kernel['columns']>, input: CpuBuffer | undefined, size: number): LazyColumns | null {
    const gemm = this.gemm;
    if (!gemm || !this.implicitIm2col || !input || input instanceof LazyColumns) return null;
    const { op, lead, geom, value } = spec;
    const r = geom.kernel.length;
    const src = input.data;
    if (!(src instanceof Float32Array) || !Object.is(value, 0) || r > 2 || r < 1) return null;
    // dense: the image's strides are row-major over (lead..., *inSize)
    const dims = [...lead, ...geom.inSize];
    let stride = 1;
    for (let d = dims.length - 1; d >= 0; d--) {
      if ((dims[d] ?? 1) > 1 && op.strides[d] !== stride) return null;
      stride *= dims[d] ?? 1;
    }
    const at = (xs: readonly number[], d: number, one: number): number => (r === 2 ? (xs[d] ?? one) : d === 0 ? one : (xs[0] ?? one));
    const g = {
      planes: lead.reduce((x, y) => x * y, 1),
      h: at(geom.inSize, 0, 1), w: at(geom.inSize, 1, 1),
      kh: at(geom.kernel, 0, 1), kw: at(geom.kernel, 1, 1),
      sh: at(geom.stride, 0, 1), sw: at(geom.stride, 1, 1),
      ph: at(geom.padding, 0, 0), pw: at(geom.padding, 1, 0),
      dh: at(geom.dilation, 0, 1), dw: at(geom.dilation, 1, 1),
      oh: at(geom.outSize, 0, 1), ow: at(geom.outSize, 1, 1),
    };
    if (op.offset + stride > src.length || g.planes * g.kh * g.kw * g.oh * g.ow !== size || size === 0) return null;
    const image = this.pool.take('float32', stride) as Float32Array;
    image.set(src.subarray(op.offset, op.offset + stride));
    const columns = new Columns(image, g);
    return new LazyColumns(this, size, columns, (c) => {
      const into = this.pool.take('float32', c.length) as Float32Array;
      // NOTE: materialize declines only past wasm32's memory; the columns are then written by a JS loop of the same copy
      return gemm.materialize(c, into) ?? columnsLoop(c, into);
    });
  }

  /** Run col2im's pass (window-passes.ts); true when done. */
  private col2im(w: WindowSpec, src: Float32Array, out: Float32Array): boolean {
    // kept for the next call up to 32 MiB; a larger image gets accumulators of its own
    if (this.scratch.length < out.length) {
      const acc = new Float64Array(out.length);
      if (out.length <= SCRATCH_KEPT) this.scratch = acc;
      col2imPass(w, src, out, acc);
      return true;
    }
    col2imPass(w, src, out, this.scratch);
    return true;
  }

  /**
   * A host loop run as one kernel named `name` (the fast paths of
   * group-passes.ts) with one output per entry of `sizes`: `fill` gets
   * arrays of `dtype` of those sizes (pooled ones: old values may be in
   * them) and must write every element, or return false to give up
   * (nothing is kept; the caller runs its IR kernels). It is counted and
   * profiled as one kernel run. With `lend`, float32 outputs may be arrays in
   * the normalize engine's memory (`WasmNorm.outputArray`).
   */
  runHost(name: string, sizes: readonly number[], dtype: DType, fill: (outs: HostArray[]) => boolean, lend = false): DeviceBuffer[] | null {
    this.checkDtype(dtype);
    // with `lend`, float32 outputs in the WebAssembly engine's memory, written there in place
    const engine = lend && dtype === 'float32' && this.wasmArena && this.groupPasses === this.normEngine ? this.normEngine : null;
    const outs = sizes.map((n) => engine?.outputArray(n) ?? this.pool.take(dtype, n));
    const t0 = performance.now();
    if (!fill(outs)) {
      for (const o of outs) this.giveBack(dtype, o);
      return null;
    }
    const size = sizes.reduce((a, b) => a + b, 0);
    this.stats.kernelRuns++;
    if (profiling()) recordKernel(this.name, { name, inputs: 0, size, body: [], result: '0.0 /* a host loop: backend/group-passes.ts */', key: name }, dtype, t0, null);
    if (this.profile) {
      const entry = this.profile.get(name) ?? { calls: 0, ms: 0, elements: 0 };
      entry.calls++;
      entry.ms += performance.now() - t0;
      entry.elements += size;
      this.profile.set(name, entry);
    }
    return outs.map((o) => this.track(this.wrap(o, dtype)));
  }

  /** The array behind a live buffer of this device, for the fast paths to read (never to write). */
  hostData(buf: DeviceBuffer): HostArray {
    this.checkOwner(buf);
    if (buf.freed) throw new Error('internal: a fast path reads a freed buffer');
    return (buf as CpuBuffer).data;
  }

  protected readImpl(buf: DeviceBuffer): Promise<HostArray> {
    return Promise.resolve(this.readSyncImpl(buf));
  }

  protected readSyncImpl(buf: DeviceBuffer): HostArray {
    return (buf as CpuBuffer).data.slice();
  }

  protected freeImpl(buf: DeviceBuffer): void {
    if (buf instanceof LazyColumns || buf instanceof LazyProduct) {
      for (const a of buf.arrays()) this.pool.give('float32', a);
      return;
    }
    // a freed buffer is unreachable from every tensor (storage.ts frees at the last reference,
    // and Device.run refuses a freed input), so its array can hold the next result of its size
    this.giveBack(buf.dtype, (buf as CpuBuffer).data);
  }

  /** A freed array back to where it came from: the normalize engine's memory, or the pool. */
  private giveBack(dtype: DType, data: HostArray): void {
    if (this.normEngine?.owns(data)) this.normEngine.release(data as Float32Array);
    else this.pool.give(dtype, data);
  }

  release(): void {
    this.cache.clear();
    this.pool.clear();
  }

  info(): DeviceInfo {
    return { name: this.name, backend: 'javascript (reference)', adapter: 'host CPU', software: true, dtypes: this.dtypes, syncRead: true, notes: [this.gemmNote, this.normNote, this.elementwiseNote, this.windowNote] };
  }

  private wrap(data: HostArray, dtype: DType): CpuBuffer {
    return { device: this, size: data.length, dtype, freed: false, data };
  }
}
