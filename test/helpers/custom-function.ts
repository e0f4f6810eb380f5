/**
 * Custom autograd Functions from plain functions, for tests that need a
 * backward (or jvp) that is wrong, noisy or counted: each test then states
 * only what differs. The result is a real `gg.autograd.Function` subclass,
 * so the custom-Function machinery is what runs.
 */
import * as gg from '../../src/index.js';

/** What `customFunction` builds a Function from. */
export interface CustomFunctionSpec {
  /** The output from the inputs. */
  forward: (a: gg.Tensor, ...more: gg.Tensor[]) => gg.Tensor;
  /** The inputs' gradients from the output's, then the saved inputs (with `saves`). */
  backward: (g: gg.Tensor, ...saved: gg.Tensor[]) => gg.autograd.Grad | gg.autograd.Grad[];
  /** Forward mode: the output's tangent from the inputs' tangents, then the saved inputs. None: the Function has no jvp. */
  jvp?: (...tangentsThenSaved: gg.Tensor[]) => gg.Tensor;
  /** Save the inputs for backward and jvp (ctx.saveForBackward). */
  saves?: boolean;
}

/**
 * A `gg.autograd.Function` of one output whose `forward`, `backward` and
 * (when given) `jvp` are `spec`'s, called anew on every call (so a backward
 * may count its calls or drift). Subclass the result to name it, as the
 * name shows in the graph: `class Wrong extends customFunction({ ... }) {}`.
 */
export function customFunction(spec: CustomFunctionSpec) {
  const saved = (ctx: gg.autograd.FunctionCtx): gg.Tensor[] => (spec.saves ? ctx.savedTensors : []);
  class Custom extends gg.autograd.Function {
    static override forward(ctx: gg.autograd.FunctionCtx, a: gg.Tensor, ...more: gg.Tensor[]): gg.Tensor {
      if (spec.saves) ctx.saveForBackward(a, ...more);
      return spec.forward(a, ...more);
    }
    static override backward(ctx: gg.autograd.FunctionCtx, g: gg.Tensor): gg.autograd.Grad | gg.autograd.Grad[] {
      return spec.backward(g, ...saved(ctx));
    }
  }
  const jvp = spec.jvp;
  if (jvp) Custom.jvp = (ctx, ...tangents) => jvp(...(tangents as gg.Tensor[]), ...saved(ctx));
  return Custom;
}
