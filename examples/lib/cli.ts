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

/** A `console.log` that prints only when `verbose`. */
export function logger(verbose: boolean): (s: string) => void {
  return (s) => {
    if (verbose) console.log(s);
  };
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
