/**
 * Porting leftovers, each against PyTorch 1.13 (test/fixtures/make_tools.py,
 * torch_tools.json `porting`): class weights of the wrong length, pooling
 * strides, var/std argument types, clamp's node name, add/sub's `alpha`,
 * JSON.stringify of a tensor, and the creation functions' dtypes.
 */
import { expect } from 'chai';
import * as gg from '../../src/index.js';
import { errorOf, expectClose, F64 } from '../helpers/compare.js';
import { nums, tools, type ToolTensor } from '../helpers/tools-fixture.js';
import { forEachDevice, syncReadable } from '../helpers/devices.js';

const F = gg.nn.functional;
const P = (): ReturnType<typeof tools>['porting'] => tools().porting;
/** PyTorch's message for `key` (present: the fixture recorded an error). */
const msg = (key: string): string => {
  const m = P().errors[key];
  expect(m, `fixture error ${key}`).to.be.a('string');
  return m as string;
};
const t64 = (t: ToolTensor, requiresGrad = false): gg.Tensor => gg.tensor(nums(t), { shape: t.shape, dtype: 'float64', requiresGrad });

describe('porting: a class weight of the wrong length gets PyTorch\'s message, not a broadcast one', () => {
  const idx = (): gg.Tensor => gg.tensor([0, 1, 2, 0]);
  it('nll_loss and cross_entropy, (N, C) input', () => {
    gg.tidy(() => {
      expect(errorOf(() => F.nllLoss(gg.randn([4, 3]), idx(), { weight: gg.ones([2]) }))).to.equal(msg('nllWeight'));
      expect(errorOf(() => F.nllLoss(gg.randn([4, 3]), idx(), { weight: gg.ones([3, 1]) }))).to.equal(msg('nllWeight2d'));
      expect(errorOf(() => new gg.nn.NLLLoss({ weight: gg.ones([2]) }).call(gg.randn([4, 3]), idx()))).to.equal(msg('nllWeight'));
      expect(errorOf(() => F.crossEntropy(gg.randn([4, 3]), idx(), { weight: gg.ones([4]) }))).to.equal(msg('crossEntropyWeight'));
      expect(errorOf(() => F.crossEntropy(gg.randn([4, 3]), gg.rand([4, 3]), { weight: gg.ones([2]) }))).to.equal(msg('crossEntropyProbWeight'));
    });
  });
  it('nll_loss over (N, C, d) input: nll_loss2d\'s shorter message', () => {
    gg.tidy(() => {
      expect(errorOf(() => F.nllLoss(gg.randn([4, 3, 5]), gg.zeros([4, 5], { dtype: 'int64' }), { weight: gg.ones([2]) }))).to.equal(msg('nllWeightSpatial'));
    });
  });
  it('a weight of the right length still works (value unchanged)', async () => {
    const x = gg.tensor([[0.1, 0.2, 0.7], [0.3, 0.3, 0.4]], { dtype: 'float64' }).log();
    const y = gg.tensor([2, 0]);
    const got = await F.nllLoss(x, y, { weight: gg.tensor([1, 1, 2], { dtype: 'float64' }) }).data();
    // (-2·log 0.7 - log 0.3) / 3
    expect(got[0]).to.be.closeTo(-(2 * Math.log(0.7) + Math.log(0.3)) / 3, 1e-12);
  });
});

describe('porting: pooling strides 0 and negative (PyTorch 1.13 messages)', () => {
  for (const r of [1, 2, 3] as const) {
    for (const kind of ['max', 'avg'] as const) {
      const fn = F[`${kind}Pool${r}d`] as (x: gg.Tensor, k: number, o: { stride: number | number[] }) => gg.Tensor;
      const input = (): gg.Tensor => gg.randn([1, 1, ...Array.from({ length: r }, () => 4)]);
      it(`${kind}_pool${r}d: stride 0, -1, and 0 in the last dim`, () => {
        gg.tidy(() => {
          expect(errorOf(() => fn(input(), 2, { stride: 0 }))).to.equal(msg(`${kind}Pool${r}dStride0`));
          expect(errorOf(() => fn(input(), 2, { stride: -1 }))).to.equal(msg(`${kind}Pool${r}dStrideNeg`));
          const last = [...Array.from({ length: r - 1 }, () => 1), 0];
          expect(errorOf(() => fn(input(), 2, { stride: last }))).to.equal(msg(`${kind}Pool${r}dStrideLast0`));
        });
      });
    }
  }
  it('the modules say the same when they run', () => {
    gg.tidy(() => {
      expect(errorOf(() => new gg.nn.MaxPool2d(2, { stride: 0 }).call(gg.randn([1, 1, 4, 4])))).to.equal(msg('maxPool2dStride0'));
    });
  });
});

describe('porting: var/std argument types name the function called', () => {
  // PyTorch's overload message names the function and the keyword's Python type
  // (`std() received an invalid combination of arguments - got (int, unbiased=str)`);
  // gpugrad's one-overload form names the same three things
  const cases: [key: string, call: (x: gg.Tensor) => unknown, fn: string, arg: string, type: string][] = [
    ['stdUnbiasedStr', (x) => x.std(1, { unbiased: 'no' as never }), 'std', 'unbiased', 'str'],
    ['varUnbiasedInt', (x) => x.var(1, { unbiased: 1 as never }), 'var', 'unbiased', 'int'],
    ['stdKeepdimStr', (x) => x.std(1, { keepdim: 'no' as never }), 'std', 'keepdim', 'str'],
  ];
  for (const [key, call, fn, arg, type] of cases) {
    it(`${fn}(1, { ${arg}: <${type}> })`, () => {
      const torchMsg = msg(key);
      expect(torchMsg.startsWith(`${fn}()`)).to.equal(true);
      expect(torchMsg).to.include(`${arg}=${type}`);
      gg.tidy(() => {
        expect(() => call(gg.randn([3, 4]))).to.throw(TypeError, `${fn}(): argument '${arg}' must be bool, not ${type}`);
      });
    });
  }
});

describe('porting: clamp and clamp_ record PyTorch\'s ClampBackward1', () => {
  const bounds: Record<string, [number | null, number | null]> = { both: [-0.5, 0.5], min: [-0.5, null], max: [null, 0.5] };
  for (const [label, [lo, hi]] of Object.entries(bounds)) {
    it(`clamp_/${label} and clamp/${label}`, () => {
      gg.tidy(() => {
        const x = gg.tensor([-1, 0.2, 3], { dtype: 'float64', requiresGrad: true });
        const y = x.mul(1);
        y.clamp_(lo, hi);
        expect(y.gradFn?.name).to.equal(P().gradFnNames[`clamp_/${label}`]);
        expect(x.clamp(lo, hi).gradFn?.name).to.equal(P().gradFnNames[`clamp/${label}`]);
      });
    });
  }
  it('the in-place arithmetic ops keep their out-of-place names', () => {
    gg.tidy(() => {
      const x = gg.tensor([-1, 0.2, 3], { dtype: 'float64', requiresGrad: true });
      for (const op of ['add_', 'sub_', 'mul_', 'div_'] as const) {
        const y = x.mul(1);
        y[op](2);
        expect(y.gradFn?.name, op).to.equal(P().gradFnNames[op]);
      }
      const y = x.mul(1);
      y.add_(gg.ones([3], { dtype: 'float64' }), { alpha: 2 });
      expect(y.gradFn?.name).to.equal(P().gradFnNames['add_/alpha']);
      const z = x.mul(1);
      z.sub_(gg.ones([3], { dtype: 'float64' }), { alpha: 2 });
      expect(z.gradFn?.name).to.equal(P().gradFnNames['sub_/alpha']);
    });
  });
  it('values and gradient unchanged by the name', async () => {
    const x = gg.tensor([-1, 0.2, 3], { dtype: 'float64', requiresGrad: true });
    const y = x.mul(1).clamp_(-0.5, 0.5);
    y.sum().backward();
    expect(Array.from(await y.data())).to.deep.equal([-0.5, 0.2, 0.5]);
    expect(Array.from(await x.grad!.data())).to.deep.equal([0, 1, 0]);
  });
});

describe('porting: add/sub take PyTorch\'s alpha (out of place and in place)', () => {
  it('values and gradients match torch (float64)', async () => {
    for (const c of P().alpha) {
      const label = `${c.op}(alpha=${c.alpha}) ${JSON.stringify(c.a.shape)} ${typeof c.b === 'number' ? c.b : JSON.stringify(c.b.shape)}`;
      const a = t64(c.a, true);
      const b = typeof c.b === 'number' ? c.b : t64(c.b, true);
      const y = a[c.op](b, { alpha: c.alpha });
      expect([...y.shape], label).to.deep.equal(c.out.shape);
      expectClose(await y.data(), nums(c.out), F64, label);
      y.mul(t64(c.gout)).sum().backward();
      expectClose(await a.grad!.data(), nums(c.gradA), F64, `${label} grad a`);
      if (typeof b !== 'number') expectClose(await b.grad!.data(), nums(c.gradB!), F64, `${label} grad b`);
      const w = t64(c.a);
      w[`${c.op}_`](typeof c.b === 'number' ? c.b : t64(c.b), { alpha: c.alpha });
      expectClose(await w.data(), nums(c.inplace), F64, `${label} in place`);
    }
  });
  it('int64 with a whole alpha; a fractional alpha on integers and a non-number alpha are refused', async () => {
    const i = gg.tensor([1, 2, 3]);
    const j = gg.tensor([4, 5, 6]);
    const y = i.add(j, { alpha: 3 });
    expect(y.dtype).to.equal('int64');
    expect(Array.from(await y.data())).to.deep.equal(P().intAlpha);
    expect(errorOf(() => i.add(j, { alpha: 1.5 }))).to.equal(msg('addAlphaFloatOnInt'));
    expect(errorOf(() => i.clone().add_(j, { alpha: 1.5 }))).to.equal(msg('addAlphaFloatOnInt'));
    expect(() => gg.ones([3]).add(gg.ones([3]), { alpha: 'a' as never })).to.throw(TypeError, msg('addAlphaStr'));
    expect(() => gg.ones([3]).sub(gg.ones([3]), { alpha: 2, alpah: 1 } as never)).to.throw(TypeError, "sub() got an unexpected keyword argument 'alpah'");
  });
  it('a failed in-place call changes nothing', async () => {
    const i = gg.tensor([1, 2, 3]);
    expect(() => i.add_(gg.tensor([1, 1, 1]), { alpha: 0.5 })).to.throw();
    expect(() => i.sub_(1, { bogus: 1 } as never)).to.throw(TypeError, "sub_() got an unexpected keyword argument 'bogus'");
    expect(Array.from(await i.data())).to.deep.equal([1, 2, 3]);
    expect(i.version).to.equal(0);
  });
});

describe('porting: JSON.stringify(tensor) writes dtype, shape, device and values (toJSON)', () => {
  it('nested values, no internals; a 0-d tensor gives a number; it reads back', () => {
    const t = gg.tensor([[1, 2], [3, 4]]);
    expect(JSON.stringify(t)).to.equal('{"dtype":"int64","shape":[2,2],"device":"cpu","data":[[1,2],[3,4]]}');
    expect(JSON.parse(JSON.stringify(gg.tensor(2.5, { dtype: 'float64' })))).to.deep.equal({ dtype: 'float64', shape: [], device: 'cpu', data: 2.5 });
    const x = gg.tensor([0.5, -1.25], { dtype: 'float64', requiresGrad: true });
    const y = x.mul(2);
    const j = JSON.stringify({ y });
    expect(j).to.equal('{"y":{"dtype":"float64","shape":[2],"device":"cpu","data":[1,-2.5]}}');
    for (const internal of ['storage', 'gradFn', 'stats', 'buffer', 'strides']) expect(j).not.to.include(internal);
    const back = JSON.parse(JSON.stringify(y)) as gg.TensorJSON;
    expect(Array.from(gg.tensor(back.data!, { dtype: back.dtype }).dataSync())).to.deep.equal([1, -2.5]);
    // a view: its own values
    expect(JSON.parse(JSON.stringify(gg.arange(6).reshape(2, 3).t())).data).to.deep.equal([[0, 3], [1, 4], [2, 5]]);
  });
  it('a disposed tensor: no values, and no throw', () => {
    const t = gg.ones([2]);
    t.dispose();
    expect(JSON.parse(JSON.stringify(t))).to.deep.equal({ dtype: 'float32', shape: [2], device: 'cpu', disposed: true });
  });
  forEachDevice((device) => {
    it('on the device: values where they read synchronously, else dtype, shape and device only', () => {
      const t = gg.tensor([1.5, -2], { device });
      const j = JSON.parse(JSON.stringify(t)) as gg.TensorJSON;
      expect([j.dtype, j.shape, j.device]).to.deep.equal(['float32', [2], device]);
      if (syncReadable(device)) expect(j.data).to.deep.equal([1.5, -2]);
      else expect(j).not.to.have.property('data');
      t.dispose();
    });
  });
});

describe('porting: dtype of the creation functions (PyTorch 1.13 against docs/spec/dtypes.md#inference)', () => {
  const D = (): Record<string, string> => P().dtypes;
  it('zeros, ones, rand: the default float dtype, as PyTorch', () => {
    expect(gg.zeros([2]).dtype).to.equal(D()['zeros']);
    expect(gg.ones([2]).dtype).to.equal(D()['ones']);
    expect(gg.rand([2]).dtype).to.equal(D()['rand']);
    expect(gg.full([2], 3.5).dtype).to.equal(D()['full_float']);
    expect(gg.arange(0, 1, 0.5).dtype).to.equal(D()['arange_float_step']);
  });
  it('full and arange with whole numbers: int64, as PyTorch infers; any fractional or non-finite argument, or -0: the default float dtype', () => {
    const made: Record<string, () => gg.Tensor> = {
      full_int: () => gg.full([2], 3),
      full_float: () => gg.full([2], 3.5),
      full_neg_int: () => gg.full([2], -3),
      full_inf: () => gg.full([2], Infinity),
      full_neg_zero: () => gg.full([2], -0),
      arange_int: () => gg.arange(5),
      arange_int2: () => gg.arange(1, 5),
      arange_int3: () => gg.arange(1, 7, 2),
      arange_float_step: () => gg.arange(0, 1, 0.5),
      arange_float_start: () => gg.arange(0.5, 3),
      arange_float_end: () => gg.arange(0, 2.5),
      arange_int_neg_step: () => gg.arange(5, 0, -2),
      full_like_float_int_value: () => gg.fullLike(gg.ones([2]), 3),
      full_like_int_float_value: () => gg.fullLike(gg.ones([2], { dtype: 'int64' }), 3.7),
    };
    for (const [key, make] of Object.entries(made)) expect(make().dtype, key).to.equal(D()[key]);
    expect(Object.keys(made).filter((k) => D()[k] === 'int64')).to.have.length(7);
    // the options form infers from start and step too
    expect(gg.arange(5, { start: 1, step: 2 }).dtype).to.equal('int64');
    expect(gg.arange(5, { start: 0.5 }).dtype).to.equal('float32');
    // the values, as PyTorch's
    for (const [key, make] of [['full_int', () => gg.full([2], 3)], ['arange_int3', () => gg.arange(1, 7, 2)], ['arange_int_neg_step', () => gg.arange(5, 0, -2)], ['arange_float_start', () => gg.arange(0.5, 3)]] as const) {
      expect(Array.from(make().dataSync()), key).to.deep.equal(nums(P().values[key] as ToolTensor));
    }
  });
  it('a float of whole numbers is asked for with { dtype } (JavaScript has no 3. literal); an explicit dtype always wins', () => {
    // PyTorch: torch.full([2], 3.) and torch.arange(5.)
    expect(D()['arange_float']).to.equal('float32');
    expect(gg.full([2], 3, { dtype: 'float32' }).dtype).to.equal('float32');
    expect(gg.arange(5, { dtype: 'float32' }).dtype).to.equal(D()['arange_float']);
    expect(gg.arange(0.5, 3, { dtype: 'int64' }).dtype).to.equal('int64');
    expect(gg.full([2], 2.5, { dtype: 'int32' }).dtype).to.equal('int32');
    // requiresGrad: only a float can require gradients, so whole numbers give the default float (as gg.tensor)
    expect(gg.full([2], 3, { requiresGrad: true }).dtype).to.equal(gg.getDefaultDtype());
    expect(gg.arange(3, { requiresGrad: true }).dtype).to.equal(gg.getDefaultDtype());
    expect(() => gg.full([2], 3, { dtype: 'int64', requiresGrad: true })).to.throw('Only Tensors of floating point and complex dtype can require gradients');
    // beyond ±2^53 a whole JS number is a float literal (1e30, float32's largest)
    expect(gg.full([1], 1e30).dtype).to.equal('float32');
    // PyTorch's bool fill (torch.full([2], True)) has no gpugrad dtype: refused, naming the argument
    expect(D()['full_bool']).to.equal('bool');
    expect(() => gg.full([2], true as unknown as number)).to.throw(TypeError, "argument 'fill_value' must be Number, not bool");
  });
  it('what a port computes with an int64 range promotes as PyTorch (torch.result_type)', () => {
    const r = (): gg.Tensor => gg.arange(3);
    const made: Record<string, () => gg.Tensor> = {
      arange_int_mul_int: () => r().mul(2),
      arange_int_mul_float: () => r().mul(0.5),
      arange_int_div_int: () => gg.arange(1, 4).div(2),
      arange_int_div_tensor: () => gg.arange(1, 4).div(gg.arange(1, 4)),
      arange_int_add_float_tensor: () => r().add(gg.ones([3])),
      arange_int_pow_float: () => r().pow(0.5),
      arange_int_sum: () => r().sum(),
      full_int_exp: () => gg.full([2], 3).exp(),
    };
    for (const [key, make] of Object.entries(made)) expect(make().dtype, key).to.equal(D()[key]);
    expect(Array.from(r().mul(0.5).dataSync())).to.deep.equal(nums(P().values['arange_int_mul_float'] as ToolTensor));
    expect(Array.from(gg.arange(1, 4).div(2).dataSync())).to.deep.equal(nums(P().values['arange_int_div_int'] as ToolTensor));
    expect(errorOf(() => r().mean())).to.equal(msg('meanOfIntRange'));
  });
});
