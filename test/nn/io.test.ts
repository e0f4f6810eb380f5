/**
 * gg.io: safetensors state dicts. Loads PyTorch's file
 * (test/fixtures/torch_state.safetensors) into the same model built in
 * gpugrad and compares the eval output with PyTorch's; round trips; I64.
 */
import { expect } from 'chai';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as gg from '../../src/index.js';
import { decodeSafetensors } from '../../src/nn/safetensors.js';

interface T {
  shape: number[];
  data: number[];
}
interface StateFixture {
  keys: string[];
  dtypes: Record<string, string>;
  state: Record<string, T>;
  input: T;
  output: T;
}

const fixtureUrl = (name: string): URL => new URL(`../../../test/fixtures/${name}`, import.meta.url);
const torchFile = fileURLToPath(fixtureUrl('torch_state.safetensors'));
const fx = JSON.parse(readFileSync(fixtureUrl('torch_state.json'), 'utf8')) as StateFixture;

type Ctor = new (...args: never[]) => gg.nn.Module;
/** A layer class from gg.nn by name (Conv2d and BatchNorm2d come from other files). */
function layer(name: string): Ctor | undefined {
  return (gg.nn as unknown as Record<string, Ctor | undefined>)[name];
}

describe('io: PyTorch safetensors file', () => {
  it('loads every tensor in the file order with PyTorch\'s values; I64 becomes int64 (marked integer too)', () => {
    const sd = gg.io.loadSafetensors(torchFile);
    expect(Object.keys(sd)).to.deep.equal(fx.keys);
    for (const k of fx.keys) {
      const t = sd[k] as gg.Tensor;
      expect([...t.shape], k).to.deep.equal(fx.state[k]?.shape);
      expect(t.dtype, k).to.equal(fx.dtypes[k] === 'I64' ? 'int64' : 'float32');
      expect(Array.from(t.dataSync()), k).to.deep.equal(Array.from(Float32Array.from(fx.state[k]?.data ?? [])));
      expect(gg.nn.integerTensors.has(t), k).to.equal(fx.dtypes[k] === 'I64');
    }
  });

  it('saving the loaded state writes the same tensors, dtypes (I64 included) and order', async () => {
    const sd = gg.io.loadSafetensors(torchFile);
    const bytes = await gg.io.toSafetensorsBytes(sd);
    const ours = decodeSafetensors(bytes);
    const theirs = decodeSafetensors(new Uint8Array(readFileSync(torchFile)));
    expect([...ours.tensors.keys()]).to.deep.equal([...theirs.tensors.keys()]);
    expect(ours.metadata).to.deep.equal({ format: 'pt' });
    for (const [k, t] of theirs.tensors) {
      const o = ours.tensors.get(k);
      expect(o?.dtype, k).to.equal(t.dtype);
      expect(o?.shape, k).to.deep.equal(t.shape);
      expect(Array.from(o?.data ?? [], String), k).to.deep.equal(Array.from(t.data, String));
    }
  });

  it('Sequential(Conv2d, BatchNorm2d, ReLU, Flatten, Linear) loaded from the file reproduces PyTorch\'s eval output', function () {
    const Conv2d = layer('Conv2d') as (new (i: number, o: number, k: number, opts: { padding: number }) => gg.nn.Module) | undefined;
    const BatchNorm2d = layer('BatchNorm2d') as (new (c: number) => gg.nn.Module) | undefined;
    if (!Conv2d || !BatchNorm2d) {
      this.skip(); // src/nn/conv.ts or src/nn/normalization.ts not there yet
      return;
    }
    gg.manualSeed(0);
    const model = new gg.nn.Sequential(new Conv2d(1, 4, 3, { padding: 1 }), new BatchNorm2d(4), new gg.nn.ReLU(), new gg.nn.Flatten(), new gg.nn.Linear(100, 3));
    expect(Object.keys(model.stateDict())).to.deep.equal(fx.keys);
    const params = model.parameters();
    model.loadStateDict(gg.io.loadSafetensors(torchFile));
    expect(model.parameters()).to.deep.equal(params);
    model.eval();
    const x = gg.tensor(fx.input.data, { shape: fx.input.shape });
    const y = model.call(x);
    expect([...y.shape]).to.deep.equal(fx.output.shape);
    const got = y.dataSync();
    fx.output.data.forEach((e, i) => expect(got[i], `output[${i}]`).to.be.closeTo(e, 1e-5));
    // and in float64, closer still to the float32 reference
    model.to('float64');
    const y64 = model.call(x.to('float64')).dataSync();
    fx.output.data.forEach((e, i) => expect(y64[i], `float64 output[${i}]`).to.be.closeTo(e, 1e-5));
    // the buffer keeps I64 on the way out
    const out = decodeSafetensors(gg.io.toSafetensorsBytesSync(model.stateDict()));
    expect(out.tensors.get('1.num_batches_tracked')?.dtype).to.equal('I64');
    expect(out.tensors.get('1.running_mean')?.dtype).to.equal('F64');
  });
});

describe('io: round trips', () => {
  let dir = '';
  before(() => (dir = mkdtempSync(join(tmpdir(), 'gg-io-'))));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('save → load gives the same keys, order, dtypes and values (F32, F64, I64)', async () => {
    gg.manualSeed(3);
    const sd: Record<string, gg.Tensor> = {
      'fc.weight': gg.randn([3, 4]),
      'fc.bias': gg.randn([3], { dtype: 'float64' }),
      'bn.num_batches_tracked': gg.tensor(7),
      'counter': gg.tensor([1, 2, 3], { dtype: 'float64' }),
    };
    gg.nn.integerTensors.add(sd['counter'] as gg.Tensor);
    const path = join(dir, 'a.safetensors');
    await gg.io.saveSafetensors(sd, path);
    const raw = decodeSafetensors(new Uint8Array(readFileSync(path)));
    expect([...raw.tensors.entries()].map(([k, t]) => [k, t.dtype])).to.deep.equal([
      ['fc.weight', 'F32'],
      ['fc.bias', 'F64'],
      ['bn.num_batches_tracked', 'I64'],
      ['counter', 'I64'],
    ]);
    const back = gg.io.loadSafetensors(path);
    expect(Object.keys(back)).to.deep.equal(Object.keys(sd));
    for (const [k, t] of Object.entries(sd)) {
      const b = back[k] as gg.Tensor;
      expect([...b.shape], k).to.deep.equal([...t.shape]);
      expect(Array.from(b.dataSync()), k).to.deep.equal(Array.from(t.dataSync()));
    }
    expect(back['fc.bias']?.dtype).to.equal('float64');
    expect(gg.nn.integerTensors.has(back['counter'] as gg.Tensor)).to.equal(true);
    // load options: dtype conversion
    expect(gg.io.loadSafetensors(path, { dtype: 'float64' })['fc.weight']?.dtype).to.equal('float64');
  });

  it('a model saved and loaded into a fresh model gives the same outputs; LazyLinear materialises from the file', async () => {
    gg.manualSeed(5);
    const a = new gg.nn.Sequential(new gg.nn.Linear(4, 6, { dtype: 'float64' }), new gg.nn.Tanh(), new gg.nn.Linear(6, 2, { dtype: 'float64' }));
    const path = join(dir, 'model.safetensors');
    await gg.io.saveSafetensors(a.stateDict(), path);
    const b = new gg.nn.Sequential(new gg.nn.Linear(4, 6, { dtype: 'float64' }), new gg.nn.Tanh(), new gg.nn.LazyLinear(2, { dtype: 'float64' }));
    b.loadStateDict(gg.io.loadSafetensors(path));
    const x = gg.randn([3, 4], { dtype: 'float64' });
    expect(Array.from(b.call(x).dataSync())).to.deep.equal(Array.from(a.call(x).dataSync()));
  });

  it('corrupt bytes throw the codec\'s error', () => {
    expect(() => gg.io.fromSafetensorsBytes(new Uint8Array(3))).to.throw(/^safetensors: file is truncated/);
  });
});
