/**
 * PyTorch goldens (test/fixtures/torch_ops.json): every case's output and
 * input gradients (backward with the fixture's gout), in float64 on the cpu
 * reference to 1e-10, and in float32 on every other device present.
 */
import { expect } from 'chai';
import * as gg from '../../src/index.js';
import { expectClose, F32, F64, fixture, type Tol } from '../helpers/compare.js';
import { forEachDevice } from '../helpers/devices.js';

interface T {
  shape: number[];
  data: number[];
}
interface Case {
  name: string;
  op: string;
  inputs: T[];
  kwargs: Record<string, unknown>;
  output: T;
  gout: T;
  grads: (T | null)[];
}

const cases = fixture<Case[]>('torch_ops.json');

const num = (v: unknown): number => {
  if (typeof v !== 'number') throw new Error(`expected a number, got ${JSON.stringify(v)}`);
  return v;
};
const dims = (v: unknown): number | number[] | null => {
  if (v === null || v === undefined) return null;
  if (typeof v === 'number') return v;
  if (Array.isArray(v) && v.every((x) => typeof x === 'number')) return v as number[];
  throw new Error(`expected dims, got ${JSON.stringify(v)}`);
};
const shape = (v: unknown): number[] => {
  if (Array.isArray(v) && v.every((x) => typeof x === 'number')) return v as number[];
  throw new Error(`expected a shape, got ${JSON.stringify(v)}`);
};
const optNum = (v: unknown): number | null => (v === null || v === undefined ? null : num(v));

/** Map a fixture's op and kwargs to the public API. */
export function runOp(op: string, xs: gg.Tensor[], kw: Record<string, unknown>): gg.Tensor {
  const [a, b, c] = xs as [gg.Tensor, gg.Tensor, gg.Tensor];
  switch (op) {
    case 'neg':
    case 'exp':
    case 'log':
    case 'sqrt':
    case 'abs':
    case 'relu':
    case 'sigmoid':
    case 'tanh':
      return a[op]();
    case 'clamp':
      return a.clamp(optNum(kw['min']), optNum(kw['max']));
    case 'add':
    case 'sub':
    case 'mul':
    case 'div':
      return a[op]('other' in kw ? num(kw['other']) : b);
    case 'pow':
      return a.pow('exponent' in kw ? num(kw['exponent']) : b);
    case 'maximum':
    case 'minimum':
    case 'matmul':
      return a[op](b);
    case 'where':
      return gg.where(a, b, c);
    case 'sum':
    case 'mean':
    case 'max':
      return a[op](dims(kw['dim']), kw['keepdim'] === true);
    case 'var':
      return a.var(dims(kw['dim']), { unbiased: kw['unbiased'] === true, keepdim: kw['keepdim'] === true });
    case 'softmax':
    case 'logSoftmax':
      return a[op](num(kw['dim']));
    case 'reshape':
      return a.reshape(shape(kw['shape']));
    case 'expand':
      return a.expand(shape(kw['shape']));
    case 'permute':
      return a.permute(shape(kw['dims']));
    case 'transpose':
      return a.transpose(num(kw['dim0']), num(kw['dim1']));
    case 'narrow':
      return a.narrow(num(kw['dim']), num(kw['start']), num(kw['length']));
    case 'squeeze':
      return kw['dim'] === null ? a.squeeze() : a.squeeze(num(kw['dim']));
    case 'unsqueeze':
      return a.unsqueeze(num(kw['dim']));
    case 'flatten':
      return a.flatten(num(kw['startDim']), num(kw['endDim']));
    case 'cat':
      return gg.cat(xs, num(kw['dim']));
    case 'stack':
      return gg.stack(xs, num(kw['dim']));
    default:
      throw new Error(`golden test: no mapping for fixture op '${op}' (add it to runOp in test/tensor/golden.test.ts)`);
  }
}

/** Per-case float32 tolerance: ops whose float32 rounding is amplified get a wider one. */
function f32Tol(c: Case): Tol {
  if (c.op === 'pow' || c.op === 'var') return { rtol: 5e-4, atol: 5e-5 };
  return F32;
}

async function check(c: Case, device: string, dtype: gg.DType, tol: Tol): Promise<void> {
  const inputs = c.inputs.map((t, i) =>
    gg.tensor(t.data, { shape: t.shape, dtype, device, requiresGrad: c.grads[i] !== null }),
  );
  const out = runOp(c.op, inputs, c.kwargs);
  expect(out.shape, `${c.name}: output shape`).to.deep.equal(c.output.shape);
  expect(out.dtype).to.equal(dtype);
  expect(out.device).to.equal(device);
  expectClose(await out.data(), c.output.data, tol, `${c.name} output`);
  const gout = gg.tensor(c.gout.data, { shape: c.gout.shape, dtype, device });
  out.backward(gout);
  for (const [i, want] of c.grads.entries()) {
    const x = inputs[i] as gg.Tensor;
    if (want === null) {
      expect(x.grad, `${c.name}: input ${i} needs no grad`).to.equal(null);
      continue;
    }
    expect(x.grad, `${c.name}: grad of input ${i}`).to.not.equal(null);
    const g = x.grad as gg.Tensor;
    expect(g.shape, `${c.name}: grad ${i} shape`).to.deep.equal(want.shape);
    expect(g.dtype).to.equal(dtype);
    expectClose(await g.data(), want.data, tol, `${c.name} grad of input ${i}`);
  }
  for (const t of [...inputs, out, gout]) {
    t.grad?.dispose();
    t.dispose();
  }
}

describe('PyTorch goldens (torch_ops.json)', function () {
  it('fixture file holds the cases', () => {
    expect(cases.length).to.be.greaterThan(90);
  });

  forEachDevice((device) => {
    const cpu = device === 'cpu';
    for (const c of cases) {
      it(`${c.name} (${cpu ? 'float64' : 'float32'})`, async function () {
        await check(c, device, cpu ? 'float64' : 'float32', cpu ? F64 : f32Tol(c));
      });
    }
    if (cpu) {
      // float32 on the reference too: the same formulas at the precision gpu.js runs at
      for (const c of cases) {
        it(`${c.name} (float32)`, async function () {
          await check(c, device, 'float32', f32Tol(c));
        });
      }
    }
  });
});
