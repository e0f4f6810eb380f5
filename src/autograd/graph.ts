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
import { numel } from '../tensor/shape.js';
import { trackNode, untrackNodes } from '../tensor/storage.js';
import { isAnomalyEnabled, isGradEnabled } from './grad-mode.js';

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

/** PyTorch's message for a saved tensor read after a backward without `retainGraph` freed it. */
export const FREED_MESSAGE =
  'Trying to backward through the graph a second time (or directly access saved tensors after they have already been freed). ' +
  'Saved intermediate values of the graph are freed when you call .backward() or autograd.grad(). ' +
  'Specify retainGraph: true if you need to backward through the graph a second time or if you need to access saved tensors after calling backward.';

/** PyTorch's name of a tensor type in messages: `torch.FloatTensor`, `torch.DoubleTensor`, ... */
function torchTypeName(dtype: DType): string {
  const names: Record<string, string> = { float32: 'FloatTensor', float64: 'DoubleTensor', int32: 'IntTensor', int64: 'LongTensor' };
  return `torch.${names[dtype] ?? dtype}`;
}

/** Where a saved tensor came from, for the message: output `index` of the node named `name`. */
export interface Producer {
  readonly name: string;
  readonly index: number;
}

/**
 * PyTorch's message (SavedVariable::unpack) for a saved tensor written in
 * place after it was saved; the hint depends on anomaly mode.
 */
export function modifiedMessage(t: Tensor, expected: number, producer: Producer | null): string {
  const which = producer ? `, which is output ${producer.index} of ${producer.name},` : '';
  const hint = isAnomalyEnabled()
    ? 'Hint: the backtrace further above shows the operation that failed to compute its gradient. The variable in question was changed in there or anywhere later. Good luck!'
    : 'Hint: enable anomaly detection to find the operation that failed to compute its gradient, with torch.autograd.set_detect_anomaly(True).';
  return (
    `one of the variables needed for gradient computation has been modified by an inplace operation: [${torchTypeName(t.dtype)} [${t.shape.join(', ')}]]${which} ` +
    `is at version ${t.version}; expected version ${expected} instead. ${hint}`
  );
}

/**
 * The producer PyTorch names for a saved input: the tensor's current
 * `gradFn` (after an in-place op rebased it, the new one); for a view whose
 * data was written, AsStridedBackward0 (PyTorch regenerates a written view's
 * `grad_fn` as one); none for a leaf.
 */
export function producerOf(t: Tensor): Producer | null {
  if (!t.gradFn) return null;
  if (t.viewBase) return { name: 'AsStridedBackward0', index: 0 };
  return { name: t.gradFn.name, index: t.outputIndex };
}

/** Throw PyTorch's message when `saved` was written in place since it was saved at `version`. */
export function checkVersion(saved: Tensor, version: number, producer: () => Producer | null): void {
  if (saved.version !== version) throw new Error(modifiedMessage(saved, version, producer()));
}

/** One saved tensor of a node, with the name PyTorch gives it (`self`, `other`, `result`, ...). */
export interface SavedEntry {
  readonly name: string;
  readonly tensor: Tensor;
}

/**
 * A recorded op in the autograd graph (PyTorch's `torch.autograd.graph.Node`,
 * what `t.gradFn` holds): its name, its edges to the producers of its inputs,
 * its hooks, and its backward (`apply`).
 *
 * Read it the way PyTorch's `grad_fn` is read:
 * @example
 * const x = gg.tensor([1, 2], { requiresGrad: true });
 * const y = x.mul(x).sum();
 * y.gradFn!.name;                       // 'SumBackward0'
 * const [mul] = y.gradFn!.nextFunctions[0]!; // [MulBackward0, 0]
 * mul!.nextFunctions.map(([n]) => n!.name); // ['AccumulateGrad', 'AccumulateGrad']
 */
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
  /**
   * A plain object for the user's notes on this node (PyTorch's `node.metadata`);
   * the library never reads or writes it.
   * @example y.gradFn!.metadata.label = 'logits';
   */
  readonly metadata: Record<string, unknown> = {};
  /**
   * The stack of the forward call that created this node, recorded only in
   * anomaly mode (`gg.autograd.setDetectAnomaly(true)`); undefined otherwise.
   * @example gg.autograd.detectAnomaly(() => x.sqrt()).gradFn!.forwardStack // 'Error\n    at ...'
   */
  readonly forwardStack: string | undefined;
  constructor(
    /** PyTorch's name of this node's type, e.g. `MulBackward0`, `AccumulateGrad`, `SquareBackward` (custom Function). */
    readonly name: string,
    next: (Edge | null)[],
    readonly inputs: readonly InputMeta[],
    readonly numOutputs: number,
  ) {
    this.next = next;
    this.forwardStack = isAnomalyEnabled() ? forwardStackHere() : undefined;
    trackNode(this);
  }

  /** Gradients of the inputs from the gradients of the outputs (null = zero). */
  abstract apply(grads: (Tensor | null)[]): (Tensor | null)[];

  /** Free saved tensors; a later `apply` must fail with PyTorch's message. */
  abstract release(): void;

  /**
   * @internal The saved tensors with their names, or null once released.
   * Nodes that save nothing return []. Never throws (graph pictures read it).
   */
  savedEntries(): SavedEntry[] | null {
    return [];
  }

  /**
   * PyTorch's `next_functions`: one `[node, index]` pair per input, `node`
   * being the input's producer (its `AccumulateGrad` for a leaf) and `index`
   * the producer's output slot; `[null, 0]` for an input that needs no gradient.
   * @example gg.tensor([1], { requiresGrad: true }).mul(2).gradFn!.nextFunctions // [[AccumulateGrad, 0], [null, 0]]
   */
  get nextFunctions(): readonly (readonly [Node | null, number])[] {
    return this.next.map((e) => (e ? ([e.node, e.index] as const) : ([null, 0] as const)));
  }

  /**
   * The tensors this node saved for its backward (read-only handles: do not
   * dispose them). Throws PyTorch's `Trying to backward through the graph a
   * second time ...` error once a backward without `retainGraph` freed them.
   * @example x.mul(w).gradFn!.savedTensors.map((t) => t.shape) // [[2], [2]]
   */
  get savedTensors(): readonly Tensor[] {
    const s = this.savedEntries();
    if (!s) throw new Error(FREED_MESSAGE);
    return s.map((e) => e.tensor);
  }

  /** `<MulBackward0>`, as PyTorch prints a node. @example String(y.gradFn) // '<SumBackward0>' */
  toString(): string {
    return `<${this.name}>`;
  }
}

/**
 * The node a leaf's gradient flows into: it adds the gradient to `leaf.grad`
 * (PyTorch's `AccumulateGrad`; `variable` is the leaf).
 * @example x.mul(2).gradFn!.nextFunctions[0]![0]!.variable === x // true for a leaf x
 */
export class AccumulateGrad extends Node {
  constructor(readonly leaf: Tensor) {
    super('AccumulateGrad', [], [{ shape: leaf.shape, dtype: leaf.dtype, device: leaf.device }], 1);
  }

  /** The leaf tensor this node accumulates into (PyTorch's `AccumulateGrad.variable`). @example acc.variable.shape */
  get variable(): Tensor {
    return this.leaf;
  }

  apply(): (Tensor | null)[] {
    return [];
  }

  release(): void {
    // nothing saved
  }
}

/**
 * @internal The node an in-place write that replaces values records
 * (tensor/inplace.ts): `copy_` (PyTorch's CopyBackwards), `fill_`, `zero_`,
 * `normal_`, `uniform_`. It saves nothing; `rule` maps the output's gradient
 * to the inputs' (a zero one for the overwritten value).
 */
export class WriteNode extends Node {
  constructor(
    name: string,
    next: (Edge | null)[],
    meta: InputMeta[],
    private readonly rule: (grad: Tensor, needs: readonly boolean[]) => (Tensor | null)[],
  ) {
    super(name, next, meta, 1);
  }

  apply(grads: (Tensor | null)[]): (Tensor | null)[] {
    const g = grads[0];
    if (!g) return this.next.map(() => null);
    return this.rule(g, this.next.map((e) => e !== null));
  }

  release(): void {
    this.released = true;
  }
}

/**
 * @internal A faster backward for one recorded node, for when no graph is
 * being created (docs/notes/architecture.md, "Backward shortcuts"): it gives
 * the same gradients as the table's rule over the node and the nodes behind
 * it, computed in fewer passes. It runs with grad mode off and may answer
 * null (the table's rule runs instead). With `createGraph` the table's rule
 * always runs, so double backward sees the recorded graph.
 */
export interface BackwardShortcut {
  /** The inputs' gradients from the output's (`inputs`: the node's saved inputs, version-checked), or null. */
  backward(grad: Tensor, inputs: readonly Tensor[], needs: readonly boolean[]): (Tensor | null)[] | null;
  /** Free what the shortcut holds (with the node's saved tensors). */
  release(): void;
}

/** @internal The node an op application records: the table's backward rule over what the entry saved. */
export class OpNode<N extends OpName> extends Node {
  /** @internal a faster backward when no graph is created (`BackwardShortcut`); set right after the node is made. */
  shortcut: BackwardShortcut | null = null;
  private saved: Tensor[] | null;
  private savedResult: Tensor | null = null;
  /**
   * Version of each saved input when saved, the inputs themselves (for the
   * message: their producer when checked), and which the backward reads.
   * The inputs are held, not weakly: a WeakRef made (or dereferenced) keeps
   * its target alive until the running job ends (ECMAScript's
   * KeepDuringJob), so a synchronous training loop kept every op's inputs
   * and, through them, every node ever recorded (about 21 KB a step of a
   * small MLP, never freed; docs/notes/bench.md, "W2: fused cross
   * entropy"). The alias already holds the storage; `release` drops both.
   */
  private readonly savedVersions: number[];
  private originals: readonly Tensor[] | null;
  private readonly checked: readonly boolean[];
  private resultVersion = 0;
  constructor(
    readonly op: N,
    private readonly spec: OpSpec<OpAttrs[N]>,
    readonly attrs: OpAttrs[N],
    inputs: readonly Tensor[],
    next: (Edge | null)[],
    meta: InputMeta[],
  ) {
    super(opNodeName(op, attrs, meta, next), next, meta, 1);
    this.saved = spec.saveInputs ? inputs.map((t) => t.alias()) : null;
    this.savedVersions = spec.saveInputs ? inputs.map((t) => t.version) : [];
    this.originals = spec.saveInputs ? inputs.slice() : null;
    const needs = next.map((e) => e !== null);
    this.checked = spec.saves ? spec.saves(needs) : inputs.map(() => true);
  }

  saveResult(result: Tensor): void {
    if (!this.spec.saveResult) return;
    this.savedResult = result.alias();
    this.resultVersion = result.version;
  }

  /** PyTorch's version check on unpacking saved tensors: a saved input written in place since refuses. */
  private checkInputs(saved: readonly Tensor[]): void {
    saved.forEach((t, i) => {
      if (this.checked[i]) checkVersion(t, this.savedVersions[i] ?? 0, () => producerOf(this.originals?.[i] ?? t));
    });
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
        self.checkInputs(self.saved);
        return self.saved;
      },
      get result(): Tensor {
        if (!self.savedResult) throw self.freedError();
        // the saved output is this node's own output 0
        checkVersion(self.savedResult, self.resultVersion, () => ({ name: self.name, index: 0 }));
        return self.savedResult;
      },
    };
    // not when a post hook (a module backward hook) would see this node's gradients: the shortcut's differ
    if (this.shortcut && !isGradEnabled() && this.postHooks.length === 0) {
      const fast = this.shortcut.backward(grad, ctx.inputs, ctx.needs);
      if (fast) return fast;
    }
    return this.spec.backward(ctx);
  }

  release(): void {
    this.released = true;
    this.shortcut?.release();
    this.shortcut = null;
    if (this.saved) for (const t of this.saved) t.dispose();
    this.savedResult?.dispose();
    this.saved = null;
    this.savedResult = null;
    this.originals = null;
  }

  /** @internal saved inputs as PyTorch names them (`self`, `other`; `condition` for where), then `result`. */
  override savedEntries(): SavedEntry[] | null {
    if (this.released && (this.spec.saveInputs || this.spec.saveResult)) return null;
    const names = this.op === 'addmm' ? ['self', 'mat1', 'mat2'] : this.inputs.length === 3 ? ['condition', 'self', 'other'] : ['self', 'other'];
    const out: SavedEntry[] = (this.saved ?? []).map((tensor, i) => ({ name: names[i] ?? `input${i}`, tensor }));
    if (this.savedResult) out.push({ name: 'result', tensor: this.savedResult });
    return out;
  }

  private freedError(): Error {
    return new Error(FREED_MESSAGE);
  }
}

/**
 * @internal Give the top node of a composite op the name PyTorch's single op
 * records (clamp is computed as a `where`, which records WhereBackward0;
 * PyTorch's clamp records ClampBackward1), so `y.gradFn.name`, printing and
 * messages read as in PyTorch. Called right after the node is made, before
 * anyone has seen it.
 */
export function relabel(node: Node, name: string): void {
  (node as { name: string }).name = name;
}

/**
 * @internal Recorded nodes in a line shown as the one node PyTorch's single
 * op records: crossEntropy's and nllLoss's pick, weighting, sum and mean
 * division read as `NllLossBackward0` whose input edge is the log-softmax
 * (docs/notes/architecture.md, "Fused kernels"). `chain` runs top first;
 * each link's gradient for input `slot` feeds the next link, the last
 * link's goes along this node's one edge. The links' rules run unchanged,
 * in the same order (the same numbers); anomaly mode checks only what this
 * node returns, as PyTorch checks its single node.
 */
export class ChainNode extends Node {
  private chain: readonly { readonly node: Node; readonly slot: number }[] | null;
  constructor(name: string, chain: readonly { readonly node: Node; readonly slot: number }[], edge: Edge, meta: InputMeta) {
    super(name, [edge], [meta], 1);
    this.chain = chain;
    // the links are this node's: a tidy scope would free them as unreachable from the result
    untrackNodes(new Set(chain.map((l) => l.node)));
  }

  apply(grads: (Tensor | null)[]): (Tensor | null)[] {
    if (!this.chain) throw new Error(FREED_MESSAGE);
    let g = grads[0] ?? null;
    for (const { node, slot } of this.chain) {
      if (!g) return [null];
      g = node.apply([g])[slot] ?? null;
    }
    return [g];
  }

  release(): void {
    this.released = true;
    for (const { node } of this.chain ?? []) node.release();
    this.chain = null;
  }

  /** @internal the top link's saved tensors (null once released). */
  override savedEntries(): SavedEntry[] | null {
    if (!this.chain) return null;
    return this.chain[0]?.node.savedEntries() ?? [];
  }
}

/**
 * @internal Replace `out`'s node by one `ChainNode` named `name` over the
 * nodes from it down to the edge that reaches `stop`, when they form a line
 * (each with one output and one input that needs a gradient, at most 8);
 * otherwise (a class weight that needs a gradient, no graph) nothing
 * changes. Called right after `out` is made, before anyone has seen it.
 */
export function collapseInto(out: Tensor, stop: Node | null | undefined, name: string): void {
  const top = out.gradFn;
  if (!top || !stop || out.outputIndex !== 0) return;
  let node: Node = top;
  const chain: { node: Node; slot: number }[] = [];
  for (let depth = 0; depth < 8; depth++) {
    if (node.numOutputs !== 1 || node.preHooks.size || node.postHooks.length || node.retained.size) return;
    const live: { e: Edge; i: number }[] = node.next.flatMap((e, i) => (e ? [{ e, i }] : []));
    const only = live[0];
    if (live.length !== 1 || !only) return;
    chain.push({ node, slot: only.i });
    const meta = node.inputs[only.i];
    if (only.e.node === stop) {
      if (meta) out.setGradFn(new ChainNode(name, chain, only.e, meta), 0);
      return;
    }
    if (only.e.index !== 0) return;
    node = only.e.node;
  }
}

/** PyTorch's node names where they differ from `<Op>Backward0` (checked with torch 1.13). */
const torchNames: Partial<Record<OpName, string>> = {
  contiguous: 'CloneBackward0',
  reshape: 'ViewBackward0',
  narrow: 'SliceBackward0',
  pad: 'ConstantPadNdBackward0',
  cast: 'ToCopyBackward0',
  toDevice: 'ToCopyBackward0',
  im2col: 'Im2ColBackward0',
  col2im: 'Col2ImBackward0',
  asStrided: 'AsStridedBackward0',
  addmm: 'AddmmBackward0',
  scatter: 'CopySlices',
};

/**
 * The name PyTorch gives the node of `op`: `MulBackward0`, `SumBackward0`
 * (all dims) or `SumBackward1` (some dims), `MmBackward0` (2-D) or
 * `BmmBackward0`, `PowBackward0` (scalar exponent) or `PowBackward1`, ...
 */
function opNodeName<N extends OpName>(op: N, attrs: OpAttrs[N], meta: readonly InputMeta[], next: readonly (Edge | null)[]): string {
  const known = torchNames[op];
  if (known) return known;
  if (op === 'sum') {
    const { dims, keepdim } = attrs as OpAttrs['sum'];
    return dims.length === (meta[0]?.shape.length ?? 0) && !keepdim ? 'SumBackward0' : 'SumBackward1';
  }
  if (op === 'fused') return `${(attrs as OpAttrs['fused']).name}Backward0`;
  if (op === 'normalize') return `${(attrs as OpAttrs['normalize']).name}Backward0`;
  if (op === 'matmul') return meta.every((m) => m.shape.length === 2) ? 'MmBackward0' : 'BmmBackward0';
  if (op === 'pow') return numel(meta[1]?.shape ?? []) === 1 && !next[1] ? 'PowBackward0' : 'PowBackward1';
  return `${op[0]?.toUpperCase() ?? ''}${op.slice(1)}Backward0`;
}

/**
 * Where this library's own op plumbing lives (file URL and path forms), to
 * drop its frames from forward stacks: this module's folder and its
 * tensor/autograd/backend siblings (in a bundle, the bundle's folder).
 */
const libDirs = ['./', '../tensor/', '../autograd/', '../backend/'].flatMap((d) => {
  const u = new URL(d, import.meta.url);
  return [u.href, decodeURIComponent(u.pathname)];
});

/** The stack of the caller that is recording a node, without the library's own frames. */
function forwardStackHere(): string {
  // the library's own frames would use up V8's default limit of 10
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 64;
  const raw = new Error('forward call').stack ?? '';
  Error.stackTraceLimit = limit;
  // drop the first line (the message) and gpugrad's own op plumbing, so the user's call comes first
  const frames = raw.split('\n').slice(1);
  const keep = frames.filter((l) => !libDirs.some((d) => l.includes(d)));
  // NOTE: an app bundled together with gpugrad (or served from the bundle's folder) has
  // every frame in the library's file or folder: then all frames, rather than none
  return ['Traceback of forward call that caused the error:', ...(keep.length ? keep : frames)].join('\n');
}
