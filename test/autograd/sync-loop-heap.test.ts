/**
 * A synchronous training loop keeps the JavaScript heap flat: the graph of
 * each step is freed with it. A WeakRef made (or dereferenced) keeps its
 * target alive until the running job ends (ECMAScript's KeepDuringJob), so
 * the WeakRef each node held to its saved inputs kept every tensor and node
 * of a loop without `await` alive: about 21 KB a step for this MLP, never
 * freed (autograd/graph.ts `OpNode`, docs/notes/bench.md, "W2: fused cross
 * entropy, SGD foreach").
 */
import { expect } from 'chai';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import * as gg from '../../src/index.js';

/** V8's collector, made callable for this process (as `node --expose-gc` would). */
function collector(): () => void {
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
}

describe('a synchronous training loop keeps the heap flat', function () {
  this.timeout(120_000);
  it('2,000 steps of a small MLP with cross entropy and SGD, never awaiting: under 2 MB of heap growth', () => {
    const gc = collector();
    gg.manualSeed(1);
    const x = gg.randn([4, 8]);
    const model = new gg.nn.Sequential(new gg.nn.Linear(8, 8), new gg.nn.ReLU(), new gg.nn.Linear(8, 4));
    const params = model.parameters();
    const target = gg.tensor([0, 1, 2, 3], { dtype: 'int64' });
    const opt = new gg.optim.SGD(params, { lr: 0.01, momentum: 0.9 });
    const step = (): void => {
      opt.zeroGrad();
      gg.tidy(() => {
        gg.nn.functional.crossEntropy(model.forward(x), target).backward();
        opt.step();
      });
    };
    for (let i = 0; i < 300; i++) step();
    gc();
    gc();
    const before = process.memoryUsage().heapUsed;
    for (let i = 0; i < 2000; i++) step();
    gc();
    gc();
    const grown = process.memoryUsage().heapUsed - before;
    // with the weak references: about 40 MB
    expect(grown, `heap grew by ${(grown / 1e6).toFixed(1)} MB`).to.be.below(2e6);
  });
});
