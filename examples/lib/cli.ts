/**
 * Small shared helpers for the examples: run-when-executed-directly, device
 * choice, timing and a plain-text table.
 *
 * @module
 */
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as gg from '../../src/index.js';

/**
 * True when the module at `importMetaUrl` is the script node was started with
 * (so `import { main } from './x.js'` in a test does not run the example).
 *
 * @example if (isMain(import.meta.url)) await main(parseCli());
 */
export function isMain(importMetaUrl: string): boolean {
  const script = process.argv[1];
  if (!script) return false;
  try {
    return realpathSync(fileURLToPath(importMetaUrl)) === realpathSync(script);
  } catch {
    return false;
  }
}

/**
 * The device to run on: `requested` if given (opened, `'gpu'` resolved to its
 * concrete mode), else the first entry of `gg.availableDevices()` with
 * `'gpu'` resolved to the mode it stands for (the registry lists devices
 * best first).
 */
export async function pickDevice(requested?: string): Promise<string> {
  if (requested) return gg.initDevice(requested);
  const names = await gg.availableDevices();
  // a hardware adapter wins; with only software renderers (llvmpipe, SwiftShader,
  // gpu.js's CPU modes) the reference cpu device measured fastest (docs/notes/bench.md)
  if (names.includes('gpu') && !gg.deviceInfo('gpu').software) return gg.initDevice('gpu');
  return gg.initDevice('cpu');
}

/** One line describing a device, e.g. `gpu:webasm: gpu.js webasm (...) on host CPU, 2 threads (software)`. */
export function describeDevice(name: string): string {
  const info = gg.deviceInfo(name);
  return `${info.name}: ${info.backend} on ${info.adapter}${info.software ? ' (software)' : ''}`;
}

/** Milliseconds since `start` (from `performance.now()`). */
export function since(start: number): number {
  return performance.now() - start;
}

/** Seconds with one decimal, e.g. `12.3 s`. */
export function fmtSeconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

/**
 * A plain-text table with right-aligned numeric-looking cells.
 *
 * @example console.log(table(['run', 'acc'], [['BN', '97.1%']]));
 */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const fmt = (cells: string[]) =>
    cells
      .map((c, i) => (/^[-+\d.]/.test(c) && i > 0 ? c.padStart(widths[i] ?? 0) : c.padEnd(widths[i] ?? 0)))
      .join('  ');
  return [fmt(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(fmt)].join('\n');
}

/** A seeded PRNG (mulberry32) in [0, 1), for data shuffles that must repeat. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A seeded permutation of 0..n-1 (Fisher–Yates). */
export function permutation(n: number, rand: () => number): Int32Array {
  const p = Int32Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    const t = p[i] as number;
    p[i] = p[j] as number;
    p[j] = t;
  }
  return p;
}

/** Standard normal samples from a uniform PRNG (Box–Muller). */
export function gaussian(rand: () => number): number {
  const u = Math.max(rand(), 1e-12);
  const v = rand();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}

/** Maximum absolute difference of two equally long arrays. */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`maxAbsDiff: lengths differ (${a.length} vs ${b.length})`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs((a[i] as number) - (b[i] as number)));
  return m;
}

/** `|a - b| <= atol + rtol·|b|` elementwise (torch.allclose). */
export function allclose(a: ArrayLike<number>, b: ArrayLike<number>, rtol = 1e-5, atol = 1e-8): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    const x = a[i] as number;
    const y = b[i] as number;
    if (!(Math.abs(x - y) <= atol + rtol * Math.abs(y))) return false;
  }
  return true;
}
