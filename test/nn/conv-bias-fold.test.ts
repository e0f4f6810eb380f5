/**
 * A convolution's bias folded into its product (nn/conv/functional.ts,
 * `convSettings.foldBias`; docs/notes/architecture.md, "The gemm's bias
 * epilogue"): the `addmm` primitive over the batched product, on the cpu one
 * kernel (float32: the WebAssembly gemm's per-row `biasAdd`; float64: the
 * fused loop). Against the product followed by the broadcast add it
 * replaces, bit for bit: the output, the gradients of input, weight and bias
 * (the bias's the same sums), over a few SGD-like updates; one kernel fewer
 * per forward where the device fuses. PyTorch's values for convolutions with
 * a bias are conv.test.ts's goldens, which run this path on every device.
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import * as gg from '../../src/index.js';
import { rng } from '../helpers/random.js';
import { getDevice } from '../../src/backend/registry.js';
import { convSettings } from '../../src/nn/conv/functional.js';
import { wasmGemm } from '../../src/backend/wasm/gemm.js';

/** The first node under the output's views (reshape, squeeze): the folded product or the add. */
function computeNode(y: gg.Tensor): string | undefined {
  let node = y.gradFn;
  while (node && /^(View|Reshape|UnsafeView|Squeeze|Unsqueeze)\w*Backward0$/.test(node.name)) node = node.nextFunctions[0]?.[0] ?? null;
  return node?.name;
}

const same = (a: ArrayLike<number>, b: ArrayLike<number>): boolean => a.length === b.length && Array.from(a).every((v, i) => Object.is(v, b[i]));

interface Geom {
  rank: 1 | 2 | 3;
  n: number | null;
  cin: number;
  cout: number;
  size: number;
  k: number;
  groups: number;
  padding: number;
  stride: number;
}

/** Three forward/backward passes of one convolution with updates between: every output, gradient and the forward's kernel count. */
async function convSteps(dtype: gg.DType, g: Geom, fold: boolean): Promise<{ values: number[][]; kernels: number; node: string | undefined }> {
  const saved = convSettings.foldBias;
  convSettings.foldBias = fold;
  try {
    const r = rng(g.cin * 100 + g.cout * 10 + g.k + g.rank);
    const vals = (len: number): number[] => Array.from({ length: len }, () => r() * 2 - 1);
    const spatial = new Array<number>(g.rank).fill(g.size);
    const xShape = g.n === null ? [g.cin, ...spatial] : [g.n, g.cin, ...spatial];
    const wShape = [g.cout, g.cin / g.groups, ...new Array<number>(g.rank).fill(g.k)];
    const prod = (s: number[]): number => s.reduce((a, b) => a * b, 1);
    const x = gg.tensor(vals(prod(xShape)), { shape: xShape, dtype, requiresGrad: true });
    let w = gg.tensor(vals(prod(wShape)), { shape: wShape, dtype, requiresGrad: true });
    let b = gg.tensor(vals(g.cout), { shape: [g.cout], dtype, requiresGrad: true });
    const conv = [gg.nn.functional.conv1d, gg.nn.functional.conv2d, gg.nn.functional.conv3d][g.rank - 1]!;
    const values: number[][] = [];
    let kernels = 0;
    let node: string | undefined;
    for (let step = 0; step < 3; step++) {
      const before = gg.memory().kernelRuns;
      const y = conv(x, w, b, { padding: g.padding, stride: g.stride, groups: g.groups });
      kernels = gg.memory().kernelRuns - before;
      node = computeNode(y);
      y.backward(gg.tensor(vals(y.numel()), { shape: y.shape, dtype }));
      values.push([...(await y.data())], [...(await x.grad!.data())], [...(await w.grad!.data())], [...(await b.grad!.data())]);
      const [w2, b2] = gg.noGrad(() => [w.sub(w.grad!.mul(0.01)), b.sub(b.grad!.mul(0.01))]);
      w = w2!.requiresGrad_(true);
      b = b2!.requiresGrad_(true);
      x.grad = null;
    }
    return { values, kernels, node };
  } finally {
    convSettings.foldBias = saved;
  }
}

const geoms: Geom[] = [
  { rank: 2, n: 8, cin: 3, cout: 8, size: 12, k: 3, groups: 1, padding: 1, stride: 1 },
  { rank: 2, n: 4, cin: 16, cout: 32, size: 14, k: 3, groups: 1, padding: 1, stride: 1 },
  { rank: 2, n: 4, cin: 4, cout: 6, size: 9, k: 3, groups: 2, padding: 0, stride: 2 },
  { rank: 2, n: 3, cin: 8, cout: 12, size: 10, k: 1, groups: 1, padding: 0, stride: 1 },
  { rank: 2, n: null, cin: 3, cout: 5, size: 11, k: 3, groups: 1, padding: 1, stride: 1 },
  { rank: 1, n: 5, cin: 4, cout: 7, size: 30, k: 3, groups: 1, padding: 1, stride: 1 },
  { rank: 3, n: 2, cin: 2, cout: 4, size: 6, k: 3, groups: 1, padding: 1, stride: 1 },
];

describe('convolution bias folded into the product (cpu)', () => {
  for (const dtype of ['float32', 'float64'] as const) {
    it(`${dtype}: bit for bit the product then the broadcast add, over three updates`, async () => {
      for (const g of geoms) {
        const label = `${dtype} ${JSON.stringify(g)}`;
        const folded = await convSteps(dtype, g, true);
        const added = await convSteps(dtype, g, false);
        expect(folded.values.length).to.equal(added.values.length);
        folded.values.forEach((v, i) => expect(same(v, added.values[i] as number[]), `${label}: value ${i}`).to.equal(true));
        // the node under the output's reshape: the folded product, or the add over the product
        expect(folded.node, label).to.equal('AddmmBackward0');
        expect(added.node, label).to.equal('AddBackward0');
        // one kernel fewer where the cpu fuses the bias: float64 always; float32 on the gemm for one group
        // (a grouped product's per-group bias is not one row vector over the batch) of a product it packs
        const dev = getDevice('cpu') as unknown as { gemmBias: boolean };
        if (dtype === 'float64' && dev.gemmBias) expect(folded.kernels, label).to.equal(added.kernels - 1);
        if (dtype === 'float32' && dev.gemmBias && wasmGemm() && g.groups === 1 && g.cout >= 8) expect(folded.kernels, label).to.equal(added.kernels - 1);
        if (g.groups > 1 && dtype === 'float32') expect(folded.kernels, label).to.equal(added.kernels);
      }
    });
  }

  it('GPUGRAD_CONV_ADDMM=0 keeps the add in a fresh process (the flag is read after the platform is installed)', () => {
    const index = fileURLToPath(new URL('../../src/index.js', import.meta.url));
    const script = `const gg = await import(${JSON.stringify(index)});
      const conv = new gg.nn.Conv2d(1, 2, 3);
      const y = conv.forward(gg.ones([1, 1, 4, 4], { requiresGrad: true }));
      let f = y.gradFn; while (f && f.name.startsWith('View')) f = f.nextFunctions[0][0];
      console.log(f.name);`;
    const run = (flag: string): string => {
      const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', env: { ...process.env, GPUGRAD_CONV_ADDMM: flag } });
      expect(r.status, r.stderr).to.equal(0);
      return r.stdout.trim();
    };
    expect(run('0')).to.equal('AddBackward0');
    expect(run('1')).to.equal('AddmmBackward0');
  });

  it('the switch off (GPUGRAD_CONV_ADDMM=0) keeps the add; no bias, a plain product', () => {
    const x = gg.ones([1, 2, 5, 5], { requiresGrad: true });
    const saved = convSettings.foldBias;
    try {
      convSettings.foldBias = false;
      expect(computeNode(gg.nn.functional.conv2d(x, gg.ones([3, 2, 3, 3]), gg.ones([3])))).to.equal('AddBackward0');
      convSettings.foldBias = true;
      expect(computeNode(gg.nn.functional.conv2d(x, gg.ones([3, 2, 3, 3]), gg.ones([3])))).to.equal('AddmmBackward0');
      expect(computeNode(gg.nn.functional.conv2d(x, gg.ones([3, 2, 3, 3])))).to.not.match(/^Add/);
    } finally {
      convSettings.foldBias = saved;
    }
  });

  it('a bias of another dtype is added as before (the add promotes: float64, AddBackward0)', () => {
    const y = gg.nn.functional.conv2d(gg.ones([1, 2, 5, 5], { requiresGrad: true }), gg.ones([3, 2, 3, 3]), gg.ones([3], { dtype: 'float64' }));
    expect(y.dtype).to.equal('float64');
    expect(computeNode(y)).to.equal('AddBackward0');
  });
});
