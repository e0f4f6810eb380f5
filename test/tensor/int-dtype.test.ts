/**
 * Integer tensors (docs/notes/dtypes.md), against PyTorch 1.13's goldens
 * (test/fixtures/torch_int.json, written by test/fixtures/make_int.py):
 * dtype inference, type promotion, integer arithmetic, casts, argmax/argmin,
 * reductions, printing, PyTorch's messages, and the exact range each device
 * holds (2^53 on cpu, 2^24 on the gpu.js devices), on every device.
 */
import { expect } from 'chai';
import * as gg from '../../src/index.js';
import { fixture } from '../helpers/compare.js';
import { forEachDevice, syncReadable } from '../helpers/devices.js';
import { decodeSafetensors } from '../../src/nn/safetensors.js';

type Num = number | 'nan' | 'inf' | '-inf';
interface T {
  shape: number[];
  dtype: gg.DType;
  data: Num[];
}
interface Operand {
  dtype: gg.DType;
  ndim: number;
}
interface Fx {
  torch: string;
  promotion: { a: Operand; b: Operand; add: gg.DType; div: gg.DType; mul: gg.DType; maximum: gg.DType }[];
  scalars: { a: Operand; scalar: number; add: gg.DType; mul: gg.DType; div: gg.DType }[];
  values: Record<string, T> & { inferred: Record<'ints' | 'floats' | 'scalar' | 'empty', gg.DType> };
  reprs: Record<string, string>;
  messages: Record<string, string>;
  other: { numBatchesTrackedDtype: gg.DType; randintDtype: gg.DType };
}

const fx = fixture<Fx>('torch_int.json');
const V = fx.values;
const num = (v: Num): number => (v === 'nan' ? NaN : v === 'inf' ? Infinity : v === '-inf' ? -Infinity : v);

/** A golden as a tensor of its own dtype on `device`. */
function golden(t: T, device: string): gg.Tensor {
  return gg.tensor(t.data.map(num), { shape: t.shape, dtype: t.dtype, device });
}

/** Values and dtype of `got` equal the golden exactly. */
async function expectExact(got: gg.Tensor, want: T, what: string): Promise<void> {
  expect(got.dtype, `${what} dtype`).to.equal(want.dtype);
  expect([...got.shape], `${what} shape`).to.deep.equal(want.shape);
  const data = Array.from(await got.data());
  const w = want.data.map(num);
  if (want.dtype.startsWith('float')) {
    data.forEach((v, i) => expect(Math.abs(v - (w[i] ?? NaN)), `${what}[${i}]`).to.be.at.most(1e-6 * (1 + Math.abs(w[i] ?? 0))));
  } else {
    expect(data, what).to.deep.equal(w);
  }
}

describe('integer tensors: dtype inference and the door (PyTorch 1.13)', () => {
  it(`gg.tensor infers as torch.tensor: whole numbers int64, fractions the default float dtype (torch ${fx.torch})`, () => {
    expect(gg.tensor([0, 1, 2]).dtype).to.equal(V.inferred.ints);
    expect(gg.tensor([0.5, 1]).dtype).to.equal(V.inferred.floats);
    expect(gg.tensor(3).dtype).to.equal(V.inferred.scalar);
    expect(gg.tensor([]).dtype).to.equal(V.inferred.empty);
    expect(gg.tensor([[1, 2], [3, NaN]]).dtype).to.equal('float32');
    expect(gg.tensor(new Int32Array([1, 2])).dtype).to.equal('int32');
    expect(gg.tensor(new Float64Array([1, 2])).dtype).to.equal('float32');
    expect(gg.tensor(gg.tensor([1, 2], { dtype: 'int32' })).dtype).to.equal('int32');
    // JavaScript has no `1.`: asking for gradients means the float tensor PyTorch's `torch.tensor([1., 2.], requires_grad=True)` is
    expect(gg.tensor([1, 2], { requiresGrad: true }).dtype).to.equal('float32');
  });

  it("integer tensors never require grad: PyTorch's two messages", () => {
    expect(() => gg.tensor([1, 2], { dtype: 'int64', requiresGrad: true })).to.throw(fx.messages['requiresGradCtor']);
    expect(() => gg.zeros([2], { dtype: 'int32', requiresGrad: true })).to.throw(fx.messages['requiresGradCtor']);
    expect(() => gg.tensor([1, 2]).requiresGrad_()).to.throw(fx.messages['requiresGrad']);
    const t = gg.tensor([1, 2]);
    expect(() => (t.requiresGrad = true)).to.throw(fx.messages['requiresGrad']);
    expect(t.requiresGrad).to.equal(false);
    t.requiresGrad = false; // allowed, as in PyTorch
  });

  it('the default dtype can only be a float; an unknown dtype is named', () => {
    expect(() => gg.setDefaultDtype('int64')).to.throw(TypeError, fx.messages['defaultDtypeInt']);
    expect(gg.getDefaultDtype()).to.equal('float32');
    expect(() => gg.tensor([1], { dtype: 'int16' as gg.DType })).to.throw("unsupported dtype 'int16': expected one of 'int32', 'int64', 'float32', 'float64'");
  });

  it('an explicit integer dtype truncates toward zero; out-of-range values are refused, never wrapped or rounded', () => {
    expect(Array.from(gg.tensor([-2.7, 2.7, -0.5], { dtype: 'int64' }).dataSync())).to.deep.equal([-2, 2, 0]);
    expect(Array.from(gg.full([2], 7.9, { dtype: 'int32' }).dataSync())).to.deep.equal([7, 7]);
    expect(() => gg.full([1], 2 ** 31, { dtype: 'int32' })).to.throw(RangeError, fx.messages['int32Overflow']);
    expect(() => gg.tensor([2 ** 31], { dtype: 'int32' })).to.throw(RangeError, fx.messages['int32Overflow']);
    expect(() => gg.tensor([NaN], { dtype: 'int64' })).to.throw(RangeError, 'value cannot be converted to type int64_t without overflow: NaN');
    // beyond 2^53 a float64 cannot hold every integer: refused with the reason, where PyTorch would keep it
    expect(gg.tensor([2 ** 53, -(2 ** 53)]).dataSync()[0]).to.equal(2 ** 53);
    expect(() => gg.tensor([2 ** 53 + 2])).to.throw(RangeError, /^int64 value 9007199254740994 is beyond 2\^53/);
    expect(() => gg.tensor(new BigInt64Array([2n ** 53n + 1n]))).to.throw(RangeError, /int64 value 9007199254740993 is beyond 2\^53/);
    expect(Array.from(gg.tensor(new BigInt64Array([-(2n ** 53n), 5n])).dataSync())).to.deep.equal([-(2 ** 53), 5]);
  });

  it("in-place ops on integer tensors: integer operands work, a float result is refused with PyTorch's message", () => {
    const t = gg.tensor([1, 2, 3]);
    t.add_(2).mul_(gg.tensor([1, 0, -1]));
    expect(Array.from(t.dataSync())).to.deep.equal([3, 0, -5]);
    expect(t.dtype).to.equal('int64');
    expect(() => t.div_(2)).to.throw("result type Float can't be cast to the desired output type Long");
    expect(() => t.add_(0.5)).to.throw("result type Float can't be cast to the desired output type Long");
    expect(() => gg.tensor([1], { dtype: 'int32' }).mul_(gg.tensor([0.5]))).to.throw("result type Float can't be cast to the desired output type Int");
    expect(Array.from(t.dataSync())).to.deep.equal([3, 0, -5]);
    expect(Array.from(t.fill_(2.7).dataSync())).to.deep.equal([2, 2, 2]);
    // a float tensor takes an integer operand
    const f = gg.tensor([0.5, 1.5]);
    f.add_(gg.tensor([1, 2]));
    expect(Array.from(f.dataSync())).to.deep.equal([1.5, 3.5]);
  });

  it('rand/randn refuse integer dtypes, as PyTorch ("not implemented for \'Long\'")', () => {
    expect(() => gg.randn([2], { dtype: 'int64' })).to.throw(TypeError, `"randn" not implemented for 'Long'`);
    expect(() => gg.rand([2], { dtype: 'int32' })).to.throw(TypeError, `"rand" not implemented for 'Int'`);
  });

  it('randint(low, high, size) and randint(high, size): int64 in [low, high), seeded; PyTorch\'s message for an empty range', () => {
    gg.manualSeed(3);
    const a = gg.randint(-2, 5, [200]);
    expect(a.dtype).to.equal(fx.other.randintDtype);
    const v = Array.from(a.dataSync());
    expect(Math.min(...v)).to.equal(-2);
    expect(Math.max(...v)).to.equal(4);
    expect(v.every(Number.isInteger)).to.equal(true);
    gg.manualSeed(3);
    expect(Array.from(gg.randint(-2, 5, [200]).dataSync())).to.deep.equal(v);
    const b = gg.randint(3, [2, 2], { dtype: 'int32' });
    expect([b.dtype, ...b.shape]).to.deep.equal(['int32', 2, 2]);
    expect(() => gg.randint(5, 5, [2])).to.throw(RangeError, fx.messages['randintRange']);
    expect(() => gg.randint(0, 2.5, [2])).to.throw(TypeError);
    expect(() => gg.randint(0, 5, [2], { requiresGrad: true })).to.throw(fx.messages['requiresGradCtor']);
  });
});

forEachDevice((device) => {
  const float64 = gg.deviceInfo(device).dtypes.includes('float64');
  const ok = (o: Operand): boolean => float64 || o.dtype !== 'float64';
  const make = (o: Operand): gg.Tensor => (o.ndim === 1 ? gg.tensor([3, 1], { dtype: o.dtype, device }) : gg.tensor(2, { dtype: o.dtype, device }));

  describe('integer tensors on a device', () => {
    it(`type promotion: ${fx.promotion.length} tensor pairs (dimensioned and 0-dim) as torch.result_type`, () => {
      let n = 0;
      for (const c of fx.promotion) {
        if (!ok(c.a) || !ok(c.b)) continue;
        const [a, b] = [make(c.a), make(c.b)];
        const what = `${c.a.dtype}${c.a.ndim ? '[2]' : '[]'} op ${c.b.dtype}${c.b.ndim ? '[2]' : '[]'}`;
        expect(a.add(b).dtype, `add ${what}`).to.equal(c.add);
        expect(a.mul(b).dtype, `mul ${what}`).to.equal(c.mul);
        expect(a.div(b).dtype, `div ${what}`).to.equal(c.div);
        expect(a.maximum(b).dtype, `maximum ${what}`).to.equal(c.maximum);
        n++;
      }
      expect(n).to.be.at.least(float64 ? 64 : 36);
    });

    it(`type promotion with JS numbers: ${fx.scalars.length} cases (a whole number is a Python int, a fraction a Python float)`, () => {
      for (const c of fx.scalars) {
        if (!ok(c.a)) continue;
        const a = make(c.a);
        const what = `${c.a.dtype}${c.a.ndim ? '[2]' : '[]'} op ${c.scalar}`;
        expect(a.add(c.scalar).dtype, `add ${what}`).to.equal(c.add);
        expect(a.mul(c.scalar).dtype, `mul ${what}`).to.equal(c.mul);
        expect(a.div(c.scalar).dtype, `div ${what}`).to.equal(c.div);
      }
    });

    it('integer arithmetic is exact and keeps the dtype; true division and float functions give floats', async () => {
      const x = golden(V['x']!, device);
      const y = golden(V['y']!, device);
      await expectExact(x.add(y), V['add']!, 'add');
      await expectExact(x.sub(y), V['sub']!, 'sub');
      await expectExact(x.mul(y), V['mul']!, 'mul');
      await expectExact(x.div(y), V['div']!, 'div');
      await expectExact(x.neg(), V['neg']!, 'neg');
      await expectExact(x.abs(), V['abs']!, 'abs');
      await expectExact(x.maximum(y), V['maximum']!, 'maximum');
      await expectExact(x.minimum(y), V['minimum']!, 'minimum');
      await expectExact(x.pow(2), V['pow2']!, 'pow');
      await expectExact(x.add(0.5), V['addHalf']!, 'add 0.5');
      await expectExact(x.mul(gg.tensor([0.5, 1.5, -2], { device })), V['mulFloatTensor']!, 'mul float tensor');
      await expectExact(gg.tensor([0, 1, 2], { device }).exp(), V['exp']!, 'exp');
      await expectExact(x.matmul(gg.tensor([[1, 2], [3, 4], [5, 6]], { device })), V['matmul']!, 'matmul');
      await expectExact(x.where(x.gt(0), y), V['where']!, 'where');
      await expectExact(x.eq(0), V['cmpEq']!, 'eq');
      await expectExact(x.gt(0), V['cmpGt']!, 'gt');
      await expectExact(gg.cat([gg.tensor([1, 2], { device }), gg.tensor([0.5], { device })]), V['catMixed']!, 'cat promotes');
    });

    it('reductions: sum gives int64 (int32 too), max keeps the dtype; mean/var/std refuse integers as PyTorch', async () => {
      const x = golden(V['x']!, device);
      await expectExact(x.sum(), V['sum']!, 'sum');
      await expectExact(x.sum(1), V['sum1']!, 'sum(1)');
      await expectExact(x.int().sum(0), V['sumInt32']!, 'int32 sum(0)');
      await expectExact(x.max(1), V['max1']!, 'max(1)');
      expect(() => x.mean()).to.throw(fx.messages['meanLong']);
      expect(() => x.var()).to.throw(fx.messages['varLong']);
      expect(() => x.std()).to.throw(fx.messages['varLong']);
      expect(await x.float().mean().item()).to.be.closeTo(0.5, 1e-6);
    });

    it('argmax/argmin (and the indices of max(dim)/min(dim)) are int64: first index on ties, a NaN wins', async () => {
      const x = golden(V['x']!, device);
      await expectExact(x.argmax(1), V['argmax1']!, 'argmax(1)');
      await expectExact(x.argmin(1), V['argmin1']!, 'argmin(1)');
      await expectExact(x.argmax(), V['argmax']!, 'argmax()');
      await expectExact(x.argmin(), V['argmin']!, 'argmin()');
      await expectExact(x.argmax(1, true), V['argmaxKeep']!, 'argmax(1, keepdim)');
      await expectExact(gg.tensor([[1, 3, 3], [2, 2, 1]], { dtype: 'float32', device }).argmax(1), V['argmaxTies']!, 'ties');
      await expectExact(gg.tensor([[1, 3, 1], [2, 2, 5]], { dtype: 'float32', device }).argmin(1), V['argminTies']!, 'ties');
      await expectExact(gg.tensor([1, NaN, 3, NaN], { device }).argmax(), V['argmaxNan']!, 'NaN');
      await expectExact(gg.tensor([[1, 5, 5], [7, 2, 7]], { dtype: 'float32', device }).argmax(1), V['maxDimIndices']!, 'torch.max(x, 1).indices');
      await expectExact(gg.tensor([[1, 5, 1], [7, 2, 2]], { dtype: 'float32', device }).argmin(1), V['minDimIndices']!, 'torch.min(x, 1).indices');
    });

    it('casts truncate toward zero (.long(), .int(), .to()); back to float is exact', async () => {
      const c = golden({ ...V['casts']!, dtype: 'float32' }, device);
      await expectExact(c.long(), V['castLong']!, 'long');
      await expectExact(c.int(), V['castInt']!, 'int');
      await expectExact(c.to('int64').float(), { ...V['castLong']!, dtype: 'float32' }, 'long().float()');
      // NaN and ±inf become 0 on every device (PyTorch's result is undefined behaviour)
      expect(Array.from(await gg.tensor([NaN, Infinity, -Infinity], { device }).long().data())).to.deep.equal([0, 0, 0]);
      expect(gg.tensor([1, 2], { device }).isFloatingPoint()).to.equal(false);
    });

    it('gradients: integer results carry none; a float times an integer tensor differentiates in the float', async () => {
      const w = gg.tensor([0.5, -1, 2], { device, requiresGrad: true });
      const i = gg.tensor([3, 0, -2], { device });
      w.mul(i).sum().backward();
      expect(w.grad?.dtype).to.equal('float32');
      expect(Array.from(await w.grad!.data())).to.deep.equal([3, 0, -2]);
      expect(w.argmax().requiresGrad).to.equal(false);
      expect(w.long().requiresGrad).to.equal(false);
      expect(w.long().gradFn).to.equal(null);
      expect(w.add(i).gradFn?.name).to.equal('AddBackward0');
    });

    it('the exact integer range of this device: beyond it an integer is refused, not rounded (docs/notes/dtypes.md)', async () => {
      const limit = device === 'cpu' ? 2 ** 53 : 2 ** 24;
      expect(Array.from(await gg.tensor([limit, -limit], { device }).data())).to.deep.equal([limit, -limit]);
      const re = device === 'cpu' ? /beyond 2\^53/ : new RegExp(`^int64 value ${limit + 2} cannot be held exactly on device '${device}': it stores int64 as float32 \\(exact for \\|v\\| <= 2\\^24`);
      expect(() => gg.tensor([limit + 2], { device })).to.throw(RangeError, re);
      if (device !== 'cpu') {
        expect(() => gg.full([2], limit + 1, { dtype: 'int32', device })).to.throw(RangeError, /cannot be held exactly/);
        expect(() => gg.tensor([limit + 1], { dtype: 'int64' }).to(device)).to.throw(RangeError, /cannot be held exactly/);
      } else {
        // int32 wraps as C's int32 on the cpu, as in PyTorch
        await expectExact(golden({ ...V['int32Wrap']!, data: [2 ** 31 - 1] }, device).add(1), V['int32Wrap']!, 'int32 overflow');
      }
    });

    it("cross entropy and NLL want int64 class indices: PyTorch's messages", async () => {
      const x = gg.zeros([2, 3], { device });
      expect(() => gg.nn.functional.crossEntropy(x, gg.tensor([0.5, 1], { device }))).to.throw(fx.messages['ceFloatTarget']);
      expect(() => gg.nn.functional.crossEntropy(x, gg.tensor([0, 1], { dtype: 'int32', device }))).to.throw(fx.messages['ceIntTarget']);
      expect(() => gg.nn.functional.nllLoss(x, gg.tensor([0, 1], { dtype: 'float32', device }))).to.throw(fx.messages['nllFloatTarget']);
      expect(() => gg.nn.functional.crossEntropy(x, gg.zeros([2, 3], { dtype: 'int64', device }))).to.throw(fx.messages['ceProbLong']);
      expect(await new gg.nn.CrossEntropyLoss().call(x, gg.tensor([0, 2], { device })).item()).to.be.closeTo(Math.log(3), 1e-6);
    });

    it('printing: int64 without a dtype suffix, int32 with one', () => {
      if (!syncReadable(device)) {
        // values are not read synchronously here: the size and dtype are printed instead
        expect(String(gg.tensor([0, 1, 2], { device }))).to.match(/^tensor\(<not read: .*size=\(3,\), dtype=torch\.int64, device='/);
        return;
      }
      expect(String(gg.tensor([0, 1, 2], { device }))).to.equal(fx.reprs['int64']!.replace(/\)$/, device === 'cpu' ? ')' : `, device='${device}')`));
      if (device !== 'cpu') return;
      expect(String(gg.tensor([[1, -20], [300, 4]]))).to.equal(fx.reprs['int64_2d']);
      expect(String(gg.tensor([0, 1, 2], { dtype: 'int32' }))).to.equal(fx.reprs['int32']);
      expect(String(gg.tensor(7))).to.equal(fx.reprs['int64_scalar']);
      expect(String(gg.zeros([0], { dtype: 'int64' }))).to.equal(fx.reprs['int64_empty']);
      expect(String(gg.zeros([0], { dtype: 'int32' }))).to.equal(fx.reprs['int32_empty']);
      expect(String(gg.tensor([2 ** 40, -3]))).to.equal(fx.reprs['int64_large']);
      expect(String(gg.tensor(Array.from({ length: 2000 }, (_, i) => i)))).to.equal(fx.reprs['int64_long']);
      expect(String(gg.tensor([[1, 5], [7, 2]], { dtype: 'float32' }).argmax(1))).to.equal(fx.reprs['argmax']);
    });
  });
});

describe('integer tensors in nn and io', () => {
  it("BatchNorm's num_batches_tracked is int64 and stays so through module.double(), as PyTorch's", async () => {
    const bn = new gg.nn.BatchNorm1d(2);
    bn.call(gg.randn([4, 2]));
    bn.double();
    expect(bn.numBatchesTracked?.dtype).to.equal(fx.other.numBatchesTrackedDtype);
    expect(await bn.numBatchesTracked!.item()).to.equal(1);
    expect(() => new gg.nn.Linear(2, 2).to('int64')).to.throw(TypeError, fx.messages['moduleToLong']);
    const cum = new gg.nn.BatchNorm1d(2, { momentum: null, dtype: 'float64' });
    cum.call(gg.randn([4, 2], { dtype: 'float64' }));
    expect(cum.runningMean?.dtype).to.equal('float64');
  });

  it('safetensors: int32 as I32, int64 as I64, and back with their dtypes', () => {
    const sd = { a: gg.tensor([1, -2, 2 ** 31 - 1], { dtype: 'int32' }), b: gg.tensor([2 ** 53, -5]), c: gg.tensor([0.5], { dtype: 'float32' }) };
    const bytes = gg.io.toSafetensorsBytesSync(sd);
    const raw = decodeSafetensors(bytes).tensors;
    expect(raw.get('a')?.dtype).to.equal('I32');
    expect(Array.from(raw.get('a')!.data as Int32Array)).to.deep.equal([1, -2, 2 ** 31 - 1]);
    expect(raw.get('b')?.dtype).to.equal('I64');
    expect(Array.from(raw.get('b')!.data as BigInt64Array)).to.deep.equal([2n ** 53n, -5n]);
    const back = gg.io.fromSafetensorsBytes(bytes);
    expect(back['a']?.dtype).to.equal('int32');
    expect(back['b']?.dtype).to.equal('int64');
    expect(Array.from(back['b']!.dataSync())).to.deep.equal([2 ** 53, -5]);
    expect(back['c']?.dtype).to.equal('float32');
  });
});
