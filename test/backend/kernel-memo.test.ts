/**
 * Remembered kernels (backend/kernel.ts `memoKernel`; docs/notes/architecture.md,
 * "Per-op JavaScript"): a builder asked again with the same numbers returns
 * the same kernel object (its text built once); other numbers, another
 * formula or another expression object build another; a non-number never
 * reaches a key, so the builder's own checks still refuse it. The compacted
 * form of a fused expression and its derivatives are remembered per
 * expression object too (tensor/fuse.ts `compact`, `adjointsFor`).
 */
import { expect } from 'chai';
import * as K from '../../src/backend/kernels.js';
import { fusedMap, fusedReduce } from '../../src/backend/fusion.js';
import { adjointsFor, compact, fx } from '../../src/tensor/fuse.js';

const op = (offset: number, strides: number[]) => ({ offset, strides });

describe('remembered kernels (memoKernel)', () => {
  it('map: the same kernel for the same formula and numbers, another for other numbers or formulas', () => {
    const a = K.map('add', [op(0, [3, 1]), op(0, [0, 1])], [2, 3], K.formulas.add);
    const b = K.map('add', [op(0, [3, 1]), op(0, [0, 1])], [2, 3], K.formulas.add);
    expect(b).to.equal(a);
    const c = K.map('add', [op(0, [3, 1]), op(1, [0, 1])], [2, 3], K.formulas.add);
    expect(c).to.not.equal(a);
    expect(c.key).to.not.equal(a.key);
    const d = K.map('mul', [op(0, [3, 1]), op(0, [0, 1])], [2, 3], K.formulas.mul);
    expect(d.key).to.not.equal(a.key);
    // a fresh build with the same arguments writes the same text
    expect(K.map('add', [op(0, [3, 1]), op(0, [0, 1])], [2, 3], (v) => `${v[0]} + ${v[1]}`).key).to.equal(a.key);
  });

  it('reduce and matmul: remembered by their numbers (sum and max, bias or none, apart)', () => {
    const s = K.reduce('sum', op(0, [1, 4]), [4], [3], 'sum');
    expect(K.reduce('sum', op(0, [1, 4]), [4], [3], 'sum')).to.equal(s);
    expect(K.reduce('sum', op(0, [1, 4]), [4], [3], 'max')).to.not.equal(s);
    const m = K.matmul(op(0, [4, 1]), op(0, [5, 1]), [], 3, 4, 5);
    expect(K.matmul(op(0, [4, 1]), op(0, [5, 1]), [], 3, 4, 5)).to.equal(m);
    const withBias = K.matmul(op(0, [4, 1]), op(0, [5, 1]), [], 3, 4, 5, 0, op(0, [0, 1]));
    expect(withBias).to.not.equal(m);
    expect(withBias.name).to.equal('addmm');
  });

  it('a non-number never makes a key: the builder refuses it as before', () => {
    K.map('neg', [op(0, [1])], [4], K.formulas.neg);
    expect(() => K.map('neg', [op(0, [1])], ['4' as unknown as number], K.formulas.neg)).to.throw(/kernel literal/);
    expect(() => K.map('neg', [op(0, [{ valueOf: () => 1 } as unknown as number])], [4], K.formulas.neg)).to.throw(/kernel literal/);
  });

  it('fused kernels: remembered per expression object', () => {
    const e = fx.mul(fx.in(0), fx.in(1));
    const k1 = fusedMap('M', e, [op(0, [1]), op(0, [1])], [6]);
    expect(fusedMap('M', e, [op(0, [1]), op(0, [1])], [6])).to.equal(k1);
    const other = fx.mul(fx.in(0), fx.in(1));
    const k2 = fusedMap('M', other, [op(0, [1]), op(0, [1])], [6]);
    expect(k2).to.not.equal(k1);
    expect(k2.key).to.equal(k1.key);
    // a map and a reduction of one expression do not share an entry
    expect(fusedReduce('M', e, [op(0, [1]), op(0, [1])], [], [6], 'sum').key).to.not.equal(k1.key);
  });

  it('compact and adjointsFor: the same objects for the same expression, inputs and needs', () => {
    const e = fx.add(fx.in(2), fx.mul(fx.in(0), fx.in(2)));
    const c = compact(e, 3);
    expect(c.used).to.deep.equal([0, 2]);
    expect(compact(e, 3)).to.equal(c);
    expect(compact(e, 3, [0, 2, 1])).to.not.equal(c);
    const g = adjointsFor(c.expr, [true, false], 2);
    expect(adjointsFor(c.expr, [true, false], 2)).to.equal(g);
    expect(adjointsFor(c.expr, [true, true], 2)).to.not.equal(g);
    expect([...g.keys()]).to.deep.equal([0]);
  });
});
