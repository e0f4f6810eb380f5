/**
 * The examples as commands: a mistake on the command line prints the reason
 * and the usage line (no stack trace) and exits 2; `--help` exits 0; the
 * device tour runs headless-gl beside cpu in a process of its own (the
 * command docs/notes/examples.md gives), and headless-gl's reason is right
 * when the `gl` package is missing. Also the plot checks that need no
 * training run: the GAN sample plot is 1:1, the accuracy axis fits the data.
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { accuracyRange, parseCli } from '../../examples/mnist-norms.js';
import { samplePlotOptions } from '../../examples/sn-gan.js';
import { UsageError } from '../../examples/lib/cli.js';
import { ActivationMonitor, histogram, probeLandscape, quantile, sharedEdges } from '../../examples/bn/landscape.js';
import * as gg from '../../src/index.js';
import { plotArea, scatterSpec } from '../../examples/lib/plot.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

function run(args: string[], timeout = 60_000): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, args, { cwd: root, encoding: 'utf8', timeout, env: { ...process.env } });
  return { status: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

const examples = ['batchnorm-experiments', 'device-tour', 'gradcheck-tour', 'micro-engine', 'mnist-norms', 'sn-gan', 'walkthrough'];
const withDevice = ['batchnorm-experiments', 'device-tour', 'mnist-norms', 'sn-gan'];
const STACK = /^\s+at /m;

describe('examples on the command line', function () {
  this.timeout(120_000);

  for (const name of examples) {
    it(`${name}: an unknown flag prints the usage line and exits 2, without a stack trace`, () => {
      const r = run([`dist/examples/${name}.js`, '--no-such-flag']);
      expect(r.status, r.stderr).to.equal(2);
      expect(r.stderr).to.match(/^error: Unknown option '--no-such-flag'/);
      expect(r.stderr).to.match(new RegExp(`^usage: ${name}\\b`, 'm'));
      expect(r.stderr).not.to.match(STACK);
      expect(r.stdout).to.equal('');
    });
  }

  for (const name of withDevice) {
    it(`${name}: an unknown device prints gpugrad's reason and the usage line and exits 2`, () => {
      const r = run([`dist/examples/${name}.js`, '--quick', '--device', 'gpu:nope']);
      expect(r.status, r.stderr).to.equal(2);
      expect(r.stderr).to.match(/^error: --device gpu:nope: .*unknown device 'gpu:nope'; expected one of cpu, gpu/m);
      expect(r.stderr).to.match(new RegExp(`^usage: ${name}\\b`, 'm'));
      expect(r.stderr).not.to.match(STACK);
    });
  }

  it('a value that is not a number is a usage error; --help prints the usage line and exits 0', () => {
    const bad = run(['dist/examples/sn-gan.js', '--steps', 'many']);
    expect(bad.status).to.equal(2);
    expect(bad.stderr).to.match(/^error: --steps expects a number, got 'many'/);
    expect(bad.stderr).not.to.match(STACK);
    const help = run(['dist/examples/gradcheck-tour.js', '--help']);
    expect(help.status).to.equal(0);
    expect(help.stdout).to.match(/^usage: gradcheck-tour \[--quick\]/);
    expect(() => parseCli(['--norms', 'BatchNorm2d,GroupNorm'])).to.throw(UsageError, "--norms: unknown normalisation 'GroupNorm'");
    expect(() => parseCli(['--epochs', '1.5'])).to.throw(UsageError, "--epochs expects a positive integer, got '1.5'");
    expect(parseCli(['--epochs', '2', '--norms', 'none']).norms).to.deep.equal(['none']);
  });

  it("device-tour --device cpu --device gpu:headlessgl runs (WebGPU is not opened), and says it is a smoke test", function () {
    this.timeout(300_000);
    const r = run(['scripts/with-display.mjs', 'dist/examples/device-tour.js', '--quick', '--device', 'cpu', '--device', 'gpu:headlessgl'], 280_000);
    const out = r.stdout + r.stderr;
    expect(r.status, out.slice(-3000)).to.equal(0);
    expect(r.stdout).to.match(/^quick mode: a smoke test/m);
    expect(out).not.to.match(/cannot share a process/);
    expect(out).not.to.match(STACK);
    const row = /^gpu:headlessgl\s+WebGL.*\s(\S+)\s+(\S+)$/m.exec(r.stdout);
    if (row) {
      // it ran: the loss and the weights agree with cpu
      expect(Number(row[1])).to.be.lessThan(1e-3);
      expect(Number(row[2])).to.be.lessThan(1e-3);
    } else {
      // not here (no gl package, no display): listed with its own reason, never dropped
      expect(r.stdout).to.match(/^not here: gpu:headlessgl: (the 'gl' package|headless-gl)/m);
    }
  });

  it("headless-gl's reason is the missing 'gl' package even after WebGPU opened first", function () {
    this.timeout(120_000);
    const url = (p: string) => pathToFileURL(join(root, p)).href;
    // a Node platform whose require('gl') fails, as in a project without headless-gl installed
    const script = `
      const gg = await import(${JSON.stringify(url('dist/src/index.js'))});
      const { setPlatform } = await import(${JSON.stringify(url('dist/src/backend/platform/platform.js'))});
      const { nodePlatform } = await import(${JSON.stringify(url('dist/src/backend/platform/node.js'))});
      setPlatform({ ...nodePlatform, loadPackage: (n) => { if (n === 'gl') throw new Error("Cannot find module 'gl'"); return nodePlatform.loadPackage(n); } });
      await gg.availableDevices();
      console.log(JSON.stringify(Object.fromEntries(gg.unavailableReasons)));
      process.exit(0);`;
    const r = run(['--input-type=module', '-e', script]);
    expect(r.status, r.stderr.slice(-2000)).to.equal(0);
    const reasons = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as Record<string, string>;
    expect(reasons['gpu:headlessgl']).to.equal("the 'gl' package (headless-gl) does not load: Cannot find module 'gl'");
  });
});

describe('example plots', () => {
  it('the GAN sample plot is 1:1: a square plot area for the square domain', async function () {
    this.timeout(30_000);
    const pts = Float32Array.from({ length: 64 }, (_, i) => Math.sin(i) * 2);
    const opts = samplePlotOptions(10, pts, pts.map((v) => -v));
    expect(opts.xDomain).to.deep.equal(opts.yDomain);
    const area = await plotArea(scatterSpec(opts));
    expect(area.width).to.equal(area.height);
    expect(area.width).to.be.greaterThan(200);
    // and without equalAspect the same options give a wider-than-tall area: the check can fail
    const free = await plotArea(scatterSpec({ ...opts, equalAspect: false, width: 420, height: 400 }));
    expect(free.width).to.not.equal(free.height);
  });

  it('the accuracy axis fits the second half of training, not 0–1', () => {
    const curve = (accs: number[]) => accs.map((accuracy, i) => ({ atEpoch: (i + 1) / 4, accuracy }));
    // a run that starts at 11 % and ends in the 93–97 % band
    const axis = accuracyRange([{ accuracyCurve: curve([0.11, 0.62, 0.9, 0.93, 0.95, 0.97]) }, { accuracyCurve: curve([0.5, 0.8, 0.94, 0.95, 0.955, 0.96]) }]);
    expect(axis).to.deep.equal([92, 98]);
    expect(accuracyRange([{ accuracyCurve: curve([0.995, 1]) }])).to.deep.equal([98, 100]);
    expect(accuracyRange([])).to.deep.equal([0, 100]);
  });
});

describe('BatchNorm experiment helpers (examples/bn/landscape.ts)', () => {
  const net = () => {
    gg.manualSeed(3);
    return new gg.nn.Sequential(new gg.nn.Linear(4, 8), new gg.nn.BatchNorm1d(8), new gg.nn.ReLU(), new gg.nn.Linear(8, 3));
  };
  const snapshot = async (m: gg.nn.Module) => Object.fromEntries(await Promise.all(Object.entries(m.stateDict()).map(async ([k, v]) => [k, Array.from(await v.data())] as const)));

  it('probeLandscape measures along the gradient and leaves weights, running statistics and gradients as they were', async () => {
    const model = net();
    const x = gg.randn([16, 4]);
    const y = gg.tensor([0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2, 0]);
    const ce = new gg.nn.CrossEntropyLoss();
    const before = await snapshot(model);
    const p = await probeLandscape(model, (out) => ce.call(out, y), x, [0.1, 0.5, 1], 7);
    expect(await snapshot(model)).to.deep.equal(before);
    for (const t of model.parameters()) expect(t.grad).to.equal(null);
    expect(p.step).to.equal(7);
    expect(p.losses).to.have.length(3);
    // a small step along −g lowers the loss; the gradient changes more the further it goes
    expect(p.losses[0]!).to.be.lessThan(p.loss);
    expect(p.gradChange[2]!).to.be.greaterThan(p.gradChange[0]!);
    // β is the largest ‖Δg‖ / ‖η g‖
    expect(p.beta).to.be.closeTo(Math.max(...p.gradChange.map((c, i) => c / ([0.1, 0.5, 1][i]! * p.gradNorm))), 1e-9);
    // the same probe on a fresh copy from the same seed gives the same loss as L(w) there
    const again = net();
    expect(await ce.call(again.call(x), y).item()).to.be.closeTo(p.loss, 1e-6);
  });

  it('ActivationMonitor records ReLU inputs and logits on training forwards only; histogram and quantile', async () => {
    const model = net();
    const mon = new ActivationMonitor(model);
    model.call(gg.randn([32, 4]));
    model.eval();
    model.call(gg.randn([32, 4]));
    model.train();
    await mon.flush();
    expect([...mon.stats.keys()]).to.deep.equal(['hidden 1', 'logits']);
    const h = mon.stats.get('hidden 1')!;
    expect(h.mean).to.have.length(1);
    expect(h.mean[0]!).to.be.closeTo(0, 1e-5); // BatchNorm1d's output, batch statistics
    expect(h.std[0]!).to.be.closeTo(1, 0.02);
    mon.remove();
    expect(quantile([1, 2, 3, 4, 5], 0.5)).to.equal(3);
    expect(quantile([0, 10], 0.15)).to.be.closeTo(1.5, 1e-12);
    const edges = sharedEdges([[0, 1], [2]], 4);
    expect(edges).to.deep.equal([0, 0.5, 1, 1.5, 2]);
    const hist = histogram([0, 0.2, 0.6, 2, 2], edges);
    expect(hist.counts).to.deep.equal([2, 1, 0, 2]);
    expect(hist.nearZero).to.equal(0.2);
  });
});
