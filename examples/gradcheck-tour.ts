/**
 * A tour of `gg.autograd.gradcheck` and `gradgradcheck` (float64, cpu):
 *
 * 1. a custom `autograd.Function` (SiLU, x·σ(x)) with a right backward passes,
 *    and the same op with a deliberately wrong backward fails, with the
 *    `Jacobian mismatch for output 0 with respect to input 0` report; the
 *    error carries both Jacobians as tensors, drawn with their difference as
 *    heatmaps into `out/gradcheck-jacobians.png`, so the wrong entries show
 *    at a glance (here: the diagonal, since SiLU is elementwise);
 * 2. gradcheck and gradgradcheck of BatchNorm2d and SwitchableNorm2d in
 *    training mode (batch statistics), with respect to the input and to the
 *    affine parameters;
 * 3. a spectral-normed Conv2d: the input gradient through the layer, and the
 *    parametrization W ↦ W/σ(W) itself (σ = uᵀWv with u, v fixed in eval mode);
 * 4. forward mode beside reverse mode: `gradcheck(..., { checkForwardAd: true })`
 *    compares both Jacobians (one dual pass per input element, one backward
 *    per output element) with finite differences, for SiLU, the two norm
 *    layers and the spectral-normed conv; the wrong SiLU passes forward mode
 *    alone (its tangent comes from its forward, by composition), and
 *    `autograd.functional.jacobian` gives the same matrix either way.
 *
 * Run: `node dist/examples/gradcheck-tour.js [--quick] [--out DIR]`
 *
 * @module
 */
import * as gg from '../src/index.js';
import { isMain, logger, parseFlags, runCli, SMOKE_TEST_NOTE } from './lib/cli.js';
import { heatmaps, writePng } from './lib/plot.js';

/** SiLU with the right backward: d/dx x·σ(x) = σ(x)·(1 + x·(1 − σ(x))). */
export class SiLU extends gg.autograd.Function {
  static override forward(ctx: gg.autograd.FunctionCtx, x: gg.Tensor): gg.Tensor {
    ctx.saveForBackward(x);
    return x.mul(x.sigmoid());
  }
  static override backward(ctx: gg.autograd.FunctionCtx, g: gg.Tensor): gg.Tensor {
    const [x] = ctx.savedTensors as [gg.Tensor];
    const s = x.sigmoid();
    return g.mul(s.mul(x.mul(s.neg().add(1)).add(1)));
  }
}

/** SiLU with a wrong backward: the same forward, but backward forgets the x·σ'(x) term. */
export class WrongSiLU extends SiLU {
  static override backward(ctx: gg.autograd.FunctionCtx, g: gg.Tensor): gg.Tensor {
    const [x] = ctx.savedTensors as [gg.Tensor];
    return g.mul(x.sigmoid());
  }
}

/** One check's outcome. */
export interface CheckResult {
  name: string;
  kind: Kind;
  /** What the tour expects: the wrong backward must fail, everything else pass. */
  expected: boolean;
  passed: boolean;
  /** The error message of a failed check (first lines). */
  message?: string;
  ms: number;
}

/** Options of {@link main}. */
export interface GradcheckTourOptions {
  /** Fewer, smaller checks (tests). */
  quick?: boolean;
  /** Where the Jacobian heatmap goes (default `out`). */
  out?: string;
  verbose?: boolean;
}

/** Result of {@link main}. */
export interface GradcheckTourResult {
  checks: CheckResult[];
  /** All checks gave the expected answer. */
  ok: boolean;
  /** The heatmap of the wrong backward's Jacobians (analytical, numerical, difference). */
  jacobianPng?: string;
}

const f64 = { dtype: 'float64' as const };

/** gradcheck, gradgradcheck, gradcheck of forward and reverse mode together or of forward mode alone, or a Jacobian compared across modes. */
type Kind = 'gradcheck' | 'gradgradcheck' | 'fwd+rev' | 'forward' | 'jacobian';

function check(kind: Kind, fn: (...xs: gg.Tensor[]) => gg.Tensor, inputs: gg.Tensor[]): Promise<boolean> {
  switch (kind) {
    case 'gradcheck':
      return gg.autograd.gradcheck(fn, inputs);
    case 'gradgradcheck':
      return gg.autograd.gradgradcheck(fn, inputs);
    case 'fwd+rev':
      return gg.autograd.gradcheck(fn, inputs, { checkForwardAd: true });
    case 'forward':
      return gg.autograd.gradcheck(fn, inputs, { checkForwardAd: true, checkBackwardAd: false });
    case 'jacobian':
      throw new Error('internal: jacobian comparisons are recorded directly');
  }
}

/** Run every check; prints a line each. */
export async function main(opts: GradcheckTourOptions = {}): Promise<GradcheckTourResult> {
  const verbose = opts.verbose ?? true;
  const quick = opts.quick ?? false;
  const log = logger(verbose);
  if (quick) log(SMOKE_TEST_NOTE);
  const checks: CheckResult[] = [];
  const run = async (
    name: string,
    kind: Kind,
    expected: boolean,
    fn: (...xs: gg.Tensor[]) => gg.Tensor,
    inputs: gg.Tensor[],
  ) => {
    const t0 = performance.now();
    let passed: boolean;
    let message: string | undefined;
    let error: unknown;
    try {
      passed = await check(kind, fn, inputs);
    } catch (e) {
      passed = false;
      message = (e as Error).message;
      error = e;
    }
    const ms = performance.now() - t0;
    checks.push({ name, kind, expected, passed, ...(message ? { message } : {}), ms });
    const verdict = passed === expected ? 'as expected' : 'UNEXPECTED';
    log(`${kind.padEnd(13)} ${name.padEnd(44)} ${passed ? 'pass' : 'FAIL'} (${verdict}, ${ms.toFixed(0)} ms)`);
    if (message && verbose) {
      const lines = message.split('\n');
      log(lines.slice(0, 12).map((l) => `    | ${l}`).join('\n') + (lines.length > 12 ? '\n    | ...' : ''));
    }
    return error;
  };

  gg.manualSeed(0);
  log('1. A custom autograd.Function: SiLU(x) = x·σ(x)');
  const x = gg.randn([2, 3], { ...f64, requiresGrad: true });
  await run('SiLU, right backward', 'gradcheck', true, (a) => SiLU.apply(a), [x]);
  await run('SiLU, right backward', 'gradgradcheck', true, (a) => SiLU.apply(a), [x]);
  const wrong = await run('SiLU, wrong backward (forgets x·σ′(x))', 'gradcheck', false, (a) => WrongSiLU.apply(a), [x]);
  let jacobianPng: string | undefined;
  if (wrong instanceof gg.autograd.GradcheckError && wrong.analytical && wrong.numerical) {
    jacobianPng = `${opts.out ?? 'out'}/gradcheck-jacobians.png`;
    await drawJacobians(wrong.analytical, wrong.numerical, jacobianPng);
    log(`    the Jacobians and their difference: ${jacobianPng}`);
  }
  // forward mode never calls backward: the tangent flows through the ops of forward
  await run('SiLU, wrong backward: forward mode only', 'forward', true, (a) => WrongSiLU.apply(a), [x]);
  await run('SiLU, right backward', 'fwd+rev', true, (a) => SiLU.apply(a), [x]);

  log('\n2. Normalisation layers in training mode (float64)');
  const [n, c, h, w] = quick ? [2, 2, 2, 2] : [3, 3, 3, 3];
  const input = () => gg.randn([n, c, h, w], { ...f64, requiresGrad: true });
  const affine = () => [gg.randn([c], f64).mul(0.5).add(1).requiresGrad_(), gg.randn([c], f64).mul(0.5).requiresGrad_()];
  {
    const bn = new gg.nn.BatchNorm2d(c, f64);
    const [g, b] = affine() as [gg.Tensor, gg.Tensor];
    // NOTE: gradcheck perturbs the tensors it is given, so the layer's affine parameters are passed in as inputs
    const fn = (xx: gg.Tensor, gw: gg.Tensor, gb: gg.Tensor) => {
      bn.weight = gw;
      bn.bias = gb;
      return bn.call(xx);
    };
    const xi = input();
    await run('BatchNorm2d (input, weight, bias)', 'gradcheck', true, fn as (...t: gg.Tensor[]) => gg.Tensor, [xi, g, b]);
    await run('BatchNorm2d (input, weight, bias)', 'gradgradcheck', true, fn as (...t: gg.Tensor[]) => gg.Tensor, [xi, g, b]);
    await run('BatchNorm2d (input, weight, bias)', 'fwd+rev', true, fn as (...t: gg.Tensor[]) => gg.Tensor, [xi, g, b]);
  }
  {
    const sn = new gg.nn.SwitchableNorm2d(c, f64);
    gg.noGrad(() => {
      sn.meanWeight.assign(gg.tensor([0.3, -0.2, 0.5], f64));
      sn.varWeight.assign(gg.tensor([-0.4, 0.1, 0.6], f64));
    });
    const xi = input();
    const fn = (xx: gg.Tensor) => sn.call(xx);
    await run('SwitchableNorm2d (input)', 'gradcheck', true, fn, [xi]);
    await run('SwitchableNorm2d (input)', 'gradgradcheck', true, fn, [xi]);
    await run('SwitchableNorm2d (input)', 'fwd+rev', true, fn, [xi]);
    const mw = gg.tensor([0.3, -0.2, 0.5], { ...f64, requiresGrad: true });
    const vw = gg.tensor([-0.4, 0.1, 0.6], { ...f64, requiresGrad: true });
    const fnW = (xx: gg.Tensor, m: gg.Tensor, v: gg.Tensor) => {
      sn.meanWeight = m;
      sn.varWeight = v;
      return sn.call(xx);
    };
    await run('SwitchableNorm2d (input, mean_weight, var_weight)', 'gradcheck', true, fnW as (...t: gg.Tensor[]) => gg.Tensor, [xi, mw, vw]);
  }

  log('\n3. A spectral-normed Conv2d (eval mode: u and v fixed)');
  {
    const conv = gg.nn.utils.parametrizations.spectralNorm(new gg.nn.Conv2d(2, 3, 3, { padding: 1, ...f64 }));
    conv.eval();
    const xi = gg.randn([1, 2, quick ? 3 : 4, quick ? 3 : 4], { ...f64, requiresGrad: true });
    const fn = (xx: gg.Tensor) => conv.call(xx);
    await run('spectral-normed Conv2d (input)', 'gradcheck', true, fn, [xi]);
    await run('spectral-normed Conv2d (input)', 'gradgradcheck', true, fn, [xi]);
    await run('spectral-normed Conv2d (input)', 'fwd+rev', true, fn, [xi]);
    // conv.parametrizations.weight holds the original weight and the chain (here: the SpectralNorm module '0')
    const plist = (conv as unknown as { parametrizations: { weight: gg.nn.Module & { original: gg.Tensor } } }).parametrizations.weight;
    const snp = [...plist.children()][0]!;
    const w0 = plist.original.detach().clone().requiresGrad_();
    const fnW = (ww: gg.Tensor) => snp.forward(ww);
    await run('spectral norm W ↦ W/σ(W) (weight)', 'gradcheck', true, fnW, [w0]);
    if (!quick) await run('spectral norm W ↦ W/σ(W) (weight)', 'gradgradcheck', true, fnW, [w0]);
    await run('spectral norm W ↦ W/σ(W) (weight)', 'fwd+rev', true, fnW, [w0]);
  }

  log('\n4. One Jacobian, two modes: autograd.functional.jacobian of softmax(x·x)');
  {
    const xi = gg.randn([4], f64);
    const f = (t: gg.Tensor) => t.mul(t).softmax(0);
    const rev = gg.autograd.functional.jacobian(f, xi);
    const fwd = gg.autograd.functional.jacobian(f, xi, { strategy: 'forward-mode' });
    const diff = Math.max(...Array.from(rev.sub(fwd).abs().dataSync()));
    const passed = diff <= 1e-12;
    checks.push({ name: 'softmax(x·x): jacobian, forward mode = reverse mode', kind: 'jacobian', expected: true, passed, ms: 0 });
    log(`jacobian      reverse mode (a backward per output) and forward mode (a dual pass per input) differ by at most ${diff.toExponential(2)}: ${passed ? 'pass' : 'FAIL'}`);
  }

  const ok = checks.every((c) => c.passed === c.expected);
  log(`\n${checks.filter((c) => c.passed === c.expected).length}/${checks.length} checks gave the expected answer${ok ? '' : ' (SOME DID NOT)'}`);
  return { checks, ok, ...(jacobianPng ? { jacobianPng } : {}) };
}

/** Heatmaps of a gradcheck failure: analytical, numerical and analytical − numerical (rows: input elements). */
export async function drawJacobians(analytical: gg.Tensor, numerical: gg.Tensor, file: string): Promise<void> {
  const diff = analytical.sub(numerical);
  const rows = async (t: gg.Tensor) => (await t.array()) as number[][];
  const png = await heatmaps({
    title: 'gradcheck: WrongSiLU Jacobians (rows: input elements, columns: output elements)',
    xLabel: 'output element',
    yLabel: 'input element',
    panels: [
      { title: 'analytical (backward)', values: await rows(analytical) },
      { title: 'numerical (finite differences)', values: await rows(numerical) },
      { title: 'analytical − numerical', values: await rows(diff) },
    ],
  });
  diff.dispose();
  writePng(file, png);
}

/** The command line, printed on a mistake and by `--help`. */
export const USAGE = 'usage: gradcheck-tour [--quick] [--out DIR]   (exit status 1 when a verdict is unexpected)';

if (isMain(import.meta.url)) {
  await runCli(USAGE, async () => {
    const values = parseFlags(USAGE, { quick: { type: 'boolean' }, out: { type: 'string' } });
    const { ok } = await main({ quick: values.quick, out: values.out });
    return ok ? 0 : 1;
  });
}
