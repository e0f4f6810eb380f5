/**
 * crossEntropy's fused path (nn/loss.ts `fusedCrossEntropy`: class indices,
 * no class weight, no label smoothing, 'mean' or 'sum'): the target's
 * log-probability read from the logits in one fused reduction and the
 * backward in two kernels (`NllShortcut`), against
 * - the path it replaces (`lossSettings.fusedCrossEntropy = false`: the fused
 *   log-softmax, then the fused pick) on every device: loss and gradient,
 *   bit for bit on the cpu in float64 and float32, with createGraph and
 *   second derivatives;
 * - PyTorch's goldens (test/fixtures/torch_cross_entropy.json,
 *   make_cross_entropy.py): inf, -inf, NaN and huge logits, ignoreIndex,
 *   every target ignored, spatial input;
 * - the kernel count (fewer) and the cases that keep the old path.
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import * as gg from '../../src/index.js';
import { forEachDevice, skipBecause } from '../helpers/devices.js';
import { expectClose, fixture } from '../helpers/compare.js';
import { decodeAll, type SpecialGolden } from '../helpers/special.js';
import { onThenOff } from '../helpers/switches.js';
import { getDevice } from '../../src/backend/registry.js';
import { lossSettings } from '../../src/nn/loss.js';

type T = gg.Tensor;
const F = gg.nn.functional;

interface Case {
  name: string;
  dtype: 'float32' | 'float64';
  reduction: 'mean' | 'sum';
  ignore_index: number;
  x: SpecialGolden;
  target: SpecialGolden;
  gout: number;
  output: SpecialGolden;
  grad: SpecialGolden;
}
const cases = fixture<{ cases: Case[] }>('torch_cross_entropy.json').cases;

const wave = (n: number, seed: number): number[] => Array.from({ length: n }, (_, i) => Math.sin(i * 1.3 + seed) * 3);
const values = async (t: T): Promise<number[]> => Array.from(await t.data());
/** Bit-for-bit equality (Object.is: -0 is not 0; any NaN matches NaN). */
function expectSame(a: number[], b: number[], label: string): void {
  expect(a.length, label).to.equal(b.length);
  a.forEach((v, i) => {
    if (!(Number.isNaN(v) && Number.isNaN(b[i]!)) && !Object.is(v, b[i])) expect.fail(`${label}: element ${i} is ${v}, expected ${b[i]}`);
  });
}

forEachDevice((device) => {
  describe('crossEntropy, fused path: PyTorch goldens', () => {
    for (const c of cases) {
      it(`${c.name}`, async function () {
        if (!getDevice(device).dtypes.includes(c.dtype)) skipBecause(this, `${device} has no ${c.dtype} (docs/notes/dtypes.md)`);
        const x = gg.tensor(decodeAll(c.x), { shape: c.x.shape, dtype: c.dtype, device, requiresGrad: true });
        const target = gg.tensor(decodeAll(c.target), { shape: c.target.shape, dtype: 'int64', device });
        const y = F.crossEntropy(x, target, { ignoreIndex: c.ignore_index, reduction: c.reduction });
        y.backward(gg.tensor(c.gout, { dtype: c.dtype, device }));
        const tol = c.dtype === 'float64' ? { rtol: 1e-12, atol: 1e-14 } : { rtol: 1e-5, atol: 1e-6 };
        expectClose(await y.data(), decodeAll(c.output), tol, `${device} ${c.name} loss`);
        expectClose(await x.grad!.data(), decodeAll(c.grad), tol, `${device} ${c.name} gradient`);
      });
    }
  });

  describe('crossEntropy, fused path: the path it replaces', function () {
    this.timeout(120_000);
    const dtypes = getDevice(device).dtypes.includes('float64') ? (['float32', 'float64'] as const) : (['float32'] as const);
    for (const dtype of dtypes) {
      it(`(${dtype}) loss and gradient: reductions, ignoreIndex, spatial input, special logits; createGraph and second derivatives`, async () => {
        // the cpu computes both paths in the same precision: the same bits (docs/notes/architecture.md, "Fused kernels")
        const exact = device === 'cpu';
        const same = (a: number[], b: number[], label: string): void => {
          if (exact) expectSame(a, b, label);
          else expectClose(a, b, dtype === 'float64' ? { rtol: 1e-12, atol: 1e-12 } : { rtol: 1e-5, atol: 1e-6 }, label);
        };
        const shapes: { shape: number[]; target: number[]; ignoreIndex?: number; special?: [number, number][] }[] = [
          { shape: [5, 4], target: [0, 3, 1, 1, 2] },
          { shape: [5, 4], target: [0, 3, -100, 1, 2], special: [[1, -Infinity], [4, Infinity], [9, NaN], [15, 1e30]] },
          { shape: [4, 3], target: [2, 1, 2, 0], ignoreIndex: 2 },
          { shape: [2, 3], target: [-100, -100] },
          { shape: [2, 3, 2, 2], target: [0, 1, 2, 0, 2, 2, 1, 0] },
          { shape: [3, 1], target: [0, 0, 0] },
        ];
        for (const k of shapes) {
          for (const reduction of ['sum', 'mean'] as const) {
            const n = k.shape.reduce((a, b) => a * b, 1);
            const raw = wave(n, n + k.target.length);
            for (const [i, v] of k.special ?? []) raw[i] = v;
            const target = gg.tensor(k.target, { shape: [k.shape[0]!, ...k.shape.slice(2)], dtype: 'int64', device });
            const ignoreIndex = k.ignoreIndex ?? -100;
            const label = `${device} ${dtype} ${k.shape.join('x')} ${reduction} ignore ${ignoreIndex}`;
            const run = async (createGraph: boolean): Promise<number[][]> => {
              const x = gg.tensor(raw, { shape: k.shape, dtype, device, requiresGrad: true });
              const y = F.crossEntropy(x, target, { ignoreIndex, reduction });
              const seed = gg.tensor(0.75, { dtype, device });
              const [gx] = gg.autograd.grad(y, [x], { gradOutputs: seed, createGraph });
              const out = [await values(y), await values(gx!)];
              if (createGraph) {
                const v = gg.tensor(wave(n, 7), { shape: k.shape, dtype, device });
                const [h] = gg.autograd.grad(gx!.mul(v).sum(), [x]);
                out.push(await values(h!));
              }
              return out;
            };
            const [on, off] = await onThenOff(lossSettings, 'fusedCrossEntropy', () => run(false));
            same(on[0]!, off[0]!, `${label} loss`);
            same(on[1]!, off[1]!, `${label} gradient`);
            const [onG, offG] = await onThenOff(lossSettings, 'fusedCrossEntropy', () => run(true));
            same(onG[1]!, offG[1]!, `${label} gradient (createGraph)`);
            // the second derivative runs the fused rules' own derivatives: the same formulas, summed in another order
            const tol = dtype === 'float64' ? { rtol: 1e-10, atol: 1e-12 } : { rtol: 1e-4, atol: 1e-5 };
            expectClose(onG[2]!, offG[2]!, tol, `${label} second derivative`);
          }
        }
      });
    }
  });
});

describe('crossEntropy, fused path: kernels, node and the cases it leaves (cpu)', () => {
  const x = gg.tensor(wave(40, 1), { shape: [10, 4], requiresGrad: true });
  const target = gg.tensor([0, 3, 1, 1, 2, 0, 3, 2, 1, 0], { dtype: 'int64' });
  const kernels = async (fn: () => void): Promise<string[]> => (await gg.profile(fn)).kernels.map((k) => k.kernel);

  it('takes fewer kernels forward and backward, and records NllLossBackward0 over LogSoftmaxBackward0 over x', async () => {
    const step = (): void => {
      x.grad = null;
      F.crossEntropy(x, target).backward();
    };
    const [on, off] = await onThenOff(lossSettings, 'fusedCrossEntropy', () => kernels(step));
    expect(on.length).to.be.below(off.length);
    // the shortcut's two kernels, and no log-softmax output or pick
    expect(on).to.include.members(['CrossEntropyBackwardSum', 'CrossEntropyBackward']);
    expect(on).to.not.include.members(['LogSoftmax', 'NllPick', 'NllPickBackward', 'NllLossBackward']);
    expect(off.length - on.length).to.equal(5);
    // PyTorch's graph (test/nn/loss-nodes.test.ts): NllLossBackward0 (the sum inside it) over the
    // per-row node, named LogSoftmaxBackward0 (its backward is log-softmax's), over x
    const y = F.crossEntropy(x, target, { reduction: 'sum' });
    expect(y.gradFn!.name).to.equal('NllLossBackward0');
    const rows = y.gradFn!.nextFunctions[0]![0]!;
    expect(rows.name).to.equal('LogSoftmaxBackward0');
    expect(rows.nextFunctions[0]![0]!.name).to.equal('AccumulateGrad');
  });

  it('GPUGRAD_FUSED_CE=0 turns it off in a fresh process (the flag is read after the platform is installed)', () => {
    const index = fileURLToPath(new URL('../../src/index.js', import.meta.url));
    const script = `const gg = await import(${JSON.stringify(index)});
      const x = gg.tensor([[1, 2, 3], [0, -1, 4]], { requiresGrad: true });
      const p = await gg.profile(() => gg.nn.functional.crossEntropy(x, gg.tensor([2, 0], { dtype: 'int64' })).backward());
      console.log(p.kernels.some((k) => k.kernel === 'LogSoftmax') ? 'replaced' : 'fused');`;
    const run = (flag: string): string => {
      const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', env: { ...process.env, GPUGRAD_FUSED_CE: flag } });
      expect(r.status, r.stderr).to.equal(0);
      return r.stdout.trim();
    };
    expect(run('0')).to.equal('replaced');
    expect(run('1')).to.equal('fused');
  });

  it("keeps the old path for 'none', class weights, label smoothing and probabilities", async () => {
    const w = gg.tensor([1, 2, 0.5, 1]);
    const probs = gg.ones([10, 4]).div(4);
    for (const fn of [
      () => F.crossEntropy(x, target, { reduction: 'none' }).sum().backward(),
      () => F.crossEntropy(x, target, { weight: w }).backward(),
      () => F.crossEntropy(x, target, { labelSmoothing: 0.1 }).backward(),
      () => F.crossEntropy(x, probs).backward(),
    ]) {
      x.grad = null;
      expect(await kernels(fn)).to.include('LogSoftmax');
    }
  });

  it('a post hook on the log-sum-exp chain runs (the recorded rules), with the gradient', async () => {
    const [plain] = gg.autograd.grad(F.crossEntropy(x, target, { reduction: 'sum' }), [x]);
    const y = F.crossEntropy(x, target, { reduction: 'sum' });
    const nll = y.gradFn!.nextFunctions[0]![0]!;
    const log = nll.nextFunctions[3]![0]!;
    expect(log.name).to.equal('LogBackward0');
    let seen = 0;
    log.postHooks.push(() => void seen++);
    const profile = await gg.profile(() => gg.autograd.grad(y, [x]));
    const [hooked] = profile.result;
    expect(seen).to.equal(1);
    expect(profile.kernels.map((k) => k.kernel)).to.not.include('CrossEntropyBackward');
    // the recorded rules round each intermediate to float32: close, not the same bits
    expectClose(await values(hooked!), await values(plain!), { rtol: 1e-6, atol: 1e-7 }, 'gradient with a hook');
  });
});
