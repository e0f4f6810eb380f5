/**
 * The autograd graph's node kinds: what a recorded op leaves behind for
 * backward. The engine that walks them is engine.ts; custom functions'
 * FunctionNode is in function.ts, next to the FunctionCtx it frees.
 *
 * A node stands for one op application. Its `next` edges point at the nodes
 * that produced its inputs (or at a leaf's AccumulateGrad); `apply` maps the
 * gradients of its outputs to the gradients of its inputs.
 *
 * - Node: the base (edges, hooks, retained grads, release);
 * - AccumulateGrad: a leaf's sink, the engine adds into `leaf.grad`;
 * - OpNode: a primitive of the op table (tensor/ops.ts), whose backward is
 *   the table's rule over the tensors the entry saved.
 *
 * This file knows Tensor only as a type (erased), so tensor.ts can import it.
 */
import type { DType } from '../backend/types.js';
import type { Tensor } from '../tensor/tensor.js';
import type { BackwardCtx, OpAttrs, OpName, OpSpec } from '../tensor/ops.js';
import { trackNode } from '../tensor/storage.js';

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

/** @internal The node an op application records: the table's backward rule over what the entry saved. */
export class OpNode<N extends OpName> extends Node {
  private saved: Tensor[] | null;
  private savedResult: Tensor | null = null;
  constructor(
    readonly op: N,
    private readonly spec: OpSpec<OpAttrs[N]>,
    readonly attrs: OpAttrs[N],
    inputs: readonly Tensor[],
    next: (Edge | null)[],
    meta: InputMeta[],
  ) {
    super(opNodeName(op), next, meta, 1);
    this.saved = spec.saveInputs ? inputs.map((t) => t.alias()) : null;
  }

  saveResult(result: Tensor): void {
    if (this.spec.saveResult) this.savedResult = result.alias();
  }

  apply(grads: (Tensor | null)[]): (Tensor | null)[] {
    const grad = grads[0];
    if (!grad) return this.next.map(() => null);
    const self = this;
    const ctx: BackwardCtx<OpAttrs[N]> = {
      grad,
      attrs: this.attrs,
      shapes: this.inputs.map((m) => m.shape),
      needs: this.next.map((e) => e !== null),
      get inputs(): readonly Tensor[] {
        if (!self.saved) throw self.freedError();
        return self.saved;
      },
      get result(): Tensor {
        if (!self.savedResult) throw self.freedError();
        return self.savedResult;
      },
    };
    return this.spec.backward(ctx);
  }

  release(): void {
    this.released = true;
    if (this.saved) for (const t of this.saved) t.dispose();
    this.savedResult?.dispose();
    this.saved = null;
    this.savedResult = null;
  }

  private freedError(): Error {
    return new Error(
      'Trying to backward through the graph a second time (or directly access saved tensors after they have already been freed). ' +
        'Saved intermediate values of the graph are freed when you call .backward() or autograd.grad(). ' +
        'Specify retainGraph: true if you need to backward through the graph a second time or if you need to access saved tensors after calling backward.',
    );
  }
}

function opNodeName(op: string): string {
  return `${op[0]?.toUpperCase() ?? ''}${op.slice(1)}Backward`;
}
