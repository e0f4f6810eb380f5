/**
 * `gg.io`: state dicts to and from safetensors files, so a PyTorch
 * `state_dict` moves both ways.
 *
 * float32 tensors are written as F32, float64 as F64, int32 as I32, int64
 * as I64, and so are float tensors marked as integers (those in
 * `gg.nn.integerTensors`, and any key ending `num_batches_tracked`). Loading
 * gives F32 → float32, F64 → float64, I32 → int32 and I64 → int64 (refused
 * past 2^53, where gpugrad's int64 would round: docs/notes/dtypes.md).
 *
 * Saving is asynchronous (`await gg.io.saveSafetensors(sd, path)`) because
 * tensors on asynchronous devices (WebGPU, ...) are read with `await t.data()`;
 * `toSafetensorsBytesSync` is there for devices that read synchronously (cpu).
 * Loading reads the file synchronously. Files go through the backend's
 * platform (../backend/platform/platform.ts): Node's file system under the
 * Node entry point; elsewhere use the `*Bytes` forms.
 *
 * In a web page there are no files: `fromSafetensorsBytes` takes a
 * `Uint8Array` or `ArrayBuffer`, `readSafetensors` also a `Blob` (a file
 * input's `File`) or a `fetch` `Response`, and `toSafetensorsBlob` gives a
 * `Blob` to download; the path functions say so when called there.
 */
import type { Tensor } from '../tensor/tensor.js';
import { tensor } from '../tensor/creation.js';
import type { DType, HostArray } from '../backend/types.js';
import { platform } from '../backend/platform/platform.js';
import { integerTensors } from './module.js';
import { decodeSafetensors, encodeSafetensors, SafetensorsError, type RawTensor } from './safetensors.js';

/** Options of the save functions. */
export interface SaveOptions {
  /** Header `__metadata__` (default `{ format: 'pt' }`, as PyTorch's writer). */
  metadata?: Record<string, string>;
}

/** Options of the load functions. */
export interface LoadOptions {
  /** Device of the loaded tensors (default: the default device). */
  device?: string;
  /** Convert every tensor to this dtype (default: F32 → float32, F64 → float64, I32 → int32, I64 → int64). */
  dtype?: DType;
}

/** A module's state: names to tensors, as an object or a Map. */
export type StateDict = Record<string, Tensor> | Map<string, Tensor>;

function entries(sd: StateDict): [string, Tensor][] {
  return sd instanceof Map ? [...sd.entries()] : Object.entries(sd);
}

function isInteger(key: string, t: Tensor): boolean {
  return t.dtype === 'int64' || integerTensors.has(t) || key.endsWith('num_batches_tracked');
}

/** The dtype each safetensors dtype loads as. */
const FROM_FILE: Readonly<Record<RawTensor['dtype'], DType>> = { F32: 'float32', F64: 'float64', I32: 'int32', I64: 'int64' };

/** I64's range is [-2^63, 2^63); 2^63 itself is a float64, so the comparison is exact. */
const I64_LIMIT = 2 ** 63;

function raw(key: string, t: Tensor, data: HostArray): RawTensor {
  const shape = [...t.shape];
  if (t.dtype === 'int32') return { dtype: 'I32', shape, data: Int32Array.from(data) };
  if (isInteger(key, t)) {
    const out = new BigInt64Array(data.length);
    for (let i = 0; i < data.length; i++) {
      const v = Math.round(data[i] as number);
      // NOTE: BigInt64Array wraps out-of-range values silently and BigInt(NaN) throws a bare RangeError
      if (!Number.isFinite(v) || v < -I64_LIMIT || v >= I64_LIMIT) {
        throw new SafetensorsError(`cannot save "${key}" as I64: element ${i} is ${v}, outside the int64 range [-2^63, 2^63)`);
      }
      out[i] = BigInt(v);
    }
    return { dtype: 'I64', shape, data: out };
  }
  if (t.dtype === 'float64') return { dtype: 'F64', shape, data: Float64Array.from(data) };
  return { dtype: 'F32', shape, data: Float32Array.from(data) };
}

/**
 * The safetensors bytes of a state dict (waits for asynchronous devices).
 * @example const bytes = await gg.io.toSafetensorsBytes(model.stateDict());
 */
export async function toSafetensorsBytes(sd: StateDict, opts: SaveOptions = {}): Promise<Uint8Array> {
  const list: [string, RawTensor][] = [];
  for (const [k, t] of entries(sd)) list.push([k, raw(k, t, await t.data())]);
  return encodeSafetensors(new Map(list), opts.metadata ?? { format: 'pt' });
}

/**
 * `toSafetensorsBytes` for tensors on devices that read synchronously (cpu).
 * @example const bytes = gg.io.toSafetensorsBytesSync(model.stateDict());
 */
export function toSafetensorsBytesSync(sd: StateDict, opts: SaveOptions = {}): Uint8Array {
  const list: [string, RawTensor][] = entries(sd).map(([k, t]) => [k, raw(k, t, t.dataSync())]);
  return encodeSafetensors(new Map(list), opts.metadata ?? { format: 'pt' });
}

/**
 * Write a state dict as a safetensors file.
 * @example await gg.io.saveSafetensors(model.stateDict(), 'model.safetensors');
 */
export async function saveSafetensors(sd: StateDict, path: string, opts: SaveOptions = {}): Promise<void> {
  platform().writeFile(path, await toSafetensorsBytes(sd, opts));
}

/**
 * The safetensors bytes of a state dict as a `Blob` (type
 * `application/octet-stream`), e.g. for a download link in a web page.
 * @example const url = URL.createObjectURL(await gg.io.toSafetensorsBlob(model.stateDict()));
 */
export async function toSafetensorsBlob(sd: StateDict, opts: SaveOptions = {}): Promise<BlobType> {
  const bytes = await toSafetensorsBytes(sd, opts);
  return new Blob([bytes], { type: 'application/octet-stream' });
}

/**
 * What a `Blob`, a `File` and a `fetch` `Response` share here. Structural, so
 * gpugrad's published types need neither the DOM library nor @types/node.
 */
export interface BytesBody {
  arrayBuffer(): Promise<ArrayBuffer>;
}

/**
 * `Blob` where the consumer's TypeScript declares it (the DOM library or
 * @types/node), else {@link BytesBody}: naming `Blob` directly would fail to
 * type-check in a project that has neither.
 */
export type BlobType = typeof globalThis extends { Blob: { prototype: infer B } } ? B : BytesBody;

/** Anything that holds safetensors bytes: bytes, a buffer, a `Blob`/`File`, or a `fetch` `Response`. */
export type SafetensorsSource = Uint8Array | ArrayBuffer | BytesBody;

/**
 * Tensors from safetensors bytes held by `source` (`Uint8Array`, `ArrayBuffer`,
 * `Blob`/`File`, or a `fetch` `Response`, whose body is read here). Works in
 * Node and in web pages. Throws what `fromSafetensorsBytes` throws, and on a
 * `Response` that is not ok (HTTP status outside 200-299).
 * @example const sd = await gg.io.readSafetensors(await fetch('model.safetensors'));
 */
export async function readSafetensors(source: SafetensorsSource, opts: LoadOptions = {}): Promise<Record<string, Tensor>> {
  if (source instanceof Uint8Array || source instanceof ArrayBuffer) return fromSafetensorsBytes(source, opts);
  // a fetch Response carries ok/status/url; a Blob has none of them
  const res = source as { ok?: unknown; status?: unknown; url?: unknown };
  if (res.ok === false) {
    const url = typeof res.url === 'string' && res.url ? res.url : 'the request';
    throw new Error(`readSafetensors: the response for ${url} has HTTP status ${String(res.status)}`);
  }
  return fromSafetensorsBytes(new Uint8Array(await source.arrayBuffer()), opts);
}

/**
 * Tensors from safetensors bytes, in the file's order (note: a plain object
 * lists integer-like keys such as "0" first; dotted keys keep their order).
 * @example const sd = gg.io.fromSafetensorsBytes(bytes);
 */
export function fromSafetensorsBytes(bytes: Uint8Array | ArrayBuffer, opts: LoadOptions = {}): Record<string, Tensor> {
  const { tensors } = decodeSafetensors(bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes));
  const out: Record<string, Tensor> = {};
  try {
    for (const [k, r] of tensors) {
      const dtype: DType = opts.dtype ?? FROM_FILE[r.dtype];
      // BigInt64Array data: tensor() refuses a value beyond 2^53 rather than round it
      const t = tensor(r.data, { shape: r.shape, dtype, ...(opts.device ? { device: opts.device } : {}) });
      if (r.dtype === 'I64') integerTensors.add(t);
      // NOTE: defined, not assigned: `out['__proto__'] = t` would set the prototype and lose the tensor
      Object.defineProperty(out, k, { value: t, enumerable: true, writable: true, configurable: true });
    }
  } catch (e) {
    // a failed load leaves nothing behind
    for (const t of Object.values(out)) t.dispose();
    throw e;
  }
  return out;
}

/**
 * Read a safetensors file (e.g. written by PyTorch's `safetensors.torch.save_file`).
 * @example model.loadStateDict(gg.io.loadSafetensors('model.safetensors'));
 */
export function loadSafetensors(path: string, opts: LoadOptions = {}): Record<string, Tensor> {
  return fromSafetensorsBytes(platform().readFile(path), opts);
}
