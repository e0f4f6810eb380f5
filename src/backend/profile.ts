/**
 * The kernel trace behind `gg.profile(fn)`: every kernel a device runs while
 * a profile is open, with its device, element count, time and (optionally)
 * its source text. Devices report through `Device.run`, so every device is
 * covered the same way. See docs/notes/seeing-autograd.md.
 *
 * Time is host wall time. On devices that run a kernel inside the call
 * (`cpu`, `gpu:cpu`) it is the call's duration. On devices that queue work
 * (`gpu:webasm`, `gpu:webgpu`) it runs from when the device's serial queue
 * reached the kernel (its previous work settled) until its result settled.
 * On `gpu:headlessgl` the call returns once WebGL has the draw, so the time
 * is the submission, and the GPU's own work shows up in the next read.
 */
import type { Kernel } from './kernel.js';
import type { DType } from './types.js';

/** One kernel run seen by a profile. */
export interface KernelRecord {
  /** The kernel's name (`mul`, `sum`, `matmul`, `im2col`, ...). */
  readonly kernel: string;
  /** The device that ran it (`cpu`, `gpu:webgpu`, ...). */
  readonly device: string;
  /** Output elements (one thread each). */
  readonly elements: number;
  readonly dtype: DType;
  /** Milliseconds (see the module note for what is timed on each kind of device). */
  ms: number;
  /** Whether the device queued the run (its time was taken when it settled). */
  readonly queued: boolean;
  /** The kernel's text, when the profile asked for sources. */
  readonly source?: string;
}

/** Options of `gg.profile`. */
export interface ProfileOptions {
  /** Keep each kernel's source text on its record (default false). */
  source?: boolean;
}

interface OpenProfile {
  readonly records: KernelRecord[];
  readonly pending: Promise<void>[];
  readonly source: boolean;
}

const open: OpenProfile[] = [];
const noop = (): void => undefined;
/** When each queued device's last profiled run settled (its queue is serial). */
const lastSettled = new Map<string, number>();

/** @internal Start a profile; returns it for `endProfile`. */
export function beginProfile(opts: ProfileOptions = {}): OpenProfile {
  const p: OpenProfile = { records: [], pending: [], source: opts.source ?? false };
  open.push(p);
  return p;
}

/** @internal Close a profile; resolves once all its queued kernels settled. */
export async function endProfile(p: OpenProfile): Promise<KernelRecord[]> {
  const i = open.indexOf(p);
  if (i >= 0) open.splice(i, 1);
  await Promise.all(p.pending);
  return p.records;
}

/** Whether a profile is open (devices skip the clock otherwise). */
export function profiling(): boolean {
  return open.length > 0;
}

/**
 * The kernel as text: one thread per output element `gid`, `in0..` its
 * inputs (the same text every device compiles; see kernel.ts).
 */
export function kernelSource(k: Kernel): string {
  const args = Array.from({ length: k.inputs }, (_, i) => `in${i}`).join(', ');
  return [`// ${k.name}: ${k.size} threads`, `(${args}) => {`, ...k.body.map((s) => `  ${s.replace(/;\s*$/, '')};`), `  return ${k.result};`, '}'].join('\n');
}

/**
 * @internal Called by `Device.run` around a kernel: `t0` when it started,
 * `settled` a promise of its result on queued devices (null when done).
 */
export function recordKernel(device: string, k: Kernel, dtype: DType, t0: number, settled: Promise<unknown> | null): void {
  const queued = settled !== null;
  const source = open.some((p) => p.source) ? kernelSource(k) : undefined;
  const rec: KernelRecord = { kernel: k.name, device, elements: k.size, dtype, ms: queued ? NaN : performance.now() - t0, queued, ...(source ? { source } : {}) };
  // nested profiles share the record (with the source when any of them asked for it)
  for (const p of open) p.records.push(rec);
  if (!settled) return;
  const done = settled.then(noop, noop).then(() => {
    const end = performance.now();
    // the queue is serial: this run started when it was enqueued or when the previous one settled
    const start = Math.max(t0, lastSettled.get(device) ?? t0);
    lastSettled.set(device, end);
    rec.ms = end - start;
  });
  for (const p of open) p.pending.push(done);
}
