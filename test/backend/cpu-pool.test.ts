/**
 * The cpu device's buffer pool (src/backend/cpu.ts `BufferPool`): freed
 * arrays hold the next results of their size, and their old values never
 * show; the pool keeps at most its cap.
 */
import { expect } from 'chai';
import * as gg from '../../src/index.js';
import { BufferPool } from '../../src/backend/cpu.js';
import { getDevice } from '../../src/backend/registry.js';
import { wasmGemm } from '../../src/backend/wasm/gemm.js';

describe('cpu device buffer pool', () => {
  it('a freed array holds the next result of its dtype and size', () => {
    const pool = new BufferPool();
    const a = pool.take('float32', 5000);
    expect(a).to.be.instanceOf(Float32Array);
    a.fill(7);
    pool.give('float32', a);
    expect(pool.heldBytes).to.equal(20000);
    expect(pool.take('float64', 5000), 'another dtype').to.not.equal(a);
    expect(pool.take('float32', 5001), 'another size').to.not.equal(a);
    expect(pool.take('float32', 5000), 'reused').to.equal(a);
    expect(pool.heldBytes).to.equal(0);
    // small arrays are not kept
    const s = pool.take('float32', 10);
    pool.give('float32', s);
    expect(pool.take('float32', 10)).to.not.equal(s);
  });

  it('holds at most 64 MiB, dropping the oldest arrays', () => {
    const pool = new BufferPool();
    const n = 2 ** 20; // 4 MiB in float32
    const arrays = Array.from({ length: 20 }, () => pool.take('float32', n));
    for (const a of arrays) pool.give('float32', a);
    expect(pool.heldBytes).to.equal(16 * 4 * n);
    // the newest are kept (LIFO within a size)
    expect(pool.take('float32', n)).to.equal(arrays[19]);
    pool.clear();
    expect(pool.heldBytes).to.equal(0);
  });

  it("a reused array's old values never show: every kernel writes all its outputs (loop, gemm, empty sum)", () => {
    const dev = getDevice('cpu');
    const n = 64;
    const x = gg.rand([n, n]);
    const y = gg.rand([n, n]);
    const xs = x.dataSync();
    const ys = y.dataSync();
    const cases: [string, () => gg.Tensor, (i: number) => number][] = [
      ['elementwise', () => x.add(y), (i) => (xs[i] as number) + (ys[i] as number)],
      ['empty-k matmul (gemm)', () => gg.zeros([n, 0]).matmul(gg.zeros([0, n])), () => 0],
      ['fill', () => gg.zeros([n, n]), () => 0],
    ];
    // the gemm itself, on a dirty output: an empty sum writes zeros
    const out = new Float32Array(6).fill(Number.NaN);
    const spec = { a: { offset: 0, strides: [0, 1] }, b: { offset: 0, strides: [1, 0] }, batch: [], m: 2, k: 0, n: 3 };
    expect(wasmGemm()?.run(out, new Float32Array(0), new Float32Array(0), spec)).to.equal(true);
    expect([...out]).to.deep.equal([0, 0, 0, 0, 0, 0]);
    for (const [name, make, want] of cases) {
      // the pool's arrays of this size now hold NaN
      const bufs = [0, 1, 2].map(() => dev.upload(new Float32Array(n * n).fill(Number.NaN), 'float32'));
      for (const b of bufs) dev.free(b);
      const got = make().dataSync();
      expect(got.length).to.equal(n * n);
      for (let i = 0; i < got.length; i++) {
        if (!(Math.abs((got[i] as number) - want(i)) <= 1e-6)) expect.fail(`${name}: element ${i} is ${got[i]}, expected ${want(i)}`);
      }
    }
  });
});
