/**
 * gpu.js devices: one class, four modes.
 *
 * - `gpu:cpu`        gpu.js mode 'cpu' (transpiled JavaScript), synchronous.
 * - `gpu:webasm`     mode 'webasm' under the async contract (`asyncMode: true`),
 *                    so kernels of 4096+ cells split across worker threads.
 * - `gpu:headlessgl` WebGL 1 through the `gl` package; needs an X display.
 * - `gpu:webgpu`     WGSL compute shaders on Dawn (the `webgpu` package).
 *
 * Every kernel is rendered from the one kernel IR (kernel.ts) as
 * `function (in0, in1, ...) { const gid = this.thread.x; BODY; return RESULT; }`
 * and compiled once per (device, kernel text, input sizes). Results stay on
 * the device as gpu.js pipeline handles (`pipeline: true, immutable: true`:
 * a fresh texture/buffer per run, freed with `.delete()`); only reads download.
 *
 * Asynchronous modes (webasm, webgpu) keep a per-device serial queue: `run`
 * returns a buffer at once holding a promise of its handle, and every run,
 * free and read is chained on the queue so they happen in call order.
 * A failure in queued work rejects the reads of the buffers it produced and
 * the next read of anything, once (see docs/notes/devices.md).
 */
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { Device, KernelCache, type DeviceBuffer, type DeviceInfo } from './device.js';
import type { Kernel } from './kernel.js';
import type { DType, HostArray } from './types.js';
import { findWebGpuAdapter, isGlBackend, isSoftwareRenderer } from './webgpu-adapter.js';

export const gpuDeviceNames = ['gpu:webgpu', 'gpu:headlessgl', 'gpu:webasm', 'gpu:cpu'] as const;
export type GpuDeviceName = (typeof gpuDeviceNames)[number];

type Mode = 'cpu' | 'webasm' | 'headlessgl' | 'webgpu';

// ---- the minimal shape of gpu.js we use (it ships CommonJS and loose typings) ----

/** A pipeline result: GL texture or WebGPU buffer handle. cpu/webasm return plain arrays. */
interface GpuJsHandle {
  toArray(): unknown;
  delete(): void;
}
type Handle = Float32Array | GpuJsHandle;

interface GpuJsKernelImpl {
  readonly constructor: { readonly mode?: string };
  readonly fallbackReason?: string | null;
}
interface GpuJsKernel {
  (...args: unknown[]): unknown;
  destroy(removeCanvasReferences?: boolean): void;
  readonly kernel?: GpuJsKernelImpl;
}
type KernelSource = (...args: never[]) => unknown;
interface GpuJs {
  createKernel(source: KernelSource, settings: Record<string, unknown>): GpuJsKernel;
  destroy(): unknown;
}
type GpuJsModule = {
  WebGPUContext?: { destroy(): Promise<void> };
  GPU: (new (settings: { mode: string }) => GpuJs) & { readonly isHeadlessGLSupported?: boolean; readonly isWebAssemblySupported?: boolean };
};
interface GlContext {
  getParameter(p: number): unknown;
  getExtension(name: string): { destroy?: () => void } | null;
}
type GlFactory = (w: number, h: number) => GlContext | null;

const require = createRequire(import.meta.url);
let gpujsModule: GpuJsModule | undefined;
function gpujs(): GpuJsModule {
  return (gpujsModule ??= require('gpu.js') as GpuJsModule);
}

// ---- per-mode facts ----

interface ModeConfig {
  readonly mode: Mode;
  /** Runs resolve later: use the serial queue, no synchronous reads. */
  readonly async: boolean;
  /** Results are host typed arrays (cpu, webasm): upload is a copy, free drops the reference. */
  readonly hostMemory: boolean;
  /** Compiled kernels kept per device. */
  readonly cacheSize: number;
}

const modes: Record<GpuDeviceName, ModeConfig> = {
  'gpu:cpu': { mode: 'cpu', async: false, hostMemory: true, cacheSize: 512 },
  'gpu:webasm': { mode: 'webasm', async: true, hostMemory: true, cacheSize: 256 },
  'gpu:headlessgl': { mode: 'headlessgl', async: false, hostMemory: false, cacheSize: 256 },
  'gpu:webgpu': { mode: 'webgpu', async: true, hostMemory: false, cacheSize: 256 },
};

/** What a device runs on, found once per mode. */
interface Platform {
  readonly backend: string;
  readonly adapter: string;
  readonly software: boolean;
}

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

const noop = (): void => undefined;

function asError(e: unknown): Error {
  return e instanceof Error ? e : new Error(String(e));
}

function isHandle(v: unknown): v is GpuJsHandle {
  return typeof v === 'object' && v !== null && typeof (v as GpuJsHandle).toArray === 'function' && typeof (v as GpuJsHandle).delete === 'function';
}

function asHandle(v: unknown, what: string): Handle {
  if (v instanceof Float32Array || isHandle(v)) return v;
  throw new Error(`internal: gpu.js kernel ${what} returned ${Object.prototype.toString.call(v)}, expected a pipeline handle`);
}

/** Flatten what `toArray()` gives (a Float32Array for 1D outputs) into one Float32Array. */
function flat(v: unknown, size: number): Float32Array {
  if (v instanceof Float32Array) return v.length === size ? v : v.slice(0, size);
  if (Array.isArray(v)) {
    const out = new Float32Array(size);
    let at = 0;
    const walk = (x: unknown): void => {
      if (x instanceof Float32Array) {
        out.set(x.subarray(0, Math.min(x.length, size - at)), at);
        at += x.length;
      } else if (Array.isArray(x)) x.forEach(walk);
      else if (typeof x === 'number') out[at++] = x;
    };
    walk(v);
    return out;
  }
  throw new Error(`internal: gpu.js readback gave ${Object.prototype.toString.call(v)}`);
}

/** The kernel IR rendered as a gpu.js kernel function. */
function renderSource(kernel: Kernel): KernelSource {
  const params = Array.from({ length: kernel.inputs }, (_, k) => `in${k}`);
  const src = `const gid = this.thread.x; ${kernel.body.join(' ')} return ${kernel.result};`;
  return new Function(...params, src) as KernelSource;
}

/** A gpu.js mode as a gpugrad device. */
class GpuJsDevice extends Device {
  readonly dtypes: readonly DType[] = ['float32'];
  readonly syncRead: boolean;
  private readonly cfg: ModeConfig;
  private gpu: GpuJs | undefined;
  private readonly cache: KernelCache<Entry>;
  /** The serial queue of async devices: settles when all work enqueued so far has. */
  private tail: Promise<void> = Promise.resolve();
  /** First failure in queued work not yet reported by a read. */
  private failure: Error | undefined;

  constructor(
    readonly name: GpuDeviceName,
    private readonly platform: Platform,
    private readonly onRelease: () => void = noop,
  ) {
    super();
    this.cfg = modes[name];
    this.syncRead = !this.cfg.async;
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

  private compile(kernel: Kernel, sizes: readonly number[]): Entry {
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
    void sizes;
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
    if (!this.cfg.async) {
      void work();
      return;
    }
    this.tail = this.tail.then(work).then(noop, (e: unknown) => {
      this.failure ??= asError(e);
    });
  }

  /** Chain work on the queue; its failure is also remembered for the next read. */
  private enqueue<T>(work: () => Promise<T>): Promise<T> {
    const p = this.tail.then(work);
    this.tail = p.then(noop, (e: unknown) => {
      this.failure ??= asError(e);
    });
    return p;
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
    const entry = this.cache.get(key, () => this.compile({ name: 'upload', inputs: 1, size: host.length, body: [], result: 'in0[gid]', key }, [host.length]));
    return this.launch(entry, 'upload', host.length, dtype, [host], []);
  }

  protected runImpl(kernel: Kernel, inputs: readonly DeviceBuffer[], dtype: DType): DeviceBuffer {
    const sizes = inputs.map((b) => b.size);
    const entry = this.cache.get(`${kernel.key}#${sizes.join(',')}`, () => this.compile(kernel, sizes));
    return this.launch(entry, kernel.name, kernel.size, dtype, [], inputs);
  }

  /** Call a compiled kernel on host arrays (upload) or device buffers. */
  private launch(entry: Entry, what: string, size: number, dtype: DType, host: Float32Array[], inputs: readonly DeviceBuffer[]): GpuBuffer {
    const buf = this.wrap(size, dtype, entry);
    entry.live++;
    if (!this.cfg.async) {
      try {
        const args = host.length ? host : inputs.map((b) => this.readyHandle(b));
        buf.handle = asHandle(entry.fn(...args), what);
      } catch (e) {
        this.unref(entry);
        throw e;
      }
      return buf;
    }
    const pending = this.enqueue(async () => {
      const args = host.length ? host : await Promise.all(inputs.map((b) => this.handleOf(b)));
      return asHandle(await entry.fn(...args), what);
    });
    buf.pending = pending;
    return buf;
  }

  protected readImpl(buf: DeviceBuffer): Promise<HostArray> {
    if (!this.cfg.async) {
      try {
        return Promise.resolve(this.readSyncImpl(buf));
      } catch (e) {
        return Promise.reject(asError(e));
      }
    }
    const p = this.tail.then(async () => {
      const h = await this.handleOf(buf);
      return h instanceof Float32Array ? h.slice() : flat(await h.toArray(), buf.size);
    });
    this.tail = p.then(noop, noop);
    return p.then(
      (data) => {
        const f = this.failure;
        if (f) {
          this.failure = undefined;
          throw f;
        }
        return data;
      },
      (e: unknown) => {
        this.failure = undefined;
        throw asError(e);
      },
    );
  }

  protected readSyncImpl(buf: DeviceBuffer): HostArray {
    const h = this.readyHandle(buf);
    if (h instanceof Float32Array) return h.slice();
    const v = h.toArray();
    if (v instanceof Promise) throw new Error(`internal: '${this.name}' read asynchronously`);
    return flat(v, buf.size);
  }

  protected freeImpl(buf: DeviceBuffer): void {
    const g = buf as GpuBuffer;
    const drop = (h: Handle): void => {
      if (!(h instanceof Float32Array)) h.delete();
    };
    if (!this.cfg.async) {
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
    await this.tail;
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
    this.onRelease();
  }

  info(): DeviceInfo {
    return {
      name: this.name,
      backend: this.platform.backend,
      adapter: this.platform.adapter,
      software: this.platform.software,
      dtypes: this.dtypes,
      syncRead: this.syncRead,
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

// ---- platforms ----

const glParam = { RENDERER: 0x1f01, VERSION: 0x1f02, VENDOR: 0x1f00 } as const;

/**
 * Which device drives the system OpenGL in this process.
 * NOTE: measured here (Mesa 22.3, Xvfb): once Dawn's OpenGL ES backend has
 * an EGL context, creating a headless-gl (GLX) context kills the process with
 * an X error (BadAccess on X_GLXMakeCurrent); the other way round Dawn finds
 * no GL ES adapter. So the first of the two to start owns GL and the other
 * reports why it is unavailable. WebGPU on Vulkan/Metal/D3D does not conflict.
 */
let glOwner: 'gpu:headlessgl' | 'gpu:webgpu' | undefined;

function glPlatform(): Platform | string {
  if (glOwner === 'gpu:webgpu') {
    return "headless-gl is not started: WebGPU runs on Dawn's OpenGL ES backend in this process, and the two cannot share a process here (set GPUGRAD_WEBGPU_BACKEND=vulkan, or use gpu:headlessgl in a process that does not open gpu:webgpu)";
  }
  let factory: GlFactory;
  try {
    factory = require('gl') as GlFactory;
  } catch (e) {
    return `the 'gl' package (headless-gl) does not load: ${asError(e).message.split('\n')[0] ?? ''}`;
  }
  let ctx: GlContext | null = null;
  try {
    ctx = factory(1, 1);
  } catch (e) {
    return `headless-gl could not create a context: ${asError(e).message}`;
  }
  if (ctx) glOwner = 'gpu:headlessgl';
  if (!ctx) {
    const display = process.env['DISPLAY'];
    return display
      ? `headless-gl returned no WebGL context on DISPLAY=${display}`
      : 'headless-gl returned no WebGL context: no X display (DISPLAY is unset); run under xvfb-run -a -s "-screen 0 1x1x24" (scripts/with-display.mjs does this)';
  }
  const str = (p: number): string => {
    const v = ctx?.getParameter(p);
    return typeof v === 'string' ? v : '';
  };
  const renderer = [str(glParam.VENDOR), str(glParam.RENDERER), str(glParam.VERSION)].filter(Boolean).join(' / ');
  ctx.getExtension('STACKGL_destroy_context')?.destroy?.();
  // NOTE: headless-gl masks the driver ("stack-gl / ANGLE") and has no WEBGL_debug_renderer_info;
  // on Linux a machine without a DRM device (/dev/dri) can only be rendering in software (llvmpipe)
  const noGpu = process.platform === 'linux' && !existsSync('/dev/dri');
  const adapter = `${renderer || 'unknown GL renderer'}${noGpu ? ' (no /dev/dri: Mesa software rasterizer)' : ''}`;
  return { backend: 'WebGL 1 (headless-gl, GLSL ES 1.0 fragment shaders)', adapter, software: noGpu || isSoftwareRenderer(renderer) };
}

/** Platforms found without waiting: everything but WebGPU's adapter. */
function syncPlatform(name: Exclude<GpuDeviceName, 'gpu:webgpu'>): Platform | string {
  switch (name) {
    case 'gpu:cpu':
      return { backend: 'gpu.js cpu (transpiled JavaScript)', adapter: 'host CPU', software: true };
    case 'gpu:webasm': {
      if (gpujs().GPU.isWebAssemblySupported === false) return 'WebAssembly is not supported by this runtime';
      return { backend: 'gpu.js webasm (WebAssembly f32x4 SIMD, worker threads)', adapter: `host CPU, ${availableParallelism()} threads`, software: true };
    }
    case 'gpu:headlessgl':
      return glPlatform();
    default:
      return name satisfies never;
  }
}

async function platformOf(name: GpuDeviceName): Promise<Platform | string> {
  if (name !== 'gpu:webgpu') return syncPlatform(name);
  const found = await findWebGpuAdapter(glOwner !== 'gpu:headlessgl');
  if (typeof found === 'string') return found;
  if (isGlBackend(found.backend)) glOwner = 'gpu:webgpu';
  return { backend: `WebGPU (Dawn ${found.backend})`, adapter: found.adapter, software: found.software };
}

const platforms = new Map<GpuDeviceName, Promise<Platform | string>>();
const probes = new Map<GpuDeviceName, Promise<string | null>>();
const opened = new Map<GpuDeviceName, GpuJsDevice>();

function platform(name: GpuDeviceName): Promise<Platform | string> {
  let p = platforms.get(name);
  if (!p) {
    p = platformOf(name).catch((e: unknown) => `probing '${name}' failed: ${asError(e).message}`);
    platforms.set(name, p);
  }
  return p;
}

/** Settled platforms, so `openGpuDevice` can stay synchronous after a probe. */
const settled = new Map<GpuDeviceName, Platform | string>();

/**
 * Open the device `name`. Call `probeGpuDevice(name)` first: it finds the
 * platform (the WebGPU adapter in particular is only found asynchronously).
 */
export function openGpuDevice(name: GpuDeviceName): Device {
  const hit = opened.get(name);
  if (hit) return hit;
  let p = settled.get(name);
  if (p === undefined && name !== 'gpu:webgpu') {
    p = syncPlatform(name);
    settled.set(name, p);
  }
  if (p === undefined) throw new Error(`device '${name}' is not probed yet: call 'await gg.availableDevices()' (or 'await gg.initDevice("${name}")') before using it`);
  if (typeof p === 'string') throw new Error(`device '${name}' is not available here: ${p}`);
  const dev = new GpuJsDevice(name, p, () => {
    if (opened.get(name) === dev) opened.delete(name);
  });
  opened.set(name, dev);
  return dev;
}

/** Check that `name` really runs here: null when it does, else the reason. Cached per process. */
export function probeGpuDevice(name: GpuDeviceName): Promise<string | null> {
  let p = probes.get(name);
  if (!p) {
    p = (async (): Promise<string | null> => {
      const plat = await platform(name);
      settled.set(name, plat);
      if (typeof plat === 'string') return plat;
      try {
        const dev = openGpuDevice(name) as GpuJsDevice;
        const bad = await dev.selfTest();
        if (bad !== null) {
          settled.set(name, bad);
          dev.release();
        }
        return bad;
      } catch (e) {
        const reason = `device '${name}' failed its probe kernel: ${asError(e).message.split('\n')[0] ?? ''}`;
        settled.set(name, reason);
        opened.get(name)?.release();
        return reason;
      }
    })();
    probes.set(name, p);
  }
  return p;
}

/** Wait until every queued operation of an async gpu.js device has settled (tests, benchmarks). */
export async function flushGpuDevice(dev: Device): Promise<void> {
  if (dev instanceof GpuJsDevice) await dev.flush();
}
