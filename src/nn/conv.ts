/**
 * Convolution and pooling, the public names. The implementation is split
 * under ./conv/: functional.ts (conv1d ... avgPool3d, and the argument
 * checks the modules share), conv.ts (Conv*, ConvTranspose* and their lazy
 * forms), pool.ts (MaxPool*, AvgPool*).
 */
export {
  conv1d, conv2d, conv3d, convTranspose1d, convTranspose2d, convTranspose3d,
  maxPool1d, maxPool2d, maxPool3d, maxPool1dWithIndices, maxPool2dWithIndices, maxPool3dWithIndices, avgPool1d, avgPool2d, avgPool3d,
  type IntOrList, type Rank, type ConvOptions, type ConvTransposeOptions, type MaxPoolOptions, type AvgPoolOptions,
} from './conv/functional.js';
export {
  ConvNd, Conv1d, Conv2d, Conv3d, ConvTranspose1d, ConvTranspose2d, ConvTranspose3d,
  LazyConv1d, LazyConv2d, LazyConv3d, LazyConvTranspose1d, LazyConvTranspose2d, LazyConvTranspose3d,
  type ConvModuleOptions, type ConvTransposeModuleOptions,
} from './conv/conv.js';
export {
  MaxPool1d, MaxPool2d, MaxPool3d, AvgPool1d, AvgPool2d, AvgPool3d, type MaxPoolModuleOptions, type AvgPoolModuleOptions,
} from './conv/pool.js';
