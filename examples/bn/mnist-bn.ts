/**
 * With vs without BatchNorm on an MNIST subset, with an MLP
 * (784 → 128 → 64 → 10, BatchNorm1d after each hidden Linear or not):
 * loss and accuracy curves, gradient norms per layer, learning-rate
 * sensitivity, train- vs eval-mode outputs, and a BatchNorm monitor built on
 * forward hooks (mean/std of activations) and full backward hooks (norm of
 * the gradient leaving each BN layer towards its input).
 *
 * @module
 */
import * as gg from '../../src/index.js';
import { mulberry32, permutation } from '../lib/rng.js';
import { gatherMnist, loadMnist, MNIST_PIXELS, type MnistSplit } from '../lib/mnist.js';
import { ActivationMonitor, probeLandscape, type LandscapePoint } from './landscape.js';

/** The MLP, with or without BatchNorm1d; call gg.manualSeed first. */
export function mlp(withBn: boolean, device: string): gg.nn.Sequential {
  const bn = (n: number): gg.nn.Module[] => (withBn ? [new gg.nn.BatchNorm1d(n, { device })] : []);
  return new gg.nn.Sequential(
    new gg.nn.Linear(MNIST_PIXELS, 128, { device }),
    ...bn(128),
    new gg.nn.ReLU(),
    new gg.nn.Linear(128, 64, { device }),
    ...bn(64),
    new gg.nn.ReLU(),
    new gg.nn.Linear(64, 10, { device }),
  );
}

function batch(split: MnistSplit, order: Int32Array | null, from: number, n: number, device: string): { x: gg.Tensor; y: gg.Tensor } {
  const { images, labels } = gatherMnist(split, n, (i) => (order ? (order[from + i] as number) : from + i));
  return { x: gg.tensor(images, { shape: [n, MNIST_PIXELS], device }), y: gg.tensor(labels, { shape: [n], dtype: 'int64', device }) };
}

async function accuracy(model: gg.nn.Module, split: MnistSplit, device: string, mode: 'eval' | 'train' = 'eval'): Promise<number> {
  if (mode === 'eval') model.eval();
  const n = split.labels.length;
  const pred = gg.tidy(() => gg.noGrad(() => model.call(batch(split, null, 0, n, device).x).argmax(1)));
  const p = await pred.data();
  pred.dispose();
  model.train();
  let correct = 0;
  for (let i = 0; i < n; i++) if (p[i] === split.labels[i]) correct++;
  return correct / n;
}

/** What the monitor records per BN layer (one value per recorded step). */
export interface MonitorStats {
  /** Mean and std of the layer's input (the pre-activations it normalises). */
  inputMean: number[];
  inputStd: number[];
  /** Mean and std of its output. */
  mean: number[];
  std: number[];
  /** ‖∂L/∂input‖. */
  gradNorm: number[];
}

/**
 * Records, per BatchNorm layer, the mean and std of its input and output on every
 * forward (forward hook) and the norm of the gradient with respect to its
 * input on every backward (full backward hook). Hooks run inside the
 * training step; the statistics are kept as small tensors and read after it.
 */
export class BatchNormMonitor {
  private pending: { name: string; kind: keyof MonitorStats; t: gg.Tensor }[] = [];
  /** name → kind → values, one per recorded step. */
  readonly stats = new Map<string, MonitorStats>();
  private handles: { remove(): void }[] = [];
  enabled = true;

  constructor(model: gg.nn.Module) {
    for (const [name, m] of model.namedModules()) {
      if (!(m instanceof gg.nn.BatchNorm1d || m instanceof gg.nn.BatchNorm2d)) continue;
      this.stats.set(name, { inputMean: [], inputStd: [], mean: [], std: [], gradNorm: [] });
      this.handles.push(
        m.registerForwardHook((_mod, inputs, output) => {
          if (!this.enabled || !m.training) return;
          const d = output.detach();
          const x = inputs[0]!.detach();
          this.pending.push(
            { name, kind: 'inputMean', t: gg.keep(x.mean()) },
            { name, kind: 'inputStd', t: gg.keep(x.std()) },
            { name, kind: 'mean', t: gg.keep(d.mean()) },
            { name, kind: 'std', t: gg.keep(d.std()) },
          );
        }),
        // NOTE: the gradient w.r.t. the layer's input; gradOutput is already disposed when full
        // backward hooks run in this version (see docs/notes/examples.md)
        m.registerFullBackwardHook((_mod, gradInput) => {
          const g = gradInput[0];
          if (!this.enabled || !g) return;
          this.pending.push({ name, kind: 'gradNorm', t: gg.keep(g.detach().square().sum().sqrt()) });
        }),
      );
    }
  }

  /** Read what the hooks recorded since the last flush. */
  async flush(): Promise<void> {
    const items = this.pending;
    this.pending = [];
    for (const { name, kind, t } of items) {
      this.stats.get(name)![kind].push(await t.item());
      t.dispose();
    }
  }

  remove(): void {
    for (const h of this.handles) h.remove();
  }
}

/** One training run's curves. */
export interface BnRun {
  withBn: boolean;
  lr: number;
  losses: number[];
  accuracy: { epoch: number; accuracy: number }[];
  /** Gradient norm of each Linear weight, every `gradEvery` steps. */
  gradNorms: Record<string, number[]>;
  gradSteps: number[];
  finalAccuracy: number;
  ms: number;
  /** Probes along the gradient (Santurkar et al. 2018), when asked for; their time is in `ms`. */
  landscape?: LandscapePoint[];
}

/** Train the MLP; optionally attach a monitor. */
export async function trainMlp(o: {
  withBn: boolean;
  lr: number;
  epochs: number;
  data: { train: MnistSplit; test: MnistSplit };
  device: string;
  batchSize?: number;
  gradEvery?: number;
  monitor?: boolean;
  /** Record activation statistics every `gradEvery` steps (ActivationMonitor). */
  activations?: boolean;
  /** Probe the landscape along the gradient every `every` steps with these step sizes. */
  landscape?: { every: number; etas: number[] };
  seed?: number;
}): Promise<{ run: BnRun; model: gg.nn.Sequential; monitor: BatchNormMonitor | null; activations: ActivationMonitor | null }> {
  const t0 = performance.now();
  gg.manualSeed(o.seed ?? 0);
  const model = mlp(o.withBn, o.device);
  const monitor = o.monitor ? new BatchNormMonitor(model) : null;
  const activations = o.activations ? new ActivationMonitor(model) : null;
  const opt = new gg.optim.SGD(model.parameters(), { lr: o.lr });
  const lossFn = new gg.nn.CrossEntropyLoss();
  const bs = o.batchSize ?? 64;
  const gradEvery = o.gradEvery ?? 5;
  const rand = mulberry32((o.seed ?? 0) + 11);
  const n = o.data.train.labels.length;
  const steps = Math.floor(n / bs);
  const linears = [...model.namedModules()].filter(([, m]) => m instanceof gg.nn.Linear) as [string, gg.nn.Linear][];
  const run: BnRun = { withBn: o.withBn, lr: o.lr, losses: [], accuracy: [], gradNorms: {}, gradSteps: [], finalAccuracy: NaN, ms: 0 };
  for (const [name] of linears) run.gradNorms[name] = [];
  if (o.landscape) run.landscape = [];
  run.accuracy.push({ epoch: 0, accuracy: await accuracy(model, o.data.test, o.device) });
  let global = 0;
  for (let epoch = 0; epoch < o.epochs; epoch++) {
    const order = permutation(n, rand);
    for (let s = 0; s < steps; s++, global++) {
      const record = global % gradEvery === 0;
      if (o.landscape && global % o.landscape.every === 0) {
        // before the step, on its batch, with the hooks off: the probes are not training steps
        if (monitor) monitor.enabled = false;
        if (activations) activations.enabled = false;
        const { x, y } = batch(o.data.train, order, s * bs, bs, o.device);
        run.landscape!.push(await probeLandscape(model, (out) => lossFn.call(out, y), x, o.landscape.etas, global));
        x.dispose();
        y.dispose();
      }
      if (monitor) monitor.enabled = record;
      if (activations) activations.enabled = record;
      const [loss, ...norms] = gg.tidy(() => {
        const { x, y } = batch(o.data.train, order, s * bs, bs, o.device);
        opt.zeroGrad();
        const l = lossFn.call(model.call(x), y);
        l.backward();
        const gn = record ? linears.map(([, m]) => m.weight.grad!.square().sum().sqrt()) : [];
        opt.step();
        return [l, ...gn];
      });
      run.losses.push(await loss!.item());
      loss!.dispose();
      if (record) {
        run.gradSteps.push(global);
        for (let i = 0; i < linears.length; i++) {
          run.gradNorms[linears[i]![0]]!.push(await norms[i]!.item());
          norms[i]!.dispose();
        }
      }
      if (monitor) await monitor.flush();
      if (activations) await activations.flush();
    }
    run.accuracy.push({ epoch: epoch + 1, accuracy: await accuracy(model, o.data.test, o.device) });
  }
  run.finalAccuracy = run.accuracy.at(-1)!.accuracy;
  run.ms = performance.now() - t0;
  activations?.remove();
  return { run, model, monitor, activations };
}

/** Train- vs eval-mode outputs of a trained BN model on the test set. */
export async function trainVsEval(model: gg.nn.Module, test: MnistSplit, device: string): Promise<{ trainModeAccuracy: number; evalModeAccuracy: number; maxAbsLogitDiff: number; smallBatchTrainAccuracy: number }> {
  const { x } = batch(test, null, 0, test.labels.length, device);
  // a copy of the running statistics: a train-mode forward would update them
  const saved = Object.fromEntries(Object.entries(model.stateDict()).map(([k, v]) => [k, v.clone()]));
  model.train();
  const yt = gg.noGrad(() => model.call(x));
  model.eval();
  const ye = gg.noGrad(() => model.call(x));
  const diff = await yt.sub(ye).abs().max().item();
  const trainModeAccuracy = await accuracy(model, test, device, 'train');
  // batch statistics of just 4 examples are noisy: train mode suffers, eval mode would not
  model.train();
  let correct = 0;
  const n = Math.floor(test.labels.length / 4) * 4;
  for (let from = 0; from < n; from += 4) {
    const p = gg.tidy(() => gg.noGrad(() => model.call(batch(test, null, from, 4, device).x).argmax(1)));
    const pv = await p.data();
    p.dispose();
    for (let i = 0; i < 4; i++) if (pv[i] === test.labels[from + i]) correct++;
  }
  model.loadStateDict(saved);
  const evalModeAccuracy = await accuracy(model, test, device, 'eval');
  return { trainModeAccuracy, evalModeAccuracy, maxAbsLogitDiff: diff, smallBatchTrainAccuracy: correct / n };
}

/** Load the subset once. */
export function mnistSubset(train: number, test: number): { train: MnistSplit; test: MnistSplit } {
  return loadMnist({ train, test, seed: 1 });
}
