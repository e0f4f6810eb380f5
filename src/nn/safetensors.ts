/**
 * Pure encoder/decoder for the safetensors file format
 * (https://github.com/huggingface/safetensors), independent of the tensor core.
 *
 * Layout:
 * ```
 * [8 bytes]  N: little-endian u64, length of the JSON header in bytes
 * [N bytes]  JSON: { "__metadata__"?: {str: str}, name: { dtype, shape, data_offsets: [begin, end] }, ... }
 *            padded with spaces (0x20) so that 8 + N is a multiple of 8
 * [rest]     raw little-endian tensor bytes; data_offsets are relative to the start of this section
 * ```
 * The decoder follows the reference (Rust) implementation's validation: the
 * tensors' byte ranges, sorted by offset, must tile the data section exactly
 * (no gaps, no overlaps, no trailing bytes), and each range must be exactly
 * `product(shape) * sizeof(dtype)` bytes long.
 *
 * @module
 */

/** The dtypes this module reads and writes, with safetensors' spelling. */
export type SafetensorsDtype = 'F32' | 'F64' | 'I32' | 'I64';

/**
 * One tensor as plain data: a dtype, a shape and a flat row-major array.
 *
 * @example
 * ```ts
 * const w: RawTensor = { dtype: 'F32', shape: [2, 2], data: new Float32Array([1, 2, 3, 4]) };
 * ```
 */
export interface RawTensor {
  dtype: SafetensorsDtype;
  shape: number[];
  data: Float32Array | Float64Array | Int32Array | BigInt64Array;
}

/**
 * Thrown for every malformed input, to `encodeSafetensors` or `decodeSafetensors`.
 * Messages start with `safetensors:`.
 *
 * @example
 * ```ts
 * try { decodeSafetensors(new Uint8Array(3)); } catch (e) { if (e instanceof SafetensorsError) console.log(e.message); }
 * ```
 */
export class SafetensorsError extends Error {
  constructor(message: string) {
    super(`safetensors: ${message}`);
    this.name = 'SafetensorsError';
  }
}

/** Bytes per element for each supported dtype. */
const DTYPE_SIZE: Readonly<Record<SafetensorsDtype, number>> = { F32: 4, F64: 8, I32: 4, I64: 8 };

/** The header key reserved for free-form string metadata. */
const METADATA_KEY = '__metadata__';

/**
 * Largest header accepted when decoding (the reference implementation's limit),
 * so a corrupt length cannot make us try to decode gigabytes of "JSON".
 */
const MAX_HEADER_BYTES = 100_000_000;

const HOST_IS_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function isSupportedDtype(d: string): d is SafetensorsDtype {
  return d === 'F32' || d === 'F64' || d === 'I32' || d === 'I64';
}

function shapeString(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}

function numel(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

function isValidDim(d: unknown): d is number {
  return typeof d === 'number' && Number.isSafeInteger(d) && d >= 0;
}

function expectedArrayName(dtype: SafetensorsDtype): string {
  switch (dtype) {
    case 'F32':
      return 'Float32Array';
    case 'F64':
      return 'Float64Array';
    case 'I32':
      return 'Int32Array';
    case 'I64':
      return 'BigInt64Array';
    default: {
      const never: never = dtype;
      return never;
    }
  }
}

function dataMatchesDtype(t: RawTensor): boolean {
  switch (t.dtype) {
    case 'F32':
      return t.data instanceof Float32Array;
    case 'F64':
      return t.data instanceof Float64Array;
    case 'I32':
      return t.data instanceof Int32Array;
    case 'I64':
      return t.data instanceof BigInt64Array;
    default: {
      const never: never = t.dtype;
      return never;
    }
  }
}

/** Write `t.data` into `out` at `offset` as little-endian bytes. */
function writeLittleEndian(out: Uint8Array, offset: number, t: RawTensor): void {
  const data = t.data;
  if (HOST_IS_LITTLE_ENDIAN) {
    out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), offset);
    return;
  }
  const view = new DataView(out.buffer, out.byteOffset + offset, data.byteLength);
  if (data instanceof Float32Array) data.forEach((v, i) => view.setFloat32(i * 4, v, true));
  else if (data instanceof Float64Array) data.forEach((v, i) => view.setFloat64(i * 8, v, true));
  else if (data instanceof Int32Array) data.forEach((v, i) => view.setInt32(i * 4, v, true));
  else data.forEach((v, i) => view.setBigInt64(i * 8, v, true));
}

/** Copy `byteLength` little-endian bytes at `start` of `bytes` into a fresh typed array. */
function readLittleEndian(
  bytes: Uint8Array,
  start: number,
  byteLength: number,
  dtype: SafetensorsDtype,
): RawTensor['data'] {
  const n = byteLength / DTYPE_SIZE[dtype];
  // Copying into a fresh ArrayBuffer makes the result aligned (the source offset
  // need not be a multiple of the element size) and independent of `bytes`.
  const copy = bytes.slice(start, start + byteLength).buffer;
  if (HOST_IS_LITTLE_ENDIAN) {
    switch (dtype) {
      case 'F32':
        return new Float32Array(copy, 0, n);
      case 'F64':
        return new Float64Array(copy, 0, n);
      case 'I32':
        return new Int32Array(copy, 0, n);
      case 'I64':
        return new BigInt64Array(copy, 0, n);
      default: {
        const never: never = dtype;
        return never;
      }
    }
  }
  const view = new DataView(copy);
  switch (dtype) {
    case 'F32':
      return Float32Array.from({ length: n }, (_, i) => view.getFloat32(i * 4, true));
    case 'F64':
      return Float64Array.from({ length: n }, (_, i) => view.getFloat64(i * 8, true));
    case 'I32':
      return Int32Array.from({ length: n }, (_, i) => view.getInt32(i * 4, true));
    case 'I64': {
      const out = new BigInt64Array(n);
      for (let i = 0; i < n; i++) out[i] = view.getBigInt64(i * 8, true);
      return out;
    }
    default: {
      const never: never = dtype;
      return never;
    }
  }
}

interface HeaderEntry {
  dtype: SafetensorsDtype;
  shape: number[];
  data_offsets: [number, number];
}

/**
 * Serialise tensors (and optional string metadata) to safetensors bytes.
 *
 * Tensors are laid out in insertion order, both in the JSON header and in the
 * data section (pass a `Map` if names look like integers: a plain object
 * enumerates integer-like keys first). The header is padded with spaces so the data section starts at
 * a multiple of 8 bytes. Data is always written little-endian.
 *
 * @param entries - tensors by name (a `Map` or a plain object; insertion order is kept)
 * @param metadata - optional `__metadata__` (string values only)
 * @returns the complete file contents
 * @throws {SafetensorsError} if a name is `__metadata__` or empty, a shape is not a list
 *   of non-negative integers, `data` is not the typed array for `dtype`, or
 *   `data.length` differs from the product of `shape`
 *
 * @example
 * ```ts
 * import { writeFileSync } from 'node:fs';
 * const bytes = encodeSafetensors(
 *   { 'fc.weight': { dtype: 'F32', shape: [2, 3], data: new Float32Array(6) },
 *     'bn.num_batches_tracked': { dtype: 'I64', shape: [], data: new BigInt64Array([7n]) } },
 *   { format: 'pt' },
 * );
 * writeFileSync('model.safetensors', bytes);
 * ```
 */
export function encodeSafetensors(
  entries: Map<string, RawTensor> | Record<string, RawTensor>,
  metadata?: Record<string, string>,
): Uint8Array {
  const list: [string, RawTensor][] =
    entries instanceof Map ? [...entries.entries()] : Object.entries(entries);

  // The header JSON is assembled by hand from an ordered list, because a JS
  // object would move integer-like keys ("0", "1", ...) to the front.
  const headerParts: string[] = [];
  const offsets: number[] = [];
  if (metadata !== undefined) {
    const meta: Record<string, string> = {};
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== 'string') {
        throw new SafetensorsError(`metadata value for key "${k}" must be a string, got ${typeof v}`);
      }
      defineOwn(meta, k, v);
    }
    headerParts.push(`${JSON.stringify(METADATA_KEY)}:${JSON.stringify(meta)}`);
  }

  let offset = 0;
  for (const [name, t] of list) {
    if (name === METADATA_KEY) {
      throw new SafetensorsError(`"${METADATA_KEY}" is reserved and cannot be a tensor name`);
    }
    if (name === '') throw new SafetensorsError('tensor names must be non-empty');
    if (!isSupportedDtype(t.dtype)) {
      throw new SafetensorsError(
        `tensor "${name}" has unsupported dtype "${String(t.dtype)}" (supported: F32, F64, I32, I64)`,
      );
    }
    if (!Array.isArray(t.shape) || !t.shape.every(isValidDim)) {
      throw new SafetensorsError(
        `tensor "${name}" has an invalid shape ${JSON.stringify(t.shape)}: expected non-negative integers`,
      );
    }
    if (!dataMatchesDtype(t)) {
      throw new SafetensorsError(
        `tensor "${name}" has dtype ${t.dtype} but its data is a ${t.data.constructor.name}, expected ${expectedArrayName(t.dtype)}`,
      );
    }
    const n = numel(t.shape);
    if (t.data.length !== n) {
      throw new SafetensorsError(
        `tensor "${name}" has shape ${shapeString(t.shape)} (${n} elements) but data has ${t.data.length} elements`,
      );
    }
    const size = n * DTYPE_SIZE[t.dtype];
    const entry: HeaderEntry = { dtype: t.dtype, shape: [...t.shape], data_offsets: [offset, offset + size] };
    headerParts.push(`${JSON.stringify(name)}:${JSON.stringify(entry)}`);
    offsets.push(offset);
    offset += size;
  }

  const json = new TextEncoder().encode(`{${headerParts.join(',')}}`);
  const paddedLength = Math.ceil(json.length / 8) * 8;
  const out = new Uint8Array(8 + paddedLength + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(paddedLength), true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.length, 8 + paddedLength);

  const dataStart = 8 + paddedLength;
  list.forEach(([, t], i) => writeLittleEndian(out, dataStart + (offsets[i] ?? 0), t));
  return out;
}

/** Set an own property, even one named `__proto__` (plain assignment would set the prototype instead). */
function defineOwn<T>(obj: Record<string, T>, key: string, value: T): void {
  Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Parse safetensors bytes into tensors and metadata.
 *
 * Every tensor's data is copied into a fresh, aligned typed array (so unaligned
 * offsets are fine and the result does not alias `bytes`). The returned `Map`
 * is ordered by data offset, which for files written by `encodeSafetensors`
 * is the insertion order (and for files written by the reference
 * implementation is its serialisation order).
 *
 * @param bytes - the complete file contents (any `byteOffset` is fine)
 * @returns `tensors` by name and the `__metadata__` strings (`{}` when absent)
 * @throws {SafetensorsError} with a message naming the problem: a truncated
 *   file, a header that is not valid JSON or not an object, an entry without a
 *   valid `dtype`/`shape`/`data_offsets`, an unsupported dtype (named, e.g.
 *   `"F16"`), offsets out of range, offsets whose size disagrees with the shape,
 *   overlapping offsets, or gaps / trailing bytes in the data section
 *
 * @example
 * ```ts
 * import { readFileSync } from 'node:fs';
 * const { tensors, metadata } = decodeSafetensors(readFileSync('model.safetensors'));
 * const w = tensors.get('fc.weight'); // { dtype: 'F32', shape: [2, 3], data: Float32Array(6) }
 * console.log(metadata.format); // 'pt'
 * ```
 */
export function decodeSafetensors(bytes: Uint8Array): {
  tensors: Map<string, RawTensor>;
  metadata: Record<string, string>;
} {
  if (bytes.length < 8) {
    throw new SafetensorsError(
      `file is truncated: ${bytes.length} bytes, need at least 8 for the header length`,
    );
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength64 = view.getBigUint64(0, true);
  if (headerLength64 > BigInt(MAX_HEADER_BYTES)) {
    throw new SafetensorsError(
      `header length ${headerLength64} exceeds the ${MAX_HEADER_BYTES}-byte limit (corrupt or not a safetensors file)`,
    );
  }
  const headerLength = Number(headerLength64);
  if (8 + headerLength > bytes.length) {
    throw new SafetensorsError(
      `file is truncated: header length is ${headerLength} bytes but only ${bytes.length - 8} bytes follow the length field`,
    );
  }

  let parsed: unknown;
  try {
    const text = new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + headerLength));
    parsed = JSON.parse(text);
  } catch (e) {
    throw new SafetensorsError(
      `header is not valid JSON: ${e instanceof Error ? e.message : String(e)}`,
    );
  }
  if (!isPlainObject(parsed)) {
    throw new SafetensorsError('header is not valid JSON: expected a JSON object at the top level');
  }

  const dataStart = 8 + headerLength;
  const dataLength = bytes.length - dataStart;
  const metadata: Record<string, string> = {};
  const entries: { name: string; dtype: SafetensorsDtype; shape: number[]; begin: number; end: number }[] = [];

  for (const [name, raw] of Object.entries(parsed)) {
    if (name === METADATA_KEY) {
      if (!isPlainObject(raw)) throw new SafetensorsError(`"${METADATA_KEY}" must be an object of strings`);
      for (const [k, v] of Object.entries(raw)) {
        if (typeof v !== 'string') {
          throw new SafetensorsError(`metadata value for key "${k}" must be a string, got ${JSON.stringify(v)}`);
        }
        defineOwn(metadata, k, v);
      }
      continue;
    }
    if (!isPlainObject(raw)) throw new SafetensorsError(`tensor "${name}": header entry is not an object`);
    const { dtype, shape, data_offsets: offsets } = raw;
    if (typeof dtype !== 'string') throw new SafetensorsError(`tensor "${name}": missing or non-string "dtype"`);
    if (!isSupportedDtype(dtype)) {
      throw new SafetensorsError(
        `tensor "${name}" has unsupported dtype "${dtype}" (supported: F32, F64, I32, I64)`,
      );
    }
    if (!Array.isArray(shape) || !shape.every(isValidDim)) {
      throw new SafetensorsError(
        `tensor "${name}": "shape" must be a list of non-negative integers, got ${JSON.stringify(shape)}`,
      );
    }
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isValidDim)) {
      throw new SafetensorsError(
        `tensor "${name}": "data_offsets" must be [begin, end] with non-negative integers, got ${JSON.stringify(offsets)}`,
      );
    }
    const [begin, end] = offsets as [number, number];
    if (begin > end || end > dataLength) {
      throw new SafetensorsError(
        `tensor "${name}" data_offsets [${begin}, ${end}] are out of range: the data section is ${dataLength} bytes`,
      );
    }
    const dims = shape as number[];
    const expected = numel(dims) * DTYPE_SIZE[dtype];
    if (end - begin !== expected) {
      throw new SafetensorsError(
        `tensor "${name}" has shape ${shapeString(dims)} and dtype ${dtype} (${expected} bytes) but data_offsets [${begin}, ${end}] span ${end - begin} bytes`,
      );
    }
    entries.push({ name, dtype, shape: dims, begin, end });
  }

  // The byte ranges, sorted, must tile [0, dataLength) exactly.
  const sorted = [...entries].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let cursor = 0;
  let previous: (typeof entries)[number] | undefined;
  for (const e of sorted) {
    if (e.begin < cursor && previous !== undefined) {
      throw new SafetensorsError(
        `tensor "${e.name}" data_offsets [${e.begin}, ${e.end}] overlap tensor "${previous.name}" [${previous.begin}, ${previous.end}]`,
      );
    }
    if (e.begin > cursor) {
      throw new SafetensorsError(
        `data offsets are not contiguous: bytes [${cursor}, ${e.begin}) before tensor "${e.name}" belong to no tensor`,
      );
    }
    cursor = e.end;
    previous = e;
  }
  if (cursor !== dataLength) {
    throw new SafetensorsError(
      `data offsets are not contiguous: the data section is ${dataLength} bytes but tensors cover only [0, ${cursor})`,
    );
  }

  const tensors = new Map<string, RawTensor>();
  for (const e of sorted) {
    tensors.set(e.name, {
      dtype: e.dtype,
      shape: e.shape,
      data: readLittleEndian(bytes, dataStart + e.begin, e.end - e.begin, e.dtype),
    });
  }
  return { tensors, metadata };
}
