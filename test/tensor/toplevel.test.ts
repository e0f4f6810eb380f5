/**
 * PyTorch's top-level tensor functions (src/tensor/functional.ts): each is
 * its method (the same values, gradient and dtype, bit for bit), refuses a
 * first argument that is not a tensor with PyTorch 1.13's message, and a few
 * calls match torch.<fn> (test/fixtures/torch_toplevel.json, written by
 * make_toplevel.py).
 */
import { expect } from 'chai';
import * as gg from '../../src/index.js';
import { errorOf, expectClose, F64, fixture } from '../helpers/compare.js';
import { nums, type ToolTensor } from '../helpers/tools-fixture.js';

type Fn = (x: gg.Tensor, y: gg.Tensor) => gg.Tensor;
/** [name, the function, the method]: both get the same inputs (x is 2×3, y is 2×3; m is 3×2 for products). */
const PAIRS: [string, Fn, Fn][] = [
  ['neg', (x) => gg.neg(x), (x) => x.neg()],
  ['exp', (x) => gg.exp(x), (x) => x.exp()],
  ['log', (x) => gg.log(x), (x) => x.log()],
  ['sqrt', (x) => gg.sqrt(x), (x) => x.sqrt()],
  ['rsqrt', (x) => gg.rsqrt(x), (x) => x.rsqrt()],
  ['reciprocal', (x) => gg.reciprocal(x), (x) => x.reciprocal()],
  ['square', (x) => gg.square(x), (x) => x.square()],
  ['abs', (x) => gg.abs(x), (x) => x.abs()],
  ['sign', (x) => gg.sign(x), (x) => x.sign()],
  ['floor', (x) => gg.floor(x), (x) => x.floor()],
  ['ceil', (x) => gg.ceil(x), (x) => x.ceil()],
  ['round', (x) => gg.round(x, { decimals: 1 }), (x) => x.round({ decimals: 1 })],
  ['relu', (x) => gg.relu(x), (x) => x.relu()],
  ['sigmoid', (x) => gg.sigmoid(x), (x) => x.sigmoid()],
  ['tanh', (x) => gg.tanh(x), (x) => x.tanh()],
  ['clone', (x) => gg.clone(x), (x) => x.clone()],
  ['detach', (x) => gg.detach(x).mul(x), (x) => x.detach().mul(x)],
  ['add', (x, y) => gg.add(x, y, { alpha: 2 }), (x, y) => x.add(y, { alpha: 2 })],
  ['add(number)', (x) => gg.add(x, 1.5), (x) => x.add(1.5)],
  ['sub', (x, y) => gg.sub(x, y, { alpha: -3 }), (x, y) => x.sub(y, { alpha: -3 })],
  ['mul', (x, y) => gg.mul(x, y), (x, y) => x.mul(y)],
  ['div', (x, y) => gg.div(x, y), (x, y) => x.div(y)],
  ['div(number)', (x) => gg.div(x, 3), (x) => x.div(3)],
  ['pow', (x, y) => gg.pow(x.abs(), y), (x, y) => x.abs().pow(y)],
  ['pow(number)', (x) => gg.pow(x, 3), (x) => x.pow(3)],
  ['maximum', (x, y) => gg.maximum(x, y), (x, y) => x.maximum(y)],
  ['minimum(number)', (x) => gg.minimum(x, 0.25), (x) => x.minimum(0.25)],
  ['eq', (x, y) => gg.eq(x, y), (x, y) => x.eq(y)],
  ['ne', (x) => gg.ne(x, 0.5), (x) => x.ne(0.5)],
  ['lt', (x, y) => gg.lt(x, y), (x, y) => x.lt(y)],
  ['le', (x, y) => gg.le(x, y), (x, y) => x.le(y)],
  ['gt', (x, y) => gg.gt(x, y), (x, y) => x.gt(y)],
  ['ge', (x) => gg.ge(x, 0), (x) => x.ge(0)],
  ['clamp', (x) => gg.clamp(x, -0.5, 0.5), (x) => x.clamp(-0.5, 0.5)],
  ['clamp(null)', (x) => gg.clamp(x, null, 0.5), (x) => x.clamp(null, 0.5)],
  ['sum', (x) => gg.sum(x), (x) => x.sum()],
  ['sum(dim)', (x) => gg.sum(x, 1, true), (x) => x.sum(1, true)],
  ['mean', (x) => gg.mean(x, [0, 1]), (x) => x.mean([0, 1])],
  ['var', (x) => gg.var(x, 1, { correction: 0 }), (x) => x.var(1, { correction: 0 })],
  ['std', (x) => gg.std(x, 0), (x) => x.std(0)],
  ['max', (x) => gg.max(x), (x) => x.max()],
  ['max(dim)', (x) => gg.max(x, 1, true), (x) => x.max(1, true)],
  ['max(other)', (x, y) => gg.max(x, y), (x, y) => x.maximum(y)],
  ['min(dim)', (x) => gg.min(x, 0), (x) => x.min(0)],
  ['min(other)', (x, y) => gg.min(x, y), (x, y) => x.minimum(y)],
  ['amax', (x) => gg.amax(x, 1), (x) => x.amax(1)],
  ['argmax', (x) => gg.argmax(x, 1), (x) => x.argmax(1)],
  ['argmin', (x) => gg.argmin(x), (x) => x.argmin()],
  ['logsumexp', (x) => gg.logsumexp(x, 1), (x) => x.logsumexp(1)],
  ['softmax', (x) => gg.softmax(x, 0), (x) => x.softmax(0)],
  ['logSoftmax', (x) => gg.logSoftmax(x, 1), (x) => x.logSoftmax(1)],
  ['matmul', (x, y) => gg.matmul(x, y.t()), (x, y) => x.matmul(y.t())],
  ['mm', (x, y) => gg.mm(x.t(), y), (x, y) => x.t().mm(y)],
  ['reshape', (x) => gg.reshape(x, [3, 2]), (x) => x.reshape([3, 2])],
  ['reshape(...)', (x) => gg.reshape(x, 6, -1), (x) => x.reshape(6, -1)],
  ['permute', (x) => gg.permute(x, 1, 0), (x) => x.permute(1, 0)],
  ['transpose', (x) => gg.transpose(x, 0, 1), (x) => x.transpose(0, 1)],
  ['t', (x) => gg.t(x), (x) => x.t()],
  ['squeeze', (x) => gg.squeeze(x.unsqueeze(0)), (x) => x.unsqueeze(0).squeeze()],
  ['unsqueeze', (x) => gg.unsqueeze(x, -1), (x) => x.unsqueeze(-1)],
  ['flatten', (x) => gg.flatten(x), (x) => x.flatten()],
  ['narrow', (x) => gg.narrow(x, 1, 1, 2), (x) => x.narrow(1, 1, 2)],
];

/** Values as numbers, -0 kept (Object.is tells it from +0). */
async function flat(t: gg.Tensor | null): Promise<number[]> {
  return t ? [...(await t.data())].map(Number) : [];
}

/** Output, dtype, shape and the inputs' gradients (of sum(out · gout)) of one call. */
async function run(f: Fn): Promise<{ shape: number[]; dtype: string; out: number[]; grads: number[][]; gradFn: string | null }> {
  const x = gg.tensor([[0.5, -1.25, 2], [-0, 3.5, -0.75]], { dtype: 'float64', requiresGrad: true });
  const y = gg.tensor([[1.5, -1.25, -2], [0, 0.25, 4]], { dtype: 'float64', requiresGrad: true });
  const out = f(x, y);
  if (out.requiresGrad) out.backward(gg.arange(out.numel(), { dtype: 'float64' }).add(0.5).reshape(out.shape));
  return { shape: [...out.shape], dtype: out.dtype, out: await flat(out), grads: [await flat(x.grad), await flat(y.grad)], gradFn: out.gradFn?.name ?? null };
}

describe('top-level functions: each is its Tensor method', () => {
  it('covers every exported function of src/tensor/functional.ts', () => {
    const names = new Set(PAIRS.map(([n]) => n.replace(/\(.*\)$/, '')));
    for (const n of ['neg', 'exp', 'log', 'sqrt', 'rsqrt', 'reciprocal', 'square', 'abs', 'sign', 'floor', 'ceil', 'round', 'relu', 'sigmoid', 'tanh', 'clone', 'detach', 'add', 'sub', 'mul', 'div', 'pow', 'maximum', 'minimum', 'eq', 'ne', 'lt', 'le', 'gt', 'ge', 'clamp', 'sum', 'mean', 'var', 'std', 'max', 'min', 'amax', 'argmax', 'argmin', 'logsumexp', 'softmax', 'logSoftmax', 'matmul', 'mm', 'reshape', 'permute', 'transpose', 't', 'squeeze', 'unsqueeze', 'flatten', 'narrow']) {
      expect(names.has(n), n).to.equal(true);
      const f = (gg as unknown as Record<string, unknown>)[n];
      expect(typeof f, `gg.${n}`).to.equal('function');
      expect((f as () => unknown).name, `gg.${n}.name`).to.equal(n);
    }
  });
  for (const [name, fn, method] of PAIRS) {
    it(`${name}: values, dtype, node and gradients bit for bit`, async () => {
      const a = await run(fn);
      const b = await run(method);
      expect(a.shape).to.deep.equal(b.shape);
      expect(a.dtype).to.equal(b.dtype);
      expect(a.gradFn).to.equal(b.gradFn);
      // Object.is per element: NaN = NaN, -0 ≠ +0
      const same = (p: number[], q: number[]): boolean => p.length === q.length && p.every((v, i) => Object.is(v, q[i]));
      expect(same(a.out, b.out), `${name} output ${String(a.out)} vs ${String(b.out)}`).to.equal(true);
      a.grads.forEach((g, i) => expect(same(g, b.grads[i] as number[]), `${name} grad ${i}: ${String(g)} vs ${String(b.grads[i])}`).to.equal(true));
    });
  }
  it('the method\'s own errors pass through unchanged', () => {
    const x = gg.ones([2, 3]);
    expect(errorOf(() => gg.matmul(x, x))).to.equal(errorOf(() => x.matmul(x)));
    expect(errorOf(() => gg.sum(x, 5))).to.equal(errorOf(() => x.sum(5)));
    expect(errorOf(() => gg.var(x, 0, { bogus: 1 } as gg.VarOptions))).to.equal(errorOf(() => x.var(0, { bogus: 1 } as gg.VarOptions)));
  });
});

interface TopLevelFixture {
  torch: string;
  errors: Record<string, Record<'str' | 'int' | 'float' | 'None' | 'list', string | null>>;
  values: { name: string; inputs: ToolTensor[]; output: ToolTensor; gout: ToolTensor; grads: (ToolTensor | null)[]; dim?: number }[];
}
const golden = (): TopLevelFixture => fixture<TopLevelFixture>('torch_toplevel.json');

/** gpugrad's function for a torch name, and the arguments after the first that make_toplevel.py passes. */
const BY_TORCH_NAME: Record<string, [string, unknown[]]> = {
  log_softmax: ['logSoftmax', [0]],
  ...Object.fromEntries(['neg', 'exp', 'log', 'sqrt', 'rsqrt', 'reciprocal', 'square', 'abs', 'sign', 'floor', 'ceil', 'round', 'relu', 'sigmoid', 'tanh', 'clone', 'detach', 't', 'sum', 'mean', 'var', 'std', 'max', 'min', 'amax', 'argmax', 'argmin', 'squeeze', 'flatten'].map((n) => [n, [n, []]])),
  ...Object.fromEntries(['add', 'sub', 'mul', 'div', 'pow', 'eq', 'ne', 'lt', 'le', 'gt', 'ge'].map((n) => [n, [n, [2.5]]])),
  maximum: ['maximum', ['T']],
  minimum: ['minimum', ['T']],
  matmul: ['matmul', ['T']],
  mm: ['mm', ['T']],
  logsumexp: ['logsumexp', [0]],
  softmax: ['softmax', [0]],
  reshape: ['reshape', [[-1]]],
  permute: ['permute', [[0]]],
  transpose: ['transpose', [0, 0]],
  unsqueeze: ['unsqueeze', [0]],
  narrow: ['narrow', [0, 0, 1]],
  clamp: ['clamp', [-0.5, 0.5]],
};
const BAD: Record<string, unknown> = { str: 'a', int: 3, float: 2.5, None: null, list: [1.0, 2.0] };

describe('top-level functions: a first argument that is not a tensor gets PyTorch 1.13\'s message', () => {
  it('every function, for a str, an int, a float, None and a list (first line of the message)', () => {
    const errors = golden().errors;
    expect(Object.keys(errors).sort()).to.deep.equal(Object.keys(BY_TORCH_NAME).sort());
    for (const [torchName, byBad] of Object.entries(errors)) {
      const [name, rest] = BY_TORCH_NAME[torchName] as [string, unknown[]];
      const fn = (gg as unknown as Record<string, (...a: unknown[]) => unknown>)[name] as (...a: unknown[]) => unknown;
      const args = rest.map((a) => (a === 'T' ? gg.ones([1], { dtype: 'float64' }) : a));
      for (const [kind, message] of Object.entries(byBad)) {
        const got = errorOf(() => fn(BAD[kind], ...args));
        if (message === null) {
          // PyTorch takes a number first for add/sub/mul/div (a 0-d tensor); gpugrad asks for the
          // tensor first (README, "Porting from PyTorch"), with the message of a one-signature function
          expect(got, `${name}(${kind})`).to.equal(`${torchName}(): argument 'input' (position 1) must be Tensor, not ${kind}`);
        } else {
          expect(got.split('\n')[0], `${name}(${kind})`).to.equal(message);
        }
      }
    }
  });
  it('the error is a TypeError and nothing runs', () => {
    let thrown: unknown = null;
    const before = gg.memory().liveBuffers;
    try {
      (gg.softmax as unknown as (...a: unknown[]) => unknown)(1, 0);
    } catch (e) {
      thrown = e;
    }
    expect(thrown).to.be.instanceOf(TypeError);
    expect(gg.memory().liveBuffers).to.equal(before);
  });
});

describe('top-level functions: values and gradients against torch.<fn> (float64)', () => {
  const CALLS: Record<string, (xs: gg.Tensor[]) => gg.Tensor> = {
    exp: ([x]) => gg.exp(x!),
    maximum: ([x, y]) => gg.maximum(x!, y!),
    minimum: ([x, y]) => gg.minimum(x!, y!),
    matmul: ([x, y]) => gg.matmul(x!, y!),
    sum_dim: ([x]) => gg.sum(x!, 1),
    softmax: ([x]) => gg.softmax(x!, 1),
    log_softmax: ([x]) => gg.logSoftmax(x!, 0),
    max_all: ([x]) => gg.max(x!),
    max_dim: ([x]) => gg.max(x!, 1),
    max_other: ([x, y]) => gg.max(x!, y!),
    min_other: ([x, y]) => gg.min(x!, y!),
    clamp: ([x]) => gg.clamp(x!, -1, 1),
    var_dim: ([x]) => gg.var(x!, 1),
    transpose: ([x]) => gg.transpose(x!, 0, 1),
    pow_scalar: ([x]) => gg.pow(x!, 2),
    sub_alpha: ([x, y]) => gg.sub(x!, y!, { alpha: 2 }),
  };
  for (const c of golden().values) {
    it(c.name, async () => {
      const call = CALLS[c.name];
      expect(call, `no call for ${c.name}`).to.be.a('function');
      const xs = c.inputs.map((t) => gg.tensor(nums(t), { shape: t.shape, dtype: 'float64', requiresGrad: true }));
      const out = call!(xs);
      expect([...out.shape]).to.deep.equal(c.output.shape);
      const got = [...(await out.data())];
      expectClose(got, nums(c.output), F64, `${c.name} output`);
      // the sign of zero too (maximum/minimum of ±0: the first operand, as PyTorch's scalar loop)
      nums(c.output).forEach((v, i) => {
        if (v === 0) expect(Object.is(got[i], v), `${c.name} output[${i}] sign`).to.equal(true);
      });
      out.backward(gg.tensor(nums(c.gout), { shape: c.gout.shape, dtype: 'float64' }));
      for (const [i, g] of c.grads.entries()) {
        if (g) expectClose([...(await xs[i]!.grad!.data())], nums(g), F64, `${c.name} grad ${i}`);
      }
    });
  }
});
