/** examples/micro-engine.ts against the real engine, on the same graphs. */
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import * as gg from '../../src/index.js';
import { main, microBackward } from '../../examples/micro-engine.js';
import { expectClose, F64 } from '../helpers/compare.js';

describe('examples/micro-engine', () => {
  it('gives the real engine\'s gradients on its own demo graph', async () => {
    const { micro, real } = await main();
    expect(micro).to.have.length(2);
    micro.forEach((g, i) => expectClose(g, real[i]!, { rtol: 1e-6, atol: 1e-7 }, `leaf ${i}`));
  });

  it('gives the real engine\'s gradients through broadcasting, a shared subgraph, matmul and a norm layer (float64)', async () => {
    gg.manualSeed(3);
    const f64 = { dtype: 'float64' as const };
    const x = gg.randn([2, 3, 4, 4], { ...f64, requiresGrad: true });
    const bias = gg.randn([3, 1, 1], { ...f64, requiresGrad: true });
    const w = gg.randn([4, 2], { ...f64, requiresGrad: true });
    const bn = new gg.nn.BatchNorm2d(3, f64);
    const h = bn.call(x.add(bias)).tanh();
    const loss = h.matmul(w).pow(2).mean().add(h.mul(h.sigmoid()).sum().div(10));
    // the micro engine leaves saved tensors alone, so the real engine can walk the same graph after it
    const mine = microBackward(loss);
    loss.backward();
    const leaves = [x, bias, w, bn.weight!, bn.bias!];
    for (const [i, t] of leaves.entries()) {
      expect(mine.has(t), `leaf ${i} got no gradient`).to.equal(true);
      expectClose(await mine.get(t)!.data(), await t.grad!.data(), F64, `leaf ${i}`);
    }
  });

  it('each step it names is a function of src/autograd/engine.ts', () => {
    const root = new URL('../../../', import.meta.url);
    const example = readFileSync(new URL('examples/micro-engine.ts', root), 'utf8');
    const engine = readFileSync(new URL('src/autograd/engine.ts', root), 'utf8');
    const named = [...example.matchAll(/engine\.ts `(\w+)`/g)].map((m) => m[1]!);
    expect(named).to.have.length.greaterThan(6);
    for (const n of named) expect(engine, n).to.match(new RegExp(`function ${n}\\(`));
  });
});
