/**
 * Losses against PyTorch goldens (float64, cpu), gradchecks, and errors.
 */
import { expect } from 'chai';
import * as gg from '../../src/index.js';
import { expectGolden, fixture, golden64, type Golden } from '../helpers/compare.js';

interface LossCase {
  name: string;
  kind: 'loss';
  module: 'MSELoss' | 'CrossEntropyLoss' | 'BCEWithLogitsLoss';
  kwargs: { reduction?: gg.nn.Reduction; ignoreIndex?: number; labelSmoothing?: number; weight?: Golden; posWeight?: Golden };
  inputs: { input: Golden; target: Golden };
  output: Golden;
  gout: Golden;
  input_grad: Golden;
}

const cases = fixture<{ kind: string }[]>('torch_nn.json').filter(
  (c): c is LossCase => c.kind === 'loss',
);

function build(c: LossCase): gg.nn.Loss {
  const k = c.kwargs;
  const reduction = k.reduction ?? 'mean';
  const weight = k.weight ? golden64(k.weight) : null;
  switch (c.module) {
    case 'MSELoss':
      return new gg.nn.MSELoss({ reduction });
    case 'CrossEntropyLoss':
      return new gg.nn.CrossEntropyLoss({ reduction, weight, ignoreIndex: k.ignoreIndex ?? -100, labelSmoothing: k.labelSmoothing ?? 0 });
    case 'BCEWithLogitsLoss':
      return new gg.nn.BCEWithLogitsLoss({ reduction, weight, posWeight: k.posWeight ? golden64(k.posWeight) : null });
  }
}

/**
 * A case's target: class indices (a shape other than the input's) as int64,
 * which PyTorch requires (the fixture stores numbers only); probabilities and
 * BCE/MSE targets as float64.
 */
function target(c: LossCase): gg.Tensor {
  const t = golden64(c.inputs.target);
  return c.module !== 'BCEWithLogitsLoss' && c.module !== 'MSELoss' && t.shape.join() !== c.inputs.input.shape.join() ? t.long() : t;
}

describe('nn losses: PyTorch goldens (float64, cpu)', () => {
  it('covers MSELoss, CrossEntropyLoss and BCEWithLogitsLoss cases', () => {
    const mods = new Set(cases.map((c) => c.module));
    expect([...mods].sort()).to.deep.equal(['BCEWithLogitsLoss', 'CrossEntropyLoss', 'MSELoss']);
    expect(cases.length).to.be.at.least(23);
  });
  for (const c of cases) {
    it(c.name, () => {
      const loss = build(c);
      const x = golden64(c.inputs.input, true);
      const y = loss.call(x, target(c));
      expectGolden(y, c.output, 'output');
      y.backward(golden64(c.gout));
      expectGolden(x.grad, c.input_grad, 'input grad');
    });
  }
  it('the functional forms give the same values', () => {
    const c = cases.find((k) => k.name === 'CrossEntropyLoss_weight_labelSmoothing') as LossCase;
    const out = gg.nn.functional.crossEntropy(golden64(c.inputs.input), target(c), { weight: golden64(c.kwargs.weight as Golden), labelSmoothing: 0.2 });
    expectGolden(out, c.output, 'functional crossEntropy');
    const b = cases.find((k) => k.name === 'BCEWithLogitsLoss_posWeight') as LossCase;
    const outB = gg.nn.functional.binaryCrossEntropyWithLogits(golden64(b.inputs.input), golden64(b.inputs.target), { posWeight: golden64(b.kwargs.posWeight as Golden) });
    expectGolden(outB, b.output, 'functional binaryCrossEntropyWithLogits');
  });
});

describe('nn losses: gradcheck (float64)', () => {
  const { gradcheck } = gg.autograd;
  const F = gg.nn.functional;
  const rnd = (shape: number[], rg = true): gg.Tensor => gg.randn(shape, { dtype: 'float64', requiresGrad: rg });
  // class indices are int64, as PyTorch requires
  const labels = (xs: number[]): gg.Tensor => gg.tensor(xs);
  beforeEach(() => gg.manualSeed(4));

  it('mseLoss in input and target', async () => {
    expect(await gradcheck((a, b) => F.mseLoss(a, b), [rnd([3, 4]), rnd([3, 4])])).to.equal(true);
    expect(await gradcheck((a, b) => F.mseLoss(a, b, { reduction: 'none' }), [rnd([2, 3]), rnd([2, 3])])).to.equal(true);
  });
  it('crossEntropy: indices with weight, ignoreIndex and label smoothing; spatial; probabilities', async () => {
    const w = gg.tensor([0.2, 1.5, 0.7, 1], { dtype: 'float64' });
    const t = labels([0, 3, 1, 2, 3]);
    expect(await gradcheck((x) => F.crossEntropy(x, t, { weight: w, ignoreIndex: 3, labelSmoothing: 0.15 }), [rnd([5, 4])])).to.equal(true);
    expect(await gradcheck((x) => F.crossEntropy(x, t, { weight: w, reduction: 'none' }), [rnd([5, 4])])).to.equal(true);
    const ts = labels([0, 2, 1, 1, 2, 0]).reshape(2, 3);
    expect(await gradcheck((x) => F.crossEntropy(x, ts, { labelSmoothing: 0.1 }), [rnd([2, 3, 3])])).to.equal(true);
    const probs = gg.noGrad(() => gg.rand([3, 4], { dtype: 'float64' }).softmax(1));
    expect(await gradcheck((x, p) => F.crossEntropy(x, p, { weight: w, labelSmoothing: 0.3 }), [rnd([3, 4]), probs.requiresGrad_()])).to.equal(true);
  });
  it('nllLoss and NLLLoss', async () => {
    const t = labels([1, 0, 2]);
    expect(await gradcheck((x) => F.nllLoss(x.logSoftmax(1), t, { weight: gg.tensor([1, 2, 3], { dtype: 'float64' }) }), [rnd([3, 3])])).to.equal(true);
    const m = new gg.nn.NLLLoss({ reduction: 'sum' });
    expect(await gradcheck((x) => m.call(x, t), [rnd([3, 3])])).to.equal(true);
  });
  it('binaryCrossEntropyWithLogits in input and target, with weight and posWeight', async () => {
    const w = rnd([3, 4], false).abs();
    const pw = gg.tensor([1, 2, 0.5, 3], { dtype: 'float64' });
    const tgt = gg.rand([3, 4], { dtype: 'float64', requiresGrad: true });
    expect(await gradcheck((x, t) => F.binaryCrossEntropyWithLogits(x, t, { weight: w, posWeight: pw }), [rnd([3, 4]), tgt])).to.equal(true);
    expect(await gradcheck((x, t) => F.binaryCrossEntropyWithLogits(x, t, { reduction: 'sum' }), [rnd([3, 4]), tgt])).to.equal(true);
  });
});

describe('nn losses: behaviour and errors', () => {
  const F = gg.nn.functional;
  it('crossEntropy is stable for large logits, and BCE with logits too', () => {
    const x = gg.tensor([[1000, 0, -1000]], { dtype: 'float64' });
    expect(F.crossEntropy(x, gg.tensor([0])).itemSync()).to.equal(0);
    expect(F.crossEntropy(x, gg.tensor([1])).itemSync()).to.equal(1000);
    const b = F.binaryCrossEntropyWithLogits(gg.tensor([800, -800], { dtype: 'float64' }), gg.tensor([0, 1], { dtype: 'float64' }), { reduction: 'none' });
    expect(Array.from(b.dataSync())).to.deep.equal([800, 800]);
  });
  it('unbatched crossEntropy (C) with a scalar target', () => {
    const x = gg.tensor([0.5, 1.5, -1], { dtype: 'float64' });
    const batched = F.crossEntropy(x.unsqueeze(0), gg.tensor([1])).itemSync();
    expect(F.crossEntropy(x, gg.tensor(1)).itemSync()).to.equal(batched);
  });
  it('all targets ignored gives NaN under mean (as PyTorch)', () => {
    const out = F.crossEntropy(gg.zeros([2, 3], { dtype: 'float64' }), gg.tensor([1, 1]), { ignoreIndex: 1 });
    expect(Number.isNaN(out.itemSync())).to.equal(true);
  });
  it('throws PyTorch\'s messages', () => {
    const x = gg.zeros([2, 3]);
    expect(() => F.crossEntropy(x, gg.tensor([0, 3]))).to.throw('Target 3 is out of bounds.');
    expect(() => F.crossEntropy(x, gg.tensor([0, 1, 2]))).to.throw('Expected input batch_size (2) to match target batch_size (3).');
    expect(() => F.mseLoss(x, x, { reduction: 'avg' as gg.nn.Reduction })).to.throw('avg is not a valid value for reduction');
    expect(() => F.binaryCrossEntropyWithLogits(x, gg.zeros([3]))).to.throw('Target size ([3]) must be the same as input size ([2, 3])');
    expect(() => new gg.nn.CrossEntropyLoss({ weight: gg.ones([2]) }).call(x, gg.tensor([0, 1]))).to.throw('weight tensor should be defined either for all 3 classes');
  });
  it('loss weights are buffers with PyTorch keys', () => {
    const ce = new gg.nn.CrossEntropyLoss({ weight: gg.ones([3]) });
    expect(Object.keys(ce.stateDict())).to.deep.equal(['weight']);
    const bce = new gg.nn.BCEWithLogitsLoss({ posWeight: gg.ones([3]) });
    expect(Object.keys(bce.stateDict())).to.deep.equal(['pos_weight']);
    expect(new gg.nn.MSELoss().toString()).to.equal('MSELoss()');
  });
});
