// The README's short tour, as a user would type it: it must keep running and saying the same.
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as gg from '../../src/index.js';

class Square extends gg.autograd.Function {
  static override forward(ctx: gg.autograd.FunctionCtx, t: gg.Tensor): gg.Tensor {
    ctx.saveForBackward(t);
    return t.mul(t);
  }
  static override backward(ctx: gg.autograd.FunctionCtx, g: gg.Tensor): gg.Tensor {
    const [t] = ctx.savedTensors;
    return g.mul(t!).mul(2);
  }
}

describe('README tour', () => {
  it('tensors, backward, gradcheck, a custom op, BatchNorm2d, SwitchableNorm2d, spectral norm, the gpu device', async function () {
    this.timeout(60_000);
    const x = gg.tensor([[1, 2], [3, 4]], { requiresGrad: true });
    x.mul(x).sum().backward();
    expect(await x.grad!.array()).to.deep.equal([[2, 4], [6, 8]]);
    gg.noGrad(() => x.sub_(x.grad!.mul(0.1)));
    expect(x.version).to.equal(1);
    expect(Array.from(await x.data()).map((v) => Math.round(v * 10) / 10)).to.deep.equal([0.8, 1.6, 2.4, 3.2]);

    const a = gg.randn([3, 4], { dtype: 'float64', requiresGrad: true });
    expect(await gg.autograd.gradcheck((t) => t.softmax(1).mul(t).sum(0), [a])).to.equal(true);
    expect(await gg.autograd.gradgradcheck((t) => t.tanh().matmul(t.t()), [a])).to.equal(true);
    expect(await gg.autograd.gradcheck((t) => Square.apply(t), [a])).to.equal(true);

    const bn = new gg.nn.BatchNorm2d(3);
    expect(bn.call(gg.randn([8, 3, 5, 5])).shape).to.deep.equal([8, 3, 5, 5]);
    expect(Object.keys(bn.stateDict())).to.deep.equal(['weight', 'bias', 'running_mean', 'running_var', 'num_batches_tracked']);
    const sn = new gg.nn.SwitchableNorm2d(3);
    expect(Object.keys(sn.stateDict())).to.deep.equal(['weight', 'bias', 'mean_weight', 'var_weight', 'running_mean', 'running_var', 'num_batches_tracked']);
    const conv = gg.nn.utils.parametrizations.spectralNorm(new gg.nn.Conv2d(3, 8, 3));
    expect(Object.keys(conv.stateDict())).to.deep.equal([
      'bias',
      'parametrizations.weight.original',
      'parametrizations.weight.0._u',
      'parametrizations.weight.0._v',
    ]);

    const model = new gg.nn.Sequential(new gg.nn.Linear(4, 16), new gg.nn.ReLU(), new gg.nn.Linear(16, 3));
    const opt = new gg.optim.SGD(model.parameters(), { lr: 0.1, momentum: 0.9 });
    const lossFn = new gg.nn.CrossEntropyLoss();
    const [inputs, labels] = [gg.randn([8, 4]), gg.tensor([0, 1, 2, 0, 1, 2, 0, 1])];
    const losses: number[] = [];
    for (let step = 0; step < 100; step++) {
      const loss = gg.tidy(() => {
        opt.zeroGrad();
        const l = lossFn.call(model.call(inputs), labels);
        l.backward();
        opt.step();
        return l;
      });
      losses.push(await loss.item());
      loss.dispose();
    }
    expect(losses[99]!).to.be.lessThan(losses[0]! * 0.2);

    await gg.initDevice('gpu');
    const g = gg.ones([64, 64], { device: 'gpu' });
    expect(await g.matmul(g).sum().item()).to.equal(64 * 64 * 64);
  });

  it('seeing autograd: names, nextFunctions, savedTensors, render, trace, profile, anomaly', async function () {
    this.timeout(60_000);
    const x = gg.tensor([1, 2, 3], { requiresGrad: true });
    const loss = x.mul(x).sum();
    expect(loss.toString()).to.equal('tensor(14., grad_fn=<SumBackward0>)');
    const [mul] = loss.gradFn!.nextFunctions[0]!;
    expect(mul!.name).to.equal('MulBackward0');
    expect(mul!.nextFunctions.map(([n]) => n!.name)).to.deep.equal(['AccumulateGrad', 'AccumulateGrad']);
    expect(mul!.savedTensors.length).to.equal(2);
    const dir = mkdtempSync(join(tmpdir(), 'gpugrad-readme-'));
    try {
      await gg.autograd.graph.render(loss, join(dir, 'graph.png'), { params: { x }, showSaved: true });
      expect(readFileSync(join(dir, 'graph.png')).subarray(1, 4).toString()).to.equal('PNG');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    const t = gg.autograd.trace(() => loss.backward());
    expect(t.format()).to.include('MulBackward0');
    const p = await gg.profile(() => x.exp().sum());
    expect(p.format()).to.match(/exp\s+cpu\s+3/);
    const z = gg.tensor([0, 1], { requiresGrad: true });
    expect(() => gg.autograd.detectAnomaly(() => z.sqrt().mul(0).sum().backward())).to.throw(
      /^Function 'SqrtBackward0' returned nan values in its 0th output\.\n\nTraceback of forward call that caused the error:/,
    );
  });

  it('examples/tour.mjs, the tour as plain JavaScript, runs with node as it is and prints what the README says', function () {
    this.timeout(180_000);
    const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
    const r = spawnSync(process.execPath, ['examples/tour.mjs'], { cwd: root, encoding: 'utf8', timeout: 170_000 });
    expect(r.status, `${r.stdout}\n${r.stderr}`.slice(-3000)).to.equal(0);
    const lines = r.stdout.split('\n');
    expect(lines).to.include.members([
      'x.grad [[2,4],[6,8]]',
      'gradcheck true',
      'gradgradcheck true',
      'custom op gradcheck true',
      'BatchNorm2d [8,3,5,5] weight bias running_mean running_var num_batches_tracked',
      'SwitchableNorm2d weight bias mean_weight var_weight running_mean running_var num_batches_tracked',
      'spectral norm bias parametrizations.weight.original parametrizations.weight.0._u parametrizations.weight.0._v',
    ]);
    const loss = (step: number) => Number(new RegExp(`^step ${step} loss (\\S+)$`, 'm').exec(r.stdout)?.[1]);
    expect(loss(99)).to.be.lessThan(loss(0) * 0.2);
    expect(r.stdout).to.match(/^gpu = gpu:\S+: sum of ones\(64, 64\) @ ones\(64, 64\) = 262144$/m);
  });
});
