/**
 * The cpu device's float32 fast passes of the normalize primitive
 * (backend/group-passes.ts, tensor/normalize-fast.ts): the one-pass moments
 * and the one-pass backward sums against the IR kernels they replace, on
 * the same inputs (the device's `fastNorm` turned off), for batch,
 * instance, layer and group norm, at extreme magnitudes, with NaN and inf,
 * and where the fast path must step aside (strided x, subnormal data with
 * eps = 0, a recorded double backward). The layers' PyTorch goldens
 * (normalization.test.ts, norm-extremes.test.ts) run with the fast path on.
 */
import { expect } from 'chai';
import * as gg from '../../src/index.js';
import { getDevice } from '../../src/backend/registry.js';
import { CpuDevice } from '../../src/backend/cpu.js';
import { finishMoments, gradInputLanes, groupLayout, jsPasses, outputLanes, type GroupPasses } from '../../src/backend/group-passes.js';
import { moments } from '../../src/nn/norm/functional.js';
import { normDeadlineMs, openWasmNorm, type WasmNorm } from '../../src/backend/wasm/norm.js';
import { platform } from '../../src/backend/platform/platform.js';
import { fusedGradStats, fusedOutputStats } from '../../src/tensor/normalize-fast.js';
import { skipBecause } from '../helpers/devices.js';
import { expectClose, fixture, type Golden, type Tol } from '../helpers/compare.js';

type T = gg.Tensor;

const cpu = getDevice('cpu') as CpuDevice;
const size = (s: readonly number[]): number => s.reduce((a, b) => a * b, 1);
const wave = (n: number, seed: number, scale = 2, shift = 0.3): number[] => Array.from({ length: n }, (_, i) => Math.sin(seed * 12.9898 + i * 78.233) * scale + shift);

/** The device's own passes (WebAssembly SIMD where this runtime has it) and the JavaScript ones. */
const wasmPasses = cpu.groupPasses;
const implementations: [string, GroupPasses][] = wasmPasses === jsPasses ? [['JavaScript', jsPasses]] : [['WebAssembly', wasmPasses], ['JavaScript', jsPasses]];

/** `fn` with the fast path on (with `passes`) and with it off (the IR kernels), restoring the settings. */
async function both<R>(fn: () => Promise<R>, passes: GroupPasses = wasmPasses): Promise<[R, R]> {
  const was = [cpu.fastNorm, cpu.groupPasses] as const;
  try {
    cpu.fastNorm = true;
    cpu.groupPasses = passes;
    const fast = await fn();
    cpu.fastNorm = false;
    const ir = await fn();
    return [fast, ir];
  } finally {
    [cpu.fastNorm, cpu.groupPasses] = was;
  }
}

/** Names of the kernels `fn` runs. */
async function kernels(fn: () => unknown): Promise<string[]> {
  const p = await gg.profile(fn);
  return p.kernels.map((k) => k.kernel);
}

/**
 * norm.wat's `sumChunks` and `WasmNorm.sum` written out: per chunk of 2^15 floats, eight
 * double accumulators (four lane pairs, eight floats a step) added as (a0 + a1) + (a2 + a3),
 * lane 0 + lane 1, then the tail in order; the chunks' sums added in order.
 */
function chunkedSum(d: Float32Array): number {
  let total = 0;
  for (let c = 0; c < d.length; c += 2 ** 15) {
    const end = Math.min(d.length, c + 2 ** 15);
    const acc = new Array<number>(8).fill(0);
    let p = c;
    for (; p + 8 <= end; p += 8) for (let k = 0; k < 8; k++) acc[k] = (acc[k] as number) + (d[p + k] as number);
    let t = 0;
    for (; p < end; p++) t += d[p] as number;
    const a = acc as [number, number, number, number, number, number, number, number];
    total += ((a[0] + a[2]) + (a[4] + a[6])) + ((a[1] + a[3]) + (a[5] + a[7])) + t;
  }
  return total;
}

/** Output parameters [s, inv, m, a, b] per group whose float32 lanes (`outputLanes`) are `lanes` ([s, α, β] per group): inv 1, m 0. */
function fusedLanesAsPar(lanes: Float32Array, groups: number): Float64Array {
  const par = new Float64Array(5 * groups);
  for (let gi = 0; gi < groups; gi++) par.set([lanes[3 * gi] as number, 1, 0, lanes[3 * gi + 1] as number, lanes[3 * gi + 2] as number], 5 * gi);
  return par;
}

describe('the normalize primitive\'s float32 fast passes on the cpu device', function () {
  this.timeout(60_000);

  describe('groupLayout', () => {
    const dense = (s: number[]): number[] => s.map((_, d) => size(s.slice(d + 1)));
    it('batch, instance, layer and group norm layouts', () => {
      expect(groupLayout([4, 3, 5, 6], dense([4, 3, 5, 6]), 7, [0, 2, 3])).to.deep.equal({ offset: 7, outer: 4, groups: 3, inner: 30 });
      expect(groupLayout([4, 3, 5, 6], dense([4, 3, 5, 6]), 0, [2, 3])).to.deep.equal({ offset: 0, outer: 1, groups: 12, inner: 30 });
      expect(groupLayout([4, 3, 5], dense([4, 3, 5]), 0, [1, 2])).to.deep.equal({ offset: 0, outer: 1, groups: 4, inner: 15 });
      expect(groupLayout([4, 3], dense([4, 3]), 0, [0])).to.deep.equal({ offset: 0, outer: 4, groups: 3, inner: 1 });
      // size-1 dims anywhere are ignored
      expect(groupLayout([4, 1, 3, 1, 5], dense([4, 1, 3, 1, 5]), 0, [0, 1, 4])).to.deep.equal({ offset: 0, outer: 4, groups: 3, inner: 5 });
      expect(groupLayout([4, 3, 5], dense([4, 3, 5]), 0, [0, 1, 2])).to.deep.equal({ offset: 0, outer: 60, groups: 1, inner: 1 });
    });
    it('null where the reduced dims are not a leading and a trailing block, or x is not dense', () => {
      expect(groupLayout([4, 3, 5, 6], dense([4, 3, 5, 6]), 0, [1, 3])).to.equal(null);
      expect(groupLayout([4, 3], [1, 4], 0, [0])).to.equal(null);
      expect(groupLayout([4, 3], [6, 2], 0, [0])).to.equal(null);
    });
  });

  describe('momentsPass against the AbsMax, Scale, reciprocal and sum kernels', () => {
    const cases: [string, number[], number[], number, (i: number) => number][] = [
      ['batch norm', [5, 4, 3, 7], [0, 2, 3], 1e-5, (i) => Math.sin(i * 0.7) * 3 + 10],
      ['instance norm, eps = 0', [3, 4, 6], [2], 0, (i) => Math.cos(i * 1.3) * 0.01 - 2],
      ['layer norm, 1e30', [6, 2, 9], [1, 2], 1e-5, (i) => Math.sin(i * 0.37) * 1e30 + 2e30],
      ['group norm, 1e-30', [2, 6, 8], [2], 1e-5, (i) => Math.sin(i * 0.37) * 1e-30],
      ['a constant group and eps = 0', [4, 3, 5], [0, 2], 0, (i) => (Math.floor(i / 5) % 3 === 1 ? 0.75 : Math.sin(i))],
    ];
    for (const [name, shape, dims, eps, f] of cases) for (const [impl, passes] of implementations) {
      it(`${name} (${impl})`, async () => {
        const x = gg.tensor(Float32Array.from({ length: size(shape) }, (_, i) => f(i)), { shape });
        const [fast, ir] = await both(async () => {
          const m = moments(x, dims, { eps });
          return Promise.all([m.scale, m.inv, m.sum1, m.sum2].map(async (t) => Array.from(await t.data())));
        }, passes);
        // scale and 1/scale are the IR's exactly; the sums differ by the rounding of one product in double
        expect(fast[0]).to.deep.equal(ir[0]);
        expect(fast[1]).to.deep.equal(ir[1]);
        const tol: Tol = { rtol: 1e-6, atol: 1e-6 * Math.sqrt(size(shape)) };
        expectClose(fast[2] as number[], ir[2] as number[], tol, `${name}: S1`);
        expectClose(fast[3] as number[], ir[3] as number[], tol, `${name}: S2`);
      });
    }

    it('runs one kernel where the IR runs five', async () => {
      const x = gg.tensor(wave(4 * 3 * 10, 1), { shape: [4, 3, 10], dtype: 'float32' });
      const [fast, ir] = await both(() => kernels(() => {
        const m = moments(x, [0, 2], { eps: 1e-5 });
        return [m.sum1, m.sum2];
      }));
      expect(fast).to.deep.equal(['Moments']);
      expect(ir).to.include.members(['AbsMax', 'CentredSum', 'CentredSquareSum']);
    });

    it('declines (false) where 1/scale is not finite, and the IR kernels run', async () => {
      // subnormal float32 data and eps = 0: the scale is the largest |x - s|, 1/scale overflows
      const tiny = Float32Array.from({ length: 12 }, (_, i) => (Math.floor(i / 3) % 3) * 1e-45);
      const L = groupLayout([4, 3], [3, 1], 0, [0]);
      const raw = jsPasses.moments({ data: tiny, offset: 0, key: { freed: false } }, L as NonNullable<typeof L>) as Float64Array;
      expect(finishMoments(raw, 3, 0, [0, 1, 2, 3].map(() => new Float32Array(3)))).to.equal(false);
      const x = gg.tensor(tiny, { shape: [4, 3] });
      const [fast, ir] = await both(async () => {
        const names = await kernels(() => moments(x, [0]).sum2);
        return { names, s2: Array.from(await moments(x, [0]).sum2.data()) };
      });
      expect(fast.names).to.include('AbsMax');
      expect(fast.s2).to.deep.equal(ir.s2);
    });

    it('a dual x (forward mode) runs the IR kernels: the variance\'s tangent is the IR\'s', async () => {
      const fw = gg.autograd.forwardAd;
      const x0 = gg.tensor(wave(4 * 3 * 5, 3), { shape: [4, 3, 5], dtype: 'float32' });
      const [fast, ir] = await both(async () => {
        const t = fw.dualLevel(() => {
          const x = fw.makeDual(x0, gg.tensor(wave(60, 4), { shape: [4, 3, 5] }));
          return fw.unpackDual(moments(x, [0, 2], { eps: 1e-5 }).var).tangent as T;
        });
        return Array.from(await t.data());
      });
      expect(fast).to.deep.equal(ir);
      expect(fast.some((v) => v !== 0)).to.equal(true);
    });

    it('float64 and strided x run the IR kernels', async () => {
      const x64 = gg.tensor(wave(24, 2), { shape: [4, 6], dtype: 'float64' });
      expect(await kernels(() => moments(x64, [0]).sum1)).to.not.include('Moments');
      const xt = gg.tensor(wave(24, 2), { shape: [6, 4], dtype: 'float32' }).t();
      expect(await kernels(() => moments(xt, [0]).sum1)).to.not.include('Moments');
    });
  });

  describe('the WebAssembly passes against the JavaScript ones', () => {
    const layouts: [string, number, number, number, number][] = [
      ['batch norm layout', 3, 4, 37, 5],
      ['a tail of 3 (inner 7)', 5, 3, 7, 0],
      ['inner 1 (BatchNorm1d)', 9, 6, 1, 2],
      ['one group', 1, 1, 64, 3],
    ];
    for (const [name, outer, groups, inner, offset] of layouts) {
      it(name, function () {
        if (wasmPasses === jsPasses) this.skip(); // no WebAssembly SIMD here: the device runs the JavaScript passes
        const n = outer * groups * inner;
        const mk = (seed: number, extra: number): Float32Array => Float32Array.from(wave(n + extra, seed, 2, 0.5));
        const x = { data: mk(1, offset), offset, key: { freed: false } };
        const g = { data: mk(2, 1), offset: 1, key: { freed: false } };
        const L = { offset, outer, groups, inner };
        const par = (k: number): Float64Array => Float64Array.from(wave(k * groups, 3 + k, 1, 1.5), (v) => Math.fround(v));
        const close: Tol = { rtol: 1e-12, atol: 1e-12 * n };
        expectClose(wasmPasses.moments(x, L) as Float64Array, jsPasses.moments(x, L) as Float64Array, close, 'moments');
        const p3 = par(3);
        expectClose(wasmPasses.gradSums(x, g, L, p3) as Float64Array, jsPasses.gradSums(x, g, L, p3) as Float64Array, close, 'gradSums');
        // the maps compute the same formula (the double one, or float32 lanes): the float32 results are identical
        const p5 = par(5);
        for (const lanes of [false, true]) for (const k of ['output', 'gradInput'] as const) {
          const [a, b] = [new Float32Array(n), new Float32Array(n)];
          if (k === 'output') {
            wasmPasses.output(x, L, p5, a, lanes);
            jsPasses.output(x, L, p5, b, lanes);
          } else {
            wasmPasses.gradInput(x, g, L, p5, a, lanes);
            jsPasses.gradInput(x, g, L, p5, b, lanes);
          }
          expect(Array.from(a), `${k}${lanes ? ' in float32 lanes' : ''}`).to.deep.equal(Array.from(b));
        }
        // the fused forward: the moments pass's raw values, and the lane map of its own coefficients
        const p4 = Float64Array.from({ length: 4 * groups }, (_, i) => [1.5 - (i >> 2) / 4, (i >> 2) % 2 ? -0 : 0.5, outer * inner, 1e-5][i % 4] as number);
        const yf = new Float32Array(n);
        const fwd = wasmPasses.momentsOutput?.(x, L, p4, true, yf);
        if (!fwd) throw new Error('the WebAssembly engine has a fused forward pass');
        expect(Array.from(fwd.raw), 'momentsOutput: the raw moments').to.deep.equal(Array.from(wasmPasses.moments(x, L) as Float64Array));
        const yl = new Float32Array(n);
        jsPasses.output(x, L, fusedLanesAsPar(fwd.lanes, groups), yl, true);
        expect(Array.from(yf), 'momentsOutput: the output as output32 with its coefficients').to.deep.equal(Array.from(yl));
      });
    }

    it('the fused forward\'s coefficients are those of finishMoments, the mean and scale kernels\' formulas and outputLanes', function () {
      if (!wasmPasses.momentsOutput) skipBecause(this, 'no WebAssembly SIMD here: the JavaScript passes have no fused forward pass');
      const cases: [string, number, number, number, boolean][] = [
        ['eps 1e-5, safe', 2, 0.5, 1e-5, true],
        ['eps 1e-5, not safe', 2, 0.5, 1e-5, false],
        ['eps 0, safe', 3, -1, 0, true],
        ['1e-20, eps 0 (a scale of max |d|)', 1e-20, 0, 0, false],
        ['1e30', 1e30, 2e30, 1e-5, true],
      ];
      for (const [name, scale, shift, eps, safe] of cases) {
        const [outer, groups, inner] = [3, 5, 13];
        const n = outer * groups * inner;
        const data = Float32Array.from(wave(n, 4, scale, shift));
        // a constant group (its variance exactly 0; with eps = 0 its α would be 0 or inf, which the lanes refuse)
        if (eps > 0) for (let o = 0; o < outer; o++) data.fill(0.75, (o * groups + 2) * inner, (o * groups + 3) * inner);
        const x = { data, offset: 0, key: { freed: false } };
        const L = { offset: 0, outer, groups, inner };
        const w = Array.from({ length: groups }, (_, i) => Math.fround(0.5 + i / 3));
        const b = Array.from({ length: groups }, (_, i) => (i % 2 ? -0 : Math.fround(i / 7)));
        const p4 = Float64Array.from({ length: 4 * groups }, (_, i) => [w[i >> 2] as number, b[i >> 2] as number, outer * inner, eps][i % 4] as number);
        const fwd = wasmPasses.momentsOutput?.(x, L, p4, safe, new Float32Array(n));
        // the same values written out: finishMoments, m = S₁/n (rounded), istd·w (rounded), outputLanes
        const outs = [0, 1, 2, 3].map(() => new Float32Array(groups));
        expect(finishMoments(fwd?.raw as Float64Array, groups, eps, outs), name).to.equal(true);
        const [, inv, s1, s2] = outs as [Float32Array, Float32Array, Float32Array, Float32Array];
        const cnt = outer * inner;
        const par = new Float64Array(5 * groups);
        for (let gi = 0; gi < groups; gi++) {
          const [S1, S2, iv] = [s1[gi] as number, s2[gi] as number, inv[gi] as number];
          const mm = S1 / cnt;
          const d = S2 / cnt - mm * mm;
          const ve = (d < 0 ? 0 : d) + iv * iv * eps;
          const nz = ve !== 0 ? 1 : 0;
          const q = Math.sqrt(safe ? (nz ? ve : 1) : ve);
          const istd = safe ? (1 / q) * nz : 1 / q;
          par.set([data[gi * inner] as number, iv, Math.fround(S1 / cnt), Math.fround(istd * (w[gi] as number)), b[gi] as number], 5 * gi);
        }
        const want = outputLanes(par, groups);
        expect(want, name).to.not.equal(null);
        expect(Array.from(fwd?.lanes ?? []), name).to.deep.equal(Array.from(want as Float32Array));
      }
    });

    it('declines arrays past its memory limit (the IR runs), and still runs smaller ones after', function () {
      const engine = openWasmNorm(2 ** 20);
      if (!engine) this.skip(); // no WebAssembly SIMD here
      const e = engine as NonNullable<typeof engine>;
      const big = { data: new Float32Array(100_000).fill(1), offset: 0, key: { freed: false } };
      expect(e.moments(big, { offset: 0, outer: 10, groups: 10, inner: 1000 })).to.equal(null);
      expect(e.output(big, { offset: 0, outer: 10, groups: 10, inner: 1000 }, new Float64Array(50), new Float32Array(100_000), true)).to.equal(false);
      const small = { data: Float32Array.from(wave(60, 2)), offset: 0, key: { freed: false } };
      const L = { offset: 0, outer: 3, groups: 4, inner: 5 };
      expectClose(e.moments(small, L) as Float64Array, jsPasses.moments(small, L) as Float64Array, { rtol: 1e-12, atol: 1e-12 }, 'moments after a refusal');
    });

    /** The four passes of `e` over a layout past the threads' threshold (odd sizes, offsets): their results. */
    function allPasses(e: GroupPasses, outer: number, groups: number, inner: number): Float64Array[] {
      const n = outer * groups * inner;
      const x = { data: Float32Array.from(wave(n + 3, 6, 2, 0.5)), offset: 3, key: { freed: false } };
      const g = { data: Float32Array.from(wave(n + 1, 7, 2, 0.5)), offset: 1, key: { freed: false } };
      const L = { offset: 3, outer, groups, inner };
      const par = (k: number): Float64Array => Float64Array.from(wave(k * groups, 8 + k, 1, 1.5), (v) => Math.fround(v));
      const [y, dx, y32, dx32] = [new Float32Array(n), new Float32Array(n), new Float32Array(n), new Float32Array(n)];
      const p3 = par(3);
      const p5 = par(5);
      // the sum of a lent array (an engine that lends none: the same additions written out here)
      const lent = (e as WasmNorm).outputArray?.(n) ?? null;
      lent?.set(x.data.subarray(3));
      // the fused forward (WebAssembly only): raw moments, lane coefficients and output
      const yf = new Float32Array(n);
      const p4 = Float64Array.from({ length: 4 * groups }, (_, i) => [1.5 + (i >> 2) / 8, 0.25, outer * inner, 1e-5][i % 4] as number);
      const fwd = e.momentsOutput?.(x, L, p4, true, yf) ?? null;
      const r = [
        Float64Array.of(lent ? ((e as WasmNorm).sum(lent, 0, n) as number) : chunkedSum(x.data.subarray(3))),
        e.moments(x, L), e.gradSums(x, g, L, p3),
        e.output(x, L, p5, y, false) ? y : null, e.gradInput(x, g, L, p5, dx, false) ? dx : null,
        e.output(x, L, p5, y32, true) ? y32 : null, e.gradInput(x, g, L, p5, dx32, true) ? dx32 : null,
        ...(fwd ? [fwd.raw, fwd.lanes, yf] : []),
      ];
      return r.map((a) => Float64Array.from(a ?? []));
    }

    it('splits large passes by groups over worker threads sharing the memory (Node): the one-thread values, bit for bit', async function () {
      const threaded = openWasmNorm(undefined, 2);
      const one = openWasmNorm(undefined, 1);
      if (!threaded || !one || (await threaded.startThreads()) === 0) {
        // the reason as helpers/devices.ts's setSkipReason records it (not imported: it probes every device)
        Object.assign(this.test ?? {}, { gpugradSkipReason: threaded ? 'the normalize passes run on one thread here (a web page, or no worker threads)' : 'no WebAssembly SIMD here' });
        this.skip();
      }
      const [t, o] = [threaded as NonNullable<typeof threaded>, one as NonNullable<typeof one>];
      // 5 groups over 2 threads (an uneven split), and a BatchNorm2d-like layout
      // ranges claimed by both threads, then by the worker alone (this thread claims none)
      for (const [outer, groups, inner, workersOnly] of [[3, 5, 7001, false], [4, 16, 1031, false], [4, 16, 1031, true], [2, 3, 20011, true]] as const) {
        const before = t.parallelRuns;
        t.workersOnly = workersOnly;
        const [a, b] = [allPasses(t, outer, groups, inner), allPasses(o, outer, groups, inner)];
        t.workersOnly = false;
        expect(t.parallelRuns - before, 'passes split').to.equal(8);
        a.forEach((v, i) => {
          expect(v.length, `pass ${i} ran`).to.be.greaterThan(0);
          expect(Array.from(v), `pass ${i}, ${outer}×${groups}×${inner}${workersOnly ? ', the worker alone' : ''}`).to.deep.equal(Array.from(b[i] as Float64Array));
        });
      }
      expect(o.parallelRuns).to.equal(0);
    });

    it('starts its workers only after four large passes (a first forward and backward stays on one thread)', function () {
      const e = openWasmNorm(undefined, 2);
      if (!e) this.skip(); // no WebAssembly SIMD here
      const t = e as NonNullable<typeof e>;
      const L = { offset: 0, outer: 3, groups: 5, inner: 7001 };
      const x = { data: Float32Array.from(wave(3 * 5 * 7001, 10)), offset: 0, key: { freed: false } };
      const small = { data: Float32Array.from(wave(60, 2)), offset: 0, key: { freed: false } };
      // small passes do not count
      for (let i = 0; i < 6; i++) t.moments(small, { offset: 0, outer: 3, groups: 4, inner: 5 });
      for (let i = 0; i < 4; i++) t.moments(x, L);
      expect(t.threadsStarted, 'after four large passes').to.equal(false);
      t.moments(x, L);
      // where the platform starts no threads (a web page) the engine stays on one thread
      expect(t.threadsStarted, 'after five').to.equal(typeof SharedArrayBuffer === 'function' && typeof platform().startThread === 'function');
    });

    it('a worker that misses its deadline: the pass declines (the IR runs) and the shared memory is never used again', async function () {
      const e = openWasmNorm(undefined, 2);
      const one = openWasmNorm(undefined, 1);
      if (!e || !one || (await e.startThreads()) === 0) {
        Object.assign(this.test ?? {}, { gpugradSkipReason: e ? 'the normalize passes run on one thread here (a web page, or no worker threads)' : 'no WebAssembly SIMD here' });
        this.skip();
      }
      const t = e as NonNullable<typeof e>;
      const x = { data: Float32Array.from(wave(3 * 5 * 7001, 9)), offset: 0, key: { freed: false } };
      const L = { offset: 0, outer: 3, groups: 5, inner: 7001 };
      t.deadlineMs = () => -1;
      expect(t.moments(x, L)).to.equal(null);
      expect([t.missedDeadlines, t.readyThreads]).to.deep.equal([1, 0]);
      // later passes run on one thread over a new memory, with the one-thread values
      t.deadlineMs = null;
      const before = t.parallelRuns;
      const [a, b] = [allPasses(t, 3, 5, 7001), allPasses(one as NonNullable<typeof one>, 3, 5, 7001)];
      a.forEach((v, i) => expect(Array.from(v), `pass ${i} after the missed deadline`).to.deep.equal(Array.from(b[i] as Float64Array)));
      expect(t.parallelRuns).to.equal(before);
      // the deadline grows with the work: a slow worker on a loaded machine is not taken for a dead one
      expect(normDeadlineMs(0)).to.equal(10_000);
      expect(normDeadlineMs(1e9)).to.be.greaterThan(60_000);
    });

    it('keeps the copy of an input while its buffer lives: one copy of x and one of g for a whole training step', async function () {
      if (wasmPasses === jsPasses) this.skip(); // no WebAssembly SIMD here
      const bn = new gg.nn.BatchNorm2d(4);
      const x = gg.tensor(wave(3 * 4 * 25, 4), { shape: [3, 4, 5, 5], requiresGrad: true });
      const g = gg.tensor(wave(3 * 4 * 25, 5), { shape: [3, 4, 5, 5] });
      const engine = wasmPasses as GroupPasses & { copies: number };
      const before = engine.copies;
      (bn.forward(x) as T).backward(g);
      expect(engine.copies - before).to.equal(2);
      (bn.forward(x) as T).backward(g);
      expect(engine.copies - before).to.equal(2);
    });
  });

  describe('outputs in the engine\'s memory, and sums there (docs/notes/architecture.md, "The normalization fast path")', () => {
    const engine = (wasmPasses === jsPasses ? null : wasmPasses) as WasmNorm | null;
    /** Skip, with the reason, where the device's engine lends no memory (no SIMD, or one thread: a plain memory). */
    function needLending(ctx: Mocha.Context): WasmNorm {
      const e = engine;
      const probe = e?.outputArray(4096) ?? null;
      if (probe) e?.release(probe);
      if (!e || !probe) {
        Object.assign(ctx.test ?? {}, { gpugradSkipReason: e ? 'the normalize engine has a plain memory here (one thread): outputs are copied out' : 'no WebAssembly SIMD here' });
        ctx.skip();
      }
      return e as WasmNorm;
    }
    const bnStep = async (shape: number[], seed: number): Promise<{ y: T; gx: T; values: number[][] }> => {
      const x = gg.tensor(wave(size(shape), seed, 1.5, 0.3), { shape, dtype: 'float32', requiresGrad: true });
      const w = gg.tensor(wave(shape[1] as number, seed + 1).map((v) => v + 2));
      const y = gg.nn.functional.batchNorm(x, null, null, w, null, true);
      y.backward(gg.tensor(wave(size(shape), seed + 2), { shape }));
      const gx = x.grad as T;
      return { y, gx, values: [Array.from(await y.data()), Array.from(await gx.data()), [await gx.sum().item()]] };
    };

    it('BatchNorm2d\'s output and x\'s gradient are written in place (no copy out), with the copied-out values bit for bit', async function () {
      const e = needLending(this);
      const was = cpu.wasmArena;
      try {
        cpu.wasmArena = false;
        const copied = await bnStep([4, 4, 16, 17], 20);
        cpu.wasmArena = true;
        const [out0, sums0] = [e.copiesOut, e.sums];
        const lent = await bnStep([4, 4, 16, 17], 20);
        expect(e.copiesOut - out0, 'values copied out').to.equal(0);
        expect(e.sums - sums0, 'Σ x.grad summed in the memory').to.equal(1);
        for (const t of [lent.y, lent.gx]) expect(e.owns(cpu.hostData(t.storage.buffer)), 'lent').to.equal(true);
        expect(e.owns(cpu.hostData(copied.y.storage.buffer))).to.equal(false);
        expect(lent.values.slice(0, 2)).to.deep.equal(copied.values.slice(0, 2));
        // the sum adds in another order (double lanes, chunks) than the IR's one double accumulator
        expectClose(lent.values[2] as number[], copied.values[2] as number[], { rtol: 1e-6, atol: 1e-6 }, 'Σ x.grad');
      } finally {
        cpu.wasmArena = was;
      }
    });

    it('a freed output gives its range back (disposed, or dropped by tidy): the memory in use returns to where it was', async function () {
      const e = needLending(this);
      const x = gg.tensor(wave(2 * 3 * 700, 21), { shape: [2, 3, 700] });
      gg.nn.functional.batchNorm(x, null, null, null, null, true).dispose();
      const before = e.bytesInUse;
      const y = gg.nn.functional.batchNorm(x, null, null, null, null, true);
      expect(e.bytesInUse, 'y lent').to.be.greaterThan(before);
      const values = Array.from(await y.data());
      y.dispose();
      expect(e.bytesInUse).to.equal(before);
      gg.tidy(() => {
        gg.nn.functional.batchNorm(x, null, null, null, null, true);
      });
      expect(e.bytesInUse, 'after tidy').to.equal(before);
      // the reused range holds the next output, with its own values
      const z = gg.nn.functional.batchNorm(x.mul(2), null, null, null, null, true);
      expectClose(Array.from(await z.data()), values, { rtol: 2e-5, atol: 2e-5 }, 'normalised 2x (eps weighs less)');
      z.dispose();
    });

    it('a lent output read by the next normalize pass in place: no copy in', async function () {
      const e = needLending(this);
      const x = gg.tensor(wave(4 * 5 * 300, 22), { shape: [4, 5, 300] });
      const before = e.copies;
      const y1 = gg.nn.functional.batchNorm(x, null, null, null, null, true);
      const y2 = gg.nn.functional.batchNorm(y1.mul(3).add(1), null, null, null, null, true);
      // x is copied in; y1·3 + 1 is an IR kernel's output (a pooled array): copied; y1 itself is never copied
      expect(e.copies - before).to.equal(2);
      const y3 = gg.nn.functional.instanceNorm(y2, null, null, null, null, true);
      expect(e.copies - before, 'y2 read in place').to.equal(2);
      expectClose(Array.from(await y3.data()), Array.from(await gg.nn.functional.instanceNorm(y1, null, null, null, null, true).data()), { rtol: 1e-4, atol: 1e-5 }, 'normalised twice');
    });

    it('sum(): a lent array summed in the memory, in double: the exact sum rounded to float32, NaN and inf as the IR', async function () {
      const e = needLending(this);
      const n = 3 * 2 ** 15 + 77;
      const a = e.outputArray(n) as Float32Array;
      const data = wave(n, 23, 3, 0.1).map(Math.fround);
      a.set(data);
      // the exact sum of float32 values (each an integer multiple of 2^-64 here)
      let exact = 0n;
      for (const v of data) {
        expect(Number.isInteger(v * 2 ** 64)).to.equal(true);
        exact += BigInt(v * 2 ** 64);
      }
      const s = e.sum(a, 0, n) as number;
      expect(Math.fround(s)).to.equal(Math.fround(Number(exact) / 2 ** 64));
      expect(Math.abs(s - Number(exact) / 2 ** 64)).to.be.at.most(1e-9);
      // an offset run, and the chunks' order: the same value on one thread as split
      expect(e.sum(a, 5, 100)).to.equal(chunkedSum(a.subarray(5, 105)));
      for (const [v, want] of [[Infinity, Infinity], [NaN, NaN], [-Infinity, -Infinity]] as const) {
        a[1000] = v;
        expect(e.sum(a, 0, n)).to.deep.equal(want);
      }
      a[2000] = Infinity;
      expect(e.sum(a, 0, n), 'inf - inf').to.deep.equal(NaN);
      a.fill(-0);
      expect(Object.is(e.sum(a, 0, n), 0), '-0s sum to +0, as the IR (its accumulator starts at 0)').to.equal(true);
      // small outputs are not lent (a copy out costs little)
      expect(e.outputArray(4095)).to.equal(null);
      // an array the engine did not lend is not its to sum (the IR runs)
      expect(e.sum(Float32Array.from(data), 0, n)).to.equal(null);
      e.release(a);
    });

    it('sum() of a whole dense lent tensor runs in the memory; of a view, a pooled array or with the arena off, the IR', async function () {
      const e = needLending(this);
      const x = gg.tensor(wave(2 * 3 * 800, 24), { shape: [2, 3, 800] });
      const y = gg.nn.functional.batchNorm(x, null, null, null, null, true);
      const before = e.sums;
      const all = await y.sum().item();
      expect(e.sums - before).to.equal(1);
      await y.sum([0, 2]).data();
      await y.narrow(2, 1, 30).sum().item();
      await y.mul(1).sum().item();
      expect(e.sums - before, 'only the whole-tensor sum').to.equal(1);
      const was = cpu.wasmArena;
      try {
        cpu.wasmArena = false;
        const z = gg.nn.functional.batchNorm(x, null, null, null, null, true);
        const s0 = e.sums;
        expectClose([await z.sum().item()], [all], { rtol: 0, atol: 1e-5 }, 'Σ');
        expect(e.sums).to.equal(s0);
      } finally {
        cpu.wasmArena = was;
      }
    });
  });

  describe('float32 lanes for the output and x\'s gradient (docs/notes/normalization.md, "float32 lanes")', () => {
    const fr = Math.fround;
    const u = 2 ** -24;

    it('coefficients: α = inv·a, β = b - m·a (A = wi·inv, B = Q·inv², C = P·inv) in double, rounded once', () => {
      const p = Float64Array.from([fr(0.3), fr(1.7), fr(0.1), fr(2.3), fr(-0.4), fr(-1.1), fr(0.6), fr(-0.2), fr(1.9), fr(0.05)]);
      const o = outputLanes(p, 2) as Float32Array;
      const [s, inv, m, a, b] = Array.from(p.subarray(5));
      expect(Array.from(o.subarray(3))).to.deep.equal([s, fr((inv as number) * (a as number)), fr((b as number) - (m as number) * (a as number))]);
      const gIn = gradInputLanes(p, 2) as Float32Array;
      const [, , wi, P, Q] = Array.from(p.subarray(5)) as number[];
      expect(Array.from(gIn.subarray(4))).to.deep.equal([s, fr((wi as number) * (inv as number)), fr((Q as number) * (inv as number) * (inv as number)), fr((P as number) * (inv as number))]);
    });

    it('declined (the double map runs) where a coefficient is not a normal float32, a coefficient of x - s is 0, or s is not finite', () => {
      const base = [0.3, 1.7, 0.1, 2.3, -0.4];
      const with_ = (i: number, v: number): Float64Array => Float64Array.from(base.map((w, j) => (j === i ? v : w)));
      expect(outputLanes(with_(3, 0), 1), 'α = 0').to.equal(null);
      expect(outputLanes(with_(3, 1e-40), 1), 'α subnormal').to.equal(null);
      expect(outputLanes(with_(1, 1e30), 1)?.length, 'α = 2.3e30 is a normal float32').to.equal(3);
      expect(outputLanes(with_(3, 1e39), 1), 'α past float32').to.equal(null);
      expect(outputLanes(with_(0, NaN), 1), 's NaN').to.equal(null);
      expect(outputLanes(with_(0, Infinity), 1), 's inf').to.equal(null);
      expect(outputLanes(Float64Array.from([0.3, 1, 0, 1, 0]), 1)?.length, 'β = 0 is fine').to.equal(3);
      expect(gradInputLanes(with_(4, 0), 1), 'B = 0').to.equal(null);
      expect(gradInputLanes(with_(2, 0), 1)?.length, 'A = 0 is fine (it multiplies g, as the IR does)').to.equal(4);
      expect(gradInputLanes(with_(3, 0), 1)?.length, 'C = 0 is fine').to.equal(4);
      expect(gradInputLanes(with_(4, 1e-300), 1), 'B underflows float32').to.equal(null);
      expect(gradInputLanes(with_(3, NaN), 1), 'C NaN').to.equal(null);
      // one group declined: the whole pass runs the double map, the IR kernel's values bit for bit
      for (const [impl, passes] of implementations) {
        const x = { data: Float32Array.from(wave(2 * 9, 4)), offset: 0, key: { freed: false } };
        const L = { offset: 0, outer: 1, groups: 2, inner: 9 };
        const par = Float64Array.from([...base, 0.1, 0.9, 0.2, 0, 0.5]);
        const [a, b] = [new Float32Array(18), new Float32Array(18)];
        passes.output(x, L, par, a, true);
        jsPasses.output(x, L, par, b, false);
        expect(Array.from(a), impl).to.deep.equal(Array.from(b));
      }
    });

    // magnitudes where the mean dominates the spread (x - s first keeps it from cancelling), and extremes
    const data: [string, number, number][] = [['moderate', 2, 0.5], ['mean 1e4, spread 1', 1, 1e4], ['1e30', 1e30, 3e29], ['1e-30', 1e-30, 5e-31]];
    for (const [impl, passes] of implementations) for (const [mag, scale, shift] of data) {
      it(`${impl}, ${mag}: each value is the float32 formula's, within a few float32 roundings of the double map`, () => {
        const [outer, groups, inner] = [3, 4, 37];
        const n = outer * groups * inner;
        const x = { data: Float32Array.from(wave(n + 2, 11, scale, shift)), offset: 2, key: { freed: false } };
        const g = { data: Float32Array.from(wave(n, 12, 1.5, 0.2)), offset: 0, key: { freed: false } };
        const L = { offset: 2, outer, groups, inner };
        // per-group parameters as the statistics give them: s a value of the group, inv ~ 1/spread, m small
        const par = (k: number, f: (gi: number, j: number) => number): Float64Array => Float64Array.from({ length: k * groups }, (_, i) => fr(f(Math.floor(i / k), i % k)));
        const pOut = par(5, (gi, j) => [x.data[2 + gi * inner] as number, 1 / scale, 0.01 * (gi - 1.5), 1 + 0.3 * gi, 0.2 * gi - 0.3][j] as number);
        const pGrad = par(5, (gi, j) => [x.data[2 + gi * inner] as number, 1 / scale, (1 + 0.3 * gi) * 0.9, -0.05 * (gi + 1), 0.003 * (gi - 1.5)][j] as number);
        const [y, dx] = [new Float32Array(n), new Float32Array(n)];
        expect(passes.output(x, L, pOut, y, true)).to.equal(true);
        expect(passes.gradInput(x, g, L, pGrad, dx, true)).to.equal(true);
        const fo = outputLanes(pOut, groups) as Float32Array;
        const fg = gradInputLanes(pGrad, groups);
        // B = Q·inv² leaves float32's normal range for a spread past ~1e16 or under ~1e-22: the double map runs there
        expect(fg === null, 'gradient lanes declined').to.equal(mag === '1e30' || mag === '1e-30');
        const exact = new Float32Array(n);
        jsPasses.gradInput(x, g, L, pGrad, exact, false);
        let worst = 0;
        for (let o = 0, k = 0; o < outer; o++) for (let gi = 0; gi < groups; gi++) for (let j = 0; j < inner; j++, k++) {
          const xv = x.data[2 + k] as number;
          const gv = g.data[k] as number;
          const [s, inv, m, a, b] = Array.from(pOut.subarray(5 * gi, 5 * gi + 5)) as [number, number, number, number, number];
          // the float32 formula, written here from its coefficients
          const [fs, fa, fb] = [fo[3 * gi], fo[3 * gi + 1], fo[3 * gi + 2]] as [number, number, number];
          expect(y[k]).to.equal(fr(fr(fr(xv - fs) * fa) + fb));
          // the double map and the bound of five float32 roundings of its terms
          const da = (xv - s) * inv * a;
          const want = ((xv - s) * inv - m) * a + b;
          const err = Math.abs((y[k] as number) - want);
          const bound = u * (4 * Math.abs(da) + 2 * Math.abs(b - m * a) + 2 * Math.abs(want));
          expect(err, `y[${k}]`).to.be.at.most(bound);
          worst = Math.max(worst, err / (Math.abs(da) + Math.abs(b - m * a)));
          const [gs, giv, wi, P, Q] = Array.from(pGrad.subarray(5 * gi, 5 * gi + 5)) as [number, number, number, number, number];
          if (!fg) {
            expect(dx[k]).to.equal(exact[k]);
            continue;
          }
          const [cs, A, B, C] = [fg[4 * gi], fg[4 * gi + 1], fg[4 * gi + 2], fg[4 * gi + 3]] as [number, number, number, number];
          expect(dx[k]).to.equal(fr(fr(gv * A) + fr(fr(fr(xv - cs) * B) + C)));
          const dB = (xv - gs) * Q * giv * giv;
          const dwant = (gv * wi + P + Q * ((xv - gs) * giv)) * giv;
          const dbound = u * (3 * Math.abs(gv * wi * giv) + 4 * Math.abs(dB) + 3 * Math.abs(P * giv) + 2 * Math.abs(dB + P * giv) + 2 * Math.abs(dwant));
          expect(Math.abs((dx[k] as number) - dwant), `dx[${k}]`).to.be.at.most(dbound);
        }
        // and the rounding did happen in float32, not in double (the double map is more accurate than this)
        if (mag === 'moderate') expect(worst).to.be.greaterThan(2 ** -30);
      });
    }

    interface LanesCase { name: string; layer: 'batch' | 'instance'; x: Golden; gy: Golden; weight: Golden; bias: Golden; y32: Golden; dx32: Golden; y64: Golden; dx64: Golden }
    const goldens = fixture<{ cases: LanesCase[] }>('torch_norm_lanes.json').cases;
    for (const c of goldens) it(`${c.layer === 'batch' ? 'BatchNorm2d' : 'InstanceNorm2d'}, ${c.name}: within PyTorch's float32 error of float64, or a few float32 roundings (test/fixtures/make_norm_lanes.py)`, async () => {
      const was = cpu.normLanes;
      try {
        cpu.normLanes = true;
        const x = gg.tensor(Float32Array.from(c.x.data), { shape: c.x.shape, requiresGrad: true });
        const [w, b] = [gg.tensor(Float32Array.from(c.weight.data)), gg.tensor(Float32Array.from(c.bias.data))];
        let y: T | null = null;
        // the output in the moments pass (`fastMoments` with an output), its lanes checked
        const forward = await kernels(() => (y = c.layer === 'batch' ? gg.nn.functional.batchNorm(x, null, null, w, b, true) : gg.nn.functional.instanceNorm(x, null, null, w, b, true)));
        if (cpu.groupPasses.momentsOutput && cpu.normFusedForward) expect(forward).to.include('MomentsOutput').and.not.include('NativeBatchNorm');
        else expect(forward).to.include('NativeBatchNorm');
        const names = await kernels(() => (y as unknown as T).backward(gg.tensor(Float32Array.from(c.gy.data), { shape: c.gy.shape })));
        // x's gradient maps alone or with the sums in one pass (`fastGradFused`, its lanes checked)
        expect(names.some((k) => k === 'NativeBatchNormGradInput' || k === 'NormGradFused')).to.equal(true);
        const worst = (a: ArrayLike<number>, want: number[]): number => want.reduce((m, w, i) => Math.max(m, Math.abs((a[i] as number) - w)), 0);
        const big = (a: number[]): number => Math.max(...a.map(Math.abs));
        const [y32, dx32] = [await (y as unknown as T).data(), await (x.grad as T).data()];
        // PyTorch's own float32 error, or a few float32 roundings of the largest value where PyTorch's is smaller
        expect(worst(y32, c.y64.data), 'output').to.be.at.most(Math.max(1.5 * worst(c.y32.data, c.y64.data), 2 ** -21 * big(c.y64.data)));
        expect(worst(dx32, c.dx64.data), 'grad of x').to.be.at.most(Math.max(1.5 * worst(c.dx32.data, c.dx64.data), 2 ** -20 * big(c.dx64.data)));
      } finally {
        cpu.normLanes = was;
      }
    });

    it('BatchNorm2d: lanes within 2^-21 of the largest |y| and 2^-20 of the largest |dx| of the IR\'s values; off, the IR\'s values bit for bit', async () => {
      const shape = [4, 6, 9, 11];
      const run = async (): Promise<number[][]> => {
        const x = gg.tensor(wave(size(shape), 13, 1.5, 40), { shape, dtype: 'float32', requiresGrad: true });
        const w = gg.tensor(wave(6, 14).map((v) => v + 2));
        const b = gg.tensor(wave(6, 15));
        const y = gg.nn.functional.batchNorm(x, null, null, w, b, true);
        y.backward(gg.tensor(wave(size(shape), 16), { shape }));
        return [Array.from(await y.data()), Array.from(await (x.grad as T).data())];
      };
      const was = cpu.normLanes;
      try {
        cpu.normLanes = true;
        const [lanes, ir] = await both(run);
        cpu.normLanes = false;
        const [exact, ir2] = await both(run);
        expect(exact).to.deep.equal(ir2);
        expect(ir).to.deep.equal(ir2);
        const big = (a: number[]): number => Math.max(...a.map(Math.abs));
        expectClose(lanes[0] as number[], ir[0] as number[], { rtol: 0, atol: 2 ** -21 * big(ir[0] as number[]) }, 'output');
        expectClose(lanes[1] as number[], ir[1] as number[], { rtol: 0, atol: 2 ** -20 * big(ir[1] as number[]) }, 'grad of x');
        expect(lanes[0], 'lanes round differently somewhere').to.not.deep.equal(ir[0]);
      } finally {
        cpu.normLanes = was;
      }
    });
  });

  describe('the layers with the fast path against the IR kernels', () => {
    interface Layer {
      name: string;
      shape: number[];
      run: (x: T) => T;
      params: () => T[];
    }
    const bn = new gg.nn.BatchNorm2d(6);
    const inorm = new gg.nn.InstanceNorm2d(6, { affine: true });
    const ln = new gg.nn.LayerNorm([5, 7]);
    const gn = new gg.nn.GroupNorm(3, 6);
    const layers: Layer[] = [
      { name: 'BatchNorm2d', shape: [4, 6, 5, 7], run: (x) => bn.forward(x) as T, params: () => bn.parameters() },
      { name: 'InstanceNorm2d', shape: [4, 6, 5, 7], run: (x) => inorm.forward(x) as T, params: () => inorm.parameters() },
      { name: 'LayerNorm', shape: [4, 6, 5, 7], run: (x) => ln.forward(x) as T, params: () => ln.parameters() },
      { name: 'GroupNorm', shape: [4, 6, 5, 7], run: (x) => gn.forward(x) as T, params: () => gn.parameters() },
    ];
    const magnitudes: [string, number, number][] = [
      ['moderate', 3, 0.3],
      ['1e20', 1e20, 5e19],
      ['1e-20', 1e-20, 0],
      ['1e30', 1e30, 1e30],
      ['1e-30', 1e-30, 3e-31],
    ];
    for (const l of layers) for (const [impl, passes] of implementations) {
      for (const [mag, scale, shift] of magnitudes) {
        it(`${l.name} at ${mag} (${impl}): output and the gradients of x, weight and bias`, async () => {
          const [fast, ir] = await both(async () => {
            const x = gg.tensor(wave(size(l.shape), 1, scale, shift), { shape: l.shape, dtype: 'float32', requiresGrad: true });
            for (const p of l.params()) p.grad = null;
            const y = l.run(x);
            y.mul(gg.tensor(wave(size(l.shape), 9), { shape: l.shape })).sum().backward();
            const out = [Array.from(await y.data()), Array.from(await (x.grad as T).data())];
            for (const p of l.params()) out.push(Array.from(await (p.grad as T).data()));
            return out;
          }, passes);
          const gx = Math.max(...(ir[1] as number[]).map(Math.abs));
          ir.forEach((want, i) => {
            const tol: Tol = i === 1 ? { rtol: 1e-4, atol: 1e-5 * gx } : { rtol: 1e-4, atol: 1e-4 };
            expectClose(fast[i] as number[], want, tol, `${l.name} at ${mag}: ${['output', 'grad of x', 'grad of weight', 'grad of bias'][i] ?? i}`);
            for (const v of fast[i] as number[]) expect(Number.isFinite(v), `${l.name} at ${mag}: finite`).to.equal(true);
          });
        });
      }
    }

    for (const [impl, passes] of implementations) it(`BatchNorm2d (${impl}): Σg and Σg·(c - m) are the IR's values (JavaScript: the same arithmetic and order)`, async () => {
      const shape = [3, 4, 6, 5];
      const [fast, ir] = await both(async () => {
        const x = gg.tensor(wave(size(shape), 3, 2, 1), { shape, dtype: 'float32', requiresGrad: true });
        const w = gg.tensor(wave(4, 5).map((v) => v + 2), { requiresGrad: true });
        const b = gg.tensor(wave(4, 6), { requiresGrad: true });
        const y = gg.nn.functional.batchNorm(x, null, null, w, b, true);
        const names = await kernels(() => y.backward(gg.tensor(wave(size(shape), 4), { shape })));
        return { names, gw: Array.from(await (w.grad as T).data()), gb: Array.from(await (b.grad as T).data()) };
      }, passes);
      // the sums run alone (JavaScript) or with x's gradient in one pass (WebAssembly, `fastGradFused`)
      expect(fast.names.filter((k) => k === 'NormGradSums' || k === 'NormGradFused')).to.have.length(1);
      expect(ir.names).to.not.include('NormGradSums');
      expect(ir.names).to.not.include('NormGradFused');
      if (passes === jsPasses) expect(fast.gb).to.deep.equal(ir.gb);
      else expectClose(fast.gb, ir.gb, { rtol: 1e-6, atol: 1e-6 }, 'grad of bias');
      expectClose(fast.gw, ir.gw, { rtol: 1e-5, atol: 1e-6 }, 'grad of weight');
    });

    for (const [impl, passes] of implementations) it(`NaN and inf in x give what the IR kernels give (${impl})`, async () => {
      const shape = [4, 3, 5];
      const data = wave(size(shape), 7);
      data[7] = NaN;
      data[21] = Infinity;
      const [fast, ir] = await both(async () => {
        const x = gg.tensor(data, { shape, dtype: 'float32', requiresGrad: true });
        const y = gg.nn.functional.batchNorm(x, null, null, null, null, true);
        y.sum().backward();
        return [Array.from(await y.data()), Array.from(await (x.grad as T).data())].map((a) => a.map((v) => (Number.isNaN(v) ? 'NaN' : v)));
      }, passes);
      expect(fast).to.deep.equal(ir);
    });

    it('the backward\'s sums and x\'s gradient in one pass per group (gradFused32): the two passes\' values bit for bit, coefficients checked, misses mapped again', async function () {
      if (!wasmPasses.gradFused) skipBecause(this, 'no WebAssembly SIMD here: the JavaScript passes have no fused pass (gg.deviceInfo(\'cpu\').notes says why)');
      const bits = (a: Float32Array): number[] => Array.from(new Int32Array(a.buffer, a.byteOffset, a.length));
      const cases: [string, number[], number, number, boolean][] = [
        ['BatchNorm2d with weight', [5, 6, 7, 9], 3, 0.3, true],
        ['BatchNorm2d without weight', [5, 6, 7, 9], 3, 0.3, false],
        ['BatchNorm2d, 1e20 (the double map: coefficients not normal in float32)', [4, 6, 5, 7], 1e20, 5e19, true],
        ['BatchNorm2d, 1e-20', [4, 6, 5, 7], 1e-20, 0, true],
        ['BatchNorm2d, split over threads', [16, 8, 24, 24], 2, 0.5, true],
      ];
      for (const [name, shape, scale, shift, affine] of cases) {
        const run = async (fused: boolean): Promise<{ out: number[][]; names: string[]; runs: number; misses: number }> => {
          const was = cpu.normFused;
          const [r0, m0] = [fusedGradStats.runs, fusedGradStats.misses];
          try {
            cpu.normFused = fused;
            const bn = new gg.nn.BatchNorm2d(shape[1] as number, { affine });
            const x = gg.tensor(wave(size(shape), 2, scale, shift), { shape, dtype: 'float32', requiresGrad: true });
            const y = bn.forward(x) as T;
            const names = await kernels(() => y.backward(gg.tensor(wave(size(shape), 5), { shape })));
            const out = [bits(await (x.grad as T).data() as Float32Array)];
            for (const p of bn.parameters()) out.push(bits(await (p.grad as T).data() as Float32Array));
            return { out, names, runs: fusedGradStats.runs - r0, misses: fusedGradStats.misses - m0 };
          } finally {
            cpu.normFused = was;
          }
        };
        const on = await run(true);
        const off = await run(false);
        expect(on.out, name).to.deep.equal(off.out);
        expect(on.names, name).to.include('NormGradFused');
        expect(on.names, name).to.not.include('NativeBatchNormGradInput');
        expect(off.names, name).to.include.members(['NormGradSums', 'NativeBatchNormGradInput']);
        expect([on.runs, off.runs], name).to.deep.equal([1, 0]);
        // the pass's own coefficients are the per-group kernels' where the lanes run; the double map is a miss
        expect(on.misses, name).to.equal(scale === 1e20 ? 1 : 0);
      }
    });

    it('the forward\'s moments and output in one pass per group (momentsOutput32): the two passes\' values bit for bit, coefficients checked, misses mapped again', async function () {
      if (!wasmPasses.momentsOutput) skipBecause(this, 'no WebAssembly SIMD here: the JavaScript passes have no fused forward pass');
      const bits = (a: Float32Array): number[] => Array.from(new Int32Array(a.buffer, a.byteOffset, a.length));
      // name, layer, shape, scale, shift, weight (null: none; a 0 gives α = 0, which the lanes refuse: a miss), bias, a NaN in x
      type Case = [string, 'batch' | 'instance', number[], number, number, number[] | null, number[] | null, boolean];
      const cases: Case[] = [
        ['BatchNorm2d with weight and bias', 'batch', [5, 6, 7, 9], 3, 0.3, [1.5, 0.5, 2, 0.25, 3, 1], [0.1, -0.2, 0, 0.3, -0.4, 0.5], false],
        ['BatchNorm2d without weight or bias', 'batch', [5, 6, 7, 9], 3, 0.3, null, null, false],
        ['BatchNorm2d, 1e20', 'batch', [4, 6, 5, 7], 1e20, 5e19, [1, 2, 3, 4, 5, 6], null, false],
        ['BatchNorm2d, 1e-20 (eps dominates)', 'batch', [4, 6, 5, 7], 1e-20, 0, null, [1, 2, 3, 4, 5, 6], false],
        ['BatchNorm2d, a zero weight (the double map: a miss)', 'batch', [4, 3, 5, 7], 2, 0.5, [1, 0, 2], [0.5, 0.5, 0.5], false],
        ['BatchNorm2d, a NaN in x (a miss)', 'batch', [4, 3, 5, 7], 2, 0.5, [1, 2, 3], null, true],
        ['BatchNorm2d, split over threads', 'batch', [16, 8, 24, 24], 2, 0.5, [1, 2, 3, 4, 5, 6, 7, 8], [8, 7, 6, 5, 4, 3, 2, 1], false],
        ['InstanceNorm2d with per-channel weight and bias', 'instance', [3, 4, 6, 5], 2, -1, [1, 2, 3, 4], [4, 3, 2, 1], false],
      ];
      for (const [name, layer, shape, scale, shift, w, b, nan] of cases) {
        const run = async (fused: boolean): Promise<{ out: number[][]; names: string[]; runs: number; misses: number }> => {
          const was = cpu.normFusedForward;
          const [r0, m0] = [fusedOutputStats.runs, fusedOutputStats.misses];
          try {
            cpu.normFusedForward = fused;
            const data = wave(size(shape), 2, scale, shift);
            // a constant channel: its output is exactly the bias (docs/notes/normalization.md)
            for (let i = 0; i < data.length; i++) if (Math.floor(i / size(shape.slice(2))) % (shape[1] as number) === 1) data[i] = 0.75;
            if (nan) data[40] = NaN;
            const x = gg.tensor(data, { shape, dtype: 'float32', requiresGrad: true });
            const c = shape[1] as number;
            const wt = w ? gg.tensor(w, { requiresGrad: true }) : null;
            const bt = b ? gg.tensor(b, { requiresGrad: true }) : null;
            const [rm, rv] = [gg.zeros([c]), gg.ones([c])];
            let y: T | null = null;
            const names = await kernels(() => {
              y = layer === 'batch' ? gg.nn.functional.batchNorm(x, rm, rv, wt, bt, true, 0.1, 1e-5) : gg.nn.functional.instanceNorm(x, null, null, wt, bt, true, 0.1, 1e-5);
            });
            const out = y as unknown as T;
            out.backward(gg.tensor(wave(size(shape), 5), { shape }));
            const got = [out, x.grad as T, ...(layer === 'batch' ? [rm, rv] : []), ...[wt, bt].filter((t): t is T => t !== null).map((t) => t.grad as T)];
            return { out: await Promise.all(got.map(async (t) => bits(await t.data() as Float32Array))), names, runs: fusedOutputStats.runs - r0, misses: fusedOutputStats.misses - m0 };
          } finally {
            cpu.normFusedForward = was;
          }
        };
        const on = await run(true);
        const off = await run(false);
        const miss = name.includes('miss');
        expect(on.out, name).to.deep.equal(off.out);
        expect(on.names, name).to.include('MomentsOutput');
        expect(on.names, name).to.not.include('Moments');
        // a miss maps the output again, as the pass without the fused forward would
        if (miss) expect(on.names, name).to.include('NativeBatchNorm');
        else expect(on.names, name).to.not.include('NativeBatchNorm');
        expect(off.names, name).to.include.members(['Moments', 'NativeBatchNorm']);
        expect(off.names, name).to.not.include('MomentsOutput');
        expect([on.runs, off.runs, on.misses], name).to.deep.equal([1, 0, miss ? 1 : 0]);
      }
    });

    it('the running buffers\' next values in the fused forward\'s kernel: the RunningUpdate kernels\' values bit for bit', async function () {
      if (!wasmPasses.momentsOutput) skipBecause(this, 'no WebAssembly SIMD here: the JavaScript passes have no fused forward pass');
      const bits = (a: Float32Array): number[] => Array.from(new Int32Array(a.buffer, a.byteOffset, a.length));
      const shape = [5, 4, 6, 7];
      // which buffers, momentum (null: the module's cumulative average, a tensor factor: the IR kernels), a constant channel's spread
      const cases: [string, boolean, boolean, number | null][] = [
        ['both buffers, momentum 0.1', true, true, 0.1],
        ['the mean only, momentum 0.3', true, false, 0.3],
        ['the variance only, momentum 1', false, true, 1],
        ['momentum null (a tensor factor: the RunningUpdate kernels)', true, true, null],
      ];
      for (const [name, withMean, withVar, momentum] of cases) {
        const run = async (fused: boolean): Promise<{ out: number[][]; names: string[] }> => {
          const was = cpu.normFusedForward;
          try {
            cpu.normFusedForward = fused;
            const data = wave(size(shape), 3, 2, 40);
            for (let i = 0; i < data.length; i++) if (Math.floor(i / 42) % 4 === 2) data[i] = -1.25;
            const x = gg.tensor(data, { shape, dtype: 'float32' });
            const rm = withMean ? gg.tensor(wave(4, 9)) : null;
            const rv = withVar ? gg.tensor(wave(4, 10).map((v) => v + 3)) : null;
            let names: string[] = [];
            if (momentum === null) {
              const bn = new gg.nn.BatchNorm2d(4, { momentum: null });
              for (let i = 0; i < 2; i++) names = await kernels(() => bn.forward(x));
              return { out: [bn.running_mean, bn.running_var].map((t) => bits(t?.dataSync() as Float32Array)), names };
            }
            for (let i = 0; i < 2; i++) names = await kernels(() => gg.nn.functional.batchNorm(x, rm, rv, null, null, true, momentum, 1e-5));
            return { out: [rm, rv].filter((t): t is T => t !== null).map((t) => bits(t.dataSync() as Float32Array)), names };
          } finally {
            cpu.normFusedForward = was;
          }
        };
        const on = await run(true);
        const off = await run(false);
        expect(on.out, name).to.deep.equal(off.out);
        expect(on.names, name).to.include('MomentsOutput');
        expect(off.names.filter((k) => k === 'RunningUpdate'), name).to.have.length(Number(withMean) + Number(withVar));
        expect(on.names.filter((k) => k === 'RunningUpdate'), name).to.have.length(momentum === null ? 2 : 0);
      }
    });

    it('the fused forward steps aside for a forward-mode tangent, float64 and GPUGRAD_FAST_NORM_FUSED_FORWARD=0 (normFusedForward)', async () => {
      const shape = [4, 3, 5];
      const x = gg.tensor(wave(size(shape), 3), { shape, dtype: 'float32' });
      const names = async (fn: () => unknown): Promise<string[]> => kernels(fn);
      expect(await names(() => gg.nn.functional.batchNorm(x, null, null, null, null, true))).to.include('MomentsOutput');
      const x64 = gg.tensor(wave(size(shape), 3), { shape, dtype: 'float64' });
      expect(await names(() => gg.nn.functional.batchNorm(x64, null, null, null, null, true))).to.not.include('MomentsOutput');
      const dual = await names(() => gg.autograd.forwardAd.dualLevel(() => {
        const xd = gg.autograd.forwardAd.makeDual(x, gg.onesLike(x));
        return gg.nn.functional.batchNorm(xd, null, null, null, null, true);
      }));
      expect(dual).to.not.include('MomentsOutput');
      const was = cpu.normFusedForward;
      try {
        cpu.normFusedForward = false;
        expect(await names(() => gg.nn.functional.batchNorm(x, null, null, null, null, true))).to.not.include('MomentsOutput');
      } finally {
        cpu.normFusedForward = was;
      }
    });

    it('a recorded double backward (createGraph) gives the IR\'s second derivatives', async () => {
      const shape = [4, 3, 5];
      const [fast, ir] = await both(async () => {
        const x = gg.tensor(wave(size(shape), 8), { shape, dtype: 'float32', requiresGrad: true });
        const w = gg.tensor([1.5, 0.5, 2], { requiresGrad: true });
        const y = gg.nn.functional.batchNorm(x, null, null, w, null, true);
        const [gx] = gg.autograd.grad([y.mul(gg.tensor(wave(size(shape), 2), { shape })).sum()], [x], { createGraph: true }) as T[];
        (gx as T).pow(2).sum().backward();
        return [Array.from(await (x.grad as T).data()), Array.from(await (w.grad as T).data())];
      });
      fast.forEach((v, i) => expectClose(v, ir[i] as number[], { rtol: 1e-4, atol: 1e-4 }, `second derivative ${i}`));
    });
  });
});
