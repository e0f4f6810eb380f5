/**
 * `gg.profile(fn)`: the kernel trace of a piece of code, on every device.
 * The records come from backend/profile.ts (see its note on what is timed).
 */
import { beginProfile, endProfile, type KernelRecord, type ProfileOptions } from './backend/profile.js';

export type { KernelRecord, ProfileOptions };

/** Kernels of one name on one device, added up. */
export interface KernelSummary {
  kernel: string;
  device: string;
  calls: number;
  elements: number;
  ms: number;
}

/** What `gg.profile` returns. */
export interface Profile<T> {
  /** What `fn` returned (awaited). */
  result: T;
  /** Every kernel run, in launch order. */
  kernels: KernelRecord[];
  /** Sum of the kernels' times, in milliseconds. */
  totalMs: number;
  /** Per kernel name and device, largest total time first. */
  summary(): KernelSummary[];
  /** A table: one line per kernel run (or per name with `{ summary: true }`). */
  format(opts?: { summary?: boolean }): string;
}

function summarise(kernels: readonly KernelRecord[]): KernelSummary[] {
  const rows = new Map<string, KernelSummary>();
  for (const k of kernels) {
    const key = `${k.device}\u0000${k.kernel}`;
    const r = rows.get(key) ?? { kernel: k.kernel, device: k.device, calls: 0, elements: 0, ms: 0 };
    r.calls++;
    r.elements += k.elements;
    r.ms += k.ms;
    rows.set(key, r);
  }
  return [...rows.values()].sort((a, b) => b.ms - a.ms);
}

function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => (r[c] ?? '').length)));
  const line = (r: string[]) => r.map((v, c) => (c === 0 || c === 1 ? v.padEnd(widths[c] ?? 0) : v.padStart(widths[c] ?? 0))).join('  ').trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}

/**
 * Run `fn` and record every kernel any device runs meanwhile: its name,
 * device, element count, time and, with `{ source: true }`, its source
 * text. Awaits `fn` when it returns a promise, and then every queued
 * kernel, so times on `gpu:webgpu`/`gpu:webasm` are complete. Profiles may
 * nest. This is how one sees that one op is one kernel, and where the time goes.
 *
 * Cost: one clock read per kernel while a profile is open; none otherwise.
 * @throws whatever `fn` throws (the profile is closed first)
 * @example
 * const p = await gg.profile(() => x.mul(x).sum());
 * p.kernels.map((k) => k.kernel); // ['mul', 'sum']
 * console.log(p.format());
 */
export async function profile<T>(fn: () => T | Promise<T>, opts: ProfileOptions = {}): Promise<Profile<Awaited<T>>> {
  const p = beginProfile(opts);
  let result: Awaited<T>;
  try {
    result = await fn();
  } finally {
    await endProfile(p);
  }
  const kernels = p.records;
  return {
    result,
    kernels,
    totalMs: kernels.reduce((a, k) => a + k.ms, 0),
    summary: () => summarise(kernels),
    format: ({ summary = false } = {}) =>
      summary
        ? table(
            ['kernel', 'device', 'calls', 'elements', 'ms'],
            summarise(kernels).map((r) => [r.kernel, r.device, String(r.calls), String(r.elements), r.ms.toFixed(3)]),
          )
        : table(
            ['kernel', 'device', 'elements', 'ms'],
            kernels.map((k) => [k.kernel, k.device, String(k.elements), k.ms.toFixed(3)]),
          ),
  };
}
