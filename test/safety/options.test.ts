/**
 * Option arguments at the door (issue 9, docs/notes/validation.md §1): every
 * option of every nn functional form, module constructor, optimiser, loss,
 * pooling and utility gets values of the wrong kind. Each call must throw
 * before anything runs, with PyTorch's wording and the argument's name
 * (`cross_entropy(): argument 'ignore_index' must be int, not float`,
 * `bogus is not a valid value for reduction`), and no user code may run.
 */
import { expect } from 'chai';
import * as gg from '../../src/index.js';
import { x, t3, logits, img, p, opt, expectEachRefused } from '../helpers/option-inputs.js';

const g = globalThis as { __gpugradCanary?: unknown };
const canary = (): unknown => (g.__gpugradCanary = true);
const F = gg.nn.functional;

/** Values that are no JS number, for number and int options. */
const notNumbers: [string, unknown][] = [
  ['code string', 'globalThis.__gpugradCanary=1,1'],
  ['numeric string', '2'],
  ['valueOf object', { valueOf: () => (canary(), 2) }],
  ['toString object', { toString: () => (canary(), '2') }],
  ['bigint', 2n],
  ['boolean', true],
  ['array holding an object', [{ valueOf: () => (canary(), 2) }]],
];
const kinds = {
  number: notNumbers,
  int: [...notNumbers, ['fraction', 1.5], ['NaN', NaN]] as [string, unknown][],
  bool: [
    ['number', 1],
    ['string', 'true'],
    ['valueOf object', { valueOf: () => (canary(), true) }],
  ] as [string, unknown][],
  tensor: [
    ['array', [1, 2]],
    ['number', 2],
    ['valueOf object', { valueOf: () => (canary(), 2) }],
  ] as [string, unknown][],
  reduction: [
    ['unknown string', 'bogus'],
    ['number', 1],
    ['toString object', { toString: () => (canary(), 'mean') }],
  ] as [string, unknown][],
  string: [
    ['number', 1],
    ['toString object', { toString: () => (canary(), 'x') }],
  ] as [string, unknown][],
};
type Kind = keyof typeof kinds;
type Case = [name: string, arg: string, kind: Kind, call: (v: never) => unknown];


const cases: Case[] = [
  // losses: functional forms
  ['mse_loss', 'reduction', 'reduction', (v) => F.mseLoss(x(), x(), { reduction: v })],
  ['cross_entropy', 'reduction', 'reduction', (v) => F.crossEntropy(logits(), t3(), { reduction: v })],
  ['cross_entropy', 'ignore_index', 'int', (v) => F.crossEntropy(logits(), t3(), { ignoreIndex: v })],
  ['cross_entropy', 'label_smoothing', 'number', (v) => F.crossEntropy(logits(), t3(), { labelSmoothing: v })],
  ['cross_entropy', 'weight', 'tensor', (v) => F.crossEntropy(logits(), t3(), { weight: v })],
  ['nll_loss', 'reduction', 'reduction', (v) => F.nllLoss(logits(), t3(), { reduction: v })],
  ['nll_loss', 'ignore_index', 'int', (v) => F.nllLoss(logits(), t3(), { ignoreIndex: v })],
  ['nll_loss', 'weight', 'tensor', (v) => F.nllLoss(logits(), t3(), { weight: v })],
  ['binary_cross_entropy_with_logits', 'reduction', 'reduction', (v) => F.binaryCrossEntropyWithLogits(x(), x(), { reduction: v })],
  ['binary_cross_entropy_with_logits', 'weight', 'tensor', (v) => F.binaryCrossEntropyWithLogits(x(), x(), { weight: v })],
  ['binary_cross_entropy_with_logits', 'pos_weight', 'tensor', (v) => F.binaryCrossEntropyWithLogits(x(), x(), { posWeight: v })],
  // losses: modules
  ['MSELoss', 'reduction', 'reduction', (v) => new gg.nn.MSELoss({ reduction: v })],
  ['CrossEntropyLoss', 'reduction', 'reduction', (v) => new gg.nn.CrossEntropyLoss({ reduction: v })],
  ['CrossEntropyLoss', 'ignore_index', 'int', (v) => new gg.nn.CrossEntropyLoss({ ignoreIndex: v })],
  ['CrossEntropyLoss', 'label_smoothing', 'number', (v) => new gg.nn.CrossEntropyLoss({ labelSmoothing: v })],
  ['CrossEntropyLoss', 'weight', 'tensor', (v) => new gg.nn.CrossEntropyLoss({ weight: v })],
  ['NLLLoss', 'reduction', 'reduction', (v) => new gg.nn.NLLLoss({ reduction: v })],
  ['NLLLoss', 'ignore_index', 'int', (v) => new gg.nn.NLLLoss({ ignoreIndex: v })],
  ['NLLLoss', 'weight', 'tensor', (v) => new gg.nn.NLLLoss({ weight: v })],
  ['BCEWithLogitsLoss', 'reduction', 'reduction', (v) => new gg.nn.BCEWithLogitsLoss({ reduction: v })],
  ['BCEWithLogitsLoss', 'weight', 'tensor', (v) => new gg.nn.BCEWithLogitsLoss({ weight: v })],
  ['BCEWithLogitsLoss', 'pos_weight', 'tensor', (v) => new gg.nn.BCEWithLogitsLoss({ posWeight: v })],
  // pooling: functional forms
  ...(['maxPool1d', 'maxPool2d', 'maxPool3d'] as const).flatMap((fn): Case[] => {
    const r = Number(fn.slice(-2, -1));
    const input = (): gg.Tensor => gg.ones([1, 1, ...Array.from({ length: r }, () => 4)]);
    const name = `max_pool${r}d`;
    return [
      [name, 'kernel_size', 'int', (v) => F[fn](input(), v)],
      [name, 'stride', 'int', (v) => F[fn](input(), 2, { stride: v })],
      [name, 'padding', 'int', (v) => F[fn](input(), 2, { padding: v })],
      [name, 'dilation', 'int', (v) => F[fn](input(), 2, { dilation: v })],
      [name, 'ceil_mode', 'bool', (v) => F[fn](input(), 2, { ceilMode: v })],
    ];
  }),
  ...(['avgPool1d', 'avgPool2d', 'avgPool3d'] as const).flatMap((fn): Case[] => {
    const r = Number(fn.slice(-2, -1));
    const input = (): gg.Tensor => gg.ones([1, 1, ...Array.from({ length: r }, () => 4)]);
    const name = `avg_pool${r}d`;
    return [
      [name, 'kernel_size', 'int', (v) => F[fn](input(), v)],
      [name, 'stride', 'int', (v) => F[fn](input(), 2, { stride: v })],
      [name, 'padding', 'int', (v) => F[fn](input(), 2, { padding: v })],
      [name, 'ceil_mode', 'bool', (v) => F[fn](input(), 2, { ceilMode: v })],
      [name, 'count_include_pad', 'bool', (v) => F[fn](input(), 2, { countIncludePad: v })],
      [name, 'divisor_override', 'int', (v) => F[fn](input(), 2, { divisorOverride: v })],
    ];
  }),
  // pooling: modules (checked at construction)
  ['MaxPool2d', 'kernel_size', 'int', (v) => new gg.nn.MaxPool2d(v)],
  ['MaxPool2d', 'stride', 'int', (v) => new gg.nn.MaxPool2d(2, { stride: v })],
  ['MaxPool2d', 'padding', 'int', (v) => new gg.nn.MaxPool2d(2, { padding: v })],
  ['MaxPool2d', 'dilation', 'int', (v) => new gg.nn.MaxPool2d(2, { dilation: v })],
  ['MaxPool2d', 'ceil_mode', 'bool', (v) => new gg.nn.MaxPool2d(2, { ceilMode: v })],
  ['MaxPool1d', 'kernel_size', 'int', (v) => new gg.nn.MaxPool1d(v)],
  ['MaxPool3d', 'kernel_size', 'int', (v) => new gg.nn.MaxPool3d(v)],
  ['AvgPool2d', 'kernel_size', 'int', (v) => new gg.nn.AvgPool2d(v)],
  ['AvgPool2d', 'stride', 'int', (v) => new gg.nn.AvgPool2d(2, { stride: v })],
  ['AvgPool2d', 'padding', 'int', (v) => new gg.nn.AvgPool2d(2, { padding: v })],
  ['AvgPool2d', 'ceil_mode', 'bool', (v) => new gg.nn.AvgPool2d(2, { ceilMode: v })],
  ['AvgPool2d', 'count_include_pad', 'bool', (v) => new gg.nn.AvgPool2d(2, { countIncludePad: v })],
  ['AvgPool2d', 'divisor_override', 'int', (v) => new gg.nn.AvgPool2d(2, { divisorOverride: v })],
  ['AvgPool1d', 'kernel_size', 'int', (v) => new gg.nn.AvgPool1d(v)],
  ['AvgPool3d', 'kernel_size', 'int', (v) => new gg.nn.AvgPool3d(v)],
  // convolution
  ['conv2d', 'stride', 'int', (v) => F.conv2d(img(), gg.ones([1, 2, 3, 3]), null, { stride: v })],
  ['conv2d', 'padding', 'int', (v) => F.conv2d(img(), gg.ones([1, 2, 3, 3]), null, { padding: v })],
  ['conv2d', 'dilation', 'int', (v) => F.conv2d(img(), gg.ones([1, 2, 3, 3]), null, { dilation: v })],
  ['conv2d', 'groups', 'int', (v) => F.conv2d(img(), gg.ones([1, 2, 3, 3]), null, { groups: v })],
  ['conv2d', 'bias', 'tensor', (v) => F.conv2d(img(), gg.ones([1, 2, 3, 3]), v)],
  ['conv1d', 'stride', 'int', (v) => F.conv1d(gg.ones([1, 2, 5]), gg.ones([1, 2, 3]), null, { stride: v })],
  ['conv3d', 'stride', 'int', (v) => F.conv3d(gg.ones([1, 2, 4, 4, 4]), gg.ones([1, 2, 3, 3, 3]), null, { stride: v })],
  ['conv_transpose2d', 'output_padding', 'int', (v) => F.convTranspose2d(img(), gg.ones([2, 1, 3, 3]), null, { stride: 2, outputPadding: v })],
  ['conv_transpose2d', 'stride', 'int', (v) => F.convTranspose2d(img(), gg.ones([2, 1, 3, 3]), null, { stride: v })],
  ['conv_transpose2d', 'groups', 'int', (v) => F.convTranspose2d(img(), gg.ones([2, 1, 3, 3]), null, { groups: v })],
  ['Conv2d', 'padding', 'int', (v) => new gg.nn.Conv2d(2, 1, 3, { padding: v })],
  ['Conv2d', 'dilation', 'int', (v) => new gg.nn.Conv2d(2, 1, 3, { dilation: v })],
  ['Conv2d', 'bias', 'bool', (v) => new gg.nn.Conv2d(2, 1, 3, { bias: v })],
  ['Conv2d', 'padding_mode', 'string', (v) => new gg.nn.Conv2d(2, 1, 3, { paddingMode: v })],
  ['Conv1d', 'kernel_size', 'int', (v) => new gg.nn.Conv1d(2, 1, v)],
  ['Conv3d', 'kernel_size', 'int', (v) => new gg.nn.Conv3d(2, 1, v)],
  ['ConvTranspose2d', 'output_padding', 'int', (v) => new gg.nn.ConvTranspose2d(2, 1, 3, { stride: 2, outputPadding: v })],
  ['ConvTranspose2d', 'in_channels', 'int', (v) => new gg.nn.ConvTranspose2d(v, 1, 3)],
  ['ConvTranspose2d', 'bias', 'bool', (v) => new gg.nn.ConvTranspose2d(2, 1, 3, { bias: v })],
  // layers
  ['Linear', 'bias', 'bool', (v) => new gg.nn.Linear(2, 2, { bias: v })],
  ['linear', 'weight', 'tensor', (v) => F.linear(x(), v)],
  ['linear', 'bias', 'tensor', (v) => F.linear(x(), gg.ones([2, 3]), v)],
  ['dropout', 'training', 'bool', (v) => F.dropout(x(), 0.5, v)],
  ['Dropout', 'inplace', 'bool', (v) => new gg.nn.Dropout({ p: 0.5, inplace: v })],
  ['LeakyReLU', 'inplace', 'bool', (v) => new gg.nn.LeakyReLU({ negativeSlope: 0.1, inplace: v })],
  ['softmax', 'dim', 'int', (v) => F.softmax(x(), v)],
  ['log_softmax', 'dim', 'int', (v) => F.logSoftmax(x(), v)],
  ['LogSoftmax', 'dim', 'int', (v) => new gg.nn.LogSoftmax(v)],
  ['Flatten', 'start_dim', 'int', (v) => new gg.nn.Flatten(v)],
  ['Flatten', 'end_dim', 'int', (v) => new gg.nn.Flatten(1, v)],
  // normalisation: modules
  ['BatchNorm2d', 'affine', 'bool', (v) => new gg.nn.BatchNorm2d(2, { affine: v })],
  ['BatchNorm2d', 'track_running_stats', 'bool', (v) => new gg.nn.BatchNorm2d(2, { trackRunningStats: v })],
  ['BatchNorm1d', 'num_features', 'int', (v) => new gg.nn.BatchNorm1d(v)],
  ['BatchNorm3d', 'eps', 'number', (v) => new gg.nn.BatchNorm3d(2, { eps: v })],
  ['InstanceNorm2d', 'num_features', 'int', (v) => new gg.nn.InstanceNorm2d(v)],
  ['InstanceNorm2d', 'eps', 'number', (v) => new gg.nn.InstanceNorm2d(2, { eps: v })],
  ['InstanceNorm2d', 'momentum', 'number', (v) => new gg.nn.InstanceNorm2d(2, { momentum: v })],
  ['InstanceNorm2d', 'affine', 'bool', (v) => new gg.nn.InstanceNorm2d(2, { affine: v })],
  ['InstanceNorm2d', 'track_running_stats', 'bool', (v) => new gg.nn.InstanceNorm2d(2, { trackRunningStats: v })],
  ['LayerNorm', 'elementwise_affine', 'bool', (v) => new gg.nn.LayerNorm(2, { elementwiseAffine: v })],
  ['GroupNorm', 'num_channels', 'int', (v) => new gg.nn.GroupNorm(1, v)],
  ['GroupNorm', 'affine', 'bool', (v) => new gg.nn.GroupNorm(1, 2, { affine: v })],
  ['SwitchableNorm2d', 'num_features', 'int', (v) => new gg.nn.SwitchableNorm2d(v)],
  ['SwitchableNorm2d', 'eps', 'number', (v) => new gg.nn.SwitchableNorm2d(2, { eps: v })],
  ['SwitchableNorm2d', 'momentum', 'number', (v) => new gg.nn.SwitchableNorm2d(2, { momentum: v })],
  ['SwitchableNorm2d', 'affine', 'bool', (v) => new gg.nn.SwitchableNorm2d(2, { affine: v })],
  ['SwitchNorm2d', 'num_features', 'int', (v) => new gg.nn.SwitchNorm2d(v)],
  ['SwitchNorm2d', 'eps', 'number', (v) => new gg.nn.SwitchNorm2d(2, { eps: v })],
  ['SwitchNorm2d', 'momentum', 'number', (v) => new gg.nn.SwitchNorm2d(2, { momentum: v })],
  ['SwitchNorm2d', 'using_moving_average', 'bool', (v) => new gg.nn.SwitchNorm2d(2, { usingMovingAverage: v })],
  ['SwitchNorm2d', 'using_bn', 'bool', (v) => new gg.nn.SwitchNorm2d(2, { usingBn: v })],
  ['SwitchNorm2d', 'last_gamma', 'bool', (v) => new gg.nn.SwitchNorm2d(2, { lastGamma: v })],
  // normalisation: functional forms
  ['batch_norm', 'running_mean', 'tensor', (v) => F.batchNorm(img(), v, null, null, null, true)],
  ['batch_norm', 'weight', 'tensor', (v) => F.batchNorm(img(), null, null, v, null, true)],
  ['batch_norm', 'bias', 'tensor', (v) => F.batchNorm(img(), null, null, null, v, true)],
  ['batch_norm', 'training', 'bool', (v) => F.batchNorm(img(), gg.zeros([2]), gg.ones([2]), null, null, v)],
  ['batch_norm', 'momentum', 'number', (v) => F.batchNorm(img(), gg.zeros([2]), gg.ones([2]), null, null, true, v)],
  ['batch_norm', 'eps', 'number', (v) => F.batchNorm(img(), null, null, null, null, true, 0.1, v)],
  ['instance_norm', 'use_input_stats', 'bool', (v) => F.instanceNorm(img(), null, null, null, null, v)],
  ['instance_norm', 'momentum', 'number', (v) => F.instanceNorm(img(), null, null, null, null, true, v)],
  ['instance_norm', 'eps', 'number', (v) => F.instanceNorm(img(), null, null, null, null, true, 0.1, v)],
  ['instance_norm', 'weight', 'tensor', (v) => F.instanceNorm(img(), null, null, v)],
  ['layer_norm', 'normalized_shape', 'int', (v) => F.layerNorm(x(), [v])],
  ['layer_norm', 'eps', 'number', (v) => F.layerNorm(x(), [3], null, null, v)],
  ['layer_norm', 'weight', 'tensor', (v) => F.layerNorm(x(), [3], v)],
  ['group_norm', 'num_groups', 'int', (v) => F.groupNorm(img(), v)],
  ['group_norm', 'eps', 'number', (v) => F.groupNorm(img(), 1, null, null, v)],
  ['group_norm', 'bias', 'tensor', (v) => F.groupNorm(img(), 1, null, v)],
  // optimisers and schedulers
  ['SGD', 'dampening', 'number', (v) => new gg.optim.SGD(p(), { lr: 0.1, dampening: v })],
  ['SGD', 'weight_decay', 'number', (v) => new gg.optim.SGD(p(), { lr: 0.1, weightDecay: v })],
  ['SGD', 'nesterov', 'bool', (v) => new gg.optim.SGD(p(), { lr: 0.1, momentum: 0.9, nesterov: v })],
  ['SGD', 'maximize', 'bool', (v) => new gg.optim.SGD(p(), { lr: 0.1, maximize: v })],
  ['Adam', 'weight_decay', 'number', (v) => new gg.optim.Adam(p(), { weightDecay: v })],
  ['Adam', 'amsgrad', 'bool', (v) => new gg.optim.Adam(p(), { amsgrad: v })],
  ['Adam', 'maximize', 'bool', (v) => new gg.optim.Adam(p(), { maximize: v })],
  ['AdamW', 'lr', 'number', (v) => new gg.optim.AdamW(p(), { lr: v })],
  ['AdamW', 'weight_decay', 'number', (v) => new gg.optim.AdamW(p(), { weightDecay: v })],
  ['StepLR', 'step_size', 'int', (v) => new gg.optim.lrScheduler.StepLR(opt(), { stepSize: v })],
  ['StepLR', 'gamma', 'number', (v) => new gg.optim.lrScheduler.StepLR(opt(), { stepSize: 1, gamma: v })],
  ['ExponentialLR', 'gamma', 'number', (v) => new gg.optim.lrScheduler.ExponentialLR(opt(), { gamma: v })],
  ['CosineAnnealingLR', 'T_max', 'int', (v) => new gg.optim.lrScheduler.CosineAnnealingLR(opt(), { tMax: v })],
  ['CosineAnnealingLR', 'eta_min', 'number', (v) => new gg.optim.lrScheduler.CosineAnnealingLR(opt(), { tMax: 3, etaMin: v })],
  ['MultiStepLR', 'milestones', 'int', (v) => new gg.optim.lrScheduler.MultiStepLR(opt(), { milestones: [v] })],
  ['ReduceLROnPlateau', 'factor', 'number', (v) => new gg.optim.lrScheduler.ReduceLROnPlateau(opt(), { factor: v })],
  ['ReduceLROnPlateau', 'patience', 'int', (v) => new gg.optim.lrScheduler.ReduceLROnPlateau(opt(), { patience: v })],
  // utilities
  ['clip_grad_norm_', 'max_norm', 'number', (v) => gg.nn.utils.clipGradNorm_(p(), v)],
  ['clip_grad_norm_', 'error_if_nonfinite', 'bool', (v) => gg.nn.utils.clipGradNorm_(p(), 1, { errorIfNonfinite: v })],
  ['clip_grad_value_', 'clip_value', 'number', (v) => gg.nn.utils.clipGradValue_(p(), v)],
  ['spectral_norm', 'dim', 'int', (v) => gg.nn.utils.parametrizations.spectralNorm(new gg.nn.Linear(2, 2), { dim: v })],
  ['spectral_norm', 'name', 'string', (v) => gg.nn.utils.parametrizations.spectralNorm(new gg.nn.Linear(2, 2), { name: v })],
  ['calculate_gain', 'param', 'number', (v) => gg.nn.init.calculateGain('leaky_relu', v)],
  ['kaiming_uniform_', 'a', 'number', (v) => gg.nn.init.kaimingUniform_(x(), { a: v })],
  ['kaiming_normal_', 'a', 'number', (v) => gg.nn.init.kaimingNormal_(x(), { a: v })],
  ['xavier_normal_', 'gain', 'number', (v) => gg.nn.init.xavierNormal_(x(), v)],
  ['uniform_', 'b', 'number', (v) => gg.nn.init.uniform_(x(), 0, v)],
  ['normal_', 'mean', 'number', (v) => gg.nn.init.normal_(x(), v)],
];

describe('safety: option arguments of every nn form, module, optimiser and utility', () => {
  beforeEach(() => delete g.__gpugradCanary);

  for (const [name, arg, kind, call] of cases) {
    it(`${name}(): option '${arg}' (${kind})`, () => {
      // a failed call frees what it made (gg.tidy): the live count stays honest
      expectEachRefused(call, kinds[kind], arg, /^internal:|is not a function|Cannot read prop/);
    });
  }

  it("PyTorch's messages for the loss options", () => {
    expect(() => F.crossEntropy(logits(), t3(), { ignoreIndex: 1.5 })).to.throw(TypeError, "cross_entropy(): argument 'ignore_index' must be int, not float");
    expect(() => F.crossEntropy(logits(), t3(), { labelSmoothing: '0.1' as never })).to.throw(TypeError, "cross_entropy(): argument 'label_smoothing' must be float, not str");
    expect(() => F.crossEntropy(logits(), t3(), { weight: [1, 2, 3] as never })).to.throw(TypeError, "cross_entropy(): argument 'weight' must be Tensor, not list");
    expect(() => F.nllLoss(logits(), t3(), { reduction: 'avg' as never })).to.throw('avg is not a valid value for reduction');
    expect(() => new gg.nn.MSELoss({ reduction: 'elementwise_mean' as never })).to.throw('elementwise_mean is not a valid value for reduction');
    expect(() => F.crossEntropy(logits(), t3(), { labelSmoothing: 1.5 })).to.throw('label_smoothing must be between 0.0 and 1.0. Got: 1.5');
    expect(() => F.avgPool2d(img(), 2, { divisorOverride: 0 })).to.throw('divisor must be not zero');
    expect(() => F.maxPool2d(img(), 2, { ceilMode: 1 as never })).to.throw(TypeError, "max_pool2d(): argument 'ceil_mode' must be bool, not int");
  });

  it('options that are no options object are refused', () => {
    expect(() => F.crossEntropy(logits(), t3(), 'mean' as never)).to.throw(TypeError, "argument 'options'");
    expect(() => new gg.nn.BatchNorm2d(2, 3 as never)).to.throw(TypeError, "argument 'options'");
    expect(() => F.maxPool2d(img(), 2, 2 as never)).to.throw(TypeError, "argument 'options'");
  });
});
