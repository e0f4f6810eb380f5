/**
 * The injection fuzz (issue 9, docs/notes/validation.md): every public
 * function that takes a number gets strings (one of them code), objects whose
 * valueOf/toString set a global canary, BigInt, booleans and arrays. Each
 * call must throw, name the argument in its message, and run nothing: the
 * canary stays unset (so no kernel text and no user conversion ran).
 */
import { expect } from 'chai';
import * as gg from '../../src/index.js';
import { expectEachRefused } from '../helpers/option-inputs.js';

const g = globalThis as { __gpugradCanary?: unknown };
const canary = (): unknown => (g.__gpugradCanary = true);

/** Values that are not JS numbers; each label is printed on failure. */
const bad: [string, unknown][] = [
  ['code string', 'globalThis.__gpugradCanary=1,1'],
  ['numeric string', '2'],
  ['valueOf object', { valueOf: () => (canary(), 2) }],
  ['toString object', { toString: () => (canary(), '2') }],
  ['Symbol.toPrimitive object', { [Symbol.toPrimitive]: () => (canary(), 2) }],
  ['bigint', 2n],
  ['boolean', true],
  ['array holding an object', [{ valueOf: () => (canary(), 2) }]],
];

type Case = [name: string, arg: string, call: (v: never) => unknown];

const x = (): gg.Tensor => gg.ones([2, 3]);
const img = (): gg.Tensor => gg.ones([1, 1, 4, 4]);

/** Every public number-taking function and argument. */
const cases: Case[] = [
  // creation
  ['full', 'fill_value', (v) => gg.full([2], v)],
  ['full', 'size', (v) => gg.full([v, 2], 1)],
  ['zeros', 'size', (v) => gg.zeros([v])],
  ['ones', 'size', (v) => gg.ones([2, v])],
  ['rand', 'size', (v) => gg.rand([v])],
  ['randn', 'size', (v) => gg.randn([v])],
  ['full_like', 'fill_value', (v) => gg.fullLike(x(), v)],
  ['arange', 'end', (v) => gg.arange(v)],
  ['arange', 'start', (v) => gg.arange(3, { start: v })],
  ['arange', 'step', (v) => gg.arange(3, { step: v })],
  ['tensor', 'data', (v) => gg.tensor([1, v])],
  ['tensor', 'shape', (v) => gg.tensor([1, 2], { shape: [v] })],
  ['cat', 'dim', (v) => gg.cat([x(), x()], v)],
  ['stack', 'dim', (v) => gg.stack([x(), x()], v)],
  ['where', 'other', (v) => gg.where(x(), x(), v)],
  ['manual_seed', 'seed', (v) => gg.manualSeed(v)],
  // elementwise and comparison operands
  ...(['add', 'sub', 'mul', 'div', 'maximum', 'minimum', 'eq', 'ne', 'lt', 'le', 'gt', 'ge'] as const).map(
    (op): Case => [op, 'other', (v) => x()[op](v)],
  ),
  ['pow', 'exponent', (v) => x().pow(v)],
  ['clamp', 'min', (v) => x().clamp(v)],
  ['clamp', 'max', (v) => x().clamp(0, v)],
  ['where', 'other', (v) => x().where(x(), v)],
  ['copy_', 'src', (v) => x().copy_(v)],
  // dims, shapes, slices, padding
  ['sum', 'dim', (v) => x().sum(v)],
  ['mean', 'dim', (v) => x().mean(v)],
  ['var', 'dim', (v) => x().var(v)],
  ['std', 'dim', (v) => x().std(v)],
  ['max', 'dim', (v) => x().max(v)],
  ['min', 'dim', (v) => x().min(v)],
  ['amax', 'dim', (v) => x().amax(v)],
  ['argmax', 'dim', (v) => x().argmax(v)],
  ['softmax', 'dim', (v) => x().softmax(v)],
  ['log_softmax', 'dim', (v) => x().logSoftmax(v)],
  ['logsumexp', 'dim', (v) => x().logsumexp(v)],
  ['reshape', 'shape', (v) => x().reshape(v, 3)],
  ['view', 'shape', (v) => x().view(3, v)],
  ['permute', 'dims', (v) => x().permute(v, 0)],
  ['transpose', 'dim0', (v) => x().transpose(v, 1)],
  ['transpose', 'dim1', (v) => x().transpose(0, v)],
  ['expand', 'size', (v) => gg.ones([1, 3]).expand(v, 3)],
  ['squeeze', 'dim', (v) => x().squeeze(v)],
  ['unsqueeze', 'dim', (v) => x().unsqueeze(v)],
  ['flatten', 'start_dim', (v) => x().flatten(v)],
  ['flatten', 'end_dim', (v) => x().flatten(0, v)],
  ['narrow', 'dim', (v) => x().narrow(v, 0, 1)],
  ['narrow', 'start', (v) => x().narrow(1, v, 1)],
  ['narrow', 'length', (v) => x().narrow(1, 0, v)],
  ['pad', 'value', (v) => x().pad([1, 1], [0, 0], v)],
  ['pad', 'before', (v) => x().pad([v, 0], [0, 0])],
  ['pad', 'after', (v) => x().pad([0, 0], [0, v])],
  // nn functional
  ['leaky_relu', 'negative_slope', (v) => gg.nn.functional.leakyRelu(x(), v)],
  ['dropout', 'p', (v) => gg.nn.functional.dropout(x(), v)],
  ['conv2d', 'stride', (v) => gg.nn.functional.conv2d(img(), gg.ones([1, 1, 3, 3]), null, { stride: v })],
  ['conv2d', 'padding', (v) => gg.nn.functional.conv2d(img(), gg.ones([1, 1, 3, 3]), null, { padding: [v, 1] })],
  ['conv2d', 'dilation', (v) => gg.nn.functional.conv2d(img(), gg.ones([1, 1, 3, 3]), null, { dilation: v })],
  ['conv', 'groups', (v) => gg.nn.functional.conv2d(img(), gg.ones([1, 1, 3, 3]), null, { groups: v })],
  ['max_pool2d', 'kernel_size', (v) => gg.nn.functional.maxPool2d(img(), v)],
  ['avg_pool2d', 'kernel_size', (v) => gg.nn.functional.avgPool2d(img(), v)],
  // nn modules
  ['Linear', 'in_features', (v) => new gg.nn.Linear(v, 2)],
  ['Linear', 'out_features', (v) => new gg.nn.Linear(2, v)],
  ['LeakyReLU', 'negative_slope', (v) => new gg.nn.LeakyReLU(v)],
  ['Softmax', 'dim', (v) => new gg.nn.Softmax(v)],
  ['dropout', 'p', (v) => new gg.nn.Dropout(v)],
  ['BatchNorm2d', 'num_features', (v) => new gg.nn.BatchNorm2d(v)],
  ['BatchNorm2d', 'eps', (v) => new gg.nn.BatchNorm2d(2, { eps: v })],
  ['BatchNorm2d', 'momentum', (v) => new gg.nn.BatchNorm2d(2, { momentum: v })],
  ['LayerNorm', 'normalized_shape', (v) => new gg.nn.LayerNorm(v)],
  ['LayerNorm', 'eps', (v) => new gg.nn.LayerNorm(2, { eps: v })],
  ['GroupNorm', 'num_groups', (v) => new gg.nn.GroupNorm(v, 2)],
  ['GroupNorm', 'eps', (v) => new gg.nn.GroupNorm(1, 2, { eps: v })],
  ['Conv2d', 'in_channels', (v) => new gg.nn.Conv2d(v, 1, 3)],
  ['Conv2d', 'out_channels', (v) => new gg.nn.Conv2d(1, v, 3)],
  ['Conv2d', 'kernel_size', (v) => new gg.nn.Conv2d(1, 1, v)],
  ['Conv2d', 'stride', (v) => new gg.nn.Conv2d(1, 1, 3, { stride: v })],
  ['Conv2d', 'groups', (v) => new gg.nn.Conv2d(1, 1, 3, { groups: v })],
  // init, optimisers, spectral norm
  ['uniform_', 'a', (v) => gg.nn.init.uniform_(x(), v)],
  ['normal_', 'std', (v) => gg.nn.init.normal_(x(), 0, v)],
  ['constant_', 'val', (v) => gg.nn.init.constant_(x(), v)],
  ['xavier_uniform_', 'gain', (v) => gg.nn.init.xavierUniform_(x(), v)],
  ['SGD', 'lr', (v) => new gg.optim.SGD([gg.ones([1], { requiresGrad: true })], { lr: v })],
  ['SGD', 'momentum', (v) => new gg.optim.SGD([gg.ones([1], { requiresGrad: true })], { lr: 0.1, momentum: v })],
  ['Adam', 'lr', (v) => new gg.optim.Adam([gg.ones([1], { requiresGrad: true })], { lr: v })],
  ['Adam', 'eps', (v) => new gg.optim.Adam([gg.ones([1], { requiresGrad: true })], { eps: v })],
  ['spectral_norm', 'n_power_iterations', (v) => gg.nn.utils.parametrizations.spectralNorm(new gg.nn.Linear(2, 2), { nPowerIterations: v })],
  ['spectral_norm', 'eps', (v) => gg.nn.utils.parametrizations.spectralNorm(new gg.nn.Linear(2, 2), { eps: v })],
];

describe('safety: injection fuzz over every public number-taking function', () => {
  beforeEach(() => delete g.__gpugradCanary);

  for (const [name, arg, call] of cases) {
    it(`${name}(): argument '${arg}'`, () => {
      expectEachRefused(call, bad, `'${arg}'`, /^internal:/);
    });
  }

  it('a code string as a fill value never runs (issue 9 probe: globalThis.pwned)', () => {
    expect(() => gg.full([2], 'globalThis.__gpugradCanary=7,1e0' as unknown as number)).to.throw("argument 'fill_value'");
    expect(() => gg.ones([2]).pad([1], [1], 'globalThis.__gpugradCanary=7,1e0' as unknown as number)).to.throw("argument 'value'");
    expect(g.__gpugradCanary).to.equal(undefined);
  });
});
