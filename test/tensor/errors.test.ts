/** Bad inputs: PyTorch's messages, and a failed op leaves its inputs as they were. */
import { expect } from 'chai';
import * as gg from '../../src/index.js';
import { values } from '../helpers/compare.js';
import { availableDevices, forEachDevice, syncReadable } from '../helpers/devices.js';

describe('errors: messages', () => {
  it('broadcast mismatch', () => {
    expect(() => gg.ones([2, 3]).add(gg.ones([2, 4]))).to.throw(
      'The size of tensor a (3) must match the size of tensor b (4) at non-singleton dimension 1',
    );
    expect(() => gg.ones([5, 3]).mul(gg.ones([4, 1]))).to.throw(
      'The size of tensor a (5) must match the size of tensor b (4) at non-singleton dimension 0',
    );
  });

  it('dimension out of range', () => {
    const x = gg.ones([2, 3]);
    const msg = 'Dimension out of range (expected to be in range of [-2, 1], but got 2)';
    expect(() => x.sum(2)).to.throw(msg);
    expect(() => x.softmax(2)).to.throw(msg);
    expect(() => x.transpose(0, 2)).to.throw(msg);
    expect(() => x.narrow(2, 0, 1)).to.throw(msg);
    expect(() => x.max(-3)).to.throw('Dimension out of range (expected to be in range of [-2, 1], but got -3)');
    expect(() => x.unsqueeze(4)).to.throw('Dimension out of range (expected to be in range of [-3, 2], but got 4)');
  });

  it('reshape to a wrong size', () => {
    expect(() => gg.ones([2, 3]).reshape(4, 2)).to.throw("shape '[4, 2]' is invalid for input of size 6");
    expect(() => gg.ones([2, 3]).reshape(4, -1)).to.throw("shape '[4, -1]' is invalid for input of size 6");
    expect(() => gg.ones([2, 3]).reshape(-1, -1)).to.throw('only one dimension can be inferred');
  });

  it('matmul inner dimensions', () => {
    expect(() => gg.ones([2, 3]).matmul(gg.ones([4, 5]))).to.throw('mat1 and mat2 shapes cannot be multiplied (2x3 and 4x5)');
    expect(() => gg.ones([3]).matmul(gg.ones([4]))).to.throw('mat1 and mat2 shapes cannot be multiplied (1x3 and 4x1)');
    expect(() => gg.tensor(2).matmul(gg.ones([4]))).to.throw('both arguments to matmul need to be at least 1D, but they are 0D and 1D');
  });

  it('dtype mismatch where PyTorch does not promote (matmul); elementwise ops promote (test/tensor/int-dtype.test.ts)', () => {
    expect(() => gg.ones([2, 2]).matmul(gg.ones([2, 2], { dtype: 'float64' }))).to.throw(
      /^matmul: expected both operands to have the same dtype, but got float32 and float64/,
    );
  });

  it('cat and stack of mismatched shapes', () => {
    expect(() => gg.cat([gg.ones([2, 3]), gg.ones([2, 4])], 0)).to.throw(
      'Sizes of tensors must match except in dimension 0. Expected size 3 but got size 4 for tensor number 1 in the list.',
    );
    expect(() => gg.stack([gg.ones([2]), gg.ones([3])])).to.throw('stack expects each tensor to be equal size, but got [2] at entry 0 and [3] at entry 1');
  });

  it('expand to an incompatible size', () => {
    expect(() => gg.ones([3, 2]).expand(3, 4)).to.throw(/^The expanded size of the tensor \(4\) must match the existing size \(2\) at non-singleton dimension 1/);
  });

  it('view of a non-contiguous tensor', () => {
    expect(() => gg.ones([2, 3]).t().view(6)).to.throw(/^view size is not compatible with input tensor's size and stride/);
  });

  it('reading a disposed tensor', async () => {
    const t = gg.ones([2, 2]);
    t.dispose();
    const msg = "Tensor of shape [2, 2] on 'cpu' was disposed and cannot be used";
    expect(() => t.dataSync()).to.throw(msg);
    expect(() => t.add(1)).to.throw(msg);
    let message = '';
    await t.data().catch((e: unknown) => (message = (e as Error).message));
    expect(message).to.equal(msg);
  });

  it('an unknown device is named', () => {
    expect(() => gg.ones([2], { device: 'tpu' })).to.throw(/^unknown device 'tpu'/);
  });

  it('device mismatch (cpu and another device)', function () {
    const other = availableDevices.find((d) => d !== 'cpu');
    if (!other) {
      Object.assign(this.test ?? {}, { gpugradSkipReason: 'no device other than cpu is available' });
      this.skip();
    }
    const a = gg.ones([2]);
    const b = gg.ones([2], { device: other });
    expect(() => a.add(b)).to.throw(
      `Expected all tensors to be on the same device, but found at least two devices, cpu and ${other}! (in add)`,
    );
  });

  it('dataSync on a device whose results arrive asynchronously', async function () {
    const dev = availableDevices.find((d) => !syncReadable(d));
    if (!dev) {
      Object.assign(this.test ?? {}, { gpugradSkipReason: 'no asynchronous device is available' });
      this.skip();
    }
    const t = gg.ones([2], { device: dev });
    expect(() => t.dataSync()).to.throw(
      `dataSync() is not available on device '${dev}': its results arrive asynchronously; use 'await t.data()' instead`,
    );
    expect(await values(t)).to.deep.equal([1, 1]);
  });
});

describe('errors: a failed op leaves its inputs unchanged', () => {
  forEachDevice((device) => {
    it('values, grads, flags and memory are as before; the inputs still work', async () => {
      const dtype = device === 'cpu' ? 'float64' : 'float32';
      const a = gg.tensor([[1, 2, 3], [4, 5, 6]], { dtype, device, requiresGrad: true });
      a.mul(a).sum().backward(); // grad 2a
      const before = { data: await values(a), grad: await values(a.grad as gg.Tensor) };
      const live = gg.memory().devices[device]?.liveBuffers ?? 0;
      const failing: [string, () => unknown][] = [
        ['broadcast', () => a.add(gg.ones([2, 4], { dtype, device }))],
        ['matmul', () => a.matmul(gg.ones([2, 3], { dtype, device }))],
        ['reshape', () => a.reshape(4, 2)],
        ['sum dim', () => a.sum(3)],
        ['cat', () => gg.cat([a, gg.ones([2, 2], { dtype, device })], 0)],
        ['dtype', () => a.matmul(gg.ones([3, 2], { dtype: dtype === 'float64' ? 'float32' : 'float64', device }))],
        ['narrow', () => a.narrow(1, 2, 5)],
        ['permute', () => a.permute(0, 0)],
      ];
      // inside tidy, so the arguments made above are freed even though the op throws
      for (const [label, f] of failing) expect(() => gg.tidy(f), label).to.throw();
      expect(gg.memory().devices[device]?.liveBuffers ?? 0, 'live buffers').to.equal(live);
      expect(a.requiresGrad).to.equal(true);
      expect(a.isLeaf).to.equal(true);
      expect(a.shape).to.deep.equal([2, 3]);
      expect(await values(a)).to.deep.equal(before.data);
      expect(await values(a.grad as gg.Tensor)).to.deep.equal(before.grad);
      // still usable, and still accumulating
      a.sum().backward();
      expect(await values(a.grad as gg.Tensor)).to.deep.equal(before.grad.map((g) => g + 1));
    });
  });
});
