/**
 * The device interface: allocate, upload, download, free, run a kernel.
 * Nothing here knows about tensors or gradients.
 */
import type { GemmSpec, Kernel } from './kernel.js';
import { profiling, recordKernel } from './profile.js';
import { bytesOf, hostArray, isIntegralDtype, type DType, type HostArray } from './types.js';

/** An opaque handle to memory owned by a device. */
export interface DeviceBuffer {
  readonly device: Device;
  readonly size: number;
  readonly dtype: DType;
  /** Set once the buffer is freed; reading it afterwards is a bug upstream. */
  freed: boolean;
}

/** Live memory and traffic counters of one device (see `gg.memory()`). */
export interface DeviceStats {
  liveBuffers: number;
  liveBytes: number;
  uploads: number;
  downloads: number;
  kernelRuns: number;
  kernelsCompiled: number;
}

/** What a device is running on (see `gg.deviceInfo()`). */
export interface DeviceInfo {
  name: string;
  backend: string;
  adapter: string;
  software: boolean;
  dtypes: readonly DType[];
  syncRead: boolean;
  /** What opening the device skipped or noticed (e.g. Dawn's warnings kept off the terminal); GPUGRAD_DEBUG=1 prints them. */
  notes?: readonly string[];
}

/**
 * Base class of every device: it keeps the counters and the empty-buffer
 * cases so each implementation only moves data and runs kernels.
 */
export abstract class Device {
  abstract readonly name: string;
  abstract readonly dtypes: readonly DType[];
  /** Whether `readSync` can work on this device. */
  abstract readonly syncRead: boolean;
  /**
   * The largest integer magnitude this device's int32/int64 storage holds
   * exactly (2^53 where int64 lives in float64, 2^24 where integers live in
   * float32); a larger value is refused at upload (docs/notes/dtypes.md).
   */
  abstract readonly exactIntegers: number;
  /**
   * Whether a fused kernel's comparisons keep IEEE NaN semantics inside one
   * kernel (`NaN <= 0` false, `NaN != NaN` true). Shader compilers may fold
   * a chain of comparisons as if no value were NaN (WebGL, WebGPU: relu(NaN)
   * came out 0), where one op per kernel keeps them apart; so chains whose
   * NaN results matter (relu, max's backward) fuse only where this holds.
   */
  readonly fusesNanExactly: boolean = false;
  readonly stats: DeviceStats = { liveBuffers: 0, liveBytes: 0, uploads: 0, downloads: 0, kernelRuns: 0, kernelsCompiled: 0 };
  /** Set by `releaseDevice`: this instance's buffers are gone (a later `getDevice` opens a new one). */
  released = false;

  /** Refuse a buffer from a released device with a message a user can act on. */
  protected checkOwner(b: DeviceBuffer): void {
    if (b.device.released) {
      throw new Error(`a tensor on '${b.device.name}' was used after releaseDevice('${b.device.name}'): its data is gone; create the tensor again (or move it to another device before releasing)`);
    }
  }

  protected abstract uploadImpl(data: HostArray, dtype: DType): DeviceBuffer;
  protected abstract runImpl(kernel: Kernel, inputs: readonly DeviceBuffer[], dtype: DType): DeviceBuffer;
  protected abstract readImpl(buf: DeviceBuffer): Promise<HostArray>;
  protected abstract readSyncImpl(buf: DeviceBuffer): HostArray;
  protected abstract freeImpl(buf: DeviceBuffer): void;
  /** Drop compiled kernels and everything else the device holds. */
  abstract release(): void;
  abstract info(): DeviceInfo;

  /**
   * Whether this device's matmul reads its operands through any strides at
   * full speed (it packs them itself), so callers need not copy a transposed
   * operand first. The cpu device's float32 WebAssembly gemm does.
   */
  readsStridedMatmul(dtype: DType): boolean {
    void dtype;
    return false;
  }

  /**
   * Whether the `addmm` primitive (a matrix product plus a bias, Linear's
   * x·Wᵀ + b) runs as ONE kernel here, the matmul kernel with its bias
   * epilogue (`kernels.matmul`'s `bias`), with the same values as the
   * product's kernel followed by the add's. Otherwise addmm runs those two
   * kernels. Default: never (a gpu.js mode may keep the sum in float64 and
   * round once, where the two kernels round twice); the cpu device says yes
   * for float64 (its loop sums in float64 either way) and for float32 products
   * its WebAssembly gemm takes (its float32 tile plus one float32 add).
   */
  fusesBias(dtype: DType, spec: GemmSpec): boolean {
    void dtype;
    void spec;
    return false;
  }

  /** Check that this device can hold `dtype`. */
  checkDtype(dtype: DType): void {
    if (!this.dtypes.includes(dtype)) {
      throw new Error(`dtype ${dtype} is not supported on device '${this.name}' (it supports ${this.dtypes.join(', ')}); use the 'cpu' device for ${dtype}`);
    }
  }

  /** Copy host data to a new device buffer. */
  upload(data: HostArray, dtype: DType): DeviceBuffer {
    this.checkDtype(dtype);
    if (isIntegralDtype(dtype)) this.checkExact(data, dtype);
    this.stats.uploads++;
    return this.track(data.length === 0 ? this.emptyBuffer(dtype) : this.uploadImpl(data, dtype));
  }

  /** Refuse integer values this device would round (never silently; docs/notes/dtypes.md). */
  checkExact(data: ArrayLike<number>, dtype: DType): void {
    const limit = this.exactIntegers;
    for (let i = 0; i < data.length; i++) {
      const v = data[i] ?? 0;
      if (v > limit || v < -limit) {
        const where = limit === 2 ** 24 ? 'float32 (exact for |v| <= 2^24 = 16777216); use the \'cpu\' device (exact to 2^53)' : 'float64 (exact for |v| <= 2^53 = 9007199254740992)';
        throw new RangeError(`${dtype} value ${v} cannot be held exactly on device '${this.name}': it stores ${dtype} as ${where}; gpugrad refuses it rather than round it`);
      }
    }
  }

  /** Run a kernel over input buffers into a new buffer of `dtype`. */
  run(kernel: Kernel, inputs: readonly DeviceBuffer[], dtype: DType): DeviceBuffer {
    this.checkDtype(dtype);
    for (const b of inputs) {
      this.checkOwner(b);
      if (b.freed) throw new Error(`internal: kernel ${kernel.name} reads a freed buffer`);
      if (b.device !== this) throw new Error(`internal: kernel ${kernel.name} on '${this.name}' got a buffer of '${b.device.name}'`);
    }
    if (kernel.size === 0) return this.track(this.emptyBuffer(dtype));
    this.stats.kernelRuns++;
    if (!profiling()) return this.track(this.runImpl(kernel, inputs, dtype));
    const t0 = performance.now();
    const buf = this.runImpl(kernel, inputs, dtype);
    recordKernel(this.name, kernel, dtype, t0, this.settled(buf));
    return this.track(buf);
  }

  /** For `gg.profile`: a promise of `buf`'s data on devices that queue work; null where runs finish in the call. */
  protected settled(buf: DeviceBuffer): Promise<unknown> | null {
    void buf;
    return null;
  }

  /** Read a buffer back to the host, after all queued work that writes it. */
  async read(buf: DeviceBuffer): Promise<HostArray> {
    this.checkOwner(buf);
    if (buf.size === 0) return hostArray(buf.dtype, 0);
    this.stats.downloads++;
    const data = await this.readImpl(buf);
    await giveFinalizersATurn();
    return data;
  }

  /** Read synchronously; throws on devices whose results arrive later. */
  readSync(buf: DeviceBuffer): HostArray {
    if (!this.syncRead) {
      throw new Error(`dataSync() is not available on device '${this.name}': its results arrive asynchronously; use 'await t.data()' instead`);
    }
    this.checkOwner(buf);
    if (buf.size === 0) return hostArray(buf.dtype, 0);
    this.stats.downloads++;
    return this.readSyncImpl(buf);
  }

  /** Free a buffer; freeing twice is harmless. */
  free(buf: DeviceBuffer): void {
    if (buf.freed) return;
    buf.freed = true;
    this.stats.liveBuffers--;
    this.stats.liveBytes -= buf.size * bytesOf(buf.dtype);
    if (buf.size > 0) this.freeImpl(buf);
  }

  protected track(buf: DeviceBuffer): DeviceBuffer {
    this.stats.liveBuffers++;
    this.stats.liveBytes += buf.size * bytesOf(buf.dtype);
    return buf;
  }

  private emptyBuffer(dtype: DType): DeviceBuffer {
    return { device: this, size: 0, dtype, freed: false };
  }
}

let lastTurn = 0;

/**
 * Let the event loop run a macrotask now and then (at most every 2 ms).
 * NOTE: FinalizationRegistry callbacks run as tasks; a training loop whose
 * reads resolve as microtasks never yields to one, so handles the garbage
 * collector found would never release their buffers (README "Memory").
 */
function giveFinalizersATurn(): Promise<void> | void {
  const now = Date.now();
  if (now - lastTurn < 2) return;
  lastTurn = now;
  const g = globalThis as { setImmediate?: (cb: () => void) => unknown };
  return new Promise((resolve) => (g.setImmediate ? g.setImmediate(resolve) : setTimeout(resolve, 0)));
}

/**
 * A small least-recently-used cache of compiled kernels, keyed by kernel
 * text. Bounded because gradcheck and shape sweeps create many shapes.
 */
export class KernelCache<V> {
  private readonly map = new Map<string, V>();
  constructor(
    private readonly limit: number,
    private readonly onEvict: (v: V) => void = () => undefined,
  ) {}

  get(key: string, make: () => V): V {
    const hit = this.map.get(key);
    if (hit !== undefined) {
      this.map.delete(key);
      this.map.set(key, hit);
      return hit;
    }
    const v = make();
    this.map.set(key, v);
    if (this.map.size > this.limit) {
      const oldest = this.map.keys().next().value;
      if (oldest !== undefined) {
        const old = this.map.get(oldest);
        this.map.delete(oldest);
        if (old !== undefined) this.onEvict(old);
      }
    }
    return v;
  }

  clear(): void {
    for (const v of this.map.values()) this.onEvict(v);
    this.map.clear();
  }

  get size(): number {
    return this.map.size;
  }
}
