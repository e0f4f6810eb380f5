/**
 * Shared pieces of the benchmark harness (shared/BENCH.md): the workload
 * list, adaptive timing (median after warm-up, repeats scaled to the time per
 * iteration), and the result shapes written to bench/results/.
 */

export const WORKLOADS = ['W1', 'W2', 'W3', 'W4', 'W5', 'W6', 'W7'] as const;
export type WorkloadId = (typeof WORKLOADS)[number];

export const DESCRIPTIONS: Record<WorkloadId, string> = {
  W1: 'matmul 512x512 . 512x512 forward',
  W2: 'MLP 784-256-256-10 train step, batch 128',
  W3: 'BatchNorm2d fwd+bwd, x 32x64x32x32',
  W4: 'SwitchableNorm2d fwd+bwd, x 32x64x32x32',
  W5: 'spectral norm Conv2d(256,256,3) weight: power it., sigma, W/sigma, bwd',
  W6: 'MNIST CNN train step (conv-BN-ReLU-pool x2, linear), batch 64',
  W7: 'first-call latency of W3 (fresh process)',
};

/** FLOPs of W1, for GFLOP/s. */
export const W1_FLOPS = 2 * 512 * 512 * 512;

/** One measured cell of the table. */
export interface Cell {
  /** Median milliseconds per iteration (after warm-up), or null when skipped/failed. */
  ms: number | null;
  /** Timed iterations behind the median. */
  runs?: number;
  /** The first (cold) iteration: compile + first run. */
  firstMs?: number;
  /** All timed samples (ms). */
  samples?: number[];
  /** Why it was skipped, or a caveat (fallback implementation, ...). */
  note?: string;
  /** Device work of one steady-state iteration (gpugrad only; `gg.memory()` counters before and after). */
  counts?: StepCounts;
}

/** What one iteration asks of the device: kernel dispatches, shader compiles, host→device and device→host copies. */
export interface StepCounts {
  kernels: number;
  compiles: number;
  uploads: number;
  downloads: number;
}

/** A prepared workload: one iteration per `run()`, resolved when all its work is done. */
export interface Prepared {
  run(): Promise<void>;
  dispose?(): void;
  /** Caveat to attach to the cell (e.g. "composed ops: nn.BatchNorm2d not present"). */
  note?: string;
}

export interface TimingOptions {
  /** Stop repeating after about this many ms of timed runs. */
  budgetMs: number;
  minRuns: number;
  maxRuns: number;
  /** Extra warm-up iterations after the first one (when cheap). */
  warmups: number;
}

export const FULL_TIMING: TimingOptions = { budgetMs: 2500, minRuns: 3, maxRuns: 30, warmups: 1 };
export const QUICK_TIMING: TimingOptions = { budgetMs: 200, minRuns: 1, maxRuns: 3, warmups: 0 };

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

const now = (): number => performance.now();

/**
 * Time `p.run()`: one cold run (reported as firstMs), warm-ups while cheap,
 * then timed runs until the budget or maxRuns is reached (at least minRuns,
 * but a single timed run when one iteration alone exceeds the budget).
 */
export async function measure(p: Prepared, o: TimingOptions): Promise<Cell> {
  let t0 = now();
  await p.run();
  const firstMs = now() - t0;
  if (firstMs > o.budgetMs * 10) {
    // far too slow to repeat within the run's time budget: report the cold run alone
    const note = ['one cold run only (too slow to repeat)', p.note].filter(Boolean).join('; ');
    return { ms: firstMs, runs: 1, firstMs, samples: [+firstMs.toFixed(3)], note };
  }
  let warm = firstMs;
  for (let i = 0; i < o.warmups && warm < o.budgetMs / 2; i++) {
    t0 = now();
    await p.run();
    warm = now() - t0;
  }
  const samples: number[] = [];
  const start = now();
  const minRuns = warm > o.budgetMs ? 1 : o.minRuns;
  while (samples.length < o.maxRuns) {
    t0 = now();
    await p.run();
    samples.push(now() - t0);
    if (samples.length >= minRuns && now() - start > o.budgetMs) break;
  }
  return { ms: median(samples), runs: samples.length, firstMs, samples: samples.map((x) => +x.toFixed(3)), note: p.note };
}

/** Run `fn` and turn a throw into a skipped cell with the message as note. */
export async function guarded(label: string, fn: () => Promise<Cell>): Promise<Cell> {
  try {
    return await fn();
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    const short = msg.split('\n')[0]!.slice(0, 200);
    console.error(`  [skip] ${label}: ${short}`);
    return { ms: null, note: `error: ${short}` };
  }
}

/** Deterministic pseudo-random floats (mulberry32), so every peer sees the same data. */
export function randomArray(n: number, seed: number, scale = 1): Float32Array {
  let a = seed >>> 0;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    const u = ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    out[i] = (u * 2 - 1) * scale;
  }
  return out;
}

/** Uniform(-1/sqrt(fanIn), 1/sqrt(fanIn)), PyTorch's default Linear/Conv init scale. */
export function initArray(n: number, fanIn: number, seed: number): Float32Array {
  return randomArray(n, seed, 1 / Math.sqrt(fanIn));
}

export function oneHot(labels: Int32Array, classes: number): Float32Array {
  const out = new Float32Array(labels.length * classes);
  labels.forEach((l, i) => (out[i * classes + l] = 1));
  return out;
}

/** Sizes shared by every implementation. */
export const SIZES = {
  W1: 512,
  W2: { batch: 128, dims: [784, 256, 256, 10] },
  W34: [32, 64, 32, 32] as const,
  W5: { out: 256, in: 256, k: 3 },
  W6: { batch: 64, c1: 16, c2: 32, classes: 10 },
  lr: 0.01,
  eps: 1e-5,
};

/**
 * Open a gpugrad device for measuring. NOTE: `gg.initDevice(name)` only
 * probes for 'gpu'; gpu:webgpu needs its adapter found asynchronously first,
 * which `availableDevices()` does. headlessgl is opened alone (it cannot share
 * a process with Dawn's OpenGL ES backend here).
 */
export async function openDevice(gg: { initDevice(n: string): Promise<string>; availableDevices(): Promise<string[]> }, name: string): Promise<void> {
  if (name === 'gpu:webgpu') await gg.availableDevices();
  await gg.initDevice(name);
}
