/**
 * Device memory ownership. A Storage is one device buffer shared by every
 * view of it; each live Tensor handle holds one reference. Handles are
 * released by `dispose()`, by the end of a `tidy` scope, or, as a backstop,
 * when V8 collects them (FinalizationRegistry). GPU memory is not garbage
 * collected by V8, so the count matters (see `memory()`).
 */
import type { Device, DeviceBuffer } from '../backend/device.js';

/** A device buffer and how many storages point at it (buffers are never written after a kernel makes them). */
interface Cell {
  readonly buffer: DeviceBuffer;
  refs: number;
}

function dropCell(c: Cell): void {
  if (--c.refs === 0) c.buffer.device.free(c.buffer);
}

/**
 * @internal One reference-counted piece of device memory, shared by every
 * view of it. An in-place write (tensor/inplace.ts) does not change a
 * buffer: kernels always make new buffers, so a write points the storage at
 * the new one (`share`, `replace`) and every view and saved handle of the
 * storage sees the new values, as PyTorch's views do (docs/notes/mutation.md).
 * Two storages may point at one buffer (after `assign`); that is safe because
 * a buffer is never written once made.
 */
export class Storage {
  private refs = 0;
  private cell: Cell;
  constructor(buffer: DeviceBuffer) {
    this.cell = { buffer, refs: 1 };
  }

  get buffer(): DeviceBuffer {
    return this.cell.buffer;
  }

  get device(): Device {
    return this.cell.buffer.device;
  }

  retain(): void {
    this.refs++;
  }

  release(): void {
    if (--this.refs === 0) dropCell(this.cell);
  }

  get freed(): boolean {
    return this.cell.buffer.freed;
  }

  /** A new storage over this one's current buffer (no copy): writes to either no longer reach the other. */
  fork(): Storage {
    const s = new Storage(this.cell.buffer);
    s.cell = this.cell;
    this.cell.refs++;
    return s;
  }

  /** From now on hold `other`'s current buffer (no copy); the old buffer is freed when nothing else points at it. */
  share(other: Storage): void {
    const next = other.cell;
    next.refs++;
    dropCell(this.cell);
    this.cell = next;
  }

  /** From now on hold `buffer`, a new buffer this storage owns. */
  replace(buffer: DeviceBuffer): void {
    dropCell(this.cell);
    this.cell = { buffer, refs: 1 };
  }
}

/**
 * @internal How many times a tensor's data was written in place (PyTorch's
 * version counter): shared by the tensor, its views, `detach()`ed handles and
 * the handles the graph saves, so a saved tensor sees every write made
 * through any of them (docs/notes/mutation.md).
 */
export class VersionCounter {
  value = 0;
}

/** Held by the finalizer: the storage of a handle that was never disposed. */
interface Held {
  storage: Storage;
  released: boolean;
}

const registry = new FinalizationRegistry<Held>((held) => {
  if (!held.released) {
    held.released = true;
    held.storage.release();
  }
});

/**
 * @internal One handle's claim on a storage, released exactly once. The
 * finalizer backstop (`register`) is put on at once for a handle made
 * outside every `tidy` scope, and for one made inside only when it
 * outlives them (`escape`): a scope disposes the handles it made, so most
 * never need it. Why: each registration is a weak cell V8's collector
 * walks; for a small op, registering and unregistering its output cost
 * more than the op's own work (docs/notes/bench.md, "W2: per-op overhead").
 */
export class StorageRef {
  private readonly held: Held;
  private registered = false;
  constructor(owner: object, readonly storage: Storage, register = true) {
    storage.retain();
    this.held = { storage, released: false };
    if (register) this.register(owner);
  }

  get released(): boolean {
    return this.held.released;
  }

  /** Free the storage's claim if `owner` is collected without `release` (once; not after release). */
  register(owner: object): void {
    if (this.registered || this.held.released) return;
    this.registered = true;
    registry.register(owner, this.held, this);
  }

  release(): void {
    if (this.held.released) return;
    this.held.released = true;
    if (this.registered) registry.unregister(this);
    this.storage.release();
  }
}

/** Something `tidy` can dispose. */
export interface Disposable {
  dispose(): void;
  /** It outlives every open scope (returned from the outermost, or `keep`): from now on the finalizer backstop covers it. */
  escape?(): void;
}

/**
 * A recorded graph node, as far as `tidy` needs to know: it frees the
 * tensors it saved for backward.
 */
export interface ScopedNode {
  readonly next: readonly ({ readonly node: ScopedNode } | null)[];
  released: boolean;
  release(): void;
}

interface Scope {
  tensors: Set<Disposable>;
  /** Handles created here and then kept: their graph must survive too. */
  kept: Set<Disposable>;
  nodes: ScopedNode[];
}

const scopes: Scope[] = [];

/** @internal Record a new handle in the innermost `tidy` scope, if any; false when no scope is open. */
export function track(t: Disposable): boolean {
  const scope = scopes[scopes.length - 1];
  if (!scope) return false;
  scope.tensors.add(t);
  return true;
}

/** @internal Record a new graph node in the innermost `tidy` scope, if any. */
export function trackNode(n: ScopedNode): void {
  scopes[scopes.length - 1]?.nodes.push(n);
}

/**
 * @internal Take recorded nodes out of every open `tidy` scope: another node
 * owns them now (autograd/graph.ts `ChainNode`) and frees them with itself,
 * so a scope must not free them as unreachable.
 */
export function untrackNodes(ns: ReadonlySet<ScopedNode>): void {
  for (const scope of scopes) scope.nodes = scope.nodes.filter((n) => !ns.has(n));
}

/** Remove a handle from every open scope (it outlives them). @example gg.tidy(() => { state = gg.keep(x.mean()); return loss(x); }); // state survives the scope */
export function keep<T extends Disposable>(t: T): T {
  let held = false;
  for (const s of scopes) {
    if (s.tensors.delete(t)) {
      s.kept.add(t);
      held = true;
    }
  }
  if (held) t.escape?.();
  return t;
}

/**
 * @internal `t` may have been made outside the open scopes, but its graph
 * grew inside them (an in-place op moved it to a node recorded here): the
 * nodes it leads to stay alive when the scopes end, as a returned tensor's do.
 */
export function rooted(t: Disposable): void {
  for (const s of scopes) if (!s.tensors.has(t)) s.kept.add(t);
}

/**
 * Run `fn` and dispose every tensor it created except those it returns
 * (a tensor, or tensors inside a returned array or plain object).
 * Graph nodes recorded inside that no surviving tensor leads to (e.g. the
 * statistics a layer only uses for its running averages) free their saved
 * tensors too, so device memory stays flat across training steps.
 * @example
 * const y = gg.tidy(() => x.mul(2).add(1).relu()); // the temporaries are freed
 */
export function tidy<T>(fn: () => T): T {
  if (typeof fn !== 'function') throw new TypeError(`tidy(): argument 'fn' must be a function, not ${typeof fn}`);
  // NOTE: as tfjs: an async body would have its live tensors freed at its first await
  // and leak what it makes after it, so it is refused (docs/notes/validation.md)
  if (Object.prototype.toString.call(fn) === '[object AsyncFunction]') throw new TypeError(TIDY_ASYNC);
  const scope: Scope = { tensors: new Set(), kept: new Set(), nodes: [] };
  scopes.push(scope);
  let result: T;
  try {
    result = fn();
    if (isThenable(result)) throw new TypeError(TIDY_ASYNC);
  } catch (e) {
    // a throwing scope frees everything it made
    scopes.pop();
    for (const t of scope.tensors) t.dispose();
    for (const n of scope.nodes) if (!n.released) n.release();
    throw e;
  }
  scopes.pop();
  const survivors = new Set<unknown>();
  collect(result, survivors, 0);
  const outer = scopes[scopes.length - 1];
  for (const t of scope.tensors) {
    if (!survivors.has(t)) t.dispose();
    else if (outer) outer.tensors.add(t);
    else t.escape?.();
  }
  // nodes still reachable from what survives (returned tensors, kept gradients) stay
  const live = new Set<ScopedNode>();
  const stack: ScopedNode[] = [];
  for (const v of [...survivors, ...scope.tensors, ...scope.kept]) {
    const node = (v as { gradFn?: ScopedNode | null; isDisposed?: boolean }).gradFn;
    if (node && !(v as { isDisposed?: boolean }).isDisposed) stack.push(node);
  }
  // NOTE: edges point at older nodes, so a node recorded before this scope never leads back
  // into it: the walk stops at the scope's border (cost ∝ the scope, not the whole graph)
  const mine = new Set(scope.nodes);
  while (stack.length) {
    const n = stack.pop() as ScopedNode;
    if (live.has(n) || !mine.has(n)) continue;
    live.add(n);
    for (const e of n.next) if (e) stack.push(e.node);
  }
  for (const n of scope.nodes) {
    if (live.has(n)) outer?.nodes.push(n);
    else if (!n.released) n.release();
  }
  return result;
}

const TIDY_ASYNC =
  'Cannot return a Promise inside of tidy(): the scope ends when the function returns, so it would free tensors still used after an await. ' +
  'Keep the tidy body synchronous (await outside it) and dispose() around awaits.';

function isThenable(v: unknown): boolean {
  return v instanceof Promise || (typeof v === 'object' && v !== null && typeof (v as { then?: unknown }).then === 'function');
}

function collect(v: unknown, out: Set<unknown>, depth: number): void {
  if (v === null || typeof v !== 'object' || depth > 4) return;
  out.add(v);
  if (Array.isArray(v)) for (const x of v) collect(x, out, depth + 1);
  else if (Object.getPrototypeOf(v) === Object.prototype) for (const x of Object.values(v)) collect(x, out, depth + 1);
}
