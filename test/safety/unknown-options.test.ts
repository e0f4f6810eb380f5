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

  it('keys holding undefined pass (spread objects), and known keys still work', () => {
    gg.tidy(() => {
      expect(() => new gg.nn.CrossEntropyLoss({ labelSmoothing: undefined, bogus: undefined } as never)).not.to.throw();
      expect(() => new gg.nn.MaxPool2d(2, { ceilMode: true })).not.to.throw();
    });
  });
});
