import { expect } from 'chai';
import * as gg from '../../src/index.js';
import { errorOf, valuesSync } from '../helpers/compare.js';
import { Module } from '../../src/nn/module.js';
import {
  registerParametrization,
  removeParametrizations,
  isParametrized,
  cached,
  parametrizationList,
  ParametrizationList,
  ModuleDict,
} from '../../src/nn/utils/parametrize.js';

const f64 = { dtype: 'float64' as const };

/** A tiny Linear of our own (the parametrize core does not depend on layers.ts). */
class Lin extends Module {
  declare weight: gg.Tensor;
  declare bias: gg.Tensor;
  constructor(
    readonly inF: number,
    readonly outF: number,
  ) {
    super();
    this.registerParameter('weight', gg.randn([outF, inF], f64));
    this.registerParameter('bias', gg.randn([outF], f64));
  }
  forward(x: gg.Tensor): gg.Tensor {
    return x.matmul(this.weight.t()).add(this.bias);
  }
  override extraRepr(): string {
    return `in_features=${this.inF}, out_features=${this.outF}, bias=True`;
  }
}

/** x ↦ a·x, invertible; counts its forward calls. */
class Scale extends Module {
  calls = 0;
  constructor(readonly a: number) {
    super();
  }
  forward(x: gg.Tensor): gg.Tensor {
    this.calls++;
    return x.mul(this.a);
  }
  rightInverse(x: gg.Tensor): gg.Tensor {
    return x.div(this.a);
  }
}

/** x ↦ x + 1, no right inverse; has a buffer (state key under the chain). */
class AddOne extends Module {
  constructor() {
    super();
    this.registerBuffer('one', gg.ones([1], f64));
  }
  forward(x: gg.Tensor): gg.Tensor {
    return x.add(1);
  }
}

/** Changes the shape: keeps the first row. */
class FirstRow extends Module {
  forward(x: gg.Tensor): gg.Tensor {
    return x.narrow(0, 0, 1);
  }
}

/** Changes the dtype. */
class ToF32 extends Module {
  forward(x: gg.Tensor): gg.Tensor {
    return x.to('float32');
  }
}

function close(a: gg.Tensor, b: gg.Tensor, tol = 1e-12): void {
  expect(a.shape).to.deep.equal(b.shape);
  const x = valuesSync(a);
  const y = valuesSync(b);
  x.forEach((v, i) => expect(Math.abs(v - (y[i] as number)), `element ${i}: ${v} vs ${y[i]}`).to.be.at.most(tol));
}
const pdict = (m: Module): Record<string, unknown> => m as unknown as Record<string, unknown>;

describe('nn.utils.parametrize', () => {
  beforeEach(() => gg.manualSeed(0));

  it('is exported as gg.nn.utils.parametrize', () => {
    expect(gg.nn.utils.parametrize.registerParametrization).to.equal(registerParametrization);
    expect(gg.nn.utils.parametrize.removeParametrizations).to.equal(removeParametrizations);
    expect(gg.nn.utils.parametrize.cached).to.equal(cached);
    expect(gg.nn.utils.parametrize.isParametrized).to.equal(isParametrized);
  });

  it('moves the original Parameter object under parametrizations.weight.original', () => {
    const m = new Lin(3, 2);
    const w = m.weight;
    const before = valuesSync(w);
    expect(isParametrized(m)).to.equal(false);
    registerParametrization(m, 'weight', new Scale(2));
    expect(isParametrized(m)).to.equal(true);
    expect(isParametrized(m, 'weight')).to.equal(true);
    expect(isParametrized(m, 'bias')).to.equal(false);
    const list = parametrizationList(m, 'weight') as ParametrizationList;
    expect(list).to.be.instanceOf(ParametrizationList);
    expect(list.original).to.equal(w);
    expect(pdict(m)['parametrizations']).to.be.instanceOf(ModuleDict);
    expect(m._parameters.has('weight')).to.equal(false);
    // original = rightInverse(W) = W/2 (in place), weight = 2 * original: a fresh tensor on every access
    expect(valuesSync(w)).to.deep.equal(before.map((v) => v / 2));
    expect(valuesSync(m.weight)).to.deep.equal(before);
    expect(m.weight).to.not.equal(m.weight);
    expect(m.weight.isLeaf).to.equal(false);
    expect(w.requiresGrad).to.equal(true);
    // parameters(): bias, then the original (same object)
    expect(m.parameters()).to.deep.equal([m.bias, w]);
    expect([...m.namedParameters()].map(([n]) => n)).to.deep.equal(['bias', 'parametrizations.weight.original']);
    // gradients reach the original
    m.call(gg.ones([1, 3], f64)).sum().backward();
    expect(valuesSync(w.grad as gg.Tensor)).to.deep.equal([2, 2, 2, 2, 2, 2]);
  });

  it('prints the parametrizations child', () => {
    const m = new Lin(3, 2);
    registerParametrization(m, 'weight', new Scale(2));
    expect(String(m)).to.equal(
      'Lin(\n  in_features=3, out_features=2, bias=True\n  (parametrizations): ModuleDict(\n    (weight): ParametrizationList(\n      (0): Scale()\n    )\n  )\n)',
    );
  });

  it('chains a second registration and orders the state keys as PyTorch', () => {
    const m = new Lin(3, 2);
    const w0 = valuesSync(m.weight);
    const s = new Scale(3);
    registerParametrization(m, 'weight', s);
    registerParametrization(m, 'weight', new AddOne());
    const list = parametrizationList(m, 'weight') as ParametrizationList;
    expect(list.length).to.equal(2);
    expect(valuesSync(m.weight)).to.deep.equal(w0.map((v) => 3 * (v / 3) + 1));
    expect(Object.keys(m.stateDict())).to.deep.equal(['bias', 'parametrizations.weight.original', 'parametrizations.weight.1.one']);
    // the original holds the unparametrized value (Scale's right inverse of the weight)
    expect(valuesSync(list.original)).to.deep.equal(w0.map((v) => v / 3));
  });

  it('runs the chain on every access, and once per cached scope', () => {
    const m = new Lin(3, 2);
    const s = new Scale(2);
    registerParametrization(m, 'weight', s);
    expect(s.calls).to.equal(1); // the registration check
    s.calls = 0;
    const x = gg.randn([4, 3], f64);
    m.call(x);
    m.call(x);
    expect(s.calls).to.equal(2);
    s.calls = 0;
    const [a, b] = cached(() => {
      const y1 = m.call(x);
      const y2 = m.call(x);
      expect(m.weight).to.equal(m.weight); // the same tensor inside the scope
      cached(() => m.weight); // nested scope shares the cache
      return [y1, y2];
    });
    expect(s.calls).to.equal(1);
    close(a as gg.Tensor, b as gg.Tensor);
    // the cache is gone after the scope
    s.calls = 0;
    void m.weight;
    expect(s.calls).to.equal(1);
    // one cache entry per module and name
    const m2 = new Lin(3, 2);
    const s2 = new Scale(2);
    registerParametrization(m2, 'weight', s2);
    s.calls = 0;
    s2.calls = 0;
    cached(() => {
      void m.weight;
      void m2.weight;
      void m.weight;
    });
    expect([s.calls, s2.calls]).to.deep.equal([1, 1]);
  });

  it('cached clears the cache when the function throws, and after an async function settles', async () => {
    const m = new Lin(3, 2);
    const s = new Scale(2);
    registerParametrization(m, 'weight', s);
    expect(() => cached(() => {
      void m.weight;
      throw new Error('boom');
    })).to.throw('boom');
    s.calls = 0;
    void m.weight;
    void m.weight;
    expect(s.calls).to.equal(2);
    s.calls = 0;
    await cached(async () => {
      void m.weight;
      await Promise.resolve();
      void m.weight;
    });
    expect(s.calls).to.equal(1);
    void m.weight;
    expect(s.calls).to.equal(2);
  });

  it('assignment goes through rightInverse and keeps the original object', () => {
    const m = new Lin(2, 2);
    const w = m.weight;
    registerParametrization(m, 'weight', new Scale(4));
    m.weight = gg.tensor([[4, 8], [12, 16]], f64);
    expect(valuesSync(w)).to.deep.equal([1, 2, 3, 4]);
    expect((parametrizationList(m, 'weight') as ParametrizationList).original).to.equal(w);
    expect(valuesSync(m.weight)).to.deep.equal([4, 8, 12, 16]);
    expect(w.requiresGrad).to.equal(true);
    expect(w.isLeaf).to.equal(true);
    // dtype must be kept
    expect(errorOf(() => (m.weight = gg.tensor([[1, 2], [3, 4]])))).to.equal(
      'The tensor returned by `right_inverse` has dtype float32 while `original` has dtype float64',
    );
  });

  it('assignment without rightInverse names the parametrization', () => {
    const m = new Lin(2, 2);
    registerParametrization(m, 'weight', new Scale(2));
    registerParametrization(m, 'weight', new AddOne());
    expect(errorOf(() => (m.weight = gg.zeros([2, 2], f64)))).to.equal('parametrization AddOne does not implement right_inverse.');
  });

  it('registration stores rightInverse(original) in the same object', () => {
    const m = new Lin(2, 2);
    const w = m.weight;
    const before = valuesSync(w);
    registerParametrization(m, 'weight', new Scale(2));
    // original = rightInverse(W) = W/2, so the exposed weight is unchanged
    expect(valuesSync(w)).to.deep.equal(before.map((v) => v / 2));
    expect(valuesSync(m.weight)).to.deep.equal(before);
  });

  it('removeParametrizations leaves the parametrized value in the original Parameter', () => {
    const m = new Lin(3, 2);
    const w = m.weight;
    const w0 = valuesSync(w);
    registerParametrization(m, 'weight', new Scale(2), {});
    registerParametrization(m, 'weight', new AddOne());
    const now = valuesSync(m.weight);
    expect(now).to.deep.equal(w0.map((v) => v + 1));
    removeParametrizations(m, 'weight');
    expect(m.weight).to.equal(w);
    expect(w.isLeaf && w.requiresGrad).to.equal(true);
    expect(valuesSync(m.weight)).to.deep.equal(now);
    expect(isParametrized(m)).to.equal(false);
    expect(pdict(m)['parametrizations']).to.equal(undefined);
    expect(m._modules.has('parametrizations')).to.equal(false);
    // keys back to `weight` (re-registered after bias, as PyTorch)
    expect(Object.keys(m.stateDict())).to.deep.equal(['bias', 'weight']);
    expect(m.parameters()).to.deep.equal([m.bias, w]);
    // plain attribute again
    const z = gg.zeros([2, 3], f64);
    m.weight = z;
    expect(m.weight).to.equal(z);
  });

  it('removeParametrizations with leaveParametrized=false keeps the original value', () => {
    const m = new Lin(3, 2);
    const w = m.weight;
    registerParametrization(m, 'weight', new AddOne());
    const orig = valuesSync(w);
    removeParametrizations(m, 'weight', { leaveParametrized: false });
    expect(m.weight).to.equal(w);
    expect(valuesSync(m.weight)).to.deep.equal(orig);
    expect(Object.keys(m.stateDict())).to.deep.equal(['bias', 'weight']);
  });

  it('removing one of two parametrized names keeps the other', () => {
    const m = new Lin(3, 2);
    registerParametrization(m, 'weight', new Scale(2));
    registerParametrization(m, 'bias', new Scale(3));
    expect(Object.keys(m.stateDict())).to.deep.equal(['parametrizations.weight.original', 'parametrizations.bias.original']);
    removeParametrizations(m, 'weight');
    expect(isParametrized(m)).to.equal(true);
    expect(isParametrized(m, 'weight')).to.equal(false);
    expect(Object.keys(m.stateDict())).to.deep.equal(['weight', 'parametrizations.bias.original']);
    removeParametrizations(m, 'bias');
    expect(Object.keys(m.stateDict())).to.deep.equal(['weight', 'bias']);
  });

  it('changes of shape or dtype need unsafe', () => {
    const m = new Lin(3, 2);
    expect(errorOf(() => registerParametrization(m, 'weight', new FirstRow()))).to.equal(
      'Registering a parametrization may not change the shape of the tensor, unless `unsafe` flag is enabled.\nunparametrized shape: [2, 3]\nparametrized shape: [1, 3]',
    );
    expect(errorOf(() => registerParametrization(m, 'weight', new ToF32()))).to.equal(
      'Registering a parametrization may not change the dtype of the tensor, unless `unsafe` flag is enabled.\nunparametrized dtype: float64\nparametrized dtype: float32',
    );
    // a failed registration leaves the module as it was
    expect(isParametrized(m)).to.equal(false);
    expect(Object.keys(m.stateDict())).to.deep.equal(['weight', 'bias']);
    registerParametrization(m, 'weight', new Scale(1));
    expect(errorOf(() => registerParametrization(m, 'weight', new FirstRow()))).to.equal(
      'Registering a parametrization may not change the shape of the tensor, unless the `unsafe` flag is enabled.\nmodule.weight.shape: [2, 3]\nparametrization(module.weight).shape: [1, 3]',
    );
    expect(errorOf(() => registerParametrization(m, 'weight', new ToF32()))).to.equal(
      'Registering a parametrization may not change the dtype of the tensor, unless the `unsafe` flag is enabled.\nmodule.weight.dtype: float64\nparametrization(module.weight).dtype: float32',
    );
    expect((parametrizationList(m, 'weight') as ParametrizationList).length).to.equal(1);

    const u = new Lin(3, 2);
    const w = u.weight;
    registerParametrization(u, 'weight', new FirstRow(), { unsafe: true });
    expect(u.weight.shape).to.deep.equal([1, 3]);
    expect((parametrizationList(u, 'weight') as ParametrizationList).unsafe).to.equal(true);
    // leaving the parametrized value changes the original's shape, keeping the object (set_)
    removeParametrizations(u, 'weight');
    expect(u.weight).to.equal(w);
    expect(w.shape).to.deep.equal([1, 3]);
  });

  it('parametrizes buffers too', () => {
    const m = new Lin(2, 2);
    m.registerBuffer('running', gg.tensor([1, 2], f64));
    const b = pdict(m)['running'] as gg.Tensor;
    registerParametrization(m, 'running', new Scale(10));
    expect(valuesSync(pdict(m)['running'] as gg.Tensor)).to.deep.equal([1, 2]);
    expect(Object.keys(m.stateDict())).to.deep.equal(['weight', 'bias', 'parametrizations.running.original']);
    expect(m.buffers()).to.deep.equal([b]);
    expect(b.requiresGrad).to.equal(false);
    removeParametrizations(m, 'running');
    expect(m._buffers.get('running')).to.equal(b);
    expect(Object.keys(m.stateDict())).to.deep.equal(['weight', 'bias', 'running']);
  });

  it('round-trips a parametrized module through stateDict / loadStateDict', () => {
    const a = new Lin(3, 2);
    registerParametrization(a, 'weight', new Scale(2));
    registerParametrization(a, 'weight', new AddOne());
    const b = new Lin(3, 2);
    registerParametrization(b, 'weight', new Scale(2));
    registerParametrization(b, 'weight', new AddOne());
    const x = gg.randn([4, 3], f64);
    expect(valuesSync(a.call(x))).to.not.deep.equal(valuesSync(b.call(x)));
    const bOrig = (parametrizationList(b, 'weight') as ParametrizationList).original;
    b.loadStateDict(a.stateDict());
    close(a.call(x), b.call(x));
    expect((parametrizationList(b, 'weight') as ParametrizationList).original).to.equal(bOrig);
    // a plain module does not accept the parametrized keys
    const c = new Lin(3, 2);
    expect(errorOf(() => c.loadStateDict(a.stateDict()))).to.match(/^Error\(s\) in loading state_dict for Lin:\n\tMissing key\(s\) in state_dict: "weight"\. \n\tUnexpected key\(s\) in state_dict: "parametrizations\.weight\.original", "parametrizations\.weight\.1\.one"\./);
  });

  it('follows the module into train / eval', () => {
    const m = new Lin(2, 2);
    m.eval();
    const s = new Scale(2);
    registerParametrization(m, 'weight', s);
    expect(s.training).to.equal(false);
    m.train();
    expect(s.training).to.equal(true);
  });

  it('checks what rightInverse returns', () => {
    /** Identity forward, but rightInverse changes the dtype or the shape. */
    class BadInverse extends Module {
      constructor(readonly kind: 'dtype' | 'shape') {
        super();
      }
      forward(x: gg.Tensor): gg.Tensor {
        return x;
      }
      rightInverse(x: gg.Tensor): gg.Tensor {
        return this.kind === 'dtype' ? x.to('float32') : x.narrow(0, 0, 1);
      }
    }
    const m = new Lin(3, 2);
    expect(errorOf(() => registerParametrization(m, 'weight', new BadInverse('dtype')))).to.equal(
      'When `right_inverse` outputs one tensor, it may not change the dtype.\noriginal.dtype: float64\nright_inverse(original).dtype: float32',
    );
    registerParametrization(m, 'weight', new Scale(2));
    expect(errorOf(() => registerParametrization(m, 'weight', new BadInverse('dtype')))).to.equal(
      'The tensor returned by parametrization.right_inverse must have the same dtype as module.weight, unless the `unsafe` flag is enabled.\nmodule.weight.dtype: float64\nreturned dtype: float32',
    );
    expect(errorOf(() => registerParametrization(m, 'weight', new BadInverse('shape')))).to.equal(
      'The tensor returned by parametrization.right_inverse must have the same shape as module.weight, unless the `unsafe` flag is enabled.\nmodule.weight.shape: [2, 3]\nreturned shape: [1, 3]',
    );
    expect(errorOf(() => new ParametrizationList([], gg.zeros([1], f64), true))).to.equal('ParametrizationList requires one or more modules.');
  });

  it('reports unknown names and removing what is not parametrized', () => {
    const m = new Lin(3, 2);
    expect(errorOf(() => registerParametrization(m, 'foo', new Scale(2)))).to.equal(
      "Module 'Lin(in_features=3, out_features=2, bias=True)' does not have a parameter, a buffer, or a parametrized element with name 'foo'",
    );
    expect(errorOf(() => removeParametrizations(m, 'weight'))).to.equal(
      'Module Lin(in_features=3, out_features=2, bias=True) does not have a parametrization on weight',
    );
  });
});
