import { expect } from 'chai';
import { loadMnist, MNIST_AVAILABLE, MNIST_PIXELS } from '../../examples/lib/mnist.js';

function counts(labels: Int32Array): number[] {
  const c = new Array<number>(10).fill(0);
  for (const l of labels) c[l] = (c[l] ?? 0) + 1;
  return c;
}

describe('loadMnist', function () {
  this.timeout(60_000);

  it('returns the requested counts, labels 0..9 and pixels in [0, 1]', () => {
    const { train, test } = loadMnist({ train: 1000, test: 250 });
    expect(train.images).to.be.instanceOf(Float32Array);
    expect(train.labels).to.be.instanceOf(Int32Array);
    expect(train.images.length).to.equal(1000 * MNIST_PIXELS);
    expect(train.labels.length).to.equal(1000);
    expect(test.images.length).to.equal(250 * MNIST_PIXELS);
    expect(test.labels.length).to.equal(250);
    for (const l of [...train.labels, ...test.labels]) expect(l).to.be.within(0, 9);
    let min = Infinity;
    let max = -Infinity;
    for (const v of train.images) {
      min = Math.min(min, v);
      max = Math.max(max, v);
    }
    expect(min).to.equal(0);
    expect(max).to.equal(1);
    // Round-robin selection: 1000 train images are exactly 100 per class.
    expect(counts(train.labels)).to.deep.equal(new Array<number>(10).fill(100));
    expect(counts(test.labels)).to.deep.equal([25, 25, 25, 25, 25, 25, 25, 25, 25, 25]);
  });

  it('is deterministic, and the seed changes only the order', () => {
    const a = loadMnist({ train: 300, test: 100 });
    const b = loadMnist({ train: 300, test: 100 });
    expect(Buffer.from(a.train.images.buffer).equals(Buffer.from(b.train.images.buffer))).to.equal(true);
    expect(Array.from(a.train.labels)).to.deep.equal(Array.from(b.train.labels));
    expect(Array.from(a.test.labels)).to.deep.equal(Array.from(b.test.labels));
    const c = loadMnist({ train: 300, test: 100, seed: 1 });
    expect(Array.from(c.train.labels)).to.not.deep.equal(Array.from(a.train.labels));
    expect(counts(c.train.labels)).to.deep.equal(counts(a.train.labels));
  });

  it('shuffle: false gives the round-robin order, and train/test do not overlap', () => {
    const { train, test } = loadMnist({ train: 20, test: 20, shuffle: false });
    expect(Array.from(train.labels)).to.deep.equal([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    const key = (imgs: Float32Array, i: number) => imgs.subarray(i * MNIST_PIXELS, (i + 1) * MNIST_PIXELS).join(',');
    const trainKeys = new Set(Array.from({ length: 20 }, (_, i) => key(train.images, i)));
    for (let i = 0; i < 20; i++) expect(trainKeys.has(key(test.images, i))).to.equal(false);
  });

  it('can return all 10,000 digits, and refuses more', () => {
    const { train, test } = loadMnist({ train: 9000, test: 1000 });
    expect(train.labels.length + test.labels.length).to.equal(MNIST_AVAILABLE);
    const all = counts(new Int32Array([...train.labels, ...test.labels]));
    expect(all).to.deep.equal([1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978]);
    expect(() => loadMnist({ train: 9000, test: 1001 })).to.throw(
      'loadMnist: asked for 9000 train + 1001 test images but the mnist package ships only 10000',
    );
    expect(() => loadMnist({ train: -1, test: 0 })).to.throw('loadMnist: train must be a non-negative integer, got -1');
  });
});
