/**
 * The cpu device's loops: grid statements that depend only on outer indices
 * run once per outer iteration (backend/cpu.ts `hoistLevels`), with the same
 * values as the per-element form.
 */
import { expect } from 'chai';
import * as gg from '../../src/index.js';
import { CpuDevice, compileLoop, hoistLevels } from '../../src/backend/cpu.js';
import * as K from '../../src/backend/kernels.js';
import { fusedMap } from '../../src/backend/fusion.js';
import { fx } from '../../src/tensor/fuse.js';

describe('cpu device loops: hoisted statements', () => {
  it('puts each statement at the deepest loop among the indices and constants it reads', () => {
    const levels = hoistLevels(
      [
        'const v1 = in1[i1 * 1024.0];',
        'const v2 = in2[i0];',
        'const f0 = Math.sqrt(v2) * 1e-5 + v1;',
        'const v0 = in0[gid];',
        'const f1 = v0 - f0;',
        'let acc = 0.0;',
        'const f2 = acc + v2;',
        'const f3 = v2.length;',
        'const f4 = q + 1.0;',
      ],
      'i',
      3,
    );
    expect(levels[0]).to.deep.equal([]);
    expect(levels[1]).to.deep.equal(['const v2 = in2[i0];', 'const f3 = v2.length;']);
    expect(levels[2]).to.deep.equal(['const v1 = in1[i1 * 1024.0];', 'const f0 = Math.sqrt(v2) * 1e-5 + v1;']);
    // gid, a `let` and names it does not know stay per element, in order
    expect(levels[3]).to.deep.equal(['const v0 = in0[gid];', 'const f1 = v0 - f0;', 'let acc = 0.0;', 'const f2 = acc + v2;', 'const f4 = q + 1.0;']);
  });

  it('a broadcasting fused map gives the per-element values (float64, exact)', () => {
    const [N, C, H] = [3, 4, 5];
    const x = Float64Array.from({ length: N * C * H }, (_, i) => Math.sin(i) * 10);
    const s = Float64Array.from({ length: C }, (_, i) => i - 1.5);
    const k = Float64Array.from({ length: N }, (_, i) => 0.5 + i);
    const e = fx.mul(fx.sub(fx.in(0), fx.f('exp', fx.in(1))), fx.add(fx.in(2), fx.in(1)));
    const kernel = fusedMap('Hoist', e, [
      { offset: 0, strides: [C * H, H, 1] },
      { offset: 0, strides: [0, 1, 0] },
      { offset: 0, strides: [1, 0, 0] },
    ], [N, C, H]);
    const fn = compileLoop(kernel);
    // the per-channel exp sits outside the innermost loop
    expect(fn.toString()).to.match(/Math\.exp\(v1\);[^{}]*for \(let i2/);
    const out = new Float64Array(N * C * H);
    fn(out, x, s, k);
    for (let n = 0; n < N; n++) for (let c = 0; c < C; c++) for (let h = 0; h < H; h++) {
      const i = (n * C + c) * H + h;
      expect(out[i]).to.equal(((x[i] as number) - Math.exp(s[c] as number)) * ((k[n] as number) + (s[c] as number)));
    }
  });

  it('reuses freed large outputs: every element is written again, an empty matmul gives zeros', async () => {
    const n = 300;
    for (let round = 0; round < 3; round++) {
      // a large array freed with non-zero values, then outputs of the same size
      const junk = gg.full([n, n], 7 + round, { dtype: 'float32' });
      junk.dispose();
      const a = gg.arange(n * n, { dtype: 'float32' }).reshape(n, n);
      const y = a.mul(2).add(round);
      const v = await y.data();
      expect(v[0]).to.equal(round);
      expect(v[n * n - 1]).to.equal(2 * (n * n - 1) + round);
      y.dispose();
      // the gemm path itself with k = 0 writes nothing: the device zeroes a reused output
      const dev = new CpuDevice();
      dev.free(dev.upload(new Float32Array(n * n).fill(5), 'float32'));
      const none = dev.upload(new Float32Array(1), 'float32');
      const mm = K.matmul({ offset: 0, strides: [0, 1] }, { offset: 0, strides: [1, 0] }, [], n, 0, n);
      const e = dev.readSync(dev.run(mm, [none, none], 'float32'));
      expect(Array.from(e).every((x) => x === 0)).to.equal(true);
    }
  });
});
