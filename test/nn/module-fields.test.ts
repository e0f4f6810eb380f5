/**
 * Parameters and modules assigned as fields register themselves, as in
 * PyTorch (`self.weight = nn.Parameter(...)`): class fields and constructor
 * assignments, state-dict keys, `.double()`, reassignment, and what stays a
 * plain field.
 */
import { expect } from 'chai';
import * as gg from '../../src/index.js';

class Scale extends gg.nn.Module {
  weight = gg.nn.parameter(gg.ones([3]));
  fc: gg.nn.Linear;
  mask: gg.Tensor;
  constructor() {
    super();
    this.fc = new gg.nn.Linear(3, 2);
    this.mask = gg.ones([3]); // a plain tensor: a plain field, as in PyTorch
  }
  forward(x: gg.Tensor): gg.Tensor {
    return this.fc.call(x.mul(this.weight));
  }
}

class Assigned extends gg.nn.Module {
  declare bias: gg.Tensor;
  constructor() {
    super();
    this.bias = gg.nn.parameter(gg.zeros([2]));
  }
  forward(x: gg.Tensor): gg.Tensor {
    return x.add(this.bias);
  }
}

describe('nn.Module: fields register as in PyTorch', () => {
  it('a class field parameter and a constructor-assigned module register, in order', () => {
    const m = new Scale();
    expect([...m.namedParameters()].map(([n]) => n)).to.deep.equal(['weight', 'fc.weight', 'fc.bias']);
    expect(Object.keys(m.stateDict())).to.deep.equal(['weight', 'fc.weight', 'fc.bias']);
    expect([...m.namedChildren()].map(([n]) => n)).to.deep.equal(['fc']);
    expect(m.weight).to.equal(m.parameters()[0]);
    expect(m.buffers()).to.deep.equal([]);
  });

  it('.double() converts a field parameter (it used to be skipped)', () => {
    const m = new Scale().double();
    expect(m.weight.dtype).to.equal('float64');
    expect(m.call(gg.ones([1, 3], { dtype: 'float64' })).dtype).to.equal('float64');
  });

  it('a parameter assigned in the constructor registers; reassigning goes through the slot', () => {
    const m = new Assigned();
    expect(Object.keys(m.stateDict())).to.deep.equal(['bias']);
    const other = gg.nn.parameter(gg.ones([2]));
    m.bias = other;
    expect(m.parameters()).to.deep.equal([other]);
    expect(m.bias).to.equal(other);
  });

  it('a plain tensor field is not a parameter; isParameter tells them apart', () => {
    const m = new Scale();
    expect(gg.nn.isParameter(m.weight)).to.equal(true);
    expect(gg.nn.isParameter(m.mask)).to.equal(false);
    expect(m.parameters()).to.not.include(m.mask);
  });

  it('built-in layers are unchanged (instanceof, parameters)', () => {
    const l = new gg.nn.Linear(2, 3);
    expect(l).to.be.instanceOf(gg.nn.Linear).and.instanceOf(gg.nn.Module);
    expect([...l.namedParameters()].map(([n]) => n)).to.deep.equal(['weight', 'bias']);
    const seq = new gg.nn.Sequential(l, new gg.nn.ReLU());
    expect(seq.parameters().length).to.equal(2);
  });
});
