/**
 * `gg.nn.functional`: the functional forms of the layers and losses
 * (PyTorch's `torch.nn.functional`, in TypeScript casing). This file only
 * re-exports; each form lives next to its module.
 */
export { linear, relu, leakyRelu, sigmoid, tanh, softmax, logSoftmax, dropout } from './layers.js';
export {
  mseLoss, crossEntropy, nllLoss, binaryCrossEntropyWithLogits,
  type Reduction, type NllOptions, type CrossEntropyOptions, type BceWithLogitsOptions,
} from './loss.js';
// ---- convolution and pooling (conv.ts) ----
export {
  conv1d, conv2d, conv3d, convTranspose1d, convTranspose2d, convTranspose3d,
  maxPool1d, maxPool2d, maxPool3d, maxPool1dWithIndices, maxPool2dWithIndices, maxPool3dWithIndices, avgPool1d, avgPool2d, avgPool3d,
  type ConvOptions, type ConvTransposeOptions, type MaxPoolOptions, type AvgPoolOptions,
} from './conv.js';
// ---- normalization (normalization.ts) ----
export { batchNorm, instanceNorm, layerNorm, groupNorm } from './normalization.js';
