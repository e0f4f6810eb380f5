/**
 * Normalisation layers and their functional forms. The implementation is
 * split under ./norm/: functional.ts (the composites), batchnorm.ts
 * (BatchNorm*, InstanceNorm*), layernorm.ts (LayerNorm, GroupNorm),
 * switchable.ts (SwitchableNorm2d, SwitchNorm2d).
 */
export { batchNorm, instanceNorm, layerNorm, groupNorm, moments, type Moments } from './norm/functional.js';
export {
  NormBase, BatchNormBase, BatchNorm1d, BatchNorm2d, BatchNorm3d,
  InstanceNormBase, InstanceNorm1d, InstanceNorm2d, InstanceNorm3d, type BatchNormOptions,
} from './norm/batchnorm.js';
export { LayerNorm, GroupNorm, type LayerNormOptions, type GroupNormOptions } from './norm/layernorm.js';
export { SwitchableNorm2d, SwitchNorm2d, type SwitchNorm2dOptions } from './norm/switchable.js';
