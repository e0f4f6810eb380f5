/**
 * Device memory ownership. A Storage is one device buffer shared by every
 * view of it; each live Tensor handle holds one reference. Handles are
 * released by `dispose()`, by the end of a `tidy` scope, or, as a backstop,
 * when V8 collects them (FinalizationRegistry). GPU memory is not garbage
 * collected by V8, so the count matters (see `memory()`).
 */
import type { Device, DeviceBuffer } from '../backend/device.js';

export class Storage {
  private refs = 0;
  constructor(readonly buffer: DeviceBuffer) {}

  get device(): Device {
    return this.buffer.device;
  }

  retain(): void {
    this.refs++;
  }

  release(): void {
    if (--this.refs === 0) this.buffer.device.free(this.buffer);
  }

  get freed(): boolean {
    return this.buffer.freed;
  }
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

/** One handle's claim on a storage, released exactly once. */
export class StorageRef {
  private readonly held: Held;
  constructor(owner: object, readonly storage: Storage) {
    storage.retain();
    this.held = { storage, released: false };
    registry.register(owner, this.held, this);
  }

  get released(): boolean {
    return this.held.released;
  }

  release(): void {
    if (this.held.released) return;
    this.held.released = true;
    registry.unregister(this);
    this.storage.release();
  }
}

/** Something `tidy` can dispose. */
export interface Disposable {
  dispose(): void;
}

const scopes: Set<Disposable>[] = [];

/** Record a new handle in the innermost `tidy` scope, if any. */
export function track(t: Disposable): void {
  scopes[scopes.length - 1]?.add(t);
}

/** Remove a handle from every open scope (it outlives them). */
export function keep<T extends Disposable>(t: T): T {
  for (const s of scopes) s.delete(t);
  return t;
}

/**
 * Run `fn` and dispose every tensor it created except those it returns
 * (a tensor, or tensors inside a returned array or plain object). When `fn`
 * throws, everything it created is disposed and the error passes through.
 * @example
 * const y = gg.tidy(() => x.mul(2).add(1).relu()); // the temporaries are freed
 */
export function tidy<T>(fn: () => T): T {
  const scope = new Set<Disposable>();
  scopes.push(scope);
  let result: T;
  try {
    result = fn();
  } catch (e) {
    // NOTE: a throwing fn must not leak what it made before the throw (GPU memory is not collected)
    scopes.pop();
    for (const t of scope) t.dispose();
    throw e;
  }
  scopes.pop();
  const survivors = new Set<unknown>();
  collect(result, survivors, 0);
  for (const t of scope) {
    if (survivors.has(t)) scopes[scopes.length - 1]?.add(t);
    else t.dispose();
  }
  return result;
}

function collect(v: unknown, out: Set<unknown>, depth: number): void {
  if (v === null || typeof v !== 'object' || depth > 4) return;
  out.add(v);
  if (Array.isArray(v)) for (const x of v) collect(x, out, depth + 1);
  else if (Object.getPrototypeOf(v) === Object.prototype) for (const x of Object.values(v)) collect(x, out, depth + 1);
}
