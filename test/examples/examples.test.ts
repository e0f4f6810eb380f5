/**
 * Each example's quick mode, run through its exported `main`, with the
 * claims the examples make checked: accuracy, gradcheck verdicts, σ near 1,
 * allclose, and valid PNGs of the expected size.
 */
import { expect } from 'chai';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main as bnExperiments } from '../../examples/batchnorm-experiments.js';
import { main as deviceTour } from '../../examples/device-tour.js';
import { main as gradcheckTour } from '../../examples/gradcheck-tour.js';
import { main as mnistNorms } from '../../examples/mnist-norms.js';
import { main as snGan } from '../../examples/sn-gan.js';
import { pngSize } from '../../examples/lib/plot.js';

function expectPng(path: string, width: number, height: number): void {
  expect(existsSync(path), path).to.equal(true);
  expect(pngSize(readFileSync(path)), path).to.deep.equal({ width, height });
}

describe('examples (quick mode)', function () {
  this.timeout(900_000); // mnist-norms takes 130-160 s alone on 2 cores, several times that on a loaded machine
  let out: string;
  before(() => {
    out = mkdtempSync(join(tmpdir(), 'gpugrad-examples-'));
  });
  after(() => rmSync(out, { recursive: true, force: true }));

  it('gradcheck-tour: the right backwards pass, the wrong one fails with the Jacobian report', async () => {
    const { checks, ok } = await gradcheckTour({ quick: true, out, verbose: false });
    expect(ok).to.equal(true);
    const wrong = checks.filter((c) => !c.expected);
    expect(wrong).to.have.length(1);
    expect(wrong[0]!.passed).to.equal(false);
    expect(wrong[0]!.message).to.match(/^Jacobian mismatch for output 0 with respect to input 0/);
    const right = checks.filter((c) => c.expected);
    expect(right.map((c) => c.name)).to.include.members([
      'SiLU, right backward',
      'BatchNorm2d (input, weight, bias)',
      'SwitchableNorm2d (input)',
      'spectral-normed Conv2d (input)',
    ]);
    for (const c of right) expect(c.passed, `${c.kind} ${c.name}: ${c.message ?? ''}`).to.equal(true);
    // forward mode beside reverse mode, both against finite differences
    const fwdRev = checks.filter((c) => c.kind === 'fwd+rev').map((c) => c.name);
    expect(fwdRev).to.include.members(['SiLU, right backward', 'BatchNorm2d (input, weight, bias)', 'SwitchableNorm2d (input)', 'spectral-normed Conv2d (input)']);
    expect(checks.find((c) => c.kind === 'forward')?.name).to.equal('SiLU, wrong backward: forward mode only');
    expect(checks.find((c) => c.kind === 'jacobian')?.passed).to.equal(true);
  });

  it('batchnorm-experiments: from-scratch BN matches nn.BatchNorm2d, the hand-written backward gradchecks', async () => {
    const r = await bnExperiments({ quick: true, out, verbose: false });
    for (const c of [...r.scratch.float64, ...r.scratch.device]) expect(c.allclose, `${c.what}: ${c.maxAbsDiff}`).to.equal(true);
    expect(r.scratch.allclose).to.equal(true);
    expect(r.manualBackward.gradcheck).to.equal(true);
    for (const c of r.manualBackward.vsBuiltin) expect(c.allclose, `${c.what}: ${c.maxAbsDiff}`).to.equal(true);
    // the monitor saw both BN layers, forward and backward
    expect(Object.keys(r.monitor)).to.have.length(2);
    for (const s of Object.values(r.monitor)) {
      expect(s.std.length).to.be.greaterThan(0);
      expect(s.gradNorm.length).to.equal(s.std.length);
    }
    expect(r.resnet.outputShape).to.deep.equal([32, 10]);
    expect(r.runs.find((run) => run.withBn)!.finalAccuracy).to.be.greaterThan(0.7);
    for (const p of r.plots) expect(pngSize(readFileSync(p)).width).to.equal(640);
    expect(r.plots).to.have.length(15);
    // 8. probes along the gradient: one loss and one gradient change per step size, at the same steps in both runs
    const land = r.landscape;
    expect(land.withBn.length).to.be.greaterThan(2);
    expect(land.withBn.map((p) => p.step)).to.deep.equal(land.withoutBn.map((p) => p.step));
    for (const p of [...land.withBn, ...land.withoutBn]) {
      expect(p.losses).to.have.length(land.etas.length);
      expect(p.gradChange).to.have.length(land.etas.length);
      for (const v of [p.loss, ...p.losses, ...p.gradChange, p.beta]) expect(Number.isFinite(v), String(v)).to.equal(true);
      expect(p.gradChange.every((c) => c > 0)).to.equal(true);
    }
    // 9. activation statistics: ReLU inputs and logits, both runs; with BN the ReLU inputs have mean ≈ 0 and std ≈ 1
    for (const k of ['withBn', 'withoutBn'] as const) {
      expect(Object.keys(r.activations[k])).to.deep.equal(['hidden 1', 'hidden 2', 'logits']);
      for (const a of Object.values(r.activations[k])) expect(a.std.length).to.equal(r.activations.steps[k].length);
    }
    for (const h of ['hidden 1', 'hidden 2']) {
      expect(Math.abs(r.activations.withBn[h]!.mean[0]!)).to.be.lessThan(1e-3);
      expect(r.activations.withBn[h]!.std[0]!).to.be.closeTo(1, 0.01);
      const a = r.activations.withBn[h]!;
      expect(a.p15[0]!).to.be.lessThan(a.p50[0]!);
      expect(a.p50[0]!).to.be.lessThan(a.p85[0]!);
    }
    // 10. weight histograms: every weight counted, the same initial weights for both runs
    expect(r.weights.map((w) => w.layer)).to.deep.equal(['fc1', 'fc2', 'fc3']);
    const sizes = [784 * 128, 128 * 64, 64 * 10];
    r.weights.forEach((w, i) => {
      for (const h of [w.init, w.withBn, w.withoutBn]) expect(h.counts.reduce((a, b) => a + b, 0)).to.equal(sizes[i]);
      expect(w.edges).to.have.length(w.init.counts.length + 1);
    });
    const json = JSON.parse(readFileSync(join(out, 'bn-results.json'), 'utf8')) as Record<string, unknown>;
    expect(json).to.include.keys('landscape', 'activations', 'weights');
  });

  it('sn-gan: every spectral-normed layer ends with σ(W/σ̂) within 0.05 of 1', async () => {
    const r = await snGan({ quick: true, out, verbose: false });
    const names = Object.keys(r.finalSigma);
    expect(names.length).to.equal(2 + 2 * 2); // input, 2 blocks × 2, output
    // early on Adam moves W faster than one power iteration per step tracks it; by the end σ̂ has caught up
    for (const [name, s] of Object.entries(r.finalSigma)) expect(Math.abs(s - 1), `${name}: σ ${s}`).to.be.lessThan(0.05);
    expectPng(join(out, 'gan-sigma.png'), 640, 400);
    // the sample plots have a 1:1 plot area; the image adds axes, title and legend around it
    const samples = pngSize(readFileSync(join(out, 'gan-samples-00000.png')));
    expect(samples.width).to.be.within(360, 640);
    expect(samples.height).to.be.within(360, 500);
  });

  it('device-tour: every device agrees with cpu', async () => {
    const r = await deviceTour({ quick: true, verbose: false });
    // every device was tried, and each one that is not here has its reason
    for (const d of r.tried.filter((t) => t !== 'cpu' && t !== 'gpu')) {
      expect(r.rows.some((row) => row.device === d) || d in r.unavailable, d).to.equal(true);
    }
    expect(r.rows[0]!.device).to.equal('cpu');
    for (const row of r.rows) {
      expect(row.lossDiff, row.device).to.be.lessThan(1e-3);
      expect(row.weightDiff, row.device).to.be.lessThan(1e-3);
    }
  });

  it('mnist-norms: three runs, BatchNorm2d beats the quick-mode bar, plots and results.json written', async () => {
    const r = await mnistNorms({ quick: true, out, verbose: false });
    expect(r.runs.map((x) => x.norm)).to.deep.equal(['BatchNorm2d', 'SwitchableNorm2d', 'none']);
    const acc = Object.fromEntries(r.runs.map((x) => [x.norm, x.testAccuracy]));
    // measured on the quick subset (1,500 train / 300 test, one epoch): 83–86% for all three
    expect(acc.BatchNorm2d).to.be.greaterThan(0.75);
    expect(acc.SwitchableNorm2d).to.be.greaterThan(0.75);
    expect(acc.none).to.be.greaterThan(0.75);
    // memory stays flat: every step ran in gg.tidy. No growth rather than equality: tensors that
    // earlier tests dropped are freed by finalizers, which reads now give a turn, during the run
    for (const run of r.runs) expect(run.liveBuffers.after).to.be.at.most(run.liveBuffers.before);
    const sw = r.runs[1]!.switchWeights!;
    expect(sw).to.have.length(2);
    for (const l of sw) for (const v of [l.mean, l.var]) expect(v.reduce((a, b) => a + b, 0)).to.be.closeTo(1, 1e-5);
    expectPng(join(out, 'loss.png'), 640, 400);
    expectPng(join(out, 'accuracy.png'), 640, 400);
    expectPng(join(out, 'switchable-weights.png'), 640, 400);
    const json = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as { runs: unknown[]; accuracyAxis: [number, number] };
    expect(json.runs).to.have.length(3);
    // the accuracy plot's y axis (percent) holds every final accuracy and is narrower than 0–100
    const [lo, hi] = json.accuracyAxis;
    for (const run of r.runs) expect(run.accuracyCurve.at(-1)!.accuracy * 100).to.be.within(lo, hi);
    expect(hi - lo).to.be.lessThan(60);
    expect(sw.map((l) => l.layer)).to.deep.equal(['after conv 1 (model.1, 8 channels)', 'after conv 2 (model.5, 16 channels)']);
  });
});
