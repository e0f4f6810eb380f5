/**
 * Three views of what BatchNorm does to training, after the notebooks behind
 * this example:
 *
 * - the loss landscape along the gradient, after Santurkar, Tsipras, Ilyas
 *   and Madry 2018, "How Does Batch Normalization Help Optimization?"
 *   (§3.1, Fig. 4): at a training step with weights w, loss L and gradient
 *   g on the current batch, step to w − η·g for several η and measure the
 *   loss there (its spread: "loss landscape"), the change of the gradient
 *   ‖∇L(w − η·g) − g‖ ("gradient predictiveness") and the largest
 *   ‖∇L(w − η·g) − g‖ / ‖η·g‖ ("effective β-smoothness");
 * - per-layer activation statistics over training (forward hooks on the
 *   input of each ReLU and on the logits): mean, std and the 15th, 50th and
 *   85th percentiles, the picture Ioffe and Szegedy 2015 (Fig. 1) draw of
 *   internal covariate shift;
 * - histograms of the learned weights of each Linear layer.
 *
 * @module
 */
import * as gg from '../../src/index.js';

/** What one probe along the gradient measured. */
export interface LandscapePoint {
  /** Training step (before its update). */
  step: number;
  /** L(w) on the batch. */
  loss: number;
  /** ‖g‖, the gradient at w over every parameter. */
  gradNorm: number;
  /** L(w − η·g), one per step size. */
  losses: number[];
  /** ‖∇L(w − η·g) − g‖, one per step size. */
  gradChange: number[];
  /** max over η of ‖∇L(w − η·g) − g‖ / ‖η·g‖. */
  beta: number;
}

function clearGrads(params: gg.Tensor[]): void {
  for (const p of params) {
    p.grad?.dispose();
    p.grad = null;
  }
}

/**
 * Probe the landscape at the model's current weights on one batch (train
 * mode: BatchNorm uses the batch's statistics, as in training). Every
 * parameter, buffer (running statistics) and gradient is as before when it
 * returns: the probes are not training steps.
 *
 * @param etas the step sizes η (e.g. 0.5 to 4 times the learning rate)
 */
export async function probeLandscape(
  model: gg.nn.Module,
  lossFn: (out: gg.Tensor) => gg.Tensor,
  x: gg.Tensor,
  etas: number[],
  step: number,
): Promise<LandscapePoint> {
  const named = [...model.namedParameters()];
  const params = named.map(([, p]) => p);
  // the whole state (weights and running statistics), copied: a train-mode forward updates the running statistics
  const saved = Object.fromEntries(Object.entries(model.stateDict()).map(([k, v]) => [k, gg.keep(v.clone())]));
  const gradAt = (): { loss: gg.Tensor; grads: gg.Tensor[] } => {
    clearGrads(params);
    const l = lossFn(model.call(x));
    l.backward();
    const grads = params.map((p) => gg.keep(p.grad!.clone()));
    clearGrads(params);
    return { loss: gg.keep(l.detach().clone()), grads };
  };
  const at0 = gg.tidy(() => gradAt());
  const norm = (ts: gg.Tensor[]) => ts.map((t) => t.square().sum()).reduce((a, b) => a.add(b)).sqrt();
  const g0norm = await gg.tidy(() => norm(at0.grads)).item();
  const losses: number[] = [];
  const gradChange: number[] = [];
  let beta = 0;
  for (const eta of etas) {
    model.loadStateDict(saved);
    const moved = gg.tidy(() => gg.noGrad(() => Object.fromEntries(named.map(([k, p], i) => [k, gg.keep(p.detach().sub(at0.grads[i]!.mul(eta)))]))));
    model.loadStateDict(moved, { strict: false });
    for (const t of Object.values(moved)) t.dispose();
    const at = gg.tidy(() => gradAt());
    losses.push(await at.loss.item());
    const change = await gg.tidy(() => norm(at.grads.map((g, i) => g.sub(at0.grads[i]!)))).item();
    gradChange.push(change);
    beta = Math.max(beta, change / (eta * g0norm));
    at.loss.dispose();
    for (const g of at.grads) g.dispose();
  }
  model.loadStateDict(saved);
  for (const t of Object.values(saved)) t.dispose();
  const loss = await at0.loss.item();
  at0.loss.dispose();
  for (const g of at0.grads) g.dispose();
  return { step, loss, gradNorm: g0norm, losses, gradChange, beta };
}

/** Activation statistics of one layer, one value per recorded step. */
export interface ActivationStats {
  mean: number[];
  std: number[];
  p15: number[];
  p50: number[];
  p85: number[];
}

/** The `q`-quantile (0..1) of sorted values, linearly interpolated (numpy's default). */
export function quantile(sorted: ArrayLike<number>, q: number): number {
  const n = sorted.length;
  if (n === 0) return NaN;
  const pos = (n - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.min(n - 1, lo + 1);
  return (sorted[lo] as number) + ((sorted[hi] as number) - (sorted[lo] as number)) * (pos - lo);
}

/**
 * Records, on training forwards while `enabled`, the statistics of what each
 * nonlinearity receives (the input of every ReLU: BatchNorm's output when
 * there is BN, the Linear's output when not) and of the logits (the output of
 * the last Linear). Layers are named `hidden 1`, `hidden 2`, ..., `logits`,
 * the same with and without BN.
 */
export class ActivationMonitor {
  private pending: { name: string; t: gg.Tensor }[] = [];
  readonly stats = new Map<string, ActivationStats>();
  private handles: { remove(): void }[] = [];
  enabled = true;

  constructor(model: gg.nn.Module) {
    const mods = [...model.namedModules()].map(([, m]) => m);
    const last = mods.filter((m) => m instanceof gg.nn.Linear).at(-1);
    let k = 0;
    for (const m of mods) {
      const isRelu = m instanceof gg.nn.ReLU;
      if (!isRelu && m !== last) continue;
      const name = isRelu ? `hidden ${++k}` : 'logits';
      this.stats.set(name, { mean: [], std: [], p15: [], p50: [], p85: [] });
      this.handles.push(
        m.registerForwardHook((mod, inputs, output) => {
          if (!this.enabled || !mod.training) return;
          // a copy that outlives the training step's tidy, read after it
          this.pending.push({ name, t: gg.keep((isRelu ? inputs[0]! : output).detach().clone()) });
        }),
      );
    }
  }

  /** Read what the hooks recorded since the last flush. */
  async flush(): Promise<void> {
    const items = this.pending;
    this.pending = [];
    for (const { name, t } of items) {
      const v = Float64Array.from(await t.data());
      t.dispose();
      const s = this.stats.get(name)!;
      const m = v.reduce((a, b) => a + b, 0) / v.length;
      s.mean.push(m);
      s.std.push(Math.sqrt(v.reduce((a, b) => a + (b - m) * (b - m), 0) / Math.max(1, v.length - 1)));
      v.sort();
      s.p15.push(quantile(v, 0.15));
      s.p50.push(quantile(v, 0.5));
      s.p85.push(quantile(v, 0.85));
    }
  }

  remove(): void {
    for (const h of this.handles) h.remove();
  }
}

/** A histogram over shared bin edges. */
export interface Histogram {
  mean: number;
  std: number;
  min: number;
  max: number;
  /** Fraction of |w| below 0.01 (how many weights sit near zero). */
  nearZero: number;
  /** Counts per bin (bins of `edges`). */
  counts: number[];
}

/** Summary and counts of `values` over `edges` (bins + 1 increasing edges; values outside go to the end bins). */
export function histogram(values: ArrayLike<number>, edges: number[]): Histogram {
  const bins = edges.length - 1;
  const counts = new Array<number>(bins).fill(0);
  const lo = edges[0]!;
  const width = (edges[bins]! - lo) / bins;
  let sum = 0;
  let min = Infinity;
  let max = -Infinity;
  let near = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i] as number;
    sum += v;
    min = Math.min(min, v);
    max = Math.max(max, v);
    if (Math.abs(v) < 0.01) near++;
    const b = Math.min(bins - 1, Math.max(0, Math.floor((v - lo) / width)));
    counts[b] = (counts[b] ?? 0) + 1;
  }
  const mean = sum / values.length;
  let ss = 0;
  for (let i = 0; i < values.length; i++) ss += ((values[i] as number) - mean) ** 2;
  return { mean, std: Math.sqrt(ss / Math.max(1, values.length - 1)), min, max, nearZero: near / values.length, counts };
}

/** `bins` equal bins from the smallest to the largest value of all `sets`. */
export function sharedEdges(sets: ArrayLike<number>[], bins: number): number[] {
  let lo = Infinity;
  let hi = -Infinity;
  for (const s of sets) for (let i = 0; i < s.length; i++) (lo = Math.min(lo, s[i] as number)), (hi = Math.max(hi, s[i] as number));
  if (!(hi > lo)) hi = lo + 1;
  return Array.from({ length: bins + 1 }, (_, i) => lo + ((hi - lo) * i) / bins);
}
