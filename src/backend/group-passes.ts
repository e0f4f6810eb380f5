/**
 * The float32 fast passes of the normalize primitive on the `cpu` device
 * (docs/notes/architecture.md, "The normalization fast path"): loops over
 * typed arrays that do in one pass over x what the kernel IR does in
 * several (the IR has one output per kernel), in WebAssembly SIMD
 * (wasm/norm.wat) or, where that is unavailable, as the JavaScript loops
 * here. The kernel IR stays the definition every other device compiles;
 * these loops compute its formulas, every value widened to double as the
 * cpu device's loops do (tests compare them with the IR kernels on the same
 * inputs: test/nn/normalize-fast.test.ts).
 *
 * Layout: x is dense row-major from `offset` and the reduced dims are a
 * leading and a trailing block (size-1 dims anywhere), so x is
 * [outer][groups][inner] with each group's values in `outer` runs of
 * `inner` contiguous elements: BatchNorm's (N)(C)(H·W), InstanceNorm's and
 * GroupNorm's (1)(N·G)(rest), LayerNorm's (1)(lead)(normalized). Loops walk
 * each group's runs in order with no index arithmetic, the IR's reduction
 * order ([outer][inner]).
 *
 * float64 never comes here: the reference path stays the IR loop, exactly.
 */

/** Where each group's values lie in a dense x. */
export interface GroupLayout {
  readonly offset: number;
  readonly outer: number;
  readonly groups: number;
  readonly inner: number;
}

/**
 * The layout of a dense x reduced over `dims` (normalised, any order), or
 * null when x is not dense or the reduced dims are not a leading and a
 * trailing block (size-1 dims are ignored).
 */
export function groupLayout(shape: readonly number[], strides: readonly number[], offset: number, dims: readonly number[]): GroupLayout | null {
  let expect = 1;
  for (let d = shape.length - 1; d >= 0; d--) {
    const n = shape[d] ?? 1;
    if (n !== 1 && strides[d] !== expect) return null;
    expect *= n;
  }
  const reduced = new Set(dims);
  // phases: 0 leading reduced, 1 kept, 2 trailing reduced
  let phase = 0;
  const size = [1, 1, 1];
  for (let d = 0; d < shape.length; d++) {
    const n = shape[d] ?? 1;
    if (n === 1) continue;
    const r = reduced.has(d);
    if (phase === 0 && !r) phase = 1;
    else if (phase === 1 && r) phase = 2;
    else if (phase === 2 && !r) return null;
    size[phase] = (size[phase] ?? 1) * n;
  }
  return { offset, outer: size[0] ?? 1, groups: size[1] ?? 1, inner: size[2] ?? 1 };
}

/** A float32 input: its array, where the tensor starts in it, and the device buffer it belongs to (wasm/norm.ts keeps copies by it). */
export interface GroupInput {
  readonly data: Float32Array;
  readonly offset: number;
  readonly key: { readonly freed: boolean };
}

/**
 * The passes, over x (and g) in `L`'s layout. Per-group parameters are
 * doubles, `k` consecutive ones per group. A pass answers null (or false)
 * when it cannot run (wasm32's memory is full); the caller then runs the IR.
 */
export interface GroupPasses {
  /** Per group, d = x - s with s the group's first value: [max |d|, Σd, Σd²] (3 per group; the max may skip NaN: `finishMoments`). */
  moments(x: GroupInput, L: GroupLayout): Float64Array | null;
  /** With par = [s, inv, m] per group: [Σg, Σ g·((x - s)·inv - m)] per group (2 per group). */
  gradSums(x: GroupInput, g: GroupInput, L: GroupLayout, par: Float64Array): Float64Array | null;
  /**
   * With par = [s, inv, m, a, b] per group: out = ((x - s)·inv - m)·a + b, dense in x's shape.
   * With `lanes` (and `outputLanes` accepting par) in float32 lanes: out = (x - s)·α + β.
   */
  output(x: GroupInput, L: GroupLayout, par: Float64Array, out: Float32Array, lanes: boolean): boolean;
  /**
   * With par = [s, inv, wi, P, Q] per group: out = ((g·wi + P) + Q·((x - s)·inv))·inv, dense in x's shape.
   * With `lanes` (and `gradInputLanes` accepting par) in float32 lanes: out = g·A + ((x - s)·B + C).
   */
  gradInput(x: GroupInput, g: GroupInput, L: GroupLayout, par: Float64Array, out: Float32Array, lanes: boolean): boolean;
  /**
   * With par = [s, inv, m, S₁, S₂, w, n, eps] per group: `gradSums` and the
   * lane map of `gradInput` in one pass per group, the lane coefficients
   * computed from the group's sums in between (normalize.ts's formulas);
   * returns the sums and the coefficients used, which the caller checks.
   * Only the WebAssembly engine has it (wasm/norm.ts).
   */
  gradFused?(x: GroupInput, g: GroupInput, L: GroupLayout, par: Float64Array, safe: boolean, out: Float32Array): { sums: Float64Array; lanes: Float32Array } | null;
  /**
   * With par = [w, b, n, eps] per group: `moments` and the lane map of
   * `output` in one pass per group, the lane coefficients computed from the
   * group's moments in between (`finishMoments`, normalize.ts's formulas,
   * `outputLanes`); returns the raw moments and the coefficients used
   * ([s, α, β] per group), which the caller checks. Only the WebAssembly
   * engine has it (wasm/norm.ts).
   */
  momentsOutput?(x: GroupInput, L: GroupLayout, par: Float64Array, safe: boolean, out: Float32Array): { raw: Float64Array; lanes: Float32Array } | null;
}

/** The smallest normal float32, 2^-126. */
const F32_MIN_NORMAL = 2 ** -126;

/**
 * Whether the double `v` can be a float32 lane coefficient: finite as a
 * float32 and either normal there or exactly 0 (a subnormal float32 would
 * lose the digits the double map keeps), and, for a coefficient of x - s
 * (`ofD`), not 0: x - s overflows to ±inf in float32 only where the
 * statistics give 0 (or NaN) there, and inf·0 is NaN where the double map
 * gives 0 (docs/notes/normalization.md, "float32 lanes").
 */
function laneCoefficient(v: number, ofD: boolean): boolean {
  const f = Math.fround(v);
  if (!Number.isFinite(f)) return false;
  return v === 0 ? !ofD : Math.abs(f) >= F32_MIN_NORMAL;
}

/**
 * The output map's float32 lane coefficients from its double parameters
 * `par` ([s, inv, m, a, b] per group): [s, α, β] per group with α = inv·a
 * and β = b - m·a computed in double and rounded once to float32, so that
 * (x - s)·α + β, every operation in float32, is the map
 * ((x - s)·inv - m)·a + b up to a few float32 roundings (PyTorch's CPU
 * batch norm also maps x·α + β in float with coefficients from double
 * statistics; here x - s comes first, s being a value of the group, so a
 * large mean does not cancel). Null where a coefficient is not a normal
 * float32 (`laneCoefficient`) or s is not finite: the double map then runs.
 */
export function outputLanes(par: Float64Array, G: number): Float32Array | null {
  const lanes = new Float32Array(3 * G);
  for (let gi = 0; gi < G; gi++) {
    const [s, inv, m, a, b] = [0, 1, 2, 3, 4].map((i) => par[5 * gi + i] as number) as [number, number, number, number, number];
    const alpha = inv * a;
    const beta = b - m * a;
    if (!Number.isFinite(s) || !laneCoefficient(alpha, true) || !laneCoefficient(beta, false)) return null;
    lanes[3 * gi] = s;
    lanes[3 * gi + 1] = alpha;
    lanes[3 * gi + 2] = beta;
  }
  return lanes;
}

/**
 * x's gradient map's float32 lane coefficients from `par` ([s, inv, wi, P,
 * Q] per group): [s, A, B, C] per group with A = wi·inv, B = Q·inv·inv and
 * C = P·inv in double, rounded once, so that g·A + ((x - s)·B + C) in
 * float32 is ((g·wi + P) + Q·((x - s)·inv))·inv up to a few float32
 * roundings. Null where one is not a normal float32 or s is not finite.
 */
export function gradInputLanes(par: Float64Array, G: number): Float32Array | null {
  const lanes = new Float32Array(4 * G);
  for (let gi = 0; gi < G; gi++) {
    const [s, inv, wi, P, Q] = [0, 1, 2, 3, 4].map((i) => par[5 * gi + i] as number) as [number, number, number, number, number];
    const A = wi * inv;
    const B = Q * inv * inv;
    const C = P * inv;
    if (!Number.isFinite(s) || !laneCoefficient(A, false) || !laneCoefficient(B, true) || !laneCoefficient(C, false)) return null;
    lanes[4 * gi] = s;
    lanes[4 * gi + 1] = A;
    lanes[4 * gi + 2] = B;
    lanes[4 * gi + 3] = C;
  }
  return lanes;
}

/**
 * `moments`' scale, 1/scale, S₁ and S₂ from a moments pass (nn/norm/functional.ts),
 * as the Scale and reciprocal kernels compute them: scale = max |d| kept at
 * least sqrt(eps) (1 where it is 0 without eps, or not finite), inv = 1/scale,
 * and S₁ = inv·Σd, S₂ = inv²·Σd², the IR's Σ(d·inv) and Σ(d·inv)² up to the
 * rounding of a double product (a float32 d·inv neither overflows nor
 * underflows in double, so no scaling is needed inside the loop). Each value
 * is stored as float32, as the IR kernels store theirs, into the four
 * arrays (scale, inv, S₁, S₂) of `G` values. A NaN d makes Σd² NaN (and only a NaN does): max |d| is then
 * NaN, as the IR's NaN-winning max, whatever the pass's max skipped.
 * Returns false, with `out` partly written, where inv is not finite
 * (subnormal data and eps = 0): there the IR's d·inv gives NaN for d = 0,
 * which the factored form would not, so the caller runs the IR kernels.
 */
export function finishMoments(raw: Float64Array, G: number, eps: number, [scales, invs, sums1, sums2]: readonly Float32Array[]): boolean {
  if (!scales || !invs || !sums1 || !sums2) return false;
  const floor = eps > 0 ? Math.sqrt(eps) : 0;
  for (let gi = 0; gi < G; gi++) {
    const s1 = raw[3 * gi + 1] as number;
    const s2 = raw[3 * gi + 2] as number;
    const am = Number.isNaN(s2) ? NaN : Math.fround(raw[3 * gi] as number);
    const k = floor > 0 ? Math.max(am, floor) : am > 0 ? am : 1;
    const scale = Math.fround(k - k === 0 ? k : 1);
    const inv = Math.fround(1 / scale);
    if (!Number.isFinite(inv)) return false;
    scales[gi] = scale;
    invs[gi] = inv;
    sums1[gi] = inv * s1;
    sums2[gi] = inv * inv * s2;
  }
  return true;
}

/** The passes as JavaScript loops (one accumulator per sum: the IR's order). */
export const jsPasses: GroupPasses = {
  moments(x, L) {
    const { outer, groups: G, inner } = L;
    const data = x.data;
    const stride = G * inner;
    const raw = new Float64Array(3 * G);
    for (let gi = 0; gi < G; gi++) {
      const base = x.offset + gi * inner;
      const s = data[base] as number;
      let m = -Infinity;
      let s1 = 0;
      let s2 = 0;
      for (let o = 0; o < outer; o++) {
        const start = base + o * stride;
        const end = start + inner;
        for (let j = start; j < end; j++) {
          const d = (data[j] as number) - s;
          const a = Math.abs(d);
          m = a > m || a !== a ? a : m;
          s1 += d;
          s2 += d * d;
        }
      }
      raw[3 * gi] = m;
      raw[3 * gi + 1] = s1;
      raw[3 * gi + 2] = s2;
    }
    return raw;
  },

  gradSums(x, g, L, par) {
    const { outer, groups: G, inner } = L;
    const [xd, gd] = [x.data, g.data];
    const stride = G * inner;
    const dg = g.offset - x.offset;
    const out = new Float64Array(2 * G);
    for (let gi = 0; gi < G; gi++) {
      const base = x.offset + gi * inner;
      const [sv, iv, mv] = [par[3 * gi] as number, par[3 * gi + 1] as number, par[3 * gi + 2] as number];
      let r1 = 0;
      let r2 = 0;
      for (let o = 0; o < outer; o++) {
        const start = base + o * stride;
        const end = start + inner;
        for (let j = start; j < end; j++) {
          const gv = gd[j + dg] as number;
          r1 = r1 + gv;
          r2 = r2 + gv * (((xd[j] as number) - sv) * iv - mv);
        }
      }
      out[2 * gi] = r1;
      out[2 * gi + 1] = r2;
    }
    return out;
  },

  output(x, L, par, out, lanes) {
    const { outer, groups: G, inner } = L;
    const xd = x.data;
    const f = lanes ? outputLanes(par, G) : null;
    const fr = Math.fround;
    for (let o = 0, k = 0; o < outer; o++) {
      for (let gi = 0; gi < G; gi++) {
        const start = x.offset + (o * G + gi) * inner;
        if (f) {
          // float32 lanes: each operation rounded to float32, as f32x4 in norm.wat
          const [s, a, b] = [f[3 * gi] as number, f[3 * gi + 1] as number, f[3 * gi + 2] as number];
          for (let j = start, end = j + inner; j < end; j++, k++) out[k] = fr(fr(fr((xd[j] as number) - s) * a) + b);
          continue;
        }
        const [s, iv, m, a, b] = [0, 1, 2, 3, 4].map((i) => par[5 * gi + i] as number) as [number, number, number, number, number];
        for (let j = start, end = j + inner; j < end; j++, k++) out[k] = (((xd[j] as number) - s) * iv - m) * a + b;
      }
    }
    return true;
  },
  gradInput(x, g, L, par, out, lanes) {
    const { outer, groups: G, inner } = L;
    const [xd, gd] = [x.data, g.data];
    const dg = g.offset - x.offset;
    const f = lanes ? gradInputLanes(par, G) : null;
    const fr = Math.fround;
    for (let o = 0, k = 0; o < outer; o++) {
      for (let gi = 0; gi < G; gi++) {
        const start = x.offset + (o * G + gi) * inner;
        if (f) {
          const [s, A, B, C] = [f[4 * gi] as number, f[4 * gi + 1] as number, f[4 * gi + 2] as number, f[4 * gi + 3] as number];
          for (let j = start, end = j + inner; j < end; j++, k++) out[k] = fr(fr((gd[j + dg] as number) * A) + fr(fr(fr((xd[j] as number) - s) * B) + C));
          continue;
        }
        const [s, iv, wi, P, Q] = [0, 1, 2, 3, 4].map((i) => par[5 * gi + i] as number) as [number, number, number, number, number];
        for (let j = start, end = j + inner; j < end; j++, k++) {
          out[k] = ((gd[j + dg] as number) * wi + P + Q * (((xd[j] as number) - s) * iv)) * iv;
        }
      }
    }
    return true;
  },
};
