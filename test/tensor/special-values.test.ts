/**
 * The special-values table (issue 13): forward and gradient of every
 * primitive, composite Tensor method and nn.functional function on ±0,
 * ±tiny, ±1, ±huge, ±inf, NaN, ties, all-equal rows, empty and size-1 dims,
 * against PyTorch 1.13 (test/fixtures/torch_special.json, written by
 * make_special.py): float64 and float32 on the cpu, float32 on every gpu.js
 * device.
 *
 * NaN must match NaN, an infinity the same-signed infinity, finite values
 * within the dtype's tolerance, and a zero the same-signed zero (on the
 * devices of IEEE_ZERO_DEVICES, and for SELECTING_OPS everywhere). Where a
 * device cannot give PyTorch's value the difference is listed in DEVICE_LIMITS with its reason (and
 * docs/notes/special-values.md), and the test checks that the listed
 * difference is still the only one.
 */
import { expect } from 'chai';
import * as gg from '../../src/index.js';
import { forEachDevice } from '../helpers/devices.js';
import { fixture } from '../helpers/compare.js';
import { decode, decodeAll, type FixtureNumber, type SpecialGolden } from '../helpers/special.js';

/** One case of torch_special.json. */
export interface SpecialCase {
  name: string;
  op: string;
  dtype: 'float64' | 'float32';
  inputs: SpecialGolden[];
  kwargs: Record<string, FixtureNumber | boolean | number[] | null | string>;
  output?: SpecialGolden;
  grads?: (SpecialGolden | null)[];
  error?: string;
}

const F = gg.nn.functional;
const num = (v: unknown): number => decode(v as FixtureNumber);
const optNum = (v: unknown): number | null => (v === null || v === undefined ? null : num(v));

/** How each op of the table is called in gpugrad. */
const CALL: Record<string, (xs: gg.Tensor[], kw: SpecialCase['kwargs']) => gg.Tensor> = {
  neg: ([x]) => x!.neg(),
  exp: ([x]) => x!.exp(),
  log: ([x]) => x!.log(),
  sqrt: ([x]) => x!.sqrt(),
  abs: ([x]) => x!.abs(),
  sign: ([x]) => x!.sign(),
  sigmoid: ([x]) => x!.sigmoid(),
  tanh: ([x]) => x!.tanh(),
  floor: ([x]) => x!.floor(),
  ceil: ([x]) => x!.ceil(),
  round: ([x]) => x!.round(),
  relu: ([x]) => x!.relu(),
  rsqrt: ([x]) => x!.rsqrt(),
  reciprocal: ([x]) => x!.reciprocal(),
  square: ([x]) => x!.square(),
  clone: ([x]) => x!.clone(),
  'F.relu': ([x]) => F.relu(x!),
  'F.sigmoid': ([x]) => F.sigmoid(x!),
  'F.tanh': ([x]) => F.tanh(x!),
  'F.leakyRelu': ([x], kw) => F.leakyRelu(x!, num(kw['negativeSlope'])),
  clamp: ([x], kw) => x!.clamp(optNum(kw['min']), optNum(kw['max'])),
  ...Object.fromEntries(
    (['add', 'sub', 'mul', 'div', 'pow', 'maximum', 'minimum', 'eq', 'ne', 'lt', 'le', 'gt', 'ge'] as const).map((op) => [
      op,
      ([a, b]: gg.Tensor[], kw: SpecialCase['kwargs']) => (b ? a![op](b) : a![op](num(kw['other']))),
    ]),
  ),
  where: ([c, a, b]) => a!.where(c!, b!),
  sum: ([x], kw) => (kw['dim'] === null ? x!.sum() : x!.sum(kw['dim'] as number)),
  mean: ([x], kw) => (kw['dim'] === null ? x!.mean() : x!.mean(kw['dim'] as number)),
  var: ([x], kw) => x!.var(kw['dim'] as number | null),
  var_biased: ([x], kw) => x!.var(kw['dim'] as number | null, { unbiased: false }),
  std: ([x], kw) => x!.std(kw['dim'] as number | null),
  std_biased: ([x], kw) => x!.std(kw['dim'] as number | null, { unbiased: false }),
  var_neg: ([x], kw) => x!.var(kw['dim'] as number, { correction: kw['correction'] as number }).neg(), // a negative output gradient
  max: ([x], kw) => (kw['dim'] === null ? x!.max() : x!.max(kw['dim'] as number)),
  min: ([x], kw) => (kw['dim'] === null ? x!.min() : x!.min(kw['dim'] as number)),
  logsumexp: ([x], kw) => x!.logsumexp(kw['dim'] as number),
  softmax: ([x], kw) => x!.softmax(kw['dim'] as number),
  logSoftmax: ([x], kw) => x!.logSoftmax(kw['dim'] as number),
  argmax: ([x], kw) => x!.argmax(kw['dim'] as number),
  matmul: ([a, b]) => a!.matmul(b!),
  'F.linear': ([x, w, b]) => F.linear(x!, w!, b),
  'F.mseLoss': ([x, t]) => F.mseLoss(x!, t!),
  'F.crossEntropy': ([x, t]) => F.crossEntropy(x!, t!.long()), // class indices are int64 (the fixture stores floats)
  'F.nllLoss': ([x, t]) => F.nllLoss(x!, t!.long()),
  'F.bceWithLogits': ([x, t], kw) => F.binaryCrossEntropyWithLogits(x!, t!, kw['reduction'] ? { reduction: kw['reduction'] as 'none' } : {}),
  'F.maxPool1d': ([x], kw) => F.maxPool1d(x!.squeeze(0), kw['kernelSize'] as number).unsqueeze(0),
  'F.maxPool2d': ([x], kw) => F.maxPool2d(x!, kw['kernelSize'] as number),
  'F.avgPool1d': ([x], kw) => F.avgPool1d(x!.squeeze(0), kw['kernelSize'] as number).unsqueeze(0),
  'F.conv1d': ([x, w]) => F.conv1d(x!.squeeze(0), w!).unsqueeze(0),
  'F.batchNorm': ([x]) => F.batchNorm(x!, null, null, null, null, true),
  'F.layerNorm': ([x], kw) => F.layerNorm(x!, kw['normalizedShape'] as number[]),
  'F.groupNorm': ([x], kw) => F.groupNorm(x!, kw['numGroups'] as number),
  'F.instanceNorm': ([x]) => F.instanceNorm(x!),
  // shape primitives (torch_special_shapes.json)
  reshape: ([x], kw) => x!.reshape(kw['shape'] as number[]),
  view: ([x], kw) => x!.view(kw['shape'] as number[]),
  flatten: ([x], kw) => x!.flatten(kw['startDim'] as number, kw['endDim'] as number),
  permute: ([x], kw) => x!.permute(kw['dims'] as number[]),
  transpose: ([x], kw) => x!.transpose(kw['dim0'] as number, kw['dim1'] as number),
  t: ([x]) => x!.t(),
  contiguous: ([x]) => x!.t().contiguous(),
  expand: ([x], kw) => (kw['reshape'] ? x!.reshape(kw['reshape'] as number[]) : x!.unsqueeze(0)).expand(kw['size'] as number[]),
  narrow: ([x], kw) => x!.narrow(kw['dim'] as number, kw['start'] as number, kw['length'] as number),
  squeeze: ([x], kw) => x!.reshape(kw['reshape'] as number[]).squeeze(kw['dim'] as number),
  unsqueeze: ([x], kw) => x!.unsqueeze(kw['dim'] as number),
  pad: ([x], kw) => x!.pad(kw['before'] as number[], kw['after'] as number[], num(kw['value'])),
  cat: (xs, kw) => gg.cat(xs, kw['dim'] as number),
  stack: (xs, kw) => gg.stack(xs, kw['dim'] as number),
};

/**
 * Documented differences from PyTorch, by device, case-name pattern and
 * which tensor ('output' or 'grad<i>'); `reason` goes to the test title.
 * Keep in step with docs/notes/special-values.md (same numbering).
 */
export const DEVICE_LIMITS: { device: RegExp; name: RegExp; what: RegExp; reason: string }[] = [
  // 1. composite var/std differentiate through the mean; PyTorch's var_backward is 2(x - mean)/(n-1)
  { device: /./, name: /^f(64|32)\/(var|var_biased|std|std_biased)\/(row[5-8]|dim1)$/, what: /^grad0$/, reason: 'var/std gradient next to ±inf is NaN (PyTorch ±inf)' },
  // 2. the exact softmax weights where PyTorch's exp(x - result) rounds to 1 for each tie at ±1e300
  { device: /./, name: /^f(64|32)\/logsumexp\/(row10|dim1)$/, what: /^grad0$/, reason: 'logsumexp gradient 1/k at absorbed ties (PyTorch 1 each)' },
  // 3. composite BCE-with-logits differentiates log(e^-m + e^(-x-m)), which is NaN at x = -inf
  { device: /./, name: /^f(64|32)\/F\.bceWithLogits\/inf$/, what: /^grad0$/, reason: 'BCE-with-logits gradient at -inf is NaN (PyTorch σ(x) - t)' },
  // 4. max pooling splits ties evenly (SEMANTICS); a NaN window gives the NaN the gradient, as PyTorch
  { device: /./, name: /^f(64|32)\/F\.maxPool[12]d(\/zeros)?$/, what: /^grad0$/, reason: 'max pooling splits ties (PyTorch: first maximum)' },
  // 7. (float32, the cpu too) float32 squares of 1e30 overflow and of 1e-30 underflow inside var; PyTorch's CPU kernel accumulates in float64
  { device: /./, name: /^f32\/(std|std_biased)\/(row1[0-2]|dim1)$/, what: /./, reason: 'float32 var squares overflow at 1e30 (PyTorch CPU accumulates in float64)' },
  // 8. (float32, the cpu too) a constant channel normalises to exactly 0 (shifted moments); PyTorch's float32 mean leaves 3e-5
  { device: /./, name: /^f32\/F\.batchNorm\/constant$/, what: /^output$/, reason: 'exact 0 for a constant channel (PyTorch float32 leaves 3e-5)' },
  // 10. gpu.js's cpu mode runs the kernel as JavaScript, so a sum's intermediates are float64: 1e60 - 1e60 is 0, not inf - inf
  { device: /^gpu:cpu$/, name: /^f32\/matmul\/2$/, what: /^output$/, reason: "gpu.js's cpu mode accumulates in float64 (no float32 overflow inside a sum)" },
  // 9. WGSL's and GLSL's pow is not IEEE at NaN, ±inf and 0 (their specs leave those undefined)
  { device: /^gpu:(webgpu|headlessgl)$/, name: /^f32\/pow/, what: /./, reason: "the shader language's pow at NaN, ±inf and 0" },
];

/**
 * Finite tolerance per dtype: relative `rtol`, or an absolute rounding `noise`
 * (a sum of order-1 terms that should cancel gives 1e-16, not 0) unless the
 * values are of the grid's tiny magnitude, which must match relatively (a
 * flush to zero is a difference).
 */
const TOL = { float64: { rtol: 1e-12, noise: 1e-15, tiny: 1e-200 }, float32: { rtol: 2e-5, noise: 2e-6, tiny: 1e-20 } };

function finiteClose(a: number, e: number, dtype: 'float64' | 'float32'): boolean {
  const { rtol, noise, tiny } = TOL[dtype];
  const d = Math.abs(a - e);
  if (d <= rtol * Math.abs(e)) return true;
  return d <= noise && Math.max(Math.abs(a), Math.abs(e)) > tiny;
}

/** A number as text, -0 as '-0' (String(-0) is '0'). */
const show = (v: number): string => (Object.is(v, -0) ? '-0' : String(v));

/**
 * The first difference between got and expected (NaN = NaN, inf = same-signed inf), or null.
 * With `signedZero`, an expected ±0 must be met by the same-signed zero (PyTorch's relu(-0) is -0).
 */
export function firstDifference(got: ArrayLike<number>, want: readonly number[], dtype: 'float64' | 'float32', signedZero = false): string | null {
  if (got.length !== want.length) return `length ${got.length}, expected ${want.length}`;
  for (let i = 0; i < want.length; i++) {
    const a = got[i] as number;
    const e = want[i] as number;
    const same = Number.isNaN(e) ? Number.isNaN(a) : Number.isFinite(e) ? finiteClose(a, e, dtype) : a === e;
    if (same && !(signedZero && e === 0 && a === 0 && !Object.is(a, e))) continue;
    return `[${i}] ${show(a)}, expected ${show(e)}`;
  }
  return null;
}

/** All differences (index: got vs expected), for reports. */
export function allDifferences(got: ArrayLike<number>, want: readonly number[], dtype: 'float64' | 'float32', signedZero = false): number[] {
  const out: number[] = [];
  for (let i = 0; i < want.length; i++) if (firstDifference([got[i] as number], [want[i] as number], dtype, signedZero)) out.push(i);
  return out;
}

/**
 * Where the sign of zero is compared (docs/notes/special-values.md, "The sign of zero"): for
 * every op of the table on the devices whose arithmetic is IEEE's, signed zeros included: the
 * `cpu` device (float64 and float32, WebAssembly passes included) and gpu.js's JavaScript and
 * WebAssembly modes. The shader devices (WebGL, WebGPU) may drop the sign of a zero in
 * arithmetic (their compilers fold `x + 0.0` to x, and GLSL/WGSL do not promise signed zeros),
 * so there only the ops whose zeros are inputs selected unchanged are compared signed
 * (SELECTING_OPS: relu, max/min reductions and max pooling, which pick the first tied zero, and
 * maximum/minimum/clamp, selects that return the first operand of a ±0 tie and keep x in clamp).
 */
const IEEE_ZERO_DEVICES = /^(cpu|gpu:cpu|gpu:webasm)$/;
const SELECTING_OPS = /^(relu|F\.relu|max|min|F\.maxPool[12]d|maximum|minimum|clamp)$/;

// the shape primitives' table (make_special_shapes.py) runs with the elementwise one
const cases = [...fixture<SpecialCase[]>('torch_special.json'), ...fixture<SpecialCase[]>('torch_special_shapes.json')];

function tensorOf(t: SpecialGolden, dtype: gg.DType, device: string, requiresGrad: boolean): gg.Tensor {
  return gg.tensor(Float64Array.from(decodeAll(t)), { shape: t.shape, dtype, device, requiresGrad });
}

/** Run one case; the differences found, as 'what: detail'. */
export async function runSpecial(c: SpecialCase, device: string): Promise<string[]> {
  const call = CALL[c.op];
  if (!call) return [`no call for op ${c.op}`];
  const xs = c.inputs.map((t, i) => tensorOf(t, c.dtype, device, !!c.grads?.[i]));
  if (c.error !== undefined) {
    try {
      call(xs, c.kwargs);
    } catch {
      return [];
    }
    return [`error: PyTorch raises "${c.error}", gpugrad does not`];
  }
  const out = call(xs, c.kwargs);
  const diffs: string[] = [];
  const signed = IEEE_ZERO_DEVICES.test(device) || SELECTING_OPS.test(c.op);
  const o = firstDifference(await out.data(), decodeAll(c.output as SpecialGolden), c.dtype, signed);
  if (o) diffs.push(`output: ${o}`);
  expect([...out.shape], `${c.name} shape`).to.deep.equal(c.output?.shape);
  if (c.grads && out.requiresGrad) {
    out.backward(gg.onesLike(out));
    for (const [i, g] of c.grads.entries()) {
      if (!g) continue;
      const got = xs[i]!.grad;
      const d = firstDifference(got ? await got.data() : new Float64Array(g.data.length), decodeAll(g), c.dtype, signed);
      if (d) diffs.push(`grad${i}: ${d}`);
    }
  } else if (c.grads?.some((g) => g && decodeAll(g).some((v) => v !== 0))) {
    // an output without gradient is PyTorch's zero gradient (sign: see DEVICE_LIMITS' note in docs)
    diffs.push('grad: the output does not require grad');
  }
  return diffs;
}

/** Group cases by op for one `it` per op. */
function byOp(list: SpecialCase[]): Map<string, SpecialCase[]> {
  const m = new Map<string, SpecialCase[]>();
  for (const c of list) m.set(c.op, [...(m.get(c.op) ?? []), c]);
  return m;
}

function defineTable(device: string, dtype: 'float64' | 'float32'): void {
  for (const [op, list] of byOp(cases.filter((c) => c.dtype === dtype))) {
    const limits = DEVICE_LIMITS.filter((l) => l.device.test(device) && list.some((c) => l.name.test(c.name)));
    const note = limits.length ? ` (device limits: ${[...new Set(limits.map((l) => l.reason))].join('; ')})` : '';
    it(`${op}: ${list.length} cases${note}`, async function () {
      this.timeout(120000);
      const unexplained: string[] = [];
      for (const c of list) {
        for (const d of await runSpecial(c, device)) {
          const what = d.split(':')[0] as string;
          if (!DEVICE_LIMITS.some((l) => l.device.test(device) && l.name.test(c.name) && l.what.test(what))) unexplained.push(`${c.name} ${d}`);
        }
      }
      expect(unexplained, unexplained.join('\n')).to.deep.equal([]);
    });
  }
}

describe('special values: PyTorch 1.13 table, float64 on the cpu', () => {
  defineTable('cpu', 'float64');
});

// the cpu device's float32 paths (WebAssembly passes, float32 window and max passes) against PyTorch's float32 values
describe('special values: PyTorch 1.13 table, float32 on the cpu', () => {
  defineTable('cpu', 'float32');
});

describe('special values: PyTorch 1.13 table, float32 on every gpu.js device', () => {
  forEachDevice((device) => defineTable(device, 'float32'), { skipCpu: true });
});
