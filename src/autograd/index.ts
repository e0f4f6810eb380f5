/** `gg.autograd`: the engine, custom functions and gradient checks. */
export { backward, grad, type GradOptions } from './engine.js';
export { Function, FunctionCtx } from './function.js';
export { gradcheck, gradgradcheck, type GradcheckOptions, type GradgradcheckOptions } from './gradcheck.js';
export { noGrad, enableGrad, isGradEnabled } from './grad-mode.js';
export * as forwardAd from './forward-ad.js';
export * as functional from './functional.js';
