/** manualSeed: same seed, same numbers, on every device. */
import { expect } from 'chai';
import * as gg from '../../src/index.js';
import { values } from '../helpers/compare.js';
import { forEachDevice } from '../helpers/devices.js';

/** The cpu's float32 numbers for a seed: what every device must reproduce. */
async function reference(seed: number): Promise<{ u: number[]; n: number[] }> {
  gg.manualSeed(seed);
  const u = gg.rand([4, 5]);
  const n = gg.randn([7]);
  return { u: await values(u), n: await values(n) };
}

describe('manualSeed', () => {
  it('rand is uniform in [0, 1) and randn looks standard normal (cpu, float64)', async () => {
    gg.manualSeed(123);
    const u = await values(gg.rand([20000], { dtype: 'float64' }));
    expect(Math.min(...u)).to.be.at.least(0);
    expect(Math.max(...u)).to.be.lessThan(1);
    const mean = u.reduce((a, b) => a + b, 0) / u.length;
    expect(mean).to.be.closeTo(0.5, 0.01);
    const n = await values(gg.randn([20000], { dtype: 'float64' }));
    const m = n.reduce((a, b) => a + b, 0) / n.length;
    const v = n.reduce((a, b) => a + (b - m) ** 2, 0) / n.length;
    expect(m).to.be.closeTo(0, 0.03);
    expect(v).to.be.closeTo(1, 0.04);
  });

  it('different seeds give different numbers', async () => {
    gg.manualSeed(1);
    const a = await values(gg.rand([8]));
    gg.manualSeed(2);
    const b = await values(gg.rand([8]));
    expect(a).to.not.deep.equal(b);
  });

  forEachDevice((device) => {
    it('same seed, same rand and randn values (and the same as cpu)', async () => {
      const ref = await reference(42);
      for (let round = 0; round < 2; round++) {
        gg.manualSeed(42);
        const u = gg.rand([4, 5], { device });
        const n = gg.randn([7], { device });
        expect(u.device).to.equal(device);
        expect(await values(u), `rand, round ${round}`).to.deep.equal(ref.u);
        expect(await values(n), `randn, round ${round}`).to.deep.equal(ref.n);
      }
    });
  });
});
