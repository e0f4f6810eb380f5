/**
 * Tests written from the survivors of the mutation run over the op table
 * (src/tensor/ops.ts, `MUTATION_SET=ops`, docs/notes/mutation-testing.md):
 * the empty max's message, the dtype of integer sums, the zero gradients of
 * the piecewise-constant ops, and which saved inputs mul and div check for
 * in-place writes. Each expectation is PyTorch 1.13's behaviour (checked
 * with torch; the values are 0, dtypes and messages, stated here).
 *
 * The later suites (PyTorch 1.13's values from test/fixtures/make_ops_kills.py →
 * torch_ops_kills.json) pin what the op table's speed and memory paths must keep: the
 * kernels each op runs (gg.profile), the buffers it leaves (gg.memory), the gradients'
 * layouts, the internal guards (called directly), and, on a gpu.js device, the paths the
 * cpu device does not take.
 *
 * Run: npx tsc -p tsconfig.json && GPUGRAD_TEST_DEVICES=cpu node scripts/run-tests.mjs dist/test/tensor/ops-kills.test.js
 */
import { expect } from 'chai';
import * as gg from '../../src/index.js';
import { ops } from '../../src/tensor/ops.js';
import { fx } from '../../src/tensor/fuse.js';
import type { Tensor } from '../../src/tensor/tensor.js';
import { fixture } from '../helpers/compare.js';
import { decodeAll, type FixtureNumber } from '../helpers/special.js';
import { forEachDevice } from '../helpers/devices.js';
import { getDevice } from '../../src/backend/registry.js';
import { CpuDevice } from '../../src/backend/cpu.js';

const f64 = { dtype: 'float64' as const };
const INPLACE = 'one of the variables needed for gradient computation has been modified by an inplace operation';

describe('op table: rules found by the mutation run', () => {
  it('max of an empty tensor without a dim: PyTorch\'s message', () => {
    expect(() => gg.zeros([0]).max()).to.throw("max(): Expected reduction dim to be specified for input.numel() == 0. Specify the reduction dim with the 'dim' argument.");
  });

  it('integer sums are int64, integer maxima keep their dtype', () => {
    const t = gg.tensor([1, 2], { dtype: 'int32' });
    expect(t.sum().dtype).to.equal('int64');
    expect(t.amax().dtype).to.equal('int32');
    expect(gg.tensor([1.5, 2], f64).sum().dtype).to.equal('float64');
  });

  it('floor, ceil and round give zero gradients (not none)', async () => {
    for (const op of ['floor', 'ceil', 'round'] as const) {
      const x = gg.tensor([1.5, -2.5], { ...f64, requiresGrad: true });
      x[op]().sum().backward();
      expect(x.grad, op).to.not.equal(null);
      expect(Array.from(await (x.grad as gg.Tensor).data()), op).to.deep.equal([0, 0]);
    }
  });

  for (const op of ['mul', 'div'] as const) {
    it(`${op} checks the saved inputs its backward reads, and only those`, () => {
      // a needs a gradient, b does not: b is read (a's gradient is g·b or g/b), a is not
      const a = gg.tensor([1, 2], { ...f64, requiresGrad: true });
      const b = gg.tensor([3, 4], f64);
      const y1 = a[op](b);
      b.add_(1);
      expect(() => y1.sum().backward()).to.throw(INPLACE);
      const a2 = a.mul(1);
      const y2 = a2[op](gg.tensor([3, 4], f64));
      a2.add_(1);
      expect(() => y2.sum().backward()).to.not.throw();
      // b needs a gradient, a does not: a is read (b's gradient needs a)
      const bb = gg.tensor([3, 4], { ...f64, requiresGrad: true });
      const aa = gg.tensor([1, 2], f64);
      const y3 = aa[op](bb);
      aa.add_(1);
      expect(() => y3.sum().backward()).to.throw(INPLACE);
      // ... and b itself: mul does not read it (b's gradient is g·a), div does (-g·a/b²)
      const b2 = bb.mul(1);
      const y4 = gg.tensor([1, 2], f64)[op](b2);
      b2.add_(1);
      if (op === 'mul') expect(() => y4.sum().backward()).to.not.throw();
      else expect(() => y4.sum().backward()).to.throw(INPLACE);
    });
  }
});

describe('op table: matmul checks the saved inputs its backward reads, as mul does', () => {
  it('A needs a gradient: B is read, A is not; B needs one: A is read, B is not', () => {
    const a = gg.tensor([1, 2], { ...f64, shape: [1, 2], requiresGrad: true });
    const b = gg.tensor([3, 4], { ...f64, shape: [2, 1] });
    const y1 = a.matmul(b);
    b.add_(1);
    expect(() => y1.sum().backward()).to.throw(INPLACE);
    const a2 = a.mul(1);
    const y2 = a2.matmul(gg.tensor([3, 4], { ...f64, shape: [2, 1] }));
    a2.add_(1);
    expect(() => y2.sum().backward()).to.not.throw();
    const bb = gg.tensor([3, 4], { ...f64, shape: [2, 1], requiresGrad: true });
    const aa = gg.tensor([1, 2], { ...f64, shape: [1, 2] });
    const y3 = aa.matmul(bb);
    aa.add_(1);
    expect(() => y3.sum().backward()).to.throw(INPLACE);
    const b2 = bb.mul(1);
    const y4 = gg.tensor([1, 2], { ...f64, shape: [1, 2] }).matmul(b2);
    b2.add_(1);
    expect(() => y4.sum().backward()).to.not.throw();
  });
});

/** A view's steps from its dense leaf: ['t'], ['narrow', dim, start, length], ['permute', dims]. */
type Recipe = (['t'] | ['narrow', number, number, number] | ['permute', number[]])[];
interface Fx {
  shape: number[];
  dtype: gg.DType;
  data: FixtureNumber[];
}
const K = fixture<{
  pad: { x: Fx; before: number[]; after: number[]; gout: Fx; output: Fx; grad: Fx }[];
  mul_int32: { a: Fx; b: Fx; output: Fx };
  pow_int: { a: Fx; b: Fx; output: Fx }[];
  cast: { x: Fx; int32: Fx; int64: Fx };
  where_saved: { modify: 'x' | 'y' | 'condition'; error: string | null; xgrad: Fx | null; ygrad: Fx | null }[];
  maxima: { name: string; x: Fx; dim: number | null; gout: Fx; output: Fx; grad: Fx }[];
  matmul: { name: string; a: Fx; arecipe: Recipe; b: Fx; brecipe: Recipe; gout: Fx; output: Fx; agrad: Fx; bgrad: Fx; agrad_strides: number[]; bgrad_strides: number[] }[];
  copy_through_view: { x: Fx; src: Fx; v: Fx; xgrad: Fx; srcgrad: Fx };
  pad_after_write: { x: Fx; src: Fx; gout: Fx; output: Fx; xgrad: Fx; srcgrad: Fx };
  linear: { x: Fx; w: Fx; gout: Fx; output: Fx; xgrad: Fx; wgrad: Fx; wgrad_strides: number[] };
}>('torch_ops_kills.json');

/** A fixture tensor (its own dtype unless told) on `device`. */
function make(t: Fx, opts: gg.TensorOptions = {}): gg.Tensor {
  return gg.tensor(decodeAll(t), { shape: t.shape, dtype: t.dtype, ...opts });
}

/** `actual` has the fixture's shape and values (NaN where it has NaN), within `tol`·(1 + |e|). */
async function expectFx(actual: gg.Tensor | null, expected: Fx, label: string, tol = 0): Promise<void> {
  expect(actual, `${label}: missing`).to.not.equal(null);
  const a = actual as gg.Tensor;
  expect([...a.shape], `${label}: shape`).to.deep.equal(expected.shape);
  const got = Array.from(await a.data());
  decodeAll(expected).forEach((e, i) => {
    const v = got[i] as number;
    const ok = Number.isNaN(e) ? Number.isNaN(v) : Math.abs(v - e) <= tol * (1 + Math.abs(e));
    if (!ok) expect.fail(`${label}[${i}]: got ${v}, expected ${e} (got ${got.join(', ')})`);
  });
}

/** The names of the kernels `fn` runs, in order. */
async function kernels(fn: () => unknown): Promise<string[]> {
  return (await gg.profile(fn)).kernels.map((k) => k.kernel);
}

/** The tolerance for a dtype's results (float32 goldens were computed in float32 by PyTorch too). */
const tolOf = (dtype: gg.DType): number => (dtype === 'float32' ? 1e-6 : 1e-12);

describe('op table: pad with negative pads (PyTorch constant_pad_nd)', () => {
  // a negative pad cuts values off; its gradient gives them zeros (the backward used to narrow
  // with a negative start and throw)
  for (const c of K.pad) {
    it(`before ${JSON.stringify(c.before)}, after ${JSON.stringify(c.after)} on ${JSON.stringify(c.x.shape)}: values and gradient`, async () => {
      const x = make(c.x, { requiresGrad: true });
      const y = x.pad(c.before, c.after);
      await expectFx(y, c.output, 'output');
      y.mul(make(c.gout)).sum().backward();
      await expectFx(x.grad, c.grad, 'grad');
    });
  }

  it('double backward through the padded gradient is the padding again (createGraph)', async () => {
    const c = K.pad[4]!;
    const x = make(c.x, { requiresGrad: true });
    const gout = make(c.gout, { requiresGrad: true });
    const [gx] = gg.autograd.grad([x.pad(c.before, c.after).mul(gout).sum()], [x], { createGraph: true });
    await expectFx(gx as gg.Tensor, c.grad, 'grad');
    // d/d gout of Σ gx·x: gx is the kept region of gout, so this is x padded as the forward pads it
    const [ggout] = gg.autograd.grad([(gx as gg.Tensor).mul(x.detach()).sum()], [gout]);
    await expectFx(ggout as gg.Tensor, c.output, 'd gx / d gout');
  });
});

describe('op table: integer kernels on the cpu device', () => {
  it('int32 products wrap as C\'s int32 (PyTorch), through the imul kernel', async () => {
    const [a, b] = [make(K.mul_int32.a), make(K.mul_int32.b)];
    await expectFx(a.mul(b), K.mul_int32.output, 'a·b');
    expect(await kernels(() => a.mul(b))).to.deep.equal(['imul']);
    // other dtypes take the plain product
    expect(await kernels(() => a.to('int64').mul(b.to('int64')))).to.deep.equal(['castInt', 'castInt', 'mul']);
  });

  it('integral pow gives whole results (int32 and int64), through the ipow kernel', async () => {
    for (const c of K.pow_int) {
      const [a, b] = [make(c.a), make(c.b)];
      await expectFx(a.pow(b), c.output, `pow ${c.a.dtype}`);
      expect(await kernels(() => a.pow(b)), c.a.dtype).to.deep.equal(['ipow']);
    }
    const f = gg.tensor([2, 3], { dtype: 'float64' });
    expect(await kernels(() => f.pow(f))).to.deep.equal(['pow']);
  });

  it('casts: float to integer truncates (castInt), integer to float copies (cast)', async () => {
    const x = make(K.cast.x);
    await expectFx(x.to('int32'), K.cast.int32, 'int32');
    await expectFx(x.to('int64'), K.cast.int64, 'int64');
    expect(await kernels(() => x.to('int32'))).to.deep.equal(['castInt']);
    expect(await kernels(() => x.to('float64'))).to.deep.equal(['cast']);
    const i = x.to('int32');
    expect(await kernels(() => i.to('float32'))).to.deep.equal(['cast']);
  });
});

describe('op table: where saves its condition only', () => {
  for (const c of K.where_saved) {
    it(`writing ${c.modify} in place before backward: ${c.error ?? 'fine'}`, async () => {
      const cond = gg.tensor([1, 0, 1], { dtype: 'float64' });
      const x = gg.tensor([1, 2, 3], { dtype: 'float64', requiresGrad: true });
      const y = gg.tensor([4, 5, 6], { dtype: 'float64', requiresGrad: true });
      const [xa, ya] = [x.mul(1), y.mul(1)];
      const z = xa.where(cond, ya);
      ({ x: xa, y: ya, condition: cond })[c.modify].add_(1);
      if (c.error !== null) {
        expect(() => z.sum().backward()).to.throw(c.error);
        return;
      }
      z.sum().backward();
      await expectFx(x.grad, c.xgrad as Fx, 'x.grad');
      await expectFx(y.grad, c.ygrad as Fx, 'y.grad');
    });
  }
});

describe('op table: maxima\'s gradients (NaN and ties) and their two fused passes', () => {
  for (const c of K.maxima) {
    it(`${c.name} (${c.x.dtype}): PyTorch's gradient, MaxCount and MaxBackward on the cpu`, async () => {
      const cpu = getDevice('cpu') as CpuDevice;
      const was = cpu.fastWindows;
      try {
        // float32 also with the cpu's window passes (tensor/window-fast.ts): one pass, the same gradient
        for (const fast of c.x.dtype === 'float32' ? [false, true] : [false]) {
          cpu.fastWindows = fast;
          const x = make(c.x, { requiresGrad: true });
          const y = c.dim === null ? x.max() : x.amax(c.dim);
          await expectFx(y, c.output, 'output');
          const loss = y.mul(make(c.gout)).sum();
          const ks = await kernels(() => loss.backward());
          await expectFx(x.grad, c.grad, 'grad', tolOf(c.x.dtype));
          // the cpu fuses NaN exactly: one count of the maxima, one map (not eq/ne/sum/div/mul)
          expect(ks.filter((k) => k.startsWith('Max')), ks.join()).to.deep.equal(fast ? ['MaxBackward'] : ['MaxCount', 'MaxBackward']);
          expect(ks, ks.join()).to.not.include('eq');
        }
      } finally {
        cpu.fastWindows = was;
      }
    });
  }
});

describe('op table: matmul\'s layouts (values, copies, buffers, gradient layouts)', () => {
  /** The fixture's view of a dense leaf (test/fixtures/make_ops_kills.py applies the same recipe). */
  function viewOf(t: gg.Tensor, recipe: Recipe): gg.Tensor {
    for (const [op, ...args] of recipe) {
      if (op === 't') t = t.transpose(-1, -2);
      else if (op === 'narrow') t = t.narrow(args[0] as number, args[1] as number, args[2] as number);
      else t = t.permute(...(args[0] as number[]));
    }
    return t;
  }
  /** Whether the matmul kernel reads both operands along k with stride 1 (the NOTE in ops.ts). */
  const readsStride1 = (source: string): boolean => /const pa = \w+ \+ k \* 1\.0;/.test(source) && /const pb = \w+ \+ k \* 1\.0;/.test(source);
  // float64 on the cpu reads both operands along k with stride 1: a copy of A when its rows are
  // strided, of Bᵀ when B's columns are (k = 1 needs neither); the float32 gemm packs them itself
  const copies64: Record<string, number> = {
    dense: 1, a_transposed: 2, b_transposed: 0, both_transposed: 1, k1: 0, batched: 1, column: 0, a_sliced: 1, b_sliced: 0,
    k1_permuted: 0, k1_b_permuted: 0, batched_permuted: 2, b_batched_permuted: 1, a_transposed_b_batched: 2, b_transposed_a_batched: 0, row: 1, row_transposed: 1,
  };
  // the backward of float64 on the cpu: ∂A = G Bᵀ and ∂B = Aᵀ G, each a matmul with the copies above
  // (Aᵀ's and Gᵀ's for ∂B = Aᵀ G of dense operands); a 2-d operand that is a transposed view gets
  // its gradient computed transposed ((Gᵀ A)ᵀ, (B Gᵀ)ᵀ), so it arrives in the leaf's layout; then
  // the engine's sum over broadcast batch dims, pad for a narrowed leaf, a copy where the leaf's
  // gradient arrives in another layout (it is dense: PyTorch's layout)
  const plan64: Record<string, string> = {
    dense: 'matmul,copy,copy,matmul',
    a_transposed: 'matmul,copy,matmul',
    b_transposed: 'copy,matmul,copy,copy,matmul',
    both_transposed: 'copy,matmul,copy,matmul',
    k1: 'matmul,copy,matmul',
    batched: 'matmul,copy,copy,matmul,sum',
    column: 'matmul,copy,matmul',
    a_sliced: 'matmul,copy,copy,matmul,pad',
    b_sliced: 'copy,matmul,copy,copy,matmul,pad,copy',
    k1_permuted: 'matmul,copy,copy,matmul,copy',
    k1_b_permuted: 'copy,matmul,copy,matmul,copy',
    batched_permuted: 'matmul,copy,copy,matmul,sum,copy',
    b_batched_permuted: 'copy,matmul,copy,copy,matmul,sum,copy',
    a_transposed_b_batched: 'matmul,copy,matmul,sum,copy',
    b_transposed_a_batched: 'copy,matmul,copy,copy,matmul,sum,copy',
    row: 'matmul,matmul',
    row_transposed: 'matmul,matmul',
  };
  for (const c of K.matmul) {
    it(`${c.name} (${c.a.dtype}): PyTorch's values and gradients; the copies it makes, and frees`, async () => {
      const [a, b] = [make(c.a, { requiresGrad: true }), make(c.b, { requiresGrad: true })];
      const [av, bv] = [viewOf(a, c.arecipe), viewOf(b, c.brecipe)];
      const before = gg.memory().liveBuffers;
      let y: gg.Tensor | null = null;
      const p = await gg.profile(() => (y = av.matmul(bv)), { source: true });
      const ks = p.kernels.map((k) => k.kernel);
      // the output is the only buffer left: every copy was freed, no operand was
      expect(gg.memory().liveBuffers - before, 'live buffers').to.equal(1);
      const packs = c.a.dtype === 'float32' && (gg.deviceInfo('cpu').notes ?? []).some((n) => n.includes('gemm'));
      expect(ks, ks.join()).to.deep.equal([...Array<string>(packs ? 0 : (copies64[c.name] as number)).fill('copy'), 'matmul']);
      if (!packs && av.shape.at(-1) !== 1) expect(readsStride1(p.kernels.at(-1)?.source ?? ''), p.kernels.at(-1)?.source).to.equal(true);
      await expectFx(y, c.output, 'output', tolOf(c.a.dtype));
      const loss = (y as unknown as gg.Tensor).mul(make(c.gout)).sum();
      const bk = await kernels(() => loss.backward());
      await expectFx(a.grad, c.agrad, 'a.grad', tolOf(c.a.dtype));
      await expectFx(b.grad, c.bgrad, 'b.grad', tolOf(c.a.dtype));
      // a dense leaf's gradient is dense: PyTorch's strides (where a dim's size is above 1; a size-1 dim's stride is any)
      for (const [name, leaf, strides] of [['a', a, c.agrad_strides], ['b', b, c.bgrad_strides]] as const) {
        const g = leaf.grad as gg.Tensor;
        const along = (st: readonly number[]) => st.filter((_, d) => (g.shape[d] as number) > 1);
        expect(along(g.strides), `${name}.grad strides`).to.deep.equal(along(strides));
      }
      // the backward's kernels after the loss's (fill, mul): float64 on the cpu, as above
      if (c.a.dtype === 'float64') expect(bk.join(), 'backward').to.equal(`fill,mul,${plan64[c.name] as string}`);
    });
  }

  it('Linear (x Wᵀ): W\'s gradient is computed transposed, so it arrives dense with no copy', async () => {
    const L = K.linear;
    const x = make(L.x, { requiresGrad: true });
    const w = make(L.w, { requiresGrad: true });
    const y = x.matmul(w.transpose(0, 1));
    await expectFx(y, L.output, 'output', 1e-12);
    const loss = y.mul(make(L.gout)).sum();
    const ks = await kernels(() => loss.backward());
    await expectFx(x.grad, L.xgrad, 'x.grad', 1e-12);
    await expectFx(w.grad, L.wgrad, 'w.grad', 1e-12);
    expect([...(w.grad as gg.Tensor).strides]).to.deep.equal(L.wgrad_strides);
    // two products; after W's, no copy (its gradient (Gᵀ x) is W's layout already)
    expect(ks.filter((k) => k === 'matmul')).to.have.length(2);
    expect(ks.slice(ks.lastIndexOf('matmul') + 1).filter((k) => k === 'copy'), ks.join()).to.deep.equal([]);
  });
});

describe('op table: a write through a view (scatter) frees the dense copies it makes', () => {
  it('an expanded source, and the expanded gradient of a sum: copied dense, then freed', async () => {
    const c = K.copy_through_view;
    const x = make(c.x, { requiresGrad: true });
    const src = make(c.src, { requiresGrad: true });
    const v = x.mul(1);
    let before = gg.memory().liveBuffers;
    const fk = await kernels(() => v.narrow(0, 0, 1).copy_(src.expand(1, 3)));
    // the copy of the source is gone; the new base replaced the old one's buffer
    expect(fk).to.deep.equal(['copy', 'scatter']);
    expect(gg.memory().liveBuffers - before, 'live buffers after the write').to.equal(0);
    await expectFx(v, c.v, 'v');
    before = gg.memory().liveBuffers;
    const bk = await kernels(() => v.sum().backward());
    // the gradient of the sum is expanded: scatter's backward copies it dense (then frees it)
    expect(bk.slice(0, 5)).to.deep.equal(['sum', 'fill', 'fill', 'copy', 'scatter']);
    // only the two leaves' gradients are left
    expect(gg.memory().liveBuffers - before, 'live buffers after backward').to.equal(2);
    await expectFx(x.grad, c.xgrad, 'x.grad');
    await expectFx(src.grad, c.srcgrad, 'src.grad');
  });

  it('the gradient of a pad (a view at an offset) written back through the view (regression)', async () => {
    // scatter read such a gradient from offset 0 (contiguous() keeps it as it is): asStrided refused it
    const c = K.pad_after_write;
    const x = make(c.x, { requiresGrad: true });
    const src = make(c.src, { requiresGrad: true });
    const v = x.mul(1);
    v.narrow(0, 1, 2).copy_(src);
    const w = v.pad([2], [0]);
    await expectFx(w, c.output, 'output');
    w.mul(make(c.gout)).sum().backward();
    await expectFx(x.grad, c.xgrad, 'x.grad');
    await expectFx(src.grad, c.srcgrad, 'src.grad');
  });

  it('the primitive itself, outside any caller\'s scope: only its output buffer is left', async () => {
    // a base that is not dense from offset 0 (a narrowed view) and an expanded value: both copied
    const base = gg.tensor([0, 1, 2, 3, 4, 5, 6, 7], { dtype: 'float64' }).narrow(0, 2, 6);
    const value = gg.tensor([9], { dtype: 'float64' }).expand(2);
    const before = gg.memory().liveBuffers;
    let out: ReturnType<typeof ops.scatter.forward> | null = null;
    expect(await kernels(() => (out = ops.scatter.forward([base as Tensor, value as Tensor], { shape: [2], strides: [2], offset: 1 })))).to.deep.equal(['copy', 'copy', 'scatter']);
    expect(gg.memory().liveBuffers - before).to.equal(1);
    // the base's values with the region (flat indices 1 and 3 of the dense copy) holding the value (by hand)
    const o = out as unknown as ReturnType<typeof ops.scatter.forward>;
    expect(Array.from(await o.storage.device.read(o.storage.buffer))).to.deep.equal([2, 9, 4, 9, 6, 7]);
  });
});

describe('op table: internal guards (states no public call builds)', () => {
  const x = gg.tensor([1, 2, 3, 4, 5, 6], { dtype: 'float64', shape: [2, 3] });
  const geom = { kernel: [2], stride: [1], padding: [0], dilation: [1], inSize: [4], outSize: [3] };

  it('reshape and asStrided refuse a layout their callers never pass', () => {
    expect(() => ops.reshape.forward([x.transpose(0, 1) as Tensor], { shape: [6] })).to.throw('internal: reshape of a non-contiguous view');
    expect(() => ops.asStrided.forward([x.transpose(0, 1) as Tensor], { shape: [2], strides: [1], offset: 0 })).to.throw('internal: asStrided of a non-dense tensor');
    expect(() => ops.asStrided.forward([x.narrow(1, 1, 2) as Tensor], { shape: [2], strides: [1], offset: 0 })).to.throw('internal: asStrided of a non-dense tensor');
  });

  it('im2col and col2im check their geometry against the input', async () => {
    const img = gg.tensor([1, 2, 3, 4], { dtype: 'float64' });
    // no leading dims: the input is exactly the image
    const cols = ops.im2col.forward([img as Tensor], { ...geom, value: 0 });
    expect(cols.shape).to.deep.equal([2, 3]);
    expect(ops.col2im.forward([gg.ones([2, 3], { dtype: 'float64' }) as Tensor], geom).shape).to.deep.equal([4]);
    expect(() => ops.im2col.forward([gg.ones([2, 5], { dtype: 'float64' }) as Tensor], { ...geom, value: 0 })).to.throw(
      'internal: im2col of a [2, 5] tensor with kernel [2], inSize [4], outSize [3]',
    );
    expect(() => ops.col2im.forward([gg.ones([2, 4], { dtype: 'float64' }) as Tensor], geom)).to.throw('internal: col2im of a [2, 4] tensor with kernel [2], inSize [4], outSize [3]');
    for (const field of ['kernel', 'stride', 'padding', 'dilation', 'inSize', 'outSize'] as const) {
      const bad = { ...geom, [field]: [...geom[field], 1] };
      expect(() => ops.im2col.forward([img as Tensor], { ...bad, value: 0 }), field).to.throw('internal: im2col of a [4] tensor');
    }
    expect(() => ops.col2im.forward([gg.ones([3], { dtype: 'float64' }) as Tensor], geom)).to.throw('internal: col2im of a [3] tensor');
  });

  it('a fused max has no gradient, and no tangent', () => {
    const v = gg.tensor([1, -3, 2], { dtype: 'float64' }) as Tensor;
    const attrs = { expr: fx.f('abs', fx.in(0)), dims: [0], kind: 'max' as const, name: 'AbsMax', shape: [3] };
    expect(() => ops.fused.backward({ grad: v, result: v, inputs: [v], attrs, shapes: [[3]], needs: [true] })).to.throw(
      'internal: the fused max AbsMax has no gradient (use it on detached values)',
    );
    expect(ops.fused.jvp({ tangents: [v], inputs: [v], result: v, attrs })).to.equal(null);
  });

  it('a fused op\'s tangent is none when the expression reads no input that has one', () => {
    const v = gg.tensor([1, -3, 2], { dtype: 'float64' }) as Tensor;
    const attrs = { expr: fx.mul(fx.in(0), fx.in(0)), dims: [], kind: 'sum' as const, name: 'Square', shape: [3] };
    expect(ops.fused.jvp({ tangents: [null, v], inputs: [v, v], result: v, attrs })).to.equal(null);
  });
});

describe('op table: a fused op\'s backward and tangent kernels are named after it', () => {
  it('NameBackward (sums back to a broadcast input) and NameJvp', async () => {
    const a = gg.tensor([1, 2, 3], { dtype: 'float64', requiresGrad: true });
    const b = gg.tensor([1, 2, 3, 4, 5, 6], { dtype: 'float64', shape: [2, 3], requiresGrad: true });
    const y = a.fused([b], { expr: fx.mul(fx.in(0), fx.in(1)), dims: [], kind: 'sum', name: 'Probe' });
    expect(y.gradFn?.name).to.equal('ProbeBackward0');
    const ks = await kernels(() => y.sum().backward());
    expect(ks.filter((k) => k.startsWith('Probe'))).to.deep.equal(['ProbeBackward', 'ProbeBackward']);
    expect(Array.from(await (a.grad as gg.Tensor).data())).to.deep.equal([5, 7, 9]); // Σ over b's rows
    expect((a.grad as gg.Tensor).shape).to.deep.equal([3]);
    const fwAD = gg.autograd.forwardAd;
    const tks = await kernels(() =>
      fwAD.dualLevel(() => {
        const d = fwAD.makeDual(a.detach(), gg.ones([3], { dtype: 'float64' }));
        const t = fwAD.unpackDual(d.fused([b.detach()], { expr: fx.mul(fx.in(0), fx.in(1)), dims: [1], kind: 'sum', name: 'Probe', shape: [2, 3] })).tangent;
        expect(t?.shape).to.deep.equal([2, 1]);
        return t;
      }),
    );
    expect(tks.filter((k) => k.startsWith('Probe'))).to.deep.equal(['Probe', 'ProbeJvp']);
  });
});

// Paths the cpu device does not take: a device that holds integers in floats (cast's truncation),
// that has no int32 product of its own, that may lose NaN in a fused chain (amax's composed
// backward). In the mutation run these run on gpu:cpu (stryker.config.mjs, the ops set).
describe('op table on a gpu.js device', () => {
  forEachDevice(
    (device) => {
      it('float to integer casts truncate toward zero', async () => {
        const x = make(K.cast.x, { device });
        await expectFx(x.to('int32'), K.cast.int32, 'int32');
        await expectFx(x.to('int64'), K.cast.int64, 'int64');
      });

      it('every op runs on the inputs\' device; int32 products take the plain kernel', async () => {
        const a = gg.tensor([-7, 5], { dtype: 'int32', device });
        const b = gg.tensor([3, 4], { dtype: 'int32', device });
        const p = a.mul(b);
        expect(p.device).to.equal(device);
        expect(Array.from(await p.data())).to.deep.equal([-21, 20]);
        expect(await kernels(() => a.mul(b))).to.deep.equal(['mul']);
      });

      for (const c of K.maxima.filter((m) => m.x.dtype === 'float32')) {
        it(`${c.name}: PyTorch's gradient through the composed rule (NaN decides the mask)`, async () => {
          const x = make(c.x, { device, requiresGrad: true });
          const y = c.dim === null ? x.max() : x.amax(c.dim);
          const loss = y.mul(make(c.gout, { device })).sum();
          const ks = await kernels(() => loss.backward());
          await expectFx(x.grad, c.grad, 'grad', 1e-6);
          expect(ks, ks.join()).to.include('eq');
          expect(ks.filter((k) => k.startsWith('Max'))).to.deep.equal([]);
        });
      }

      it('matmul copies Bᵀ for its stride-1 reads (no gemm that packs)', async () => {
        const c = K.matmul.find((m) => m.name === 'dense' && m.a.dtype === 'float32')!;
        const a = make(c.a, { device });
        const b = make(c.b, { device });
        let y: gg.Tensor | null = null;
        expect(await kernels(() => (y = a.matmul(b)))).to.deep.equal(['copy', 'matmul']);
        await expectFx(y, c.output, 'output', 1e-6);
      });
    },
    { skipCpu: true },
  );
});

describe('op table: the summed product of a broadcast operand\'s gradient (productTo, matmul\'s `sum`)', () => {
  // quarter-integers in [-2, 2]: every product and sum below is exact in float32 and float64
  const wave = (n: number, seed: number): number[] => Array.from({ length: n }, (_, i) => Math.round(Math.sin(seed * 12.9898 + i * 78.233) * 8) / 4);
  /** Σ over `batch` of the [m, k]·[k, n] products read through the index functions, as an [m, n] row-major array. */
  const summed = (batch: number, m: number, k: number, n: number, a: (b: number, i: number, l: number) => number, b: (b: number, l: number, j: number) => number): number[] =>
    Array.from({ length: m * n }, (_, e) => {
      let s = 0;
      for (let t = 0; t < batch; t++) for (let l = 0; l < k; l++) s += a(t, Math.floor(e / n), l) * b(t, l, e % n);
      return s + 0;
    });
  /** The values, -0 read as 0 (a sum of products may end in either). */
  const vals = async (t: gg.Tensor | null): Promise<number[]> => Array.from(await (t as gg.Tensor).data(), (v) => v + 0);
  const kernels = async (fn: () => unknown): Promise<string> => (await gg.profile(fn)).kernels.map((r) => `${r.kernel} ${r.elements}`).join(', ');

  it('float32 on the cpu (its gemm packs the operands): a weight broadcast over the batch gets one summed product', async () => {
    const [xs, ws, gs] = [wave(60, 1), wave(10, 2), wave(24, 3)];
    const x = gg.tensor(xs, { shape: [4, 3, 5], requiresGrad: true });
    const w = gg.tensor(ws, { shape: [5, 2], requiresGrad: true });
    const y = x.matmul(w);
    // x's gradient: one product per batch entry (60 values); w's: Σ_b x_bᵀ g_b as one product (10 values, no sum kernel)
    expect(await kernels(() => y.backward(gg.tensor(gs, { shape: [4, 3, 2] })))).to.equal('matmul 60, matmul 10');
    const X = (b: number, i: number, l: number): number => xs[b * 15 + i * 5 + l] as number;
    const G = (b: number, i: number, j: number): number => gs[b * 6 + i * 2 + j] as number;
    expect(await vals(w.grad)).to.deep.equal(summed(4, 5, 3, 2, (b, k, m) => X(b, m, k), G));
    const wantX = Array.from({ length: 60 }, (_, e) => {
      const [b, m, k] = [Math.floor(e / 15), Math.floor(e / 5) % 3, e % 5];
      return G(b, m, 0) * (ws[k * 2] as number) + G(b, m, 1) * (ws[k * 2 + 1] as number);
    });
    expect(await vals(x.grad)).to.deep.equal(wantX.map((v) => v + 0));
  });

  it('float32 on the cpu: both operands broadcast, over a leading dim and over a size-1 dim', async () => {
    // p [2, 1, 3, 5] · q [4, 5, 2] → [2, 4, 3, 2]: p's gradient sums over dim 1 (its size 1), q's over dim 0 (absent)
    const [ps, qs, gs] = [wave(30, 6), wave(40, 7), wave(48, 8)];
    const p = gg.tensor(ps, { shape: [2, 1, 3, 5], requiresGrad: true });
    const q = gg.tensor(qs, { shape: [4, 5, 2], requiresGrad: true });
    const y = p.matmul(q);
    expect(await kernels(() => y.backward(gg.tensor(gs, { shape: [2, 4, 3, 2] })))).to.equal('matmul 30, matmul 40');
    const P = (i: number, m: number, k: number): number => ps[i * 15 + m * 5 + k] as number;
    const Q = (j: number, k: number, n: number): number => qs[j * 10 + k * 2 + n] as number;
    const G = (i: number, j: number, m: number, n: number): number => gs[i * 24 + j * 6 + m * 2 + n] as number;
    // p.grad[i] = Σ_j g[i, j]·q[j]ᵀ; q.grad[j] = Σ_i p[i]ᵀ·g[i, j]
    const wantP = [0, 1].flatMap((i) => summed(4, 3, 2, 5, (j, m, n) => G(i, j, m, n), (j, n, k) => Q(j, k, n)));
    const wantQ = [0, 1, 2, 3].flatMap((j) => summed(2, 5, 3, 2, (i, k, m) => P(i, m, k), (i, m, n) => G(i, j, m, n)));
    expect(await vals(p.grad)).to.deep.equal(wantP.map((v) => v + 0));
    expect(await vals(q.grad)).to.deep.equal(wantQ.map((v) => v + 0));
  });

  it('matmul with `sum` (float64): its backward gives each batch entry its own gradient', async () => {
    const [xs, ys, gs] = [wave(60, 1), wave(40, 2), wave(6, 3)];
    const x = gg.tensor(xs, { ...f64, shape: [4, 3, 5], requiresGrad: true });
    const y = gg.tensor(ys, { ...f64, shape: [4, 5, 2], requiresGrad: true });
    const s = (x as Tensor).matmulSum(y as Tensor, 1);
    expect(s.shape).to.deep.equal([3, 2]);
    const X = (b: number, i: number, l: number): number => xs[b * 15 + i * 5 + l] as number;
    const Y = (b: number, l: number, j: number): number => ys[b * 10 + l * 2 + j] as number;
    expect(await vals(s)).to.deep.equal(summed(4, 3, 5, 2, X, Y));
    s.backward(gg.tensor(gs, { ...f64, shape: [3, 2] }));
    const G = (i: number, j: number): number => gs[i * 2 + j] as number;
    // x.grad[b] = G·y[b]ᵀ, y.grad[b] = x[b]ᵀ·G
    const wantX = Array.from({ length: 60 }, (_, e) => {
      const [b, m, k] = [Math.floor(e / 15), Math.floor(e / 5) % 3, e % 5];
      return G(m, 0) * Y(b, k, 0) + G(m, 1) * Y(b, k, 1);
    });
    const wantY = Array.from({ length: 40 }, (_, e) => {
      const [b, k, n] = [Math.floor(e / 10), Math.floor(e / 2) % 5, e % 2];
      return [0, 1, 2].reduce((a, m) => a + X(b, m, k) * G(m, n), 0);
    });
    expect(await vals(x.grad)).to.deep.equal(wantX.map((v) => v + 0));
    expect(await vals(y.grad)).to.deep.equal(wantY.map((v) => v + 0));
  });

  it('matmul refuses a `sum` that is not a count of its batch dims', () => {
    const a = gg.ones([4, 3, 5], f64) as Tensor;
    const b = gg.ones([4, 5, 2], f64) as Tensor;
    for (const sum of [2, -1, 0.5]) expect(() => ops.matmul.forward([a, b], { sum }), String(sum)).to.throw(`internal: matmul cannot sum ${sum} of 1 batch dims`);
    expect(ops.matmul.forward([a, b], { sum: 1 }).shape).to.deep.equal([3, 2]);
  });
});
