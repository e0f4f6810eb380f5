/**
 * BatchNorm's backward written by hand as a custom `autograd.Function`,
 * the closed form per channel with x̂ = (x − μ)·invstd and m = N·H·W:
 *
 *   dx = γ·invstd/m · (m·g − Σg − x̂·Σ(g·x̂)),  dγ = Σ g·x̂,  dβ = Σ g
 *
 * gradchecked in float64, then compared with the gradients that autograd
 * derives for the built-in `gg.nn.BatchNorm2d`.
 *
 * @module
 */
import * as gg from '../../src/index.js';
import { allclose, maxAbsDiff } from '../lib/cli.js';

const DIMS = [0, 2, 3];

/** Training-mode batch norm over (N, H, W) with a hand-written backward. */
export class BatchNormFunction extends gg.autograd.Function {
  static override forward(ctx: gg.autograd.FunctionCtx, x: gg.Tensor, gamma: gg.Tensor, beta: gg.Tensor, eps: number): gg.Tensor {
    const c = x.shape[1] as number;
    const mean = x.mean(DIMS, true);
    const invstd = x.var(DIMS, { unbiased: false, keepdim: true }).add(eps).rsqrt();
    const xhat = x.sub(mean).mul(invstd);
    ctx.saveForBackward(xhat, invstd, gamma);
    return xhat.mul(gamma.reshape(1, c, 1, 1)).add(beta.reshape(1, c, 1, 1));
  }

  static override backward(ctx: gg.autograd.FunctionCtx, g: gg.Tensor): (gg.Tensor | null)[] {
    const [xhat, invstd, gamma] = ctx.savedTensors as [gg.Tensor, gg.Tensor, gg.Tensor];
    const c = g.shape[1] as number;
    const m = g.numel() / c;
    const sumG = g.sum(DIMS, true);
    const sumGX = g.mul(xhat).sum(DIMS, true);
    const dx = gamma
      .reshape(1, c, 1, 1)
      .mul(invstd)
      .div(m)
      .mul(g.mul(m).sub(sumG).sub(xhat.mul(sumGX)));
    return [dx, sumGX.reshape(c), sumG.reshape(c), null];
  }
}

/** What {@link checkManualBackward} found. */
export interface ManualBackwardResult {
  gradcheck: boolean;
  /** Max |hand-written − built-in| per gradient. */
  vsBuiltin: { what: string; maxAbsDiff: number; allclose: boolean }[];
}

/** gradcheck the Function (float64, cpu) and compare with nn.BatchNorm2d's autograd gradients. */
export async function checkManualBackward(): Promise<ManualBackwardResult> {
  const f = { dtype: 'float64' as const };
  gg.manualSeed(5);
  const x = gg.randn([3, 2, 3, 3], f).mul(2).add(1).requiresGrad_();
  const gamma = gg.rand([2], f).add(0.5).requiresGrad_();
  const beta = gg.randn([2], f).requiresGrad_();
  const fn = (a: gg.Tensor, g: gg.Tensor, b: gg.Tensor) => BatchNormFunction.apply(a, g, b, 1e-5);
  const ok = await gg.autograd.gradcheck(fn as (...t: gg.Tensor[]) => gg.Tensor, [x, gamma, beta]);

  const bn = new gg.nn.BatchNorm2d(2, f);
  gg.noGrad(() => {
    bn.weight!.assign(gamma.detach().clone());
    bn.bias!.assign(beta.detach().clone());
  });
  const r = gg.randn([3, 2, 3, 3], f);
  const [hx, hg, hb] = gg.autograd.grad([fn(x, gamma, beta).mul(r).sum()], [x, gamma, beta]);
  const [bx, bg, bb] = gg.autograd.grad([bn.call(x).mul(r).sum()], [x, bn.weight!, bn.bias!]);
  const vsBuiltin: ManualBackwardResult['vsBuiltin'] = [];
  for (const [what, a, b] of [
    ['dx', hx, bx],
    ['dγ', hg, bg],
    ['dβ', hb, bb],
  ] as const) {
    const av = await a!.data();
    const bv = await b!.data();
    vsBuiltin.push({ what, maxAbsDiff: maxAbsDiff(av, bv), allclose: allclose(av, bv, 1e-7, 1e-10) });
  }
  return { gradcheck: ok, vsBuiltin };
}
