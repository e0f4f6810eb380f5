/**
 * Safety at the door (docs/notes/validation.md): creation functions prove
 * their numbers before anything runs, kernel text only ever holds JS numbers,
 * tidy refuses async bodies. Messages follow PyTorch 1.13 (checked with
 * /usr/bin/python3: `full(): argument 'fill_value' (position 2) must be Number, not str`).
 */
import { expect } from 'chai';
import * as gg from '../../src/index.js';
import { fill, pad as padKernel, im2col } from '../../src/backend/kernels.js';
import { float, int, makeKernel } from '../../src/backend/kernel.js';
import { compileLoop } from '../../src/backend/cpu.js';

const g = globalThis as { pwned?: unknown };

describe('safety: kernel text holds only numbers', () => {
  afterEach(() => delete g.pwned);

  it('full() with a string fill value throws naming the argument, and no code runs (issue 9 probe)', () => {
    expect(() => gg.full([2], 'globalThis.pwned=7,1e0' as unknown as number)).to.throw(TypeError, "full(): argument 'fill_value' must be Number, not str");
    expect(g.pwned).to.equal(undefined);
  });

  it('the literal formatters refuse anything but a JS number, without calling valueOf/toString', () => {
    const evil = { valueOf: () => ((g.pwned = 1), 1), toString: () => ((g.pwned = 1), '1') };
    for (const bad of ['1', evil, 1n, true, [1], null, undefined]) {
      expect(() => float(bad as unknown as number), String(typeof bad)).to.throw(/^internal: kernel literal .* is not a number$/);
      expect(() => int(bad as unknown as number)).to.throw(/^internal: kernel literal .* is not an integer$/);
    }
    expect(() => int(1.5)).to.throw('internal: kernel literal 1.5 is not an integer');
    expect(g.pwned).to.equal(undefined);
    // every JS number is a literal; ±inf and NaN go through a runtime division
    expect(float(0.1)).to.equal('0.1');
    expect(float(1e21)).to.equal('1e+21');
    expect(float(-3)).to.equal('-3.0');
    expect(float(Infinity)).to.equal('(1.0 / (gid - gid))');
    expect(float(NaN)).to.equal('(0.0 / (gid - gid))');
  });

  it('kernel builders check every value before writing text', () => {
    const bad = 'globalThis.pwned=1' as unknown as number;
    expect(() => fill(3, bad)).to.throw(/not a number/);
    expect(() => fill(bad, 1)).to.throw(/not an integer/);
    const op = { offset: 0, strides: [1] };
    expect(() => padKernel(op, [2], [4], [1], bad)).to.throw(/not a number/);
    expect(() => padKernel(op, [2], [4], [bad], 0)).to.throw(/not an integer/);
    const geom = { kernel: [2], stride: [1], padding: [bad], dilation: [1], inSize: [3], outSize: [2] };
    expect(() => im2col(op, [], geom, 0)).to.throw(/not an integer/);
    expect(() => makeKernel('k', 0, bad, [], '0.0')).to.throw(/not an integer/);
    // the cpu device's loop bounds go through the same check
    const k = { ...makeKernel('k', 0, 2, [], '0.0'), grid: { shape: [bad], prefix: 'i', body: [] } };
    expect(() => compileLoop(k)).to.throw(/not an integer/);
    expect(g.pwned).to.equal(undefined);
  });
});

describe('safety: creation functions check their arguments', () => {
  afterEach(() => delete g.pwned);

  it('full/zeros/ones: sizes are whole numbers >= 0, the value a JS number', () => {
    expect(() => gg.zeros([1.5])).to.throw(TypeError, "zeros(): argument 'size' must be tuple of ints, but found element of type float at pos 0");
    expect(() => gg.zeros([2, NaN])).to.throw(TypeError, "zeros(): argument 'size' must be tuple of ints, but found element of type float at pos 1");
    expect(() => gg.ones(['2'] as unknown as number[])).to.throw(TypeError, "ones(): argument 'size' must be tuple of ints, but found element of type str at pos 0");
    expect(() => gg.zeros(3 as unknown as number[])).to.throw(TypeError, "zeros(): argument 'size' must be tuple of ints, not int");
    expect(() => gg.zeros([-1])).to.throw('Trying to create tensor with negative dimension -1: [-1]');
    expect(() => gg.full([2], true as unknown as number)).to.throw("full(): argument 'fill_value' must be Number, not bool");
    expect(() => gg.full([2], 1n as unknown as number)).to.throw("full(): argument 'fill_value' must be Number, not bigint");
    expect(() => gg.full([2], [1] as unknown as number)).to.throw("full(): argument 'fill_value' must be Number, not list");
    expect(() => gg.fullLike(gg.ones([2]), '1' as unknown as number)).to.throw("full_like(): argument 'fill_value' must be Number, not str");
    expect(() => gg.zerosLike([1, 2] as unknown as gg.Tensor)).to.throw("zeros_like(): argument 'input' must be Tensor, not list");
  });

  it('full() of a finite value beyond float32 is refused, as PyTorch (not inf here, 3.4e38 there)', () => {
    expect(() => gg.full([3], 1e39)).to.throw('value cannot be converted to type float without overflow');
    expect(() => gg.full([3], -1e39)).to.throw('value cannot be converted to type float without overflow');
    expect(gg.full([1], 3.4028234663852886e38).dataSync()[0]).to.equal(3.4028234663852886e38);
    expect(gg.full([1], 1e39, { dtype: 'float64' }).dataSync()[0]).to.equal(1e39);
    expect(gg.full([1], Infinity).dataSync()[0]).to.equal(Infinity);
  });

  it('tensor(): every element must be a number; the message names where', () => {
    expect(() => gg.tensor([1, '2'] as unknown as number[])).to.throw(TypeError, "tensor(): invalid data type 'str' at [1]: argument 'data' must hold only numbers");
    expect(() => gg.tensor([1, null] as unknown as number[])).to.throw(TypeError, "tensor(): could not infer dtype of None at [1]: argument 'data' must hold only numbers");
    expect(() => gg.tensor([[1, 2], [3, true]] as unknown as number[][])).to.throw("tensor(): invalid data type 'bool' at [1, 1]");
    expect(() => gg.tensor([[1], 2] as unknown as number[][])).to.throw('expected a sequence at [1] (depth 1), got int');
    expect(() => gg.tensor([1, [2]] as unknown as number[][])).to.throw("tensor(): argument 'data' must be nested lists of one depth: expected a number at [1] (depth 1), got a list");
    expect(() => gg.tensor('1' as unknown as number)).to.throw("tensor(): invalid data type 'str' at []");
  });

  it('tensor(): BigInt64Array data and bad shapes get clear messages', () => {
    // BigInt64Array is int64 data (docs/notes/dtypes.md): exact up to 2^53, refused beyond
    expect(gg.tensor(new BigInt64Array([3n, -4n])).dtype).to.equal('int64');
    expect(() => gg.tensor(new BigInt64Array([2n ** 60n]))).to.throw(RangeError, /^tensor\(\): int64 value 1152921504606846976 is beyond 2\^53/);
    expect(() => gg.tensor([1, 2, 3], { shape: [-1, -3] })).to.throw('Trying to create tensor with negative dimension -1: [-1, -3]');
    expect(() => gg.tensor(new Float32Array(3), { shape: [1.5, 2] })).to.throw("tensor(): argument 'shape' must be tuple of ints, but found element of type float at pos 0");
    expect(() => gg.tensor([1], { dtype: 'int8' as gg.DType })).to.throw("unsupported dtype 'int8'");
    expect(() => gg.tensor([1], { device: 3 as unknown as string })).to.throw("tensor(): argument 'device' must be str, not int");
  });

  it('arange(): numbers, a finite range and a step of the right sign (PyTorch: unsupported range: 0 -> nan)', () => {
    expect(() => gg.arange(NaN)).to.throw('arange(): unsupported range: 0 -> nan');
    expect(() => gg.arange(Infinity)).to.throw('arange(): unsupported range: 0 -> inf');
    expect(() => gg.arange('3' as unknown as number)).to.throw("arange(): argument 'end' must be Number, not str");
    expect(() => gg.arange(3, { step: 0 })).to.throw('step must be nonzero');
    expect(() => gg.arange(3, { start: 5 })).to.throw('upper bound and larger bound inconsistent with step sign');
    expect(gg.arange(5, { start: 1, step: 2, dtype: 'float32' }).dataSync()).to.deep.equal(new Float32Array([1, 3]));
  });

  it('cat() promotes float32 and float64 to float64 (PyTorch type promotion)', () => {
    const out = gg.cat([gg.tensor([1, 2]), gg.tensor([3], { dtype: 'float64' })]);
    expect(out.dtype).to.equal('float64');
    expect(Array.from(out.dataSync())).to.deep.equal([1, 2, 3]);
    expect(() => gg.cat([gg.ones([1]), 'x' as unknown as gg.Tensor])).to.throw("cat(): expected Tensor as element 1 in argument 'tensors', but got str");
    expect(() => gg.stack([gg.ones([1])], '0' as unknown as number)).to.throw("stack(): argument 'dim' must be int, not str");
  });

  it('setDefaultDtype refuses unknown dtypes', () => {
    expect(() => gg.setDefaultDtype('int8' as gg.DType)).to.throw("unsupported dtype 'int8'");
    expect(gg.getDefaultDtype()).to.equal('float32');
  });
});

describe('safety: tidy refuses async bodies (as tfjs)', () => {
  it('an async function is refused before it runs', () => {
    let ran = false;
    expect(() =>
      gg.tidy((async () => {
        ran = true;
      }) as unknown as () => void),
    ).to.throw(TypeError, /^Cannot return a Promise inside of tidy\(\)/);
    expect(ran).to.equal(false);
  });

  it('a function returning a Promise frees what it made and throws', () => {
    const before = gg.memory().liveBuffers;
    expect(() => gg.tidy(() => Promise.resolve(gg.ones([2]).mul(2)))).to.throw(/^Cannot return a Promise inside of tidy\(\)/);
    expect(gg.memory().liveBuffers).to.equal(before);
  });
});

describe('safety: more messages at the door (issue 9 list)', () => {
  it('narrow() with a fractional start names the argument (not "internal")', () => {
    expect(() => gg.arange(5).narrow(0, 1.5, 2)).to.throw(TypeError, "narrow(): argument 'start' must be int, not float");
  });

  it('max() over a zero-size dim names the dim (PyTorch), and without a dim asks for one', () => {
    expect(() => gg.zeros([3, 0]).max(1)).to.throw('max(): Expected reduction dim 1 to have non-zero size.');
    expect(() => gg.zeros([0]).max()).to.throw(/Expected reduction dim to be specified for input.numel\(\) == 0/);
    expect(gg.zeros([0, 3]).max(1).shape).to.deep.equal([0]);
  });

  it('MSELoss warns once about broadcasting a target of another size (PyTorch\'s UserWarning)', async () => {
    const seen: string[] = [];
    const onWarning = (w: Error): void => void seen.push(w.message);
    process.on('warning', onWarning);
    gg.nn.functional.mseLoss(gg.ones([2, 3]), gg.ones([3])).dispose();
    gg.nn.functional.mseLoss(gg.ones([2, 3]), gg.ones([3])).dispose();
    // warnings are emitted on a later tick
    await new Promise<void>((resolve) => setImmediate(resolve));
    process.off('warning', onWarning);
    expect(seen.filter((m) => m.startsWith('Using a target size ([3]) that is different to the input size ([2, 3])'))).to.have.length(1);
  });
});

describe('safety: a tensor of a released device says so', () => {
  it('reading or computing with a buffer of a released device names releaseDevice (not "internal")', async () => {
    const { CpuDevice } = await import('../../src/backend/cpu.js');
    const dev = new CpuDevice();
    const buf = dev.upload(new Float32Array([1, 2]), 'float32');
    dev.released = true;
    const msg = "a tensor on 'cpu' was used after releaseDevice('cpu'): its data is gone";
    expect(() => dev.readSync(buf)).to.throw(msg);
    const other = new CpuDevice();
    expect(() => other.run(makeKernel('copy', 1, 2, [], 'in0[gid]'), [buf], 'float32')).to.throw(msg);
  });
});

describe('safety: quiet devices', () => {
  it("WebGPU: what discovery skipped is in deviceInfo().notes, not on the terminal", async function () {
    const { availableDevices, skipBecause } = await import('../helpers/devices.js');
    if (!availableDevices.includes('gpu:webgpu')) skipBecause(this, 'gpu:webgpu is not available here');
    const info = gg.deviceInfo('gpu:webgpu');
    // on a machine without the Vulkan loader the Vulkan attempt (and Dawn's warning about it) is skipped
    const { existsSync } = await import('node:fs');
    const hasVulkan = ['/usr/lib/x86_64-linux-gnu/libvulkan.so.1', '/usr/lib/libvulkan.so.1'].some((p) => existsSync(p));
    if (!hasVulkan) expect((info.notes ?? []).join('\n')).to.include('the Vulkan loader libvulkan.so.1 is not installed');
  });
});
