/**
 * Device memory: tidy, dispose, and a training loop whose live buffer count
 * stays flat. Counts are read synchronously around synchronous code, so a
 * FinalizationRegistry callback (which only runs between turns of the event
 * loop) cannot change them mid-measurement.
 */
import { expect } from 'chai';
import * as gg from '../../src/index.js';
import { expectClose, F32, values } from '../helpers/compare.js';
import { forEachDevice } from '../helpers/devices.js';

const live = (device: string): number => gg.memory().devices[device]?.liveBuffers ?? 0;

describe('memory', () => {
  forEachDevice((device) => {
    const dtype = device === 'cpu' ? 'float64' : 'float32';

    it('tidy frees temporaries and keeps what it returns', async () => {
      const x = gg.tensor([[1, -2], [3, -4]], { dtype, device });
      const base = live(device);
      const y = gg.tidy(() => x.mul(2).add(1).relu().sum(1));
      expect(live(device), 'only the result is new').to.equal(base + 1);
      const { a, list } = gg.tidy(() => ({ a: x.exp(), list: [x.neg(), x.abs()], dropped: 0 }));
      expect(live(device), 'tensors in a returned object and array survive').to.equal(base + 4);
      expect(await values(y)).to.deep.equal([3, 7]);
      expectClose(await values(list[1] as gg.Tensor), [1, 2, 3, 4], F32);
      for (const t of [y, a, ...list]) t.dispose();
      expect(live(device)).to.equal(base);
    });

    it('nested tidy: the inner result belongs to the outer scope', () => {
      const x = gg.ones([3], { dtype, device });
      const base = live(device);
      const out = gg.tidy(() => {
        const inner = gg.tidy(() => x.add(1).mul(3));
        return inner.sub(1);
      });
      expect(live(device)).to.equal(base + 1);
      out.dispose();
      expect(live(device)).to.equal(base);
    });

    it('a throwing tidy frees what it made', () => {
      const base = live(device);
      expect(() =>
        gg.tidy(() => {
          gg.ones([8], { dtype, device }).mul(3);
          throw new Error('boom');
        }),
      ).to.throw('boom');
      expect(live(device)).to.equal(base);
    });

    it('dispose twice is harmless; views keep shared storage alive', async () => {
      const base = live(device);
      const t = gg.tensor([1, 2, 3, 4, 5, 6], { dtype, device });
      const r = t.reshape(2, 3);
      const v = r.t();
      expect(live(device)).to.equal(base + 1);
      t.dispose();
      t.dispose();
      r.dispose();
      expect(t.isDisposed).to.equal(true);
      expect(live(device), 'the view still holds the buffer').to.equal(base + 1);
      const c = v.contiguous();
      expect(await values(c)).to.deep.equal([1, 4, 2, 5, 3, 6]);
      // reading a non-contiguous view copies it, and frees the copy and its handles
      expect(await values(v)).to.deep.equal([1, 4, 2, 5, 3, 6]);
      expect(live(device)).to.equal(base + 2);
      c.dispose();
      v.dispose();
      expect(live(device)).to.equal(base);
    });

    it('50 training steps inside tidy keep the live buffer count flat', async function () {
      this.timeout(120_000);
      gg.manualSeed(3);
      const x = gg.randn([8, 3], { dtype, device });
      const target = x.matmul(gg.tensor([[1], [-2], [0.5]], { dtype, device }));
      const w = gg.zeros([3, 1], { dtype, device, requiresGrad: true });
      const lossAt = (): gg.Tensor => gg.noGrad(() => x.matmul(w).sub(target).pow(2).mean());
      const first = await values(lossAt());
      const counts: number[] = [];
      for (let step = 0; step < 50; step++) {
        gg.tidy(() => {
          const loss = x.matmul(w).sub(target).pow(2).mean();
          loss.backward();
          const g = w.grad as gg.Tensor;
          gg.noGrad(() => w.assign(w.sub(g.mul(0.1))));
          g.dispose();
          w.grad = null;
        });
        counts.push(live(device));
      }
      expect(new Set(counts).size, `live buffers per step: ${counts.join(' ')}`).to.equal(1);
      const last = await values(lossAt());
      expect(last[0] as number).to.be.lessThan((first[0] as number) / 10);
    });
  });
});
