/**
 * BatchNorm experiments (the pieces live in examples/bn/):
 *
 * 1. BatchNorm2d from scratch with gpugrad ops vs `gg.nn.BatchNorm2d`
 *    (outputs, gradients, running stats, eval): allclose, printed;
 * 2. BatchNorm's backward by hand (closed form) as an `autograd.Function`,
 *    gradchecked and compared with the built-in layer's gradients;
 * 3. an MLP on an MNIST subset with vs without BatchNorm: loss and accuracy
 *    curves, gradient norms per layer, learning-rate sensitivity;
 * 4. a BatchNorm monitor on forward and full backward hooks;
 * 5. train- vs eval-mode outputs;
 * 6. a ResNet basic block with BN (a tiny ResNet trained for a few steps);
 * 7. an LSTM with batch-normalised gates on the adding problem;
 * 8. the loss landscape along the gradient with and without BN, after
 *    Santurkar et al. 2018 (loss range, gradient predictiveness, effective
 *    β-smoothness over step sizes, during the runs of 3; bn/landscape.ts);
 * 9. per-layer activation statistics over training (mean, std,
 *    percentiles of each ReLU's input and of the logits);
 * 10. histograms of the learned weights of each Linear layer, with and
 *    without BN, beside the initial weights.
 *
 * Plots in `--out`: bn-loss.png, bn-accuracy.png, bn-grad-norms.png,
 * bn-lr-sensitivity.png, bn-monitor.png, bn-lstm.png, bn-landscape-loss.png,
 * bn-landscape-gradient.png, bn-landscape-beta.png, bn-activation-mean.png,
 * bn-activation-std.png, bn-activation-percentiles.png,
 * bn-weights-fc1.png, bn-weights-fc2.png, bn-weights-fc3.png; numbers in
 * bn-results.json.
 *
 * Run: `node scripts/with-display.mjs dist/examples/batchnorm-experiments.js [--quick] [--device NAME] [--out DIR]`
 *
 * @module
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as gg from '../src/index.js';
import { trainAdding } from './bn/bn-lstm.js';
import { checkManualBackward, type ManualBackwardResult } from './bn/manual-backward.js';
import { histogram, sharedEdges, type ActivationStats, type Histogram, type LandscapePoint } from './bn/landscape.js';
import { mlp, mnistSubset, trainMlp, trainVsEval, type BnRun, type MonitorStats } from './bn/mnist-bn.js';
import { miniResNet } from './bn/resnet.js';
import { compareWithBuiltin, type Comparison } from './bn/scratch.js';
import { fmtSeconds, isMain, openExample, parseFlags, runCli, table } from './lib/cli.js';
import { mulberry32, permutation } from './lib/rng.js';
import { gatherMnist } from './lib/mnist.js';
import { bandChart, barChart, histogramChart, lineChart, writePng } from './lib/plot.js';

/** Options of {@link main}. */
export interface BnExperimentsOptions {
  quick?: boolean;
  out?: string;
  device?: string;
  verbose?: boolean;
}

/** What {@link main} measured. */
export interface BnExperimentsResult {
  device: string;
  scratch: { float64: Comparison[]; device: Comparison[]; allclose: boolean };
  manualBackward: ManualBackwardResult;
  runs: BnRun[];
  lrSensitivity: { lr: number; withBn: number; withoutBn: number }[];
  monitor: Record<string, MonitorStats>;
  trainVsEval: Awaited<ReturnType<typeof trainVsEval>>;
  resnet: { steps: number; firstLoss: number; lastLoss: number; outputShape: number[]; ms: number };
  lstm: { steps: number; withBn: number[]; withoutBn: number[]; msWithBn: number; msWithoutBn: number };
  /** 8: probes along the gradient during the runs of 3, every `every` steps, and their means over training. */
  landscape: {
    etas: number[];
    every: number;
    withBn: LandscapePoint[];
    withoutBn: LandscapePoint[];
    summary: Record<'withBn' | 'withoutBn', { lossRange: number; maxLossRange: number; relLossRange: number; overshoot: number; gradChange: number; relGradChange: number; beta: number; maxBeta: number }>;
  };
  /** 9: activation statistics per layer (`hidden 1`, `hidden 2`: ReLU inputs; `logits`) at `steps`. */
  activations: { steps: Record<'withBn' | 'withoutBn', number[]>; withBn: Record<string, ActivationStats>; withoutBn: Record<string, ActivationStats> };
  /** 10: histograms of each Linear weight over shared bin edges: initial, and after the runs of 3. */
  weights: { layer: string; edges: number[]; init: Histogram; withBn: Histogram; withoutBn: Histogram }[];
  plots: string[];
  ms: number;
}

/** Step sizes of the landscape probes: 0.5 to 4 times the learning rate 0.1. */
const LANDSCAPE_ETAS = [0.05, 0.1, 0.2, 0.3, 0.4];

const mean = (v: number[]) => v.reduce((a, b) => a + b, 0) / Math.max(v.length, 1);

/** Run every experiment, print, plot. */
export async function main(opts: BnExperimentsOptions = {}): Promise<BnExperimentsResult> {
  const t0 = performance.now();
  const quick = opts.quick ?? false;
  const out = opts.out ?? 'out';
  const verbose = opts.verbose ?? true;
  const { log, device } = await openExample({ quick, verbose, device: opts.device });
  mkdirSync(out, { recursive: true });
  const plots: string[] = [];
  const save = (name: string, png: Uint8Array) => {
    const p = join(out, name);
    writePng(p, png);
    plots.push(p);
  };

  // 1. from scratch vs built-in
  log('\n1. BatchNorm2d from scratch vs gg.nn.BatchNorm2d');
  const s64 = await compareWithBuiltin({ dtype: 'float64', device: 'cpu' });
  const sDev = await compareWithBuiltin({ dtype: 'float32', device });
  const fmtCmp = (rows: Comparison[]) => rows.map((r) => [r.what, r.maxAbsDiff.toExponential(2), String(r.allclose)]);
  log(table(['cpu float64', 'max |Δ|', 'allclose'], fmtCmp(s64)));
  log(table([`${device} float32`, 'max |Δ|', 'allclose'], fmtCmp(sDev)));
  const scratchOk = [...s64, ...sDev].every((r) => r.allclose);
  log(`from-scratch BatchNorm2d allclose to the built-in: ${scratchOk}`);

  // 2. hand-written backward
  log('\n2. BatchNorm backward by hand (autograd.Function)');
  const manualBackward = await checkManualBackward();
  log(`gradcheck (float64): ${manualBackward.gradcheck}`);
  log(table(['vs built-in', 'max |Δ|', 'allclose'], manualBackward.vsBuiltin.map((r) => [r.what, r.maxAbsDiff.toExponential(2), String(r.allclose)])));

  // 3. with vs without BN
  const data = mnistSubset(quick ? 1000 : 3000, quick ? 300 : 1000);
  const epochs = quick ? 2 : 4;
  const lr = 0.1;
  log(`\n3. MLP on MNIST (${data.train.labels.length} train / ${data.test.labels.length} test), SGD lr ${lr}, ${epochs} epochs, with vs without BatchNorm1d`);
  // the same runs feed experiments 8-10: activation statistics, probes along the gradient, learned weights
  const landscape = { every: quick ? 5 : 10, etas: LANDSCAPE_ETAS };
  const withBn = await trainMlp({ withBn: true, lr, epochs, data, device, monitor: true, activations: true, landscape });
  const without = await trainMlp({ withBn: false, lr, epochs, data, device, activations: true, landscape });
  const runs = [withBn.run, without.run];
  log(table(['model', 'test acc per epoch', 'time'], runs.map((r) => [r.withBn ? 'with BN' : 'without BN', r.accuracy.map((a) => `${(a.accuracy * 100).toFixed(1)}%`).join(' → '), fmtSeconds(r.ms)])));
  const label = (r: BnRun) => (r.withBn ? 'with BN' : 'without BN');
  const window = 10;
  const smooth = (v: number[]) => v.map((_, i) => mean(v.slice(Math.max(0, i - window + 1), i + 1)));
  save('bn-loss.png', await lineChart({ title: `MLP training loss (moving average of ${window}), lr ${lr}`, xLabel: 'step', yLabel: 'cross-entropy', logY: true, series: runs.map((r) => ({ name: label(r), x: r.losses.map((_, i) => i), y: smooth(r.losses) })) }));
  save('bn-accuracy.png', await lineChart({ title: 'MLP test accuracy', xLabel: 'epoch', yLabel: 'accuracy', series: runs.map((r) => ({ name: label(r), x: r.accuracy.map((a) => a.epoch), y: r.accuracy.map((a) => a.accuracy) })) }));
  save('bn-grad-norms.png', await lineChart({
    title: 'Gradient norm of each Linear weight',
    xLabel: 'step',
    yLabel: '‖∂L/∂W‖',
    logY: true,
    series: runs.flatMap((r) => Object.entries(r.gradNorms).map(([name, v], i) => ({ name: `${label(r)}: fc${i + 1} (${name})`, x: r.gradSteps, y: v }))),
  }));
  for (const r of runs) {
    log(`${label(r)}: mean gradient norm per layer ${Object.values(r.gradNorms).map((v) => mean(v).toFixed(3)).join(', ')}`);
  }

  // learning-rate sensitivity: one epoch per lr
  const lrs = quick ? [0.02, 0.5] : [0.01, 0.05, 0.2, 1.0];
  log(`\n   learning-rate sensitivity (1 epoch each): lrs ${lrs.join(', ')}`);
  const lrSensitivity: BnExperimentsResult['lrSensitivity'] = [];
  for (const l of lrs) {
    const a = await trainMlp({ withBn: true, lr: l, epochs: 1, data, device, gradEvery: 1e9 });
    const b = await trainMlp({ withBn: false, lr: l, epochs: 1, data, device, gradEvery: 1e9 });
    lrSensitivity.push({ lr: l, withBn: a.run.finalAccuracy, withoutBn: b.run.finalAccuracy });
  }
  log(table(['lr', 'with BN', 'without BN'], lrSensitivity.map((r) => [String(r.lr), `${(r.withBn * 100).toFixed(1)}%`, `${(r.withoutBn * 100).toFixed(1)}%`])));
  save('bn-lr-sensitivity.png', await barChart({
    title: 'Test accuracy after one epoch, by learning rate',
    xLabel: 'learning rate',
    yLabel: 'accuracy',
    groups: lrSensitivity.flatMap((r) => [
      { group: `lr ${r.lr}`, category: 'with BN', value: r.withBn },
      { group: `lr ${r.lr}`, category: 'without BN', value: r.withoutBn },
    ]),
  }));

  // 4. monitor
  log('\n4. BatchNorm monitor (forward hooks: output mean/std; full backward hooks: ‖∂L/∂input‖)');
  const monitor = Object.fromEntries(withBn.monitor!.stats);
  withBn.monitor!.remove();
  log(table(['BN layer', 'input mean', 'input std', 'output mean', 'output std', '‖∂L/∂input‖ first → last'], Object.entries(monitor).map(([name, s]) => [
    name,
    mean(s.inputMean).toFixed(4),
    mean(s.inputStd).toFixed(4),
    mean(s.mean).toFixed(4),
    mean(s.std).toFixed(4),
    `${(s.gradNorm[0] ?? NaN).toFixed(4)} → ${(s.gradNorm.at(-1) ?? NaN).toFixed(4)}`,
  ])));
  const monSteps = withBn.run.gradSteps;
  save('bn-monitor.png', await lineChart({
    title: 'BatchNorm monitor: std of BN inputs and outputs, ‖∂L/∂input‖',
    xLabel: 'step',
    yLabel: 'value',
    logY: true,
    series: Object.entries(monitor).flatMap(([name, s]) => [
      { name: `BN ${name} input std`, x: monSteps, y: s.inputStd },
      { name: `BN ${name} output std`, x: monSteps, y: s.std },
      { name: `BN ${name} ‖∂L/∂in‖`, x: monSteps, y: s.gradNorm },
    ]),
  }));

  // 5. train vs eval
  log('\n5. Train- vs eval-mode outputs of the trained BN model');
  const tve = await trainVsEval(withBn.model, data.test, device);
  log(`max |logit(train mode) − logit(eval mode)| on the test set: ${tve.maxAbsLogitDiff.toFixed(4)}`);
  log(`test accuracy: eval mode ${(tve.evalModeAccuracy * 100).toFixed(1)}%, train mode (whole test set as one batch) ${(tve.trainModeAccuracy * 100).toFixed(1)}%, train mode in batches of 4 ${(tve.smallBatchTrainAccuracy * 100).toFixed(1)}%`);

  // 6. ResNet basic block
  log('\n6. A tiny ResNet with BasicBlocks (conv-BN-ReLU-conv-BN + shortcut)');
  const rt0 = performance.now();
  gg.manualSeed(0);
  const resnet = miniResNet(device);
  const ropt = new gg.optim.SGD(resnet.parameters(), { lr: 0.05, momentum: 0.9 });
  const rsteps = quick ? 6 : 40;
  const rbs = 32;
  const order = permutation(data.train.labels.length, mulberry32(5));
  const rlosses: number[] = [];
  let outputShape: number[] = [];
  const ce = new gg.nn.CrossEntropyLoss();
  for (let s = 0; s < rsteps; s++) {
    const loss = gg.tidy(() => {
      const { images: imgs, labels } = gatherMnist(data.train, rbs, (i) => order[(s * rbs + i) % order.length] as number);
      ropt.zeroGrad();
      const logits = resnet.call(gg.tensor(imgs, { shape: [rbs, 1, 28, 28], device }));
      outputShape = [...logits.shape];
      const l = ce.call(logits, gg.tensor(labels, { dtype: 'int64', device }));
      l.backward();
      ropt.step();
      return l;
    });
    rlosses.push(await loss.item());
    loss.dispose();
  }
  const resnetRes = { steps: rsteps, firstLoss: mean(rlosses.slice(0, 3)), lastLoss: mean(rlosses.slice(-3)), outputShape, ms: performance.now() - rt0 };
  log(`${rsteps} SGD steps, batch ${rbs}: output ${JSON.stringify(outputShape)}, loss ${resnetRes.firstLoss.toFixed(3)} → ${resnetRes.lastLoss.toFixed(3)} (mean of first/last 3), ${fmtSeconds(resnetRes.ms)}`);

  // 7. BN-LSTM
  const lsteps = quick ? 15 : 200;
  const lstmOpts = { steps: lsteps, seqLen: quick ? 6 : 10, hidden: 16, batch: 64, device };
  log(`\n7. LSTM with batch-normalised gates on the adding problem (T = ${lstmOpts.seqLen}, ${lsteps} Adam steps)`);
  const lb = await trainAdding({ ...lstmOpts, useBn: true });
  const ln = await trainAdding({ ...lstmOpts, useBn: false });
  const tail = (v: number[]) => mean(v.slice(-Math.max(1, Math.floor(v.length / 10))));
  log(`final MSE (mean of last 10%): BN-LSTM ${tail(lb.losses).toFixed(4)} (${fmtSeconds(lb.ms)}), LSTM ${tail(ln.losses).toFixed(4)} (${fmtSeconds(ln.ms)}); predicting the mean scores ≈ 0.167`);
  const lw = Math.max(1, Math.round(lsteps / 20));
  const sm = (v: number[]) => v.map((_, i) => mean(v.slice(Math.max(0, i - lw + 1), i + 1)));
  save('bn-lstm.png', await lineChart({
    title: `Adding problem (T = ${lstmOpts.seqLen}): MSE, moving average of ${lw}`,
    xLabel: 'step',
    yLabel: 'MSE',
    logY: true,
    series: [
      { name: 'BN-LSTM', x: lb.losses.map((_, i) => i), y: sm(lb.losses) },
      { name: 'LSTM', x: ln.losses.map((_, i) => i), y: sm(ln.losses) },
    ],
  }));

  // 8. loss landscape along the gradient (Santurkar et al. 2018)
  log(`\n8. Loss landscape along the gradient (Santurkar et al. 2018): every ${landscape.every} steps, step sizes η = ${landscape.etas.join(', ')} (lr ${lr})`);
  const land = { withBn: withBn.run.landscape!, withoutBn: without.run.landscape! };
  const landSummary = (pts: LandscapePoint[]) => ({
    lossRange: mean(pts.map((p) => Math.max(...p.losses) - Math.min(...p.losses))),
    maxLossRange: Math.max(...pts.map((p) => Math.max(...p.losses) - Math.min(...p.losses))),
    gradChange: mean(pts.map((p) => Math.max(...p.gradChange))),
    // relative to the gradient itself: a net on a plateau has small gradients and small changes of them
    relGradChange: mean(pts.map((p) => Math.max(...p.gradChange) / p.gradNorm)),
    relLossRange: mean(pts.map((p) => (Math.max(...p.losses) - Math.min(...p.losses)) / p.loss)),
    // probes where some step size raised the loss above L(w): a step along −g that overshoots
    overshoot: pts.filter((p) => Math.max(...p.losses) > p.loss).length / Math.max(1, pts.length),
    beta: mean(pts.map((p) => p.beta)),
    maxBeta: Math.max(...pts.map((p) => p.beta)),
  });
  const landscapeRes: BnExperimentsResult['landscape'] = { etas: landscape.etas, every: landscape.every, withBn: land.withBn, withoutBn: land.withoutBn, summary: { withBn: landSummary(land.withBn), withoutBn: landSummary(land.withoutBn) } };
  log(table(['model', 'loss range over η (mean / max)', 'range / L(w)', 'overshooting probes', 'max ‖∇L(w−ηg) − g‖ (mean)', '… / ‖g‖', 'effective β (mean / max)'], (['withBn', 'withoutBn'] as const).map((k) => {
    const m = landscapeRes.summary[k];
    return [k === 'withBn' ? 'with BN' : 'without BN', `${m.lossRange.toFixed(3)} / ${m.maxLossRange.toFixed(3)}`, m.relLossRange.toFixed(3), `${(m.overshoot * 100).toFixed(0)}%`, m.gradChange.toFixed(3), m.relGradChange.toFixed(3), `${m.beta.toFixed(2)} / ${m.maxBeta.toFixed(2)}`];
  })));
  const bands = (pick: (p: LandscapePoint) => number[]) => (['withBn', 'withoutBn'] as const).map((k) => ({
    name: k === 'withBn' ? 'with BN' : 'without BN',
    x: land[k].map((p) => p.step),
    lo: land[k].map((p) => Math.min(...pick(p))),
    hi: land[k].map((p) => Math.max(...pick(p))),
  }));
  save('bn-landscape-loss.png', await bandChart({ title: `Loss at w − η·∇L, η ∈ [${landscape.etas[0]}, ${landscape.etas.at(-1)}] (band: min to max over η; line: L(w))`, xLabel: 'training step', yLabel: 'loss', logY: true, series: bands((p) => p.losses).map((b, i) => ({ ...b, mid: (i === 0 ? land.withBn : land.withoutBn).map((p) => p.loss) })) }));
  save('bn-landscape-gradient.png', await bandChart({ title: 'Gradient predictiveness: ‖∇L(w − η·∇L) − ∇L(w)‖ over η', xLabel: 'training step', yLabel: 'ℓ2 change of the gradient', logY: true, series: bands((p) => p.gradChange) }));
  save('bn-landscape-beta.png', await lineChart({ title: 'Effective β-smoothness: max over η of ‖Δ∇L‖ / ‖η·∇L‖', xLabel: 'training step', yLabel: 'β', logY: true, series: (['withBn', 'withoutBn'] as const).map((k) => ({ name: k === 'withBn' ? 'with BN' : 'without BN', x: land[k].map((p) => p.step), y: land[k].map((p) => p.beta) })) }));

  // 9. per-layer activation statistics over training
  log('\n9. Activation statistics over training (input of each ReLU, and the logits; every 5 steps)');
  const acts = { withBn: Object.fromEntries(withBn.activations!.stats), withoutBn: Object.fromEntries(without.activations!.stats) };
  const actSteps = { withBn: withBn.run.gradSteps, withoutBn: without.run.gradSteps };
  const drift = (v: number[]) => (v.length ? Math.max(...v) - Math.min(...v) : NaN);
  log(table(['model', 'layer', 'mean first → last', 'std first → last', 'drift of the mean (max − min)', 'p15 / p50 / p85 last'], (['withBn', 'withoutBn'] as const).flatMap((k) => Object.entries(acts[k]).map(([layer, a]) => [
    k === 'withBn' ? 'with BN' : 'without BN',
    layer,
    `${(a.mean[0] ?? NaN).toFixed(3)} → ${(a.mean.at(-1) ?? NaN).toFixed(3)}`,
    `${(a.std[0] ?? NaN).toFixed(3)} → ${(a.std.at(-1) ?? NaN).toFixed(3)}`,
    drift(a.mean).toFixed(3),
    [a.p15, a.p50, a.p85].map((v) => (v.at(-1) ?? NaN).toFixed(2)).join(' / '),
  ]))));
  const actSeries = (which: 'mean' | 'std') => (['withBn', 'withoutBn'] as const).flatMap((k) => Object.entries(acts[k]).map(([layer, a]) => ({ name: `${k === 'withBn' ? 'with BN' : 'without BN'}: ${layer}`, x: actSteps[k], y: a[which] })));
  save('bn-activation-mean.png', await lineChart({ title: 'Mean of each layer\'s activations over training (ReLU inputs, logits)', xLabel: 'step', yLabel: 'mean', series: actSeries('mean') }));
  save('bn-activation-std.png', await lineChart({ title: 'Std of each layer\'s activations over training (ReLU inputs, logits)', xLabel: 'step', yLabel: 'std', logY: true, series: actSeries('std') }));
  save('bn-activation-percentiles.png', await bandChart({
    title: 'Input of the second ReLU: 15th to 85th percentile (band) and median (line)',
    xLabel: 'step',
    yLabel: 'activation',
    series: (['withBn', 'withoutBn'] as const).map((k) => ({ name: k === 'withBn' ? 'with BN' : 'without BN', x: actSteps[k], lo: acts[k]['hidden 2']!.p15, hi: acts[k]['hidden 2']!.p85, mid: acts[k]['hidden 2']!.p50 })),
  }));

  // 10. histograms of the learned weights
  log('\n10. Learned weights per Linear layer: from the same initial weights, with and without BN');
  gg.manualSeed(0); // trainMlp's seed: the initial weights of both runs (BN layers draw no random numbers)
  const init = mlp(false, device);
  const linearWeights = async (m: gg.nn.Module) => Promise.all([...m.modules()].filter((l): l is gg.nn.Linear => l instanceof gg.nn.Linear).map(async (l) => Float64Array.from(await l.weight.data())));
  const [w0, wBn, wNo] = await Promise.all([linearWeights(init), linearWeights(withBn.model), linearWeights(without.model)]);
  for (const p of init.parameters()) p.dispose();
  const bins = 60;
  const weights: BnExperimentsResult['weights'] = w0.map((w, i) => {
    const edges = sharedEdges([w, wBn[i]!, wNo[i]!], bins);
    return { layer: `fc${i + 1}`, edges, init: histogram(w, edges), withBn: histogram(wBn[i]!, edges), withoutBn: histogram(wNo[i]!, edges) };
  });
  log(table(['layer', 'std init', 'std with BN', 'std without BN', 'max |w| with / without', '|w| < 0.01 with / without'], weights.map((w) => [
    w.layer,
    w.init.std.toFixed(4),
    w.withBn.std.toFixed(4),
    w.withoutBn.std.toFixed(4),
    `${Math.max(-w.withBn.min, w.withBn.max).toFixed(3)} / ${Math.max(-w.withoutBn.min, w.withoutBn.max).toFixed(3)}`,
    `${(w.withBn.nearZero * 100).toFixed(1)}% / ${(w.withoutBn.nearZero * 100).toFixed(1)}%`,
  ])));
  for (const w of weights) {
    save(`bn-weights-${w.layer}.png`, await histogramChart({
      title: `Weights of ${w.layer} (${bins} bins): initial, trained with BN, trained without BN`,
      xLabel: 'weight',
      series: [
        { name: 'initial', edges: w.edges, counts: w.init.counts },
        { name: 'with BN', edges: w.edges, counts: w.withBn.counts },
        { name: 'without BN', edges: w.edges, counts: w.withoutBn.counts },
      ],
    }));
  }

  const result: BnExperimentsResult = {
    device,
    scratch: { float64: s64, device: sDev, allclose: scratchOk },
    manualBackward,
    runs,
    lrSensitivity,
    monitor,
    trainVsEval: tve,
    resnet: resnetRes,
    lstm: { steps: lsteps, withBn: lb.losses, withoutBn: ln.losses, msWithBn: lb.ms, msWithoutBn: ln.ms },
    landscape: landscapeRes,
    activations: { steps: actSteps, withBn: acts.withBn, withoutBn: acts.withoutBn },
    weights,
    plots,
    ms: performance.now() - t0,
  };
  writeFileSync(join(out, 'bn-results.json'), JSON.stringify(result, null, 2));
  log(`\nwrote ${plots.join(', ')}, ${join(out, 'bn-results.json')} in ${fmtSeconds(result.ms)}`);
  return result;
}

/** The command line, printed on a mistake and by `--help`. */
export const USAGE = 'usage: batchnorm-experiments [--quick] [--device NAME] [--out DIR]';

if (isMain(import.meta.url)) {
  await runCli(USAGE, async () => {
    const values = parseFlags(USAGE, { quick: { type: 'boolean' }, out: { type: 'string' }, device: { type: 'string' } });
    await main({ quick: values.quick, out: values.out, device: values.device });
  });
}
