/**
 * releaseDevice end to end, on every device (issue 9): open the device,
 * compute (against a reference computed in JS), see every buffer freed,
 * release it, see a tensor kept across the release say so when used (and
 * dispose harmlessly), then reopen the device and compute again.
 */
import { expect } from 'chai';
import * as gg from '../../src/index.js';
import { forEachDevice } from '../helpers/devices.js';

const live = (device: string): number => gg.memory().devices[device]?.liveBuffers ?? 0;

/** a @ b for row-major 2x3 and 3x2 matrices, in JS. */
function matmulRef(a: number[], b: number[]): number[] {
  const out: number[] = [];
  for (let i = 0; i < 2; i++) for (let j = 0; j < 2; j++) out.push(a[i * 3]! * b[j]! + a[i * 3 + 1]! * b[2 + j]! + a[i * 3 + 2]! * b[4 + j]!);
  return out;
}

async function compute(device: string): Promise<number[]> {
  const a = [1, 2, 3, 4, 5, 6];
  const b = [0.5, -1, 2, 0.25, -3, 1];
  const x = gg.tensor(a, { shape: [2, 3], device, requiresGrad: true });
  const w = gg.tensor(b, { shape: [3, 2], device });
  // every handle is disposed below (a dropped intermediate would be the collector's, README "Memory")
  const h = x.matmul(w);
  const y = h.relu();
  const loss = y.sum();
  loss.backward();
  const got = Array.from(await y.data());
  const grad = Array.from(await x.grad!.data());
  const ref = matmulRef(a, b);
  expect(got).to.deep.equal(ref.map((v) => Math.max(v, 0)));
  // d sum(relu(x w)) / dx = 1[xw > 0] wᵀ
  const gRef = [0, 1].flatMap((i) => [0, 1, 2].map((k) => [0, 1].reduce((s, j) => s + (ref[i * 2 + j]! > 0 ? b[k * 2 + j]! : 0), 0)));
  expect(grad).to.deep.equal(gRef);
  for (const t of [x.grad!, x, w, h, y, loss]) t.dispose();
  return got;
}

describe('safety: releaseDevice end to end', () => {
  forEachDevice((device) => {
    it('computes, frees every buffer, releases, refuses a stale tensor, and reopens', async () => {
      await gg.initDevice(device);
      const before = live(device);
      await compute(device);
      // NOTE: the awaited reads in compute() give finalizers a turn, and they may free buffers
      // that earlier tests dropped on this device, so the count can fall below the baseline:
      // a leak from compute() shows as a count above it
      expect(live(device), 'buffers left after dispose').to.be.at.most(before);
      const base = live(device);

      const kept = gg.tensor([1, 2, 3], { device });
      expect(live(device)).to.equal(base + 1);
      gg.releaseDevice(device);
      if (device === 'cpu') {
        // the reference device only drops its compiled kernels: its tensors stay readable
        expect(Array.from(kept.dataSync())).to.deep.equal([1, 2, 3]);
      } else {
        // a released device is no longer open: its counters are gone with it
        expect(gg.memory().devices[device]).to.equal(undefined);
        let message = '';
        try {
          await kept.data();
        } catch (e) {
          message = (e as Error).message;
        }
        expect(message).to.include(`was used after releaseDevice('${device}')`);
      }
      // disposing a tensor of a released device is harmless
      kept.dispose();
      kept.dispose();

      // reopen: a fresh device with its own counters
      expect(await gg.initDevice(device)).to.equal(device);
      const reopened = live(device);
      if (device !== 'cpu') expect(reopened).to.equal(0);
      await compute(device);
      // a reopened gpu.js device holds no buffer of earlier tests, so its count is exact; the
      // reference device keeps its tensors across the release (see above)
      if (device === 'cpu') expect(live(device), 'buffers left after the reopened device computed').to.be.at.most(reopened);
      else expect(live(device), 'buffers left after the reopened device computed').to.equal(reopened);
    });
  });
});
