/**
 * `gg.nn.utils`: parametrizations (`parametrize`), spectral normalisation
 * (`parametrizations.spectralNorm`, `removeSpectralNorm`, `applySpectralNorm`),
 * gradient clipping (`clipGradNorm_`, `clipGradValue_`).
 */
import { SpectralNorm, spectralNorm } from './spectral.js';

export * as parametrize from './parametrize.js';
/** `gg.nn.utils.parametrizations`: ready-made parametrizations (PyTorch's `torch.nn.utils.parametrizations`). */
export const parametrizations = { spectralNorm, SpectralNorm } as const;
export { spectralNorm, removeSpectralNorm, applySpectralNorm, SpectralNorm } from './spectral.js';
export type { SpectralNormOptions, ApplySpectralNormOptions, ModuleClass } from './spectral.js';
export type { Parametrization, RegisterOptions, RemoveOptions } from './parametrize.js';
export { clipGradNorm_, clipGradValue_, type ClipGradNormOptions, type ClipParams } from './clip-grad.js';
