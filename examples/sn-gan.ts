/**
 * A spectrally normalised GAN on a 2-D mixture of eight Gaussians.
 *
 * Discriminator: an SN-ResNet for 2-D data: Linear(2, h), residual blocks
 * `x + L₂(ReLU(L₁(ReLU(x))))`, ReLU, Linear(h, 1), with spectral norm on every
 * Linear through `gg.nn.utils.applySpectralNorm`. (For images the blocks
 * would be Conv2d with average-pool downsampling and a global sum pooling
 * before the last Linear; on points there is nothing to pool.) Hinge loss,
 * Adam(β₁ = 0.5).
 * Generator: an MLP from 8-D noise to the plane.
 *
 * Plots in `--out`: `gan-samples-<step>.png` (real vs generated points at a
 * few snapshots) and `gan-sigma.png`: the largest singular value of each
 * layer's normalised weight W/σ̂, measured on the host by power iteration,
 * which spectral normalisation keeps near 1 throughout training.
 *
 * Run: `node dist/examples/sn-gan.js [--steps N] [--device NAME] [--quick] [--out DIR]`
 *
 * @module
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as gg from '../src/index.js';
import { fmtSeconds, isMain, numberFlag, openExample, parseFlags, runCli, since, table } from './lib/cli.js';
import { gaussian, mulberry32 } from './lib/rng.js';
import { lineChart, scatterChart, writePng, type ScatterChartOptions } from './lib/plot.js';
import { progressBar } from './lib/progress.js';

/** Options of {@link main}. */
export interface SnGanOptions {
  /** Training steps (default 1000; quick 150). */
  steps?: number;
  /** Batch size (default 128). */
  batch?: number;
  /** Hidden width (default 64). */
  hidden?: number;
  /** Residual blocks in the discriminator (default 2). */
  blocks?: number;
  /** Adam learning rate (default 1e-3). */
  lr?: number;
  device?: string;
  seed?: number;
  quick?: boolean;
  out?: string;
  verbose?: boolean;
}

/** What {@link main} measured. */
export interface SnGanResult {
  device: string;
  steps: number;
  ms: number;
  /** σ(W/σ̂) of every spectral-normed layer at each measurement step. */
  sigmaHistory: { step: number; sigma: Record<string, number> }[];
  /** The last entry of `sigmaHistory`. */
  finalSigma: Record<string, number>;
  /** Share of generated points within 0.5 of a mode, and how many of the 8 modes got at least 2% of them. */
  quality: { nearMode: number; modesCovered: number };
  losses: { step: number; d: number; g: number }[];
  plots: string[];
}

/** `x + L₂(ReLU(L₁(ReLU(x))))`, width-preserving. */
export class ResBlock extends gg.nn.Module {
  declare readonly l1: gg.nn.Linear;
  declare readonly l2: gg.nn.Linear;
  constructor(width: number, device: string) {
    super();
    this.registerModule('l1', new gg.nn.Linear(width, width, { device }));
    this.registerModule('l2', new gg.nn.Linear(width, width, { device }));
  }
  override forward(x: gg.Tensor): gg.Tensor {
    return x.add(this.l2.call(this.l1.call(x.relu()).relu()));
  }
}

/** The SN-ResNet discriminator for points in the plane (spectral norm applied by the caller). */
export function discriminator(hidden: number, blocks: number, device: string): gg.nn.Sequential {
  const layers: gg.nn.Module[] = [new gg.nn.Linear(2, hidden, { device })];
  for (let i = 0; i < blocks; i++) layers.push(new ResBlock(hidden, device));
  layers.push(new gg.nn.ReLU(), new gg.nn.Linear(hidden, 1, { device }));
  return new gg.nn.Sequential(...layers);
}

/** The generator: noise (8) → hidden → hidden → point (2). */
export function generator(hidden: number, device: string): gg.nn.Sequential {
  return new gg.nn.Sequential(
    new gg.nn.Linear(8, hidden, { device }),
    new gg.nn.ReLU(),
    new gg.nn.Linear(hidden, hidden, { device }),
    new gg.nn.ReLU(),
    new gg.nn.Linear(hidden, 2, { device }),
  );
}

const MODES = Array.from({ length: 8 }, (_, k) => [2 * Math.cos((k * Math.PI) / 4), 2 * Math.sin((k * Math.PI) / 4)] as const);

/** n points of the eight-Gaussian mixture (radius 2, std 0.05), flat (n·2). */
function realPoints(n: number, rand: () => number): Float32Array {
  const out = new Float32Array(2 * n);
  for (let i = 0; i < n; i++) {
    const [mx, my] = MODES[Math.floor(rand() * 8)]!;
    out[2 * i] = mx + 0.05 * gaussian(rand);
    out[2 * i + 1] = my + 0.05 * gaussian(rand);
  }
  return out;
}

/**
 * The largest singular value of a (rows × cols) row-major matrix by power
 * iteration on the host (float64).
 */
export function largestSingularValue(w: ArrayLike<number>, rows: number, cols: number, iterations = 200): number {
  let v = Float64Array.from({ length: cols }, (_, i) => Math.sin(i + 1) + 1.5);
  let sigma = 0;
  for (let it = 0; it < iterations; it++) {
    const u = new Float64Array(rows);
    for (let r = 0; r < rows; r++) {
      let s = 0;
      for (let c = 0; c < cols; c++) s += (w[r * cols + c] as number) * (v[c] as number);
      u[r] = s;
    }
    const un = Math.hypot(...u) || 1;
    for (let r = 0; r < rows; r++) u[r] = (u[r] as number) / un;
    const nv = new Float64Array(cols);
    for (let c = 0; c < cols; c++) {
      let s = 0;
      for (let r = 0; r < rows; r++) s += (w[r * cols + c] as number) * (u[r] as number);
      nv[c] = s;
    }
    sigma = Math.hypot(...nv);
    v = nv.map((x) => x / (sigma || 1));
  }
  return sigma;
}

/** σ(W/σ̂) for every Linear of `model` (read in eval mode, so no power iteration runs on the module). */
async function sigmas(model: gg.nn.Module): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  const wasTraining = model.training;
  model.eval();
  for (const [name, m] of model.namedModules()) {
    if (!(m instanceof gg.nn.Linear)) continue;
    const w = gg.noGrad(() => m.weight.detach());
    const data = await w.data();
    const [rows, cols] = w.shape as [number, number];
    out[name] = largestSingularValue(data, rows, cols);
    w.dispose();
  }
  model.train(wasTraining);
  return out;
}

/**
 * The scatter plot of real and generated points at `step` (flat (x₁, x₂)
 * pairs): both axes −3..3 at the same scale (`equalAspect`), so the ring of
 * modes is a circle, in a 360-pixel square plot area.
 */
export function samplePlotOptions(step: number, real: Float32Array, gen: Float32Array): ScatterChartOptions {
  const xs = (a: Float32Array, k: number) => Array.from({ length: a.length / 2 }, (_, i) => a[2 * i + k] as number);
  return {
    title: `SN-GAN on eight Gaussians, step ${step}`,
    xLabel: 'x₁',
    yLabel: 'x₂',
    xDomain: [-3, 3],
    yDomain: [-3, 3],
    equalAspect: true,
    width: 360,
    height: 360,
    series: [
      { name: 'real', x: xs(real, 0), y: xs(real, 1) },
      { name: 'generated', x: xs(gen, 0), y: xs(gen, 1) },
    ],
  };
}

/** Train the GAN, measure σ per layer, plot. */
export async function main(opts: SnGanOptions = {}): Promise<SnGanResult> {
  const quick = opts.quick ?? false;
  const steps = opts.steps ?? (quick ? 150 : 1000);
  const batch = opts.batch ?? 128;
  const hidden = opts.hidden ?? 64;
  const blocks = opts.blocks ?? 2;
  const lr = opts.lr ?? 1e-3;
  const seed = opts.seed ?? 0;
  const out = opts.out ?? 'out';
  const verbose = opts.verbose ?? true;
  const { log, device } = await openExample({ quick, verbose, device: opts.device });

  gg.manualSeed(seed);
  const D = discriminator(hidden, blocks, device);
  const normed = gg.nn.utils.applySpectralNorm(D);
  const G = generator(hidden, device);
  log(`spectral norm on: ${normed.join(', ')}`);
  const optD = new gg.optim.Adam(D.parameters(), { lr, betas: [0.5, 0.999] });
  const optG = new gg.optim.Adam(G.parameters(), { lr, betas: [0.5, 0.999] });
  const rand = mulberry32(seed + 7);
  const fixedNoise = gg.keep(gg.randn([512, 8], { device }));

  const snapshotsAt = [...new Set([0, Math.round(steps / 4), Math.round(steps / 2), steps])];
  const sigmaEvery = Math.max(1, Math.round(steps / 30));
  const sigmaHistory: { step: number; sigma: Record<string, number> }[] = [];
  const losses: { step: number; d: number; g: number }[] = [];
  const plots: string[] = [];
  mkdirSync(out, { recursive: true });
  const samples = async (): Promise<Float32Array> => {
    const t = gg.noGrad(() => G.call(fixedNoise));
    const d = Float32Array.from(await t.data());
    t.dispose();
    return d;
  };
  const snapshot = async (step: number) => {
    const gen = await samples();
    if (process.env.GAN_DEBUG) writeFileSync(join(out, `gen-${step}.json`), JSON.stringify(Array.from(gen)));
    const real = realPoints(512, mulberry32(99));
    const png = await scatterChart(samplePlotOptions(step, real, gen));
    const path = join(out, `gan-samples-${String(step).padStart(5, '0')}.png`);
    writePng(path, png);
    plots.push(path);
  };

  const t0 = performance.now();
  const bar = verbose ? progressBar('SN-GAN', steps) : null;
  for (let step = 0; step <= steps; step++) {
    if (step % sigmaEvery === 0 || step === steps) sigmaHistory.push({ step, sigma: await sigmas(D) });
    if (snapshotsAt.includes(step)) await snapshot(step);
    if (step === steps) break;
    const real = gg.tensor(realPoints(batch, rand), { shape: [batch, 2], device });
    const [dl, gl] = gg.tidy(() => {
      // discriminator: hinge loss on real and (detached) fake points
      const fake = gg.noGrad(() => G.call(gg.randn([batch, 8], { device })));
      optD.zeroGrad();
      const lossD = D.call(real).neg().add(1).relu().mean().add(D.call(fake).add(1).relu().mean());
      lossD.backward();
      optD.step();
      // generator: −E[D(G(z))]
      optG.zeroGrad();
      const lossG = D.call(G.call(gg.randn([batch, 8], { device }))).mean().neg();
      lossG.backward();
      optG.step();
      return [lossD.detach(), lossG.detach()];
    });
    real.dispose();
    const d = await dl!.item();
    const g = await gl!.item();
    dl!.dispose();
    gl!.dispose();
    losses.push({ step, d, g });
    bar?.update(step + 1, { loss: d, speed: `G ${g.toFixed(3)}` });
  }
  bar?.stop();
  const ms = since(t0);

  // quality: fraction of generated points near a mode, and modes hit
  const gen = await samples();
  const counts = new Array<number>(8).fill(0);
  let near = 0;
  for (let i = 0; i < gen.length / 2; i++) {
    const x = gen[2 * i] as number;
    const y = gen[2 * i + 1] as number;
    let best = 0;
    let bd = Infinity;
    MODES.forEach(([mx, my], k) => {
      const dd = Math.hypot(x - mx, y - my);
      if (dd < bd) [bd, best] = [dd, k];
    });
    if (bd < 0.5) {
      near++;
      counts[best] = (counts[best] ?? 0) + 1;
    }
  }
  const n = gen.length / 2;
  const quality = { nearMode: near / n, modesCovered: counts.filter((c) => c >= 0.02 * n).length };

  const names = Object.keys(sigmaHistory[0]?.sigma ?? {});
  const sigmaPng = await lineChart({
    title: 'σ(W/σ̂) per spectral-normed layer (host power iteration)',
    xLabel: 'training step',
    yLabel: 'largest singular value',
    yDomain: [0.8, 1.2],
    series: names.map((name) => ({
      name: `D.${name}`,
      x: sigmaHistory.map((h) => h.step),
      y: sigmaHistory.map((h) => h.sigma[name] ?? NaN),
    })),
  });
  plots.push(join(out, 'gan-sigma.png'));
  writePng(plots.at(-1)!, sigmaPng);
  const lossPng = await lineChart({
    title: 'SN-GAN hinge losses',
    xLabel: 'training step',
    yLabel: 'loss',
    series: [
      { name: 'discriminator', x: losses.map((l) => l.step), y: losses.map((l) => l.d) },
      { name: 'generator', x: losses.map((l) => l.step), y: losses.map((l) => l.g) },
    ],
  });
  plots.push(join(out, 'gan-loss.png'));
  writePng(plots.at(-1)!, lossPng);

  const finalSigma = sigmaHistory.at(-1)?.sigma ?? {};
  log(`\n${steps} steps in ${fmtSeconds(ms)} (${((ms / Math.max(steps, 1))).toFixed(1)} ms/step)`);
  log(table(['layer', 'σ(W/σ̂) final', 'max |σ−1| over training'], names.map((name) => [
    `D.${name}`,
    (finalSigma[name] ?? NaN).toFixed(4),
    Math.max(...sigmaHistory.map((h) => Math.abs((h.sigma[name] ?? NaN) - 1))).toFixed(4),
  ])));
  log(`generated points within 0.5 of a mode: ${(quality.nearMode * 100).toFixed(1)}%, modes covered: ${quality.modesCovered}/8`);
  const result: SnGanResult = { device, steps, ms, sigmaHistory, finalSigma, quality, losses, plots };
  writeFileSync(join(out, 'sn-gan.json'), JSON.stringify(result, null, 2));
  log(`wrote ${plots.join(', ')}`);
  fixedNoise.dispose();
  return result;
}

/** The command line, printed on a mistake and by `--help`. */
export const USAGE = 'usage: sn-gan [--steps N] [--batch N] [--lr X] [--device NAME] [--seed N] [--out DIR] [--quick]';

if (isMain(import.meta.url)) {
  await runCli(USAGE, async () => {
    const values = parseFlags(USAGE, {
      steps: { type: 'string' },
      batch: { type: 'string' },
      lr: { type: 'string' },
      device: { type: 'string' },
      seed: { type: 'string' },
      out: { type: 'string' },
      quick: { type: 'boolean' },
    });
    await main({
      steps: numberFlag('--steps', values.steps, { integer: true }),
      batch: numberFlag('--batch', values.batch, { integer: true }),
      lr: numberFlag('--lr', values.lr),
      device: values.device,
      seed: numberFlag('--seed', values.seed),
      out: values.out,
      quick: values.quick,
    });
  });
}
