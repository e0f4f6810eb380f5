import { expect } from 'chai';
import {
  decodeSafetensors,
  encodeSafetensors,
  SafetensorsError,
  type RawTensor,
} from '../../src/nn/safetensors.js';

/** Build a file from a hand-written header object and a data section. */
function handmade(header: unknown, data: Uint8Array | number = 0, rawHeader?: string): Uint8Array {
  const json = new TextEncoder().encode(rawHeader ?? JSON.stringify(header));
  const body = typeof data === 'number' ? new Uint8Array(data) : data;
  const out = new Uint8Array(8 + json.length + body.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  out.set(body, 8 + json.length);
  return out;
}

function headerOf(bytes: Uint8Array): { length: number; text: string } {
  const length = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
  return { length, text: new TextDecoder().decode(bytes.subarray(8, 8 + length)) };
}

/** The values of a decoded tensor (fails the test if it is missing). */
function vals(t: RawTensor | undefined): (number | bigint)[] {
  expect(t, 'tensor missing').to.not.equal(undefined);
  const out: (number | bigint)[] = [];
  t?.data.forEach((v: number | bigint) => out.push(v));
  return out;
}

function expectError(fn: () => unknown, pattern: RegExp): void {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  expect(caught, 'expected an error').to.be.instanceOf(SafetensorsError);
  expect((caught as Error).message).to.match(/^safetensors: /);
  expect((caught as Error).message).to.match(pattern);
}

describe('safetensors', () => {
  describe('round trip', () => {
    it('F32 keeps values, shape and dtype', () => {
      const data = new Float32Array([1.5, -2.25, 3.1415927, 0, -0, Infinity, 1e-30]);
      const { tensors } = decodeSafetensors(encodeSafetensors({ a: { dtype: 'F32', shape: [7], data } }));
      const a = tensors.get('a');
      expect(a?.dtype).to.equal('F32');
      expect(a?.shape).to.deep.equal([7]);
      expect(a?.data).to.be.instanceOf(Float32Array);
      expect(vals(a)).to.deep.equal(Array.from(data));
    });

    it('F64 keeps full precision', () => {
      const data = new Float64Array([Math.PI, -Math.E, 1e-300, 123456789.12345679, NaN, 0.1, 0.2]);
      const bytes = encodeSafetensors(new Map([['w', { dtype: 'F64', shape: [7, 1], data } as RawTensor]]));
      const w = decodeSafetensors(bytes).tensors.get('w');
      expect(w?.dtype).to.equal('F64');
      expect(w?.shape).to.deep.equal([7, 1]);
      expect(w?.data).to.be.instanceOf(Float64Array);
      expect(vals(w)).to.deep.equal(Array.from(data));
    });

    it('I64 keeps 64-bit integers, including a scalar', () => {
      const big = new BigInt64Array([9007199254740993n, -1n, 0n, -(2n ** 63n), 2n ** 63n - 1n, 42n]);
      const bytes = encodeSafetensors({
        big: { dtype: 'I64', shape: [2, 3], data: big },
        num_batches_tracked: { dtype: 'I64', shape: [], data: new BigInt64Array([7n]) },
      });
      const { tensors } = decodeSafetensors(bytes);
      expect(tensors.get('big')?.data).to.be.instanceOf(BigInt64Array);
      expect(vals(tensors.get('big'))).to.deep.equal(Array.from(big));
      expect(tensors.get('num_batches_tracked')?.shape).to.deep.equal([]);
      expect(vals(tensors.get('num_batches_tracked'))).to.deep.equal([7n]);
    });

    it('keeps insertion order (even for integer-like names), metadata and empty tensors', () => {
      const m = new Map<string, RawTensor>([
        ['z.weight', { dtype: 'F32', shape: [1], data: new Float32Array([1]) }],
        ['10', { dtype: 'F64', shape: [0, 3], data: new Float64Array(0) }],
        ['a.bias', { dtype: 'I64', shape: [1], data: new BigInt64Array([5n]) }],
        ['2', { dtype: 'F32', shape: [2], data: new Float32Array([3, 4]) }],
      ]);
      const bytes = encodeSafetensors(m, { format: 'pt', note: 'héllo' });
      const { text } = headerOf(bytes);
      expect(text.indexOf('"__metadata__"')).to.equal(1);
      expect(text.indexOf('"z.weight"')).to.be.lessThan(text.indexOf('"10"'));
      expect(text.indexOf('"10"')).to.be.lessThan(text.indexOf('"a.bias"'));
      expect(text.indexOf('"a.bias"')).to.be.lessThan(text.indexOf('"2"'));
      const out = decodeSafetensors(bytes);
      expect([...out.tensors.keys()]).to.deep.equal(['z.weight', '10', 'a.bias', '2']);
      expect(out.metadata).to.deep.equal({ format: 'pt', note: 'héllo' });
      expect(out.tensors.get('10')?.shape).to.deep.equal([0, 3]);
      expect(out.tensors.get('10')?.data.length).to.equal(0);
    });

    it('writes the exact layout: u64 length, contiguous offsets, LE data', () => {
      const bytes = encodeSafetensors({
        a: { dtype: 'F32', shape: [2], data: new Float32Array([1, 2]) },
        b: { dtype: 'F64', shape: [1], data: new Float64Array([3]) },
      });
      const { length, text } = headerOf(bytes);
      const header = JSON.parse(text) as Record<string, { data_offsets: number[] }>;
      expect(header.a?.data_offsets).to.deep.equal([0, 8]);
      expect(header.b?.data_offsets).to.deep.equal([8, 16]);
      expect(bytes.length).to.equal(8 + length + 16);
      // float32 1.0 little-endian is 00 00 80 3f
      expect(Array.from(bytes.subarray(8 + length, 8 + length + 4))).to.deep.equal([0, 0, 0x80, 0x3f]);
    });

    it('decodes from a Uint8Array with an odd byteOffset and unaligned tensor offsets', () => {
      // 'a' is 1 float32 (4 bytes), so the F64 'b' starts at data offset 4: not 8-aligned.
      const bytes = encodeSafetensors({
        a: { dtype: 'F32', shape: [1], data: new Float32Array([0.5]) },
        b: { dtype: 'F64', shape: [2], data: new Float64Array([1.25, -7]) },
        c: { dtype: 'I64', shape: [1], data: new BigInt64Array([-3n]) },
      });
      const shifted = new Uint8Array(bytes.length + 3);
      shifted.set(bytes, 3);
      const { tensors } = decodeSafetensors(shifted.subarray(3));
      expect(vals(tensors.get('b'))).to.deep.equal([1.25, -7]);
      expect(vals(tensors.get('c'))).to.deep.equal([-3n]);
      // The result is a copy: changing the input does not change it.
      shifted.fill(0);
      expect(vals(tensors.get('a'))).to.deep.equal([0.5]);
    });

    it('accepts typed arrays that are views into a larger buffer', () => {
      const backing = new Float32Array([9, 1, 2, 3, 9]);
      const bytes = encodeSafetensors({ v: { dtype: 'F32', shape: [3], data: backing.subarray(1, 4) } });
      expect(vals(decodeSafetensors(bytes).tensors.get('v'))).to.deep.equal([1, 2, 3]);
    });
  });

  describe('header padding', () => {
    for (const name of ['a', 'ab', 'abc', 'abcd', 'abcde', 'abcdef', 'abcdefg', 'abcdefgh']) {
      it(`pads the header of a file with tensor "${name}" to a multiple of 8 with spaces`, () => {
        const bytes = encodeSafetensors({ [name]: { dtype: 'F32', shape: [1], data: new Float32Array([1]) } });
        const { length, text } = headerOf(bytes);
        expect(length % 8).to.equal(0);
        expect((8 + length) % 8).to.equal(0);
        const trimmed = text.trimEnd();
        expect(text.slice(trimmed.length)).to.match(/^ {0,7}$/);
        expect(trimmed.endsWith('}')).to.equal(true);
        expect(decodeSafetensors(bytes).tensors.get(name)?.data[0]).to.equal(1);
      });
    }

    it('decodes an unpadded header written by another tool', () => {
      const f = new Float32Array([2, 4]);
      const bytes = handmade({ x: { dtype: 'F32', shape: [2], data_offsets: [0, 8] } }, new Uint8Array(f.buffer));
      expect(vals(decodeSafetensors(bytes).tensors.get('x'))).to.deep.equal([2, 4]);
    });

    it('returns empty metadata when there is none', () => {
      const bytes = encodeSafetensors({ x: { dtype: 'F32', shape: [], data: new Float32Array([1]) } });
      expect(decodeSafetensors(bytes).metadata).to.deep.equal({});
      expect(headerOf(bytes).text).to.not.include('__metadata__');
    });
  });

  describe('decode errors', () => {
    it('file shorter than the length field', () => {
      expectError(() => decodeSafetensors(new Uint8Array(5)), /file is truncated: 5 bytes, need at least 8/);
    });

    it('header length beyond the end of the file', () => {
      const good = encodeSafetensors({ x: { dtype: 'F32', shape: [1], data: new Float32Array([1]) } });
      const { length } = headerOf(good);
      expectError(
        () => decodeSafetensors(good.subarray(0, 20)),
        new RegExp(`file is truncated: header length is ${length} bytes but only 12 bytes follow`),
      );
    });

    it('absurd header length', () => {
      const bytes = new Uint8Array(16);
      new DataView(bytes.buffer).setBigUint64(0, 2n ** 62n, true);
      expectError(() => decodeSafetensors(bytes), /header length \d+ exceeds the 100000000-byte limit/);
    });

    it('truncated data section (offsets out of range)', () => {
      const good = encodeSafetensors({ x: { dtype: 'F32', shape: [4], data: new Float32Array(4) } });
      expectError(
        () => decodeSafetensors(good.subarray(0, good.length - 1)),
        /tensor "x" data_offsets \[0, 16\] are out of range: the data section is 15 bytes/,
      );
    });

    it('header that is not JSON', () => {
      expectError(() => decodeSafetensors(handmade(null, 0, '{"x": {"dtype": ')), /header is not valid JSON: /);
    });

    it('header that is JSON but not an object', () => {
      expectError(() => decodeSafetensors(handmade([1, 2])), /header is not valid JSON: expected a JSON object/);
    });

    it('unsupported dtype is named', () => {
      const bytes = handmade({ h: { dtype: 'F16', shape: [2], data_offsets: [0, 4] } }, 4);
      expectError(() => decodeSafetensors(bytes), /tensor "h" has unsupported dtype "F16" \(supported: F32, F64, I32, I64\)/);
    });

    it('missing dtype, bad shape, bad data_offsets', () => {
      expectError(
        () => decodeSafetensors(handmade({ t: { shape: [1], data_offsets: [0, 4] } }, 4)),
        /tensor "t": missing or non-string "dtype"/,
      );
      expectError(
        () => decodeSafetensors(handmade({ t: { dtype: 'F32', shape: [-1], data_offsets: [0, 4] } }, 4)),
        /tensor "t": "shape" must be a list of non-negative integers, got \[-1\]/,
      );
      expectError(
        () => decodeSafetensors(handmade({ t: { dtype: 'F32', shape: [1], data_offsets: [0] } }, 4)),
        /tensor "t": "data_offsets" must be \[begin, end\]/,
      );
    });

    it('begin after end is out of range', () => {
      const bytes = handmade({ t: { dtype: 'F32', shape: [0], data_offsets: [4, 0] } }, 4);
      expectError(() => decodeSafetensors(bytes), /tensor "t" data_offsets \[4, 0\] are out of range/);
    });

    it('offsets that disagree with shape × dtype size', () => {
      const bytes = handmade({ t: { dtype: 'F64', shape: [2], data_offsets: [0, 12] } }, 12);
      expectError(
        () => decodeSafetensors(bytes),
        /tensor "t" has shape \[2\] and dtype F64 \(16 bytes\) but data_offsets \[0, 12\] span 12 bytes/,
      );
    });

    it('overlapping offsets', () => {
      const bytes = handmade(
        {
          a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] },
          b: { dtype: 'F32', shape: [2], data_offsets: [4, 12] },
        },
        12,
      );
      expectError(() => decodeSafetensors(bytes), /tensor "b" data_offsets \[4, 12\] overlap tensor "a" \[0, 8\]/);
    });

    it('a gap between tensors', () => {
      const bytes = handmade(
        {
          a: { dtype: 'F32', shape: [1], data_offsets: [0, 4] },
          b: { dtype: 'F32', shape: [1], data_offsets: [8, 12] },
        },
        12,
      );
      expectError(
        () => decodeSafetensors(bytes),
        /data offsets are not contiguous: bytes \[4, 8\) before tensor "b" belong to no tensor/,
      );
    });

    it('trailing bytes after the last tensor', () => {
      const bytes = handmade({ a: { dtype: 'F32', shape: [1], data_offsets: [0, 4] } }, 6);
      expectError(
        () => decodeSafetensors(bytes),
        /data offsets are not contiguous: the data section is 6 bytes but tensors cover only \[0, 4\)/,
      );
    });

    it('non-string metadata value', () => {
      const bytes = handmade({ __metadata__: { epochs: 3 } });
      expectError(() => decodeSafetensors(bytes), /metadata value for key "epochs" must be a string, got 3/);
    });
  });

  describe('encode errors', () => {
    it('data length that disagrees with the shape', () => {
      expectError(
        () => encodeSafetensors({ w: { dtype: 'F32', shape: [2, 3], data: new Float32Array(5) } }),
        /tensor "w" has shape \[2, 3\] \(6 elements\) but data has 5 elements/,
      );
    });

    it('typed array that does not match the dtype', () => {
      expectError(
        () => encodeSafetensors({ w: { dtype: 'F64', shape: [1], data: new Float32Array(1) } }),
        /tensor "w" has dtype F64 but its data is a Float32Array, expected Float64Array/,
      );
    });

    it('reserved name and invalid shape', () => {
      expectError(
        () => encodeSafetensors({ __metadata__: { dtype: 'F32', shape: [], data: new Float32Array(1) } }),
        /"__metadata__" is reserved/,
      );
      expectError(
        () => encodeSafetensors({ w: { dtype: 'F32', shape: [1.5], data: new Float32Array(1) } }),
        /tensor "w" has an invalid shape \[1.5\]/,
      );
    });

    it('unsupported dtype (from untyped callers)', () => {
      const bad = { dtype: 'BF16', shape: [1], data: new Float32Array(1) } as unknown as RawTensor;
      expectError(() => encodeSafetensors({ w: bad }), /tensor "w" has unsupported dtype "BF16"/);
    });
  });
});
