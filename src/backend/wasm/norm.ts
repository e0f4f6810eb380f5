/**
 * The normalize primitive's float32 passes in WebAssembly SIMD (norm.wat),
 * for the `cpu` device (docs/notes/architecture.md, "The normalization fast
 * path"); group-passes.ts has the same passes as JavaScript loops, used
 * where this engine is unavailable.
 *
 * The inputs are copied into the module's memory (a copy runs at memory
 * speed, several times faster than a JavaScript pass). A copy is kept, keyed
 * by the device buffer it came from: a cpu buffer is never written once a
 * kernel made it (tensor/storage.ts) and its array is reused only after it
 * is freed, so a live key means the copy is current. A training step thus
 * copies x once for the moments, the output, and the backward's two passes.
 *
 * Threads: where the platform starts threads the main thread may block on
 * (Node; threads.ts), the memory is shared and a large pass is split by
 * ranges of groups between the main thread and workers running the same
 * module (each group's values, sums and outputs are its own, so every value
 * is the one-thread value, bit for bit). The workers start after a few
 * large passes (`START_AFTER`); until they are ready, and where threads are
 * unavailable (a web page, `GPUGRAD_WASM_THREADS=1`), one thread runs every pass.
 */
import { gradInputLanes, outputLanes, type GroupInput, type GroupLayout, type GroupPasses } from '../group-passes.js';
import { normSharedFlagAt, normWasm } from './norm-wasm.js';
import { wasmApi, type WasmApi, type WasmMemory } from './memory.js';
import { Arena } from './arena.js';
import { decodeBase64, sharedForm, startPool, wantedThreads, type ThreadPool } from './threads.js';

/** norm.wat's exports; each runs groups [g0, g1) (its last two arguments). */
interface NormExports {
  moments(x: number, outer: number, groups: number, inner: number, out: number, g0: number, g1: number): void;
  gradSums(x: number, g: number, outer: number, groups: number, inner: number, par: number, out: number, g0: number, g1: number): void;
  output(x: number, y: number, outer: number, groups: number, inner: number, par: number, g0: number, g1: number): void;
  gradInput(x: number, g: number, dx: number, outer: number, groups: number, inner: number, par: number, g0: number, g1: number): void;
  output32(x: number, y: number, outer: number, groups: number, inner: number, par: number, g0: number, g1: number): void;
  gradInput32(x: number, g: number, dx: number, outer: number, groups: number, inner: number, par: number, g0: number, g1: number): void;
  gradFused32(x: number, g: number, dx: number, outer: number, groups: number, inner: number, par: number, out: number, safe: number, g0: number, g1: number): void;
  momentsOutput32(x: number, y: number, outer: number, groups: number, inner: number, par: number, out: number, safe: number, g0: number, g1: number): void;
  sumChunks(x: number, n: number, chunk: number, out: number, c0: number, c1: number): void;
}

/** The exports a worker may be asked to run (their names, as threads.ts posts them). */
const PASSES = ['moments', 'gradSums', 'output', 'gradInput', 'output32', 'gradInput32', 'gradFused32', 'momentsOutput32', 'sumChunks'] as const;
type Pass = (typeof PASSES)[number];

/** The memory's maximum in pages (norm.wat's import): 2 GiB. */
const MAX_PAGES = 32768;
/**
 * Passes over fewer elements than this stay on one thread: a hand-off costs
 * tens of microseconds, a pass runs several hundred million elements a second.
 */
const PARALLEL_ELEMENTS = 2 ** 16;
/** Ranges of groups per thread a split pass is cut into (`WasmNorm.run`). */
const CHUNKS = 8;
/**
 * Large passes run on one thread before the workers are started: a first
 * call (one forward and backward is four passes) does not pay for starting
 * a thread (a few ms here, and ~100 ms of the other core until the worker is
 * ready; W7, docs/notes/bench.md); a training loop starts them at its second step.
 */
const START_AFTER = 4;

/**
 * How long the main thread waits for a worker once it has no range left to
 * claim: 10 s, plus the time the whole pass would take at 2 M elements/s (a
 * worker starved by a loaded machine is slow, not dead; a pass runs hundreds
 * of M elements/s).
 */
export function normDeadlineMs(elements: number): number {
  return 10_000 + elements / 2e6 * 1000;
}

/** What runs the passes on more threads: the shared module's bytes, for workers to instantiate, and how many threads to use. */
interface Threading {
  readonly bytes: Uint8Array;
  readonly threads: number;
  /** A single-threaded instance over a new plain memory, for when a worker missed its deadline. */
  renew(): { exp: NormExports; memory: WasmMemory };
}

/**
 * The most memory the engine takes: 512 MiB (three slots of up to ~44M
 * floats). The memory never shrinks while the device lives, so larger
 * tensors run the IR kernels instead of keeping gigabytes; wasm32 itself
 * would allow 2 GiB.
 */
const MAX_BYTES = 2 ** 29;
/** Regions of the memory that hold float32 arrays: two inputs kept by key, one output. */
const SLOTS = 3;
/**
 * Floats per partial sum of `sum` (`sumChunks`): the chunks, not the
 * threads, fix the order of the additions, so the value does not depend on
 * how many threads ran them.
 */
const SUM_CHUNK = 2 ** 15;
/**
 * Outputs smaller than this are not lent (`outputArray`): copying them out
 * costs little, and many small live ranges would lengthen the arena's list
 * of free ranges (the cpu device's pool keeps no arrays this small either).
 */
const LEND_MIN = 4096;

/** A region of the memory and the buffer whose array it holds a copy of (null: none). */
interface Slot {
  key: { readonly freed: boolean } | null;
  length: number;
  used: number;
}

/** The passes over one WebAssembly instance and memory (see the module comment). */
export class WasmNorm implements GroupPasses {
  private f32: Float32Array;
  private f64: Float64Array;
  /** Where the memory's ranges come from: the slots, the per-group doubles, the lent output arrays. */
  private arena: Arena;
  /** Floats per slot. */
  private cap = 0;
  /** Each slot's byte address (-1: none yet). */
  private readonly slotAt: number[] = new Array<number>(SLOTS).fill(-1);
  /** The per-group doubles' byte address and size (a range of the arena). */
  private parAt = -1;
  private parBytes = 0;
  private readonly slots: Slot[] = Array.from({ length: SLOTS }, () => ({ key: null, length: 0, used: 0 }));
  /**
   * Output arrays lent to the cpu device (`outputArray`) and not yet given
   * back, with their byte address and size: a pass writes such an array in
   * place (no copy out), and reads one as an input in place (no copy in).
   */
  private readonly lent = new Map<Float32Array, { at: number; bytes: number }>();
  /** Every array ever lent, the memory's current ones and those of an abandoned memory (`owns`). */
  private readonly everLent = new WeakSet<Float32Array>();
  /**
   * Whether outputs may live in the memory: only a shared memory, whose
   * views stay valid when it grows (growing a plain one detaches every view).
   */
  private lends: boolean;
  /** Output values copied out of the memory so far (for tests: lent outputs are not copied). */
  copiesOut = 0;
  /** Sums run by `sum` so far (for tests). */
  sums = 0;
  private clock = 0;
  /** Copies made into the memory so far (for tests: a kept copy is not made again). */
  copies = 0;
  /** Passes split over threads so far (for tests and profiles). */
  parallelRuns = 0;
  /** Worker deadlines missed so far (each retires the pool and the shared memory; for tests). */
  missedDeadlines = 0;
  /** @internal tests: this thread claims no range, so the workers run every group of a split pass. */
  workersOnly = false;
  /** @internal tests: the deadline for a worker, in ms (default `normDeadlineMs`). */
  deadlineMs: ((elements: number) => number) | null = null;
  /** The workers, once `START_AFTER` large passes have run (null before, and where there are none). */
  private pool: ThreadPool | null = null;
  /** Large passes run so far (the workers start after `START_AFTER`). */
  private largePasses = 0;

  constructor(
    private exp: NormExports,
    private memory: WasmMemory,
    /** The most bytes of memory to take (tests set a small one). */
    private readonly maxBytes = MAX_BYTES,
    /** How to run on more threads; null: one thread (a plain memory). */
    private threading: Threading | null = null,
  ) {
    this.f32 = new Float32Array(memory.buffer);
    this.f64 = new Float64Array(memory.buffer);
    this.arena = new Arena(memory, maxBytes);
    this.lends = threading !== null;
  }

  /**
   * Lend the cpu device an array of `n` floats in the memory, for a pass's
   * output to be written in place and read by later passes in place; null
   * where outputs cannot live there (a plain memory, or the memory is full)
   * or `n` is under 4096 (`LEND_MIN`).
   * The device gives it back with `release` when its buffer is freed.
   */
  outputArray(n: number): Float32Array | null {
    if (!this.lends || n < LEND_MIN) return null;
    const at = this.arena.alloc(4 * n);
    if (at < 0) return null;
    const a = new Float32Array(this.memory.buffer, at, n);
    this.lent.set(a, { at, bytes: 4 * n });
    this.everLent.add(a);
    return a;
  }

  /** Whether `a` is an array this engine lent (then it goes back through `release`, never to a pool). */
  owns(a: unknown): boolean {
    return a instanceof Float32Array && this.everLent.has(a);
  }

  /**
   * Take back a lent array whose buffer was freed (no tensor reads it any
   * more: tensor/storage.ts frees at the last reference). Its range holds
   * later outputs; an array of an abandoned memory is simply dropped.
   */
  release(a: Float32Array): void {
    const r = this.lent.get(a);
    if (!r) return;
    this.lent.delete(a);
    this.arena.release(r.at, r.bytes);
  }

  /** Bytes of the memory in use now: slots, per-group values, lent arrays (for tests). */
  get bytesInUse(): number {
    return this.arena.used;
  }

  /** Whether the workers have been started (by `START_AFTER` large passes, or `startThreads`). */
  get threadsStarted(): boolean {
    return this.pool !== null;
  }

  /** Worker threads ready to share a pass now (0 before they start, and without threads). */
  get readyThreads(): number {
    return this.pool?.ready().length ?? 0;
  }

  /**
   * Start the workers now (they start after `START_AFTER` large passes otherwise);
   * resolves with how many are ready within `ms` (0 without threads).
   */
  async startThreads(ms = 5000): Promise<number> {
    this.startPool();
    const want = (this.threading?.threads ?? 1) - 1;
    const end = Date.now() + ms;
    while (this.pool && this.readyThreads < want && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
    return this.readyThreads;
  }

  private startPool(): void {
    if (this.pool || !this.threading) return;
    this.pool = startPool(this.threading.bytes, this.memory, this.threading.threads, PASSES);
    // NOTE: no pool (starting threads failed): one thread from now on
    if (!this.pool) this.threading = null;
  }

  /**
   * Run pass `name` with `args` (all but the group range) over every group:
   * a large one split by ranges of groups, claimed in turn by the ready
   * workers and this thread. False when a worker missed its deadline: the
   * shared memory is abandoned (`abandonSharedMemory`) and the caller runs the IR.
   */
  private run(name: Pass, args: readonly number[], groups: number, elements: number): boolean {
    const fn = this.exp[name] as (...a: number[]) => void;
    const large = elements >= PARALLEL_ELEMENTS && groups >= 2;
    if (large && ++this.largePasses > START_AFTER) this.startPool();
    const pool = this.pool;
    const workers = pool && large ? pool.ready() : [];
    if (!pool || workers.length === 0) {
      fn(...args, 0, groups);
      return true;
    }
    // ranges of groups claimed by whichever thread is free (threads.ts, `share`): about
    // CHUNKS ranges per thread, so a worker without a core leaves little for this thread to wait on
    const used = workers.slice(0, groups - 1);
    const chunk = Math.ceil(groups / ((used.length + 1) * CHUNKS));
    const jobs = pool.share(used, name, args, groups, chunk);
    if (!this.workersOnly) for (let g = pool.claim(chunk); g < groups; g = pool.claim(chunk)) fn(...args, g, Math.min(g + chunk, groups));
    for (const [t, seq] of jobs.entries()) {
      if (!pool.wait(used[t] as number, seq, (this.deadlineMs ?? normDeadlineMs)(elements))) {
        this.abandonSharedMemory();
        return false;
      }
    }
    this.parallelRuns++;
    return true;
  }

  /**
   * A worker missed its deadline: it may still write the shared memory (its
   * termination is asynchronous), so that memory is never read or written
   * again. Later passes run on one thread over a new instance and memory.
   */
  private abandonSharedMemory(): void {
    this.missedDeadlines++;
    this.pool?.retire();
    this.pool = null;
    const fresh = this.threading?.renew();
    this.threading = null;
    if (!fresh) return;
    this.exp = fresh.exp;
    this.memory = fresh.memory;
    this.f32 = new Float32Array(fresh.memory.buffer);
    this.f64 = new Float64Array(fresh.memory.buffer);
    this.arena = new Arena(fresh.memory, this.maxBytes);
    this.cap = 0;
    this.slotAt.fill(-1);
    [this.parAt, this.parBytes] = [-1, 0];
    for (const s of this.slots) s.key = null;
    // the arrays lent from the old memory stay valid for the tensors holding them (the old
    // memory lives while they do) but are never reused: a late worker may still write the range
    // of the pass it missed. A plain memory lends nothing (growing it would detach the views).
    this.lent.clear();
    this.lends = false;
  }

  /**
   * Room for arrays of `floats` and `doubles` per-group values; false past
   * `maxBytes` (the caller runs the IR). A larger array size drops the kept copies.
   */
  private reserve(floats: number, doubles: number): boolean {
    if (floats > this.cap) {
      // NOTE: the slots are all of one size, the largest array seen (16-float multiples)
      const cap = Math.ceil(floats / 16) * 16;
      for (const at of this.slotAt) if (at >= 0) this.arena.release(at, 4 * this.cap);
      this.slotAt.fill(-1);
      this.cap = 0;
      for (const s of this.slots) s.key = null;
      for (let i = 0; i < SLOTS; i++) {
        const at = this.arena.alloc(4 * cap);
        if (at < 0) {
          for (let j = 0; j < i; j++) this.arena.release(this.slotAt[j] as number, 4 * cap);
          this.slotAt.fill(-1);
          return false;
        }
        this.slotAt[i] = at;
      }
      this.cap = cap;
    }
    if (8 * doubles > this.parBytes) {
      if (this.parAt >= 0) this.arena.release(this.parAt, this.parBytes);
      this.parAt = this.arena.alloc(8 * doubles);
      this.parBytes = this.parAt < 0 ? 0 : 8 * doubles;
      if (this.parAt < 0) return false;
    }
    // NOTE: growing detaches a plain memory's ArrayBuffer (a shared one hands out a longer
    // SharedArrayBuffer); views are made again
    if (this.f32.byteLength !== this.memory.buffer.byteLength) {
      this.f32 = new Float32Array(this.memory.buffer);
      this.f64 = new Float64Array(this.memory.buffer);
    }
    return true;
  }

  /**
   * Byte address of `t`'s element 0 in the memory, and the slot holding it:
   * a lent array is read in place (slot -1); another is copied into a slot
   * (`place`) unless one holds it already.
   */
  private input(t: GroupInput, busy: readonly number[]): [at: number, slot: number] {
    const own = this.lent.get(t.data);
    if (own) return [own.at + 4 * t.offset, -1];
    const i = this.place(t, busy);
    return [this.at(i, t.offset), i];
  }

  /** Index of the slot holding `t`'s array, copying it into a free slot (not in `busy`) when none does. */
  private place(t: GroupInput, busy: readonly number[]): number {
    const tick = ++this.clock;
    const hit = this.slots.findIndex((s) => s.key === t.key && !t.key.freed && s.length === t.data.length);
    if (hit >= 0) {
      (this.slots[hit] as Slot).used = tick;
      return hit;
    }
    const i = this.victim(busy);
    this.f32.set(t.data, (this.slotAt[i] as number) / 4);
    this.copies++;
    this.slots[i] = { key: t.key, length: t.data.length, used: tick };
    return i;
  }

  /** The least recently used slot not in `busy`; its copy is dropped. */
  private victim(busy: readonly number[]): number {
    let best = -1;
    this.slots.forEach((s, i) => {
      if (!busy.includes(i) && (best < 0 || s.used < (this.slots[best] as Slot).used)) best = i;
    });
    (this.slots[best] as Slot).key = null;
    return best;
  }

  /** Byte address of element `offset` of slot `i`. */
  private at(i: number, offset: number): number {
    return (this.slotAt[i] as number) + offset * 4;
  }

  private get par(): number {
    return this.parAt;
  }

  moments(x: GroupInput, L: GroupLayout): Float64Array | null {
    if (!this.reserve(x.data.length, 3 * L.groups)) return null;
    const [xa] = this.input(x, []);
    if (!this.run('moments', [xa, L.outer, L.groups, L.inner, this.par], L.groups, L.outer * L.groups * L.inner)) return null;
    return this.f64.slice(this.par / 8, this.par / 8 + 3 * L.groups);
  }

  gradSums(x: GroupInput, g: GroupInput, L: GroupLayout, par: Float64Array): Float64Array | null {
    if (!this.reserve(Math.max(x.data.length, g.data.length), 5 * L.groups)) return null;
    const [xa, a] = this.input(x, []);
    const [ga] = this.input(g, [a]);
    const p = this.par;
    const n = L.outer * L.groups * L.inner;
    this.f64.set(par, p / 8);
    if (!this.run('gradSums', [xa, ga, L.outer, L.groups, L.inner, p, p + 24 * L.groups], L.groups, 2 * n)) return null;
    return this.f64.slice(p / 8 + 3 * L.groups, p / 8 + 5 * L.groups);
  }

  /**
   * Where a map writes `out`: in place when `out` is a lent array, else in
   * a free slot (not in `busy`) that `copyOut` then copies from.
   */
  private outputAt(out: Float32Array, busy: readonly number[]): [at: number, slot: number] {
    const own = this.lent.get(out);
    if (own) return [own.at, -1];
    const c = this.victim(busy);
    return [this.at(c, 0), c];
  }

  /** Copy a map's `n` results out of slot `c` into `out` (nothing to do for a lent `out`, slot -1). */
  private copyOut(c: number, out: Float32Array, n: number): void {
    if (c < 0) return;
    const from = (this.slotAt[c] as number) / 4;
    out.set(this.f32.subarray(from, from + n));
    this.copiesOut += n;
  }

  output(x: GroupInput, L: GroupLayout, par: Float64Array, out: Float32Array, lanes: boolean): boolean {
    const n = L.outer * L.groups * L.inner;
    if (!this.reserve(Math.max(x.data.length, n), 5 * L.groups)) return false;
    const [xa, a] = this.input(x, []);
    const [ya, c] = this.outputAt(out, [a]);
    // float32 lanes where the coefficients allow (group-passes.ts, `outputLanes`), else the double map
    const f = lanes ? outputLanes(par, L.groups) : null;
    if (f) this.f32.set(f, this.par / 4);
    else this.f64.set(par, this.par / 8);
    if (!this.run(f ? 'output32' : 'output', [xa, ya, L.outer, L.groups, L.inner, this.par], L.groups, 2 * n)) return false;
    this.copyOut(c, out, n);
    return true;
  }

  gradInput(x: GroupInput, g: GroupInput, L: GroupLayout, par: Float64Array, out: Float32Array, lanes: boolean): boolean {
    const n = L.outer * L.groups * L.inner;
    if (!this.reserve(Math.max(x.data.length, g.data.length, n), 5 * L.groups)) return false;
    const [xa, a] = this.input(x, []);
    const [ga, b] = this.input(g, [a]);
    const [da, c] = this.outputAt(out, [a, b]);
    const f = lanes ? gradInputLanes(par, L.groups) : null;
    if (f) this.f32.set(f, this.par / 4);
    else this.f64.set(par, this.par / 8);
    if (!this.run(f ? 'gradInput32' : 'gradInput', [xa, ga, da, L.outer, L.groups, L.inner, this.par], L.groups, 3 * n)) return false;
    this.copyOut(c, out, n);
    return true;
  }

  /**
   * The backward's sums and x's gradient in one pass (norm.wat, `gradFused32`):
   * with par = [s, inv, m, S₁, S₂, w, n, eps] per group, each group's Σg and
   * Σg·(c - m) as `gradSums` computes them, then its lane coefficients from
   * them (normalize.ts's per-group formulas) and its dx as `gradInput32`,
   * into `out`. Returns [Σg, Σg·(c - m)] per group (2 per group) and the
   * lane coefficients it used ([s, A, B, C] per group), which the caller
   * checks against the per-group kernels' (`gradInputLanes`); null where the
   * pass cannot run.
   */
  gradFused(x: GroupInput, g: GroupInput, L: GroupLayout, par: Float64Array, safe: boolean, out: Float32Array): { sums: Float64Array; lanes: Float32Array } | null {
    const n = L.outer * L.groups * L.inner;
    const G = L.groups;
    if (!this.reserve(Math.max(x.data.length, g.data.length, n), 12 * G)) return null;
    const [xa, a] = this.input(x, []);
    const [ga, b] = this.input(g, [a]);
    const [da, c] = this.outputAt(out, [a, b]);
    const p = this.par;
    const o = p + 64 * G;
    this.f64.set(par, p / 8);
    if (!this.run('gradFused32', [xa, ga, da, L.outer, G, L.inner, p, o, safe ? 1 : 0], G, 3 * n)) return null;
    this.copyOut(c, out, n);
    const sums = new Float64Array(2 * G);
    const lanes = new Float32Array(4 * G);
    for (let i = 0; i < G; i++) {
      sums[2 * i] = this.f64[o / 8 + 4 * i] as number;
      sums[2 * i + 1] = this.f64[o / 8 + 4 * i + 1] as number;
      lanes.set(this.f32.subarray(o / 4 + 8 * i + 4, o / 4 + 8 * i + 8), 4 * i);
    }
    return { sums, lanes };
  }

  /**
   * The forward's moments and output in one pass per group (norm.wat,
   * `momentsOutput32`): with par = [w, b, n, eps] per group, each group's
   * [max |d|, Σd, Σd²] as `moments` computes them, then its output lane
   * coefficients from them (`finishMoments`, normalize.ts's mean and scale
   * kernels, `outputLanes`) and its y as `output32`, into `out`. Returns the
   * raw moments (3 per group) and the lane coefficients it used ([s, α, β]
   * per group), which the caller checks against the kernels' (`outputLanes`);
   * null where the pass cannot run.
   */
  momentsOutput(x: GroupInput, L: GroupLayout, par: Float64Array, safe: boolean, out: Float32Array): { raw: Float64Array; lanes: Float32Array } | null {
    const n = L.outer * L.groups * L.inner;
    const G = L.groups;
    if (!this.reserve(Math.max(x.data.length, n), 10 * G)) return null;
    const [xa, a] = this.input(x, []);
    const [ya, c] = this.outputAt(out, [a]);
    const p = this.par;
    const o = p + 32 * G;
    this.f64.set(par, p / 8);
    if (!this.run('momentsOutput32', [xa, ya, L.outer, G, L.inner, p, o, safe ? 1 : 0], G, 2 * n)) return null;
    this.copyOut(c, out, n);
    const raw = new Float64Array(3 * G);
    const lanes = new Float32Array(3 * G);
    for (let i = 0; i < G; i++) {
      raw.set(this.f64.subarray(o / 8 + 6 * i, o / 8 + 6 * i + 3), 3 * i);
      lanes.set(this.f32.subarray(o / 4 + 12 * i + 6, o / 4 + 12 * i + 9), 3 * i);
    }
    return { raw, lanes };
  }

  /**
   * Σ data[offset .. offset + n) in double where `data` is a lent array (its
   * values already in the memory): partial sums of `SUM_CHUNK` floats, split
   * over the threads like a pass, then added in order; null where `data` is
   * not lent (copying it in would cost more than the sum) or the pass declined.
   */
  sum(data: Float32Array, offset: number, n: number): number | null {
    const own = this.lent.get(data);
    if (!own || n <= 0 || offset < 0 || offset + n > data.length) return null;
    const chunks = Math.ceil(n / SUM_CHUNK);
    if (!this.reserve(0, chunks)) return null;
    if (!this.run('sumChunks', [own.at + 4 * offset, n, SUM_CHUNK, this.par], chunks, n)) return null;
    let total = 0;
    for (let c = 0, p = this.par / 8; c < chunks; c++) total += this.f64[p + c] as number;
    this.sums++;
    return total;
  }
}

let reason = '';

/**
 * A new engine over its own memory (at most `maxBytes` of it), or null (with
 * `wasmNormUnavailable()` saying why) where this runtime lacks WebAssembly
 * or its 128-bit SIMD. With `threads` above 1 (default: threads.ts's
 * `wantedThreads()`) the memory is shared and large passes are split over
 * that many threads once the workers are up (one thread where the platform
 * cannot start them).
 */
export function openWasmNorm(maxBytes = MAX_BYTES, threads = wantedThreads()): WasmNorm | null {
  const api = wasmApi();
  try {
    if (!api) throw new Error('no WebAssembly in this runtime');
    const bytes = decodeBase64(normWasm);
    // NOTE: validate first: an engine without 128-bit SIMD rejects the module here, not mid-run
    if (!api.validate(bytes)) throw new Error('this WebAssembly engine lacks 128-bit SIMD');
    const plain = (): { exp: NormExports; memory: WasmMemory } => {
      const memory = new api.Memory({ initial: 1, maximum: MAX_PAGES });
      const inst = new api.Instance(new api.Module(bytes), { env: { memory } });
      return { exp: inst.exports as NormExports, memory };
    };
    const shared = threads > 1 ? threadedForm(api, bytes, threads) : null;
    if (shared) return new WasmNorm(shared.exp, shared.memory, maxBytes, { bytes: shared.bytes, threads: shared.threads, renew: plain });
    const one = plain();
    return new WasmNorm(one.exp, one.memory, maxBytes);
  } catch (e) {
    reason = e instanceof Error ? e.message : String(e);
    return null;
  }
}

/**
 * The module over a shared memory, for `threads` threads, where the engine
 * takes the shared form; null (one thread, a plain memory) otherwise.
 */
function threadedForm(api: WasmApi, plain: Uint8Array, threads: number): { exp: NormExports; memory: WasmMemory; bytes: Uint8Array; threads: number } | null {
  try {
    const bytes = sharedForm(plain, normSharedFlagAt);
    if (!api.validate(bytes)) return null;
    const memory = new api.Memory({ initial: 1, maximum: MAX_PAGES, shared: true });
    const inst = new api.Instance(new api.Module(bytes), { env: { memory } });
    return { exp: inst.exports as NormExports, memory, bytes, threads };
  } catch {
    return null; // no shared memory here: one thread
  }
}

/** Why `openWasmNorm()` gave null ('' when it did not, or was not called). */
export function wasmNormUnavailable(): string {
  return reason;
}
