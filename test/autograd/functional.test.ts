/**
 * gg.autograd.functional against PyTorch 1.13 goldens
 * (test/fixtures/torch_functional.json, written by make_functional.py): every
 * transform on one- and two-input functions, results mirroring inputs and
 * outputs, `createGraph`, and PyTorch's messages for misuse and strict mode.
 * Then jacobian and hessian against finite differences in float64.
 */
import { expect } from 'chai';
import * as gg from '../../src/index.js';
import { expectGolden, fixture, goldenTensor, type Golden } from '../helpers/compare.js';

const F = gg.autograd.functional;
type Fn = (...xs: gg.Tensor[]) => gg.Tensor | gg.Tensor[];
const f64 = { dtype: 'float64' as const };

/** The functions of make_functional.py, by the same names. */
export const FNS: Record<string, Fn> = {
  exp_reducer: (x) => x.exp().sum(1),
  adder: (x, y) => x.mul(2).add(y!.mul(3)),
  two_out: (x, y) => [x.matmul(y!).tanh(), y!.mul(x.exp().sum()).sigmoid()],
  pow_reducer: (x) => x.pow(3).sum(),
  scalar1: (x) => x.tanh().pow(2).sum().add(x.exp().sum().log()),
  scalar2: (x, y) => x.matmul(y!).tanh().sum().add(x.pow(2).sum().mul(y!.exp().sum()).log()),
  ignores_y: (x) => x.exp().sum(),
  linear: (x) => x.mul(2).sum(),
  const: () => gg.ones([2], f64),
  square: (x) => x.mul(x),
};

type Nested = Golden | Nested[];
interface Case {
  name: string;
  transform: 'jacobian' | 'hessian' | 'vjp' | 'jvp' | 'hvp' | 'vhp';
  fn: string;
  inputs: Golden[];
  tupleInputs: boolean;
  options: { createGraph?: boolean; strict?: boolean; strategy?: 'forward-mode' };
  v?: Nested;
  tupleV?: boolean;
  output?: Nested;
  result: Nested;
  gradOfSum?: Golden[];
}
interface ErrorCase extends Omit<Case, 'v' | 'result'> {
  v?: { tuple: boolean; shapes: number[][] };
  message: string;
}
const doc = fixture<{ functional: Case[]; errors: ErrorCase[] }>('torch_functional.json');

const isGolden = (n: Nested): n is Golden => !Array.isArray(n);

/** Compare a result (a Tensor or nested arrays of them) with its golden, structure included. */
function expectNested(actual: unknown, golden: Nested, label: string, tol = 1e-10): void {
  if (isGolden(golden)) {
    expectGolden(actual as gg.Tensor | null, golden, label, tol);
    return;
  }
  expect(actual, `${label}: an array`).to.be.an('array');
  const arr = actual as unknown[];
  expect(arr.length, `${label}: length`).to.equal(golden.length);
  golden.forEach((g, i) => expectNested(arr[i], g, `${label}[${i}]`, tol));
}

function flatTensors(x: unknown): gg.Tensor[] {
  return x instanceof gg.Tensor ? [x] : (x as unknown[]).flatMap(flatTensors);
}

function toTensors(n: Nested): gg.Tensor | gg.Tensor[] {
  return isGolden(n) ? goldenTensor(n) : n.map((g) => toTensors(g) as gg.Tensor);
}

function call(c: Pick<Case, 'transform' | 'fn' | 'options'>, inputs: gg.Tensor | gg.Tensor[], v: gg.Tensor | gg.Tensor[] | undefined): unknown {
  const fn = FNS[c.fn] as Fn;
  switch (c.transform) {
    case 'jacobian':
      return F.jacobian(fn, inputs, c.options);
    case 'hessian':
      return F.hessian(fn as (...xs: gg.Tensor[]) => gg.Tensor, inputs, c.options);
    default:
      return (F[c.transform] as (f: Fn, i: gg.Tensor | gg.Tensor[], v: unknown, o: unknown) => unknown)(fn, inputs, v, c.options);
  }
}

describe('autograd.functional: PyTorch goldens (float64, cpu)', function () {
  this.timeout(60_000);

  it('has cases for all six transforms', () => {
    expect(new Set(doc.functional.map((c) => c.transform))).to.deep.equal(new Set(['jacobian', 'hessian', 'vjp', 'jvp', 'hvp', 'vhp']));
  });

  for (const c of doc.functional) {
    it(c.name, () => {
      const createGraph = c.options.createGraph ?? false;
      const xs = c.inputs.map((g) => goldenTensor(g, { ...f64, requiresGrad: createGraph }));
      const inputs = c.tupleInputs ? xs : (xs[0] as gg.Tensor);
      const v = c.v === undefined ? undefined : toTensors(c.v);
      const res = call(c, inputs, v);
      let result: unknown = res;
      if (c.output) {
        expect(res, 'returns [outputs, result]').to.be.an('array').with.length(2);
        const [out, r] = res as [unknown, unknown];
        expectNested(out, c.output, 'output');
        result = r;
      }
      expectNested(result, c.result, 'result');
      const tensors = flatTensors(result);
      expect(tensors.every((t) => t.requiresGrad === createGraph), `results ${createGraph ? 'keep' : 'have no'} graph`).to.equal(true);
      if (c.gradOfSum) {
        // the created graph reaches the caller's inputs: d Σ(results) / d inputs as PyTorch's
        const total = tensors.map((t) => t.sum()).reduce((a, b) => a.add(b));
        const gs = gg.autograd.grad(total, xs, { allowUnused: true });
        c.gradOfSum.forEach((g, i) => expectNested(gs[i] ?? gg.zerosLike(xs[i] as gg.Tensor), g, `gradOfSum[${i}]`, 1e-9));
      }
    });
  }

  describe("PyTorch's errors", () => {
    for (const c of doc.errors) {
      it(c.name, () => {
        const xs = c.inputs.map((g) => goldenTensor(g));
        const inputs = c.tupleInputs ? xs : (xs[0] as gg.Tensor);
        let v: gg.Tensor | gg.Tensor[] | undefined;
        if (c.v) {
          const vs = c.v.shapes.map((s) => gg.randn(s, f64));
          v = c.v.tuple ? vs : vs[0];
        }
        expect(() => call(c, inputs, v)).to.throw(c.message);
        // exactly the message, not a longer one
        try {
          call(c, inputs, v);
        } catch (e) {
          expect((e as Error).message).to.equal(c.message);
        }
      });
    }
  });

  it('inputs that are not Tensors: TypeError naming the index', () => {
    expect(() => F.jacobian(FNS['adder'] as Fn, [gg.ones([2]), 3 as unknown as gg.Tensor])).to.throw(
      TypeError,
      'The inputs given to jacobian must be either a Tensor or a tuple of Tensors but the value at index 1 has type number.',
    );
    expect(() => F.vjp(() => 1 as unknown as gg.Tensor, gg.ones([2]))).to.throw(
      TypeError,
      'The outputs of the user-provided function given to vjp must be either a Tensor or a tuple of Tensors but the given outputs of the user-provided function has type number.',
    );
  });

  it('does not touch the caller inputs: no grad accumulates, no graph is recorded on them', () => {
    const x = gg.tensor([0.5, -1], { ...f64, requiresGrad: true });
    F.hessian((t) => t.pow(3).sum(), x);
    F.vjp((t) => t.exp(), x, gg.ones([2], f64));
    expect(x.grad).to.equal(null);
    expect(F.jacobian((t) => t.exp(), x).requiresGrad).to.equal(false);
  });
});

/** Central differences of `fn`'s output `o` with respect to input `j`, as a [...out, ...in] array. */
function numericalJacobian(fn: (...xs: gg.Tensor[]) => gg.Tensor[], xs: gg.Tensor[], o: number, j: number, eps = 1e-6): { shape: number[]; data: number[] } {
  const x = xs[j] as gg.Tensor;
  const base = Array.from(x.dataSync());
  const cols: number[][] = [];
  for (let k = 0; k < base.length; k++) {
    const at = (delta: number): number[] => {
      const moved = base.slice();
      moved[k] = (moved[k] as number) + delta;
      const args = xs.map((y, m) => (m === j ? gg.tensor(moved, { ...f64, shape: x.shape }) : y));
      return Array.from((fn(...args)[o] as gg.Tensor).dataSync());
    };
    const p = at(eps);
    const q = at(-eps);
    cols.push(p.map((v, m) => (v - (q[m] as number)) / (2 * eps)));
  }
  const out = fn(...xs)[o] as gg.Tensor;
  const data: number[] = [];
  for (let m = 0; m < out.numel(); m++) for (let k = 0; k < base.length; k++) data.push((cols[k] as number[])[m] as number);
  return { shape: [...out.shape, ...x.shape], data };
}

describe('autograd.functional against finite differences (float64)', function () {
  this.timeout(60_000);
  beforeEach(() => gg.manualSeed(7));
  const asList = (f: Fn) => (...xs: gg.Tensor[]): gg.Tensor[] => {
    const r = f(...xs);
    return Array.isArray(r) ? r : [r];
  };

  for (const strategy of ['reverse-mode', 'forward-mode'] as const) {
    it(`jacobian of a two-input, two-output function (${strategy})`, () => {
      const xs = [gg.randn([2, 3], f64).mul(0.5), gg.randn([3, 2], f64).mul(0.5)];
      const fn = FNS['two_out'] as Fn;
      const J = F.jacobian(fn as (...a: gg.Tensor[]) => gg.Tensor[], xs, { strategy });
      for (let o = 0; o < 2; o++) {
        for (let j = 0; j < 2; j++) expectNested((J[o] as gg.Tensor[])[j], numericalJacobian(asList(fn), xs, o, j), `J[${o}][${j}]`, 1e-7);
      }
    });
  }

  it('hessian of a two-input scalar function: the Jacobian of the gradient', () => {
    const xs = [gg.randn([2, 3], f64).mul(0.5), gg.randn([3, 2], f64).mul(0.5)];
    const fn = FNS['scalar2'] as (...a: gg.Tensor[]) => gg.Tensor;
    const H = F.hessian(fn, xs);
    const gradient = (...a: gg.Tensor[]): gg.Tensor[] => F.vjp(fn, a)[1];
    for (let i = 0; i < 2; i++) {
      for (let j = 0; j < 2; j++) expectNested((H[i] as gg.Tensor[])[j], numericalJacobian(gradient, xs, i, j), `H[${i}][${j}]`, 1e-7);
    }
  });

  it('hvp, vhp and jvp agree with the hessian and jacobian they contract', () => {
    const x = gg.randn([2, 3], f64);
    const v = gg.randn([2, 3], f64);
    const fn = FNS['scalar1'] as (t: gg.Tensor) => gg.Tensor;
    const H = F.hessian(fn, x).reshape(6, 6);
    const Hv = H.matmul(v.reshape(6)).reshape(2, 3);
    expectNested(F.hvp(fn, x, v)[1], { shape: [2, 3], data: Array.from(Hv.dataSync()) }, 'hvp');
    expectNested(F.vhp(fn, x, v)[1], { shape: [2, 3], data: Array.from(Hv.dataSync()) }, 'vhp (H symmetric)');
    const g = FNS['exp_reducer'] as (t: gg.Tensor) => gg.Tensor;
    const J = F.jacobian(g, x).reshape(2, 6);
    expectNested(F.jvp(g, x, v)[1], { shape: [2], data: Array.from(J.matmul(v.reshape(6)).dataSync()) }, 'jvp');
  });
});
