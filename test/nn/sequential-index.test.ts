/**
 * Sequential indexing as PyTorch's `net[i]`: `at(i)` keeps each layer's
 * type (checked by the compiler: this file would not build otherwise),
 * negative indices count from the end, `net[i]` works too.
 */
import { expect } from 'chai';
import * as gg from '../../src/index.js';

describe('nn.Sequential indexing', () => {
  const net = new gg.nn.Sequential(new gg.nn.Linear(4, 8), new gg.nn.ReLU(), new gg.nn.Linear(8, 2));

  it('at(i) is typed as the layer at i', () => {
    const first: gg.nn.Linear = net.at(0); // a compile error if at() returned Module
    const relu: gg.nn.ReLU = net.at(1);
    expect(first.outFeatures).to.equal(8);
    expect(relu).to.be.instanceOf(gg.nn.ReLU);
    expect(net.at(2).weight.shape).to.deep.equal([2, 8]);
  });

  it('negative indices count from the end; out of range throws', () => {
    expect(net.at(-1)).to.equal(net.at(2));
    expect(() => net.at(3)).to.throw(RangeError, 'index 3 is out of range');
    expect(() => net.at(-4)).to.throw(RangeError, 'index -4 is out of range');
  });

  it('net[i] is the same module; a typed Sequential is still a Sequential', () => {
    expect(net[0]).to.equal(net.at(0));
    const plain: gg.nn.Sequential = net;
    const m: gg.nn.Module = plain.at(1);
    expect(m).to.equal(net.at(1));
  });
});
