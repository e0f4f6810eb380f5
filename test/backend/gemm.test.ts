/**
 * The cpu device's float32 matmul fast path (src/backend/wasm/gemm.ts,
 * docs/notes/architecture.md "The float32 matmul fast path"):
 * - PyTorch goldens (test/fixtures/torch_matmul.json, make_matmul.py) through
 *   the public API, forward and both gradients: float32 runs the WebAssembly
 *   gemm, float64 the reference loop (exact to 1e-10, as before);
 * - the gemm against a float64 loop and against the device's own loop
 *   (`new CpuDevice({ wasm: false })`) over random sizes around the 4×8 tile,
 *   the 64-row and 256-step blocks, strides, offsets and broadcast batches.
 */
import { expect } from 'chai';
import * as gg from '../../src/index.js';
import { CpuDevice } from '../../src/backend/cpu.js';
import { getDevice } from '../../src/backend/registry.js';
import type { Operand } from '../../src/backend/kernel.js';
import * as K from '../../src/backend/kernels.js';
import { Columns, gemmThreadsReady, openThreadedGemm, wasmGemm, workerDeadlineMs, worthPacking } from '../../src/backend/wasm/gemm.js';
import { expectClose, F64, fixture, type Tol } from '../helpers/compare.js';
import { rng } from '../helpers/random.js';

interface T {
  shape: number[];
  data: number[];
}
interface Case {
  name: string;
  a: T;
  b: T;
  ta: boolean;
  tb: boolean;
  sa: [number, number] | null;
  output: T;
  gout: T;
  grads: [T, T];
}

const cases = fixture<Case[]>('torch_matmul.json');

/** float32 sums of k products of O(1) values: rounding grows with k. */
/** The first index where two float32 arrays differ in their bits (NaN payloads and signed zeros count), or -1. */
function firstBitDifference(a: Float32Array, b: Float32Array): number {
  const [x, y] = [new Uint32Array(a.buffer, a.byteOffset, a.length), new Uint32Array(b.buffer, b.byteOffset, b.length)];
  if (x.length !== y.length) return Math.min(x.length, y.length);
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return i;
  return -1;
}

const f32Tol = (k: number): Tol => ({ rtol: 1e-4, atol: 2e-6 * Math.max(8, k) });

async function check(c: Case, dtype: gg.DType, tol: (k: number) => Tol): Promise<void> {
  const a = gg.tensor(c.a.data, { shape: c.a.shape, dtype, requiresGrad: true });
  const b = gg.tensor(c.b.data, { shape: c.b.shape, dtype, requiresGrad: true });
  let A = c.ta ? a.transpose(-1, -2) : a;
  if (c.sa) A = A.narrow(-2, c.sa[0], (A.shape.at(-2) ?? 0) - c.sa[0]).narrow(-1, c.sa[1], (A.shape.at(-1) ?? 0) - c.sa[1]);
  const B = c.tb ? b.transpose(-1, -2) : b;
  const k = A.shape.at(-1) ?? 0;
  const out = A.matmul(B);
  expect(out.shape, `${c.name}: shape`).to.deep.equal(c.output.shape);
  expectClose(await out.data(), c.output.data, tol(k), `${c.name} output`);
  out.backward(gg.tensor(c.gout.data, { shape: c.gout.shape, dtype }));
  // the gradients are matmuls too, over transposed views: Gᵀ-shaped reads through the packing
  const m = A.shape.at(-2) ?? 0;
  const n = B.shape.at(-1) ?? 0;
  expectClose(await a.grad!.data(), c.grads[0].data, tol(n), `${c.name} grad of a`);
  expectClose(await b.grad!.data(), c.grads[1].data, tol(m * (out.numel() / Math.max(1, m * n))), `${c.name} grad of b`);
}

describe('float32 matmul fast path (WebAssembly gemm)', function () {
  it('loads (Node, Chromium): the cpu device reports the WebAssembly gemm', () => {
    const dev = getDevice('cpu') as CpuDevice;
    expect(wasmGemm(), 'WebAssembly SIMD gemm failed to load').to.not.equal(null);
    expect(dev.wasmGemm).to.equal(true);
    expect(dev.info().notes).to.include('float32 matmul: WebAssembly SIMD gemm');
    expect(new CpuDevice({ wasm: false }).info().notes?.[0]).to.match(/JavaScript loop/);
  });

  it('fixture file holds the cases', () => {
    expect(cases.length).to.be.greaterThan(15);
  });

  describe('PyTorch goldens (torch_matmul.json)', function () {
    for (const c of cases) {
      it(`${c.name} (float32, gemm)`, async () => check(c, 'float32', f32Tol));
      it(`${c.name} (float64, reference loop)`, async () => check(c, 'float64', () => F64));
    }
  });

  describe('against a float64 loop and the device loop', function () {
    const fast = new CpuDevice();
    const loop = new CpuDevice({ wasm: false });

    /** A strided view over a padded random buffer: `shape` with its last two dims swapped in memory when `t`. */
    function layout(shape: number[], t: boolean, r: () => number, bcast: boolean[]): { data: Float32Array; op: Operand } {
      const offset = Math.floor(r() * 5);
      const strides: number[] = new Array<number>(shape.length).fill(0);
      const order = shape.map((_, d) => d);
      const nd = shape.length;
      if (t) [order[nd - 1], order[nd - 2]] = [order[nd - 2] as number, order[nd - 1] as number];
      let s = 1;
      for (let i = nd - 1; i >= 0; i--) {
        const d = order[i] as number;
        if (bcast[d]) continue;
        strides[d] = s;
        // a gap after the innermost dim now and then: a sliced view
        s *= (shape[d] ?? 1) + (i === nd - 1 && r() < 0.3 ? 2 : 0);
      }
      const data = Float32Array.from({ length: offset + s + 3 }, () => Math.round((r() * 4 - 2) * 1024) / 1024);
      return { data, op: { offset, strides } };
    }

    function expected(a: Float32Array, ao: Operand, b: Float32Array, bo: Operand, batch: number[], m: number, k: number, n: number): Float64Array {
      const r = batch.length;
      const count = batch.reduce((x, y) => x * y, 1);
      const out = new Float64Array(count * m * n);
      for (let t = 0; t < count; t++) {
        let rest = t;
        let aOff = ao.offset;
        let bOff = bo.offset;
        for (let d = r - 1; d >= 0; d--) {
          const i = rest % (batch[d] as number);
          rest = Math.floor(rest / (batch[d] as number));
          aOff += i * (ao.strides[d] as number);
          bOff += i * (bo.strides[d] as number);
        }
        for (let i = 0; i < m; i++)
          for (let j = 0; j < n; j++) {
            let acc = 0;
            for (let kk = 0; kk < k; kk++) acc += (a[aOff + i * (ao.strides[r] as number) + kk * (ao.strides[r + 1] as number)] as number) * (b[bOff + kk * (bo.strides[r] as number) + j * (bo.strides[r + 1] as number)] as number);
            out[t * m * n + i * n + j] = acc;
          }
      }
      return out;
    }

    const r = rng(1234);
    const pick = (xs: number[]): number => xs[Math.floor(r() * xs.length)] as number;
    for (let trial = 0; trial < 40; trial++) {
      const m = pick([1, 2, 3, 4, 5, 7, 8, 9, 63, 64, 65, 70]);
      const k = pick([0, 1, 2, 3, 5, 8, 17, 255, 256, 257, 300]);
      const n = pick([1, 2, 7, 8, 9, 15, 16, 17, 33]);
      const batch = trial % 4 === 0 ? [] : trial % 4 === 1 ? [3] : trial % 4 === 2 ? [2, 3] : [1, 2];
      const ta = r() < 0.5;
      const tb = r() < 0.5;
      // broadcast: one operand's batch dims may have stride 0
      const bcastA = batch.map(() => r() < 0.3);
      const bcastB = batch.map((_, d) => !bcastA[d] && r() < 0.3);
      it(`${batch.join('×') || 'no batch'} ${m}×${k}·${k}×${n}${ta ? ' Aᵀ' : ''}${tb ? ' Bᵀ' : ''}${bcastA.some(Boolean) || bcastB.some(Boolean) ? ' broadcast' : ''}`, () => {
        const A = layout([...batch, m, k], ta, r, [...bcastA, false, false]);
        const B = layout([...batch, k, n], tb, r, [...bcastB, false, false]);
        const kernel = K.matmul(A.op, B.op, batch, m, k, n);
        const want = expected(A.data, A.op, B.data, B.op, batch, m, k, n);
        // values on a 1/1024 grid, k ≤ 300: float32 sums are close to exact
        const tol = { rtol: 1e-5, atol: 1e-4 };
        for (const dev of [fast, loop]) {
          const out = dev.run(kernel, [dev.upload(A.data, 'float32'), dev.upload(B.data, 'float32')], 'float32');
          expectClose(dev.readSync(out), want, tol, dev === fast ? 'cpu device' : 'loop');
        }
        // the gemm itself, also on the matrix–vector shapes the device leaves to its loop
        const direct = new Float32Array(want.length);
        expect(wasmGemm()!.run(direct, A.data, B.data, kernel.gemm!)).to.equal(true);
        expectClose(direct, want, tol, 'gemm');
      });
    }

    it('splits large products over worker threads sharing the memory (Node), same values', async function () {
      const ready = await gemmThreadsReady();
      if (ready === 0) {
        // the reason as helpers/devices.ts's setSkipReason records it (not imported: it probes every device)
        Object.assign(this.test ?? {}, { gpugradSkipReason: 'the gemm runs on one thread here (a web page, one hardware thread, or GPUGRAD_WASM_THREADS=1)' });
        this.skip();
      }
      const g = wasmGemm()!;
      const before = g.parallelRuns;
      const r2 = rng(99);
      for (const [m, k, n] of [[203, 301, 45], [9, 1000, 300], [64, 64, 512]] as const) {
        const A = layout([m, k], r2() < 0.5, r2, [false, false]);
        const B = layout([k, n], r2() < 0.5, r2, [false, false]);
        const kernel = K.matmul(A.op, B.op, [], m, k, n);
        const out = new Float32Array(m * n);
        expect(g.run(out, A.data, B.data, kernel.gemm!)).to.equal(true);
        expectClose(out, expected(A.data, A.op, B.data, B.op, [], m, k, n), { rtol: 1e-5, atol: 1e-4 }, `${m}×${k}·${k}×${n} threaded`);
      }
      expect(g.parallelRuns - before).to.equal(3);
    });

    it('a product with few A panels is split by B\'s columns (one product, products side by side), the one-thread values bit for bit', async function () {
      const ready = await gemmThreadsReady();
      if (ready === 0) {
        Object.assign(this.test ?? {}, { gpugradSkipReason: 'the gemm runs on one thread here (a web page, one hardware thread, or GPUGRAD_WASM_THREADS=1)' });
        this.skip();
      }
      const g = wasmGemm()!;
      const r7 = rng(1234);
      // m = 16 (4 A panels) and 13 (a partial one); n not a multiple of 8; a weight shared over a batch (side by side, as a convolution's)
      const cases: [Operand, Operand, number[], number, number, number][] = [
        [{ offset: 0, strides: [288, 1] }, { offset: 0, strides: [1003, 1] }, [], 16, 288, 1003],
        [{ offset: 0, strides: [1, 13] }, { offset: 0, strides: [601, 1] }, [], 13, 300, 601],
        [{ offset: 0, strides: [0, 50, 1] }, { offset: 0, strides: [50 * 196, 196, 1] }, [20], 16, 50, 196],
      ];
      for (const [aOp, bOp, batch, m, k, n] of cases) {
        const count = batch.reduce((x, y) => x * y, 1);
        const A = Float32Array.from({ length: m * k }, () => r7() * 2 - 1);
        const B = Float32Array.from({ length: count * k * n }, () => r7() * 2 - 1);
        const spec = K.matmul(aOp, bOp, batch, m, k, n).gemm!;
        const one = new Float32Array(count * m * n);
        g.maxThreads = 1;
        try {
          expect(g.run(one, A, B, spec)).to.equal(true);
        } finally {
          g.maxThreads = Infinity;
        }
        const [runs, byB] = [g.parallelRuns, g.splitByB];
        const split = new Float32Array(count * m * n).fill(NaN);
        g.poison();
        expect(g.run(split, A, B, spec)).to.equal(true);
        expect([g.parallelRuns - runs, g.splitByB - byB], `${m}×${k}·${k}×${n} ×${count}: split by B`).to.deep.equal([1, 1]);
        expect(firstBitDifference(split, one), `${m}×${k}·${k}×${n} ×${count}: bit for bit`).to.equal(-1);
        expectClose(split, expected(A, aOp, B, bOp, batch, m, k, n), { rtol: 1e-5, atol: 1e-4 }, `${m}×${k}·${k}×${n} ×${count}`);
      }
    });

    it('implicit columns of products side by side are written by the threads that multiply them (gemmCols): the values of columns written first, bit for bit', async () => {
      await gemmThreadsReady();
      const g = wasmGemm()!;
      const r8 = rng(4321);
      // [entries, planes per entry, h, w, kh, kw, sh, sw, ph, pw, dh, dw, m, groupFloats]
      const geoms = [
        [64, 32, 14, 14, 3, 3, 1, 1, 1, 1, 1, 1, 16, 0],
        [7, 3, 9, 11, 3, 2, 2, 1, 0, 1, 2, 1, 13, 0],
        // groups of three entries, the last of one (written before the product, as without gemmCols): A's 720
        // floats once, then per entry B's 1804 (18 rows of 100, read up to column 104) and C's 40×104
        [7, 2, 10, 10, 3, 3, 1, 1, 1, 1, 1, 1, 40, 720 + 3 * (1804 + 40 * 104) + 10],
      ] as const;
      for (const [entries, planes, h, w, kh, kw, sh, sw, ph, pw, dh, dw, m, groupFloats] of geoms) {
        const oh = Math.floor((h + 2 * ph - dh * (kh - 1) - 1) / sh) + 1;
        const ow = Math.floor((w + 2 * pw - dw * (kw - 1) - 1) / sw) + 1;
        const image = Float32Array.from({ length: entries * planes * h * w }, () => r8() * 2 - 1);
        const cols = new Columns(image, { planes: entries * planes, h, w, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow });
        const [k, n] = [planes * kh * kw, oh * ow];
        const A = Float32Array.from({ length: m * k }, () => r8() * 2 - 1);
        const aOp: Operand = { offset: 0, strides: [0, k, 1] };
        const bOp: Operand = { offset: 0, strides: [k * n, n, 1] };
        const spec = K.matmul(aOp, bOp, [entries], m, k, n).gemm!;
        const results: Float32Array[] = [];
        const written = g.columnsWritten;
        for (const [threadColumns, maxThreads] of [[false, Infinity], [true, Infinity], [true, 1]] as const) {
          g.threadColumns = threadColumns;
          g.maxThreads = maxThreads;
          if (groupFloats) g.groupFloats = groupFloats;
          try {
            const out = new Float32Array(entries * m * n).fill(NaN);
            g.poison();
            const before = g.columnRuns;
            expect(g.run(out, A, cols, spec)).to.equal(true);
            expect(g.columnRuns - before, `gemmCols ${threadColumns}`).to.equal(threadColumns ? (groupFloats ? 2 : 1) : 0);
            results.push(out);
          } finally {
            g.threadColumns = true;
            g.maxThreads = Infinity;
            g.groupFloats = 2 ** 23;
          }
        }
        expect(g.columnsWritten - written, 'every column written once per run').to.equal(3 * cols.length);
        const dense = g.materialize(cols)!;
        expectClose(results[0]!, expected(A, aOp, dense, bOp, [entries], m, k, n), { rtol: 1e-5, atol: 1e-4 }, `columns first ${entries}×${planes}×${h}×${w}`);
        for (const r of results.slice(1)) expect(firstBitDifference(r, results[0]!), `gemmCols ${entries}×${planes}×${h}×${w}: bit for bit`).to.equal(-1);
      }
    });

    it('float32 sums in the tile\'s order, bit for bit: K blocks of 256 steps, each summed from zero then added to C', () => {
      const g = wasmGemm()!;
      const r9 = rng(555);
      /** C[i, j] as gemm.wat computes it: per block of 256 steps acc = fround(acc + fround(a·b)) from +0, then C = fround(C + acc) after the first. */
      const blocked = (A: Float32Array, B: Float32Array, m: number, k: number, n: number): Float32Array => {
        const C = new Float32Array(m * n);
        for (let i = 0; i < m; i++) {
          for (let j = 0; j < n; j++) {
            let c = 0;
            for (let kb = 0; kb < k; kb += 256) {
              let acc = 0;
              for (let t = kb; t < Math.min(k, kb + 256); t++) acc = Math.fround(acc + Math.fround((A[i * k + t] as number) * (B[t * n + j] as number)));
              c = kb === 0 ? acc : Math.fround(acc + c);
            }
            C[i * n + j] = c;
          }
        }
        return C;
      };
      // a few A panels over several K blocks and many (more than one sweep of 16 panels), tails of every size
      for (const [m, k, n] of [[16, 300, 40], [5, 777, 19], [13, 1100, 9], [80, 300, 24], [40, 530, 33]] as const) {
        const A = Float32Array.from({ length: m * k }, () => (r9() * 2 - 1) * 2 ** Math.floor(r9() * 8 - 4));
        const B = Float32Array.from({ length: k * n }, () => (r9() * 2 - 1) * 2 ** Math.floor(r9() * 8 - 4));
        const out = new Float32Array(m * n);
        g.maxThreads = 1;
        try {
          expect(g.run(out, A, B, K.matmul({ offset: 0, strides: [k, 1] }, { offset: 0, strides: [n, 1] }, [], m, k, n).gemm!)).to.equal(true);
        } finally {
          g.maxThreads = Infinity;
        }
        expect(firstBitDifference(out, blocked(A, B, m, k, n)), `${m}×${k}·${k}×${n}`).to.equal(-1);
      }
    });

    it('a worker that misses its deadline: the product is declined and the shared memory never used again', async function () {
      const g = openThreadedGemm();
      const end = Date.now() + 5000;
      while (g && g.readyThreads === 0 && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
      if (!g || g.readyThreads === 0) {
        Object.assign(this.test ?? {}, { gpugradSkipReason: 'the gemm runs on one thread here (a web page, one hardware thread, or GPUGRAD_WASM_THREADS=1)' });
        this.skip();
      }
      const r3 = rng(7);
      const [m, k, n] = [203, 301, 45];
      const A = layout([m, k], false, r3, [false, false]);
      const B = layout([k, n], true, r3, [false, false]);
      const kernel = K.matmul(A.op, B.op, [], m, k, n);
      const want = expected(A.data, A.op, B.data, B.op, [], m, k, n);
      // every worker is late: run declines (the cpu device's loop then computes the product)
      g.deadlineMs = () => -1;
      expect(g.run(new Float32Array(m * n), A.data, B.data, kernel.gemm!)).to.equal(false);
      expect([g.missedDeadlines, g.readyThreads]).to.deep.equal([1, 0]);
      // later products run on one thread over a new memory, with the right values
      g.deadlineMs = null;
      const before = g.parallelRuns;
      for (let i = 0; i < 2; i++) {
        const out = new Float32Array(m * n);
        expect(g.run(out, A.data, B.data, kernel.gemm!)).to.equal(true);
        expectClose(out, want, { rtol: 1e-5, atol: 1e-4 }, `after the missed deadline, run ${i}`);
      }
      expect(g.parallelRuns).to.equal(before);
      // the deadline grows with the work: a slow worker on a loaded machine is not taken for a dead one
      expect(workerDeadlineMs(0)).to.equal(10_000);
      expect(workerDeadlineMs(2e12)).to.be.greaterThan(60_000);
    });

    /** `expected` summed over the last `sum` batch dims (float64). */
    function summedExpected(a: Float32Array, ao: Operand, b: Float32Array, bo: Operand, batch: number[], m: number, k: number, n: number, sum: number): Float64Array {
      const full = expected(a, ao, b, bo, batch, m, k, n);
      const entries = batch.slice(batch.length - sum).reduce((x, y) => x * y, 1) * m * n;
      const out = new Float64Array(full.length / Math.max(1, entries / (m * n)));
      for (let i = 0; i < full.length; i++) {
        const t = Math.floor(i / entries);
        out[t * m * n + (i % (m * n))] = (out[t * m * n + (i % (m * n))] as number) + (full[i] as number);
      }
      return out;
    }

    // a broadcast operand's gradient in one product (matmul's `sum`): the kernel text (loop
    // device) and the gemm (packed panels over the summed dims and k) against float64
    for (let trial = 0; trial < 16; trial++) {
      const m = pick([1, 3, 4, 9, 33]);
      const k = pick([1, 2, 5, 17, 130]);
      const n = pick([1, 5, 8, 20]);
      const batch = trial % 4 === 0 ? [4] : trial % 4 === 1 ? [2, 3] : trial % 4 === 2 ? [3, 2, 2] : [1, 5];
      const sum = trial % 3 === 0 ? batch.length : 1 + (trial % Math.max(1, batch.length - 1));
      const ta = r() < 0.5;
      const tb = r() < 0.5;
      const bcastA = batch.map((_, d) => d < batch.length - sum && r() < 0.3);
      it(`summed over ${sum} of batch ${batch.join('×')}: ${m}×${k}·${k}×${n}${ta ? ' Aᵀ' : ''}${tb ? ' Bᵀ' : ''}`, () => {
        const A = layout([...batch, m, k], ta, r, [...bcastA, false, false]);
        const B = layout([...batch, k, n], tb, r, batch.map(() => false).concat([false, false]));
        const kernel = K.matmul(A.op, B.op, batch, m, k, n, sum);
        expect(kernel.gemm!.sum).to.equal(sum);
        const want = summedExpected(A.data, A.op, B.data, B.op, batch, m, k, n, sum);
        const tol = { rtol: 1e-5, atol: 1e-3 };
        for (const dev of [fast, loop]) {
          const out = dev.run(kernel, [dev.upload(A.data, 'float32'), dev.upload(B.data, 'float32')], 'float32');
          expect(dev.readSync(out).length).to.equal(want.length);
          expectClose(dev.readSync(out), want, tol, dev === fast ? 'cpu device' : 'loop');
        }
        const direct = new Float32Array(want.length);
        expect(wasmGemm()!.run(direct, A.data, B.data, kernel.gemm!)).to.equal(true);
        expectClose(direct, want, tol, 'gemm');
      });
    }

    it("a convolution's weight gradient Σ_n G[n]·cols[n]ᵀ runs as its transpose, cols read in place; a product whose operands are in place does not", () => {
      const g = wasmGemm()!;
      const r5 = rng(31);
      // G (N, Cout, L), cols (N, K, L): A = G summed over N (rows in place), B = colsᵀ (k-contiguous: packed straight)
      const [N, co, kk, l] = [5, 6, 11, 37];
      const G = Float32Array.from({ length: N * co * l }, () => Math.round((r5() * 4 - 2) * 256) / 256);
      const cols = Float32Array.from({ length: N * kk * l }, () => Math.round((r5() * 4 - 2) * 256) / 256);
      const aOp: Operand = { offset: 0, strides: [co * l, l, 1] };
      const bOp: Operand = { offset: 0, strides: [kk * l, 1, l] };
      const kernel = K.matmul(aOp, bOp, [N], co, l, kk, 1);
      const want = summedExpected(G, aOp, cols, bOp, [N], co, l, kk, 1);
      const before = g.turnedRuns;
      const out = new Float32Array(co * kk);
      expect(g.run(out, G, cols, kernel.gemm!)).to.equal(true);
      expect(g.turnedRuns - before).to.equal(1);
      expectClose(out, want, { rtol: 1e-5, atol: 1e-4 }, 'weight gradient');
      // the loop device agrees (the kernel text's nested loops over the summed dim)
      expectClose(loop.readSync(loop.run(kernel, [loop.upload(G, 'float32'), loop.upload(cols, 'float32')], 'float32')), want, { rtol: 1e-5, atol: 1e-4 }, 'loop');
      // row-major A and B: both read in place, never turned
      const x = layout([7, 19], false, r5, [false, false]);
      const y = layout([19, 13], false, r5, [false, false]);
      const k2 = K.matmul(x.op, y.op, [], 7, 19, 13);
      const out2 = new Float32Array(7 * 13);
      expect(g.run(out2, x.data, y.data, k2.gemm!)).to.equal(true);
      expect(g.turnedRuns - before).to.equal(1);
      expectClose(out2, expected(x.data, x.op, y.data, y.op, [], 7, 19, 13), { rtol: 1e-5, atol: 1e-4 }, 'in place');
    });

    it("Linear's products pack in gemm.wat: x·Wᵀ straight (Wᵀ along k, packK), Gᵀ·X (Gᵀ along its rows, packM); partial panels, k tails", () => {
      const g = wasmGemm()!;
      const r6 = rng(77);
      const grid = (len: number): Float32Array => Float32Array.from({ length: len }, () => Math.round((r6() * 4 - 2) * 256) / 256);
      const tol = { rtol: 1e-5, atol: 1e-4 };
      // m, k, n not multiples of the 4×8 tile or of 4 steps; k past one 256-step block
      for (const [m, k, n] of [[130, 785, 257], [5, 7, 9], [64, 260, 12]] as const) {
        const x = grid(m * k);
        const w = grid(n * k);
        const xOp: Operand = { offset: 0, strides: [k, 1] };
        const wtOp: Operand = { offset: 0, strides: [1, k] };
        const before = [g.wasmPacks, g.turnedRuns];
        const out = new Float32Array(m * n).fill(NaN);
        expect(g.run(out, x, w, K.matmul(xOp, wtOp, [], m, k, n).gemm!)).to.equal(true);
        expect([g.wasmPacks - (before[0] as number), g.turnedRuns - (before[1] as number)], `${m}×${k}·${k}×${n}: packs, turned`).to.deep.equal([1, 0]);
        expectClose(out, expected(x, xOp, w, wtOp, [], m, k, n), tol, `x·Wᵀ ${m}×${k}·${k}×${n}`);
        // W's gradient Gᵀ·X: G (m, n) read transposed as A (n, m), X (m, k) in place
        const gOp: Operand = { offset: 0, strides: [1, n] };
        const gd = grid(m * n);
        const out2 = new Float32Array(n * k).fill(NaN);
        const packs = g.wasmPacks;
        expect(g.run(out2, gd, x, K.matmul(gOp, xOp, [], n, m, k).gemm!)).to.equal(true);
        expect(g.wasmPacks - packs, `Gᵀ·X ${n}×${m}·${m}×${k}: packs`).to.equal(1);
        expectClose(out2, expected(gd, gOp, x, xOp, [], n, m, k), tol, `Gᵀ·X ${n}×${m}·${m}×${k}`);
      }
    });

    it('a shared operand over the batch: products side by side in groups, each element as one product per entry', () => {
      const g = wasmGemm()!;
      const r4 = rng(21);
      try {
        for (const [shared, batch, m, k, n] of [['a', [7], 9, 13, 21], ['b', [2, 5], 13, 6, 10], ['a', [11], 4, 300, 8], ['b', [6], 70, 3, 9]] as const) {
          const A = layout([...batch, m, k], r4() < 0.5, r4, [...batch.map(() => shared === 'a'), false, false]);
          const B = layout([...batch, k, n], r4() < 0.5, r4, [...batch.map(() => shared === 'b'), false, false]);
          const kernel = K.matmul(A.op, B.op, [...batch], m, k, n);
          const want = expected(A.data, A.op, B.data, B.op, [...batch], m, k, n);
          const outs: Float32Array[] = [];
          // one group for the whole batch, groups of a few entries (uneven last group), one entry per product
          for (const floats of [2 ** 23, 3 * (m + 8) * (k + 8) + 1, 1]) {
            g.groupFloats = floats;
            const out = new Float32Array(want.length);
            expect(g.run(out, A.data, B.data, kernel.gemm!)).to.equal(true);
            expectClose(out, want, { rtol: 1e-5, atol: 1e-4 }, `shared ${shared}, ${floats} floats`);
            outs.push(out);
          }
          // the same sums in the same order whatever the grouping: bit for bit
          expect(Array.from(outs[0]!)).to.deep.equal(Array.from(outs[2]!));
          expect(Array.from(outs[1]!)).to.deep.equal(Array.from(outs[2]!));
        }
      } finally {
        g.groupFloats = 2 ** 23;
      }
    });

    it('leaves matrix–vector products to the loop, packs the rest', () => {
      const spec = (m: number, k: number, n: number) => ({ a: { offset: 0, strides: [k, 1] }, b: { offset: 0, strides: [1, k] }, batch: [], m, k, n });
      expect(worthPacking(spec(256, 2304, 1))).to.equal(false);
      expect(worthPacking(spec(1, 256, 2304))).to.equal(false);
      expect(worthPacking(spec(256, 1, 2304))).to.equal(true);
      expect(worthPacking(spec(3, 64, 3))).to.equal(true);
      expect(worthPacking(spec(512, 512, 512))).to.equal(true);
      // summed batch dims lengthen k: 2×8 over 4×8 summed entries is a matrix–vector product
      expect(worthPacking({ ...spec(2, 8, 30), batch: [4, 8], sum: 1 })).to.equal(false);
      expect(worthPacking({ ...spec(2, 8, 30), batch: [4, 1], sum: 1 })).to.equal(true);
    });

    it('declines (writes nothing) a product past wasm32 memory, so the device runs its loop', () => {
      const g = wasmGemm()!;
      const huge = { a: { offset: 0, strides: [1 << 20, 1] }, b: { offset: 0, strides: [1 << 20, 1] }, batch: [], m: 1 << 20, k: 1 << 10, n: 1 };
      const out = new Float32Array(1);
      expect(g.run(out, new Float32Array(1), new Float32Array(1), huge)).to.equal(false);
      expect(out[0]).to.equal(0);
    });

    it('float64 never takes the fast path: results are the loop, bit for bit', () => {
      const x = gg.randn([9, 300], { dtype: 'float64' });
      const y = gg.randn([300, 7], { dtype: 'float64' });
      const got = x.matmul(y).dataSync();
      const xs = x.dataSync();
      const ys = y.dataSync();
      // the loop's order: four accumulators over k, combined (acc0 + acc1) + (acc2 + acc3)
      for (let i = 0; i < 9; i++)
        for (let j = 0; j < 7; j++) {
          const acc = [0, 0, 0, 0];
          for (let kk = 0; kk < 300; kk++) acc[kk % 4] = (acc[kk % 4] as number) + (xs[i * 300 + kk] as number) * (ys[kk * 7 + j] as number);
          expect(got[i * 7 + j]).to.equal(((acc[0] as number) + (acc[1] as number)) + ((acc[2] as number) + (acc[3] as number)));
        }
    });
  });
});
