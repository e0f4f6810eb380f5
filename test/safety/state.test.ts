/**
 * A failed call changes nothing (docs/notes/validation.md): Module.loadStateDict,
 * optimizer.loadStateDict and safetensors check everything before writing.
 * Messages follow PyTorch 1.13 where it has one (`While copying the parameter
 * named "weight", expected torch.Tensor or Tensor-like object from checkpoint
 * but received <class 'list'>`).
 */
import { expect } from 'chai';
import * as gg from '../../src/index.js';
import { decodeSafetensors, encodeSafetensors } from '../../src/nn/safetensors.js';

const snapshot = (m: gg.nn.Module): Record<string, number[]> =>
  Object.fromEntries(Object.entries(m.stateDict()).map(([k, t]) => [k, Array.from(t.dataSync())]));

describe('safety: Module.loadStateDict validates every value before writing any', () => {
  const model = (): gg.nn.Sequential => new gg.nn.Sequential(new gg.nn.Linear(2, 2), new gg.nn.BatchNorm1d(2));

  it('a plain array is refused with PyTorch\'s message, and nothing is written', () => {
    const m = model();
    const before = snapshot(m);
    const sd: Record<string, unknown> = { ...m.stateDict() };
    for (const k of Object.keys(sd)) sd[k] = gg.fullLike(sd[k] as gg.Tensor, 5);
    sd['1.running_var'] = [1, 1];
    expect(() => m.loadStateDict(sd as Record<string, gg.Tensor>)).to.throw(
      'While copying the buffer named "1.running_var", expected a Tensor from checkpoint but received list',
    );
    expect(snapshot(m)).to.deep.equal(before);
  });

  it('a disposed tensor late in the dict is refused before earlier keys are written', () => {
    const m = model();
    const before = snapshot(m);
    const sd: Record<string, gg.Tensor> = {};
    for (const [k, t] of Object.entries(m.stateDict())) sd[k] = gg.fullLike(t, 5);
    (sd['1.running_mean'] as gg.Tensor).dispose();
    expect(() => m.loadStateDict(sd)).to.throw('While copying the buffer named "1.running_mean", the Tensor from checkpoint was disposed');
    expect(snapshot(m)).to.deep.equal(before);
  });

  it('a state dict that is not an object is refused', () => {
    expect(() => model().loadStateDict(null as unknown as Record<string, gg.Tensor>)).to.throw('Expected state_dict to be dict-like, got None.');
  });

  it('a good load still works and copies values', () => {
    const m = model();
    const sd: Record<string, gg.Tensor> = {};
    for (const [k, t] of Object.entries(m.stateDict())) sd[k] = gg.fullLike(t, 3);
    m.loadStateDict(sd);
    expect(Array.from((m.stateDict()['0.weight'] as gg.Tensor).dataSync())).to.deep.equal([3, 3, 3, 3]);
  });
});

describe('safety: optimizer.loadStateDict changes nothing when it fails', () => {
  it('a bad state tensor leaves options and momentum buffers as they were', () => {
    const w = gg.tensor([1, 2], { requiresGrad: true });
    const opt = new gg.optim.SGD([w], { lr: 0.1, momentum: 0.9 });
    w.mul(w).sum().backward();
    opt.step();
    const buf = opt.state.get(w)?.['momentum_buffer'] as gg.Tensor;
    const bufBefore = Array.from(buf.dataSync());
    const sd = opt.stateDict();
    (sd.paramGroups[0] as { lr: number }).lr = 0.5;
    const bad = gg.ones([2]);
    bad.dispose();
    sd.state[0] = { momentum_buffer: bad };
    expect(() => opt.loadStateDict(sd)).to.throw('loadStateDict(): state 0.momentum_buffer was disposed');
    expect(opt.paramGroups[0]?.lr).to.equal(0.1);
    expect(opt.state.get(w)?.['momentum_buffer']).to.equal(buf);
    expect(Array.from(buf.dataSync())).to.deep.equal(bufBefore);

    sd.state[0] = { momentum_buffer: [1, 2] as unknown as gg.Tensor };
    expect(() => opt.loadStateDict(sd)).to.throw('loadStateDict(): state 0.momentum_buffer must be a Tensor or a number, not list');
    expect(opt.paramGroups[0]?.lr).to.equal(0.1);

    const bad2 = opt.stateDict();
    (bad2.paramGroups[0] as { lr: number }).lr = -1;
    expect(() => opt.loadStateDict(bad2)).to.throw('Invalid learning rate: -1');
    expect(opt.paramGroups[0]?.lr).to.equal(0.1);
  });
});

describe('safety: safetensors', () => {
  it("a tensor named '__proto__' survives a round trip (no prototype write)", () => {
    const sd: Record<string, gg.Tensor> = {};
    Object.defineProperty(sd, '__proto__', { value: gg.tensor([1, 2]), enumerable: true });
    sd['a'] = gg.tensor([3]);
    const back = gg.io.fromSafetensorsBytes(gg.io.toSafetensorsBytesSync(sd));
    expect(Object.keys(back)).to.deep.equal(['__proto__', 'a']);
    expect(Object.getPrototypeOf(back)).to.equal(Object.prototype);
    expect(Array.from((Object.getOwnPropertyDescriptor(back, '__proto__')?.value as gg.Tensor).dataSync())).to.deep.equal([1, 2]);
  });

  it("metadata named '__proto__' survives too", () => {
    const meta: Record<string, string> = {};
    Object.defineProperty(meta, '__proto__', { value: 'x', enumerable: true });
    const bytes = encodeSafetensors(new Map(), meta);
    expect(Object.getOwnPropertyDescriptor(decodeSafetensors(bytes).metadata, '__proto__')?.value).to.equal('x');
  });

  it('an integer buffer outside int64 (1e20, NaN, inf) is refused with its key, not wrapped', () => {
    // a float tensor saved as I64 (its key, or gg.nn.integerTensors) has its values checked
    for (const v of [1e20, NaN, -Infinity]) {
      const t = gg.full([], v, { dtype: 'float64' });
      expect(() => gg.io.toSafetensorsBytesSync({ num_batches_tracked: t }), String(v)).to.throw(
        /^safetensors: cannot save "num_batches_tracked" as I64: element 0 is .*, outside the int64 range/,
      );
    }
    // the counter is int64 itself, and refuses 1e20 at the door: gpugrad's int64 is exact to 2^53 only
    const bn = new gg.nn.BatchNorm1d(2);
    expect(() => gg.noGrad(() => bn.num_batches_tracked!.copy_(1e20))).to.throw(RangeError, /^value cannot be converted to type int64_t without overflow: 100000000000000000000/);
    expect(() => gg.noGrad(() => bn.num_batches_tracked!.copy_(2 ** 60))).to.throw(RangeError, /^int64 value 1152921504606847000 is beyond 2\^53/);
    gg.noGrad(() => bn.num_batches_tracked!.copy_(7));
    const back = gg.io.fromSafetensorsBytes(gg.io.toSafetensorsBytesSync(bn.stateDict()));
    expect((back['num_batches_tracked'] as gg.Tensor).dataSync()[0]).to.equal(7);
  });
});
