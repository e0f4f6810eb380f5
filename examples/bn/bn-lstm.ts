/**
 * An LSTM cell with batch-normalised gates, after Cooijmans et al.,
 * "Recurrent Batch Normalization" (2016):
 *
 *   (i, f, o, g) = BN(W_h·h) + BN(W_x·x) + b
 *   c' = σ(f)·c + σ(i)·tanh(g),   h' = σ(o)·tanh(BN(c'))
 *
 * with separate BatchNorm1d statistics per time step (as in the paper), γ
 * initialised to 0.1, and the recurrent and input terms normalised apart so
 * each can be scaled on its own. Trained on the adding problem: a sequence
 * of (value, marker) pairs, target = the sum of the two marked values.
 *
 * @module
 */
import * as gg from '../../src/index.js';
import { mulberry32 } from '../lib/rng.js';

/** The cell, unrolled over at most `steps` time steps. */
export class BnLstm extends gg.nn.Module {
  declare readonly wx: gg.nn.Linear;
  declare readonly wh: gg.nn.Linear;
  declare readonly bnx: gg.nn.ModuleList;
  declare readonly bnh: gg.nn.ModuleList;
  declare readonly bnc: gg.nn.ModuleList;
  declare readonly head: gg.nn.Linear;

  constructor(readonly inputSize: number, readonly hidden: number, readonly steps: number, readonly useBn: boolean, device = 'cpu') {
    super();
    this.registerModule('wx', new gg.nn.Linear(inputSize, 4 * hidden, { bias: true, device }));
    this.registerModule('wh', new gg.nn.Linear(hidden, 4 * hidden, { bias: false, device }));
    const bns = (n: number) =>
      new gg.nn.ModuleList(
        Array.from({ length: useBn ? steps : 0 }, () => {
          const bn = new gg.nn.BatchNorm1d(n, { device });
          gg.noGrad(() => bn.weight!.assign(gg.full([n], 0.1, { device })));
          return bn;
        }),
      );
    this.registerModule('bnx', bns(4 * hidden));
    this.registerModule('bnh', bns(4 * hidden));
    this.registerModule('bnc', bns(hidden));
    this.registerModule('head', new gg.nn.Linear(hidden, 1, { device }));
  }

  /** x: (N, T, inputSize) → prediction (N). */
  override forward(x: gg.Tensor): gg.Tensor {
    const [n, t] = x.shape as [number, number, number];
    const hd = this.hidden;
    const bnAt = (list: gg.nn.ModuleList, k: number, v: gg.Tensor) => (this.useBn ? ([...list][k] as gg.nn.Module).call(v) : v);
    let h = gg.zeros([n, hd], { device: x.device });
    let c = gg.zeros([n, hd], { device: x.device });
    for (let k = 0; k < t; k++) {
      const xk = x.narrow(1, k, 1).reshape(n, this.inputSize);
      const gates = bnAt(this.bnx, k, this.wx.call(xk)).add(k === 0 && this.useBn ? 0 : bnAt(this.bnh, k, this.wh.call(h)));
      const i = gates.narrow(1, 0, hd).sigmoid();
      const f = gates.narrow(1, hd, hd).sigmoid();
      const o = gates.narrow(1, 2 * hd, hd).sigmoid();
      const g = gates.narrow(1, 3 * hd, hd).tanh();
      c = f.mul(c).add(i.mul(g));
      h = o.mul(bnAt(this.bnc, k, c).tanh());
    }
    return this.head.call(h).reshape(n);
  }
}

/** A batch of the adding problem: x (N, T, 2), y (N). */
export function addingBatch(n: number, t: number, rand: () => number, device: string): { x: gg.Tensor; y: gg.Tensor } {
  const x = new Float32Array(n * t * 2);
  const y = new Float32Array(n);
  for (let s = 0; s < n; s++) {
    const a = Math.floor(rand() * (t / 2));
    const b = Math.floor(t / 2 + rand() * (t / 2));
    for (let k = 0; k < t; k++) {
      const v = rand();
      x[(s * t + k) * 2] = v;
      const marked = k === a || k === b;
      x[(s * t + k) * 2 + 1] = marked ? 1 : 0;
      if (marked) y[s] = (y[s] as number) + v;
    }
  }
  return { x: gg.tensor(x, { shape: [n, t, 2], device }), y: gg.tensor(y, { shape: [n], device }) };
}

/** Train on the adding problem; returns the loss per step (MSE; predicting 1 always gives ≈ 0.167). */
export async function trainAdding(o: { useBn: boolean; steps: number; seqLen: number; hidden: number; batch: number; device: string; seed?: number }): Promise<{ losses: number[]; ms: number }> {
  const t0 = performance.now();
  gg.manualSeed(o.seed ?? 0);
  const model = new BnLstm(2, o.hidden, o.seqLen, o.useBn, o.device);
  const opt = new gg.optim.Adam(model.parameters(), { lr: 1e-2 });
  const rand = mulberry32((o.seed ?? 0) + 3);
  const losses: number[] = [];
  for (let s = 0; s < o.steps; s++) {
    const loss = gg.tidy(() => {
      const { x, y } = addingBatch(o.batch, o.seqLen, rand, o.device);
      opt.zeroGrad();
      const l = model.call(x).sub(y).square().mean();
      l.backward();
      opt.step();
      return l;
    });
    losses.push(await loss.item());
    loss.dispose();
  }
  return { losses, ms: performance.now() - t0 };
}
