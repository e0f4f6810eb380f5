/**
 * Device parity: a small network's forward and backward on every device
 * against the float64 cpu reference (float32 tolerances). Runs in Node and,
 * through test/browser/suite.ts, in Chromium on every browser device.
 */
import * as gg from '../../src/index.js';
import { expectClose, F32, values } from '../helpers/compare.js';
import { forEachDevice } from '../helpers/devices.js';

/** conv → batch norm → relu → linear → cross-entropy, on `device` from fixed data. */
async function step(device: string, dtype: gg.DType): Promise<number[][]> {
  gg.manualSeed(7);
  const conv = new gg.nn.Conv2d(2, 3, 3, { padding: 1, device, dtype });
  const bn = new gg.nn.BatchNorm2d(3, { device, dtype });
  const lin = new gg.nn.Linear(3 * 4 * 4, 5, { device, dtype });
  const xs = Array.from({ length: 4 * 2 * 4 * 4 }, (_, i) => Math.sin(i * 0.37) * 0.8);
  const x = gg.tensor(xs, { shape: [4, 2, 4, 4], device, dtype, requiresGrad: true });
  const y = gg.tensor([0, 3, 1, 4], { device }); // class indices: int64, as PyTorch requires
  const out = lin.call(bn.call(conv.call(x)).relu().reshape([4, -1]));
  const loss = gg.nn.functional.crossEntropy(out, y);
  loss.backward();
  const grads = [x.grad, conv.weight.grad, bn.weight?.grad ?? null, lin.weight.grad];
  return [await values(loss), await values(out), ...(await Promise.all(grads.map((g) => (g ? values(g) : Promise.resolve([])))))];
}

describe('device parity: conv, batch norm, linear, cross-entropy', () => {
  let reference: number[][] | undefined;
  const want = async (): Promise<number[][]> => (reference ??= await step('cpu', 'float64'));
  const names = ['loss', 'logits', 'x.grad', 'conv.weight.grad', 'bn.weight.grad', 'linear.weight.grad'];
  forEachDevice(
    (device) => {
      it('forward and backward match the float64 cpu reference', async () => {
        const ref = await want();
        const got = await step(device, 'float32');
        got.forEach((g, i) => expectClose(g, ref[i] ?? [], F32, `${device} ${names[i] ?? i}`));
      });
    },
    { skipCpu: true },
  );
});
