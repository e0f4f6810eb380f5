import { setSkipReason } from '../helpers/devices.js';
/**
 * Parity of every gpu.js device with the float64 cpu reference, on every
 * kernel builder, plus buffer lifetime and the async queue contract.
 *
 * Run: npx tsc -p tsconfig.json && node scripts/with-display.mjs node_modules/.bin/mocha dist/test/backend/devices.test.js
 * `GPUGRAD_TEST_DEVICES=gpu:webasm,gpu:cpu` limits the devices; `CI=true`
 * turns a device that does not probe into a failure instead of a skip.
 *
 * First-call latency observed on the 2-core dev machine (compile + first run
 * of a 257-element elementwise kernel, from `run` to values read; warm runs
 * 0.05-5 ms): gpu:cpu 0.7-2 ms, gpu:webasm 3-6 ms, gpu:headlessgl ~100 ms,
 * gpu:webgpu (Dawn GL ES on llvmpipe) 30-80 ms; about 40 ms more under load.
 * The suite logs the numbers it sees ("first-call latency").
 */
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { CpuDevice } from '../../src/backend/cpu.js';
import type { Device, DeviceBuffer } from '../../src/backend/device.js';
import type { HostArray } from '../../src/backend/types.js';
import { openGpuDevice, probeGpuDevice } from '../../src/backend/registry.js';
import { gpuDeviceNames, type GpuDeviceName } from '../../src/backend/gpujs/modes.js';
import { makeKernel, type Kernel, type Operand } from '../../src/backend/kernel.js';
import * as K from '../../src/backend/kernels.js';
import { rng } from '../helpers/random.js';

const ci = process.env['CI'] === 'true';
const wanted = (process.env['GPUGRAD_TEST_DEVICES'] ?? '').split(',').filter(Boolean);
const names = gpuDeviceNames.filter((n) => wanted.length === 0 || wanted.includes(n));

// probe in a fixed order; a device that cannot share this process with another
// (Dawn's GL ES and headless-gl) is re-run on its own in a child process
const reasons = new Map<GpuDeviceName, string | null>();
for (const n of names) reasons.set(n, await probeGpuDevice(n));

const ref = new CpuDevice();

/** float32-representable values in [lo, hi). */
function randomData(n: number, seed: number, lo = -2, hi = 2): Float32Array {
  const r = rng(seed);
  return Float32Array.from({ length: n }, () => lo + (hi - lo) * r());
}

const contiguous = (shape: readonly number[]): Operand => {
  const strides: number[] = [];
  let s = 1;
  for (let d = shape.length - 1; d >= 0; d--) {
    strides[d] = (shape[d] ?? 1) === 1 ? 0 : s;
    s *= shape[d] ?? 1;
  }
  return { offset: 0, strides };
};

/** Run on the reference in float64 (same float32 inputs) and, with |inputs|, for an error scale. */
async function reference(kernel: Kernel, inputs: readonly Float32Array[]): Promise<{ want: Float64Array; scale: Float64Array }> {
  const run = async (data: readonly Float32Array[], abs: boolean): Promise<Float64Array> => {
    const bufs = data.map((d) => ref.upload(Float64Array.from(d, (x) => (abs ? Math.abs(x) : x)), 'float64'));
    const out = ref.run(kernel, bufs, 'float64');
    const got = (await ref.read(out)) as Float64Array;
    for (const b of [...bufs, out]) ref.free(b);
    return got;
  };
  return { want: await run(inputs, false), scale: await run(inputs, true) };
}

/** Compare at float32 tolerance: relative to the magnitude of the terms that went in. */
function expectClose(got: HostArray, want: Float64Array, scale: Float64Array, what: string, rtol = 2e-4): void {
  expect(got.length, `${what}: length`).to.equal(want.length);
  let bad = 0;
  let first = '';
  for (let i = 0; i < want.length; i++) {
    const g = got[i] ?? NaN;
    const w = want[i] ?? NaN;
    if (Number.isNaN(w) ? Number.isNaN(g) : !Number.isFinite(w) ? g === w : Math.abs(g - w) <= 1e-5 + rtol * Math.max(Math.abs(w), Math.abs(scale[i] ?? 0))) continue;
    if (bad++ === 0) first = `at ${i}: got ${g}, want ${w}`;
  }
  expect(bad, `${what}: ${bad} of ${want.length} elements differ, first ${first}`).to.equal(0);
}

async function parity(dev: Device, kernel: Kernel, inputs: readonly Float32Array[], what = kernel.name, rtol?: number): Promise<void> {
  const bufs = inputs.map((d) => dev.upload(d, 'float32'));
  const out = dev.run(kernel, bufs, 'float32');
  const got = await dev.read(out);
  for (const b of [...bufs, out]) dev.free(b);
  const { want, scale } = await reference(kernel, inputs);
  expectClose(got, want, scale, `${dev.name} ${what}`, rtol);
}

/** Inputs per formula, inside each function's domain. */
function formulaInputs(f: K.Formula, n: number, seed: number): Float32Array[] {
  switch (f) {
    case 'log':
    case 'sqrt':
      return [randomData(n, seed, 0.05, 4)];
    case 'pow':
      return [randomData(n, seed, 0.25, 2), randomData(n, seed + 1, -2, 2)];
    case 'exp':
      return [randomData(n, seed, -6, 6)];
    case 'sigmoid':
    case 'tanh':
      return [randomData(n, seed, -30, 30)];
    case 'eq':
    case 'ne':
    case 'lt':
    case 'le':
    case 'gt':
    case 'ge': {
      // small integers so equality happens
      const r = rng(seed);
      const a = Float32Array.from({ length: n }, () => Math.floor(r() * 3));
      const b = Float32Array.from({ length: n }, () => Math.floor(r() * 3));
      return [a, b];
    }
    case 'floor':
    case 'ceil':
    case 'round': {
      // every other value an exact half or integer (round's ties to even, -0.5 to -0), the rest anywhere
      const r = rng(seed);
      return [Float32Array.from({ length: n }, (_, i) => (i % 2 === 0 ? Math.floor(r() * 33 - 16) / 2 : r() * 40 - 20))];
    }
    case 'where': {
      const r = rng(seed);
      return [Float32Array.from({ length: n }, () => (r() < 0.5 ? 0 : 1)), randomData(n, seed + 1), randomData(n, seed + 2)];
    }
    default:
      return Array.from({ length: arityOf[f] }, (_, k) => randomData(n, seed + k));
  }
}

const arityOf: Record<K.Formula, number> = {
  neg: 1, exp: 1, log: 1, sqrt: 1, abs: 1, sign: 1, sigmoid: 1, tanh: 1, floor: 1, ceil: 1, round: 1, copy: 1, trunc: 1,
  add: 2, sub: 2, mul: 2, div: 2, pow: 2, maximum: 2, minimum: 2, eq: 2, ne: 2, lt: 2, le: 2, gt: 2, ge: 2,
  where: 3,
};

function deviceSuite(name: GpuDeviceName): void {
  const reason = reasons.get(name) ?? null;
  describe(`${name}${reason ? ` (unavailable: ${reason})` : ''}`, function () {
    this.timeout(120_000);
    let dev: Device;
    let startLive = 0;

    before(function () {
      if (reason !== null) {
        if (/cannot share a process|cannot share one process|not tried, headless-gl/.test(reason) && !wanted.includes(name)) {
          // covered by the "own process" test below
          setSkipReason(this.test?.parent, `${name} runs in a process of its own here (${reason})`);
          this.skip();
        }
        if (ci) throw new Error(`device ${name} does not probe (CI=true): ${reason}`);
        console.log(`      skipping ${name}: ${reason}`);
        this.skip();
      }
      dev = openGpuDevice(name);
      startLive = dev.stats.liveBuffers;
    });

    after(function () {
      // drop compiled kernels and the gpu.js instance (worker pools, GL programs)
      if (reason === null) dev.release();
    });

    afterEach(function () {
      if (dev && this.currentTest?.state === 'passed') {
        expect(dev.stats.liveBuffers, `${name}: live buffers after "${this.currentTest.title}"`).to.equal(startLive);
      }
    });

    it('reports what it runs on', function () {
      const info = dev.info();
      console.log(`      ${name}: ${info.backend} | ${info.adapter} | software=${info.software}`);
      expect(info.name).to.equal(name);
      // integers are stored in float32 too (docs/notes/dtypes.md)
      expect(info.dtypes).to.deep.equal(['float32', 'int32', 'int64']);
      expect(() => dev.checkDtype('float64')).to.throw(/float64 is not supported/);
    });

    it('compiles a kernel once and logs its first-call latency', async function () {
      const k = K.map('firstcall', [contiguous([257])], [257], ([a]) => `${a} * 3.0 + 1.0`);
      const x = dev.upload(randomData(257, 1), 'float32');
      const before = dev.stats.kernelsCompiled;
      let t = performance.now();
      const y1 = dev.run(k, [x], 'float32');
      await dev.read(y1);
      const cold = performance.now() - t;
      t = performance.now();
      const y2 = dev.run(k, [x], 'float32');
      await dev.read(y2);
      const warm = performance.now() - t;
      console.log(`      ${name}: first-call latency ${cold.toFixed(1)} ms, warm ${warm.toFixed(2)} ms`);
      expect(dev.stats.kernelsCompiled - before).to.equal(1);
      for (const b of [x, y1, y2]) dev.free(b);
    });

    for (const f of Object.keys(K.formulas) as K.Formula[]) {
      it(`map ${f}: contiguous, broadcast and strided operands`, async function () {
        const arity = arityOf[f];
        // contiguous, 1D, odd size
        await parity(dev, K.map(f, Array.from({ length: arity }, () => contiguous([997])), [997], K.formulas[f]), formulaInputs(f, 997, 11), `${f} contiguous`);
        // broadcast: in0 is (3,1,5), in1 (1,4,5), in2 (3,4,1) into (3,4,5)
        const shapes = [[3, 1, 5], [1, 4, 5], [3, 4, 1]];
        const ops: Operand[] = shapes.slice(0, arity).map((s) => contiguous(s));
        const ins = formulaInputs(f, 60, 21).map((d, k) => d.slice(0, (shapes[k] ?? []).reduce((a, b) => a * b, 1)));
        await parity(dev, K.map(f, ops, [3, 4, 5], K.formulas[f]), ins, `${f} broadcast`);
        // strided: a transposed, offset view of a (5,7) buffer, shape (6,4)
        const strided: Operand = { offset: 3, strides: [1, 7] };
        const ins2 = formulaInputs(f, 35, 31);
        const ops2 = ins2.map((_, k) => (k === 0 ? strided : { offset: 1, strides: [4, 1] }));
        await parity(dev, K.map(f, ops2, [6, 4], K.formulas[f]), ins2, `${f} strided`);
      });
    }

    for (const n of [1, 7, 997]) {
      it(`add of size ${n}`, async function () {
        await parity(dev, K.map('add', [contiguous([n]), contiguous([n])], [n], K.formulas.add), [randomData(n, n), randomData(n, n + 1)]);
      });
    }

    it('reduce sum and max over permuted dims, and over 5000 elements (past gpu.js loop caps)', async function () {
      // a (3,5 | 4,7) iteration over a contiguous (4,3,7,5) buffer: strides kept (35,1), reduced (105,5)
      const perm: Operand = { offset: 0, strides: [35, 1, 105, 5] };
      const x = randomData(420, 5);
      await parity(dev, K.reduce('sum', perm, [3, 5], [4, 7], 'sum'), [x], 'sum permuted');
      await parity(dev, K.reduce('max', perm, [3, 5], [4, 7], 'max'), [x], 'max permuted');
      const y = randomData(5000 * 2, 6);
      await parity(dev, K.reduce('sum', { offset: 0, strides: [5000, 1] }, [2], [5000], 'sum'), [y], 'sum 5000');
      await parity(dev, K.reduce('max', { offset: 0, strides: [1, 2] }, [2], [5000], 'max'), [y], 'max 5000 strided');
      // all elements below 0: max must not stop at an initial 0
      await parity(dev, K.reduce('max', contiguous([7]), [], [7], 'max'), [randomData(7, 8, -9, -1)], 'max of negatives');
    });

    it('matmul: plain, batched with broadcast, transposed operand, 1x1', async function () {
      await parity(dev, K.matmul(contiguous([33, 17]), contiguous([17, 9]), [], 33, 17, 9), [randomData(33 * 17, 1), randomData(17 * 9, 2)], 'matmul 33x17x9');
      // a (2,3,5), b (5,4) broadcast over the batch (stride 0)
      await parity(dev, K.matmul(contiguous([2, 3, 5]), { offset: 0, strides: [0, 4, 1] }, [2], 3, 5, 4), [randomData(30, 3), randomData(20, 4)], 'matmul batched');
      // b given transposed: logical (6,4) stored as (4,6)
      await parity(dev, K.matmul(contiguous([3, 6]), { offset: 0, strides: [1, 6] }, [], 3, 6, 4), [randomData(18, 5), randomData(24, 6)], 'matmul b^T');
      await parity(dev, K.matmul(contiguous([1, 1]), contiguous([1, 1]), [], 1, 1, 1), [randomData(1, 7), randomData(1, 8)], 'matmul 1x1');
      await parity(dev, K.matmul(contiguous([64, 300]), contiguous([300, 48]), [], 64, 300, 48), [randomData(64 * 300, 9), randomData(300 * 48, 10)], 'matmul 64x300x48');
    });

    it('pad: grow, crop, constant and -Infinity fill', async function () {
      const x = randomData(4 * 5, 12);
      await parity(dev, K.pad(contiguous([4, 5]), [4, 5], [7, 6], [2, 0], 0.5), [x], 'pad grow');
      await parity(dev, K.pad(contiguous([4, 5]), [4, 5], [2, 3], [-1, -2], 0), [x], 'pad crop');
      await parity(dev, K.pad(contiguous([4, 5]), [4, 5], [6, 7], [1, 1], -Infinity), [x], 'pad -inf');
    });

    it('fill: finite, infinite and NaN values', async function () {
      for (const v of [3.5, 0, -Infinity, Infinity, NaN]) await parity(dev, K.fill(997, v), [], `fill ${v}`);
    });

    it('a 5M-element output', async function () {
      const n = 5_000_000;
      const a = randomData(n, 99);
      // in1 broadcast along rows of a (5000, 1000) view
      const shape = [5000, 1000];
      const k = K.map('mul-add', [contiguous(shape), { offset: 0, strides: [0, 1] }], shape, ([x, y]) => `${x} * 2.0 + ${y}`);
      const bb = randomData(1000, 97);
      const xa = dev.upload(a, 'float32');
      const xb = dev.upload(bb, 'float32');
      const out = dev.run(k, [xa, xb], 'float32');
      const got = await dev.read(out);
      for (const buf of [xa, xb, out]) dev.free(buf);
      expect(got.length).to.equal(n);
      let bad = 0;
      for (let i = 0; i < n; i++) {
        const want = Math.fround(Math.fround((a[i] ?? 0) * 2) + (bb[i % 1000] ?? 0));
        if (Math.abs((got[i] ?? NaN) - want) > 1e-6 * (1 + Math.abs(want))) bad++;
      }
      expect(bad, `${bad} of ${n} wrong`).to.equal(0);
    });

    it('chains a kernel on its own output and keeps results on the device', async function () {
      const k = K.map('exp', [contiguous([7])], [7], K.formulas.exp);
      const x = dev.upload(randomData(7, 3, -1, 0), 'float32');
      const downloads = dev.stats.downloads;
      const y = dev.run(k, [x], 'float32');
      const z = dev.run(k, [y], 'float32');
      const w = dev.run(k, [z], 'float32');
      expect(dev.stats.downloads).to.equal(downloads);
      const { want } = await reference(K.map('exp3', [contiguous([7])], [7], ([a]) => `Math.exp(Math.exp(Math.exp(${a})))`), [(await dev.read(x)) as Float32Array]);
      expectClose(await dev.read(w), want, want, 'exp∘exp∘exp');
      for (const b of [x, y, z, w]) dev.free(b);
    });

    it('keeps call order across interleaved run, free and read', async function () {
      const inc = K.map('inc', [contiguous([5])], [5], ([a]) => `${a} + 1.0`);
      const x = dev.upload(new Float32Array([0, 1, 2, 3, 4]), 'float32');
      let cur: DeviceBuffer = x;
      const reads: Promise<HostArray>[] = [];
      for (let i = 0; i < 20; i++) {
        const next = dev.run(inc, [cur], 'float32');
        if (i % 5 === 0) reads.push(dev.read(next));
        dev.free(cur); // freed right after its last use, before the run has happened on async devices
        cur = next;
      }
      const last = dev.read(cur);
      dev.free(cur); // free queued behind the read
      const all = await Promise.all([...reads, last]);
      const firsts = all.map((r) => r[0]);
      expect(firsts).to.deep.equal([1, 6, 11, 16, 20]);
      expect(Array.from(all[all.length - 1] ?? [])).to.deep.equal([20, 21, 22, 23, 24]);
      // uploads are snapshots: changing the host array later does not leak in
      const host = new Float32Array([1, 2, 3, 4, 5]);
      const u = dev.upload(host, 'float32');
      host.fill(0);
      expect(Array.from(await dev.read(u))).to.deep.equal([1, 2, 3, 4, 5]);
      dev.free(u);
    });

    it('frees everything it allocates (no growth over many steps)', async function () {
      const k = K.map('step', [contiguous([64]), contiguous([64])], [64], K.formulas.mul);
      let w = dev.upload(randomData(64, 1, 0.9, 1.1), 'float32');
      const g = dev.upload(randomData(64, 2, 0.99, 1.01), 'float32');
      const live = dev.stats.liveBuffers;
      for (let i = 0; i < 200; i++) {
        const next = dev.run(k, [w, g], 'float32');
        dev.free(w);
        w = next;
      }
      expect(dev.stats.liveBuffers).to.equal(live);
      await dev.read(w);
      dev.free(w);
      dev.free(g);
      dev.free(g); // twice is harmless
    });

    it('reports kernel errors on the next read and keeps working', async function () {
      const bad = makeKernel('broken', 1, 3, ['const q = in0[gid];'], 'q + notDefinedAnywhere');
      const good = K.map('neg', [contiguous([3])], [3], K.formulas.neg);
      const x = dev.upload(new Float32Array([1, 2, 3]), 'float32');
      if (dev.syncRead) {
        expect(() => dev.run(bad, [x], 'float32')).to.throw();
        const y = dev.run(good, [x], 'float32');
        expect(Array.from(dev.readSync(y))).to.deep.equal([-1, -2, -3]);
        dev.free(y);
      } else {
        expect(() => dev.readSync(x)).to.throw(/dataSync\(\) is not available.*await t.data\(\)/);
        const b = dev.run(bad, [x], 'float32'); // returns at once; fails in the queue
        const y = dev.run(good, [x], 'float32');
        let err: unknown;
        await dev.read(y).catch((e: unknown) => (err = e));
        expect(err, 'the failure surfaces on the next read').to.be.instanceOf(Error);
        const msg = (err as Error).message;
        // reading the failed buffer gives the original error too
        await dev.read(b).then(
          () => expect.fail('read of a failed buffer resolved'),
          (e: unknown) => expect((e as Error).message).to.equal(msg),
        );
        // once reported, the queue works again
        expect(Array.from(await dev.read(y))).to.deep.equal([-1, -2, -3]);
        const z = dev.run(good, [y], 'float32');
        expect(Array.from(await dev.read(z))).to.deep.equal([1, 2, 3]);
        for (const buf of [b, y, z]) dev.free(buf);
      }
      dev.free(x);
    });
  });
}

describe('gpu.js devices: parity with the float64 cpu reference', function () {
  for (const name of names) deviceSuite(name);

  // devices that could not start here because another one owns OpenGL in this process
  for (const name of names) {
    const reason = reasons.get(name) ?? null;
    if (reason === null || !/cannot share a process|not tried, headless-gl/.test(reason) || wanted.includes(name)) continue;
    it(`${name} passes in a process of its own`, async function () {
      this.timeout(600_000);
      const mocha = fileURLToPath(new URL('../../../node_modules/mocha/bin/mocha.js', import.meta.url));
      const child = spawn(process.execPath, [mocha, fileURLToPath(import.meta.url)], {
        env: { ...process.env, GPUGRAD_TEST_DEVICES: name },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr.on('data', (d: Buffer) => (out += d.toString()));
      const status = await new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
      console.log(out.split('\n').filter((l) => /passing|failing|pending|latency|software=|^\s+\d+\)/.test(l)).join('\n'));
      expect(status, out.slice(-4000)).to.equal(0);
      expect(out).to.not.match(/\b0 passing/);
    });
  }
});
