/** `gg.autograd`: the engine, custom functions and gradient checks. */
export { backward, grad, type GradOptions } from './engine.js';
export { Function, FunctionCtx, type Grad } from './function.js';
export { gradcheck, gradgradcheck, GradcheckError, type GradcheckOptions, type GradgradcheckOptions, type Fn } from './gradcheck.js';
export { noGrad, enableGrad, isGradEnabled, setDetectAnomaly, isAnomalyEnabled } from './grad-mode.js';
export * as forwardAd from './forward-ad.js';
export * as functional from './functional.js';
export * as graph from './graph-view.js';
export { trace, formatTrace, type Trace, type TraceStep } from './trace.js';
export { detectAnomaly } from './anomaly.js';
