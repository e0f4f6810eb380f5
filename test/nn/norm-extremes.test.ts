/**
 * Normalisation layers in float32 on every device against PyTorch's values
 * (not against gpugrad's own float64 path), and at extreme magnitudes:
 * 1e±20 and 1e±30 in float32 on every device, 1e±200 in float64 on the cpu.
 *
 * At extreme magnitudes the reference is the same layer in float64 on the
 * cpu at a moderate magnitude: normalisation is scale invariant,
 * y(x; eps) = y(x/S; eps/S²), and dL/dx = (1/S)·dL/dx' there; the float64
 * path at moderate magnitudes is the one checked against PyTorch in
 * normalization.test.ts (docs/notes/normalization.md, "Extreme magnitudes").
 */
import { expect } from 'chai';
import * as gg from '../../src/index.js';
import { forEachDevice } from '../helpers/devices.js';
import { expectClose, fixture, values, type Golden, type GoldenStep, type Tol } from '../helpers/compare.js';
import { build, NORM_PREFIXES, type ModuleCase } from './normalization.test.js';

const nn = gg.nn;
const F32G: Tol = { rtol: 2e-4, atol: 2e-5 };

function golden32(t: Golden, device: string): gg.Tensor {
  return gg.tensor(Float64Array.from(t.data), { shape: t.shape, dtype: 'float32', device });
}

async function runCase32(c: ModuleCase, device: string): Promise<void> {
  const m = build(c, { dtype: 'float32', device });
  const sd: Record<string, gg.Tensor> = {};
  for (const [k, v] of Object.entries(c.state)) sd[k] = golden32(v, device);
  m.loadStateDict(sd);
  m.train(c.train);
  for (const [i, s] of c.steps.entries() as IterableIterator<[number, GoldenStep]>) {
    const label = `${c.name} step ${i} on ${device}`;
    const x = golden32(s.input, device).requiresGrad_();
    m.zeroGrad();
    const out = m.call(x);
    out.mul(golden32(s.gout, device)).sum().backward();
    expectClose(await values(out), s.output.data, F32G, `${label} output`);
    expectClose(await values(x.grad as gg.Tensor), s.input_grad.data, F32G, `${label} input_grad`);
    const params = new Map(m.namedParameters());
    for (const [n, g] of Object.entries(s.param_grads)) {
      const p = params.get(n) as gg.Tensor;
      // parameter grads sum over the batch: scale the tolerance with their size
      const scale = Math.max(1, ...g.data.map((v) => Math.abs(v)));
      expectClose(p.grad ? await values(p.grad) : new Array<number>(g.data.length).fill(0), g.data, { rtol: F32G.rtol, atol: F32G.atol * scale }, `${label} grad ${n}`);
    }
    const state = m.stateDict();
    for (const [k, v] of Object.entries(s.state_after)) expectClose(await values(state[k] as gg.Tensor), v.data, F32G, `${label} state ${k}`);
  }
}

describe('normalization: float32 on every device against PyTorch goldens', function () {
  this.timeout(600000);
  const cases = fixture<ModuleCase[]>('torch_nn.json').filter((c) => c.kind === 'module' && NORM_PREFIXES.some((p) => c.name.startsWith(p)));
  forEachDevice((device) => {
    it(`${cases.length} PyTorch cases (outputs, input and parameter grads, running stats) within float32 tolerance`, async () => {
      expect(cases.length).to.be.greaterThan(20);
      for (const c of cases) await runCase32(c, device);
    });
  });
});

/** The layers under test, all with 3 channels on (4, 3, 5, 5) inputs. */
const LAYERS: { name: string; make: (o: gg.nn.FactoryOptions & { eps?: number }) => gg.nn.Module }[] = [
  { name: 'BatchNorm2d', make: (o) => new nn.BatchNorm2d(3, o) },
  { name: 'InstanceNorm2d', make: (o) => new nn.InstanceNorm2d(3, o) },
  { name: 'LayerNorm', make: (o) => new nn.LayerNorm([3, 5, 5], o) },
  { name: 'GroupNorm', make: (o) => new nn.GroupNorm(3, 3, o) },
  { name: 'SwitchableNorm2d', make: (o) => new nn.SwitchableNorm2d(3, o) },
  { name: 'SwitchNorm2d', make: (o) => new nn.SwitchNorm2d(3, o) },
];
const SHAPE = [4, 3, 5, 5];

/** Deterministic normal-ish values (a fixed LCG and Box-Muller), with an offset per channel. */
function sample(n: number, seed: number): Float64Array {
  let s = seed >>> 0;
  const u = (): number => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return (s + 0.5) / 4294967296;
  };
  return Float64Array.from({ length: n }, (_, i) => Math.sqrt(-2 * Math.log(u())) * Math.cos(2 * Math.PI * u()) + ((i / 25) % 3) * 0.5);
}

/** Output, input grad and running mean of `layer` in training on x·scale. */
async function runAt(
  name: string,
  make: (o: gg.nn.FactoryOptions & { eps?: number }) => gg.nn.Module,
  base: Float64Array,
  gout: Float64Array,
  scale: number,
  dtype: gg.DType,
  device: string,
  eps: number,
): Promise<{ y: number[]; dx: number[]; rm: number[] | null; xs: Float64Array }> {
  const m = make({ dtype, device, eps });
  m.train(true);
  const xs = base.map((v) => v * scale);
  const x = gg.tensor(xs, { shape: SHAPE, dtype, device, requiresGrad: true });
  const y = m.call(x);
  y.mul(gg.tensor(gout, { shape: SHAPE, dtype, device })).sum().backward();
  const rmT = (m as unknown as { running_mean?: gg.Tensor | null }).running_mean ?? null;
  void name;
  return { y: await values(y), dx: await values(x.grad as gg.Tensor), rm: rmT ? await values(rmT) : null, xs: Float64Array.from(await values(x)) };
}

/**
 * The reference: the layer in float64 on the cpu at x/S' with eps/S'², where
 * S' keeps both x/S' and the variance representable (S' = S, but at most
 * 1e-50 below 1: x ~ 1e-200 is run as ~1e-150 with eps 1e95).
 */
async function reference(
  make: (o: gg.nn.FactoryOptions & { eps?: number }) => gg.nn.Module,
  xs: Float64Array,
  gout: Float64Array,
  scale: number,
  eps: number,
): Promise<{ y: number[]; dx: number[]; rm: number[] | null }> {
  const s = scale >= 1e-30 ? scale : 1e-50;
  const m = make({ dtype: 'float64', device: 'cpu', eps: eps / (s * s) });
  m.train(true);
  const x = gg.tensor(xs.map((v) => v / s), { shape: SHAPE, dtype: 'float64', requiresGrad: true });
  const y = m.call(x);
  y.mul(gg.tensor(gout, { shape: SHAPE, dtype: 'float64' })).sum().backward();
  const rmT = (m as unknown as { running_mean?: gg.Tensor | null }).running_mean ?? null;
  return {
    y: await values(y),
    dx: (await values(x.grad as gg.Tensor)).map((v) => v / s),
    rm: rmT ? (await values(rmT)).map((v) => v * s) : null,
  };
}

/** Relative-to-the-largest comparison: every value within tol·max|expected|. */
function expectScaled(actual: number[], expected: number[], rtol: number, label: string): void {
  const big = Math.max(...expected.map((v) => Math.abs(v)));
  expect(Number.isFinite(big) && big > 0, `${label}: reference is finite and non-zero`).to.equal(true);
  expect(actual.every((v) => Number.isFinite(v)), `${label}: finite values`).to.equal(true);
  expectClose(actual, expected, { rtol, atol: rtol * big }, label);
}

describe('normalization: extreme magnitudes (scale before squaring)', function () {
  this.timeout(600000);
  const base = sample(SHAPE.reduce((a, b) => a * b, 1), 7);
  const gout = sample(base.length, 11);
  forEachDevice((device) => {
    for (const layer of LAYERS) {
      it(`${layer.name} in float32 at 1e±20 and 1e±30: outputs and input grads as at scale 1`, async () => {
        for (const scale of [1e20, 1e30, 1e-20, 1e-30]) {
          const label = `${layer.name} ${device} float32 ×${scale}`;
          const got = await runAt(layer.name, layer.make, base, gout, scale, 'float32', device, 1e-5);
          const ref = await reference(layer.make, got.xs, gout, scale, 1e-5);
          expectScaled(got.y, ref.y, 1e-3, `${label} output`);
          expectScaled(got.dx, ref.dx, 2e-3, `${label} input grad`);
          if (got.rm && ref.rm) expectScaled(got.rm, ref.rm, 1e-3, `${label} running_mean`);
        }
      });
    }
  });
  for (const layer of LAYERS) {
    it(`${layer.name} in float64 at 1e±200 on the cpu`, async () => {
      for (const scale of [1e200, 1e-200]) {
        const label = `${layer.name} float64 ×${scale}`;
        const got = await runAt(layer.name, layer.make, base, gout, scale, 'float64', 'cpu', 1e-5);
        const ref = await reference(layer.make, got.xs, gout, scale, 1e-5);
        expectScaled(got.y, ref.y, 1e-9, `${label} output`);
        expectScaled(got.dx, ref.dx, 1e-9, `${label} input grad`);
        if (got.rm && ref.rm) expectScaled(got.rm, ref.rm, 1e-9, `${label} running_mean`);
      }
    });
  }
  it('BatchNorm2d at 1e20 in float32: normalised (PyTorch gives 0 there, the old code ~9e22)', async () => {
    const got = await runAt('BatchNorm2d', LAYERS[0]!.make, base, gout, 1e20, 'float32', 'cpu', 1e-5);
    const absMax = Math.max(...got.y.map(Math.abs));
    expect(absMax).to.be.within(1, 10);
  });
});
