/**
 * Convolution and pooling: the im2col/col2im primitives (adjointness,
 * gradcheck), every Conv, ConvTranspose, AvgPool2d and MaxPool2d case of the
 * PyTorch 1.13 goldens (test/fixtures/torch_nn.json) at float64 on the cpu,
 * gradcheck of the functional forms in each rank, PyTorch's error messages,
 * modules (shapes, init bounds, repr, lazy variants), and float32 parity on
 * the other devices.
 *
 * Run: npx tsc -p tsconfig.json && node scripts/run-tests.mjs dist/test/nn/conv.test.js
 */
import { expect } from 'chai';
import * as gg from '../../src/index.js';
import { apply } from '../../src/tensor/tensor.js';
import * as F from '../../src/nn/conv.js';
import { expectClose, fixture, goldenTensor, values, F32, F64, type Golden, type GoldenStep } from '../helpers/compare.js';
import { forEachDevice } from '../helpers/devices.js';
import { tools as toolsFixture } from '../helpers/tools-fixture.js';

const nn = gg.nn;
const f64 = { dtype: 'float64' as const };

interface ModuleCase {
  name: string;
  kind: string;
  module: string;
  args: (number | number[])[];
  kwargs: Record<string, number | number[] | boolean | null>;
  state: Record<string, Golden>;
  train: boolean;
  steps: GoldenStep[];
}

const PREFIXES = ['Conv1d_', 'Conv2d_', 'Conv3d_', 'ConvTranspose1d_', 'ConvTranspose2d_', 'ConvTranspose3d_', 'AvgPool2d_', 'MaxPool2d_'];
const cases = fixture<ModuleCase[]>('torch_nn.json').filter((c) => c.kind === 'module' && PREFIXES.some((p) => c.name.startsWith(p)));

function build(c: Pick<ModuleCase, 'module' | 'args' | 'kwargs'>, factory: { dtype?: gg.DType; device?: string } = f64): gg.nn.Module {
  const kw = { ...c.kwargs, ...factory } as Record<string, never>;
  const [a0, a1, a2] = c.args as [number, number, number | number[]];
  switch (c.module) {
    case 'Conv1d': return new nn.Conv1d(a0, a1, a2, kw);
    case 'Conv2d': return new nn.Conv2d(a0, a1, a2, kw);
    case 'Conv3d': return new nn.Conv3d(a0, a1, a2, kw);
    case 'ConvTranspose1d': return new nn.ConvTranspose1d(a0, a1, a2, kw);
    case 'ConvTranspose2d': return new nn.ConvTranspose2d(a0, a1, a2, kw);
    case 'ConvTranspose3d': return new nn.ConvTranspose3d(a0, a1, a2, kw);
    // pooling modules take no dtype/device (as PyTorch): an unknown option is refused
    case 'AvgPool2d': return new nn.AvgPool2d(c.args[0] as number | number[], c.kwargs as Record<string, never>);
    case 'MaxPool2d': return new nn.MaxPool2d(c.args[0] as number | number[], c.kwargs as Record<string, never>);
    default: throw new Error(`no module ${c.module}`);
  }
}

/** Deterministic values in [-1, 1) (the stream is seeded per test). */
function randT(shape: number[], opts: gg.TensorOptions = f64): gg.Tensor {
  return gg.rand(shape, opts).mul(2).sub(1).detach().requiresGrad_(opts.requiresGrad ?? false);
}

describe('nn/conv', function () {
  this.timeout(60000);
  beforeEach(() => gg.manualSeed(1234));

  describe('im2col / col2im primitives', function () {
    const geoms: { name: string; shape: number[]; g: { kernel: number[]; stride: number[]; padding: number[]; dilation: number[] } }[] = [
      { name: '1d stride 2 pad 1', shape: [2, 3, 7], g: { kernel: [3], stride: [2], padding: [1], dilation: [1] } },
      { name: '1d dilation 2', shape: [1, 2, 8], g: { kernel: [2], stride: [1], padding: [0], dilation: [2] } },
      { name: '2d stride 2 pad 1 dil 2', shape: [1, 2, 6, 5], g: { kernel: [3, 2], stride: [2, 1], padding: [1, 0], dilation: [2, 1] } },
      { name: '2d stride 3 > kernel', shape: [1, 1, 7, 7], g: { kernel: [2, 2], stride: [3, 3], padding: [1, 0], dilation: [1, 1] } },
      { name: '3d', shape: [1, 2, 4, 3, 5], g: { kernel: [2, 2, 3], stride: [1, 2, 2], padding: [1, 0, 1], dilation: [1, 1, 1] } },
      // windows that never overlap: col2im's one-tap kernel (kernels.ts col2imDisjoint)
      { name: '2d pooling windows, stride = kernel, pad 1, odd sizes', shape: [2, 2, 7, 6], g: { kernel: [2, 3], stride: [2, 3], padding: [1, 1], dilation: [1, 1] } },
      { name: '1d kernel 1 stride 1', shape: [1, 3, 5], g: { kernel: [1], stride: [1], padding: [0], dilation: [1] } },
    ];
    const outOf = (inSize: number[], g: (typeof geoms)[number]['g']): number[] =>
      inSize.map((n, d) => Math.floor((n + 2 * g.padding[d]! - g.dilation[d]! * (g.kernel[d]! - 1) - 1) / g.stride[d]!) + 1);

    for (const { name, shape, g } of geoms) {
      const r = g.kernel.length;
      const inSize = shape.slice(2);
      const geom = { ...g, inSize, outSize: outOf(inSize, g) };

      it(`im2col matches a direct loop (${name})`, async function () {
        const x = randT(shape);
        const cols = apply('im2col', [x], { ...geom, value: -7 });
        expect(cols.shape).to.deep.equal([...shape.slice(0, 2), ...g.kernel, ...geom.outSize]);
        const xv = await values(x);
        const got = await values(cols);
        const lead = shape[0]! * shape[1]!;
        const kn = g.kernel.reduce((a, b) => a * b, 1);
        const on = geom.outSize.reduce((a, b) => a * b, 1);
        const inN = inSize.reduce((a, b) => a * b, 1);
        const want: number[] = [];
        for (let b = 0; b < lead; b++) {
          for (let kf = 0; kf < kn; kf++) {
            for (let of = 0; of < on; of++) {
              let kr = kf;
              let orr = of;
              const ks: number[] = [];
              const os: number[] = [];
              for (let d = r - 1; d >= 0; d--) {
                ks[d] = kr % g.kernel[d]!;
                kr = Math.floor(kr / g.kernel[d]!);
                os[d] = orr % geom.outSize[d]!;
                orr = Math.floor(orr / geom.outSize[d]!);
              }
              let at = 0;
              let inside = true;
              for (let d = 0; d < r; d++) {
                const p = os[d]! * g.stride[d]! - g.padding[d]! + ks[d]! * g.dilation[d]!;
                if (p < 0 || p >= inSize[d]!) inside = false;
                at = at * inSize[d]! + p;
              }
              want.push(inside ? xv[b * inN + at]! : -7);
            }
          }
        }
        expectClose(got, want, F64, 'im2col');
      });

      it(`col2im is im2col's adjoint: <im2col(x), y> = <x, col2im(y)> (${name})`, async function () {
        const x = randT(shape);
        const y = randT([...shape.slice(0, 2), ...g.kernel, ...geom.outSize]);
        const lhs = apply('im2col', [x], { ...geom, value: 0 }).mul(y).sum().itemSync();
        const back = apply('col2im', [y], geom);
        expect(back.shape).to.deep.equal(shape);
        const rhs = x.mul(back).sum().itemSync();
        expect(Math.abs(lhs - rhs)).to.be.below(1e-12);
      });

      it(`gradcheck and gradgradcheck of both (${name})`, async function () {
        const x = randT(shape, { ...f64, requiresGrad: true });
        const y = randT([...shape.slice(0, 2), ...g.kernel, ...geom.outSize], { ...f64, requiresGrad: true });
        expect(await gg.autograd.gradcheck((t) => apply('im2col', [t], { ...geom, value: 0 }), [x])).to.equal(true);
        expect(await gg.autograd.gradcheck((t) => apply('col2im', [t], geom), [y])).to.equal(true);
        expect(await gg.autograd.gradgradcheck((t) => apply('im2col', [t], { ...geom, value: 0 }).square(), [x])).to.equal(true);
      });
    }

    it('reads strided (non-contiguous) inputs', async function () {
      const x = randT([1, 5, 2, 4]).permute(0, 3, 1, 2); // (1, 4, 5, 2) view
      const geom = { kernel: [2, 2], stride: [1, 1], padding: [1, 0], dilation: [1, 1], inSize: [5, 2], outSize: [6, 1] };
      const a = await values(apply('im2col', [x], { ...geom, value: 0 }));
      const b = await values(apply('im2col', [x.contiguous()], { ...geom, value: 0 }));
      expectClose(a, b, F64, 'strided');
      const y = randT([1, 4, 2, 2, 6, 1]).transpose(2, 3);
      expectClose(await values(apply('col2im', [y], geom)), await values(apply('col2im', [y.contiguous()], geom)), F64, 'col2im strided');
    });
  });

  describe('PyTorch goldens (float64, cpu)', function () {
    it('has every expected case', function () {
      for (const p of PREFIXES) expect(cases.some((c) => c.name.startsWith(p)), p).to.equal(true);
      expect(cases.length).to.equal(34);
    });
    for (const c of cases) {
      it(c.name, async function () {
        const m = build(c);
        const sd: Record<string, gg.Tensor> = {};
        for (const [k, v] of Object.entries(c.state)) sd[k] = goldenTensor(v);
        m.loadStateDict(sd);
        m.train(c.train);
        for (const s of c.steps) {
          const x = goldenTensor(s.input, { ...f64, requiresGrad: true });
          const out = m.call(x);
          expect(out.shape).to.deep.equal(s.output.shape);
          expectClose(await values(out), s.output.data, F64, `${c.name} output`);
          out.backward(goldenTensor(s.gout));
          expectClose(await values(x.grad!), s.input_grad.data, F64, `${c.name} input grad`);
          for (const [n, p] of m.namedParameters()) {
            const want = s.param_grads[n];
            expect(want, `param ${n}`).to.not.equal(undefined);
            expectClose(await values(p.grad!), want!.data, F64, `${c.name} grad ${n}`);
          }
          m.zeroGrad();
        }
      });
    }
  });

  // the cpu device's float32 path: the WebAssembly gemm (a broadcast weight packed once, its
  // gradient summed over the batch in one product), pooling on tiling windows as a view
  describe('PyTorch goldens (float32, cpu: the WebAssembly gemm path)', function () {
    const f32 = { dtype: 'float32' as const };
    /** float32 sums of up to a few hundred O(1) products. */
    const tol = { rtol: 2e-4, atol: 2e-4 };
    for (const c of cases) {
      it(c.name, async function () {
        const m = build(c, f32);
        const sd: Record<string, gg.Tensor> = {};
        for (const [k, v] of Object.entries(c.state)) sd[k] = goldenTensor(v, f32);
        m.loadStateDict(sd);
        m.train(c.train);
        for (const s of c.steps) {
          const x = goldenTensor(s.input, { ...f32, requiresGrad: true });
          const out = m.call(x);
          expect(out.dtype).to.equal('float32');
          expectClose(await values(out), s.output.data, tol, `${c.name} output`);
          out.backward(goldenTensor(s.gout, f32));
          expectClose(await values(x.grad!), s.input_grad.data, tol, `${c.name} input grad`);
          for (const [n, p] of m.namedParameters()) expectClose(await values(p.grad!), s.param_grads[n]!.data, tol, `${c.name} grad ${n}`);
          m.zeroGrad();
        }
      });
    }
  });

  describe('gradcheck of the functional forms (float64)', function () {
    const ranks = [1, 2, 3] as const;
    const conv = [F.conv1d, F.conv2d, F.conv3d];
    const convT = [F.convTranspose1d, F.convTranspose2d, F.convTranspose3d];
    const maxPool = [F.maxPool1d, F.maxPool2d, F.maxPool3d];
    const avgPool = [F.avgPool1d, F.avgPool2d, F.avgPool3d];
    const sp = (r: number, n: number): number[] => Array.from({ length: r }, (_, i) => n + (i % 2));
    for (const r of ranks) {
      it(`conv${r}d (groups 2, stride 2, padding 1, dilation, bias)`, async function () {
        const x = randT([1, 4, ...sp(r, 4)], { ...f64, requiresGrad: true });
        const w = randT([2, 2, ...Array.from({ length: r }, () => 2)], { ...f64, requiresGrad: true });
        const b = randT([2], { ...f64, requiresGrad: true });
        const fn = (xx: gg.Tensor, ww: gg.Tensor, bb: gg.Tensor): gg.Tensor => conv[r - 1]!(xx, ww, bb, { stride: 2, padding: 1, groups: 2, dilation: r === 1 ? 2 : 1 });
        expect(await gg.autograd.gradcheck(fn, [x, w, b])).to.equal(true);
      });
      it(`conv${r}d with padding='same' (even kernel) and gradgradcheck`, async function () {
        const x = randT([1, 1, ...sp(r, 3)], { ...f64, requiresGrad: true });
        const w = randT([1, 1, ...Array.from({ length: r }, () => 2)], { ...f64, requiresGrad: true });
        const y = conv[r - 1]!(x, w, null, { padding: 'same' });
        expect(y.shape).to.deep.equal(x.shape);
        expect(await gg.autograd.gradcheck((xx, ww) => conv[r - 1]!(xx, ww, null, { padding: 'same' }), [x, w])).to.equal(true);
        expect(await gg.autograd.gradgradcheck((xx, ww) => conv[r - 1]!(xx, ww, null, { padding: 'same' }), [x, w])).to.equal(true);
      });
      it(`convTranspose${r}d (groups 2, stride 2, padding 1, outputPadding 1, bias)`, async function () {
        const x = randT([1, 2, ...sp(r, 2)], { ...f64, requiresGrad: true });
        const w = randT([2, 1, ...Array.from({ length: r }, () => 3)], { ...f64, requiresGrad: true });
        const b = randT([2], { ...f64, requiresGrad: true });
        const fn = (xx: gg.Tensor, ww: gg.Tensor, bb: gg.Tensor): gg.Tensor => convT[r - 1]!(xx, ww, bb, { stride: 2, padding: 1, outputPadding: 1, groups: 2 });
        expect(await gg.autograd.gradcheck(fn, [x, w, b])).to.equal(true);
      });
      it(`maxPool${r}d (overlapping windows, padding) and avgPool${r}d (ceilMode, countIncludePad false)`, async function () {
        // distinct values: no ties, so finite differences see one maximum
        const n = sp(r, 4).reduce((a, b) => a * b, 2);
        const perm = Array.from({ length: n }, (_, i) => ((i * 7919) % n) / n);
        const x = gg.tensor(perm, { ...f64, shape: [1, 2, ...sp(r, 4)], requiresGrad: true });
        expect(await gg.autograd.gradcheck((t) => maxPool[r - 1]!(t, 3, { stride: 2, padding: 1 }), [x])).to.equal(true);
        const y = randT([1, 2, ...sp(r, 4)], { ...f64, requiresGrad: true });
        expect(await gg.autograd.gradcheck((t) => avgPool[r - 1]!(t, 3, { stride: 2, padding: 1, ceilMode: true, countIncludePad: false }), [y])).to.equal(true);
      });
    }
  });

  describe('semantics', function () {
    it('unbatched input gives unbatched output, equal to the batched one', async function () {
      const x = randT([2, 5, 5]);
      const w = randT([3, 2, 3, 3]);
      const a = F.conv2d(x, w, null, { padding: 1 });
      const b = F.conv2d(x.unsqueeze(0), w, null, { padding: 1 });
      expect(a.shape).to.deep.equal([3, 5, 5]);
      expectClose(await values(a), await values(b), F64, 'unbatched');
      expect(F.maxPool2d(x, 2).shape).to.deep.equal([2, 2, 2]);
      expect(F.convTranspose2d(x, randT([2, 3, 2, 2]), null, { stride: 2 }).shape).to.deep.equal([3, 10, 10]);
    });

    it('conv with a 1×1 kernel is a channel matmul', async function () {
      const x = randT([2, 3, 4, 4]);
      const w = randT([5, 3, 1, 1]);
      const y = F.conv2d(x, w);
      const ref = w.reshape(5, 3).matmul(x.reshape(2, 3, 16)).reshape(2, 5, 4, 4);
      expectClose(await values(y), await values(ref), F64, '1x1');
    });

    it('convTranspose is the gradient of conv with respect to its input', async function () {
      const x = randT([1, 2, 7, 6], { ...f64, requiresGrad: true });
      const w = randT([3, 2, 3, 2]);
      const opts = { stride: [2, 1], padding: [1, 0], dilation: [1, 2] };
      const y = F.conv2d(x, w, null, opts);
      const g = randT([...y.shape]);
      y.backward(g);
      const t = F.convTranspose2d(g, w, null, { ...opts, outputPadding: [0, 0] });
      expect(t.shape).to.deep.equal([1, 2, 7, 6]);
      expectClose(await values(t), await values(x.grad!), F64, 'adjoint');
    });

    it("maxPool splits the gradient of tied maxima evenly (PyTorch picks one)", async function () {
      const x = gg.tensor([[[[1, 1], [0, 1]]]], { ...f64, requiresGrad: true });
      F.maxPool2d(x, 2).sum().backward();
      expect(await values(x.grad!)).to.deep.equal([1 / 3, 1 / 3, 0, 1 / 3]);
    });

    it('avgPool divisors: countIncludePad, ceilMode, divisorOverride', async function () {
      const x = gg.ones([1, 1, 5, 5], f64);
      // including padding: corners average 4 ones over 9
      const inc = await values(F.avgPool2d(x, 3, { stride: 2, padding: 1 }));
      expect(inc[0]).to.be.closeTo(4 / 9, 1e-15);
      expect(await values(F.avgPool2d(x, 3, { stride: 2, padding: 1, countIncludePad: false }))).to.deep.equal(Array(9).fill(1));
      // ceil mode: a last window hanging over the edge counts only what it covers
      const ceil = F.avgPool2d(x, 2, { ceilMode: true });
      expect(ceil.shape).to.deep.equal([1, 1, 3, 3]);
      expect(await values(ceil)).to.deep.equal(Array(9).fill(1));
      expect(await values(F.avgPool2d(x, 2, { divisorOverride: 2 }))).to.deep.equal(Array(4).fill(2));
      expect(F.maxPool2d(x, 2, { ceilMode: true }).shape).to.deep.equal([1, 1, 3, 3]);
    });

    it('module forward equals the functional form', async function () {
      const m = new nn.Conv2d(2, 4, 3, { stride: 2, padding: 'valid', dtype: 'float64' });
      const x = randT([1, 2, 7, 7]);
      expectClose(await values(m.call(x)), await values(F.conv2d(x, m.weight, m.bias, { stride: 2 })), F64, 'module');
    });
  });

  describe('error messages (PyTorch)', function () {
    const w = gg.zeros([8, 3, 3, 3]);
    it('wrong channel count', function () {
      expect(() => F.conv2d(gg.zeros([1, 4, 5, 5]), w)).to.throw(
        'Given groups=1, weight of size [8, 3, 3, 3], expected input[1, 4, 5, 5] to have 3 channels, but got 4 channels instead',
      );
      expect(() => F.conv2d(gg.zeros([4, 5, 5]), w)).to.throw('expected input[1, 4, 5, 5] to have 3 channels, but got 4 channels instead');
      expect(() => F.convTranspose2d(gg.zeros([1, 4, 5, 5]), gg.zeros([2, 3, 3, 3]))).to.throw(
        'Given transposed=1, weight of size [2, 3, 3, 3], expected input[1, 4, 5, 5] to have 2 channels, but got 4 channels instead',
      );
      expect(() => new nn.Conv2d(3, 8, 3).call(gg.zeros([2, 4, 5, 5]))).to.throw('to have 3 channels, but got 4 channels instead');
    });
    it('wrong rank', function () {
      expect(() => F.conv2d(gg.zeros([5, 5]), w)).to.throw('Expected 3D (unbatched) or 4D (batched) input to conv2d, but got input of size: [5, 5]');
      expect(() => F.conv1d(gg.zeros([1, 1, 1, 5]), gg.zeros([1, 1, 2]))).to.throw(
        'Expected 2D (unbatched) or 3D (batched) input to conv1d, but got input of size: [1, 1, 1, 5]',
      );
      expect(() => F.conv3d(gg.zeros([5, 5]), gg.zeros([1, 1, 1, 1, 1]))).to.throw('Expected 4D (unbatched) or 5D (batched) input to conv3d');
    });
    it('kernel larger than the padded input', function () {
      expect(() => F.conv2d(gg.zeros([1, 3, 2, 2]), w)).to.throw(
        "Calculated padded input size per channel: (2 x 2). Kernel size: (3 x 3). Kernel size can't be greater than actual input size",
      );
      expect(() => F.conv2d(gg.zeros([1, 3, 2, 5]), w, null, { dilation: 2, padding: 1 })).to.throw('Calculated padded input size per channel: (4 x 7). Kernel size: (5 x 5)');
    });
    it('groups, bias, padding, pooling', function () {
      expect(() => F.conv2d(gg.zeros([1, 6, 5, 5]), gg.zeros([3, 3, 3, 3]), null, { groups: 2 })).to.throw(
        'Given groups=2, expected weight to be divisible by 2 at dimension 0, but got weight of size [3, 3, 3, 3] instead',
      );
      expect(() => F.conv2d(gg.zeros([1, 3, 5, 5]), w, gg.zeros([7]))).to.throw(
        'Given weight of size [8, 3, 3, 3], expected bias to be 1-dimensional with 8 elements, but got bias of size [7] instead',
      );
      expect(() => F.conv2d(gg.zeros([1, 3, 5, 5]), w, null, { padding: 'same', stride: 2 })).to.throw("padding='same' is not supported for strided convolutions");
      expect(() => new nn.Conv2d(3, 8, 3, { groups: 2 })).to.throw('in_channels must be divisible by groups');
      expect(() => new nn.Conv2d(4, 3, 3, { groups: 2 })).to.throw('out_channels must be divisible by groups');
      expect(() => F.maxPool2d(gg.zeros([1, 1, 5, 5]), 2, { padding: 2 })).to.throw('pad should be at most half of effective kernel size, but got pad=2, kernel_size=2 and dilation=1');
      expect(() => F.maxPool2d(gg.zeros([1, 1, 1, 5]), 2)).to.throw('Given input size: (1x1x5). Calculated output size: (1x0x2). Output size is too small');
      expect(() => F.maxPool2d(gg.zeros([5, 5]), 2)).to.throw('Expected 3D or 4D (batch mode) tensor');
      expect(() => F.convTranspose2d(gg.zeros([1, 2, 3, 3]), gg.zeros([2, 1, 3, 3]), null, { stride: 2, outputPadding: 2 })).to.throw(
        'output padding must be smaller than either stride or dilation',
      );
    });
  });

  describe('modules', function () {
    it('parameter shapes, init bounds, repr', function () {
      const c = new nn.Conv2d(3, 8, 3);
      expect(c.weight.shape).to.deep.equal([8, 3, 3, 3]);
      expect(c.bias!.shape).to.deep.equal([8]);
      const bound = 1 / Math.sqrt(27);
      for (const v of [...c.weight.dataSync(), ...c.bias!.dataSync()]) expect(Math.abs(v)).to.be.at.most(bound);
      expect(c.toString()).to.equal('Conv2d(3, 8, kernel_size=(3, 3), stride=(1, 1))');
      expect(Object.keys(c.stateDict())).to.deep.equal(['weight', 'bias']);

      const t = new nn.ConvTranspose2d(4, 6, [3, 2], { groups: 2, stride: 2, outputPadding: 1, bias: false });
      expect(t.weight.shape).to.deep.equal([4, 3, 3, 2]);
      expect(t.bias).to.equal(null);
      const tb = 1 / Math.sqrt(3 * 6); // PyTorch: fan_in from weight dim 1
      for (const v of t.weight.dataSync()) expect(Math.abs(v)).to.be.at.most(tb);
      expect(t.toString()).to.equal('ConvTranspose2d(4, 6, kernel_size=(3, 2), stride=(2, 2), output_padding=(1, 1), groups=2, bias=False)');

      expect(new nn.Conv1d(2, 4, 3, { padding: 1, dilation: 2 }).toString()).to.equal('Conv1d(2, 4, kernel_size=(3,), stride=(1,), padding=(1,), dilation=(2,))');
      expect(new nn.Conv3d(2, 4, 3, { padding: 'same' }).toString()).to.equal('Conv3d(2, 4, kernel_size=(3, 3, 3), stride=(1, 1, 1), padding=same)');
      expect(new nn.MaxPool2d(2).toString()).to.equal('MaxPool2d(kernel_size=2, stride=2, padding=0, dilation=1, ceil_mode=False)');
      expect(new nn.AvgPool2d([2, 3], { stride: [1, 2] }).toString()).to.equal('AvgPool2d(kernel_size=(2, 3), stride=(1, 2), padding=0)');
      expect(() => new nn.Conv2d(3, 8, 3, { paddingMode: 'reflect' as 'zeros' })).to.throw("padding_mode 'reflect'");
    });

    it('dtype and device options', function () {
      const c = new nn.ConvTranspose3d(2, 2, 2, { dtype: 'float64', device: 'cpu' });
      expect(c.weight.dtype).to.equal('float64');
      expect(c.call(gg.zeros([1, 2, 2, 2, 2], f64)).shape).to.deep.equal([1, 2, 3, 3, 3]);
    });

    for (const [name, make, input, wshape] of [
      ['LazyConv1d', () => new nn.LazyConv1d(4, 3), [2, 3, 8], [4, 3, 3]],
      ['LazyConv2d', () => new nn.LazyConv2d(4, 3, { groups: 2 }), [2, 6, 5, 5], [4, 3, 3, 3]],
      ['LazyConv3d', () => new nn.LazyConv3d(4, 2), [1, 3, 3, 3, 3], [4, 3, 2, 2, 2]],
      ['LazyConvTranspose1d', () => new nn.LazyConvTranspose1d(4, 3), [2, 3, 8], [3, 4, 3]],
      ['LazyConvTranspose2d', () => new nn.LazyConvTranspose2d(4, 3, { groups: 2 }), [2, 6, 5, 5], [6, 2, 3, 3]],
      ['LazyConvTranspose3d', () => new nn.LazyConvTranspose3d(4, 2), [3, 3, 3, 3], [3, 4, 2, 2, 2]],
    ] as [string, () => F.ConvNd, number[], number[]][]) {
      it(`${name} infers in_channels on the first forward and becomes ${name.slice(4)}`, function () {
        const m = make();
        expect(m.hasUninitializedParams()).to.equal(true);
        expect(m.parameters()).to.have.length(0);
        const seen: number[][] = [];
        nn.onMaterialize(m, (mm) => seen.push([...(mm as F.ConvNd).weight.shape]));
        const y = m.call(gg.zeros(input));
        expect(m.weight.shape).to.deep.equal(wshape);
        expect(seen).to.deep.equal([wshape]);
        expect(m.hasUninitializedParams()).to.equal(false);
        expect(m.constructor.name).to.equal(name.slice(4));
        expect(m.inChannels).to.equal(input[input.length === wshape.length ? 1 : 0]);
        expect(y.ndim).to.equal(input.length);
        expect(m.parameters()).to.have.length(2);
      });
    }

    it('loadStateDict into an unmaterialised lazy module materialises it', async function () {
      const src = new nn.Conv2d(3, 4, 3, { dtype: 'float64' });
      const m = new nn.LazyConv2d(4, 3, { dtype: 'float64' });
      let called = 0;
      nn.onMaterialize(m, () => called++);
      m.loadStateDict(src.stateDict());
      expect(called).to.equal(1);
      expect(m.inChannels).to.equal(3);
      expect(await values(m.weight)).to.deep.equal(await values(src.weight));
      expect(await values(m.bias!)).to.deep.equal(await values(src.bias!));
      expect(() => new nn.LazyConv2d(5, 3).loadStateDict(src.stateDict())).to.throw('size mismatch for weight');
    });

    it('a lazy module moved before materialising creates its weight there', function () {
      const m = new nn.LazyConv1d(2, 3).double();
      m.call(gg.zeros([1, 2, 5], f64));
      expect(m.weight.dtype).to.equal('float64');
    });

    it('spectral norm attaches to a lazy conv when it materialises', function () {
      const m = new nn.LazyConv2d(4, 3);
      nn.utils.parametrizations.spectralNorm(m);
      const y = m.call(gg.randn([1, 2, 5, 5]));
      expect(y.shape).to.deep.equal([1, 4, 3, 3]);
      expect(nn.utils.parametrize.isParametrized(m, 'weight')).to.equal(true);
    });
  });

  describe('float32 parity with the cpu float64 reference', function () {
    forEachDevice(
      (device) => {
        const check = async (fn: (x: gg.Tensor, w: gg.Tensor) => gg.Tensor, xs: number[], ws: number[]): Promise<void> => {
          gg.manualSeed(7);
          const x64 = randT(xs, { ...f64, requiresGrad: true });
          const w64 = randT(ws, { ...f64, requiresGrad: true });
          const x32 = (await x64.detach().float().toAsync(device)).requiresGrad_();
          const w32 = (await w64.detach().float().toAsync(device)).requiresGrad_();
          const y64 = fn(x64, w64);
          const y32 = fn(x32, w32);
          expect(y32.device).to.equal(device);
          expectClose(await values(y32), await values(y64), F32, 'output');
          const g = randT([...y64.shape]);
          y64.backward(g);
          y32.backward(await g.float().toAsync(device));
          expectClose(await values(x32.grad!), await values(x64.grad!), F32, 'input grad');
          expectClose(await values(w32.grad!), await values(w64.grad!), F32, 'weight grad');
        };
        it('conv2d (stride, padding, groups)', async function () {
          await check((x, w) => F.conv2d(x, w, null, { stride: 2, padding: 1, groups: 2 }), [2, 4, 7, 6], [4, 2, 3, 3]);
        });
        it('conv1d / conv3d (dilation)', async function () {
          await check((x, w) => F.conv1d(x, w, null, { dilation: 2, padding: 1 }), [2, 3, 9], [2, 3, 3]);
          await check((x, w) => F.conv3d(x, w, null, { stride: [1, 2, 1] }), [1, 2, 4, 5, 3], [2, 2, 2, 2, 2]);
        });
        it('convTranspose2d (stride, padding, outputPadding)', async function () {
          await check((x, w) => F.convTranspose2d(x, w, null, { stride: 2, padding: 1, outputPadding: 1 }), [2, 3, 4, 3], [3, 2, 3, 3]);
        });
        it('maxPool2d / avgPool2d (with padding)', async function () {
          await check((x, w) => F.maxPool2d(x.mul(w.sum()), 3, { stride: 2, padding: 1 }), [2, 2, 7, 6], [1]);
          await check((x, w) => F.avgPool2d(x.mul(w.sum()), 3, { stride: 2, padding: 1, countIncludePad: false }), [2, 2, 7, 6], [1]);
        });
      },
      { skipCpu: true },
    );
  });
});

describe('conv: a zero-size kernel is refused (PyTorch 1.13 messages, test/fixtures/torch_tools.json)', () => {
  const errors = toolsFixture().errors;
  it('conv1d, conv2d, conv3d and conv_transpose2d name the kernel size; a module with kernel 0 fails when called', () => {
    const expectMessage = (fn: () => unknown, key: string): void => {
      const message = errors[key];
      if (!message) throw new Error(`fixture has no message for ${key}`);
      expect(fn).to.throw(message);
    };
    expectMessage(() => F.conv1d(gg.randn([1, 1, 4]), gg.ones([1, 1, 0])), 'convKernel1d');
    expectMessage(() => F.conv2d(gg.randn([1, 1, 4, 4]), gg.ones([1, 1, 2, 0])), 'convKernel2d');
    expectMessage(() => F.conv3d(gg.randn([1, 1, 4, 4, 4]), gg.ones([1, 1, 0, 2, 2])), 'convKernel3d');
    expectMessage(() => F.convTranspose2d(gg.randn([1, 1, 4, 4]), gg.ones([1, 1, 0, 0])), 'convTransposeKernel2d');
    const conv = new gg.nn.Conv2d(1, 1, [2, 0]);
    expectMessage(() => conv.call(gg.randn([1, 1, 4, 4])), 'convKernel2d');
  });
});
