/**
 * MNIST with three normalisations: the same small CNN trained three times,
 * with BatchNorm2d, with SwitchableNorm2d and with no normalisation, from the
 * same seed and initial weights, on the best device present.
 *
 *   conv(1→8, 3×3, pad 1) → norm → ReLU → maxpool 2
 *   conv(8→16, 3×3, pad 1) → norm → ReLU → maxpool 2 → flatten → linear(784 → 10)
 *
 * Writes to `--out` (default `out/`): `loss.png` (training loss per step),
 * `accuracy.png` (test accuracy during training), `switchable-weights.png`
 * (the learned IN/LN/BN mixing weights of each SwitchableNorm2d layer) and
 * `results.json`.
 *
 * Run: `npm start` or `node scripts/with-display.mjs dist/examples/mnist-norms.js --epochs 3`.
 * Flags: --epochs N --device NAME --train N --test N --batch N --lr X --seed N --quick --out DIR
 *        --norms BatchNorm2d,SwitchableNorm2d,none (a subset of the runs)
 *
 * @module
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as gg from '../src/index.js';
import { fmtSeconds, isMain, numberFlag, openExample, parseFlags, since, runCli, table, UsageError } from './lib/cli.js';
import { mulberry32, permutation } from './lib/rng.js';
import { gatherMnist, loadMnist, type MnistSplit } from './lib/mnist.js';
import { barChart, lineChart, writePng } from './lib/plot.js';
import { progressBar } from './lib/progress.js';

/** Options of {@link main}; every field has a default. */
export interface MnistNormsOptions {
  /** Training epochs (default 3: the three runs take about three minutes on a 2-core machine). */
  epochs?: number;
  /** Device name; default: the best one present (see `pickDevice`). */
  device?: string;
  /** Training images (default 8000; quick 1500). */
  train?: number;
  /** Test images (default 2000; quick 300). */
  test?: number;
  /** Minibatch size (default 64; quick 32). */
  batch?: number;
  /** SGD learning rate (default 0.05, momentum 0.9). */
  lr?: number;
  /** Seed of weights and shuffles (default 0). */
  seed?: number;
  /** Small, fast settings for tests and smoke runs. */
  quick?: boolean;
  /** Output directory for PNGs and results.json (default `out`). */
  out?: string;
  /** Evaluations per epoch for the accuracy curves (default 4). */
  evalsPerEpoch?: number;
  /** Test digits used for the curves' points (default 500; the final accuracy uses the whole test split). */
  curveImages?: number;
  /** Print progress and tables (default true). */
  verbose?: boolean;
  /** Which runs (default all three: BatchNorm2d, SwitchableNorm2d, none). */
  norms?: NormKind[];
}

/** Which normalisation a run uses. */
export type NormKind = 'BatchNorm2d' | 'SwitchableNorm2d' | 'none';

/** What one training run measured. */
export interface RunResult {
  norm: NormKind;
  /** Final test accuracy on the whole test split, 0..1. */
  testAccuracy: number;
  /** Wall time of training (without the evaluations), ms. */
  trainMs: number;
  /** Wall time of the whole run including evaluations, ms. */
  totalMs: number;
  /** Training images per second. */
  imagesPerSecond: number;
  /** Training loss per step. */
  losses: number[];
  /** Test accuracy after `atEpoch` epochs (fractional). */
  accuracyCurve: { atEpoch: number; accuracy: number }[];
  /** SwitchableNorm2d only: softmax(mean_weight) and softmax(var_weight) per layer, order [IN, LN, BN]. */
  switchWeights?: SwitchWeights[];
  /** Live device buffers after the first step and after the last (should match). */
  liveBuffers: { before: number; after: number };
}

/** Everything {@link main} measured (also written to results.json). */
export interface MnistNormsResult {
  device: string;
  deviceInfo: gg.DeviceInfo;
  options: Required<Omit<MnistNormsOptions, 'device' | 'verbose' | 'norms'>> & { norms: NormKind[] };
  runs: RunResult[];
  /** The y range of accuracy.png, in percent: fitted to the second half of training, so the final band is readable. */
  accuracyAxis: [number, number];
  plots: string[];
}

const NORMS: NormKind[] = ['BatchNorm2d', 'SwitchableNorm2d', 'none'];

function normLayer(kind: NormKind, channels: number, device: string): gg.nn.Module {
  switch (kind) {
    case 'BatchNorm2d':
      return new gg.nn.BatchNorm2d(channels, { device });
    case 'SwitchableNorm2d':
      return new gg.nn.SwitchableNorm2d(channels, { device });
    case 'none':
      return new gg.nn.Identity();
  }
}

/** The CNN; call `gg.manualSeed` first so every run starts from the same weights. */
export function buildModel(kind: NormKind, device: string): gg.nn.Sequential {
  // NOTE: norm layers draw no random numbers, so conv/linear weights are identical across the three runs
  return new gg.nn.Sequential(
    new gg.nn.Conv2d(1, 8, 3, { padding: 1, device }),
    normLayer(kind, 8, device),
    new gg.nn.ReLU(),
    new gg.nn.MaxPool2d(2),
    new gg.nn.Conv2d(8, 16, 3, { padding: 1, device }),
    normLayer(kind, 16, device),
    new gg.nn.ReLU(),
    new gg.nn.MaxPool2d(2),
    new gg.nn.Flatten(),
    new gg.nn.Linear(16 * 7 * 7, 10, { device }),
  );
}

/** Images [from, from + n) of a split as (n, 1, 28, 28) and their labels as (n). */
function batchOf(split: MnistSplit, order: Int32Array | null, from: number, n: number, device: string): { x: gg.Tensor; y: gg.Tensor } {
  const { images, labels } = gatherMnist(split, n, (i) => (order ? (order[from + i] as number) : from + i));
  return {
    x: gg.tensor(images, { shape: [n, 1, 28, 28], device }),
    y: gg.tensor(labels, { shape: [n], dtype: 'int64', device }),
  };
}

/** Test accuracy in eval mode on the first `limit` images of `split` (default all), batches of 500. */
export async function evaluate(model: gg.nn.Module, split: MnistSplit, device: string, limit = Infinity): Promise<number> {
  model.eval();
  const n = Math.min(limit, split.labels.length);
  let correct = 0;
  for (let from = 0; from < n; from += 500) {
    const m = Math.min(500, n - from);
    const pred = gg.tidy(() =>
      gg.noGrad(() => {
        const { x } = batchOf(split, null, from, m, device);
        return model.call(x).argmax(1);
      }),
    );
    const p = await pred.data();
    pred.dispose();
    for (let i = 0; i < m; i++) if (p[i] === split.labels[from + i]) correct++;
  }
  model.train();
  return correct / n;
}

/** The learned mixing weights of one SwitchableNorm2d layer. */
export interface SwitchWeights {
  /** e.g. `after conv 1 (model.1, 8 channels)`. */
  layer: string;
  /** The conv layer (1-based) it normalises. */
  conv: number;
  /** softmax(mean_weight), order [IN, LN, BN]. */
  mean: number[];
  /** softmax(var_weight), order [IN, LN, BN]. */
  var: number[];
}

async function switchWeights(model: gg.nn.Module): Promise<SwitchWeights[]> {
  const out: SwitchWeights[] = [];
  let i = 0;
  for (const [name, m] of model.namedModules()) {
    if (!(m instanceof gg.nn.SwitchableNorm2d)) continue;
    i++;
    // e.g. 'after conv 1 (model.1, 8 channels)': which conv it follows, its key in the state dict, its width
    const mean = gg.noGrad(() => m.meanWeight.softmax(0));
    const vr = gg.noGrad(() => m.varWeight.softmax(0));
    out.push({ layer: `after conv ${i} (model.${name}, ${m.numFeatures} channels)`, conv: i, mean: Array.from(await mean.data()), var: Array.from(await vr.data()) });
    mean.dispose();
    vr.dispose();
  }
  return out;
}

async function trainOne(
  kind: NormKind,
  data: { train: MnistSplit; test: MnistSplit },
  o: Required<Omit<MnistNormsOptions, 'device'>>,
  device: string,
): Promise<RunResult> {
  const runStart = performance.now();
  gg.manualSeed(o.seed);
  const model = buildModel(kind, device);
  const lossFn = new gg.nn.CrossEntropyLoss();
  const opt = new gg.optim.SGD(model.parameters(), { lr: o.lr, momentum: 0.9 });
  const rand = mulberry32(o.seed + 1);
  const n = data.train.labels.length;
  const stepsPerEpoch = Math.floor(n / o.batch);
  const evalEvery = Math.max(1, Math.floor(stepsPerEpoch / o.evalsPerEpoch));
  const losses: number[] = [];
  const accuracyCurve: { atEpoch: number; accuracy: number }[] = [];
  let trainMs = 0;
  // measured after the first step, once gradients and momentum buffers exist
  let before = -1;
  // NOTE: the curve's points use the first `curveImages` test digits (cheaper); the final accuracy uses all of them
  const curve = async (atEpoch: number) => accuracyCurve.push({ atEpoch, accuracy: await evaluate(model, data.test, device, o.curveImages) });
  await curve(0);
  for (let epoch = 0; epoch < o.epochs; epoch++) {
    const order = permutation(n, rand);
    const bar = o.verbose ? progressBar(`${kind.padEnd(16)} epoch ${epoch + 1}/${o.epochs}`, stepsPerEpoch) : null;
    let epochMs = 0;
    for (let step = 0; step < stepsPerEpoch; step++) {
      const t0 = performance.now();
      const loss = gg.tidy(() => {
        const { x, y } = batchOf(data.train, order, step * o.batch, o.batch, device);
        opt.zeroGrad();
        const l = lossFn.call(model.call(x), y);
        l.backward();
        opt.step();
        return l;
      });
      const value = await loss.item();
      loss.dispose();
      if (before < 0) before = gg.memory().liveBuffers;
      const dt = since(t0);
      epochMs += dt;
      losses.push(value);
      const done = step + 1;
      bar?.update(done, { loss: value, speed: `${Math.round((done * o.batch) / (epochMs / 1000))} img/s` });
      if (done % evalEvery === 0 || done === stepsPerEpoch) {
        const atEpoch = epoch + done / stepsPerEpoch;
        if (done === stepsPerEpoch || stepsPerEpoch - done >= evalEvery / 2) await curve(atEpoch);
      }
    }
    trainMs += epochMs;
    bar?.stop();
  }
  const after = gg.memory().liveBuffers;
  const result: RunResult = {
    norm: kind,
    testAccuracy: await evaluate(model, data.test, device),
    trainMs,
    totalMs: since(runStart),
    imagesPerSecond: (o.epochs * stepsPerEpoch * o.batch) / (trainMs / 1000),
    losses,
    accuracyCurve,
    liveBuffers: { before, after },
  };
  if (kind === 'SwitchableNorm2d') result.switchWeights = await switchWeights(model);
  for (const t of [...model.parameters(), ...model.buffers()]) t.dispose();
  if (o.verbose) {
    console.log(`${kind}: test accuracy ${(result.testAccuracy * 100).toFixed(2)}% in ${fmtSeconds(result.totalMs)}`);
  }
  return result;
}

/** A moving average, so per-step loss curves are readable. */
function smooth(values: number[], window: number): number[] {
  const out: number[] = [];
  let sum = 0;
  values.forEach((v, i) => {
    sum += v;
    if (i >= window) sum -= values[i - window] as number;
    out.push(sum / Math.min(i + 1, window));
  });
  return out;
}

/**
 * The y range of the accuracy plot, in percent: from a little below the
 * lowest accuracy of the second half of training (any run) to a little above
 * the highest, in whole percent, within [0, 100]. The early points below it
 * are clipped: a 0–100 axis would squash the final 93–97 % band into a line.
 */
export function accuracyRange(runs: Pick<RunResult, 'accuracyCurve'>[]): [number, number] {
  const late = runs.flatMap((r) => r.accuracyCurve.slice(Math.floor(r.accuracyCurve.length / 2)).map((p) => p.accuracy * 100));
  const all = runs.flatMap((r) => r.accuracyCurve.map((p) => p.accuracy * 100));
  const pts = late.length > 0 ? late : all;
  if (pts.length === 0) return [0, 100];
  const lo = Math.max(0, Math.floor(Math.min(...pts)) - 1);
  const hi = Math.min(100, Math.ceil(Math.max(...all)) + 1);
  // at least 2 points wide, within [0, 100]
  return hi - lo >= 2 ? [lo, hi] : [Math.max(0, hi - 2), Math.max(hi, 2)];
}

/** Train the three models, print the table, write plots and results.json. */
export async function main(opts: MnistNormsOptions = {}): Promise<MnistNormsResult> {
  const quick = opts.quick ?? false;
  const o: Required<Omit<MnistNormsOptions, 'device'>> = {
    epochs: opts.epochs ?? (quick ? 1 : 3),
    train: opts.train ?? (quick ? 1500 : 8000),
    test: opts.test ?? (quick ? 300 : 2000),
    batch: opts.batch ?? (quick ? 32 : 64),
    lr: opts.lr ?? 0.05,
    seed: opts.seed ?? 0,
    quick,
    out: opts.out ?? 'out',
    evalsPerEpoch: opts.evalsPerEpoch ?? 4,
    curveImages: opts.curveImages ?? 500,
    verbose: opts.verbose ?? true,
    norms: opts.norms ?? NORMS,
  };
  const { log, device } = await openExample({ quick, verbose: o.verbose, device: opts.device });
  const info = gg.deviceInfo(device);
  log(`MNIST: ${o.train} train / ${o.test} test digits, batch ${o.batch}, ${o.epochs} epoch${o.epochs === 1 ? '' : 's'}, SGD lr ${o.lr} momentum 0.9, seed ${o.seed}`);
  const data = loadMnist({ train: o.train, test: o.test, seed: o.seed });

  const runs: RunResult[] = [];
  for (const kind of o.norms) runs.push(await trainOne(kind, data, o, device));

  log('');
  log(
    table(
      ['normalisation', 'test acc', 'train time', 'total time', 'img/s', 'final loss'],
      runs.map((r) => [
        r.norm,
        `${(r.testAccuracy * 100).toFixed(2)}%`,
        fmtSeconds(r.trainMs),
        fmtSeconds(r.totalMs),
        r.imagesPerSecond.toFixed(0),
        (smooth(r.losses, 20).at(-1) ?? NaN).toFixed(4),
      ]),
    ),
  );
  const sw = runs.find((r) => r.switchWeights)?.switchWeights ?? [];
  for (const l of sw) {
    const f = (v: number[]) => v.map((x) => x.toFixed(3)).join(' / ');
    log(`SwitchableNorm2d ${l.layer}: mean weights IN/LN/BN ${f(l.mean)}, var weights ${f(l.var)}`);
  }

  mkdirSync(o.out, { recursive: true });
  const plots: string[] = [];
  const window = Math.max(1, Math.round(runs[0]!.losses.length / 40));
  const lossPng = await lineChart({
    title: `Training loss (moving average of ${window} steps), ${device}`,
    xLabel: 'step',
    yLabel: 'cross-entropy',
    logY: true,
    series: runs.map((r) => ({ name: r.norm, x: r.losses.map((_, i) => i + 1), y: smooth(r.losses, window) })),
  });
  plots.push(join(o.out, 'loss.png'));
  writePng(plots.at(-1)!, lossPng);
  const accuracyAxis = accuracyRange(runs);
  const accPng = await lineChart({
    title: `Test accuracy during training (first ${Math.min(o.curveImages, o.test)} test digits)`,
    xLabel: 'epoch',
    yLabel: 'accuracy (%)',
    yDomain: accuracyAxis,
    series: runs.map((r) => ({ name: r.norm, x: r.accuracyCurve.map((p) => p.atEpoch), y: r.accuracyCurve.map((p) => p.accuracy * 100) })),
  });
  plots.push(join(o.out, 'accuracy.png'));
  writePng(plots.at(-1)!, accPng);
  if (sw.length > 0) {
    const groups = sw.flatMap((l) =>
      (['mean', 'var'] as const).flatMap((which) =>
        ['IN', 'LN', 'BN'].map((category, k) => ({ group: `after conv ${l.conv}: ${which} weights`, category, value: l[which][k] ?? NaN })),
      ),
    );
    const png = await barChart({ title: 'Learned SwitchableNorm2d importance weights (softmax)', yLabel: 'weight', xLabel: 'SwitchableNorm2d layer', groups });
    plots.push(join(o.out, 'switchable-weights.png'));
    writePng(plots.at(-1)!, png);
  }
  const result: MnistNormsResult = { device, deviceInfo: info, options: o, runs, accuracyAxis, plots };
  writeFileSync(join(o.out, 'results.json'), JSON.stringify(result, null, 2));
  log(`wrote ${[...plots, join(o.out, 'results.json')].join(', ')}`);
  return result;
}

/** The command line, printed on a mistake and by `--help`. */
export const USAGE = 'usage: mnist-norms [--epochs N] [--device NAME] [--train N] [--test N] [--batch N] [--lr X] [--seed N] [--quick] [--out DIR] [--norms BatchNorm2d,SwitchableNorm2d,none]';

/**
 * Parse `process.argv`-style flags into {@link MnistNormsOptions}.
 *
 * @throws UsageError for an unknown flag, a value that is not a number, or an unknown norm
 */
export function parseCli(argv: string[] = process.argv.slice(2)): MnistNormsOptions {
  const values = parseFlags(
    USAGE,
    {
      epochs: { type: 'string' },
      device: { type: 'string' },
      train: { type: 'string' },
      test: { type: 'string' },
      batch: { type: 'string' },
      lr: { type: 'string' },
      seed: { type: 'string' },
      out: { type: 'string' },
      quick: { type: 'boolean' },
      norms: { type: 'string' },
    },
    argv,
  );
  const norms = values.norms?.split(',');
  for (const n of norms ?? []) if (!(NORMS as readonly string[]).includes(n)) throw new UsageError(`--norms: unknown normalisation '${n}'; expected ${NORMS.join(', ')}`);
  const int = (flag: string, v: string | undefined) => numberFlag(flag, v, { integer: true });
  return {
    epochs: int('--epochs', values.epochs),
    device: values.device,
    train: int('--train', values.train),
    test: int('--test', values.test),
    batch: int('--batch', values.batch),
    lr: numberFlag('--lr', values.lr),
    seed: numberFlag('--seed', values.seed),
    out: values.out,
    quick: values.quick,
    norms: norms as NormKind[] | undefined,
  };
}

if (isMain(import.meta.url)) {
  await runCli(USAGE, async () => {
    await main(parseCli());
  });
}
