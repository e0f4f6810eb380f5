/**
 * Tests written for mutants that survived `npm run mutation` in spectral
 * norm and parametrize (docs/notes/mutation-testing.md): the ModuleDict of
 * parametrizations, typeBeforeParametrizations, a parametrization that
 * returns no tensor, removeSpectralNorm's refusals, the printed form and
 * applySpectralNorm's choices.
 */
import { expect } from 'chai';
import * as gg from '../../src/index.js';

const P = gg.nn.utils.parametrize;

/** A parametrization that doubles (rightInverse halves). */
class Double extends gg.nn.Module {
  forward(x: gg.Tensor): gg.Tensor {
    return x.mul(2);
  }
  rightInverse(x: gg.Tensor): gg.Tensor {
    return x.div(2);
  }
}

describe('parametrize and spectral norm: what mutation testing found untested', () => {
  it("the parametrizations' ModuleDict: keys in insertion order, and it is not callable", () => {
    const lin = new gg.nn.Linear(2, 3);
    P.registerParametrization(lin, 'weight', new Double());
    P.registerParametrization(lin, 'bias', new Double());
    const dict = P.parametrizationsOf(lin)!;
    expect(dict.keys()).to.deep.equal(['weight', 'bias']);
    expect(() => (dict as unknown as { forward(): unknown }).forward()).to.throw('ModuleDict is not callable: call its entries');
  });

  it('typeBeforeParametrizations gives the class the module had', () => {
    const lin = new gg.nn.Linear(2, 2);
    expect(P.typeBeforeParametrizations(lin)).to.equal(gg.nn.Linear);
    P.registerParametrization(lin, 'weight', new Double());
    expect(P.typeBeforeParametrizations(lin)).to.equal(gg.nn.Linear);
    expect(lin).to.be.instanceOf(gg.nn.Linear);
  });

  it("a parametrization must return a tensor (PyTorch's message), first or chained", () => {
    class Bad extends gg.nn.Module {
      forward(): gg.Tensor {
        return 3 as unknown as gg.Tensor;
      }
    }
    expect(() => P.registerParametrization(new gg.nn.Linear(2, 2), 'weight', new Bad())).to.throw('A parametrization must return a tensor. Got int.');
    const lin = new gg.nn.Linear(2, 2);
    P.registerParametrization(lin, 'weight', new Double());
    expect(() => P.registerParametrization(lin, 'weight', new Bad())).to.throw('A parametrization must return a tensor. Got int.');
  });

  it("removeSpectralNorm refuses a name without one, and a chain with other parametrizations", () => {
    const plain = new gg.nn.Linear(2, 2);
    expect(() => gg.nn.utils.removeSpectralNorm(plain)).to.throw("spectral_norm of 'weight' not found in");
    const both = gg.nn.utils.spectralNorm(new gg.nn.Linear(2, 2));
    P.registerParametrization(both, 'weight', new Double());
    expect(() => gg.nn.utils.removeSpectralNorm(both)).to.throw("removeSpectralNorm: 'weight' of");
    expect(() => gg.nn.utils.removeSpectralNorm(both)).to.throw('has other parametrizations besides the spectral norm; use parametrize.removeParametrizations');
  });

  it('the spectral norm prints with nothing inside its parentheses', () => {
    const lin = gg.nn.utils.spectralNorm(new gg.nn.Linear(2, 2));
    const sn = P.parametrizationList(lin, 'weight')!.chain[0] as gg.nn.utils.SpectralNorm;
    expect(sn.extraRepr()).to.equal('');
    expect(String(lin)).to.include('(0): SpectralNorm()\n');
  });

  it('applySpectralNorm skips a module without the parameter, one already normalised, and what the predicate refuses', () => {
    const net = new gg.nn.Sequential(new gg.nn.Linear(2, 2, { bias: false }), new gg.nn.ReLU(), new gg.nn.Linear(2, 2));
    expect(gg.nn.utils.applySpectralNorm(net, { name: 'bias' })).to.deep.equal(['2']);
    expect(gg.nn.utils.applySpectralNorm(net, { name: 'bias' })).to.deep.equal([]);
    expect(gg.nn.utils.applySpectralNorm(net, { predicate: (_m, n) => n !== '0' })).to.deep.equal(['2']);
    expect(gg.nn.utils.applySpectralNorm(net)).to.deep.equal(['0']);
  });
});

describe('spectral norm: what mutation testing found untested (second round)', () => {
  const f64 = { dtype: 'float64' as const };
  const SN = gg.nn.utils.SpectralNorm;
  const errorOf = (f: () => unknown): string => {
    try {
      f();
    } catch (e) {
      return `${(e as Error).name}: ${(e as Error).message}`;
    }
    return 'no error';
  };

  it("the options are checked with spectral_norm's name in the messages (constructor, spectralNorm, lazy modules)", () => {
    const w = gg.ones([2, 2], f64);
    expect(errorOf(() => new SN(w, 1.5))).to.equal("TypeError: spectral_norm(): argument 'n_power_iterations' must be int, not float");
    expect(errorOf(() => new SN(w, 1, 0.5))).to.equal("TypeError: spectral_norm(): argument 'dim' must be int, not float");
    expect(errorOf(() => new SN(w, 1, 0, 'x' as unknown as number))).to.equal("TypeError: spectral_norm(): argument 'eps' must be Number, not str");
    const lin = new gg.nn.Linear(2, 2, f64);
    const opts = (o: object): gg.nn.utils.SpectralNormOptions => o as gg.nn.utils.SpectralNormOptions;
    expect(errorOf(() => gg.nn.utils.spectralNorm(lin, opts({ bogus: 1 })))).to.equal("TypeError: spectral_norm() got an unexpected keyword argument 'bogus'");
    expect(errorOf(() => gg.nn.utils.spectralNorm(lin, opts({ name: 5 })))).to.equal("TypeError: spectral_norm(): argument 'name' must be str, not int");
    expect(errorOf(() => gg.nn.utils.spectralNorm(new gg.nn.LazyLinear(3), { nPowerIterations: 1.5 }))).to.equal(
      "TypeError: spectral_norm(): argument 'n_power_iterations' must be int, not float",
    );
  });

  it('dim = -ndim is the first dim', () => {
    expect(new SN(gg.ones([3, 2], f64), 1, -2).dim).to.equal(0);
  });

  it('the constructor runs no power iteration in eval mode unless asked to', () => {
    // singular values 1 and 0.99: the power iteration is still moving u after its 15 warm-up steps
    const w = gg.tensor([[1, 0], [0, 0.99]], f64);
    const sn = new SN(w);
    sn.eval();
    const u0 = Array.from(sn._u.dataSync());
    sn.call(w);
    expect(Array.from(sn._u.dataSync())).to.deep.equal(u0);
    const onEval = new SN(w, 1, 0, 1e-12, true);
    onEval.eval();
    const u1 = Array.from(onEval._u.dataSync());
    onEval.call(w);
    expect(Array.from(onEval._u.dataSync())).to.not.deep.equal(u1);
  });

  it('a tensor attribute that is neither a parameter nor a buffer is not normalised', () => {
    class WithAttribute extends gg.nn.Module {
      foo = gg.ones([2, 2], f64);
      forward(x: gg.Tensor): gg.Tensor {
        return x;
      }
    }
    const m = new WithAttribute();
    expect(errorOf(() => gg.nn.utils.spectralNorm(m, { name: 'foo' }))).to.equal("Error: Module 'WithAttribute()' has no parameter or buffer with name 'foo'");
  });

  it('removeSpectralNorm: a weight with another parametrization only is refused; the weight left is W/σ', () => {
    const other = new gg.nn.Linear(2, 2, f64);
    P.registerParametrization(other, 'weight', new Double());
    expect(errorOf(() => gg.nn.utils.removeSpectralNorm(other))).to.match(/^Error: spectral_norm of 'weight' not found in/);
    const lin = gg.nn.utils.spectralNorm(new gg.nn.Linear(3, 4, f64));
    lin.eval();
    const normalised = Array.from((lin.weight as gg.Tensor).dataSync());
    const original = Array.from(P.parametrizationList(lin, 'weight')!.original.dataSync());
    gg.nn.utils.removeSpectralNorm(lin);
    expect(P.isParametrized(lin)).to.equal(false);
    expect(Array.from((lin.weight as gg.Tensor).dataSync())).to.deep.equal(normalised);
    expect(normalised).to.not.deep.equal(original);
  });

  it('lazy modules: two names wait at once; removing one leaves the other; removal after materialisation removes the norm', () => {
    const lazy = gg.nn.utils.spectralNorm(new gg.nn.LazyLinear(3, f64));
    gg.nn.utils.spectralNorm(lazy, { name: 'bias' });
    gg.nn.utils.removeSpectralNorm(lazy, 'weight');
    lazy.call(gg.randn([2, 4], f64));
    expect(P.isParametrized(lazy, 'weight')).to.equal(false);
    expect(P.isParametrized(lazy, 'bias')).to.equal(true);
    const later = gg.nn.utils.spectralNorm(new gg.nn.LazyLinear(3, f64));
    later.call(gg.randn([2, 4], f64));
    expect(P.isParametrized(later, 'weight')).to.equal(true);
    gg.nn.utils.removeSpectralNorm(later);
    expect(P.isParametrized(later)).to.equal(false);
    // a name the materialisation does not create (no bias) stays unnormalised, and the forward works
    const noBias = gg.nn.utils.spectralNorm(new gg.nn.LazyLinear(3, { bias: false, ...f64 }), { name: 'bias' });
    expect(noBias.call(gg.randn([2, 4], f64)).shape).to.deep.equal([2, 3]);
    expect(P.isParametrized(noBias)).to.equal(false);
  });

  it("applySpectralNorm: the parametrizations' own modules, several includeTypes, chains with other parametrizations, lazy modules without the name", () => {
    // a parametrization that owns a parameter named weight is not normalised itself
    class Scale extends gg.nn.Module {
      declare weight: gg.Tensor;
      constructor() {
        super();
        this.registerParameter('weight', gg.ones([1], f64));
      }
      forward(x: gg.Tensor): gg.Tensor {
        return x.mul(this.weight);
      }
    }
    const lin = new gg.nn.Linear(2, 2, f64);
    P.registerParametrization(lin, 'bias', new Scale());
    // weight: a module whose weight has another parametrization is normalised (the chain grows)
    const other = new gg.nn.Linear(2, 2, f64);
    P.registerParametrization(other, 'weight', new Double());
    const net = new gg.nn.Sequential(lin, other);
    expect(gg.nn.utils.applySpectralNorm(net)).to.deep.equal(['0', '1']);
    expect(P.parametrizationList(other, 'weight')!.chain.map((p) => p.constructor.name)).to.deep.equal(['Double', 'SpectralNorm']);
    // a chain [Double, SpectralNorm] is already normalised
    expect(gg.nn.utils.applySpectralNorm(net)).to.deep.equal([]);
    // any of several includeTypes
    const mixed = new gg.nn.Sequential(new gg.nn.Linear(2, 2, f64), new gg.nn.Conv1d(1, 1, 1, f64));
    expect(gg.nn.utils.applySpectralNorm(mixed, { includeTypes: [gg.nn.Conv1d, gg.nn.Linear] })).to.deep.equal(['0', '1']);
    // a lazy module without the named parameter is skipped
    const withLazy = new gg.nn.Sequential(new gg.nn.LazyLinear(2, f64));
    expect(gg.nn.utils.applySpectralNorm(withLazy, { name: 'foo' })).to.deep.equal([]);
  });
});
