/**
 * Unknown option keys (docs/notes/validation.md): a key a function does not
 * know was silently ignored and gave a wrong value (`{ correction: 0 }` on
 * var, `{ label_smoothing: 0.1 }`, `{ reductio: 'sum' }`, `{ ceil_mode: true }`).
 * Every function and constructor taking an options object now refuses it
 * with Python's TypeError for an unexpected keyword, before anything runs,
 * with a hint where the key is the snake_case of a known one.
 */
import { expect } from 'chai';
import * as gg from '../../src/index.js';
import { x, t3, logits, img, p, opt } from '../helpers/option-inputs.js';

const F = gg.nn.functional;
const lrs = gg.optim.lrScheduler;

/** [PyTorch name, a factory that makes the inputs and returns the call with options `o`]. */
type Case = [name: string, prepare: (o: never) => () => unknown];


const cases: Case[] = [
  ['mse_loss', (o) => ((a, b) => () => F.mseLoss(a, b, o))(x(), x())],
  ['cross_entropy', (o) => ((a, b) => () => F.crossEntropy(a, b, o))(logits(), t3())],
  ['nll_loss', (o) => ((a, b) => () => F.nllLoss(a, b, o))(logits(), t3())],
  ['binary_cross_entropy_with_logits', (o) => ((a, b) => () => F.binaryCrossEntropyWithLogits(a, b, o))(x(), x())],
  ['MSELoss', (o) => () => new gg.nn.MSELoss(o)],
  ['CrossEntropyLoss', (o) => () => new gg.nn.CrossEntropyLoss(o)],
  ['NLLLoss', (o) => () => new gg.nn.NLLLoss(o)],
  ['BCEWithLogitsLoss', (o) => () => new gg.nn.BCEWithLogitsLoss(o)],
  ...(['maxPool1d', 'maxPool2d', 'maxPool3d', 'avgPool1d', 'avgPool2d', 'avgPool3d'] as const).map((fn): Case => {
    const r = Number(fn.slice(-2, -1));
    const name = `${fn.slice(0, 3)}_pool${r}d`;
    return [name, (o) => ((a) => () => F[fn](a, 2, o))(gg.ones([1, 1, ...Array.from({ length: r }, () => 4)]))];
  }),
  ...(['MaxPool1d', 'MaxPool2d', 'MaxPool3d', 'AvgPool1d', 'AvgPool2d', 'AvgPool3d'] as const).map((m): Case => [m, (o) => () => new gg.nn[m](2, o)]),
  ['conv1d', (o) => ((a, w) => () => F.conv1d(a, w, null, o))(gg.ones([1, 2, 5]), gg.ones([1, 2, 3]))],
  ['conv2d', (o) => ((a, w) => () => F.conv2d(a, w, null, o))(img(), gg.ones([1, 2, 3, 3]))],
  ['conv3d', (o) => ((a, w) => () => F.conv3d(a, w, null, o))(gg.ones([1, 2, 4, 4, 4]), gg.ones([1, 2, 3, 3, 3]))],
  ['conv_transpose2d', (o) => ((a, w) => () => F.convTranspose2d(a, w, null, o))(img(), gg.ones([2, 1, 3, 3]))],
  ...(['Conv1d', 'Conv2d', 'Conv3d', 'ConvTranspose1d', 'ConvTranspose2d', 'ConvTranspose3d'] as const).map((m): Case => [m, (o) => () => new gg.nn[m](2, 1, 3, o)]),
  ['Linear', (o) => () => new gg.nn.Linear(2, 2, o)],
  ['LazyLinear', (o) => () => new gg.nn.LazyLinear(2, o)],
  ...(['BatchNorm1d', 'BatchNorm2d', 'BatchNorm3d', 'InstanceNorm2d', 'SwitchableNorm2d', 'SwitchNorm2d'] as const).map((m): Case => [m, (o) => () => new gg.nn[m](2, o)]),
  ['LayerNorm', (o) => () => new gg.nn.LayerNorm(2, o)],
  ['GroupNorm', (o) => () => new gg.nn.GroupNorm(1, 2, o)],
  ['SGD', (o) => ((ps) => () => new gg.optim.SGD(ps, { lr: 0.1, ...(o as object) }))(p())],
  ['Adam', (o) => ((ps) => () => new gg.optim.Adam(ps, o))(p())],
  ['AdamW', (o) => ((ps) => () => new gg.optim.AdamW(ps, o))(p())],
  ['StepLR', (o) => ((op) => () => new lrs.StepLR(op, { stepSize: 1, ...(o as object) }))(opt())],
  ['MultiStepLR', (o) => ((op) => () => new lrs.MultiStepLR(op, { milestones: [1], ...(o as object) }))(opt())],
  ['ExponentialLR', (o) => ((op) => () => new lrs.ExponentialLR(op, { gamma: 0.5, ...(o as object) }))(opt())],
  ['CosineAnnealingLR', (o) => ((op) => () => new lrs.CosineAnnealingLR(op, { tMax: 3, ...(o as object) }))(opt())],
  ['LambdaLR', (o) => ((op) => () => new lrs.LambdaLR(op, { lrLambda: () => 0.5, ...(o as object) }))(opt())],
  ['ReduceLROnPlateau', (o) => ((op) => () => new lrs.ReduceLROnPlateau(op, o))(opt())],
  ['clip_grad_norm_', (o) => ((ps) => () => gg.nn.utils.clipGradNorm_(ps, 1, o))(p())],
  ['spectral_norm', (o) => ((m) => () => gg.nn.utils.parametrizations.spectralNorm(m, o))(new gg.nn.Linear(2, 2))],
  ['kaiming_uniform_', (o) => ((t) => () => gg.nn.init.kaimingUniform_(t, o))(gg.ones([2, 3]))],
  ['kaiming_normal_', (o) => ((t) => () => gg.nn.init.kaimingNormal_(t, o))(gg.ones([2, 3]))],
  ['var', (o) => ((t) => () => t.var(0, o))(x())],
  ['std', (o) => ((t) => () => t.std(0, o))(x())],
  ['round', (o) => ((t) => () => t.round(o))(x())],
  ['rsub', (o) => ((t) => () => t.rsub(1, o))(x())],
  ['add', (o) => ((a, b) => () => a.add(b, o))(x(), x())],
  ['sub', (o) => ((a, b) => () => a.sub(b, o))(x(), x())],
  ['add_', (o) => ((a, b) => () => a.add_(b, o))(x(), x())],
  ['sub_', (o) => ((a) => () => a.sub_(1, o))(x())],
  // tensor creation
  ['tensor', (o) => () => gg.tensor([1, 2], o)],
  ['zeros', (o) => () => gg.zeros([2], o)],
  ['ones', (o) => () => gg.ones([2], o)],
  ['full', (o) => () => gg.full([2], 3, o)],
  ['zeros_like', (o) => ((t) => () => gg.zerosLike(t, o))(x())],
  ['ones_like', (o) => ((t) => () => gg.onesLike(t, o))(x())],
  ['full_like', (o) => ((t) => () => gg.fullLike(t, 2, o))(x())],
  ['arange', (o) => () => gg.arange(4, o)],
  ['arange', (o) => () => gg.arange(0, 4, 2, o)],
  ['rand', (o) => () => gg.rand([2], o)],
  ['randn', (o) => () => gg.randn([2], o)],
  ['randint', (o) => () => gg.randint(0, 4, [2], o)],
  // autograd
  ['backward', (o) => ((s) => () => s.backward(undefined, o))(gg.ones([2], { requiresGrad: true }).sum())],
  ['grad', (o) => ((t) => ((s) => () => gg.autograd.grad(s, [t], o))(t.sum()))(gg.ones([2], { requiresGrad: true }))],
  ['add_param_group', (o) => ((op, ps) => () => op.addParamGroup({ params: ps, ...(o as object) }))(opt(), p())],
  ['add_param_group', (o) => ((ps) => () => new gg.optim.Adam([{ params: ps, ...(o as object) }]))(p())],
  ['Dropout', (o) => () => new gg.nn.Dropout(o)],
  ['LeakyReLU', (o) => () => new gg.nn.LeakyReLU(o)],
  ['Flatten', (o) => () => new gg.nn.Flatten(o)],
  ['Softmax', (o) => () => new gg.nn.Softmax(o)],
];

/** Run `call`, expecting the unexpected-keyword TypeError and no new buffer. */
function expectRefused(call: () => unknown, message: string): void {
  const before = gg.memory().liveBuffers;
  expect(call).to.throw(TypeError, message);
  expect(gg.memory().liveBuffers, 'a buffer was made before the refusal').to.equal(before);
}

describe('safety: unknown option keys are refused', () => {
  for (const [name, prepare] of cases) {
    it(`${name}(): { bogusKey: 1 }`, () => {
      gg.tidy(() => expectRefused(prepare({ bogusKey: 1 } as never), `${name}() got an unexpected keyword argument 'bogusKey'`));
    });
  }

  it('the cases the tester found: message, hint, and nothing computed', () => {
    gg.tidy(() => {
      const t = gg.tensor([1, 2, 3], { dtype: 'float64' });
      expectRefused(() => t.var(0, { bogus: 0 } as never), "var() got an unexpected keyword argument 'bogus'");
      expectRefused(() => new gg.nn.CrossEntropyLoss({ label_smoothing: 0.1 } as never), "CrossEntropyLoss() got an unexpected keyword argument 'label_smoothing' (did you mean 'labelSmoothing'?)");
      expectRefused(() => new gg.nn.CrossEntropyLoss({ reductio: 'sum' } as never), "CrossEntropyLoss() got an unexpected keyword argument 'reductio'");
      expect(() => new gg.nn.CrossEntropyLoss({ reductio: 'sum' } as never)).not.to.throw(/did you mean/);
      expectRefused(() => new gg.nn.MaxPool2d(2, { ceil_mode: true } as never), "MaxPool2d() got an unexpected keyword argument 'ceil_mode' (did you mean 'ceilMode'?)");
      const [l, y] = [logits(), t3()];
      expectRefused(() => F.crossEntropy(l, y, { ignore_index: 1 } as never), "cross_entropy() got an unexpected keyword argument 'ignore_index' (did you mean 'ignoreIndex'?)");
    });
  });

  it("var/std take PyTorch's correction (torch 1.13: var(correction=0) = 0.6667, std = 0.8165)", async () => {
    const t = gg.tensor([1, 2, 3], { dtype: 'float64' });
    expect((await t.var(0, { correction: 0 }).data())[0]).to.be.closeTo(2 / 3, 1e-12);
    expect((await t.std(0, { correction: 0 }).data())[0]).to.be.closeTo(Math.sqrt(2 / 3), 1e-12);
    expect((await t.var(0, { correction: 1 }).data())[0]).to.be.closeTo(1, 1e-12);
    expect((await t.var(0, { correction: 2 }).data())[0]).to.be.closeTo(2, 1e-12);
    // n - correction below zero divides by 0, as PyTorch (inf)
    expect((await t.var(0, { correction: 5 }).data())[0]).to.equal(Infinity);
    expect(() => t.var(0, { correction: 1.5 })).to.throw(TypeError, "var(): argument 'correction' must be int, not float");
    expect(() => t.var(0, { correction: 0, unbiased: true })).to.throw(TypeError, "only one of 'unbiased' and 'correction'");
    expect(() => t.std(0, { keepdim: 1 as never })).to.throw(TypeError, "std(): argument 'keepdim' must be bool");
    t.dispose();
  });

  it('gradcheck/gradgradcheck reject (their promise) before fn runs', async () => {
    const t = gg.tensor([1, 2], { dtype: 'float64', requiresGrad: true });
    let ran = 0;
    const fn = (a: gg.Tensor): gg.Tensor => (ran++, a.mul(2));
    for (const [name, check] of [['gradcheck', gg.autograd.gradcheck], ['gradgradcheck', gg.autograd.gradgradcheck]] as const) {
      const err = await check(fn, [t], { bogus: 1, raiseException: false } as never).then(() => null, (e: unknown) => e);
      expect(err, name).to.be.instanceOf(TypeError);
      expect((err as Error).message).to.equal(`${name}() got an unexpected keyword argument 'bogus'`);
      const hint = await check(fn, [t], { raise_exception: false } as never).then(() => null, (e: unknown) => e);
      expect((hint as Error).message).to.equal(`${name}() got an unexpected keyword argument 'raise_exception' (did you mean 'raiseException'?)`);
    }
    expect(ran).to.equal(0);
    expect(await gg.autograd.gradcheck(fn, [t], { eps: 1e-6 })).to.equal(true);
  });

  it('creation, backward and param groups: the snake_case hint, and known keys still work', () => {
    gg.tidy(() => {
      expectRefused(() => gg.zeros([2], { requires_grad: true } as never), "zeros() got an unexpected keyword argument 'requires_grad' (did you mean 'requiresGrad'?)");
      expectRefused(() => gg.tensor([1], { shape: [1], dtyp: 'float64' } as never), "tensor() got an unexpected keyword argument 'dtyp'");
      const w = gg.ones([2], { requiresGrad: true });
      expect(() => w.sum().backward(undefined, { retain_graph: true } as never)).to.throw(TypeError, "backward() got an unexpected keyword argument 'retain_graph' (did you mean 'retainGraph'?)");
      expect(w.grad, 'a refused backward accumulated a gradient').to.equal(null);
      const op = opt();
      expect(() => op.addParamGroup({ params: p(), weight_decay: 0.1 } as never)).to.throw(TypeError, "add_param_group() got an unexpected keyword argument 'weight_decay' (did you mean 'weightDecay'?)");
      expect(op.paramGroups.length, 'a refused group was added').to.equal(1);
      op.addParamGroup({ params: p(), lr: 0.01, weightDecay: 0.1 });
      expect(op.paramGroups[1]?.weightDecay).to.equal(0.1);
      expect(() => new gg.optim.SGD([{ params: p(), initialLr: 0.1 }], { lr: 0.1 })).not.to.throw();
      expect(gg.full([2], 3, { dtype: 'float64', requiresGrad: true }).requiresGrad).to.equal(true);
      expect(gg.arange(4, { start: 1, step: 2 }).shape).to.deep.equal([2]);
      expect(new gg.nn.Dropout({ p: 0.2 }).p).to.equal(0.2);
      expect(new gg.nn.LeakyReLU({ negativeSlope: 0.2 }).negativeSlope).to.equal(0.2);
    });
  });

  it('keys holding undefined pass (spread objects), and known keys still work', () => {
    gg.tidy(() => {
      expect(() => new gg.nn.CrossEntropyLoss({ labelSmoothing: undefined, bogus: undefined } as never)).not.to.throw();
      expect(() => new gg.nn.MaxPool2d(2, { ceilMode: true })).not.to.throw();
    });
  });
});
