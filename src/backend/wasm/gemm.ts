/**
 * The float32 matmul fast path of the `cpu` device: packs strided operands
 * into panels in a WebAssembly memory and runs gemm.wat's SIMD microkernel
 * (docs/notes/architecture.md, "The float32 matmul fast path").
 *
 * Where WebAssembly or its 128-bit SIMD is missing (an old engine, a page
 * whose policy forbids compiling), `wasmGemm()` answers null with the reason
 * and the cpu device runs the kernel IR loop instead; float64 never comes here.
 *
 * Threads: where the platform can start threads that the main thread may
 * block on (Node; `Platform.startThread`), the memory is shared and large
 * products are split by rows of C between the main thread and workers, each
 * running the same module on its own range of A panels (threads.ts). Elsewhere (web pages,
 * `GPUGRAD_WASM_THREADS=1`) one thread runs everything.
 */
import type { GemmSpec } from '../kernel.js';
import { gemmSharedFlagAt, gemmWasm } from './gemm-wasm.js';
import { growTo, wasmApi, type WasmApi, type WasmMemory } from './memory.js';
import { platform } from '../platform/platform.js';
import { decodeBase64, sharedForm, startPool, wantedThreads, type ThreadPool } from './threads.js';

interface GemmExports {
  /** gemm.wat's `gemm`: the arguments of `GemmArgs`, in its order, then A panels [p0, p1). */
  gemm(...args: number[]): void;
  /** gemm.wat's `gemmB`: `gemm`'s arguments, then B units [j0, j1) (entries side by side, or panels). */
  gemmB(...args: number[]): void;
  /** gemm.wat's `gemmCols`: `gemmB`'s arguments with the columns' geometry at `geo` (bytes) before the entries [j0, j1). */
  gemmCols(...args: number[]): void;
  /** gemm.wat's `zeroLines`: zeros in lines [used, w) of `steps` steps of a panel at dst (bytes). */
  zeroLines(dst: number, w: number, used: number, steps: number): void;
  /** gemm.wat's `packK`: panels of w lines contiguous along k (line c of panel q at src + (q·w + c)·ld bytes). */
  packK(src: number, ld: number, dst: number, k: number, w: number, panels: number): void;
  /** gemm.wat's `packM`: panels of 4 lines contiguous along the panel (step j at src + j·ld bytes). */
  packM(src: number, ld: number, dst: number, k: number, panels: number): void;
  /** gemm.wat's `biasAdd`: C[i, j] += bias[j] (perRow 0) or bias[i] (perRow 1) for i < m, j < n4. */
  biasAdd(c: number, ldc: number, m: number, n4: number, bias: number, perRow: number): void;
  /** gemm.wat's `im2col`: `planes` dense h×w images at img into their columns at dst (byte addresses). */
  im2col(img: number, dst: number, planes: number, h: number, w: number, kh: number, kw: number, sh: number, sw: number, ph: number, pw: number, dh: number, dw: number, oh: number, ow: number): void;
}

/**
 * A product's bias epilogue in C's orientation: value `data[offset + i·stride]`
 * for row i of C (perRow) or column i (otherwise).
 */
interface BiasIn {
  data: Float32Array;
  offset: number;
  stride: number;
  perRow: boolean;
}

/**
 * How the gemm adds a `GemmSpec.bias` (one value per row or per column of C,
 * the same for every batch entry), or null when it does not take that
 * layout (then the caller computes the product and the bias elsewhere).
 */
export function biasLayout(s: GemmSpec): { offset: number; stride: number; perRow: boolean } | null {
  const c = s.bias;
  if (!c) return null;
  const kept = s.batch.length - (s.sum ?? 0);
  if (c.strides.length !== kept + 2 || c.strides.slice(0, kept).some((x) => x !== 0)) return null;
  const [sm, sn] = [c.strides[kept] ?? 0, c.strides[kept + 1] ?? 0];
  if (sm !== 0 && sn !== 0) return null;
  return sm !== 0 ? { offset: c.offset, stride: sm, perRow: true } : { offset: c.offset, stride: sn, perRow: false };
}

/**
 * The geometry of implicit columns (`Columns`): 2-d windows (1-d as height 1)
 * over `planes` dense h×w images, zero padding.
 */
export interface ColumnsGeom {
  readonly planes: number;
  readonly h: number;
  readonly w: number;
  readonly kh: number;
  readonly kw: number;
  readonly sh: number;
  readonly sw: number;
  readonly ph: number;
  readonly pw: number;
  readonly dh: number;
  readonly dw: number;
  readonly oh: number;
  readonly ow: number;
}

/**
 * im2col's columns that were never written (docs/notes/architecture.md,
 * "Implicit im2col"): the image (its own dense copy) and the window geometry.
 * The column array is (planes, kh, kw, oh, ow), row-major, `length` floats;
 * the gemm writes the parts it reads straight into its memory
 * (`WasmGemm.run`), and `WasmGemm.materialize` writes all of it where
 * anything else reads it. Values: the im2col kernel's, bit for bit (a copy).
 */
export class Columns {
  /** Floats per plane of the columns: kh·kw·oh·ow. */
  readonly per: number;
  readonly length: number;
  constructor(readonly image: Float32Array, readonly g: ColumnsGeom) {
    this.per = g.kh * g.kw * g.oh * g.ow;
    this.length = g.planes * this.per;
  }

  /** Floats of gemm memory that writing `len` columns from any offset may use beyond their destination. */
  scratch(len: number): number {
    const planes = Math.min(this.g.planes, Math.ceil(len / this.per) + 1);
    return planes * (this.g.h * this.g.w + this.per) + 8;
  }
}

/** An operand of `WasmGemm.run`: an array, or columns to write from their image. */
export type GemmSource = Float32Array | Columns;

/**
 * Where one product's operands are in the memory (byte addresses and strides;
 * gemm.wat's `gemm` says what each means). `run` fills it; `product` splits it.
 */
interface GemmArgs {
  pa: number; pb: number; pc: number; mp: number; np: number; k: number;
  ap: number; ar: number; ak: number; mpe: number; ae: number;
  bq: number; bk: number; npe: number; be: number; ldc: number;
  ke: number; ake: number; bke: number;
}

/** The argument list of gemm.wat's `gemm` without its range of A panels (which comes last). */
const argList = (g: GemmArgs): number[] =>
  [g.pa, g.pb, g.pc, g.np, g.k, g.ap, g.ar, g.ak, g.mpe, g.ae, g.bq, g.bk, g.npe, g.be, g.ldc, g.ke, g.ake, g.bke];

/** Rows of A per panel and columns of B per panel (gemm.wat's MR and NR). */
const MR = 4;
const NR = 8;
/** wasm32 addresses: keep every region under 2 GiB (byte offsets stay positive i32s). */
const MAX_BYTES = 2 ** 31 - 2 ** 16;
/** The memory's maximum in pages (gemm.wat's import): 2 GiB. */
const MAX_PAGES = 32768;
/** Products below this many flops stay on one thread (a hand-off costs tens of microseconds). */
const PARALLEL_FLOPS = 2 ** 22;
/**
 * A product whose threads would get fewer A panels each than this is split
 * by B's columns instead (`product`): one sweep of gemm.wat covers up to 16
 * A panels per B panel, so splitting a few A panels makes every thread
 * stream all of B for a few tiles per panel loaded.
 */
const SPLIT_B_BELOW = 8;
/** Ranges of B per thread when a product is split by B's columns: whichever thread is free claims the next. */
const B_CHUNKS = 4;
/** Floats of implicit columns a thread writes then multiplies at a time (`gemmCols`): 1 MiB, in a core's L2. */
const COLS_CHUNK_FLOATS = 2 ** 18;
/** Floats of packed panels and results one batched product may use for products side by side (`run`): 32 MiB. */
const GROUP_FLOATS = 2 ** 23;

/**
 * How long the main thread waits for a worker's share of a product: 10 s,
 * plus the time the share would take at 20 Mflop/s (a worker starved by a
 * loaded machine is slow, not dead; the SIMD kernel runs at several Gflop/s).
 */
export function workerDeadlineMs(flops: number): number {
  return 10_000 + flops / 20e6 * 1000;
}

/**
 * A matrix product engine over one WebAssembly instance (one memory, reused
 * and grown as needed; single-threaded).
 */
export class WasmGemm {
  private floats: Float32Array;
  /** Products split over threads so far (for tests and profiles). */
  parallelRuns = 0;
  /** Of those, products split by B's columns (for tests and profiles). */
  splitByB = 0;
  /** Products run as Cᵀ = Bᵀ·Aᵀ so far (for tests and profiles). */
  turnedRuns = 0;
  /** Operands packed by gemm.wat's SIMD code so far (`packWasm`; for tests and profiles). */
  wasmPacks = 0;
  /** Floats of implicit columns written into the memory by gemm.wat's `im2col` so far (for tests and profiles). */
  columnsWritten = 0;
  /** Groups of products side by side whose implicit columns the threads wrote (`gemmCols`) so far (for tests and profiles). */
  columnRuns = 0;
  /** Implicit columns written out whole (`materialize`) so far (for tests and profiles). */
  materialized = 0;
  /** Worker deadlines missed so far (each retires the pool and the shared memory; for tests and profiles). */
  missedDeadlines = 0;
  /** @internal tests: the deadline for a worker's share, in ms (default `workerDeadlineMs`). */
  deadlineMs: ((flops: number) => number) | null = null;
  /** Whether a product with few A panels is split over threads by B's columns (`product`); `GPUGRAD_GEMM_SPLIT_B=0` splits by A's rows always. */
  splitB = platform().env('GPUGRAD_GEMM_SPLIT_B') !== '0';
  /**
   * Whether the threads write the implicit columns of products side by side
   * themselves, each entry right before multiplying it (`product`'s
   * gemmCols); `GPUGRAD_GEMM_THREAD_COLS=0` writes them all first on this thread.
   */
  threadColumns = platform().env('GPUGRAD_GEMM_THREAD_COLS') !== '0';
  /** @internal tests and A/B runs: at most this many threads share a product (default: every ready worker and this thread). */
  maxThreads = Infinity;
  /** @internal tests: floats the products side by side of one `run` may use (default `GROUP_FLOATS`). */
  groupFloats = GROUP_FLOATS;

  constructor(
    private exp: GemmExports,
    private memory: WasmMemory,
    private pool: ThreadPool | null,
    /** A fresh single-threaded instance over its own memory, for when the pool is retired. */
    private readonly renew: (() => { exp: GemmExports; memory: WasmMemory }) | null = null,
  ) {
    this.floats = new Float32Array(memory.buffer);
  }

  /**
   * A worker missed its deadline: it may still write the shared memory (its
   * termination is asynchronous), so that memory is never read or written
   * again. Later products run on one thread over a new instance and memory.
   */
  private abandonSharedMemory(): void {
    this.missedDeadlines++;
    this.pool?.retire();
    this.pool = null;
    if (!this.renew) return;
    const fresh = this.renew();
    this.exp = fresh.exp;
    this.memory = fresh.memory;
    this.floats = new Float32Array(fresh.memory.buffer);
  }

  /** @internal tests: NaN in every float of the memory, so that a value read before it was written shows. */
  poison(): void {
    this.floats.fill(NaN);
  }

  /** Worker threads ready to share a product now (0 without a pool). */
  get readyThreads(): number {
    return this.pool?.ready().length ?? 0;
  }

  /** Memory for `n` floats from address 0; false when wasm32 cannot hold them. */
  private reserve(n: number): boolean {
    const bytes = n * 4;
    if (bytes > MAX_BYTES) return false;
    if (!growTo(this.memory, bytes)) return false;
    // NOTE: a shared memory hands out a new SharedArrayBuffer after growing; compare lengths
    if (this.floats.byteLength !== this.memory.buffer.byteLength) this.floats = new Float32Array(this.memory.buffer);
    return true;
  }

  /**
   * One product: A panels [0, mp) against every B panel, split over the
   * ready workers and this thread when it is large: by ranges of A panels,
   * or, when A has few panels (`SPLIT_B_BELOW` per thread), by ranges of B's
   * columns (whole entries of products side by side). The ranges are claimed
   * from the pool's counter (`ThreadPool.share`), so a worker that gets no
   * core on a loaded machine leaves its ranges to this thread. Each element
   * of C is one tile's sum whichever thread computes it: the values do not
   * depend on the split. False when a worker missed its deadline: the memory
   * is abandoned (`abandonSharedMemory`) and the caller computes the product
   * elsewhere.
   */
  private product(g: GemmArgs, flops: number, cols: { geo: number; entryFloats: number } | null = null): boolean {
    const pool = this.pool;
    const mp = g.mp;
    const args = argList(g);
    const workers = pool && flops >= PARALLEL_FLOPS ? pool.ready().slice(0, Math.max(0, this.maxThreads - 1)) : [];
    // B's units: entries of npe panels side by side, or single panels (gemm.wat's gemmB)
    const units = g.npe < g.np ? g.np / g.npe : g.np;
    // implicit columns are written by the thread that multiplies them: always split by B's entries
    const byB = cols !== null || (this.splitB && mp < SPLIT_B_BELOW * (workers.length + 1) && units > workers.length);
    // ranges of entries whose columns fit in a core's cache when a thread writes then reads them
    const fits = cols ? Math.max(1, Math.floor(COLS_CHUNK_FLOATS / cols.entryFloats)) : Infinity;
    if (!pool || workers.length === 0 || (!byB && mp < 2)) {
      if (!cols) this.exp.gemm(...args, 0, mp);
      else for (let i = 0; i < units; i += fits) this.exp.gemmCols(...args, 0, mp, cols.geo, i, Math.min(i + fits, units));
      return true;
    }
    const used = workers.slice(0, (byB ? units : mp) - 1);
    const parts = used.length + 1;
    // A: one range per thread (each range sweeps all of B once per 16 panels); B: a few per thread
    const total = byB ? units : mp;
    const chunk = byB ? Math.max(1, Math.min(fits, Math.ceil(units / (parts * B_CHUNKS)))) : Math.ceil(mp / parts);
    const name = cols ? 'gemmCols' : byB ? 'gemmB' : 'gemm';
    const seqs = pool.share(used, name, cols ? [...args, 0, mp, cols.geo] : byB ? [...args, 0, mp] : args, total, chunk);
    for (let i = pool.claim(chunk); i < total; i = pool.claim(chunk)) {
      if (cols) this.exp.gemmCols(...args, 0, mp, cols.geo, i, Math.min(i + chunk, total));
      else if (byB) this.exp.gemmB(...args, 0, mp, i, Math.min(i + chunk, total));
      else this.exp.gemm(...args, i, Math.min(i + chunk, total));
    }
    const share = flops / parts;
    for (const [t, seq] of seqs.entries()) {
      if (!pool.wait(used[t] as number, seq, (this.deadlineMs ?? workerDeadlineMs)(share))) {
        this.abandonSharedMemory();
        return false;
      }
    }
    this.parallelRuns++;
    if (byB) this.splitByB++;
    return true;
  }

  /**
   * out[batch..., m, n] = a[batch..., m, k] · b[batch..., k, n], reading a and b
   * through the spec's offsets and strides (broadcast batch dims have stride 0;
   * transposed and sliced views need no copy). With `s.sum` the last `sum`
   * batch dims are summed over as well (they join k: step (summed index..., kk)
   * in row-major order) and are not in `out`. `out` is contiguous; every
   * element is written. Returns false when the operands do not fit in a
   * wasm32 memory (writing nothing) or a worker thread missed its deadline
   * (`out` partly written); the caller then runs its own loop, which writes
   * all of `out`.
   *
   * An operand whose rows (A) or k steps (B) lie in memory order is copied
   * as it is and read in place; any other is packed into panels (`plan`).
   * When packing the transposed product Cᵀ = Bᵀ·Aᵀ costs fewer floats (a
   * convolution's weight gradient, Σ_n G[n]·cols[n]ᵀ: cols is read in place
   * as Bᵀ's rows), that product runs and is transposed into `out`.
   *
   * A batch whose A (or B) is the same matrix for every product (a broadcast
   * weight: a convolution's forward and input gradient) puts that operand in
   * once and runs the products side by side as one product over B's panels
   * of several batch entries (A's, stacked), so the threads share it; each
   * element is the same sum in the same order as one product per entry.
   */
  run(out: Float32Array, a: GemmSource, b: GemmSource, s: GemmSpec, c?: Float32Array): boolean {
    const { m, k, n, batch } = s;
    if (m === 0 || n === 0) return true;
    // the output epilogue (`GemmSpec.bias`, its values in `c`): declined for a layout it does not take
    const layout = s.bias ? biasLayout(s) : null;
    if (s.bias && (!layout || !c)) return false;
    const bias: BiasIn | null = layout && c ? { data: c, ...layout } : null;
    const r = batch.length;
    const kt = k * batch.slice(r - (s.sum ?? 0)).reduce((x, y) => x * y, 1);
    if (kt === 0) {
      // an empty sum (out may be a reused buffer: the cpu device pools them), plus the bias
      out.fill(0);
      if (bias) for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) out[i * n + j] = 0 + (bias.data[bias.offset + (bias.perRow ? i : j) * bias.stride] as number); // 0 + b, as the add after an empty product (-0 becomes +0)
      return true;
    }
    const straight = plan(s);
    // Cᵀ = Bᵀ·Aᵀ: B's strides over (n, k) as A', A's over (k, m) as B'
    const swap = (o: GemmSpec['a'], x: number, y: number) => ({ offset: o.offset, strides: [...o.strides.slice(0, r), o.strides[y] ?? 0, o.strides[x] ?? 0] });
    const ts: GemmSpec = { a: swap(s.b, r, r + 1), b: swap(s.a, r, r + 1), batch, m: n, k, n: m, sum: s.sum ?? 0 };
    const turned = plan(ts);
    // NOTE: the transposed write costs about two floats per element of C (a scatter in JS)
    if (turned.cost + 2 * turned.count * m * n >= straight.cost) return this.oriented(out, a, b, s, straight, bias);
    const scratch = new Float32Array(turned.count * m * n);
    // Cᵀ's rows are C's columns: a bias per column of C is one per row of Cᵀ
    if (!this.oriented(scratch, b, a, ts, turned, bias && { ...bias, perRow: !bias.perRow })) return false;
    this.turnedRuns++;
    for (let t = 0, o = 0; t < turned.count; t++, o += m * n) {
      for (let j = 0; j < n; j++) for (let i = 0, src = o + j * m; i < m; i++) out[o + i * n + j] = scratch[src + i] as number;
    }
    return true;
  }

  /**
   * Pack `lines` lines × k steps of `x` from `src` into `panels` panels of
   * `width` at float `dst` with gemm.wat: the operand is copied as it is to
   * float `scratch`, packed there by SIMD code, and the slots of lines past
   * its edge are zeroed (the SIMD code read whatever followed the copy).
   */
  private packWasm(w: WasmPack, x: GemmSource, src: number, dst: number, scratch: number, k: number, lines: number, width: number, panels: number, cs: number): void {
    this.wasmPacks++;
    this.copyIn(x, src, w.span, scratch, cs);
    const kt = k * w.entries;
    if (w.entries === 1) {
      if (w.along === 'k') this.exp.packK(scratch * 4, w.ld * 4, dst * 4, k, width, panels);
      else this.exp.packM(scratch * 4, w.ld * 4, dst * 4, k, panels);
    } else {
      // a sum over entries (es floats apart): entry e is steps [e·k, (e+1)·k) of every panel
      for (let e = 0; e < w.entries; e++) {
        for (let q = 0; q < panels; q++) {
          const at = (dst + (q * kt + e * k) * width) * 4;
          const from = scratch + e * w.es + q * width * (w.along === 'k' ? w.ld : 1);
          if (w.along === 'k') this.exp.packK(from * 4, w.ld * 4, at, k, width, 1);
          else this.exp.packM(from * 4, w.ld * 4, at, k, 1);
        }
      }
    }
    const used = lines - (panels - 1) * width;
    if (used === width) return;
    this.exp.zeroLines((dst + (panels - 1) * kt * width) * 4, width, used, kt);
  }

  /**
   * Floats [src, src + len) of `x` to float `dst` of the memory: a copy, or
   * for implicit columns their values written there from the image by
   * gemm.wat's `im2col` (the image copied in at float `cs`, and the columns
   * written there first when `src` or `len` cut a plane; `Columns.scratch`
   * says how much room after `cs` that takes).
   */
  private copyIn(x: GemmSource, src: number, len: number, dst: number, cs: number): void {
    const f = this.floats;
    if (x instanceof Float32Array) {
      f.set(x.subarray(src, src + len), dst);
      return;
    }
    // the planes that hold [src, src + len)
    const { g, per } = x;
    const e0 = Math.floor(src / per);
    const e1 = Math.min(g.planes, Math.ceil((src + len) / per));
    const hw = g.h * g.w;
    const img = Math.ceil(cs / 4) * 4;
    f.set(x.image.subarray(e0 * hw, e1 * hw), img);
    const whole = src === e0 * per && len === (e1 - e0) * per;
    const at = whole ? dst : Math.ceil((img + (e1 - e0) * hw) / 4) * 4;
    this.columnsWritten += (e1 - e0) * per;
    this.exp.im2col(img * 4, at * 4, e1 - e0, g.h, g.w, g.kh, g.kw, g.sh, g.sw, g.ph, g.pw, g.dh, g.dw, g.oh, g.ow);
    if (whole) return;
    // a part: the column array ends at e1·per; past it (a row-major operand's slack) reads zeros
    const from = at + (src - e0 * per);
    const have = Math.min(len, (e1 - e0) * per - (src - e0 * per));
    f.copyWithin(dst, from, from + have);
    if (have < len) f.fill(0, dst + have, dst + len);
  }

  /**
   * All of `c`'s columns as an array (`into`, or a new one): what reads them
   * other than the gemm. The image and the columns pass through this memory.
   */
  materialize(c: Columns, into?: Float32Array): Float32Array | null {
    const imgLen = Math.ceil((c.g.planes * c.g.h * c.g.w) / 4) * 4;
    if (!this.reserve(imgLen + c.length)) return null;
    this.materialized++;
    this.copyIn(c, 0, c.length, imgLen, 0);
    const out = into ?? new Float32Array(c.length);
    out.set(this.floats.subarray(imgLen, imgLen + c.length));
    return out;
  }

  /** `run` for one orientation and its `plan`. */
  private oriented(out: Float32Array, a0: GemmSource, b0: GemmSource, s: GemmSpec, p: Plan, bias: BiasIn | null): boolean {
    const { m, k, n } = s;
    const { mp, np, kt, count, aOff, bOff, sA, sB, rowsA, rowsB, sharedA, sharedB, wasmA, wasmB } = p;
    // implicit columns that packA/packB (JavaScript loops) would read element by element: write them all first
    const a = a0 instanceof Columns && !rowsA && !wasmA ? this.materialize(a0) : a0;
    const b = b0 instanceof Columns && !rowsB && !wasmB ? this.materialize(b0) : b0;
    if (!a || !b) return false;
    const r = s.batch.length;
    const [sam, sak] = [s.a.strides[r] ?? 0, s.a.strides[r + 1] ?? 0];
    const [sbk, sbn] = [s.b.strides[r] ?? 0, s.b.strides[r + 1] ?? 0];
    const last = sA.length - 1;
    // floats of one entry in the memory: a row-major A has rows up to 4·mp - 1 (zeros past m),
    // a row-major B's last row is read up to column 8·np; 4-float aligned
    const align = (x: number): number => Math.ceil(x / 4) * 4;
    const aSpan = (sA[last] as number) + (m - 1) * sam + k;
    const bSpan = (sB[last] as number) + (k - 1) * sbk + n;
    const aLen = rowsA ? align((sA[last] as number) + (MR * mp - 1) * sam + k) : mp * MR * kt;
    const bLen = rowsB ? align((sB[last] as number) + (k - 1) * sbk + NR * np) : np * NR * kt;
    const cLen = mp * MR * np * NR;
    // products side by side per group: as many as fit in GROUP_FLOATS (at least one)
    const per = sharedA ? bLen + cLen : sharedB ? aLen + cLen : 0;
    const once = sharedA ? aLen : bLen;
    const group = per ? Math.max(1, Math.min(count, Math.floor((this.groupFloats - once) / per))) : 1;
    const pa = 0;
    const pb = sharedB ? aLen * group : aLen;
    const pc = pb + (sharedA ? bLen * group : bLen);
    // the copy of an operand that gemm.wat packs: its span, then slack for the lines past its
    // edge that a partial last panel reads (zeroed in the panel after)
    const ps = pc + cLen * group;
    const slack = (w: WasmPack | null, width: number): number => (w ? align(w.span + width * w.ld + width) : 0);
    // the bias's values after that (one per row of C, or one per column padded to a multiple of 4)
    const pz = ps + Math.max(slack(wasmA, MR), slack(wasmB, NR));
    const n4 = align(n);
    const zLen = bias ? align(bias.perRow ? m : n4) : 0;
    // then room for implicit columns' image (and a cut plane's columns, `copyIn`)
    const cs = pz + zLen;
    // implicit columns as B of products side by side (a convolution's forward, the transposed convolution), each
    // entry whole planes: the threads write each entry's columns right before multiplying them (`product`'s
    // gemmCols) from the images copied to `imgAt`, with their geometry at float `geoAt`
    const entryPlanes = b instanceof Columns && bSpan % b.per === 0 ? bSpan / b.per : 0;
    const lazy = this.threadColumns && b instanceof Columns && sharedA && rowsB && last === 0 && group >= 2 && entryPlanes > 0 && bOff.every((o) => o % b.per === 0);
    const geoAt = align(cs);
    const imgAt = geoAt + 16;
    const lazyRoom = lazy && b instanceof Columns ? 16 + group * entryPlanes * b.g.h * b.g.w + 4 : 0;
    const colsRoom = Math.max(lazyRoom, a instanceof Columns ? a.scratch(wasmA ? wasmA.span : aSpan) : 0, b instanceof Columns ? b.scratch(wasmB ? wasmB.span : bSpan) : 0);
    if (!this.reserve(cs + colsRoom)) return false;
    const f = this.floats;
    if (bias) {
      const lines = bias.perRow ? m : n;
      for (let i = 0; i < lines; i++) f[pz + i] = bias.data[bias.offset + i * bias.stride] as number;
      f.fill(0, pz + lines, pz + zLen);
    }
    const putA = (dst: number, src: number): void => {
      if (wasmA) return this.packWasm(wasmA, a, src, dst, ps, k, m, MR, mp, cs);
      if (!rowsA) return packA(f, dst, a as Float32Array, src, sam, sak, k, sA, m, mp);
      this.copyIn(a, src, aSpan, dst, cs);
      f.fill(0, dst + aSpan, dst + aLen);
    };
    const putB = (dst: number, src: number): void => {
      if (wasmB) return this.packWasm(wasmB, b, src, dst, ps, k, n, NR, np, cs);
      if (!rowsB) return packB(f, dst, b as Float32Array, src, sbn, sbk, k, sB, n, np);
      this.copyIn(b, src, bSpan, dst, cs);
      f.fill(0, dst + bSpan, dst + bLen);
    };
    // the k steps in runs of k when an operand read in place sums over entries (its entries
    // are sA[1] (sB[1]) floats apart); a packed one holds run e at e·k steps
    const runs = last > 0 && (rowsA || rowsB);
    const layout = {
      pa: pa * 4, pb: pb * 4, pc: pc * 4, k: kt,
      // A panel p of entry e at pa + e·ae + p·ap; row r, step j at + r·ar + j·ak
      ap: rowsA ? MR * sam * 4 : kt * MR * 4, ar: rowsA ? sam * 4 : 4, ak: rowsA ? 4 : MR * 4, mpe: mp, ae: aLen * 4,
      // B panel q of entry e at pb + e·be + q·bq; step j at + j·bk
      bq: rowsB ? NR * 4 : kt * NR * 4, bk: rowsB ? sbk * 4 : NR * 4, npe: np, be: bLen * 4,
      ke: runs ? k : kt,
      ake: runs ? (rowsA ? (sA[1] as number) * 4 : k * MR * 4) : 0,
      bke: runs ? (rowsB ? (sB[1] as number) * 4 : k * NR * 4) : 0,
    };
    let lastA = -1;
    let lastB = -1;
    for (let t0 = 0; t0 < count; t0 += group) {
      const g = Math.min(group, count - t0);
      // a last group of one entry has no entries side by side for gemmCols to claim: written here
      const cols = lazy && g >= 2 && b instanceof Columns ? b : null;
      if (cols) {
        const hw = cols.g.h * cols.g.w;
        for (let t = 0; t < g; t++) {
          const plane = (bOff[t0 + t] as number) / cols.per;
          f.set(cols.image.subarray(plane * hw, (plane + entryPlanes) * hw), imgAt + t * entryPlanes * hw);
          // past the columns, in the entry's slack: zeros (as putB leaves them)
          f.fill(0, pb + t * bLen + bSpan, pb + (t + 1) * bLen);
          if ((aOff[t0 + t] as number) !== lastA) putA(pa, aOff[t0 + t] as number);
          lastA = aOff[t0 + t] as number;
        }
        const { g: cg } = cols;
        new Int32Array(f.buffer, geoAt * 4, 14).set([imgAt * 4, entryPlanes, cg.h, cg.w, cg.kh, cg.kw, cg.sh, cg.sw, cg.ph, cg.pw, cg.dh, cg.dw, cg.oh, cg.ow]);
        this.columnsWritten += g * bSpan;
        this.columnRuns++;
      }
      for (let t = 0; t < g && !cols; t++) {
        const ao = aOff[t0 + t] as number;
        const bo = bOff[t0 + t] as number;
        // a broadcast operand (stride 0 over the batch) is put in once
        if (sharedB) putA(pa + t * aLen, ao);
        else if (ao !== lastA) putA(pa, ao);
        if (sharedA) putB(pb + t * bLen, bo);
        else if (bo !== lastB) putB(pb, bo);
        lastA = ao;
        lastB = bo;
      }
      const [mpg, npg] = sharedA ? [mp, np * g] : sharedB ? [mp * g, np] : [mp, np];
      const ldc = npg * NR;
      // a missed worker deadline: the shared memory is abandoned mid-product; the caller's loop
      // computes every element of out (what was written so far is overwritten)
      if (!this.product({ ...layout, mp: mpg, np: npg, ldc: ldc * 4 }, 2 * m * n * kt * g, cols ? { geo: geoAt * 4, entryFloats: bLen } : null)) return false;
      for (let t = 0; t < g; t++) {
        const o = (t0 + t) * m * n;
        // product t's tile: columns from t·np·NR (side by side) or rows from t·mp·MR (stacked)
        const c0 = pc + (sharedA ? t * np * NR : sharedB ? t * mp * MR * ldc : 0);
        if (bias) this.exp.biasAdd(c0 * 4, ldc * 4, m, n4, pz * 4, bias.perRow ? 1 : 0);
        if (n === ldc) out.set(f.subarray(c0, c0 + m * n), o);
        else for (let i = 0; i < m; i++) out.set(f.subarray(c0 + i * ldc, c0 + i * ldc + n), o + i * n);
      }
    }
    return true;
  }
}

/** How `run` lays out one orientation of a product (see `plan`). */
interface Plan {
  mp: number;
  np: number;
  /** k times the summed entries. */
  kt: number;
  /** Products (kept batch entries). */
  count: number;
  /** Each product's operand offsets. */
  aOff: Float64Array;
  bOff: Float64Array;
  /** Offsets of the summed dims' entries (row-major), from a row's (column's) start. */
  sA: Float64Array;
  sB: Float64Array;
  /** A read in place (rows in memory order), B read in place (k steps in memory order). */
  rowsA: boolean;
  rowsB: boolean;
  sharedA: boolean;
  sharedB: boolean;
  /**
   * How a packed A (B) is packed: in gemm.wat (`packK`, `packM`: the operand
   * copied as it is, then packed by SIMD code) or, null, by `packA` (`packB`).
   */
  wasmA: WasmPack | null;
  wasmB: WasmPack | null;
  /** Floats to pack (what reading in place saves), those packed in gemm.wat at a quarter. */
  cost: number;
}

/**
 * An operand packed by gemm.wat: its lines contiguous along k (`packK`) or
 * along the panel (`packM`), lines (steps) `ld` floats apart, `span` floats
 * from its offset to its last element.
 */
interface WasmPack {
  along: 'k' | 'panel';
  ld: number;
  span: number;
  /** Summed entries (k runs over them as well), `es` floats apart. */
  entries: number;
  es: number;
}

/**
 * Whether gemm.wat packs an operand of `lines` lines (A's rows, B's
 * columns) over k steps, `sl` and `sk` floats apart (null: `packA`/`packB`):
 * one summed entry, dense enough that copying it as it is costs no more
 * than twice its elements, and a packed A with unit stride along its rows
 * (Gᵀ: `packM`) or a packed B with unit stride along k (Wᵀ: `packK`). The
 * other two layouts (A along k, B along its columns) are read in place
 * whenever they are dense (`plan`'s rowsA, rowsB), so they never come here.
 */
function wasmPack(operand: 'A' | 'B', lines: number, k: number, sl: number, sk: number, sOff: Float64Array, even: boolean): WasmPack | null {
  const entries = sOff.length;
  if (!even || lines === 0 || k === 0) return null;
  const es = entries > 1 ? (sOff[1] as number) : 0;
  const first = (entries - 1) * es;
  const pick = operand === 'B' && sk === 1 && sl >= 1 ? { along: 'k' as const, ld: sl, span: first + (lines - 1) * sl + k, entries, es } : operand === 'A' && sl === 1 && sk >= 1 ? { along: 'panel' as const, ld: sk, span: first + (k - 1) * sk + lines, entries, es } : null;
  return pick && pick.span <= 2 * lines * k * entries + 64 ? pick : null;
}

/**
 * Where a product's operands come from: the offsets of each product and of
 * each summed entry, whether an operand can be read in place (its rows (A) or
 * k steps (B) at unit stride, entries evenly spaced, dense enough to copy as
 * one block) or must be packed, and whether one operand is the same for
 * every product.
 */
function plan(s: GemmSpec): Plan {
  const { m, k, n, batch } = s;
  const r = batch.length;
  const kept = r - (s.sum ?? 0);
  const entries = batch.slice(kept).reduce((x, y) => x * y, 1);
  const kt = k * entries;
  const offsets = (from: number, to: number, count: number, start: number, strides: readonly number[]): Float64Array => {
    const o = new Float64Array(count);
    for (let t = 0; t < count; t++) {
      let rest = t;
      let v = start;
      for (let d = to - 1; d >= from; d--) {
        const size = batch[d] ?? 1;
        v += (rest % size) * (strides[d] ?? 0);
        rest = Math.floor(rest / size);
      }
      o[t] = v;
    }
    return o;
  };
  const count = batch.slice(0, kept).reduce((x, y) => x * y, 1);
  const aOff = offsets(0, kept, count, s.a.offset, s.a.strides);
  const bOff = offsets(0, kept, count, s.b.offset, s.b.strides);
  const sA = offsets(kept, r, entries, 0, s.a.strides);
  const sB = offsets(kept, r, entries, 0, s.b.strides);
  const [sam, sak] = [s.a.strides[r] ?? 0, s.a.strides[r + 1] ?? 0];
  const [sbk, sbn] = [s.b.strides[r] ?? 0, s.b.strides[r + 1] ?? 0];
  // entries evenly spaced (one stride), not backwards
  const even = (o: Float64Array): boolean => o.every((v, e) => v === e * (o[1] ?? 0)) && (o[1] ?? 0) >= 0;
  const last = entries - 1;
  const rowsA = sak === 1 && sam >= k && even(sA) && (sA[last] as number) + (m - 1) * sam + k <= 2 * m * kt + 64;
  const rowsB = sbn === 1 && sbk >= n && even(sB) && (sB[last] as number) + (k - 1) * sbk + n <= 2 * n * kt + 64;
  const sharedA = count > 1 && aOff.every((o) => o === aOff[0]);
  const sharedB = !sharedA && count > 1 && bOff.every((o) => o === bOff[0]);
  const wasmA = rowsA ? null : wasmPack('A', m, k, sam, sak, sA, even(sA));
  const wasmB = rowsB ? null : wasmPack('B', n, k, sbn, sbk, sB, even(sB));
  const mp = Math.ceil(m / MR);
  const np = Math.ceil(n / NR);
  // NOTE: a copy and a SIMD pass cost about a quarter of packA's scalar loop per float (docs/notes/bench.md, W2);
  // gemm.wat packs whole panels (lines past the edge too, then zeroed) and the tiles compute on them: the
  // padded width counts (W6's first weight gradient, n = 9 of 16, runs turned: docs/notes/bench.md)
  // and so do the tiles themselves: one step of a 4×8 tile costs about two floats of packA's loop
  const cost = (rowsA ? 0 : (wasmA ? 0.25 * mp * MR : m) * kt * (sharedA ? 1 : count)) + (rowsB ? 0 : (wasmB ? 0.25 * np * NR : n) * kt * (sharedB ? 1 : count)) + 2 * mp * np * kt * count;
  return { mp, np, kt, count, aOff, bOff, sA, sB, rowsA, rowsB, sharedA, sharedB, wasmA, wasmB, cost };
}

/**
 * A into panels of MR rows: f[pa + (p·kt + j)·MR + r] holds A[p·MR + r, step j],
 * rows past m are zeros. Row i starts at off + i·sm; step j = e·k + kk reads
 * entry e of the summed dims (offset sOff[e]) at kk·sk from there, kt = k·entries.
 * The inner loop follows the smaller stride, so a row-major and a transposed
 * A both read their memory in order.
 */
function packA(f: Float32Array, pa: number, a: Float32Array, off: number, sm: number, sk: number, k: number, sOff: Float64Array, m: number, mp: number): void {
  const full = Math.floor(m / MR);
  const kt = k * sOff.length;
  for (let p = 0; p < mp; p++) {
    const base = pa + p * kt * MR;
    const rows = p < full ? MR : m - p * MR;
    for (let e = 0; e < sOff.length; e++) {
      const start = off + p * MR * sm + (sOff[e] as number);
      const first = base + e * k * MR;
      if (Math.abs(sk) <= Math.abs(sm)) {
        for (let rr = 0; rr < rows; rr++) {
          let src = start + rr * sm;
          for (let kk = 0, dst = first + rr; kk < k; kk++, src += sk, dst += MR) f[dst] = a[src] as number;
        }
      } else if (rows === MR) {
        // a whole panel: the MR rows of each step, unrolled (V8 keeps them in registers)
        for (let kk = 0, src = start, dst = first; kk < k; kk++, src += sk, dst += MR) {
          f[dst] = a[src] as number;
          f[dst + 1] = a[src + sm] as number;
          f[dst + 2] = a[src + 2 * sm] as number;
          f[dst + 3] = a[src + 3 * sm] as number;
        }
      } else {
        for (let kk = 0; kk < k; kk++) {
          let src = start + kk * sk;
          for (let rr = 0, dst = first + kk * MR; rr < rows; rr++, src += sm, dst++) f[dst] = a[src] as number;
        }
      }
    }
    for (let rr = rows; rr < MR; rr++) for (let j = 0; j < kt; j++) f[base + j * MR + rr] = 0;
  }
}

/**
 * B into panels of NR columns: f[pb + (q·kt + j)·NR + c] holds B[step j, q·NR + c],
 * columns past n are zeros. Column c starts at off + c·sn; steps as in `packA`.
 * The inner loop follows the smaller stride.
 */
function packB(f: Float32Array, pb: number, b: Float32Array, off: number, sn: number, sk: number, k: number, sOff: Float64Array, n: number, np: number): void {
  const full = Math.floor(n / NR);
  const kt = k * sOff.length;
  for (let q = 0; q < np; q++) {
    const base = pb + q * kt * NR;
    const cols = q < full ? NR : n - q * NR;
    for (let e = 0; e < sOff.length; e++) {
      const start = off + q * NR * sn + (sOff[e] as number);
      const first = base + e * k * NR;
      if (Math.abs(sk) <= Math.abs(sn)) {
        for (let c = 0; c < cols; c++) {
          let src = start + c * sn;
          for (let kk = 0, dst = first + c; kk < k; kk++, src += sk, dst += NR) f[dst] = b[src] as number;
        }
      } else if (cols === NR) {
        // a whole panel: the NR columns of each step, unrolled
        for (let kk = 0, src = start, dst = first; kk < k; kk++, src += sk, dst += NR) {
          f[dst] = b[src] as number;
          f[dst + 1] = b[src + sn] as number;
          f[dst + 2] = b[src + 2 * sn] as number;
          f[dst + 3] = b[src + 3 * sn] as number;
          f[dst + 4] = b[src + 4 * sn] as number;
          f[dst + 5] = b[src + 5 * sn] as number;
          f[dst + 6] = b[src + 6 * sn] as number;
          f[dst + 7] = b[src + 7 * sn] as number;
        }
      } else {
        for (let kk = 0; kk < k; kk++) {
          let src = start + kk * sk;
          for (let c = 0, dst = first + kk * NR; c < cols; c++, src += sn, dst++) f[dst] = b[src] as number;
        }
      }
    }
    for (let c = cols; c < NR; c++) for (let j = 0; j < kt; j++) f[base + j * NR + c] = 0;
  }
}

/**
 * Whether the packed gemm pays for a product: not for a matrix–vector one
 * (m or n at most 2, over k ≥ 16). There every element of the matrix is read
 * once, so packing it costs as much as the product, and the 4×8 tile would
 * compute 4 to 8 times the useful work on zero padding; the kernel's own loop
 * streams the matrix instead (measured on 256×2304·2304×1: loop 2 ms, gemm 11 ms).
 */
export function worthPacking(s: GemmSpec): boolean {
  // summed batch dims lengthen k
  const k = s.batch.slice(s.batch.length - (s.sum ?? 0)).reduce((x, y) => x * y, s.k);
  return !((s.m <= 2 || s.n <= 2) && k >= 16);
}

let loaded: WasmGemm | null | undefined;
let reason = '';

/**
 * The shared engine, instantiated on first use; null when this runtime cannot
 * run it (see `wasmGemmUnavailable()` for why).
 */
export function wasmGemm(): WasmGemm | null {
  if (loaded !== undefined) return loaded;
  const api = wasmApi();
  try {
    if (!api) throw new Error('no WebAssembly in this runtime');
    const plain = decodeBase64(gemmWasm);
    // NOTE: validate first: an engine without 128-bit SIMD rejects the module here, not mid-run
    if (!api.validate(plain)) throw new Error('this WebAssembly engine lacks 128-bit SIMD');
    loaded = threaded(api, plain) ?? single(api, plain);
  } catch (e) {
    reason = e instanceof Error ? e.message : String(e);
    loaded = null;
  }
  return loaded;
}

/** One thread, a plain memory. NOTE: synchronous compile; the module is under 1 KiB, within what browsers allow on the main thread. */
function single(api: WasmApi, bytes: Uint8Array): WasmGemm {
  const { exp, memory } = instantiate(api, bytes);
  return new WasmGemm(exp, memory, null);
}

/** The plain module over a new plain memory. */
function instantiate(api: WasmApi, bytes: Uint8Array): { exp: GemmExports; memory: WasmMemory } {
  const memory = new api.Memory({ initial: 1, maximum: MAX_PAGES });
  const inst = new api.Instance(new api.Module(bytes), { env: { memory } });
  return { exp: inst.exports as GemmExports, memory };
}

/**
 * A shared memory and workers, where the platform starts threads; null (one
 * thread) otherwise. `plain` is the single-threaded module it falls back to
 * after a missed worker deadline.
 */
function threaded(api: WasmApi, plain: Uint8Array): WasmGemm | null {
  const want = wantedThreads();
  if (want < 2) return null;
  try {
    const bytes = sharedForm(plain, gemmSharedFlagAt);
    if (!api.validate(bytes)) return null;
    const memory = new api.Memory({ initial: 1, maximum: MAX_PAGES, shared: true });
    const inst = new api.Instance(new api.Module(bytes), { env: { memory } });
    const pool = startPool(bytes, memory, want, ['gemm', 'gemmB', 'gemmCols']);
    return pool ? new WasmGemm(inst.exports as GemmExports, memory, pool, () => instantiate(api, plain)) : null;
  } catch {
    return null; // no shared memory or no threads here: one thread
  }
}

/**
 * @internal tests: a threaded engine of its own (not the shared one), or
 * null where this runtime runs the gemm on one thread.
 */
export function openThreadedGemm(): WasmGemm | null {
  const api = wasmApi();
  return api && wasmGemm() ? threaded(api, decodeBase64(gemmWasm)) : null;
}

/**
 * Wait (up to `ms`) until the gemm's workers have started; resolves with how
 * many are ready (0 where the product runs on one thread).
 */
export async function gemmThreadsReady(ms = 5000): Promise<number> {
  const g = wasmGemm();
  const want = g ? wantedThreads() - 1 : 0;
  const end = Date.now() + ms;
  while (g && g.readyThreads < want && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
  return g?.readyThreads ?? 0;
}

/** Why `wasmGemm()` is null ('' when it is not, or not tried yet). */
export function wasmGemmUnavailable(): string {
  return reason;
}
