/**
 * The engine trace (order against the topological rule, what each step
 * reports) and anomaly mode (PyTorch's message, the forward stack, async).
 */
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import * as gg from '../../src/index.js';
import { forEachDevice } from '../helpers/devices.js';

type Node = gg.autograd.graph.Node;
const torch = JSON.parse(readFileSync(new URL('../../../test/fixtures/torch_node_names.json', import.meta.url), 'utf8')) as { anomaly: string };

/**
 * The topological rule of a backward pass: a node runs only after every
 * node that sends it a gradient (every consumer of its outputs that runs)
 * has run, and each node runs once per pass.
 */
function expectTopological(steps: readonly gg.autograd.TraceStep[]): void {
  const pos = new Map<Node, number>();
  steps.forEach((s, i) => {
    expect(pos.has(s.node), `${s.name} visited twice`).to.equal(false);
    pos.set(s.node, i);
  });
  for (const s of steps) {
    for (const [next] of s.node.nextFunctions) {
      if (next && pos.has(next)) expect(pos.get(next)!, `${next.name} ran before its consumer ${s.name}`).to.be.greaterThan(pos.get(s.node)!);
    }
  }
  // and how many consumers each node waited for is how many traced edges reach it
  for (const s of steps) {
    const into = steps.reduce((n, c) => n + c.node.nextFunctions.filter(([m]) => m === s.node).length, 0);
    expect(s.waitedFor, `${s.name} waited for`).to.equal(into);
  }
}

describe('autograd.trace', () => {
  it('x.mul(x).sum(): SumBackward0, MulBackward0, AccumulateGrad with shapes, waits and frees', () => {
    const x = gg.tensor([1, 2], { requiresGrad: true });
    const loss = x.mul(x).sum();
    const t = gg.autograd.trace(() => loss.backward());
    expect(t.steps.map((s) => [s.step, s.name, s.waitedFor, s.action])).to.deep.equal([
      [1, 'SumBackward0', 0, 'backward'],
      [2, 'MulBackward0', 1, 'backward'],
      [3, 'AccumulateGrad', 2, 'accumulate'],
    ]);
    expect(t.steps[0]!.gradIn).to.deep.equal([[]]);
    expect(t.steps[0]!.gradOut).to.deep.equal([[2]]);
    expect(t.steps[1]!.gradOut).to.deep.equal([[2], [2]]);
    expect(t.steps[2]!.gradIn).to.deep.equal([[2]]);
    expect(t.steps.map((s) => s.released)).to.deep.equal([true, true, false]);
    expectTopological(t.steps);
    const text = t.format().split('\n');
    expect(text[0]).to.match(/^step\s+node\s+waited\s+grad in\s+grad out\s+hooks\s+freed$/);
    expect(text[3]).to.match(/^\s*3\s+AccumulateGrad\s+2\s+\(2,\)\s+→ \.grad \(2,\)\s+0\s+no$/);
  });

  it('follows the topological rule on a diamond, a shared subgraph and an MLP', () => {
    gg.manualSeed(1);
    const x = gg.randn([4, 3], { requiresGrad: true });
    const h = x.tanh();
    const diamond = h.exp().add(h.sigmoid()).mul(h).sum();
    const mlp = new gg.nn.Sequential(new gg.nn.Linear(3, 5), new gg.nn.ReLU(), new gg.nn.Linear(5, 2));
    const loss = mlp.call(x).pow(2).mean().add(diamond);
    const t = gg.autograd.trace(() => loss.backward());
    expect(t.steps.length).to.be.greaterThan(15);
    expectTopological(t.steps);
    // every leaf is accumulated exactly once, after everything that feeds it
    expect(t.steps.filter((s) => s.action === 'accumulate')).to.have.length(5);
  });

  it('reports hooks run, retainGraph (nothing freed), and one pass per backward', () => {
    const x = gg.tensor([1, 2], { requiresGrad: true });
    const y = x.mul(3);
    y.registerHook((g) => g.mul(2));
    const loss = y.sum();
    const t = gg.autograd.trace(() => {
      loss.backward(undefined, { retainGraph: true });
      loss.backward();
    });
    expect(t.steps.map((s) => s.pass)).to.deep.equal([1, 1, 1, 2, 2, 2]);
    expect(t.steps.filter((s) => s.name === 'MulBackward0').map((s) => s.hooks)).to.deep.equal([1, 1]);
    expect(t.steps.slice(0, 3).some((s) => s.released)).to.equal(false);
    expect(t.steps[3]!.released).to.equal(true);
  });

  it('autograd.grad shows the captured leaf instead of an accumulation', () => {
    const x = gg.tensor([1, 2], { requiresGrad: true });
    const t = gg.autograd.trace(() => gg.autograd.grad(x.exp().sum(), [x]));
    expect(t.steps.map((s) => [s.name, s.action])).to.deep.equal([
      ['SumBackward0', 'backward'],
      ['ExpBackward0', 'backward'],
      ['AccumulateGrad', 'capture'],
    ]);
    expect(t.result[0]!.shape).to.deep.equal([2]);
  });

  it('records nothing outside a trace, and closes when fn throws', () => {
    const x = gg.tensor([1], { requiresGrad: true });
    expect(() => gg.autograd.trace(() => {
      throw new Error('boom');
    })).to.throw('boom');
    x.mul(2).sum().backward();
    const t = gg.autograd.trace(() => 0);
    expect(t.steps).to.deep.equal([]);
  });
});

/**
 * The file this test runs from: this file in Node; in Chromium the test bundle
 * (dist/browser/tests.js, test/browser/suite.ts), which holds the library too,
 * so the forward stack keeps every frame there (src/autograd/graph.ts).
 */
const thisFile = typeof (globalThis as { document?: unknown }).document === 'undefined' ? /trace\.test\.js:\d+:\d+/ : /tests\.js:\d+:\d+/;

describe('autograd anomaly mode', () => {
  afterEach(() => gg.autograd.setDetectAnomaly(false));

  it(`x = [0, 1]: x.sqrt().mul(0).sum().backward() throws "${torch.anomaly}" and the forward stack`, () => {
    const x = gg.tensor([0, 1], { requiresGrad: true });
    let err: Error | undefined;
    try {
      gg.autograd.detectAnomaly(() => {
        const s = x.sqrt(); // the line the stack must point at
        s.mul(0).sum().backward();
      });
    } catch (e) {
      err = e as Error;
    }
    expect(err, 'expected an anomaly error').to.not.equal(undefined);
    const [first, , traceHead, frame] = err!.message.split('\n');
    expect(first).to.equal(torch.anomaly);
    expect(traceHead).to.equal('Traceback of forward call that caused the error:');
    expect(frame).to.match(thisFile);
    expect(gg.autograd.isAnomalyEnabled()).to.equal(false);
  });

  it('without anomaly mode the NaN gradient goes through silently, as in PyTorch', async () => {
    const x = gg.tensor([0, 1], { requiresGrad: true });
    const y = x.sqrt();
    expect(y.gradFn!.forwardStack).to.equal(undefined);
    y.mul(0).sum().backward();
    expect(Number.isNaN((await x.grad!.data())[0])).to.equal(true);
  });

  it('setDetectAnomaly switches it on and off; nodes made while on keep their stacks', () => {
    gg.autograd.setDetectAnomaly(true);
    expect(gg.autograd.isAnomalyEnabled()).to.equal(true);
    const x = gg.tensor([4], { requiresGrad: true });
    const y = x.sqrt();
    gg.autograd.setDetectAnomaly(false);
    const [head, first] = y.gradFn!.forwardStack!.split('\n');
    expect(head).to.equal('Traceback of forward call that caused the error:');
    expect(first).to.match(/^\s+at /).and.match(thisFile);
    y.sum().backward();
  });

  it('detectAnomaly returns fn\'s value, restores the previous mode, and a clean backward passes', () => {
    const x = gg.tensor([1, 4], { requiresGrad: true });
    const v = gg.autograd.detectAnomaly(() => {
      x.sqrt().sum().backward();
      return 7;
    });
    expect(v).to.equal(7);
    gg.autograd.setDetectAnomaly(true);
    gg.autograd.detectAnomaly(() => 0);
    expect(gg.autograd.isAnomalyEnabled()).to.equal(true);
  });

  forEachDevice((device) => {
    it('the async form finds the NaN on every device', async () => {
      const x = gg.tensor([0, 1], { device, requiresGrad: true });
      let s: gg.Tensor | undefined;
      let err: Error | undefined;
      await gg.autograd
        .detectAnomaly(async () => {
          await Promise.resolve();
          // tidy frees the intermediates, so no garbage is left for a later suite's buffer count
          gg.tidy(() => {
            s = gg.keep(x.sqrt());
            s.mul(0).sum().backward();
          });
        })
        .catch((e: Error) => (err = e));
      expect(err?.message.split('\n')[0]).to.equal(torch.anomaly);
      expect(gg.autograd.isAnomalyEnabled()).to.equal(false);
      // (tidy released the failed node's saved tensors where the check was synchronous)
      s!.dispose();
      x.grad?.dispose();
      x.dispose();
    });
  });
});
