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
 * 7. an LSTM with batch-normalised gates on the adding problem.
 *
 * Plots in `--out`: bn-loss.png, bn-accuracy.png, bn-grad-norms.png,
 * bn-lr-sensitivity.png, bn-monitor.png, bn-lstm.png; numbers in bn-results.json.
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
import { mnistSubset, trainMlp, trainVsEval, type BnRun, type MonitorStats } from './bn/mnist-bn.js';
import { miniResNet } from './bn/resnet.js';
import { compareWithBuiltin, type Comparison } from './bn/scratch.js';
import { describeDevice, fmtSeconds, isMain, logger, parseFlags, pickDevice, runCli, SMOKE_TEST_NOTE, table } from './lib/cli.js';
import { mulberry32, permutation } from './lib/rng.js';
import { gatherMnist } from './lib/mnist.js';
import { barChart, lineChart, writePng } from './lib/plot.js';

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
  plots: string[];
  ms: number;
}

const mean = (v: number[]) => v.reduce((a, b) => a + b, 0) / Math.max(v.length, 1);

/** Run every experiment, print, plot. */
export async function main(opts: BnExperimentsOptions = {}): Promise<BnExperimentsResult> {
  const t0 = performance.now();
  const quick = opts.quick ?? false;
  const out = opts.out ?? 'out';
  const verbose = opts.verbose ?? true;
  const log = logger(verbose);
  if (quick) log(SMOKE_TEST_NOTE);
  const device = await pickDevice(opts.device);
  log(`device ${describeDevice(device)}`);
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
  const withBn = await trainMlp({ withBn: true, lr, epochs, data, device, monitor: true });
  const without = await trainMlp({ withBn: false, lr, epochs, data, device });
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
      const l = ce.call(logits, gg.tensor(labels, { device }));
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
