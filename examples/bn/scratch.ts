/**
 * BatchNorm2d from scratch with gpugrad ops (mean, biased var for the
 * normalisation, unbiased var for the running buffer), and its comparison
 * with the built-in `gg.nn.BatchNorm2d`: training outputs, running
 * statistics, eval outputs and gradients must all be allclose.
 *
 * @module
 */
import * as gg from '../../src/index.js';
import { allclose, maxAbsDiff } from '../lib/cli.js';

/** BatchNorm2d in ~30 lines of tensor ops (PyTorch conventions, momentum 0.1). */
export class ScratchBatchNorm2d extends gg.nn.Module {
  declare weight: gg.Tensor;
  declare bias: gg.Tensor;
  declare running_mean: gg.Tensor;
  declare running_var: gg.Tensor;
  readonly eps: number;
  readonly momentum: number;

  constructor(readonly numFeatures: number, opts: { eps?: number; momentum?: number; dtype?: gg.DType; device?: string } = {}) {
    super();
    this.eps = opts.eps ?? 1e-5;
    this.momentum = opts.momentum ?? 0.1;
    const f = { dtype: opts.dtype ?? 'float32', device: opts.device ?? 'cpu' };
    this.registerParameter('weight', gg.ones([numFeatures], f));
    this.registerParameter('bias', gg.zeros([numFeatures], f));
    this.registerBuffer('running_mean', gg.zeros([numFeatures], f));
    this.registerBuffer('running_var', gg.ones([numFeatures], f));
  }

  override forward(x: gg.Tensor): gg.Tensor {
    const c = this.numFeatures;
    let mean: gg.Tensor;
    let variance: gg.Tensor;
    if (this.training) {
      mean = x.mean([0, 2, 3], true);
      variance = x.var([0, 2, 3], { unbiased: false, keepdim: true });
      const m = x.numel() / c;
      const f = this.momentum;
      const oldMean = this.running_mean;
      const oldVar = this.running_var;
      // the running buffers are replaced (not recorded by autograd); the slot setter keeps them out of tidy
      gg.noGrad(() => {
        this.running_mean = oldMean.mul(1 - f).add(mean.reshape(c).mul(f));
        this.running_var = oldVar.mul(1 - f).add(variance.reshape(c).mul((f * m) / (m - 1)));
      });
      oldMean.dispose();
      oldVar.dispose();
    } else {
      mean = this.running_mean.reshape(1, c, 1, 1);
      variance = this.running_var.reshape(1, c, 1, 1);
    }
    const xhat = x.sub(mean).div(variance.add(this.eps).sqrt());
    return xhat.mul(this.weight.reshape(1, c, 1, 1)).add(this.bias.reshape(1, c, 1, 1));
  }
}

/** One comparison line. */
export interface Comparison {
  what: string;
  maxAbsDiff: number;
  allclose: boolean;
}

/**
 * Run both layers on the same inputs (three training batches, then eval) and
 * compare everything. `dtype` float64 on cpu gives differences near 1e-15.
 */
export async function compareWithBuiltin(opts: { dtype?: gg.DType; device?: string; rtol?: number; atol?: number } = {}): Promise<Comparison[]> {
  const dtype = opts.dtype ?? 'float64';
  const device = opts.device ?? 'cpu';
  const rtol = opts.rtol ?? (dtype === 'float64' ? 1e-7 : 1e-4);
  const atol = opts.atol ?? (dtype === 'float64' ? 1e-10 : 1e-5);
  const f = { dtype, device };
  gg.manualSeed(3);
  const c = 4;
  const scratch = new ScratchBatchNorm2d(c, f);
  const builtin = new gg.nn.BatchNorm2d(c, f);
  const w = gg.rand([c], f).add(0.5);
  const b = gg.randn([c], f);
  for (const m of [scratch, builtin] as { weight: gg.Tensor; bias: gg.Tensor }[]) {
    gg.noGrad(() => {
      m.weight.assign(w.clone());
      m.bias.assign(b.clone());
    });
  }
  const out: Comparison[] = [];
  const cmp = async (what: string, a: gg.Tensor | null, e: gg.Tensor | null) => {
    if (!a || !e) throw new Error(`${what}: missing tensor`);
    const x = await a.data();
    const y = await e.data();
    out.push({ what, maxAbsDiff: maxAbsDiff(x, y), allclose: allclose(x, y, rtol, atol) });
  };
  for (let step = 1; step <= 3; step++) {
    const x = gg.randn([8, c, 5, 5], f).mul(step).add(step - 2).requiresGrad_();
    const r = gg.randn([8, c, 5, 5], f);
    const ys = scratch.call(x);
    const yb = builtin.call(x);
    await cmp(`train output, batch ${step}`, ys, yb);
    const [gxs, gws, gbs] = gg.autograd.grad([ys.mul(r).sum()], [x, scratch.weight, scratch.bias]);
    const [gxb, gwb, gbb] = gg.autograd.grad([yb.mul(r).sum()], [x, builtin.weight!, builtin.bias!]);
    await cmp(`grad input, batch ${step}`, gxs ?? null, gxb ?? null);
    await cmp(`grad weight, batch ${step}`, gws ?? null, gwb ?? null);
    await cmp(`grad bias, batch ${step}`, gbs ?? null, gbb ?? null);
  }
  await cmp('running_mean after 3 batches', scratch.running_mean, builtin.runningMean);
  await cmp('running_var after 3 batches', scratch.running_var, builtin.runningVar);
  scratch.eval();
  builtin.eval();
  const xe = gg.randn([6, c, 3, 3], f);
  await cmp('eval output', scratch.call(xe), builtin.call(xe));
  return out;
}
