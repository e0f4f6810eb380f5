/**
 * Integer max pooling (int32 and int64) where windows reach past the input:
 * padding, ceil-mode tails and dilation, against PyTorch's float64 max
 * pooling of the same values cast back (test/fixtures/torch_int_pool.json,
 * make_int_pool.py: torch 1.13 refuses integer max pooling, newer PyTorch
 * computes it). Before the fix int32 padding read -∞, which an int32 array
 * holds as 0, so a window of negatives next to the padding gave 0 and the
 * index of the padding (docs/notes/special-values.md, "Integer max pooling").
 * Every device: the cpu's int32 array and float64 int64, and the gpu.js
 * devices' float32 (values to 2^24, docs/notes/dtypes.md).
 */
import { expect } from 'chai';
import * as gg from '../../src/index.js';
import { forEachDevice } from '../helpers/devices.js';
import { fixture } from '../helpers/compare.js';
import { nums, type ToolTensor } from '../helpers/tools-fixture.js';

const F = gg.nn.functional;

interface IntPoolCase {
  name: string;
  rank: 1 | 2 | 3;
  dtype: 'int32' | 'int64';
  kwargs: { kernel_size: number | number[]; stride?: number | number[]; padding?: number | number[]; dilation?: number | number[]; ceil_mode?: boolean };
  input: ToolTensor;
  output: ToolTensor;
  indices: ToolTensor;
}
const golden = fixture<{ torch: string; cases: IntPoolCase[] }>('torch_int_pool.json');

type PoolOpts = { stride?: number | number[]; padding?: number | number[]; dilation?: number | number[]; ceilMode?: boolean };

function options(c: IntPoolCase): [number | number[], PoolOpts] {
  const { kernel_size: k, ceil_mode: ceilMode, ...rest } = c.kwargs;
  return [k, { ...rest, ...(ceilMode !== undefined ? { ceilMode } : {}) }];
}

function intTensor(values: number[], shape: number[], dtype: 'int32' | 'int64', device: string): gg.Tensor {
  return gg.tensor(dtype === 'int32' ? Int32Array.from(values) : BigInt64Array.from(values.map((v) => BigInt(v))), { shape, dtype, device });
}

async function values(t: gg.Tensor): Promise<number[]> {
  return Array.from(await t.data(), (v) => Number(v));
}

const WITH_INDICES = { 1: F.maxPool1dWithIndices, 2: F.maxPool2dWithIndices, 3: F.maxPool3dWithIndices };
const PLAIN = { 1: F.maxPool1d, 2: F.maxPool2d, 3: F.maxPool3d };
const MODULES = { 1: gg.nn.MaxPool1d, 2: gg.nn.MaxPool2d, 3: gg.nn.MaxPool3d };

forEachDevice((device) => {
  describe('integer max pooling with padding, ceil mode and dilation against PyTorch (float64 pooling cast back)', function () {
    this.timeout(60_000);
    for (const c of golden.cases) {
      it(c.name, async () => {
        const [k, opts] = options(c);
        const x = intTensor(nums(c.input), c.input.shape, c.dtype, device);
        const [y, i] = WITH_INDICES[c.rank](x, k, opts);
        expect(y.dtype, 'output dtype').to.equal(c.dtype);
        expect(i.dtype, 'indices dtype').to.equal('int64');
        expect(y.shape, 'output shape').to.deep.equal(c.output.shape);
        expect(await values(y), 'output').to.deep.equal(nums(c.output));
        expect(await values(i), 'indices').to.deep.equal(nums(c.indices));
        // the plain function and the module take the same path without the indices
        expect(await values(PLAIN[c.rank](x, k, opts)), 'maxPoolNd').to.deep.equal(nums(c.output));
        expect(await values(new MODULES[c.rank](k, opts).call(x)), 'MaxPoolNd module').to.deep.equal(nums(c.output));
      });
    }

    for (const dtype of ['int32', 'int64'] as const) {
      it(`${dtype}: a window with no input element holds the dtype's lowest value (float: -inf), its padded cells never another's maximum`, async () => {
        // dilation 3 steps over the 2-element input from the second window on: [pad, x1], then [x0 | pad past the end] ...
        const x = intTensor([-5, -3], [1, 1, 2], dtype, device);
        const [y, i] = F.maxPool1dWithIndices(x, 2, { stride: 1, padding: 1, dilation: 3 });
        const lowest = dtype === 'int32' ? -(2 ** 31) : -(2 ** 63);
        // the float64 pooling of the same values gives [-inf]: here its integer stand-in
        const yf = F.maxPool1d(gg.tensor([-5, -3], { shape: [1, 1, 2], dtype: 'float32', device }), 2, { stride: 1, padding: 1, dilation: 3 });
        expect(await yf.data()).to.deep.equal(new Float32Array([-Infinity]));
        expect(await values(y)).to.deep.equal([lowest]);
        expect(await values(i)).to.deep.equal([2]); // PyTorch's start index (past the input, as PyTorch's)
      });
    }
  });
});
