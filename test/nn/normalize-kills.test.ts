/**
 * The normalize primitive's kernel plan (src/tensor/normalize.ts), written from the survivors of
 * the mutation run over it (`MUTATION_SET=normalize`, docs/notes/mutation-testing.md): which of
 * its kernels run (gg.profile) for batch norm (a per-channel weight joined with istd) and layer
 * norm (an elementwise weight), when the input, the parameters or both need a gradient, and in
 * forward mode. Only the primitive's own kernels (named after its node, `Native…`) are compared;
 * its values and gradients are pinned by normalize.test.ts and the layers' PyTorch goldens.
 *
 * Run: npx tsc -p tsconfig.json && GPUGRAD_TEST_DEVICES=cpu node scripts/run-tests.mjs dist/test/nn/normalize-kills.test.js
 */
import { expect } from 'chai';
import * as gg from '../../src/index.js';
import { moments, normalizeOver } from '../../src/nn/norm/functional.js';
import { getDevice } from '../../src/backend/registry.js';
import type { CpuDevice } from '../../src/backend/cpu.js';
import { expectClose } from '../helpers/compare.js';

const f64 = { dtype: 'float64' as const };
/** A fixed [4, 3, 5] input (the plan does not depend on the values). */
const input = (): gg.Tensor => gg.tensor(Array.from({ length: 60 }, (_, i) => Math.sin(i)), { ...f64, shape: [4, 3, 5] });

/** The primitive's kernels that `fn` runs, in order. */
async function own(fn: () => unknown): Promise<string[]> {
  return (await gg.profile(fn)).kernels.map((k) => k.kernel).filter((k) => k.startsWith('Native'));
}

const layers = {
  // forward: istd·w per group, then one pass; backward: Σg (a plain sum) and Σg·(c - m), dw, the
  // per-group terms of dx, istd·w again, one pass for dx
  batch: {
    make: () => new gg.nn.BatchNorm1d(3, f64),
    forward: ['NativeBatchNormScale', 'NativeBatchNorm'],
    both: ['NativeBatchNormGradCentredSum', 'NativeBatchNormGradWeight', 'NativeBatchNormGradMean', 'NativeBatchNormGradSquare', 'NativeBatchNormScale', 'NativeBatchNormGradInput'],
    params: ['NativeBatchNormGradCentredSum', 'NativeBatchNormGradWeight'],
    input: ['NativeBatchNormGradCentredSum', 'NativeBatchNormGradMean', 'NativeBatchNormGradSquare', 'NativeBatchNormScale', 'NativeBatchNormGradInput'],
  },
  // an elementwise weight: Σg·w and Σg·w·(c - m) as their own reductions, dw through istd
  layer: {
    make: () => new gg.nn.LayerNorm([5], f64),
    forward: ['NativeLayerNormScale', 'NativeLayerNorm'],
    both: ['NativeLayerNormGradSum', 'NativeLayerNormGradCentredSum', 'NativeLayerNormInvStd', 'NativeLayerNormGradWeight', 'NativeLayerNormGradMean', 'NativeLayerNormGradSquare', 'NativeLayerNormScale', 'NativeLayerNormGradInput'],
    params: ['NativeLayerNormInvStd', 'NativeLayerNormGradWeight'],
    input: ['NativeLayerNormGradSum', 'NativeLayerNormGradCentredSum', 'NativeLayerNormGradMean', 'NativeLayerNormGradSquare', 'NativeLayerNormScale', 'NativeLayerNormGradInput'],
  },
};

describe('normalize primitive: its kernels (float64 on the cpu)', () => {
  for (const [name, l] of Object.entries(layers)) {
    it(`${name} norm: forward, and backward for the input and parameters, the parameters only, the input only`, async () => {
      const m = l.make();
      const x = input().requiresGrad_(true);
      let y: gg.Tensor | null = null;
      expect(await own(() => (y = m.forward(x)))).to.deep.equal(l.forward);
      const out = y as unknown as gg.Tensor;
      expect(out.gradFn?.name).to.equal(name === 'batch' ? 'NativeBatchNormBackward0' : 'NativeLayerNormBackward0');
      expect(await own(() => out.sum().backward()), 'both').to.deep.equal(l.both);
      const y2 = m.forward(x.detach());
      expect(await own(() => y2.sum().backward()), 'parameters only').to.deep.equal(l.params);
      for (const p of m.parameters()) p.requiresGrad_(false);
      const y3 = m.forward(x);
      expect(await own(() => y3.sum().backward()), 'input only').to.deep.equal(l.input);
    });
  }

  it('forward mode: the tangent of layer norm from those of x and the weight', async () => {
    const m = layers.layer.make();
    const fwAD = gg.autograd.forwardAd;
    const x = input();
    const ks = await own(() =>
      fwAD.dualLevel(() => {
        const y = m.forward(fwAD.makeDual(x, gg.onesLike(x)));
        const t = fwAD.unpackDual(y).tangent;
        expect(t?.shape).to.deep.equal([4, 3, 5]);
        return t;
      }),
    );
    expect(ks).to.deep.equal(['NativeLayerNormScale', 'NativeLayerNorm', 'NativeLayerNormInvStd', 'NativeLayerNormTangentSum', 'NativeLayerNormTangentCentredSum', 'NativeLayerNormTangentMean', 'NativeLayerNormTangentInvStd', 'NativeLayerNormTangentInput', 'NativeLayerNormTangentInput']);
  });
});

/**
 * Every kernel the primitive runs (not only its own: the `Mean`, the plain sums of g, the product
 * g·w), called as the layers call it (`normalizeOver` over moments computed first), for each set of
 * inputs that require grad. Each entry is `kernel elements`, ` host` for the cpu device's float32
 * host loops (tensor/normalize-fast.ts), `@` for the op's name. Written from the mutation run's
 * survivors (docs/notes/mutation-testing.md): the gradients nobody needs are not computed (Σg for a
 * bias that does not require grad, Σg·(c - m) for a weight that does not), the sums are recomputed
 * from x only under createGraph, a per-group weight joins istd (the Scale kernel has one value per
 * group) and an elementwise one does not, and the float32 fast passes run exactly where they apply.
 */
describe('normalize primitive: its whole kernel plan, by which inputs require grad', () => {
  interface Plan {
    x: number[];
    dims: number[];
    w: number[] | null;
    b: number[] | null;
    safe: boolean;
    name: string;
    /** By the inputs that require grad: '' is the forward, `cg x` a recorded backward (createGraph). */
    plans: Record<string, string>;
  }
  const common = {
    batch: { x: [4, 3, 5], dims: [0, 2], w: [1, 3, 1], b: [1, 3, 1], safe: true, name: 'NativeBatchNorm' },
    // the groups are per sample and channel, the weight and bias per channel: dw and db sum over the batch
    instance: { x: [2, 3, 4], dims: [2], w: [1, 3, 1], b: [1, 3, 1], safe: true, name: 'NativeBatchNorm' },
    // a weight and bias of fewer dims than x, elementwise within a group
    layer: { x: [4, 3, 5], dims: [2], w: [5], b: [5], safe: false, name: 'NativeLayerNorm' },
    // a weight and bias per channel inside a group (not one value per group)
    group: { x: [2, 2, 3, 4], dims: [2, 3], w: [1, 2, 3, 1], b: [1, 2, 3, 1], safe: false, name: 'NativeGroupNorm' },
  };
  // float64: no fast pass. Backward: Σg·(c - m) and Σg (per group), dw, then dx's per-group terms and one pass
  const cases: Record<string, Plan> = {
    'batch norm (float64)': {
      ...common.batch,
      plans: {
        '': 'Mean 3, @Scale 3, @ 60',
        xwb: 'Mean 3, sum 3, @GradCentredSum 3, @GradWeight 3, @GradMean 3, @GradSquare 3, @Scale 3, @GradInput 60',
        x: 'Mean 3, sum 3, @GradCentredSum 3, @GradMean 3, @GradSquare 3, @Scale 3, @GradInput 60',
        w: 'Mean 3, @GradCentredSum 3, @GradWeight 3',
        b: 'Mean 3, sum 3',
        wb: 'Mean 3, sum 3, @GradCentredSum 3, @GradWeight 3',
        'cg x': 'CentredSum 3, CentredSquareSum 3, Mean 3, sum 3, @GradCentredSum 3, @GradMean 3, @GradSquare 3, @Scale 3, @GradInput 60',
        'cg b': 'Mean 3, sum 3',
      },
    },
    'instance norm (float64)': {
      ...common.instance,
      plans: {
        '': 'Mean 6, @Scale 6, @ 24',
        xwb: 'Mean 6, sum 6, @GradCentredSum 6, @GradWeight 6, sum 3, sum 3, @GradMean 6, @GradSquare 6, @Scale 6, @GradInput 24',
        w: 'Mean 6, @GradCentredSum 6, @GradWeight 6, sum 3',
        b: 'Mean 6, sum 6, sum 3',
      },
    },
    // Σg·w and Σg·w·(c - m) as their own reductions, dw through istd, g·w before dx's pass
    'layer norm (float64)': {
      ...common.layer,
      plans: {
        '': 'Mean 12, @Scale 12, @ 60',
        xwb: 'Mean 12, @GradSum 12, @GradCentredSum 12, @InvStd 12, @GradWeight 5, sum 5, @GradMean 12, @GradSquare 12, @Scale 12, mul 60, @GradInput 60',
        x: 'Mean 12, @GradSum 12, @GradCentredSum 12, @GradMean 12, @GradSquare 12, @Scale 12, mul 60, @GradInput 60',
        w: 'Mean 12, @InvStd 12, @GradWeight 5',
        b: 'Mean 12, sum 5',
        wb: 'Mean 12, @InvStd 12, @GradWeight 5, sum 5',
        'cg xwb': 'CentredSum 12, CentredSquareSum 12, Mean 12, @GradSum 12, @GradCentredSum 12, @InvStd 12, @GradWeight 5, sum 5, @GradMean 12, @GradSquare 12, @Scale 12, mul 60, @GradInput 60',
      },
    },
    'group norm (float64)': {
      ...common.group,
      plans: {
        '': 'Mean 4, @Scale 4, @ 48',
        xwb: 'Mean 4, @GradSum 4, @GradCentredSum 4, @InvStd 4, @GradWeight 6, sum 6, @GradMean 4, @GradSquare 4, @Scale 4, mul 48, @GradInput 48',
        w: 'Mean 4, @InvStd 4, @GradWeight 6',
        b: 'Mean 4, sum 6',
      },
    },
    // float32 on the cpu: the output, Σg with Σg·(c - m), and dx as host loops where the weight joins istd
    'batch norm (float32)': {
      ...common.batch,
      plans: {
        '': 'Mean 3, @Scale 3, @ 60 host',
        xwb: 'Mean 3, NormGradSums 6 host, @GradWeight 3, @GradMean 3, @GradSquare 3, @Scale 3, @GradInput 60 host',
        x: 'Mean 3, NormGradSums 6 host, @GradMean 3, @GradSquare 3, @Scale 3, @GradInput 60 host',
        w: 'Mean 3, @GradCentredSum 3, @GradWeight 3',
        b: 'Mean 3, sum 3',
        wb: 'Mean 3, NormGradSums 6 host, @GradWeight 3',
        'cg x': 'CentredSum 3, CentredSquareSum 3, Mean 3, sum 3, @GradCentredSum 3, @GradMean 3, @GradSquare 3, @Scale 3, @GradInput 60',
      },
    },
    // an elementwise weight: no host loop (the output's loop takes one scale per group)
    'layer norm without bias (float32)': {
      ...common.layer,
      b: null,
      plans: {
        '': 'Mean 12, @Scale 12, @ 60',
        x: 'Mean 12, @GradSum 12, @GradCentredSum 12, @GradMean 12, @GradSquare 12, @Scale 12, mul 60, @GradInput 60',
      },
    },
    'no weight, no bias (float32)': {
      ...common.batch,
      w: null,
      b: null,
      plans: {
        '': 'Mean 3, @Scale 3, @ 60 host',
        x: 'Mean 3, NormGradSums 6 host, @GradMean 3, @GradSquare 3, @Scale 3, @GradInput 60 host',
      },
    },
  };
  const cpu = getDevice('cpu') as CpuDevice;
  const size = (s: readonly number[]): number => s.reduce((a, b) => a * b, 1);
  const wave = (n: number, seed: number): number[] => Array.from({ length: n }, (_, i) => Math.sin(seed * 12.9898 + i * 78.233) * 2 + 0.3);

  /** Every kernel `fn` runs, as `kernel elements` (` host` for a host loop). */
  async function plan(fn: () => unknown): Promise<string> {
    const p = await gg.profile(fn, { source: true });
    return p.kernels.map((k) => `${k.kernel} ${k.elements}${k.source?.includes('host loop') ? ' host' : ''}`).join(', ');
  }

  for (const [name, c] of Object.entries(cases)) {
    const dtype = name.includes('float32') ? ('float32' as const) : ('float64' as const);
    it(name, async () => {
      // the host loops are the default; GPUGRAD_FAST_NORM=0 turns them off for a whole run
      const was = [cpu.fastNorm, cpu.normFused] as const;
      cpu.fastNorm = true;
      try {
        cpu.normFused = false;
        await plans(name, c, dtype);
        // the WebAssembly engine: x's gradient with the backward's sums, one pass per group (`fastGradFused`)
        cpu.normFused = true;
        if (cpu.groupPasses.gradFused && cpu.normLanes) await plans(name, c, dtype, true);
      } finally {
        [cpu.fastNorm, cpu.normFused] = was;
      }
    });
  }

  async function plans(name: string, c: Plan, dtype: 'float32' | 'float64', fused = false): Promise<void> {
    for (const [key, planned] of Object.entries(c.plans)) {
      const want = fused && /^x/.test(key) ? planned.replace('NormGradSums 6 host', 'NormGradFused 66 host').replace(', @GradInput 60 host', '') : planned;
      const which = key.replace('cg ', '');
      const mk = (shape: number[], seed: number, rg: boolean): gg.Tensor => gg.tensor(wave(size(shape), seed), { shape, dtype, requiresGrad: rg });
      const x = mk(c.x, 1, which.includes('x'));
      const w = c.w ? mk(c.w, 2, which.includes('w')) : null;
      const b = c.b ? mk(c.b, 3, which.includes('b')) : null;
      // a dense grad_output: the fast passes read g as they read x
      const g = mk(c.x, 4, false);
      const m = gg.noGrad(() => moments(x.detach(), c.dims, { eps: 1e-5 }));
      let y: gg.Tensor | null = null;
      const fwd = await plan(() => (y = normalizeOver(x, m, w, b, c.safe, c.name, c.dims)));
      const expected = want.replaceAll('@', c.name);
      if (key === '') {
        expect(fwd, `${name}: forward`).to.equal(expected);
        continue;
      }
      const ins = [x, w, b].filter((t): t is gg.Tensor => t !== null && t.requiresGrad);
      const got = await plan(() => gg.autograd.grad([y as unknown as gg.Tensor], ins, { gradOutputs: [g], createGraph: key.startsWith('cg') }));
      expect(got, `${name}: backward, requiring grad: ${key}`).to.equal(expected);
    }
  }

  it('forward mode: a weight\'s and a bias\'s tangents alone (layer norm, float64): values from the formula', async () => {
    const fw = gg.autograd.forwardAd;
    const xs = wave(60, 1);
    const x = gg.tensor(xs, { ...f64, shape: [4, 3, 5] });
    const w = gg.tensor(wave(5, 2), f64);
    const b = gg.tensor(wave(5, 3), f64);
    const m = gg.noGrad(() => moments(x, [2], { eps: 1e-5 }));
    // tangent ones for w and b: dy = (x - mean)/sqrt(var + eps) + 1 (population variance per row of 5)
    const want = xs.map((v, i) => {
      const row = xs.slice(i - (i % 5), i - (i % 5) + 5);
      const mean = row.reduce((a, r) => a + r, 0) / 5;
      const vr = row.reduce((a, r) => a + (r - mean) ** 2, 0) / 5;
      return (v - mean) / Math.sqrt(vr + 1e-5) + 1;
    });
    let t: gg.Tensor | null = null;
    const ks = await own(() =>
      fw.dualLevel(() => {
        const y = normalizeOver(x, m, fw.makeDual(w, gg.onesLike(w)), fw.makeDual(b, gg.onesLike(b)), false, 'NativeLayerNorm', [2]);
        t = fw.unpackDual(y).tangent;
      }),
    );
    expect(ks).to.deep.equal(['NativeLayerNormScale', 'NativeLayerNorm', 'NativeLayerNormInvStd', 'NativeLayerNormTangentWeight']);
    const tt = t as unknown as gg.Tensor;
    expect(tt.shape).to.deep.equal([4, 3, 5]);
    expectClose(Array.from(await tt.data()), want, { rtol: 1e-12, atol: 1e-12 }, 'tangent');
    // the bias's tangent alone is broadcast to the output's shape
    const tb = fw.dualLevel(() => fw.unpackDual(normalizeOver(x, m, w, fw.makeDual(b, gg.tensor([1, 2, 3, 4, 5], f64)), false, 'NativeLayerNorm', [2])).tangent);
    expect(tb?.shape).to.deep.equal([4, 3, 5]);
    expect(Array.from(await (tb as gg.Tensor).data())).to.deep.equal(Array.from({ length: 60 }, (_, i) => (i % 5) + 1));
  });

  it('layer norm with a weight and no bias (float32 on the cpu): the formula\'s values, the weight applied', async () => {
    const xs = wave(60, 5);
    const ws = wave(5, 6);
    const x = gg.tensor(xs, { shape: [4, 3, 5] });
    const y = gg.nn.functional.layerNorm(x, [5], gg.tensor(ws), null);
    const want = xs.map((v, i) => {
      const row = xs.slice(i - (i % 5), i - (i % 5) + 5);
      const mean = row.reduce((a, r) => a + r, 0) / 5;
      const vr = row.reduce((a, r) => a + (r - mean) ** 2, 0) / 5;
      return ((v - mean) / Math.sqrt(vr + 1e-5)) * (ws[i % 5] as number);
    });
    expectClose(Array.from(await y.data()), want, { rtol: 1e-5, atol: 1e-5 }, 'output');
  });
});
