/**
 * The random stream behind `rand`, `randn`, dropout masks and weight
 * initialisation. Numbers are drawn on the host and uploaded, so the same
 * seed gives the same numbers on every device.
 */

import { checkInt } from './check.js';

// NOTE: xoshiro128** — small, fast, and well tested; state seeded by splitmix32.
let s0 = 0;
let s1 = 0;
let s2 = 0;
let s3 = 0;

function splitmix32(seed: number): () => number {
  let x = seed >>> 0;
  return () => {
    x = (x + 0x9e3779b9) >>> 0;
    let z = x;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  };
}

/**
 * Seed the random stream: same seed, same numbers, on every device.
 * @example gg.manualSeed(0); const a = gg.rand([3]); gg.manualSeed(0); // gg.rand([3]) equals a
 */
export function manualSeed(seed: number): void {
  checkInt('manual_seed', 'seed', seed);
  const next = splitmix32(seed);
  s0 = next();
  s1 = next();
  s2 = next();
  s3 = next();
}
manualSeed(Date.now() & 0x7fffffff);

function nextU32(): number {
  const result = Math.imul(rotl(Math.imul(s1, 5) >>> 0, 7), 9) >>> 0;
  const t = (s1 << 9) >>> 0;
  s2 ^= s0;
  s3 ^= s1;
  s1 ^= s2;
  s0 ^= s3;
  s2 ^= t;
  s3 = rotl(s3, 11);
  return result;
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

/** @internal A uniform number in [0, 1) with 53 random bits. */
export function uniform(): number {
  const hi = nextU32() >>> 5;
  const lo = nextU32() >>> 6;
  return (hi * 67108864 + lo) / 9007199254740992;
}

/** @internal A standard normal number (Box–Muller; the pair's second value is discarded for simplicity). */
export function normal(): number {
  let u = 0;
  while (u === 0) u = uniform();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * uniform());
}
