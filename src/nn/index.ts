/** `gg.nn`: modules, layers, losses, parametrizations. Each section is owned by one file. */
export { Module, parameter, integerTensors, type FactoryOptions, type LoadResult, type ForwardHook, type ForwardPreHook, type BackwardHook } from './module.js';
// ---- layers (layers.ts, loss.ts, init.ts) ----
export {
  Linear, LazyLinear, Identity, ReLU, LeakyReLU, Sigmoid, Tanh, Softmax, LogSoftmax, Dropout, Flatten, Sequential, ModuleList,
  onMaterialize, notifyMaterialized, lazyMaterializeHooks, isLazyModule, type LinearOptions, type MaterializeHook, type LazyModule,
} from './layers.js';
export {
  Loss, MSELoss, CrossEntropyLoss, NLLLoss, BCEWithLogitsLoss,
  type Reduction, type NllOptions, type CrossEntropyOptions, type BceWithLogitsOptions,
} from './loss.js';
export * as init from './init.js';
// ---- convolution and pooling (conv.ts) ----
// ---- normalization (normalization.ts) ----
// ---- functional namespace (functional.ts re-exports every functional form) ----
export * as functional from './functional.js';
// ---- utils: parametrize, spectral norm (utils/) ----
export * as utils from './utils/index.js';
