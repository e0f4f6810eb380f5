// Data stays on the device, and training does not leak device buffers (issue: every gpu.js device).
import { expect } from 'chai';
import * as gg from '../../src/index.js';
import { forEachDevice } from '../helpers/devices.js';

function downloads(device: string): number {
  return gg.memory().devices[device]?.downloads ?? 0;
}
function live(device: string): number {
  return gg.memory().devices[device]?.liveBuffers ?? 0;
}

describe('device residency and memory', () => {
  forEachDevice((device) => {
    it('a 50-op chain with backward downloads nothing until the values are read', async () => {
      gg.manualSeed(1);
      const x = gg.rand([4, 5], { device, requiresGrad: true });
      const w = gg.rand([5, 3], { device, requiresGrad: true });
      const before = downloads(device);
      let h = x;
      // 50 ops of every kind: elementwise, broadcast, reductions, views, matmul
      for (let i = 0; i < 10; i++) {
        h = h.mul(0.9).add(0.1).tanh().sub(h.mean(1, true)).add(h.transpose(0, 1).transpose(0, 1));
      }
      const loss = h.matmul(w).sigmoid().sum();
      loss.backward();
      expect(downloads(device) - before, 'downloads before reading').to.equal(0);
      const g = await x.grad!.data();
      expect(downloads(device) - before, 'one download for the gradient').to.equal(1);
      expect(Array.from(g).every(Number.isFinite)).to.equal(true);
      // leave nothing behind for the next test's buffer count
      for (const t of [x.grad, w.grad, x, w, h, loss]) t?.dispose();
    });

    it('300 training steps leave the live buffer count where step 20 left it', async function () {
      this.timeout(120_000);
      gg.manualSeed(2);
      const nn = gg.nn;
      const model = new nn.Sequential(
        new nn.Conv2d(1, 4, 3, { padding: 1 }),
        new nn.BatchNorm2d(4),
        new nn.ReLU(),
        new nn.MaxPool2d(2),
        new nn.Flatten(),
        new nn.Linear(4 * 4 * 4, 3),
      ).to(device);
      const opt = new gg.optim.SGD(model.parameters(), { lr: 0.05, momentum: 0.9 });
      const lossFn = new nn.CrossEntropyLoss();
      const x = gg.randn([6, 1, 8, 8], { device });
      const y = gg.tensor([0, 1, 2, 0, 1, 2], { device });
      let at20 = -1;
      let first = NaN;
      let last = NaN;
      for (let step = 1; step <= 300; step++) {
        const loss = gg.tidy(() => {
          opt.zeroGrad();
          const l = lossFn.call(model.call(x), y);
          l.backward();
          opt.step();
          return l;
        });
        if (step === 1) first = await loss.item();
        if (step === 300) last = await loss.item();
        loss.dispose();
        if (step === 20) {
          await x.data(); // let queued frees run on asynchronous devices
          at20 = live(device);
        }
      }
      await x.data();
      // at most, not equal: buffers that earlier tests left to the finalizer may still be
      // counted at step 20 and freed later; what must not happen is growth per step
      expect(live(device)).to.be.at.most(at20);
      expect(last, 'the model learns the fixed batch').to.be.lessThan(first * 0.5);
    });
  });
});
