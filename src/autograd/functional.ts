/**
 * `gg.autograd.functional`: jacobian, hessian, vjp, jvp, hvp and vhp with
 * PyTorch 1.13's semantics (`torch.autograd.functional`), in TypeScript casing.
 *
 * `fn` is called with the inputs spread (`fn(...inputs)`); `inputs` is a
 * Tensor or an array of Tensors, and results mirror it (and mirror `fn`'s
 * output: a Tensor or an array). The steps follow PyTorch's: inputs are
 * re-made as fresh tensors that require grad, the products come from the
 * engine (reverse mode) or from dual tensors (forward mode, `jvp` and
 * `jacobian(..., { strategy: 'forward-mode' })`), and results are detached
 * unless `createGraph`. See docs/notes/forward-mode.md.
 */
import { apply, Tensor } from '../tensor/tensor.js';
import { hostArray } from '../backend/types.js';
import { onesLike, zeros, zerosLike } from '../tensor/creation.js';
import { stack } from '../tensor/composites.js';
import { enableGrad, isGradEnabled, withGradMode } from './grad-mode.js';
import { grad } from './engine.js';
import { dualLevel, makeDual, unpackDual } from './forward-ad.js';

/** A function of tensors returning a Tensor or an array of Tensors. */
export type TensorFn<O extends Tensor | Tensor[] = Tensor | Tensor[]> = (...inputs: Tensor[]) => O;
/** Inputs: one Tensor, or an array of them (PyTorch's tuple). */
export type Inputs = Tensor | readonly Tensor[];
/** A result shaped like `I`: a Tensor for a Tensor, an array for an array. */
export type Mirror<I> = I extends Tensor ? Tensor : Tensor[];
/** A Jacobian for outputs `O` and inputs `I` (PyTorch's nesting: `J[i][j]` is d output i / d input j). */
export type JacobianOf<O, I> = O extends Tensor ? Mirror<I> : I extends Tensor ? Tensor[] : Tensor[][];
/** A Hessian for inputs `I`: `H[i][j]` is d² f / d input i d input j. */
export type HessianOf<I> = I extends Tensor ? Tensor : Tensor[][];

/** Options shared by the transforms. */
export interface FunctionalOptions {
  /** Compute the results in a differentiable way (they keep a graph to the inputs). Default false. */
  createGraph?: boolean;
  /** Throw, with PyTorch's message, when an output is independent of an input instead of returning zeros. Default false. */
  strict?: boolean;
}

/** Options of `jacobian`. */
export interface JacobianOptions extends FunctionalOptions {
  /** Accepted for PyTorch compatibility; gpugrad computes the same result either way. */
  vectorize?: boolean;
  /** 'reverse-mode' (a backward per output element, the default) or 'forward-mode' (a dual pass per input element). */
  strategy?: 'reverse-mode' | 'forward-mode';
}

/** Options of `hessian`. */
export interface HessianOptions extends FunctionalOptions {
  /** Accepted for PyTorch compatibility; gpugrad computes the same result either way. */
  vectorize?: boolean;
  /** Only 'reverse-mode': saved tensors carry no tangents, so forward-over-reverse is not available. */
  outerJacobianStrategy?: 'reverse-mode';
}

type Stage = 'back' | 'back_trick' | 'double_back' | 'double_back_trick';
type CheckKind = 'outputs' | 'grad_inputs' | 'jacobian' | 'hessian';

const typeName = (v: unknown): string => (v === null ? 'null' : Array.isArray(v) ? 'Array' : typeof v === 'object' ? ((v as object).constructor?.name ?? 'object') : typeof v);

/** PyTorch's `_as_tuple`: whether `x` was an array, and its tensors. */
function asTuple(x: unknown, argName: string, fnName: string): [boolean, Tensor[]] {
  const isTuple = Array.isArray(x);
  const list: unknown[] = isTuple ? [...(x as unknown[])] : [x];
  list.forEach((el, i) => {
    if (!(el instanceof Tensor)) {
      throw new TypeError(
        isTuple
          ? `The ${argName} given to ${fnName} must be either a Tensor or a tuple of Tensors but the value at index ${i} has type ${typeName(el)}.`
          : `The ${argName} given to ${fnName} must be either a Tensor or a tuple of Tensors but the given ${argName} has type ${typeName(el)}.`,
      );
    }
  });
  return [isTuple, list as Tensor[]];
}

/**
 * PyTorch's `_grad_preprocess`: a new tensor object per input, connected to
 * the caller's input when `createGraph` (so results can be differentiated
 * further), else detached and requiring grad when `needGraph`.
 * NOTE: always a new object, so inputs that `fn` also captures by closure are
 * told apart from the ones passed in (PyTorch issue 32576).
 */
function gradPreprocess(inputs: readonly Tensor[], createGraph: boolean, needGraph: boolean): Tensor[] {
  return inputs.map((x) => (createGraph && x.requiresGrad ? apply('expand', [x], { shape: [...x.shape] }) : x.detach().requiresGrad_(needGraph)));
}

function gradPostprocess(xs: readonly Tensor[], createGraph: boolean): Tensor[] {
  return createGraph ? [...xs] : xs.map((x) => x.detach());
}

/** `torch.Size([2, 3])`, as PyTorch prints shapes in these messages. */
const torchSize = (shape: readonly number[]): string => `torch.Size([${shape.join(', ')}])`;

function validateV(v: readonly Tensor[], other: readonly Tensor[], isOtherTuple: boolean): void {
  if (v.length !== other.length) {
    if (isOtherTuple) throw new Error(`v is a tuple of invalid length: should be ${other.length} but got ${v.length}.`);
    throw new Error('The given v should contain a single Tensor.');
  }
  v.forEach((ev, i) => {
    const eo = other[i] as Tensor;
    if (ev.shape.join() !== eo.shape.join() || ev.ndim !== eo.ndim) {
      throw new Error(`${isOtherTuple ? `Entry ${i} in ` : ''}v has invalid size: should be ${torchSize(eo.shape)} but got ${torchSize(ev.shape)}.`);
    }
  });
}

function checkRequiresGrad(xs: readonly (Tensor | null)[], kind: CheckKind, strict: boolean): void {
  if (!strict) return;
  xs.forEach((x, i) => {
    if (x === null) throw new Error(`The output of the user-provided function is independent of input ${i}. This is not allowed in strict mode.`);
    if (x.requiresGrad) return;
    if (kind === 'hessian') {
      throw new Error(
        `The hessian of the user-provided function with respect to input ${i} is independent of the input. This is not allowed in strict mode. You should ensure that your function is thrice differentiable and that the hessian depends on the inputs.`,
      );
    }
    if (kind === 'jacobian') {
      throw new Error(
        `While computing the hessian, found that the jacobian of the user-provided function with respect to input ${i} is independent of the input. This is not allowed in strict mode. You should ensure that your function is twice differentiable and that the jacobian depends on the inputs (this would be violated by a linear function for example).`,
      );
    }
    if (kind === 'grad_inputs') {
      throw new Error(`The gradient with respect to input ${i} is independent of the inputs of the user-provided function. This is not allowed in strict mode.`);
    }
    throw new Error(
      `Output ${i} of the user-provided function does not require gradients. The outputs must be computed in a differentiable manner from the input when running in strict mode.`,
    );
  });
}

/** PyTorch's `_autograd_grad`: outputs that are null or need no grad are skipped; unused inputs give null. */
function autogradGrad(
  outputs: readonly (Tensor | null)[],
  inputs: readonly Tensor[],
  gradOutputs: readonly (Tensor | null)[] | null,
  createGraph: boolean,
  retainGraph = createGraph,
): (Tensor | null)[] {
  const outs: Tensor[] = [];
  const gos: (Tensor | null)[] = [];
  outputs.forEach((o, i) => {
    if (o && o.requiresGrad) {
      outs.push(o);
      gos.push(gradOutputs?.[i] ?? null);
    }
  });
  if (outs.length === 0) return inputs.map(() => null);
  return grad(outs, [...inputs], { gradOutputs: gos, allowUnused: true, createGraph, retainGraph });
}

/** PyTorch's `_fill_in_zeros`: a missing gradient becomes zeros, or PyTorch's error in strict mode. */
function fillInZeros(grads: readonly (Tensor | null)[], refs: readonly Tensor[], strict: boolean, createGraph: boolean, stage: Stage): Tensor[] {
  return grads.map((g, i) => {
    if (g === null) {
      if (strict) {
        if (stage === 'back') throw new Error(`The output of the user-provided function is independent of input ${i}. This is not allowed in strict mode.`);
        if (stage === 'back_trick') {
          throw new Error(
            `The gradient with respect to the input is independent of entry ${i} in the grad_outputs when using the double backward trick to compute forward mode gradients. This is not allowed in strict mode.`,
          );
        }
        if (stage === 'double_back') throw new Error(`The jacobian of the user-provided function is independent of input ${i}. This is not allowed in strict mode.`);
        throw new Error(
          `The hessian of the user-provided function is independent of entry ${i} in the grad_jacobian. This is not allowed in strict mode as it prevents from using the double backward trick to replace forward mode AD.`,
        );
      }
      return zerosLike(refs[i] as Tensor);
    }
    if (strict && createGraph && !g.requiresGrad) {
      if (!stage.includes('double')) {
        throw new Error(`The jacobian of the user-provided function is independent of input ${i}. This is not allowed in strict mode when create_graph=True.`);
      }
      throw new Error(`The hessian of the user-provided function is independent of input ${i}. This is not allowed in strict mode when create_graph=True.`);
    }
    return g;
  });
}

/** Undo `asTuple`: the first element when the original was not an array. */
function untuple<T>(xs: T[], wasTuple: boolean): T | T[] {
  return wasTuple ? xs : (xs[0] as T);
}

/** `v`, checked against `refs` (or ones when omitted and allowed). */
function vectorFor(v: Inputs | null | undefined, refs: Tensor[], isRefsTuple: boolean, fnName: string, createGraph: boolean, noneMessage: string): Tensor[] | null {
  if (v === undefined || v === null) {
    if (refs.length !== 1 || (refs[0] as Tensor).numel() !== 1) throw new Error(noneMessage);
    return null;
  }
  const [, vs] = asTuple(v, 'v', fnName);
  const pre = gradPreprocess(vs, createGraph, false);
  validateV(pre, refs, isRefsTuple);
  return pre;
}

const INPUT_NONE = 'The vector v can only be None if the input to the user-provided function is a single Tensor with a single element.';

/**
 * The vector-Jacobian product vᵀ·J of `fn` at `inputs` (PyTorch's
 * `torch.autograd.functional.vjp`), by one backward pass.
 *
 * Shapes: `v` mirrors `fn`'s output (may be omitted when that is one
 * one-element Tensor: then 1); the result mirrors `inputs`. Returns
 * `[outputs, vjp]`. Dtype and device: those of the inputs.
 * @throws PyTorch's errors: inputs or outputs that are not Tensors, `v` of the wrong length or
 *   size, an omitted `v` for a larger output, and in `strict` mode outputs independent of an input.
 * @example
 * const [out, g] = gg.autograd.functional.vjp((x) => x.exp().sum(1), gg.rand([4, 4]), gg.ones([4]));
 */
export function vjp<O extends Tensor | Tensor[], I extends Inputs>(fn: TensorFn<O>, inputs: I, v?: Inputs | null, opts: FunctionalOptions = {}): [Mirror<O>, Mirror<I>] {
  const createGraph = opts.createGraph ?? false;
  const strict = opts.strict ?? false;
  const [isInputsTuple, ins0] = asTuple(inputs, 'inputs', 'vjp');
  const { ins, outs, isOutputsTuple, vs } = enableGrad(() => {
    const ins = gradPreprocess(ins0, createGraph, true);
    const [isOutputsTuple, outs] = asTuple(fn(...ins), 'outputs of the user-provided function', 'vjp');
    checkRequiresGrad(outs, 'outputs', strict);
    const vs = vectorFor(v, outs, isOutputsTuple, 'vjp', createGraph, 'The vector v can only be None if the user-provided function returns a single Tensor with a single element.');
    return { ins, outs, isOutputsTuple, vs };
  });
  const res = withGradMode(createGraph || isGradEnabled(), () => fillInZeros(autogradGrad(outs, ins, vs, createGraph), ins, strict, createGraph, 'back'));
  return [untuple(gradPostprocess(outs, createGraph), isOutputsTuple), untuple(gradPostprocess(res, createGraph), isInputsTuple)] as [Mirror<O>, Mirror<I>];
}

/**
 * The Jacobian-vector product J·v of `fn` at `inputs` (PyTorch's
 * `torch.autograd.functional.jvp`), by one forward-mode pass with dual
 * tensors (PyTorch 1.13 uses the double-backward trick; the results and
 * errors are the same).
 *
 * Shapes: `v` mirrors `inputs` (may be omitted for one one-element input:
 * then 1); the result mirrors `fn`'s output. Returns `[outputs, jvp]`.
 * @throws PyTorch's errors, as `vjp`; in `strict` mode, outputs independent of an input.
 * @example
 * const [out, t] = gg.autograd.functional.jvp((x) => x.exp().sum(1), gg.rand([4, 4]), gg.ones([4, 4]));
 */
export function jvp<O extends Tensor | Tensor[], I extends Inputs>(fn: TensorFn<O>, inputs: I, v?: Inputs | null, opts: FunctionalOptions = {}): [Mirror<O>, Mirror<O>] {
  const createGraph = opts.createGraph ?? false;
  const strict = opts.strict ?? false;
  const [isInputsTuple, ins0] = asTuple(inputs, 'inputs', 'jvp');
  return enableGrad(() => {
    // the reverse graph is only needed to tell, in strict mode, which inputs an output depends on
    const ins = gradPreprocess(ins0, createGraph, strict);
    const vs = vectorFor(v, ins, isInputsTuple, 'jvp', createGraph, INPUT_NONE) ?? ins.map((x) => onesLike(x));
    return dualLevel(() => {
      const duals = ins.map((x, i) => makeDual(x, vs[i] as Tensor));
      const [isOutputsTuple, outs] = asTuple(fn(...duals), 'outputs of the user-provided function', 'jvp');
      checkRequiresGrad(outs, 'outputs', strict);
      if (strict) {
        // PyTorch's check on the gradients of the outputs: null where an input is not used
        const gradOutputs = outs.map((o) => zerosLike(o).requiresGrad_());
        checkRequiresGrad(autogradGrad(outs, ins, gradOutputs, true), 'grad_inputs', strict);
      }
      const unpacked = outs.map((o) => unpackDual(o));
      const tangents = withGradMode(createGraph || isGradEnabled(), () =>
        fillInZeros(
          unpacked.map((u) => u.tangent),
          unpacked.map((u) => u.primal),
          strict,
          createGraph,
          'back_trick',
        ),
      );
      const primals = unpacked.map((u) => u.primal);
      return [untuple(gradPostprocess(primals, createGraph), isOutputsTuple), untuple(gradPostprocess(tangents, createGraph), isOutputsTuple)] as [Mirror<O>, Mirror<O>];
    });
  });
}

/**
 * The Jacobian of `fn` at `inputs` (PyTorch's `torch.autograd.functional.jacobian`).
 *
 * Shapes: for one output and one input, a Tensor of shape `[...out.shape,
 * ...in.shape]`; for several inputs, an array over inputs; for several
 * outputs, an array over outputs (of arrays over inputs when both are
 * several: `J[i][j]`). `strategy: 'reverse-mode'` runs a backward per output
 * element; `'forward-mode'` a dual pass per input element (PyTorch needs
 * `vectorize` for it; gpugrad does not).
 * @throws PyTorch's errors; in `strict` mode an output independent of an input; `strict` or
 *   `createGraph` with forward mode.
 * @example
 * gg.autograd.functional.jacobian((x) => x.exp().sum(1), gg.rand([2, 2])).shape // [2, 2, 2]
 */
export function jacobian<O extends Tensor | Tensor[], I extends Inputs>(fn: TensorFn<O>, inputs: I, opts: JacobianOptions = {}): JacobianOf<O, I> {
  const createGraph = opts.createGraph ?? false;
  const strict = opts.strict ?? false;
  const strategy = opts.strategy ?? 'reverse-mode';
  if (strategy !== 'forward-mode' && strategy !== 'reverse-mode') {
    throw new Error(
      'Expected strategy to be either "forward-mode" or "reverse-mode". Hint: If your function has more outputs than inputs, "forward-mode" tends to be more performant. Otherwise, prefer to use "reverse-mode".',
    );
  }
  if (strategy === 'forward-mode') {
    if (createGraph) {
      throw new Error(
        'torch.autograd.functional.jacobian: `create_graph=True` and `strategy="forward-mode"` are not supported together (yet). Please either set `create_graph=False` or `strategy="reverse-mode"`.',
      );
    }
    if (strict) {
      throw new Error(
        'torch.autograd.functional.jacobian: `strict=True` and `strategy="forward-mode"` are not supported together (yet). Please either set `strict=False` or `strategy="reverse-mode"`.',
      );
    }
    return jacobianForward(fn, inputs) as JacobianOf<O, I>;
  }
  const [isInputsTuple, ins0] = asTuple(inputs, 'inputs', 'jacobian');
  const jac = enableGrad(() => {
    const ins = gradPreprocess(ins0, createGraph, true);
    const [isOutputsTuple, outs] = asTuple(fn(...ins), 'outputs of the user-provided function', 'jacobian');
    checkRequiresGrad(outs, 'outputs', strict);
    const rows = outs.map((out, i) => {
      const perInput: Tensor[][] = ins.map(() => []);
      const flat = out.reshape(-1);
      for (let j = 0; j < out.numel(); j++) {
        const vj = autogradGrad([flat.narrow(0, j, 1)], ins, null, createGraph, true);
        vj.forEach((g, k) => {
          if (g) {
            if (strict && createGraph && !g.requiresGrad) {
              throw new Error(`The jacobian of the user-provided function is independent of input ${i}. This is not allowed in strict mode when create_graph=True.`);
            }
            (perInput[k] as Tensor[]).push(g);
          } else {
            if (strict) throw new Error(`Output ${i} of the user-provided function is independent of input ${k}. This is not allowed in strict mode.`);
            (perInput[k] as Tensor[]).push(zerosLike(ins[k] as Tensor));
          }
        });
      }
      return perInput.map((list, k) => assemble(list, 0, out.shape, ins[k] as Tensor, createGraph));
    });
    return untuple(
      rows.map((r) => untuple(r, isInputsTuple)),
      isOutputsTuple,
    );
  });
  return jac as JacobianOf<O, I>;
}

/** Stack per-element results along `dim` (0: rows per output element, -1: columns per input element) and shape them `[...outShape, ...inShape]`. */
function assemble(list: Tensor[], dim: 0 | -1, outShape: readonly number[], input: Tensor, createGraph: boolean): Tensor {
  const shape = [...outShape, ...input.shape];
  if (list.length === 0) return zeros(shape, { dtype: input.dtype, device: input.device });
  const out = stack(list, dim).reshape(shape);
  return createGraph ? out : out.detach();
}

/** The Jacobian by forward mode: a dual pass per input element (one-hot tangent). */
function jacobianForward(fn: TensorFn, inputs: Inputs): unknown {
  const [isInputsTuple, ins0] = asTuple(inputs, 'inputs', 'jacobian');
  const ins = ins0.map((x) => x.detach());
  let isOutputsTuple = false;
  let outShapes: (readonly number[])[] = [];
  // columns[j][i]: per element of input j, the tangent of output i
  const columns: Tensor[][][] = ins.map(() => []);
  ins.forEach((x, j) => {
    for (let k = 0; k < x.numel(); k++) {
      const data = hostArray(x.dtype, x.numel());
      data[k] = 1;
      const e = Tensor.fromHost(data, x.shape, x.dtype, x.device);
      dualLevel(() => {
        const args = ins.map((y, m) => (m === j ? makeDual(y, e) : y));
        const [tuple, outs] = asTuple(fn(...args), 'outputs', 'jacobian');
        isOutputsTuple = tuple;
        outShapes = outs.map((o) => o.shape);
        (columns[j] as Tensor[][]).push(
          outs.map((o) => {
            const { tangent } = unpackDual(o);
            return tangent ? tangent.detach() : zerosLike(o);
          }),
        );
      });
      e.dispose();
    }
  });
  const perOutput = outShapes.map((oshape, i) =>
    ins.map((x, j) =>
      assemble(
        (columns[j] as Tensor[][]).map((col) => col[i] as Tensor),
        -1,
        oshape,
        x,
        false,
      ),
    ),
  );
  return untuple(
    perOutput.map((r) => untuple(r, isInputsTuple)),
    isOutputsTuple,
  );
}

/**
 * The Hessian of a scalar `fn` at `inputs` (PyTorch's
 * `torch.autograd.functional.hessian`): the Jacobian of the gradient.
 *
 * Shapes: for one input, `[...in.shape, ...in.shape]`; for several,
 * `H[i][j]` of shape `[...in_i.shape, ...in_j.shape]`.
 * @throws PyTorch's errors: `fn` not returning one one-element Tensor; in `strict` mode a
 *   gradient or output independent of an input (a linear `fn`, for example).
 * @example
 * gg.autograd.functional.hessian((x) => x.pow(3).sum(), gg.rand([2])).shape // [2, 2]
 */
export function hessian<I extends Inputs>(fn: TensorFn, inputs: I, opts: HessianOptions = {}): HessianOf<I> {
  const strict = opts.strict ?? false;
  const createGraph = opts.createGraph ?? false;
  const outer = (opts.outerJacobianStrategy as string | undefined) ?? 'reverse-mode';
  if (outer !== 'reverse-mode') {
    throw new Error('hessian: only outerJacobianStrategy "reverse-mode" is available (the tensors saved for backward carry no tangents, so forward-over-reverse is not)');
  }
  const [isInputsTuple] = asTuple(inputs, 'inputs', 'hessian');
  const single = (...xs: Tensor[]): Tensor => {
    const out = fn(...xs);
    const [isOutTuple, tOut] = asTuple(out, 'outputs of the user-provided function', 'hessian');
    checkRequiresGrad(tOut, 'outputs', strict);
    if (isOutTuple) throw new Error('The function given to hessian should return a single Tensor');
    const o = tOut[0] as Tensor;
    if (o.numel() !== 1) throw new Error('The Tensor returned by the function given to hessian should contain a single element');
    return o.reshape([]);
  };
  const jacFn = (...xs: Tensor[]): Tensor[] => {
    const j = jacobian(single, xs, { createGraph: true });
    checkRequiresGrad(j, 'jacobian', strict);
    return j;
  };
  const res = jacobian(jacFn, (isInputsTuple ? inputs : [inputs]) as Tensor[], { createGraph, strict });
  return (isInputsTuple ? res : (res[0] as Tensor[])[0]) as HessianOf<I>;
}

/** The shared first half of vhp and hvp: outputs and the gradient, with PyTorch's checks. */
function gradientOf(fn: TensorFn, inputs: Inputs, v: Inputs | null | undefined, name: 'vhp' | 'hvp', createGraph: boolean, strict: boolean) {
  const [isInputsTuple, ins0] = asTuple(inputs, 'inputs', name);
  const ins = gradPreprocess(ins0, createGraph, true);
  const vs = vectorFor(v, ins, isInputsTuple, name, createGraph, INPUT_NONE);
  const [isOutputsTuple, outs] = asTuple(fn(...ins), 'outputs of the user-provided function', name);
  checkRequiresGrad(outs, 'outputs', strict);
  if (isOutputsTuple) throw new Error(`The function given to ${name} should return a single Tensor`);
  if ((outs[0] as Tensor).numel() !== 1) throw new Error(`The Tensor returned by the function given to ${name} should contain a single element`);
  const jac = autogradGrad(outs, ins, null, true);
  checkRequiresGrad(jac, 'jacobian', strict);
  return { isInputsTuple, ins, vs, outs, jac };
}

/**
 * The vector-Hessian product vᵀ·H of a scalar `fn` (PyTorch's
 * `torch.autograd.functional.vhp`), by double backward.
 *
 * Shapes: `v` and the result mirror `inputs`; `v` may be omitted for one
 * one-element input. Returns `[output, vhp]`.
 * @throws PyTorch's errors, as `hessian` and `vjp`.
 * @example
 * const [f, r] = gg.autograd.functional.vhp((x) => x.pow(3).sum(), gg.rand([2]), gg.ones([2]));
 */
export function vhp<I extends Inputs>(fn: TensorFn, inputs: I, v?: Inputs | null, opts: FunctionalOptions = {}): [Tensor, Mirror<I>] {
  const createGraph = opts.createGraph ?? false;
  const strict = opts.strict ?? false;
  const { isInputsTuple, ins, vs, outs, jac } = enableGrad(() => gradientOf(fn, inputs, v, 'vhp', createGraph, strict));
  const res = withGradMode(createGraph || isGradEnabled(), () => fillInZeros(autogradGrad(jac, ins, vs, createGraph), ins, strict, createGraph, 'double_back'));
  return [gradPostprocess(outs, createGraph)[0] as Tensor, untuple(gradPostprocess(res, createGraph), isInputsTuple) as Mirror<I>];
}

/**
 * The Hessian-vector product H·v of a scalar `fn` (PyTorch's
 * `torch.autograd.functional.hvp`), by the double-backward trick, as PyTorch.
 *
 * Shapes: `v` and the result mirror `inputs`. Returns `[output, hvp]`.
 * @throws PyTorch's errors, as `hessian` and `vjp`.
 * @example
 * const [f, r] = gg.autograd.functional.hvp((x) => x.pow(3).sum(), gg.rand([2]), gg.ones([2]));
 */
export function hvp<I extends Inputs>(fn: TensorFn, inputs: I, v?: Inputs | null, opts: FunctionalOptions = {}): [Tensor, Mirror<I>] {
  const createGraph = opts.createGraph ?? false;
  const strict = opts.strict ?? false;
  const { isInputsTuple, ins, vs, outs, doubleBack, gradJac } = enableGrad(() => {
    const g = gradientOf(fn, inputs, v, 'hvp', createGraph, strict);
    const gradJac = g.ins.map((x) => zerosLike(x).requiresGrad_());
    const doubleBack = autogradGrad(g.jac, g.ins, gradJac, true);
    checkRequiresGrad(g.jac, 'hessian', strict);
    return { ...g, doubleBack, gradJac };
  });
  const res = withGradMode(createGraph || isGradEnabled(), () =>
    fillInZeros(autogradGrad(doubleBack, gradJac, vs, createGraph), ins, strict, createGraph, 'double_back_trick'),
  );
  return [gradPostprocess(outs, createGraph)[0] as Tensor, untuple(gradPostprocess(res, createGraph), isInputsTuple) as Mirror<I>];
}
