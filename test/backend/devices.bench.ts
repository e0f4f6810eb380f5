/**
 * Rough per-device timings behind docs/notes/devices.md and registry pickBest.
 * Run one device per process (Dawn's GL ES and headless-gl cannot share one):
 *   for d in cpu gpu:cpu gpu:webasm gpu:headlessgl gpu:webgpu; do
 *     node scripts/with-display.mjs dist/test/backend/devices.bench.js $d; done
 */
import { CpuDevice } from '../../src/backend/cpu.js';
import type { Device, DeviceBuffer } from '../../src/backend/device.js';
import { openGpuDevice, probeGpuDevice } from '../../src/backend/registry.js';
import { gpuDeviceNames, type GpuDeviceName } from '../../src/backend/gpujs/modes.js';
import type { Operand } from '../../src/backend/kernel.js';
import * as K from '../../src/backend/kernels.js';
import { setPlatform } from '../../src/backend/platform/platform.js';
import { nodePlatform } from '../../src/backend/platform/node.js';

setPlatform(nodePlatform);

const name = process.argv[2] ?? 'gpu:webasm';
let dev: Device;
if (name === 'cpu') dev = new CpuDevice();
else {
  if (!(gpuDeviceNames as readonly string[]).includes(name)) throw new Error(`unknown device ${name}`);
  const reason = await probeGpuDevice(name as GpuDeviceName);
  if (reason) {
    console.log(`${name}: unavailable: ${reason}`);
    process.exit(0);
  }
  dev = openGpuDevice(name as GpuDeviceName);
}

const c = (shape: number[]): Operand => ({ offset: 0, strides: shape.map((_, d) => shape.slice(d + 1).reduce((a, b) => a * b, 1)) });
const rand = (n: number): Float32Array => Float32Array.from({ length: n }, () => Math.random() * 2 - 1);

/** Median of `reps` timings of `fn` (which must end with its result read back). */
async function time(reps: number, fn: () => Promise<void>): Promise<number> {
  await fn(); // compile + warm
  const ts: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t = performance.now();
    await fn();
    ts.push(performance.now() - t);
  }
  ts.sort((a, b) => a - b);
  return ts[Math.floor(ts.length / 2)] ?? NaN;
}

const n = 2_000_000;
const x = dev.upload(rand(n), 'float32');
const y = dev.upload(rand(n), 'float32');
const add = K.map('add', [c([n]), c([n])], [n], K.formulas.add);
// run only, with a 1-element read to wait for it (async devices)
const addRun = await time(5, async () => {
  const z = dev.run(add, [x, y], 'float32');
  const s = dev.run(K.pad(c([n]), [n], [1], [0], 0), [z], 'float32');
  await dev.read(s);
  dev.free(z);
  dev.free(s);
});
const addRead = await time(5, async () => {
  const z = dev.run(add, [x, y], 'float32');
  await dev.read(z);
  dev.free(z);
});

const m = 512;
const a = dev.upload(rand(m * m), 'float32');
const b = dev.upload(rand(m * m), 'float32');
const mm = K.matmul(c([m, m]), c([m, m]), [], m, m, m);
let out: DeviceBuffer | undefined;
const mmTime = await time(3, async () => {
  out = dev.run(mm, [a, b], 'float32');
  await dev.read(out);
  dev.free(out);
});
const gflops = (2 * m * m * m) / (mmTime * 1e6);
const info = dev.info();
console.log(
  `${name.padEnd(15)} add 2M: ${addRun.toFixed(1)} ms (run), ${addRead.toFixed(1)} ms (run + read 2M) | matmul 512: ${mmTime.toFixed(0)} ms = ${gflops.toFixed(2)} GFLOP/s | ${info.backend} | ${info.adapter}`,
);
for (const buf of [x, y, a, b]) dev.free(buf);
dev.release();
process.exit(0);
