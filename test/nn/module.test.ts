/**
 * The Module system (src/nn/module.ts) through real layers: traversal order
 * and dedup, buffers, modes, zeroGrad, apply, to(), state dicts and their
 * errors, hooks, printed forms.
 */
import { expect } from 'chai';
import * as gg from '../../src/index.js';

class Net extends gg.nn.Module {
  declare scale: gg.Tensor;
  declare running: gg.Tensor;
  declare scratch: gg.Tensor;
  declare fc: gg.nn.Linear;
  declare head: gg.nn.Sequential;
  constructor(shared?: gg.nn.Linear) {
    super();
    this.registerParameter('scale', gg.ones([2]));
    this.registerBuffer('running', gg.zeros([2]));
    this.registerBuffer('scratch', gg.zeros([1]), false);
    this.registerModule('fc', shared ?? new gg.nn.Linear(3, 2));
    this.registerModule('head', new gg.nn.Sequential(new gg.nn.ReLU(), new gg.nn.Linear(2, 1)));
  }
  forward(x: gg.Tensor): gg.Tensor {
    return this.head.call(this.fc.call(x).mul(this.scale));
  }
}

const vals = (t: gg.Tensor | null | undefined): number[] => Array.from((t as gg.Tensor).dataSync());

function thrown(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    return (e as Error).message;
  }
  return expect.fail('expected an error') as never;
}

describe('nn.Module: traversal', () => {
  it('namedParameters in registration order (own first, then children), each tensor once', () => {
    const net = new Net();
    expect([...net.namedParameters()].map(([n]) => n)).to.deep.equal(['scale', 'fc.weight', 'fc.bias', 'head.1.weight', 'head.1.bias']);
    expect(net.parameters()[1]).to.equal(net.fc.weight);
    // a module shared twice, and a parameter shared by two modules, are listed once
    const lin = new gg.nn.Linear(2, 2);
    const seq = new gg.nn.Sequential(lin, new gg.nn.Tanh(), lin);
    expect([...seq.namedParameters()].map(([n]) => n)).to.deep.equal(['0.weight', '0.bias']);
    expect([...seq.namedModules()].map(([n]) => n)).to.deep.equal(['', '0', '1']);
    const a = new gg.nn.Linear(2, 2);
    const b = new gg.nn.Linear(2, 2);
    b.weight = a.weight;
    const tied = new gg.nn.Sequential(a, b);
    expect([...tied.namedParameters()].map(([n]) => n)).to.deep.equal(['0.weight', '0.bias', '1.bias']);
    expect(tied.parameters(false)).to.deep.equal([]);
  });
  it('buffers (persistent or not), children and namedModules', () => {
    const net = new Net();
    expect([...net.namedBuffers()].map(([n]) => n)).to.deep.equal(['running', 'scratch']);
    expect(net.buffers()[0]).to.equal(net.running);
    expect([...net.children()]).to.deep.equal([net.fc, net.head]);
    expect([...net.namedModules()].map(([n, m]) => `${n}:${m.constructor.name}`)).to.deep.equal([
      ':Net',
      'fc:Linear',
      'head:Sequential',
      'head.0:ReLU',
      'head.1:Linear',
    ]);
  });
});

describe('nn.Module: modes and bulk operations', () => {
  it('train/eval propagate to every descendant', () => {
    const net = new Net();
    expect([...net.modules()].every((m) => m.training)).to.equal(true);
    expect(net.eval()).to.equal(net);
    expect([...net.modules()].some((m) => m.training)).to.equal(false);
    net.head.train();
    expect(net.training).to.equal(false);
    expect(net.head.at(1).training).to.equal(true);
    net.train(true);
    expect([...net.modules()].every((m) => m.training)).to.equal(true);
  });
  it('zeroGrad clears every parameter gradient (null by default, zeros on request)', () => {
    const net = new Net();
    net.call(gg.randn([4, 3])).sum().backward();
    expect(net.parameters().every((p) => p.grad !== null)).to.equal(true);
    const g = net.fc.weight.grad as gg.Tensor;
    net.zeroGrad(false);
    expect(net.fc.weight.grad).to.equal(g);
    expect(vals(g).every((v) => v === 0)).to.equal(true);
    net.zeroGrad();
    expect(net.parameters().every((p) => p.grad === null)).to.equal(true);
  });
  it('apply visits children before the module (post-order)', () => {
    const net = new Net();
    const order: string[] = [];
    expect(net.apply((m) => order.push(m.constructor.name))).to.equal(net);
    expect(order).to.deep.equal(['Linear', 'ReLU', 'Linear', 'Sequential', 'Net']);
  });
  it("to('float64') converts parameters, buffers and grads but keeps the tensor objects", () => {
    const net = new Net();
    const params = net.parameters();
    const buffers = net.buffers();
    net.call(gg.randn([2, 3])).sum().backward();
    const before = vals(net.fc.weight);
    expect(net.to('float64')).to.equal(net);
    expect(net.parameters()).to.have.ordered.members(params);
    expect(net.buffers()).to.have.ordered.members(buffers);
    expect([...params, ...buffers].every((t) => t.dtype === 'float64')).to.equal(true);
    expect(net.fc.weight.grad?.dtype).to.equal('float64');
    expect(vals(net.fc.weight)).to.deep.equal(before.map((v) => v)); // float32 values are exact in float64
    expect(params.every((p) => p.isLeaf && p.requiresGrad)).to.equal(true);
    expect([...net.call(gg.randn([2, 3], { dtype: 'float64' })).shape]).to.deep.equal([2, 1]);
    net.float();
    expect(net.fc.weight.dtype).to.equal('float32');
  });
});

describe('nn.Module: state dicts', () => {
  it('keys and order: own parameters, own persistent buffers, then children', () => {
    const net = new Net();
    expect(Object.keys(net.stateDict())).to.deep.equal(['scale', 'running', 'fc.weight', 'fc.bias', 'head.1.weight', 'head.1.bias']);
    const sd = net.stateDict();
    expect(sd['fc.weight']?.requiresGrad).to.equal(false);
    expect(vals(sd['fc.weight'])).to.deep.equal(vals(net.fc.weight));
  });
  it('loadStateDict copies values into the same tensors', () => {
    const a = new Net();
    const b = new Net();
    const w = b.fc.weight;
    const r = b.running;
    gg.noGrad(() => a.running.assign(gg.tensor([3, 4], { dtype: 'float32' })));
    const res = b.loadStateDict(a.stateDict());
    expect(res).to.deep.equal({ missingKeys: [], unexpectedKeys: [] });
    expect(b.fc.weight).to.equal(w);
    expect(b.running).to.equal(r);
    expect(vals(b.fc.weight)).to.deep.equal(vals(a.fc.weight));
    expect(vals(b.running)).to.deep.equal([3, 4]);
    const x = gg.randn([2, 3]);
    expect(vals(b.call(x))).to.deep.equal(vals(a.call(x)));
  });
  it('strict mode lists missing and unexpected keys by name, as PyTorch', () => {
    const m = new gg.nn.Linear(4, 5);
    const sd = m.stateDict();
    const msg = thrown(() => m.loadStateDict({ weight: sd['weight'] as gg.Tensor, extra: gg.zeros([1]), other: gg.zeros([1]) }));
    expect(msg).to.equal('Error(s) in loading state_dict for Linear:\n\tMissing key(s) in state_dict: "bias". \n\tUnexpected key(s) in state_dict: "extra", "other". ');
    const res = m.loadStateDict({ weight: sd['weight'] as gg.Tensor, extra: gg.zeros([1]) }, { strict: false });
    expect(res).to.deep.equal({ missingKeys: ['bias'], unexpectedKeys: ['extra'] });
  });
  it('a shape mismatch names the key and both shapes, even when not strict', () => {
    const m = new gg.nn.Sequential(new gg.nn.Linear(4, 5));
    const msg = thrown(() => m.loadStateDict({ '0.weight': gg.zeros([3, 4]), '0.bias': gg.zeros([5]) }, { strict: false }));
    expect(msg).to.contain('size mismatch for 0.weight: copying a param with shape [3, 4] from checkpoint, the shape in current model is [5, 4].');
  });
  it('a failed load leaves every parameter unchanged', () => {
    const m = new gg.nn.Sequential(new gg.nn.Linear(2, 2), new gg.nn.Linear(2, 3));
    const before = m.parameters().map(vals);
    expect(() =>
      m.loadStateDict({ '0.weight': gg.ones([2, 2]), '0.bias': gg.ones([2]), '1.weight': gg.ones([2, 2]), '1.bias': gg.ones([3]) }),
    ).to.throw('size mismatch for 1.weight');
    expect(m.parameters().map(vals)).to.deep.equal(before);
    expect(() => m.loadStateDict({ '0.weight': gg.ones([2, 2]), '0.bias': gg.ones([2]), '1.weight': gg.ones([3, 2]) })).to.throw('Missing key(s) in state_dict: "1.bias"');
    expect(m.parameters().map(vals)).to.deep.equal(before);
  });
});

describe('nn.Module: hooks', () => {
  it('forward pre-hooks see and may replace the inputs; forward hooks may replace the output; handles remove them', () => {
    const m = new gg.nn.Linear(2, 2, { bias: false, dtype: 'float64' });
    gg.noGrad(() => m.weight.assign(gg.tensor([[1, 0], [0, 1]], { dtype: 'float64' })));
    const x = gg.tensor([[1, 2]], { dtype: 'float64' });
    const seen: string[] = [];
    const pre = m.registerForwardPreHook((mod, inputs) => {
      seen.push(`pre:${mod.constructor.name}:${inputs.length}`);
      return (inputs[0] as gg.Tensor).mul(10);
    });
    const post = m.registerForwardHook((_mod, inputs, out) => {
      seen.push(`post:${vals(inputs[0])}`);
      return out.add(1);
    });
    expect(vals(m.call(x))).to.deep.equal([11, 21]);
    expect(seen).to.deep.equal(['pre:Linear:1', 'post:10,20']);
    pre.remove();
    expect(vals(m.call(x))).to.deep.equal([2, 3]);
    post.remove();
    expect(vals(m.call(x))).to.deep.equal([1, 2]);
    expect(vals(m.forward(x))).to.deep.equal([1, 2]);
  });
  it('full backward hooks get grad_input and may replace it', () => {
    const m = new gg.nn.Linear(3, 2, { dtype: 'float64' });
    const x = gg.randn([4, 3], { dtype: 'float64', requiresGrad: true });
    const gout = gg.randn([4, 2], { dtype: 'float64' });
    // NOTE: the engine frees intermediate gradients after backward, so the hook reads them now
    let gIn: number[][] = [];
    let calls = 0;
    const h = m.registerFullBackwardHook((mod, gi) => {
      expect(mod).to.equal(m);
      calls++;
      gIn = gi.map(vals);
    });
    m.call(x).backward(gout);
    const expected = vals(gout.matmul(m.weight));
    expect(calls).to.equal(1);
    expect(gIn).to.deep.equal([expected]);
    expect(vals(x.grad)).to.deep.equal(expected);
    h.remove();
    m.registerFullBackwardHook((_mod, gi) => [(gi[0] as gg.Tensor).mul(2)]);
    x.grad = null;
    m.call(x).backward(gout);
    expect(vals(x.grad)).to.deep.equal(expected.map((v) => v * 2));
    // parameter gradients are not affected by the replacement
    expect(m.weight.grad).to.not.equal(null);
  });
  it('full backward hooks get grad_output (alive while the hook runs)', () => {
    const m = new gg.nn.Linear(3, 2, { dtype: 'float64' });
    const x = gg.randn([4, 3], { dtype: 'float64', requiresGrad: true });
    const gout = gg.randn([4, 2], { dtype: 'float64' });
    let gOut: number[][] = [];
    m.registerFullBackwardHook((_mod, _gi, go) => {
      gOut = go.map(vals);
    });
    m.call(x).backward(gout);
    expect(gOut).to.deep.equal([vals(gout)]);
  });
});

describe('nn.Module: printed form', () => {
  it('prints a nested Sequential like PyTorch', () => {
    const net = new gg.nn.Sequential(
      new gg.nn.Linear(4, 5),
      new gg.nn.LeakyReLU(0.2),
      new gg.nn.Dropout(0.1),
      new gg.nn.Sequential(new gg.nn.Flatten(), new gg.nn.Linear(5, 2, { bias: false })),
    );
    expect(net.toString()).to.equal(
      [
        'Sequential(',
        '  (0): Linear(in_features=4, out_features=5, bias=True)',
        '  (1): LeakyReLU(negative_slope=0.2)',
        '  (2): Dropout(p=0.1, inplace=False)',
        '  (3): Sequential(',
        '    (0): Flatten(start_dim=1, end_dim=-1)',
        '    (1): Linear(in_features=5, out_features=2, bias=False)',
        '  )',
        ')',
      ].join('\n'),
    );
  });
});
