/**
 * The float32 fast passes of the normalize primitive on the `cpu` device
 * (docs/notes/architecture.md, "The normalization fast path"): plain
 * JavaScript loops over typed arrays that do in one pass over x what the
 * kernel IR does in several (the IR has one output per kernel). The kernel
 * IR stays the definition every other device compiles; these loops compute
 * the same formulas (tests compare them with the IR kernels on the same
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

/**
 * `moments`' statistics in one pass (nn/norm/functional.ts): per group, with
 * s its first value and d = x - s (exact in double for float32 data),
 * max |d| (NaN winning, as the AbsMax kernel), Σd and Σd² accumulated in
 * double; then, as the Scale and reciprocal kernels, scale = max |d| kept
 * at least sqrt(eps) (1 where it is 0 or not finite) and inv = 1/scale; and
 * S₁ = inv·Σd, S₂ = inv²·Σd², which are the IR's Σ(d·inv) and Σ(d·inv)² up
 * to the rounding of one double product (a float32 d·inv neither overflows
 * nor underflows in double, so no scaling is needed inside the loop).
 * Writes out = [scale | inv | S₁ | S₂] (4·groups float32 values), each
 * value stored as float32 as the IR kernels store theirs.
 * Returns false, with `out` partly written, where inv is not finite
 * (subnormal data and eps = 0): there the IR's d·inv gives NaN for d = 0,
 * which the factored form would not, so the caller runs the IR kernels.
 */
export function momentsPass(x: Float32Array, L: GroupLayout, eps: number, out: Float32Array): boolean {
  const { offset, outer, groups: G, inner } = L;
  const floor = eps > 0 ? Math.sqrt(eps) : 0;
  const stride = G * inner;
  for (let gi = 0; gi < G; gi++) {
    const base = offset + gi * inner;
    const s = x[base] as number;
    let m = -Infinity;
    let s1 = 0;
    let s2 = 0;
    for (let o = 0; o < outer; o++) {
      const start = base + o * stride;
      const end = start + inner;
      for (let j = start; j < end; j++) {
        const d = (x[j] as number) - s;
        const a = Math.abs(d);
        m = a > m || a !== a ? a : m;
        s1 += d;
        s2 += d * d;
      }
    }
    const am = Math.fround(m);
    const k = floor > 0 ? Math.max(am, floor) : am > 0 ? am : 1;
    const scale = Math.fround(k - k === 0 ? k : 1);
    const inv = Math.fround(1 / scale);
    if (!Number.isFinite(inv)) return false;
    out[gi] = scale;
    out[G + gi] = inv;
    out[2 * G + gi] = inv * s1;
    out[3 * G + gi] = inv * inv * s2;
  }
  return true;
}

/**
 * The backward's two sums in one pass (tensor/normalize.ts): per group,
 * Σg and Σ g·((x - s)·inv - m), with the IR kernels' arithmetic and order
 * (`sum` and `GradCentredSum`), so each value is the IR's. `s`, `inv`, `m`
 * hold one value per group; g is dense with x's layout from `gOffset`.
 * Writes out = [Σg | Σg·(c - m)] (2·groups values).
 */
export function gradSumsPass(x: Float32Array, L: GroupLayout, g: Float32Array, gOffset: number, s: Float64Array, inv: Float64Array, m: Float64Array, out: Float32Array): void {
  const { offset, outer, groups: G, inner } = L;
  const stride = G * inner;
  const dg = gOffset - offset;
  for (let gi = 0; gi < G; gi++) {
    const base = offset + gi * inner;
    const sv = s[gi] as number;
    const iv = inv[gi] as number;
    const mv = m[gi] as number;
    let r1 = 0;
    let r2 = 0;
    for (let o = 0; o < outer; o++) {
      const start = base + o * stride;
      const end = start + inner;
      for (let j = start; j < end; j++) {
        const gv = g[j + dg] as number;
        r1 = r1 + gv;
        r2 = r2 + gv * (((x[j] as number) - sv) * iv - mv);
      }
    }
    out[gi] = r1;
    out[G + gi] = r2;
  }
}
