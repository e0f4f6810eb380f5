/**
 * Device memory: tidy, dispose, and a training loop whose live buffer count
 * stays flat. Exact counts are compared only across synchronous code: a
 * FinalizationRegistry callback runs between turns of the event loop, and an
 * awaited read gives it such a turn on purpose (src/backend/device.ts,
 * `giveFinalizersATurn`), so across an `await` handles that earlier tests
 * dropped may free their buffers and the count may fall. After an await a
 * test takes a new baseline; a check across one is "no higher than".
 */
import { expect } from 'chai';
import * as gg from '../../src/index.js';
import { expectClose, F32, values, valuesSync } from '../helpers/compare.js';
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
      // a new baseline after the awaits (see the top of this file)
      const after = live(device);
      expect(after, 'reads add no buffer').to.be.at.most(base + 4);
      for (const t of [y, a, ...list]) t.dispose();
      expect(live(device), 'each of the four held one buffer').to.equal(after - 4);
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
      expect(v.storage.freed).to.equal(false);
      const c = v.contiguous();
      expect(live(device), 'contiguous() copies').to.equal(base + 2);
      if (gg.deviceInfo(device).syncRead) {
        // reading a non-contiguous view copies it, and frees the copy and its handles
        // (exact: a synchronous read gives no finalizer a turn)
        expect(valuesSync(v)).to.deep.equal([1, 4, 2, 5, 3, 6]);
        expect(live(device), 'a synchronous read of a view leaves no buffer').to.equal(base + 2);
      }
      expect(await values(c)).to.deep.equal([1, 4, 2, 5, 3, 6]);
      expect(await values(v)).to.deep.equal([1, 4, 2, 5, 3, 6]);
      // NOTE: earlier tests' dropped handles may be finalized during the awaits, so
      // the count may be lower than base + 2, never higher (see the top of this file)
      const after = live(device);
      expect(after, 'a read of a view leaves no buffer').to.be.at.most(base + 2);
      expect(v.storage.freed, 'the view still holds the buffer after the reads').to.equal(false);
      c.dispose();
      expect(live(device), 'c held one buffer').to.equal(after - 1);
      v.dispose();
      expect(v.storage.freed, 'the last handle frees the shared buffer').to.equal(true);
      expect(live(device)).to.equal(after - 2);
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
