/**
 * backend/wasm/arena.ts: the byte ranges of a WebAssembly memory the
 * normalize engine hands out (its slots, its per-group values, the outputs
 * it lends the cpu device): first fit, neighbours merged, the top given back.
 */
import { expect } from 'chai';
import { Arena } from '../../src/backend/wasm/arena.js';
import { PAGE } from '../../src/backend/wasm/memory.js';

/** A memory stand-in: a byte length that grows by pages, up to `max` pages. */
function fakeMemory(max = 64): { buffer: ArrayBuffer; grow(pages: number): number } {
  let pages = 0;
  return {
    get buffer() {
      return new ArrayBuffer(pages * PAGE);
    },
    grow(n: number) {
      if (pages + n > max) throw new RangeError('WebAssembly.Memory.grow(): Maximum memory size exceeded');
      const was = pages;
      pages += n;
      return was;
    },
  };
}

describe('wasm arena (backend/wasm/arena.ts)', () => {
  it('hands out 64-byte aligned ranges that do not overlap, growing the memory at the top', () => {
    const mem = fakeMemory();
    const a = new Arena(mem, 2 ** 22);
    const at = [a.alloc(10), a.alloc(100), a.alloc(PAGE)];
    expect(at).to.deep.equal([0, 64, 192]);
    expect(a.used).to.equal(64 + 128 + PAGE);
    expect(mem.buffer.byteLength).to.be.at.least(192 + PAGE);
  });

  it('reuses a freed range (first fit) and merges neighbours', () => {
    const a = new Arena(fakeMemory(), 2 ** 22);
    const [x, y, z, top] = [a.alloc(64), a.alloc(64), a.alloc(64), a.alloc(64)];
    a.release(y, 64);
    expect(a.alloc(64), 'the hole is reused').to.equal(y);
    a.release(x, 64);
    a.release(y, 64);
    a.release(z, 64);
    // x, y, z merged into one range of 192 bytes: a 150-byte range fits at x
    expect(a.alloc(150)).to.equal(x);
    expect(a.used).to.equal(192 + 64);
    expect(top).to.equal(192);
  });

  it('a range given back at the top lowers the top, with the free range below it', () => {
    const a = new Arena(fakeMemory(), 2 ** 22);
    const [x, y] = [a.alloc(64), a.alloc(128)];
    a.release(x, 64);
    expect(a.highWater).to.equal(192);
    a.release(y, 128);
    expect([a.highWater, a.used]).to.deep.equal([0, 0]);
    expect(a.alloc(1000)).to.equal(0);
  });

  it('refuses (-1) past its byte limit or when the memory cannot grow, and changes nothing', () => {
    const a = new Arena(fakeMemory(64), 2 * PAGE);
    expect(a.alloc(PAGE)).to.equal(0);
    expect(a.alloc(2 * PAGE), 'past the limit').to.equal(-1);
    const b = new Arena(fakeMemory(2), 10 * PAGE);
    expect(b.alloc(PAGE)).to.equal(0);
    expect(b.alloc(2 * PAGE), 'the memory refuses to grow').to.equal(-1);
    expect([b.used, b.highWater]).to.deep.equal([PAGE, PAGE]);
    expect(b.alloc(PAGE)).to.equal(PAGE);
  });
});
