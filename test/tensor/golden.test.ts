/**
 * PyTorch goldens (test/fixtures/torch_ops.json): every case's output and
 * input gradients (backward with the fixture's gout), in float64 on the cpu
 * reference to 1e-10, and in float32 on every other device present.
 */
import { expect } from 'chai';
import * as gg from '../../src/index.js';
import { expectClose, F32, F64, fixture, type Tol } from '../helpers/compare.js';
import { forEachDevice } from '../helpers/devices.js';
import { runOp } from '../helpers/run-op.js';

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
