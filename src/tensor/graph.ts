/**
 * The autograd graph's data: nodes, edges and the grad mode. The engine that
 * walks it lives in autograd/; this file only describes what ops record.
 *
 * A node stands for one op application. Its `next` edges point at the nodes
 * that produced its inputs (or at a leaf's AccumulateGrad); `apply` maps the
 * gradients of its outputs to the gradients of its inputs.
 */
import type { DType } from '../backend/types.js';
import type { Tensor } from './tensor.js';
import { trackNode } from './storage.js';

/** Where a gradient goes: input slot `index` of `node`. */
export interface Edge {
  readonly node: Node;
  readonly index: number;
}

/** What the engine needs to know of each input to shape its gradient. */
export interface InputMeta {
  readonly shape: readonly number[];
  readonly dtype: DType;
  readonly device: string;
}

/** A gradient hook: may return a replacement gradient. */
export type GradHook = (grad: Tensor) => Tensor | void;

/** @internal A recorded op in the autograd graph: its input edges, hooks and backward (`apply`). */
export abstract class Node {
  /** Edges to the producers of each input (null: input needs no gradient). */
  readonly next: (Edge | null)[];
  /** Hooks on the gradient of each output, run before `apply`. */
  readonly preHooks = new Map<number, GradHook[]>();
  /** Non-leaf tensors that asked `retainGrad()`, per output. */
  readonly retained = new Map<number, WeakRef<Tensor>>();
  /** Hooks run after `apply` with (gradInputs, gradOutputs); used by module backward hooks. */
  readonly postHooks: ((gradInputs: (Tensor | null)[], gradOutputs: (Tensor | null)[]) => (Tensor | null)[] | void)[] = [];
  /** Set once saved tensors are freed by a backward without retainGraph. */
  released = false;
  constructor(
    readonly name: string,
    next: (Edge | null)[],
    readonly inputs: readonly InputMeta[],
    readonly numOutputs: number,
  ) {
    this.next = next;
    trackNode(this);
  }

  /** Gradients of the inputs from the gradients of the outputs (null = zero). */
  abstract apply(grads: (Tensor | null)[]): (Tensor | null)[];

  /** Free saved tensors; a later `apply` must fail with PyTorch's message. */
  abstract release(): void;
}

/** @internal The node a leaf's gradient flows into: it adds the gradient to `leaf.grad`. */
export class AccumulateGrad extends Node {
  constructor(readonly leaf: Tensor) {
    super('AccumulateGrad', [], [{ shape: leaf.shape, dtype: leaf.dtype, device: leaf.device }], 1);
  }

  apply(): (Tensor | null)[] {
    return [];
  }

  release(): void {
    // nothing saved
  }
}

let gradEnabled = true;

/** Whether ops record the graph right now. @example gg.noGrad(() => gg.isGradEnabled()) // false */
export function isGradEnabled(): boolean {
  return gradEnabled;
}

/** @internal Run `fn` with recording switched `on` or off, restoring the mode after. */
export function withGradMode<T>(on: boolean, fn: () => T): T {
  const prev = gradEnabled;
  gradEnabled = on;
  try {
    return fn();
  } finally {
    gradEnabled = prev;
  }
}

/**
 * Run `fn` without recording the graph (like `torch.no_grad()`); returns what `fn` returns.
 * @example const y = gg.noGrad(() => w.mul(2)); // y.requiresGrad === false
 */
export function noGrad<T>(fn: () => T): T {
  return withGradMode(false, fn);
}

/**
 * Run `fn` with recording on, even inside `noGrad`; returns what `fn` returns.
 * @example gg.noGrad(() => gg.enableGrad(() => w.mul(2))).requiresGrad // true
 */
export function enableGrad<T>(fn: () => T): T {
  return withGradMode(true, fn);
}
