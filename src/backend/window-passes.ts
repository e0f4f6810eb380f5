/**
 * The float32 window passes of the `cpu` device (docs/notes/architecture.md,
 * "The window fast path"): `col2im`, and a max reduction over small windows
 * (max pooling's) and its backward, as loops over whole windows, where the
 * kernel IR computes one output element per iteration with its index
 * arithmetic and bounds tests per element. The IR stays the definition every other device
 * compiles (and what float64 runs); each pass computes its formulas in its
 * order, every value widened to double as the cpu device's loops do, so a
 * float32 result is the IR kernel's bit for bit (test/nn/window-fast.test.ts
 * compares them on the same inputs).
 *
 * Why: W6's convolution step spent about a third of its kernel time in
 * col2im and the max pooling kernels (docs/notes/bench.md, "W6: window
 * passes"): col2im tests every tap of every pixel, where a row of windows
 * at one tap has a valid range known before the row starts, and the
 * pooling backward ran two kernels over the windows where one pass does.
 */
import type { WindowSpec } from './kernel.js';

/** Per spatial dim and tap: the valid window positions [lo, hi) and the image index of window 0. */
interface TapRange {
  readonly lo: number;
  readonly hi: number;
  /** Image index read by window 0 at this tap: o·stride + at is window o's. */
  readonly at: number;
}

/** For every spatial dim d, tap k: the windows o whose image index o·s - p + k·dil lies in [0, n). */
function tapRanges(w: WindowSpec): TapRange[][] {
  const g = w.geom;
  return g.kernel.map((k, d) => {
    const s = g.stride[d] ?? 1;
    const p = g.padding[d] ?? 0;
    const dil = g.dilation[d] ?? 1;
    const n = g.inSize[d] ?? 1;
    const o = g.outSize[d] ?? 1;
    return Array.from({ length: k }, (_, t) => {
      const at = t * dil - p;
      let lo = 0;
      while (lo < o && lo * s + at < 0) lo++;
      let hi = lo;
      while (hi < o && hi * s + at < n) hi++;
      return { lo, hi, at };
    });
  });
}

/** Row-major strides of a dense array of `shape`. */
function denseStrides(shape: readonly number[]): number[] {
  const st = shape.map(() => 1);
  for (let d = shape.length - 2; d >= 0; d--) st[d] = (st[d + 1] ?? 1) * (shape[d + 1] ?? 1);
  return st;
}

/**
 * One plane of a window walk: the last two spatial dims' windows at one tap
 * (one row of them for 1-d windows). `img` is the image offset of window
 * (0, 0) at that tap before the row and column terms; `rows` is the tap's
 * range along the second-last dim (null for 1-d: one row, inside) and `cols`
 * along the last; `rs`/`cs` the image and column steps per window along
 * each, `rc` the column step per row.
 */
interface Plane {
  rows: TapRange | null;
  cols: TapRange;
  /** Windows per row and rows per plane. */
  nc: number;
  nr: number;
  /** Image step per window along the second-last dim and along the last one. */
  rsImg: number;
  csImg: number;
  /** Column step per window along the second-last dim and along the last one. */
  rsCol: number;
  csCol: number;
}

/**
 * Visit every plane of a window walk in the columns' order (lead...,
 * *kernel, *outSize): `leaf(img, col, inside, plane)` gets the image offset
 * of the plane's window (0, 0) at its tap (the tap's terms included; a
 * window out of range along a dim is skipped by the ranges), the columns'
 * offset of the plane, and whether every outer dim's tap lies inside the
 * image (when not, the whole plane reads padding). `imgSt` and `colSt` are
 * the strides of the image (lead..., *inSize) and the columns.
 */
function walkPlanes(
  w: WindowSpec,
  imgSt: readonly number[],
  imgOff: number,
  colSt: readonly number[],
  colOff: number,
  leaf: (img: number, col: number, inside: boolean, plane: Plane) => void,
): void {
  const { lead, geom } = w;
  const l = lead.length;
  const r = geom.kernel.length;
  const ranges = tapRanges(w);
  const taps = new Array<number>(r).fill(0);
  const dr = r - 2; // the second-last spatial dim (-1 for 1-d)
  const dc = r - 1;
  const plane: Plane = {
    rows: null,
    cols: (ranges[dc] as TapRange[])[0] as TapRange,
    nc: geom.outSize[dc] ?? 1,
    nr: dr >= 0 ? geom.outSize[dr] ?? 1 : 1,
    rsImg: dr >= 0 ? (geom.stride[dr] ?? 1) * (imgSt[l + dr] ?? 0) : 0,
    csImg: (geom.stride[dc] ?? 1) * (imgSt[l + dc] ?? 0),
    rsCol: dr >= 0 ? colSt[l + r + dr] ?? 0 : 0,
    csCol: colSt[l + r + dc] ?? 0,
  };
  // levels: lead dims, kernel dims, then the window dims but the last two
  const levels = l + r + Math.max(0, r - 2);
  const visit = (level: number, img: number, col: number, inside: boolean): void => {
    if (level === levels) {
      plane.cols = (ranges[dc] as TapRange[])[taps[dc] as number] as TapRange;
      let at = img + plane.cols.at * (imgSt[l + dc] ?? 0);
      if (dr >= 0) {
        plane.rows = (ranges[dr] as TapRange[])[taps[dr] as number] as TapRange;
        at += plane.rows.at * (imgSt[l + dr] ?? 0);
      }
      leaf(at, col, inside, plane);
      return;
    }
    if (level < l) {
      const n = lead[level] ?? 1;
      const si = imgSt[level] ?? 0;
      const sc = colSt[level] ?? 0;
      for (let i = 0; i < n; i++) visit(level + 1, img + i * si, col + i * sc, inside);
      return;
    }
    if (level < l + r) {
      const d = level - l;
      const n = geom.kernel[d] ?? 1;
      const sc = colSt[level] ?? 0;
      for (let t = 0; t < n; t++) {
        taps[d] = t;
        visit(level + 1, img, col + t * sc, inside);
      }
      return;
    }
    // an outer window dim (3-d windows): its tap's image term, or padding
    const d = level - l - r;
    const tap = (ranges[d] as TapRange[])[taps[d] as number] as TapRange;
    const n = geom.outSize[d] ?? 1;
    const s = geom.stride[d] ?? 1;
    const si = imgSt[l + d] ?? 0;
    const sc = colSt[l + r + d] ?? 0;
    for (let o = 0; o < n; o++) {
      const ok = inside && o >= tap.lo && o < tap.hi;
      visit(level + 1, ok ? img + (o * s + tap.at) * si : img, col + o * sc, ok);
    }
  };
  visit(0, imgOff, colOff, true);
}

/**
 * col2im: the image `out` (lead..., *inSize), dense, from the columns `src`
 * (strided as `w.op`). Each pixel's sum is accumulated in double in
 * `scratch` (at least out's length) in the taps' row-major order, the order
 * of the IR kernel's loops over taps, starting from 0, then rounded once to
 * float32: the IR kernel's value (it adds 0 for the taps that miss a pixel,
 * which changes no sum that starts at +0).
 */
export function col2imPass(w: WindowSpec, src: Float32Array, out: Float32Array, scratch: Float64Array): void {
  const { lead, geom } = w;
  const imgSt = denseStrides([...lead, ...geom.inSize]);
  const acc = scratch.subarray(0, out.length);
  acc.fill(0);
  walkPlanes(w, imgSt, 0, w.op.strides, w.op.offset, (img, col, inside, p) => {
    if (!inside) return;
    const rlo = p.rows ? p.rows.lo : 0;
    const rhi = p.rows ? p.rows.hi : p.nr;
    const { lo, hi } = p.cols;
    const step = p.csImg;
    const sc = p.csCol;
    let row = img + rlo * p.rsImg;
    let crow = col + rlo * p.rsCol;
    for (let i = rlo; i < rhi; i++) {
      let at = row + lo * step;
      let c = crow + lo * sc;
      for (let o = lo; o < hi; o++) {
        acc[at] = (acc[at] as number) + (src[c] as number);
        at += step;
        c += sc;
      }
      row += p.rsImg;
      crow += p.rsCol;
    }
  });
  out.set(acc);
}

/** A strided float32 view: its array and where element 0 is. */
export interface StridedF32 {
  readonly data: Float32Array;
  readonly offset: number;
  readonly strides: readonly number[];
}

/**
 * The gradient of a max over dims `dims` of `a` (shape `shape`): at each
 * element, mask / count · g with mask = (a == r) + (a ≠ a)·(r ≠ r) (the
 * maxima, or the NaNs of a NaN maximum) and count = Σ mask over its window,
 * r the maximum and g the output gradient (both strided over `shape` with
 * the reduced dims of size 1, i.e. stride 0 there). One pass per window where
 * the IR runs two kernels (MaxCount, MaxBackward in tensor/ops.ts): the same
 * double arithmetic (the count is a whole number, exact in float32), so the
 * same float32 values. `out` is dense over `shape`. With `v` (strided over
 * `shape` as a's, 1 or 0: max pooling's valid cells, 0 at its padding) the
 * mask is multiplied by it, as the op table's MaxCount/MaxBackward kernels
 * do, so a padded -∞ never takes a share of a window of -∞.
 */
export function maxBackwardPass(shape: readonly number[], dims: readonly number[], a: StridedF32, r: StridedF32, g: StridedF32, out: Float32Array, v: StridedF32 | null = null): void {
  const outSt = denseStrides(shape);
  const aOff = windowOffsets(shape, a.strides, dims);
  const oOff = windowOffsets(shape, outSt, dims);
  if (v) {
    const vOff = windowOffsets(shape, v.strides, dims);
    const runs = runsOf(shape, dims, [a, r, g, { strides: outSt, offset: 0 }, v]);
    const [sa, sr, sg, so, sv] = runs.steps as [number, number, number, number, number];
    const [pa, pr, pg, po, pv] = runs.starts as [Int32Array, Int32Array, Int32Array, Int32Array, Int32Array];
    for (let q = 0; q < pa.length; q++) {
      maxBackwardRun(a.data, r.data, g.data, v.data, out, aOff, oOff, vOff, runs.n, pa[q] as number, sa, pr[q] as number, sr, pg[q] as number, sg, po[q] as number, so, pv[q] as number, sv);
    }
    return;
  }
  // four elements per window (2×2 pooling) unrolled: V8 keeps them in registers, where the loop over offsets reloads them
  const four = aOff.length === 4;
  const { n, steps, starts } = runsOf(shape, dims, [a, r, g, { strides: outSt, offset: 0 }]);
  const [sa, sr, sg, so] = steps as [number, number, number, number];
  const [pa, pr, pg, po] = starts as [Int32Array, Int32Array, Int32Array, Int32Array];
  for (let q = 0; q < pa.length; q++) {
    if (four) maxBackwardRun4(a.data, r.data, g.data, out, aOff, oOff, n, pa[q] as number, sa, pr[q] as number, sr, pg[q] as number, sg, po[q] as number, so);
    else maxBackwardRun(a.data, r.data, g.data, null, out, aOff, oOff, aOff, n, pa[q] as number, sa, pr[q] as number, sr, pg[q] as number, sg, po[q] as number, so, 0, 0);
  }
}

/**
 * The max of `a` (shape `shape`) over dims `dims`, into `out`, dense over
 * the kept dims: each window's elements in row-major order over `dims` as
 * given (the IR reduction's loop order), `acc = (v > acc || v ≠ v) ? v : acc`
 * from -∞ (tensor/ops.ts `reduction`, backend/kernels.ts `reduce`): the same
 * value, signed zeros and NaN included.
 */
export function maxPass(shape: readonly number[], dims: readonly number[], a: StridedF32, out: Float32Array): void {
  const aOff = windowOffsets(shape, a.strides, dims);
  const kept = shape.map((_, d) => d).filter((d) => !dims.includes(d));
  const outSt = shape.map(() => 0);
  kept.forEach((d, i) => (outSt[d] = kept.slice(i + 1).reduce((m, e) => m * (shape[e] ?? 1), 1)));
  const run = aOff.length === 4 ? maxRun4 : maxRun;
  const { n, steps, starts } = runsOf(shape, dims, [a, { strides: outSt, offset: 0 }]);
  const [sa, so] = steps as [number, number];
  const [pa, po] = starts as [Int32Array, Int32Array];
  for (let q = 0; q < pa.length; q++) run(a.data, out, aOff, n, pa[q] as number, sa, po[q] as number, so);
}

/** Offsets of a window's elements over `dims` (row-major, in the order given) for `strides`. */
function windowOffsets(shape: readonly number[], strides: readonly number[], dims: readonly number[]): Int32Array {
  const offs = new Int32Array(dims.reduce((m, d) => m * (shape[d] ?? 1), 1));
  let filled = 1;
  for (const d of dims) {
    const n = shape[d] ?? 1;
    const st = strides[d] ?? 0;
    for (let x = filled - 1; x >= 0; x--) {
      const base = offs[x] as number;
      for (let i = n - 1; i >= 0; i--) offs[x * n + i] = base + i * st;
    }
    filled *= n;
  }
  return offs;
}

/**
 * The kept dims (those not in `dims`, of size above 1) as runs along the
 * innermost one: the run length, and per view (its strides and offset) the
 * step along a run and the offset where each run starts (row-major order).
 */
function runsOf(
  shape: readonly number[],
  dims: readonly number[],
  views: readonly { readonly strides: readonly number[]; readonly offset: number }[],
): { n: number; steps: number[]; starts: Int32Array[] } {
  const kept = shape.map((_, d) => d).filter((d) => !dims.includes(d) && (shape[d] ?? 1) !== 1);
  const inner = kept[kept.length - 1];
  const n = inner === undefined ? 1 : shape[inner] ?? 1;
  const steps = views.map((v) => (inner === undefined ? 0 : v.strides[inner] ?? 0));
  const outer = kept.slice(0, -1);
  const runs = outer.reduce((m, d) => m * (shape[d] ?? 1), 1);
  // NOTE: plain loops into typed arrays: building these lists with flatMap cost more than the pass
  const starts = views.map((v) => {
    const offs = new Int32Array(runs);
    offs[0] = v.offset;
    let filled = 1;
    // row-major: the innermost outer dim varies fastest, so expand from the outermost
    for (const d of outer) {
      const m = shape[d] ?? 1;
      const st = v.strides[d] ?? 0;
      for (let x = filled - 1; x >= 0; x--) {
        const base = offs[x] as number;
        for (let i = m - 1; i >= 0; i--) offs[x * m + i] = base + i * st;
      }
      filled *= m;
    }
    return offs;
  });
  return { n, steps, starts };
}

/** `maxPass` along one run of `n` windows. */
function maxRun(A: Float32Array, out: Float32Array, aOff: Int32Array, n: number, pa: number, sa: number, po: number, so: number): void {
  const K = aOff.length;
  for (let i = 0; i < n; i++) {
    let acc = -Infinity;
    for (let j = 0; j < K; j++) {
      const v = A[pa + (aOff[j] as number)] as number;
      acc = v > acc || v !== v ? v : acc;
    }
    out[po] = acc;
    pa += sa;
    po += so;
  }
}

/** `maxRun` for windows of four elements, unrolled (the same comparisons in the same order). */
function maxRun4(A: Float32Array, out: Float32Array, aOff: Int32Array, n: number, pa: number, sa: number, po: number, so: number): void {
  const a0 = aOff[0] as number;
  const a1 = aOff[1] as number;
  const a2 = aOff[2] as number;
  const a3 = aOff[3] as number;
  for (let i = 0; i < n; i++) {
    let acc = A[pa + a0] as number;
    // -∞ loses to every value but itself and NaN wins: the first element is where the IR's loop lands
    const v1 = A[pa + a1] as number;
    acc = v1 > acc || v1 !== v1 ? v1 : acc;
    const v2 = A[pa + a2] as number;
    acc = v2 > acc || v2 !== v2 ? v2 : acc;
    const v3 = A[pa + a3] as number;
    out[po] = v3 > acc || v3 !== v3 ? v3 : acc;
    pa += sa;
    po += so;
  }
}

/**
 * `maxBackwardPass` along one run of `n` windows (the innermost kept dim).
 * With the valid mask `V` (max pooling's padding is 0) each tie indicator is
 * multiplied by it, the IR's order; without one (`null`) by 1, which changes
 * no value, so the unmasked pass shares this loop.
 */
function maxBackwardRun(
  A: Float32Array, R: Float32Array, G: Float32Array, V: Float32Array | null, out: Float32Array, aOff: Int32Array, oOff: Int32Array, vOff: Int32Array,
  n: number, pa: number, sa: number, pr: number, sr: number, pg: number, sg: number, po: number, so: number, pv: number, sv: number,
): void {
  const K = aOff.length;
  for (let i = 0; i < n; i++) {
    const rv = R[pr] as number;
    const rnan = rv !== rv ? 1 : 0;
    let count = 0;
    for (let j = 0; j < K; j++) {
      const v = A[pa + (aOff[j] as number)] as number;
      count += ((v === rv ? 1 : 0) + (v !== v ? 1 : 0) * rnan) * (V ? (V[pv + (vOff[j] as number)] as number) : 1);
    }
    const gv = G[pg] as number;
    for (let j = 0; j < K; j++) {
      const v = A[pa + (aOff[j] as number)] as number;
      out[po + (oOff[j] as number)] = ((v === rv ? 1 : 0) + (v !== v ? 1 : 0) * rnan) * (V ? (V[pv + (vOff[j] as number)] as number) : 1) / count * gv;
    }
    pa += sa;
    pr += sr;
    pg += sg;
    po += so;
    pv += sv;
  }
}

/** `maxBackwardRun` for windows of four elements, unrolled (the same arithmetic). */
function maxBackwardRun4(
  A: Float32Array, R: Float32Array, G: Float32Array, out: Float32Array, aOff: Int32Array, oOff: Int32Array,
  n: number, pa: number, sa: number, pr: number, sr: number, pg: number, sg: number, po: number, so: number,
): void {
  // NOTE: indexed reads, not destructuring: a typed array destructures through its iterator
  const a0 = aOff[0] as number;
  const a1 = aOff[1] as number;
  const a2 = aOff[2] as number;
  const a3 = aOff[3] as number;
  const o0 = oOff[0] as number;
  const o1 = oOff[1] as number;
  const o2 = oOff[2] as number;
  const o3 = oOff[3] as number;
  for (let i = 0; i < n; i++) {
    const rv = R[pr] as number;
    const rnan = rv !== rv ? 1 : 0;
    const v0 = A[pa + a0] as number;
    const v1 = A[pa + a1] as number;
    const v2 = A[pa + a2] as number;
    const v3 = A[pa + a3] as number;
    const m0 = (v0 === rv ? 1 : 0) + (v0 !== v0 ? 1 : 0) * rnan;
    const m1 = (v1 === rv ? 1 : 0) + (v1 !== v1 ? 1 : 0) * rnan;
    const m2 = (v2 === rv ? 1 : 0) + (v2 !== v2 ? 1 : 0) * rnan;
    const m3 = (v3 === rv ? 1 : 0) + (v3 !== v3 ? 1 : 0) * rnan;
    // the IR's count adds the masks in this order from 0
    const count = m0 + m1 + m2 + m3;
    const gv = G[pg] as number;
    out[po + o0] = m0 / count * gv;
    out[po + o1] = m1 / count * gv;
    out[po + o2] = m2 / count * gv;
    out[po + o3] = m3 / count * gv;
    pa += sa;
    pr += sr;
    pg += sg;
    po += so;
  }
}
