/** `gg.nn`: modules, layers, losses, parametrizations. Each section is owned by one file. */
export { Module, parameter, integerTensors, type FactoryOptions, type LoadResult, type ForwardHook, type ForwardPreHook, type BackwardHook } from './module.js';
// ---- layers (layers.ts, loss.ts, init.ts) ----
// ---- convolution and pooling (conv.ts) ----
// ---- normalization (normalization.ts) ----
// ---- functional namespace (functional.ts re-exports every functional form) ----
// ---- utils: parametrize, spectral norm (utils/) ----
export * as utils from './utils/index.js';
