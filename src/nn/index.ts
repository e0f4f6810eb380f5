/** `gg.nn`: modules, layers, losses, parametrizations. Each section is owned by one file. */
export { Module, parameter, isParameter, integerTensors, isNormLayer, type NormLayer, type FactoryOptions, type LoadResult, type StateDictMetadata, type StateDictModuleMetadata, type ForwardHook, type ForwardPreHook, type BackwardHook } from './module.js';
// ---- layers (layers.ts, loss.ts, init.ts) ----
export {
  Linear, LazyLinear, Identity, ReLU, LeakyReLU, Sigmoid, Tanh, Softmax, LogSoftmax, Dropout, Flatten, Sequential, ModuleList, type LinearOptions,
} from './layers.js';
// ---- lazy modules (lazy.ts) ----
export {
  onMaterialize, notifyMaterialized, lazyMaterializeHooks, isLazyModule, type MaterializeHook, type LazyModule, type LazyModuleMixin,
} from './lazy.js';
export {
  Loss, MSELoss, CrossEntropyLoss, NLLLoss, BCEWithLogitsLoss,
  type Reduction, type NllOptions, type CrossEntropyOptions, type BceWithLogitsOptions,
} from './loss.js';
export * as init from './init.js';
// ---- convolution and pooling (conv.ts) ----
export {
  Conv1d, Conv2d, Conv3d, ConvTranspose1d, ConvTranspose2d, ConvTranspose3d, ConvNd,
  LazyConv1d, LazyConv2d, LazyConv3d, LazyConvTranspose1d, LazyConvTranspose2d, LazyConvTranspose3d,
  MaxPool1d, MaxPool2d, MaxPool3d, AvgPool1d, AvgPool2d, AvgPool3d,
  type ConvModuleOptions, type ConvTransposeModuleOptions, type MaxPoolModuleOptions, type AvgPoolModuleOptions, type IntOrList, type Rank,
} from './conv.js';
// ---- normalization (normalization.ts) ----
export {
  BatchNorm1d, BatchNorm2d, BatchNorm3d, InstanceNorm1d, InstanceNorm2d, InstanceNorm3d, LayerNorm, GroupNorm,
  SwitchableNorm2d, SwitchNorm2d, type BatchNormOptions, type LayerNormOptions, type GroupNormOptions, type SwitchNorm2dOptions,
} from './normalization.js';
// ---- functional namespace (functional.ts re-exports every functional form) ----
export * as functional from './functional.js';
// ---- utils: parametrize, spectral norm (utils/) ----
export * as utils from './utils/index.js';

// ---- layers whose forward keeps nothing (Sequential frees what passes between them; module.ts) ----
import { keepsNothing } from './module.js';
import * as L from './layers.js';
import * as Cv from './conv.js';
import * as N from './normalization.js';
for (const c of [
  L.Linear, L.ReLU, L.LeakyReLU, L.Sigmoid, L.Tanh, L.Softmax, L.LogSoftmax, L.Dropout, L.Flatten,
  Cv.Conv1d, Cv.Conv2d, Cv.Conv3d, Cv.ConvTranspose1d, Cv.ConvTranspose2d, Cv.ConvTranspose3d,
  Cv.MaxPool1d, Cv.MaxPool2d, Cv.MaxPool3d, Cv.AvgPool1d, Cv.AvgPool2d, Cv.AvgPool3d,
  N.BatchNorm1d, N.BatchNorm2d, N.BatchNorm3d, N.InstanceNorm1d, N.InstanceNorm2d, N.InstanceNorm3d, N.LayerNorm, N.GroupNorm,
  N.SwitchableNorm2d, N.SwitchNorm2d,
]) {
  keepsNothing.add(c.prototype);
}
