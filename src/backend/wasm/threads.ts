/**
 * Worker threads that run a WebAssembly module's exports over one shared
 * memory, for the engines that split a large job by ranges (the gemm by
 * panels of A, gemm.ts; the normalize passes by groups, norm.ts;
 * docs/notes/architecture.md, "The float32 matmul fast path" and "The
 * normalization fast path").
 *
 * Only where the platform can start threads that the main thread may block
 * on (Node; `Platform.startThread`): a web page's main thread may not block
 * on `Atomics.wait`, so there every engine runs on one thread.
 */
import { platform } from '../platform/platform.js';

/** The part of `WebAssembly.Memory` a pool needs (a shared one). */
export interface SharedMemory {
  readonly buffer: ArrayBufferLike;
}

/**
 * Slots of the control array per worker: ready, job number, done number,
 * export index, chunk (0: one call), total, argument count, then the
 * arguments. After the workers' slots, one more holds the shared counter
 * of claimed ranges (`claim`).
 */
const SLOT = 32;
/** Where a job's arguments start in its slot. */
const ARGS_AT = 7;
/** The most arguments a job passes (the rest of a slot). */
export const MAX_ARGS = SLOT - ARGS_AT;

/**
 * A worker: instantiates the shared module, says it is ready, then for each
 * job number the main thread posts runs an export (its index in `names`):
 * once with the arguments, or, for a job with a chunk size, on ranges
 * [i, i + chunk) of [0, total) claimed from the shared counter (the
 * arguments then the range) until none is left. It posts the number back
 * when done. Atomics order the hand-off both ways (arguments and inputs
 * before the job number; results before the done number).
 */
const WORKER_SOURCE = `
const { bytes, memory, ctl, slot, names, counter } = data;
const c = new Int32Array(ctl);
const b = slot * ${SLOT};
const exp = new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { memory } }).exports;
const fns = names.map((n) => exp[n]);
Atomics.store(c, b, 1);
let seen = 0;
for (;;) {
  Atomics.wait(c, b + 1, seen);
  seen = Atomics.load(c, b + 1);
  const fn = fns[c[b + 3]];
  const chunk = c[b + 4];
  const total = c[b + 5];
  const args = Array.from(c.subarray(b + ${ARGS_AT}, b + ${ARGS_AT} + c[b + 6]));
  if (chunk === 0) fn(...args);
  else for (;;) {
    const i = Atomics.add(c, counter, chunk);
    if (i >= total) break;
    fn(...args, i, Math.min(i + chunk, total));
  }
  Atomics.store(c, b + 2, seen);
  Atomics.notify(c, b + 2);
}
`;

/** Worker threads sharing one module's memory (see the module comment). */
export class ThreadPool {
  private readonly ctl: Int32Array;
  private readonly handles: ({ terminate(): void } | null)[] = [];
  /** False once a worker stopped or missed a deadline: from then on one thread runs everything. */
  healthy = true;

  /**
   * Starts `workers` threads, each instantiating `bytes` (the module with its
   * memory import shared) over `memory`; jobs name exports by their index in `names`.
   */
  /** Index of the shared counter of claimed ranges in the control array. */
  private readonly counter: number;

  constructor(bytes: Uint8Array, memory: SharedMemory, workers: number, private readonly names: readonly string[], start: NonNullable<ReturnType<typeof platform>['startThread']>) {
    const sab = new SharedArrayBuffer((workers + 1) * SLOT * 4);
    this.ctl = new Int32Array(sab);
    this.counter = workers * SLOT;
    for (let slot = 0; slot < workers; slot++) {
      this.handles.push(start(WORKER_SOURCE, { bytes, memory, ctl: sab, slot, names: [...names], counter: this.counter }, () => (this.healthy = false)));
    }
  }

  /** Workers that have started and can take a job now. */
  ready(): number[] {
    if (!this.healthy) return [];
    return this.handles.map((_, slot) => slot).filter((slot) => Atomics.load(this.ctl, slot * SLOT) === 1);
  }

  /** Post a call of export `name` with `args` (at most `MAX_ARGS` int32s) to a worker; returns the job number to wait for. */
  post(slot: number, name: string, args: readonly number[]): number {
    return this.postJob(slot, name, args, 0, 0);
  }

  /**
   * Start sharing ranges of [0, total): the counter is reset, then each
   * worker in `slots` calls export `name` with `args` and a claimed range
   * [i, i + chunk) until none is left. The caller claims ranges too
   * (`claim`) and then waits for every worker: whichever thread is free
   * takes the next range, so a worker that gets no core (a loaded machine)
   * leaves its share to the others. Returns each worker's job number.
   */
  share(slots: readonly number[], name: string, args: readonly number[], total: number, chunk: number): number[] {
    Atomics.store(this.ctl, this.counter, 0);
    return slots.map((slot) => this.postJob(slot, name, args, Math.max(1, chunk), total));
  }

  /** The next unclaimed range's start, from the counter `share` reset (at or past `total` when none is left). */
  claim(chunk: number): number {
    return Atomics.add(this.ctl, this.counter, Math.max(1, chunk));
  }

  private postJob(slot: number, name: string, args: readonly number[], chunk: number, total: number): number {
    const b = slot * SLOT;
    const fn = this.names.indexOf(name);
    if (fn < 0 || args.length > MAX_ARGS) throw new Error(`internal: no export '${name}' in the pool, or more than ${MAX_ARGS} arguments`);
    this.ctl[b + 3] = fn;
    this.ctl[b + 4] = chunk;
    this.ctl[b + 5] = total;
    this.ctl[b + 6] = args.length;
    args.forEach((v, i) => (this.ctl[b + ARGS_AT + i] = v));
    const seq = Atomics.add(this.ctl, b + 1, 1) + 1;
    Atomics.notify(this.ctl, b + 1);
    return seq;
  }

  /**
   * Block until the worker reports job `seq`; false once `ms` have passed (a
   * worker that died cannot say so while this thread blocks): the pool is
   * then retired. NOTE: `terminate()` is asynchronous, so a retired worker
   * may still write the shared memory: the caller never uses it again.
   */
  wait(slot: number, seq: number, ms: number): boolean {
    const b = slot * SLOT;
    const deadline = Date.now() + ms;
    for (;;) {
      // the deadline first: a negative `ms` (tests) always misses it
      if (Date.now() > deadline) {
        this.retire();
        return false;
      }
      const done = Atomics.load(this.ctl, b + 2);
      if (done === seq) return true;
      Atomics.wait(this.ctl, b + 2, done, 100);
    }
  }

  /** Stop every worker (asynchronously) and take no more jobs. */
  retire(): void {
    this.healthy = false;
    for (const h of this.handles) h?.terminate();
  }
}

/**
 * How many threads (the main one included) an engine may use: the
 * `GPUGRAD_WASM_THREADS` setting, else the hardware threads up to 4; 1 where
 * the platform cannot start threads the main thread may block on, or
 * `SharedArrayBuffer` is missing.
 */
export function wantedThreads(): number {
  const p = platform();
  if (!p.startThread || typeof SharedArrayBuffer !== 'function') return 1;
  const want = Number(p.env('GPUGRAD_WASM_THREADS') ?? Math.min(p.hardwareThreads(), 4));
  return want > 1 ? Math.floor(want) : 1;
}

/**
 * A pool of `threads - 1` workers over `memory`, or null where the platform
 * starts no threads (`wantedThreads`) or starting them fails (one thread then).
 */
export function startPool(bytes: Uint8Array, memory: SharedMemory, threads: number, names: readonly string[]): ThreadPool | null {
  const start = platform().startThread;
  if (!start || threads < 2) return null;
  try {
    return new ThreadPool(bytes, memory, threads - 1, names, start.bind(platform()));
  } catch {
    return null;
  }
}

/**
 * The module with its imported memory shared (threads proposal): the same
 * bytes but the memory import's limits flag at `flagAt`, 0x01 (has a
 * maximum) -> 0x03 (has a maximum, shared); scripts/build-wasm.mjs checks
 * that nothing else differs and emits that offset.
 */
export function sharedForm(plain: Uint8Array, flagAt: number): Uint8Array {
  const bytes = plain.slice();
  bytes[flagAt] = 0x03;
  return bytes;
}

/** A module's bytes from the base64 text the build writes (X-wasm.ts). */
export function decodeBase64(text: string): Uint8Array {
  const bin = atob(text);
  const bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  return bytes;
}
