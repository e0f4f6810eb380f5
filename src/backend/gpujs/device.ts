/**
 * A gpu.js mode as a gpugrad device (modes.ts lists them).
 *
 * Every kernel is rendered from the one kernel IR (../kernel.ts) as
 * `function (in0, in1, ...) { const gid = this.thread.x; BODY; return RESULT; }`
 * and compiled once per (device, kernel text, input sizes). Results stay on
 * the device as gpu.js pipeline handles (`pipeline: true, immutable: true`:
 * a fresh texture/buffer per run, freed with `.delete()`); only reads download.
 *
 * Asynchronous modes (webasm, webgpu) chain every run, free and read on a
 * SerialQueue (queue.ts): `run` returns a buffer at once holding a promise
 * of its handle.
 */
import { Device, KernelCache, type DeviceBuffer, type DeviceInfo } from '../device.js';
import type { Kernel } from '../kernel.js';
import { hostArray, type DType, type HostArray } from '../types.js';
import type { AdapterInfo } from './adapters.js';
import { modes, type GpuDeviceName, type ModeConfig } from './modes.js';
import { SerialQueue } from './queue.js';
import { asError, asHandle, flat, gpujs, type GpuJs, type GpuJsKernel, type Handle, type KernelSource } from './shim.js';

/** A compiled kernel and how many live buffers it produced (GL textures call back into their kernel). */
interface Entry {
  readonly fn: GpuJsKernel;
  live: number;
  evicted: boolean;
  destroyed: boolean;
}

interface GpuBuffer extends DeviceBuffer {
  /** The handle, when known synchronously. */
  handle: Handle | undefined;
  /** The handle to come (async devices). */
  pending: Promise<Handle> | undefined;
  /** The kernel that produced it, kept alive until this buffer is freed. */
  entry: Entry | undefined;
}

/** The kernel IR rendered as a gpu.js kernel function. */
function renderSource(kernel: Kernel): KernelSource {
  const params = Array.from({ length: kernel.inputs }, (_, k) => `in${k}`);
  const src = `const gid = this.thread.x; ${kernel.body.join(' ')} return ${kernel.result};`;
  return new Function(...params, src) as KernelSource;
}

/** A gpu.js mode as a gpugrad device. */
/** The pending teardown of each released async device, by name (see `release`). */
const teardowns = new Map<string, Promise<void>>();

/**
 * A float32 read as the host array of `dtype`: integers come back as
 * Int32Array (int32) or Float64Array (int64), rounded to the nearest whole
 * number (a kernel's float arithmetic on whole numbers below 2^24 is exact;
 * the rounding only removes a GPU's last-bit drift, docs/notes/dtypes.md).
 */
function asDtype(data: Float32Array, dtype: DType): HostArray {
  if (dtype === 'float32') return data;
  const out = hostArray(dtype, data.length);
  // + 0: an integer has no -0 (Math.round(-0.2) is -0)
  for (let i = 0; i < data.length; i++) out[i] = Math.round(data[i] ?? 0) + 0;
  return out;
}

/**
 * What a kernel gets for a zero-size input (e.g. the sum over an empty dim,
 * whose output is not empty): a zero-size buffer holds no device data, and the
 * kernel reads none of it, but gpu.js needs an argument of some length.
 */
const EMPTY_INPUT = new Float32Array(1);

export class GpuJsDevice extends Device {
  /** Integers are stored in float32 textures/buffers like everything else: exact for |v| <= 2^24. */
  readonly dtypes: readonly DType[] = ['float32', 'int32', 'int64'];
  readonly exactIntegers = 2 ** 24;
  readonly syncRead: boolean;
  private readonly cfg: ModeConfig;
  private gpu: GpuJs | undefined;
  private readonly cache: KernelCache<Entry>;
  /** The serial queue of async devices (undefined on sync ones). */
  private readonly queue: SerialQueue | undefined;

  constructor(
    readonly name: GpuDeviceName,
    private readonly adapter: AdapterInfo,
    private readonly onRelease: () => void = () => undefined,
  ) {
    super();
    const cfg = modes[name];
    if (!cfg) throw new Error(`internal: '${name}' is not a gpu.js device of this runtime`);
    this.cfg = cfg;
    this.syncRead = !this.cfg.async;
    this.queue = this.cfg.async ? new SerialQueue() : undefined;
    // a device reopened after releaseDevice waits for the old one's teardown (which destroys
    // gpu.js's shared WebGPU context) before any of its own work
    const teardown = teardowns.get(name);
    if (teardown && this.queue) this.queue.post(() => teardown);
    this.cache = new KernelCache<Entry>(this.cfg.cacheSize, (e) => {
      e.evicted = true;
      if (e.live === 0) this.later(() => this.destroyEntry(e));
    });
  }

  private instance(): GpuJs {
    if (!this.gpu) {
      const { GPU } = gpujs();
      this.gpu = new GPU({ mode: this.cfg.mode });
    }
    return this.gpu;
  }

  private compile(kernel: Kernel): Entry {
    this.stats.kernelsCompiled++;
    const fn = this.instance().createKernel(renderSource(kernel), {
      output: [kernel.size],
      pipeline: true,
      immutable: true,
      precision: 'single',
      tactic: 'precision',
      returnType: 'Float',
      asyncMode: this.cfg.async && this.cfg.mode === 'webasm',
    });
    return { fn, live: 0, evicted: false, destroyed: false };
  }

  private destroyEntry(e: Entry): void {
    if (e.destroyed) return;
    e.destroyed = true;
    try {
      e.fn.destroy();
    } catch {
      // a kernel that never built has nothing to release
    }
  }

  private unref(e: Entry | undefined): void {
    if (!e) return;
    e.live--;
    if (e.evicted && e.live === 0) this.destroyEntry(e);
  }

  /** Run now (sync devices) or after all queued work (async devices); never rejects. */
  private later(work: () => void | Promise<void>): void {
    if (this.queue) this.queue.post(work);
    else void work();
  }

  private handleOf(b: DeviceBuffer): Promise<Handle> {
    const g = b as GpuBuffer;
    if (g.handle !== undefined) return Promise.resolve(g.handle);
    if (g.pending !== undefined) return g.pending;
    return Promise.reject(new Error(`internal: buffer on '${this.name}' has no data (freed?)`));
  }

  private readyHandle(b: DeviceBuffer): Handle {
    const h = (b as GpuBuffer).handle;
    if (h === undefined) throw new Error(`internal: buffer on '${this.name}' is not ready`);
    return h;
  }

  private wrap(size: number, dtype: DType, entry: Entry | undefined): GpuBuffer {
    return { device: this, size, dtype, freed: false, handle: undefined, pending: undefined, entry };
  }

  protected uploadImpl(data: HostArray, dtype: DType): DeviceBuffer {
    // copy now: the caller may reuse its array before queued work runs
    const host = Float32Array.from(data);
    if (this.cfg.hostMemory) {
      const buf = this.wrap(host.length, dtype, undefined);
      buf.handle = host;
      return buf;
    }
    const key = `upload|${host.length}`;
    const entry = this.cache.get(key, () => this.compile({ name: 'upload', inputs: 1, size: host.length, body: [], result: 'in0[gid]', key }));
    return this.launch(entry, 'upload', host.length, dtype, [host], []);
  }

  protected runImpl(kernel: Kernel, inputs: readonly DeviceBuffer[], dtype: DType): DeviceBuffer {
    const sizes = inputs.map((b) => b.size);
    const entry = this.cache.get(`${kernel.key}#${sizes.join(',')}`, () => this.compile(kernel));
    return this.launch(entry, kernel.name, kernel.size, dtype, [], inputs);
  }

  /** Call a compiled kernel on host arrays (upload) or device buffers. */
  private launch(entry: Entry, what: string, size: number, dtype: DType, host: Float32Array[], inputs: readonly DeviceBuffer[]): GpuBuffer {
    const buf = this.wrap(size, dtype, entry);
    entry.live++;
    if (!this.queue) {
      try {
        const args = host.length ? host : inputs.map((b) => (b.size === 0 ? EMPTY_INPUT : this.readyHandle(b)));
        buf.handle = asHandle(entry.fn(...args), what);
      } catch (e) {
        this.unref(entry);
        throw e;
      }
      return buf;
    }
    const pending = this.queue.enqueue(async () => {
      const args = host.length ? host : await Promise.all(inputs.map((b) => (b.size === 0 ? EMPTY_INPUT : this.handleOf(b))));
      return asHandle(await entry.fn(...args), what);
    });
    buf.pending = pending;
    return buf;
  }

  protected override settled(buf: DeviceBuffer): Promise<unknown> | null {
    return (buf as GpuBuffer).pending ?? null;
  }

  protected readImpl(buf: DeviceBuffer): Promise<HostArray> {
    if (!this.queue) {
      try {
        return Promise.resolve(this.readSyncImpl(buf));
      } catch (e) {
        return Promise.reject(asError(e));
      }
    }
    return this.queue.read(async () => {
      const h = await this.handleOf(buf);
      return asDtype(h instanceof Float32Array ? h.slice() : flat(await h.toArray(), buf.size), buf.dtype);
    });
  }

  protected readSyncImpl(buf: DeviceBuffer): HostArray {
    const h = this.readyHandle(buf);
    if (h instanceof Float32Array) return asDtype(h.slice(), buf.dtype);
    const v = h.toArray();
    if (v instanceof Promise) throw new Error(`internal: '${this.name}' read asynchronously`);
    return asDtype(flat(v, buf.size), buf.dtype);
  }

  protected freeImpl(buf: DeviceBuffer): void {
    const g = buf as GpuBuffer;
    const drop = (h: Handle): void => {
      if (!(h instanceof Float32Array)) h.delete();
    };
    if (!this.queue) {
      const h = g.handle;
      g.handle = undefined;
      if (h !== undefined) drop(h);
      this.unref(g.entry);
      return;
    }
    this.later(async () => {
      try {
        drop(await this.handleOf(g));
      } catch {
        // the buffer's own failure was reported when it happened
      } finally {
        g.handle = undefined;
        g.pending = undefined;
        this.unref(g.entry);
      }
    });
  }

  /** Wait for all queued work (async devices); resolves at once on sync ones. */
  async flush(): Promise<void> {
    await this.queue?.flush();
  }

  release(): void {
    const gpu = this.gpu;
    this.cache.clear();
    this.gpu = undefined;
    const webgpu = this.cfg.mode === 'webgpu';
    this.later(async () => {
      try {
        await gpu?.destroy();
      } catch {
        // already torn down
      }
      // NOTE: dawn.node polls with setImmediate while a GPUDevice lives (its `lost`
      // promise is pending), so Node cannot exit until the device is destroyed
      if (webgpu) await gpujs().WebGPUContext?.destroy();
    });
    if (this.queue) {
      const done = this.queue.flush();
      teardowns.set(this.name, done);
      void done.then(() => {
        if (teardowns.get(this.name) === done) teardowns.delete(this.name);
      });
    }
    this.onRelease();
  }

  info(): DeviceInfo {
    return {
      name: this.name,
      backend: this.adapter.backend,
      adapter: this.adapter.adapter,
      software: this.adapter.software,
      dtypes: this.dtypes,
      syncRead: this.syncRead,
      ...(this.adapter.notes?.length ? { notes: this.adapter.notes } : {}),
    };
  }

  /** The gpu.js mode a compiled kernel really runs on (gpu.js may degrade to cpu). */
  modeOf(e: Entry): string | undefined {
    return e.fn.kernel?.constructor.mode;
  }

  /** Run a tiny kernel end to end and check the numbers; null when right. */
  async selfTest(): Promise<string | null> {
    const a = this.upload(new Float32Array([1, 2, 3, 4, 5, 6, 7]), 'float32');
    const b = this.upload(new Float32Array([0.5, -1, 2, 0, 1, 1, -3]), 'float32');
    const key = 'probe|7|in0[gid] * 2.0 + in1[gid]';
    const k: Kernel = { name: 'probe', inputs: 2, size: 7, body: [], result: 'in0[gid] * 2.0 + in1[gid]', key };
    const c = this.run(k, [a, b], 'float32');
    try {
      const got = await this.read(c);
      const want = [2.5, 3, 8, 8, 11, 13, 11];
      if (got.length !== 7 || want.some((w, i) => got[i] !== w)) return `probe kernel returned [${Array.from(got).join(', ')}], expected [${want.join(', ')}]`;
      const entry = this.cache.get(`${key}#7,7`, () => {
        throw new Error('internal: probe kernel evicted');
      });
      const ran = this.modeOf(entry);
      // NOTE: gpu.js degrades kernels it cannot take to its cpu backend; headless-gl kernels report mode 'gpu'
      if (ran === 'cpu' && this.cfg.mode !== 'cpu') {
        return `gpu.js ran the probe kernel in mode '${ran}', not '${this.cfg.mode}' (${entry.fn.kernel?.fallbackReason ?? 'no reason given'})`;
      }
      return null;
    } finally {
      this.free(a);
      this.free(b);
      this.free(c);
    }
  }
}
