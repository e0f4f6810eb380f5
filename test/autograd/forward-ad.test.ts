/**
 * Forward-mode AD (gg.autograd.forwardAd) against PyTorch 1.13
 * (test/fixtures/torch_functional.json, written by make_functional.py):
 * PyTorch's API semantics and messages, the tangent of every op case of
 * torch_ops.json, and tangents through layers (conv, pooling, BatchNorm2d,
 * SwitchableNorm2d, LayerNorm, spectral norm). float64 on the cpu.
 */
import { expect } from 'chai';
import * as gg from '../../src/index.js';
import { customFunction } from '../helpers/custom-function.js';
import { expectClose, expectGolden, F32, F64, fixture, goldenTensor, type Golden, type Tol } from '../helpers/compare.js';
import { forEachDevice } from '../helpers/devices.js';
import { runOp } from '../helpers/run-op.js';
import { parametrizationList } from '../../src/nn/utils/parametrize.js';
import { spectralNorm, type SpectralNorm } from '../../src/nn/utils/spectral.js';

const fwAD = gg.autograd.forwardAd;
const nnF = gg.nn.functional;
const f64 = { dtype: 'float64' as const };

interface OpCase {
  name: string;
  op: string;
  inputs: Golden[];
  kwargs: Record<string, unknown>;
  tangents: (Golden | null)[];
  output: Golden;
  tangent: Golden | null;
}
interface FunctionalCase {
  name: string;
  kind: 'functional';
  fn: string;
  kwargs: Record<string, unknown>;
  inputs: Record<string, Golden>;
  tangents: Record<string, Golden>;
  output: Golden;
  tangent: Golden;
}
interface ModuleCase {
  name: string;
  kind: 'module' | 'spectral';
  module: string;
  args: number[];
  kwargs: Record<string, number>;
  state: Record<string, Golden>;
  train: boolean;
  input: Golden;
  inputTangent: Golden;
  weightTangent?: Golden;
  weight?: Golden;
  weightTangentOut?: Golden;
  output: Golden;
  tangent: Golden;
}
const doc = fixture<{
  forward_ad_ops: OpCase[];
  forward_ad_nn: (FunctionalCase | ModuleCase)[];
  forward_ad_errors: Record<'makeDualOutsideLevel' | 'shapeMismatch' | 'alreadyDual' | 'nested', string>;
}>('torch_functional.json');

describe('autograd.forwardAd: PyTorch semantics', () => {
  const x = (): gg.Tensor => gg.tensor([0.5, -1, 2], f64);
  const ones = (): gg.Tensor => gg.ones([3], f64);

  it("PyTorch's messages: outside a level, shape mismatch, a tensor already dual, nested levels", () => {
    const m = doc.forward_ad_errors;
    expect(() => fwAD.makeDual(x(), ones())).to.throw(m.makeDualOutsideLevel);
    fwAD.dualLevel(() => {
      const shaped = m.shapeMismatch;
      expect(() => fwAD.makeDual(x(), gg.ones([2, 3], f64))).to.throw(shaped);
      const d = fwAD.makeDual(x(), ones());
      expect(() => fwAD.makeDual(d, ones())).to.throw(m.alreadyDual);
      expect(() => fwAD.dualLevel(() => 0)).to.throw(m.nested);
      expect(() => fwAD.enterDualLevel()).to.throw(m.nested);
    });
  });

  it('a failed level leaves none open; exitDualLevel outside a level throws', () => {
    expect(() =>
      fwAD.dualLevel(() => {
        throw new Error('boom');
      }),
    ).to.throw('boom');
    expect(fwAD.dualLevel(() => 7)).to.equal(7);
    expect(() => fwAD.exitDualLevel()).to.throw('Trying to exit a forward AD level');
  });

  it('unpackDual outside a level returns the tensor itself and no tangent', () => {
    const t = x();
    const u = fwAD.unpackDual(t);
    expect(u.primal).to.equal(t);
    expect(u.tangent).to.equal(null);
  });

  it('tangents are gone once the level ends; an unpacked tangent stays readable', () => {
    let y: gg.Tensor | null = null;
    const t = fwAD.dualLevel(() => {
      y = fwAD.makeDual(x(), ones()).exp();
      return fwAD.unpackDual(y).tangent;
    });
    expect(Array.from((t as gg.Tensor).dataSync())).to.deep.equal([Math.exp(0.5), Math.exp(-1), Math.exp(2)]);
    fwAD.dualLevel(() => expect(fwAD.unpackDual(y as unknown as gg.Tensor).tangent).to.equal(null));
  });

  it('an async function keeps the level open across awaits, and closes it after', async () => {
    const tangent = await fwAD.dualLevel(async () => {
      const d = fwAD.makeDual(x(), ones());
      await new Promise((r) => setTimeout(r, 1));
      const out = await fwAD.unpackDual(d.mul(d)).tangent?.data();
      return Array.from(out ?? []);
    });
    expect(tangent).to.deep.equal([1, -2, 4]);
    expect(() => fwAD.makeDual(x(), ones())).to.throw('no level exists');
  });

  it('noGrad does not stop tangents; detach drops them; the primal view carries none', () => {
    fwAD.dualLevel(() => {
      const d = fwAD.makeDual(x(), ones());
      expect(gg.noGrad(() => fwAD.unpackDual(d.mul(3)).tangent?.arraySync())).to.deep.equal([3, 3, 3]);
      expect(fwAD.unpackDual(d.detach()).tangent).to.equal(null);
      const { primal } = fwAD.unpackDual(d);
      expect(primal).to.not.equal(d);
      expect(fwAD.unpackDual(primal.exp()).tangent).to.equal(null);
      expect(fwAD.unpackDual(d.gt(0)).tangent, 'comparisons carry none').to.equal(null);
    });
  });

  it('a tangent on one operand broadcasts to the output', () => {
    fwAD.dualLevel(() => {
      const b = fwAD.makeDual(gg.tensor([1, 2, 3], f64), gg.tensor([1, 0, -1], f64));
      const t = fwAD.unpackDual(gg.zeros([2, 3], f64).add(b)).tangent as gg.Tensor;
      expect(t.shape).to.deep.equal([2, 3]);
      expect(t.arraySync()).to.deep.equal([[1, 0, -1], [1, 0, -1]]);
    });
  });

  it('a float32 tangent on a float64 primal is converted to float64', () => {
    fwAD.dualLevel(() => {
      const d = fwAD.makeDual(x(), gg.ones([3]));
      expect(fwAD.unpackDual(d).tangent?.dtype).to.equal('float64');
    });
  });

  it('makeDual and the tangents are differentiable by backward (reverse over forward)', () => {
    const p = gg.tensor([0.5, -1, 2], { ...f64, requiresGrad: true });
    const v = gg.tensor([1, 2, 3], { ...f64, requiresGrad: true });
    fwAD.dualLevel(() => {
      const y = fwAD.makeDual(p, v).exp();
      const { primal, tangent } = fwAD.unpackDual(y);
      // Σ (e^p · v): d/dp = e^p · v, d/dv = e^p; plus Σ e^p from the primal
      primal.sum().add((tangent as gg.Tensor).sum()).backward();
    });
    const e = [0.5, -1, 2].map(Math.exp);
    (p.grad as gg.Tensor).dataSync().forEach((g, i) => expect(g).to.be.closeTo((e[i] as number) * (1 + i + 1), 1e-12));
    (v.grad as gg.Tensor).dataSync().forEach((g, i) => expect(g).to.be.closeTo(e[i] as number, 1e-12));
  });

  it('gradcheck checkForwardAd fails, with PyTorch\'s message, on a wrong tangent', async () => {
    class Wrong extends customFunction({
      forward: (t) => t.detach().mul(2), // cut from the tangent too: its forward Jacobian is zero
      backward: (g) => g.mul(2),
    }) {}
    const t = gg.tensor([1, 2], { ...f64, requiresGrad: true });
    let msg = '';
    try {
      await gg.autograd.gradcheck((a) => Wrong.apply(a), [t], { checkForwardAd: true });
    } catch (e) {
      msg = (e as Error).message;
    }
    expect(msg).to.match(/^Jacobian computed with forward mode mismatch for output 0 with respect to input 0,\nnumerical:/);
    expect(await gg.autograd.gradcheck((a) => Wrong.apply(a), [t], { checkForwardAd: true, raiseException: false })).to.equal(false);
    let both = '';
    await gg.autograd.gradcheck((a) => a, [t], { checkForwardAd: false, checkBackwardAd: false }).catch((e: Error) => (both = e.message));
    expect(both).to.equal('Expected at least one of check_forward_ad or check_backward_ad to be True');
  });
});

describe('autograd.forwardAd: tangents of every op case against PyTorch', function () {
  this.timeout(120_000);
  it('covers the op cases of torch_ops.json', () => {
    const names = new Set(fixture<{ name: string }[]>('torch_ops.json').map((c) => c.name));
    expect([...names].filter((n) => !doc.forward_ad_ops.some((c) => c.name === n))).to.deep.equal([]);
  });
  // float64 on the cpu reference; float32 on the other devices (the same rules, at gpu.js's precision)
  forEachDevice((device) => {
    const cpu = device === 'cpu';
    const dtype = cpu ? 'float64' : 'float32';
    for (const c of doc.forward_ad_ops) {
      it(`${c.name} (${dtype})`, async () => {
        const tol: Tol = cpu ? F64 : c.op === 'pow' || c.op === 'var' ? { rtol: 5e-4, atol: 5e-5 } : F32;
        const make = (g: Golden): gg.Tensor => goldenTensor(g, { dtype, device });
        const [primal, tangent] = await fwAD.dualLevel(async () => {
          const xs = c.inputs.map((g, i) => {
            const t = c.tangents[i];
            return t ? fwAD.makeDual(make(g), make(t)) : make(g);
          });
          const u = fwAD.unpackDual(runOp(c.op, xs, c.kwargs));
          return [await u.primal.data(), u.tangent ? await u.tangent.data() : null] as const;
        });
        expectClose(primal, c.output.data, tol, `${c.name} output`);
        if (c.tangent === null) expect(tangent).to.equal(null);
        else expectClose(tangent ?? [], c.tangent.data, tol, `${c.name} tangent`);
      });
    }
  });
});

function runFunctional(c: FunctionalCase, a: Record<string, gg.Tensor>): gg.Tensor {
  const k = c.kwargs;
  const n = (key: string, dflt?: number): number => (k[key] as number | undefined) ?? (dflt as number);
  const need = (n: string): gg.Tensor => a[n] as gg.Tensor;
  switch (c.fn) {
    case 'linear':
      return nnF.linear(need('input'), need('weight'), need('bias'));
    case 'conv2d':
      return nnF.conv2d(need('input'), need('weight'), a['bias'] ?? null, { stride: n('stride', 1), padding: n('padding', 0) });
    case 'conv_transpose2d':
      return nnF.convTranspose2d(need('input'), need('weight'), need('bias'), { stride: n('stride') });
    case 'max_pool2d':
      return nnF.maxPool2d(need('input'), n('kernel_size'));
    case 'avg_pool2d':
      return nnF.avgPool2d(need('input'), n('kernel_size'), { stride: n('stride') });
    case 'batch_norm':
      return nnF.batchNorm(need('input'), need('running_mean'), need('running_var'), need('weight'), need('bias'), k['training'] === true, n('momentum', 0.1), n('eps'));
    case 'layer_norm':
      return nnF.layerNorm(need('input'), k['normalized_shape'] as number[], need('weight'), need('bias'));
    default:
      throw new Error(`no functional ${c.fn}`);
  }
}

function buildModule(c: ModuleCase): gg.nn.Module {
  switch (c.module) {
    case 'Conv2d':
      return new gg.nn.Conv2d(c.args[0] as number, c.args[1] as number, c.args[2] as number, { ...c.kwargs, ...f64 });
    case 'Linear':
      return new gg.nn.Linear(c.args[0] as number, c.args[1] as number, f64);
    case 'BatchNorm2d':
      return new gg.nn.BatchNorm2d(c.args[0] as number, f64);
    case 'SwitchableNorm2d':
      return new gg.nn.SwitchableNorm2d(c.args[0] as number, f64);
    default:
      throw new Error(`no module ${c.module}`);
  }
}

describe('autograd.forwardAd: tangents through layers against PyTorch (float64, cpu)', function () {
  this.timeout(60_000);
  it('covers conv, pooling, BatchNorm2d, SwitchableNorm2d, LayerNorm and spectral norm', () => {
    const names = doc.forward_ad_nn.map((c) => c.name);
    for (const n of ['conv2d_stride_padding', 'conv_transpose2d', 'max_pool2d', 'batch_norm_train', 'layer_norm', 'BatchNorm2d_train', 'SwitchableNorm2d_train', 'SpectralNorm_Conv2d_train']) {
      expect(names).to.include(n);
    }
  });
  for (const c of doc.forward_ad_nn) {
    it(`${c.kind} ${c.name}`, () => {
      fwAD.dualLevel(() => {
        if (c.kind === 'functional') {
          const args: Record<string, gg.Tensor> = {};
          for (const [k, g] of Object.entries(c.inputs)) {
            const t = c.tangents[k];
            args[k] = t ? fwAD.makeDual(goldenTensor(g), goldenTensor(t)) : goldenTensor(g);
          }
          const { primal, tangent } = fwAD.unpackDual(runFunctional(c, args));
          expectGolden(primal, c.output, 'output');
          expectGolden(tangent, c.tangent, 'tangent');
          return;
        }
        const m = buildModule(c);
        if (c.kind === 'spectral') spectralNorm(m);
        const sd: Record<string, gg.Tensor> = {};
        for (const [k, v] of Object.entries(c.state)) sd[k] = goldenTensor(v);
        m.loadStateDict(sd);
        m.train(c.train);
        const x = fwAD.makeDual(goldenTensor(c.input), goldenTensor(c.inputTangent));
        let out: gg.Tensor;
        if (c.kind === 'spectral') {
          // the parametrization applied to a dual weight, as the module's forward applies it to its own
          const list = parametrizationList(m, 'weight');
          const sn = list?.chain[0] as SpectralNorm;
          const w = fwAD.makeDual((list as { original: gg.Tensor }).original.detach(), goldenTensor(c.weightTangent as Golden));
          const wn = sn.call(w) as gg.Tensor;
          expectGolden(fwAD.unpackDual(wn).primal, c.weight as Golden, 'normalised weight');
          expectGolden(fwAD.unpackDual(wn).tangent, c.weightTangentOut as Golden, 'normalised weight tangent');
          const bias = (m as unknown as { bias: gg.Tensor }).bias;
          out = c.module === 'Linear' ? nnF.linear(x, wn, bias) : nnF.conv2d(x, wn, bias, { padding: c.kwargs['padding'] ?? 0 });
        } else {
          out = m.call(x) as gg.Tensor;
        }
        const { primal, tangent } = fwAD.unpackDual(out);
        expectGolden(primal, c.output, 'output');
        expectGolden(tangent, c.tangent, 'tangent');
      });
    });
  }
});

describe("autograd.forwardAd: the README's examples", () => {
  it('the first column of softmax(x·x)\'s Jacobian, a Hessian, a jvp', () => {
    const fwAD2 = gg.autograd.forwardAd;
    const x = gg.tensor([0.5, -1, 2], { dtype: 'float64' });
    const Jv = fwAD2.dualLevel(() => {
      const d = fwAD2.makeDual(x, gg.tensor([1, 0, 0], { dtype: 'float64' }));
      return fwAD2.unpackDual(d.mul(d).softmax(0)).tangent;
    }) as gg.Tensor;
    const J = gg.autograd.functional.jacobian((t) => t.mul(t).softmax(0), x);
    Array.from(Jv.dataSync()).forEach((v, i) => expect(v).to.be.closeTo(J.arraySync() instanceof Array ? ((J.arraySync() as number[][])[i] as number[])[0] as number : NaN, 1e-15));
    const H = gg.autograd.functional.hessian((t) => t.pow(3).sum(), x);
    // torch 1.13's torch.autograd.functional.hessian gives these zeros' signs too (-0 where the
    // second derivative's product meets x = -1): deep.equal tells -0 from +0
    expect(H.arraySync()).to.deep.equal([[3, -0, 0], [0, -6, 0], [0, -0, 12]]);
    const [y, jv] = gg.autograd.functional.jvp((t) => t.exp(), x, gg.onesLike(x));
    expect(Array.from(jv.dataSync())).to.deep.equal(Array.from(y.dataSync()));
  });
});

describe('autograd.forwardAd: memory', () => {
  it('a level frees its tangents when it ends; tidy frees what was unpacked inside it', () => {
    const x = gg.tensor([0.5, -1, 2], f64);
    const t = gg.ones([3], f64);
    const before = gg.memory().liveBuffers;
    gg.tidy(() =>
      fwAD.dualLevel(() => {
        const d = fwAD.makeDual(x, t);
        const y = d.exp().mul(2).softmax(0);
        expect(fwAD.unpackDual(y).tangent).to.be.instanceOf(gg.Tensor);
      }),
    );
    expect(gg.memory().liveBuffers).to.equal(before);
    expect(x.isDisposed || t.isDisposed).to.equal(false);
  });
});

describe('autograd.forwardAd: custom Functions', () => {
  class Cube extends customFunction({
    saves: true,
    forward: (x) => x.mul(x).mul(x),
    backward: (g, x) => g.mul(x.mul(x).mul(3)),
    jvp: (t, x) => t.mul(x.mul(x).mul(3)), // d x³ = 3x² dx
  }) {}
  class WrongJvp extends Cube {
    static override jvp(ctx: gg.autograd.FunctionCtx, t: gg.Tensor | null): gg.Tensor {
      const [x] = ctx.savedTensors as [gg.Tensor];
      return (t as gg.Tensor).mul(x.mul(x)); // forgets the 3
    }
  }

  it('a static jvp gives the output tangent (PyTorch\'s Function.jvp), with and without recording', () => {
    for (const requiresGrad of [false, true]) {
      const t = fwAD.dualLevel(() => {
        const x = fwAD.makeDual(gg.tensor([1, -2], { ...f64, requiresGrad }), gg.tensor([1, 1], f64));
        return fwAD.unpackDual(Cube.apply(x)).tangent?.arraySync();
      });
      expect(t).to.deep.equal([3, 12]);
    }
  });

  it('gradcheck checkForwardAd catches a wrong jvp that backward does not use', async () => {
    const x = gg.tensor([0.5, -1.5], { ...f64, requiresGrad: true });
    expect(await gg.autograd.gradcheck((a) => WrongJvp.apply(a), [x])).to.equal(true);
    expect(await gg.autograd.gradcheck((a) => WrongJvp.apply(a), [x], { checkForwardAd: true, raiseException: false })).to.equal(false);
    expect(await gg.autograd.gradcheck((a) => Cube.apply(a), [x], { checkForwardAd: true })).to.equal(true);
  });
});
