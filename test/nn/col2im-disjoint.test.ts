/**
 * col2im where no two windows share a pixel (stride ≥ kernel, no dilation:
 * the backward of MaxPool2d(2)) runs a one-tap kernel (src/backend/kernels.ts
 * `col2imDisjoint`) instead of the loop over taps. Tested on every device
 * against the definition (each column value added into the pixel it was
 * read from), and on the cpu against the general kernel's values bit for
 * bit, -0 included (the general kernel adds the tap to 0.0).
 */
import { expect } from 'chai';
import * as gg from '../../src/index.js';
import { apply } from '../../src/tensor/tensor.js';
import * as K from '../../src/backend/kernels.js';
import { getDevice } from '../../src/backend/registry.js';
import { forEachDevice } from '../helpers/devices.js';
import { rng } from '../helpers/random.js';

interface Geom { kernel: number[]; stride: number[]; padding: number[]; dilation: number[]; inSize: number[]; outSize: number[] }

const geoms: { name: string; lead: number[]; g: Geom }[] = [
  { name: 'MaxPool2d(2) on 6×6', lead: [2, 3], g: { kernel: [2, 2], stride: [2, 2], padding: [0, 0], dilation: [1, 1], inSize: [6, 6], outSize: [3, 3] } },
  { name: 'odd input (last row and column read by no window)', lead: [1, 2], g: { kernel: [2, 2], stride: [2, 2], padding: [0, 0], dilation: [1, 1], inSize: [7, 5], outSize: [3, 2] } },
  { name: 'stride 3 > kernel 2, padding 1', lead: [1, 1], g: { kernel: [2, 2], stride: [3, 3], padding: [1, 1], dilation: [1, 1], inSize: [7, 8], outSize: [3, 3] } },
  { name: 'ceil mode (a window past the end)', lead: [2, 1], g: { kernel: [3], stride: [3], padding: [0], dilation: [1], inSize: [7], outSize: [3] } },
  { name: '3d, kernel 1 in one dim', lead: [1, 1], g: { kernel: [2, 1, 2], stride: [2, 1, 2], padding: [0, 0, 1], dilation: [1, 1, 1], inSize: [4, 3, 5], outSize: [2, 3, 3] } },
];

/** col2im by its definition: every tap's value added into the pixel im2col read it from. */
function reference(cols: ArrayLike<number>, lead: number[], g: Geom): number[] {
  const r = g.kernel.length;
  const inN = g.inSize.reduce((a, b) => a * b, 1);
  const kn = g.kernel.reduce((a, b) => a * b, 1);
  const on = g.outSize.reduce((a, b) => a * b, 1);
  const count = lead.reduce((a, b) => a * b, 1);
  const out = new Array<number>(count * inN).fill(0);
  for (let b = 0; b < count; b++) {
    for (let kf = 0; kf < kn; kf++) {
      for (let of = 0; of < on; of++) {
        let kr = kf;
        let orr = of;
        let at = 0;
        let inside = true;
        const ks: number[] = [];
        const os: number[] = [];
        for (let d = r - 1; d >= 0; d--) {
          ks[d] = kr % (g.kernel[d] as number);
          kr = Math.floor(kr / (g.kernel[d] as number));
          os[d] = orr % (g.outSize[d] as number);
          orr = Math.floor(orr / (g.outSize[d] as number));
        }
        for (let d = 0; d < r; d++) {
          const p = (os[d] as number) * (g.stride[d] as number) - (g.padding[d] as number) + (ks[d] as number);
          if (p < 0 || p >= (g.inSize[d] as number)) inside = false;
          at = at * (g.inSize[d] as number) + p;
        }
        if (inside) out[b * inN + at] = (out[b * inN + at] as number) + (cols[(b * kn + kf) * on + of] as number);
      }
    }
  }
  return out;
}

forEachDevice((device) => {
  describe('col2im over windows that never overlap (one tap per pixel)', () => {
    for (const { name, lead, g } of geoms) {
      it(`${name}: the definition's values`, async () => {
        const r = rng(11);
        const shape = [...lead, ...g.kernel, ...g.outSize];
        const n = shape.reduce((a, b) => a * b, 1);
        const data = Array.from({ length: n }, () => Math.round((r() * 4 - 2) * 256) / 256);
        const y = gg.tensor(data, { shape, device });
        const got = await apply('col2im', [y], g).data();
        expect([...got]).to.deep.equal(reference(data, lead, g));
      });
    }

    if (device === 'cpu') {
      it('the general kernel\'s values bit for bit (float64, -0 and NaN included)', () => {
        const dev = getDevice('cpu');
        for (const { lead, g } of geoms) {
          const shape = [...lead, ...g.kernel, ...g.outSize];
          const n = shape.reduce((a, b) => a * b, 1);
          const r = rng(12);
          const data = Float64Array.from({ length: n }, (_, i) => (i % 7 === 0 ? -0 : i % 11 === 0 ? Number.NaN : r() * 2 - 1));
          const op = { offset: 0, strides: shape.map((_, d) => shape.slice(d + 1).reduce((a, b) => a * b, 1)) };
          const fast = K.col2im(op, lead, g);
          const general = K.col2imGeneral(op, lead, g);
          expect(fast.key).to.not.equal(general.key);
          const buf = dev.upload(data, 'float64');
          const a = dev.readSync(dev.run(fast, [buf], 'float64'));
          const b = dev.readSync(dev.run(general, [buf], 'float64'));
          expect([...a].map((v) => Object.is(v, -0) ? '-0' : String(v))).to.deep.equal([...b].map((v) => Object.is(v, -0) ? '-0' : String(v)));
        }
      });
    }
  });
});
