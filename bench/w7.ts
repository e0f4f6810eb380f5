/**
 * W7: first-call latency of W3 (BatchNorm2d forward + backward on
 * 32×64×32×32) in a fresh process: `node dist/bench/w7.js --device cpu`
 * (a gpugrad device) or `--peer tfjs-wasm|tfjs-cpu`. Prints one JSON line:
 * initMs (device open / backend init), firstMs (first W3 iteration: kernel
 * compile + first run, inputs already on the device), secondMs (the next one),
 * importMs (loading gpugrad, part of initMs) and, for gpugrad, counts: the
 * first call's kernels, compiles, uploads and downloads.
 */
import { performance } from 'node:perf_hooks';
import type { StepCounts } from './common.js';

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const arg = (k: string) => {
    const i = args.indexOf(k);
    return i >= 0 ? args[i + 1] : undefined;
  };
  const device = arg('--device');
  const peer = arg('--peer');
  let t0 = performance.now();
  let prepared: { run(): Promise<void> };
  let label: string;
  let initMs: number;
  let importMs: number | undefined;
  /** gpugrad's counters (kernels, compiles, copies) when measuring a gpugrad device. */
  let counters: (() => StepCounts) | undefined;
  if (device) {
    const gg = await import('../src/index.js');
    const { prepareGg } = await import('./gg.js');
    const { openDevice } = await import('./common.js');
    importMs = performance.now() - t0;
    t0 = performance.now();
    await openDevice(gg, device);
    initMs = performance.now() - t0 + importMs;
    counters = () => {
      const m = gg.memory();
      return { kernels: m.kernelRuns, compiles: m.kernelsCompiled, uploads: m.uploads, downloads: m.downloads };
    };
    prepared = prepareGg('W3', device);
    label = device;
  } else if (peer === 'tfjs-wasm' || peer === 'tfjs-cpu') {
    const tfb = await import('./tfjs.js');
    await tfb.useTf(peer === 'tfjs-wasm' ? 'wasm' : 'cpu');
    initMs = performance.now() - t0;
    prepared = tfb.prepareTf('W3');
    label = peer;
  } else {
    throw new Error('usage: node dist/bench/w7.js --device <gpugrad device> | --peer tfjs-wasm|tfjs-cpu');
  }
  const before = counters?.();
  t0 = performance.now();
  await prepared.run();
  const firstMs = performance.now() - t0;
  const after = counters?.();
  const counts = before && after ? { kernels: after.kernels - before.kernels, compiles: after.compiles - before.compiles, uploads: after.uploads - before.uploads, downloads: after.downloads - before.downloads } : undefined;
  t0 = performance.now();
  await prepared.run();
  const secondMs = performance.now() - t0;
  console.log(JSON.stringify({ label, initMs, importMs, firstMs, secondMs, counts }));
  process.exit(0);
}

main().catch((e: unknown) => {
  console.log(JSON.stringify({ error: e instanceof Error ? e.message.split('\n')[0] : String(e) }));
  process.exit(1);
});
