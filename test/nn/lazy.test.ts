/**
 * The one lazy-module mechanism (src/nn/lazy.ts) and the type markers that
 * replace class-name patterns: a user-defined lazy module gets the same
 * treatment as LazyLinear and LazyConv* (materialise hooks, spectral norm),
 * `clsToBecome` decides the class it turns into, `isNormLayer` marks the
 * normalisation layers `applySpectralNorm` skips, and `transposed` picks
 * spectral norm's default dim.
 */
import { expect } from 'chai';
import * as gg from '../../src/index.js';
import { Module, parameter } from '../../src/nn/module.js';
import { inferParameters, isLazyModule, lazyModuleInit, type LazyModuleMixin } from '../../src/nn/lazy.js';
import { isParametrized, parametrizationList } from '../../src/nn/utils/parametrize.js';
import type { SpectralNorm } from '../../src/nn/utils/spectral.js';

const f64 = { dtype: 'float64' as const };

/** A per-feature scale whose size comes from the first input; it keeps its class. */
class LazyScale extends Module implements LazyModuleMixin {
  declare weight: gg.Tensor;
  initialized = 0;
  constructor() {
    super();
    lazyModuleInit(this, ['weight']);
  }
  get clsToBecome(): null {
    return null;
  }
  hasUninitializedParams(): boolean {
    return this._parameters.get('weight') === null;
  }
  initializeParameters(x: gg.Tensor): string[] {
    this.initialized++;
    expect(gg.isGradEnabled(), 'initializeParameters runs without grad').to.equal(false);
    this._parameters.set('weight', parameter(gg.full([x.shape[1] ?? 1], 2, f64)));
    return ['weight'];
  }
  forward(x: gg.Tensor): gg.Tensor {
    inferParameters(this, [x]);
    return x.mul(this.weight);
  }
}

describe('nn lazy modules: one mechanism', () => {
  it('a user-defined lazy module materialises on the first call, runs its hooks once, keeps its class when clsToBecome is null', () => {
    const m = new LazyScale();
    expect(isLazyModule(m)).to.equal(true);
    const seen: string[][] = [];
    gg.nn.onMaterialize(m, (_mod, names) => seen.push(names));
    const y = m.call(gg.ones([2, 3], f64));
    expect(y.shape).to.deep.equal([2, 3]);
    expect(seen).to.deep.equal([['weight']]);
    expect(m.initialized).to.equal(1);
    m.call(gg.ones([2, 3], f64));
    expect(m.initialized).to.equal(1);
    expect(m).to.be.instanceOf(LazyScale);
    expect(m.hasUninitializedParams()).to.equal(false);
  });

  it('spectral norm waits for a user-defined lazy module as it does for LazyLinear', () => {
    const m = gg.nn.utils.parametrizations.spectralNorm(new LazyScale());
    expect(isParametrized(m)).to.equal(false);
    const y = m.call(gg.ones([1, 4], f64));
    expect(isParametrized(m, 'weight')).to.equal(true);
    // a 1-D weight is divided by its 2-norm: 2 / (2·√4) = 0.5
    expect(Array.from(y.dataSync())).to.deep.equal([0.5, 0.5, 0.5, 0.5]);
  });

  it('LazyLinear and LazyConv2d name the class they become; once materialised they are no longer lazy', () => {
    const fc = new gg.nn.LazyLinear(2, f64);
    const conv = new gg.nn.LazyConv2d(2, 3, f64);
    expect(fc.clsToBecome).to.equal(gg.nn.Linear);
    expect(conv.clsToBecome).to.equal(gg.nn.Conv2d);
    expect([isLazyModule(fc), isLazyModule(conv)]).to.deep.equal([true, true]);
    fc.call(gg.zeros([1, 5], f64));
    conv.call(gg.zeros([1, 1, 4, 4], f64));
    expect([isLazyModule(fc), isLazyModule(conv)]).to.deep.equal([false, false]);
    expect(Object.getPrototypeOf(conv)).to.equal(gg.nn.Conv2d.prototype);
    expect(isLazyModule(new gg.nn.Conv2d(1, 2, 3))).to.equal(false);
  });

  it('a pre-hook registered by the user sees the materialised module (the lazy pre-hook runs first, as PyTorch)', () => {
    const fc = new gg.nn.LazyLinear(2, f64);
    let shape: number[] | null = null;
    fc.registerForwardPreHook((mod) => void (shape = [...(mod as gg.nn.Linear).weight.shape]));
    fc.call(gg.zeros([1, 5], f64));
    expect(shape).to.deep.equal([2, 5]);
  });
});

describe('nn type markers instead of class names', () => {
  it('isNormLayer marks every normalisation layer, and nothing else', () => {
    const norms = [
      new gg.nn.BatchNorm1d(2), new gg.nn.BatchNorm2d(2), new gg.nn.BatchNorm3d(2),
      new gg.nn.InstanceNorm1d(2), new gg.nn.InstanceNorm2d(2), new gg.nn.InstanceNorm3d(2),
      new gg.nn.LayerNorm(2), new gg.nn.GroupNorm(1, 2), new gg.nn.SwitchableNorm2d(2), new gg.nn.SwitchNorm2d(2),
    ];
    expect(norms.map((m) => gg.nn.isNormLayer(m))).to.deep.equal(norms.map(() => true));
    expect([new gg.nn.Linear(2, 2), new gg.nn.Conv2d(1, 1, 1), new gg.nn.ReLU()].map((m) => gg.nn.isNormLayer(m))).to.deep.equal([false, false, false]);
  });

  it('applySpectralNorm goes by the marker: a layer named *Norm that is not a norm layer is normalised', () => {
    class ChannelNormalizingLinear extends gg.nn.Linear {}
    const model = new gg.nn.Sequential(new ChannelNormalizingLinear(3, 3, f64), new gg.nn.LayerNorm(3, f64));
    expect(gg.nn.utils.applySpectralNorm(model)).to.deep.equal(['0']);
  });

  it("spectral norm's default dim follows the `transposed` field, whatever the subclass is called", () => {
    class Upsampler extends gg.nn.ConvTranspose2d {}
    class Encoder extends gg.nn.Conv2d {}
    const up = gg.nn.utils.parametrizations.spectralNorm(new Upsampler(2, 4, 3, f64));
    const enc = gg.nn.utils.parametrizations.spectralNorm(new Encoder(2, 4, 3, f64));
    const dimOf = (m: Module): number => (parametrizationList(m, 'weight')?.chain[0] as SpectralNorm).dim;
    expect([up.transposed, dimOf(up), enc.transposed, dimOf(enc)]).to.deep.equal([true, 1, false, 0]);
  });
});
