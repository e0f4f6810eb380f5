/**
 * Custom differentiable ops, PyTorch's way:
 *
 * ```ts
 * class Square extends gg.autograd.Function {
 *   static override forward(ctx: gg.autograd.FunctionCtx, x: gg.Tensor) { ctx.saveForBackward(x); return x.mul(x); }
 *   static override backward(ctx: gg.autograd.FunctionCtx, g: gg.Tensor) { const [x] = ctx.savedTensors; return g.mul(x!).mul(2); }
 * }
 * const y = Square.apply(x);
 * ```
 * `forward` runs without recording; `backward` is recorded when
 * `createGraph` is on, so custom ops support double backward too. In
 * forward mode (docs/notes/forward-mode.md) a static `jvp` gives the output
 * tangents; without one, the tangents are those of the ops `forward` runs.
 */
import { FREED_MESSAGE, Node, checkVersion, producerOf, type Edge, type InputMeta, type SavedEntry } from './graph.js';
import { isGradEnabled, withGradMode } from './grad-mode.js';
import { Tensor } from '../tensor/tensor.js';
import { zerosLike } from '../tensor/creation.js';
import { typeName } from '../tensor/check.js';
import { forwardActive, setTangent, suspendForward, tangentOf } from '../tensor/dual.js';

/**
 * What `forward` and `backward` share. Extra fields may be set freely.
 * @example static override forward(ctx: gg.autograd.FunctionCtx, x: gg.Tensor) { ctx.saveForBackward(x); return x.mul(x); }
 */
export class FunctionCtx {
  [key: string]: unknown;
  private saved: Tensor[] | null = [];
  private freed = false;
  /** Which tensor inputs need a gradient (false for non-tensors). */
  needsInputGrad: boolean[] = [];
  /** @internal outputs marked non-differentiable. */
  nonDifferentiable = new Set<Tensor>();

  /** Save tensors for `backward` (inputs or outputs). @example ctx.saveForBackward(x, w); */
  saveForBackward(...tensors: Tensor[]): void {
    this.saved = tensors;
  }
  /** The tensors given to `saveForBackward`. @example const [x, w] = ctx.savedTensors; */
  get savedTensors(): Tensor[] {
    if (this.freed || !this.saved) throw new Error(FREED_MESSAGE);
    // once the graph owns them: PyTorch's check that none was written in place since forward
    const saved = this.saved;
    this.savedVersions?.forEach((v, i) => {
      const t = saved[i];
      if (t) checkVersion(t, v, () => producerOf(this.savedOriginals?.[i] ?? t));
    });
    return saved;
  }
  /** @internal the saved tensors without throwing (null once freed). */
  peekSaved(): readonly Tensor[] | null {
    return this.freed ? null : (this.saved ?? []);
  }
  /** Outputs that carry no gradient (e.g. indices). @example ctx.markNonDifferentiable(indices); */
  markNonDifferentiable(...tensors: Tensor[]): void {
    for (const t of tensors) this.nonDifferentiable.add(t);
  }
  /** @internal swap saved tensors for graph-owned aliases. */
  adoptSaved(): void {
    if (!this.saved) return;
    this.savedVersions = this.saved.map((t) => t.version);
    // held, not weakly: a WeakRef keeps its target until the job ends anyway (graph.ts `OpNode`)
    this.savedOriginals = this.saved.slice();
    this.saved = this.saved.map((t) => t.alias());
  }
  private savedVersions: number[] | null = null;
  private savedOriginals: Tensor[] | null = null;
  /** @internal */
  release(): void {
    if (this.saved) for (const t of this.saved) t.dispose();
    this.saved = null;
    this.savedOriginals = null;
    this.freed = true;
  }
}

/** A gradient a custom `backward` returns per input: a tensor, or null/undefined for none. */
export type Grad = Tensor | null | undefined;

/**
 * Base class of custom ops; subclasses define static `forward` and `backward`.
 * @example
 * class Double extends gg.autograd.Function { static override forward(ctx: gg.autograd.FunctionCtx, x: gg.Tensor) { return x.mul(2); }
 *   static override backward(ctx: gg.autograd.FunctionCtx, g: gg.Tensor) { return g.mul(2); } } // Double.apply(x)
 */
export class Function {
  /**
   * Compute the outputs; runs without recording the graph.
   * @example static override forward(ctx: gg.autograd.FunctionCtx, x: gg.Tensor) { ctx.saveForBackward(x); return x.mul(x); }
   */
  static forward(_ctx: FunctionCtx, ..._args: unknown[]): Tensor | Tensor[] {
    throw new Error('You must implement the forward function for custom autograd.Function.');
  }
  /**
   * Gradients of the inputs from the gradients of the outputs (one per input; null for none).
   * @example static override backward(ctx: gg.autograd.FunctionCtx, g: gg.Tensor) { const [x] = ctx.savedTensors; return g.mul(x!).mul(2); }
   */
  static backward(_ctx: FunctionCtx, ..._grads: Tensor[]): Grad | Grad[] {
    throw new Error('You must implement either the backward or vjp method for your custom autograd.Function to use it with backward mode AD.');
  }

  /**
   * Forward mode (PyTorch's `Function.jvp`): the tangent of each output from
   * the tangent of each input (zeros for a tensor without one, null for a
   * non-tensor argument). Optional: without it, the output tangents are
   * those the ops of `forward` carry (by composition).
   * @example static override jvp(ctx: gg.autograd.FunctionCtx, t: gg.Tensor) { const [x] = ctx.savedTensors; return t.mul(x!).mul(2); }
   */
  static jvp(ctx: FunctionCtx, ...tangents: (Tensor | null)[]): Tensor | Tensor[] {
    void ctx;
    void tangents;
    throw new Error('internal: Function.jvp is only called when a subclass defines it');
  }

  /**
   * Run the op and record it for backward.
   * @example const y = Square.apply(x);
   */
  static apply<T extends Tensor | Tensor[]>(this: { forward(ctx: FunctionCtx, ...a: never[]): T; backward(ctx: FunctionCtx, ...g: Tensor[]): Grad | Grad[]; name: string }, ...args: unknown[]): T {
    const cls = this;
    const ctx = new FunctionCtx();
    const tensorArgs = args.map((a) => (a instanceof Tensor ? a : null));
    ctx.needsInputGrad = tensorArgs.map((t) => !!t && t.requiresGrad);
    const jvp = (cls as { jvp?: typeof Function.jvp }).jvp;
    const ownJvp = forwardActive() && jvp !== Function.jvp && tensorArgs.some((t) => t && tangentOf(t));
    const run = (): T => withGradMode(false, () => (cls.forward as (ctx: FunctionCtx, ...a: unknown[]) => T)(ctx, ...args));
    // with a jvp of its own, forward's ops carry no tangents: jvp gives them
    const raw = ownJvp ? suspendForward(run) : run();
    const outs: unknown[] = Array.isArray(raw) ? raw : [raw];
    const tangentsOut = ownJvp ? customTangents(ctx, jvp as typeof Function.jvp, tensorArgs, outs.length) : null;
    if (tangentsOut) checkViewTangents(tensorArgs, outs, tangentsOut);
    const record = isGradEnabled() && ctx.needsInputGrad.some((x) => x);
    // NOTE: as PyTorch, outputs that are not tensors (a number) pass through untouched, without a gradient
    if (!record || !outs.some((o) => o instanceof Tensor)) {
      tangentsOut?.forEach((t, i) => {
        if (outs[i] instanceof Tensor) setTangent(outs[i] as Tensor, t);
      });
      return raw;
    }
    // an output that is an input gets its own handle, so the input's place in the graph is kept
    const fixed = outs.map((o) => (o instanceof Tensor && tensorArgs.includes(o) ? o.detach() : o));
    const next: (Edge | null)[] = tensorArgs.map((t) => (t && t.requiresGrad ? t.edge() : null));
    const meta: InputMeta[] = tensorArgs.map((t) => ({ shape: t ? [...t.shape] : [], dtype: t?.dtype ?? 'float32', device: t?.device ?? 'cpu' }));
    const node = new FunctionNode(`${cls.name}Backward`, next, meta, fixed, ctx, cls.backward.bind(cls));
    fixed.forEach((o, i) => {
      if (o instanceof Tensor && !ctx.nonDifferentiable.has(o)) o.setGradFn(node, i);
    });
    ctx.adoptSaved();
    tangentsOut?.forEach((t, i) => {
      if (fixed[i] instanceof Tensor) setTangent(fixed[i] as Tensor, t);
    });
    return (Array.isArray(raw) ? fixed : fixed[0]) as T;
  }
}

/**
 * PyTorch's rule for a custom jvp: an output that is an input as-is or a
 * view of one (shares its memory) must get a tangent that is a view of that
 * input's tangent; anything else would overwrite the caller's tangent of the
 * input (the output and the input are one tensor) and is refused with
 * PyTorch's message.
 */
function checkViewTangents(tensorArgs: readonly (Tensor | null)[], outs: readonly unknown[], tangents: readonly Tensor[]): void {
  outs.forEach((o, i) => {
    if (!(o instanceof Tensor)) return;
    const input = tensorArgs.find((a) => a && (a === o || a.storage === o.storage));
    if (!input) return;
    const inTangent = tangentOf(input);
    const t = tangents[i];
    if (!inTangent || !t || t.storage !== inTangent.storage) {
      throw new Error("A custom Function's forward is returning a view (or an input as-is) but the jvp is not returning a view.");
    }
  });
}

/** A subclass's `jvp` applied to the inputs' tangents: one tangent per output. */
function customTangents(ctx: FunctionCtx, jvp: typeof Function.jvp, tensorArgs: (Tensor | null)[], nOut: number): Tensor[] {
  const tangents = tensorArgs.map((t) => (t ? (tangentOf(t) ?? zerosLike(t)) : null));
  const r = suspendForward(() => jvp(ctx, ...tangents));
  const list = Array.isArray(r) ? r : [r];
  if (list.length !== nOut) throw new Error(`jvp returned ${list.length} tangents for ${nOut} outputs`);
  return list;
}

class FunctionNode extends Node {
  private readonly outputShapes: (Tensor | null)[];
  constructor(
    name: string,
    next: (Edge | null)[],
    meta: InputMeta[],
    outputs: unknown[],
    private readonly ctx: FunctionCtx,
    private readonly fn: (ctx: FunctionCtx, ...g: Tensor[]) => Grad | Grad[],
  ) {
    super(name, next, meta, outputs.length);
    // zero gradients for outputs that received none need their shapes, not their data
    this.outputShapes = outputs.map((o) => (o instanceof Tensor ? o.detach() : null));
    for (const o of this.outputShapes) o?.dispose();
  }

  apply(grads: (Tensor | null)[]): (Tensor | null)[] {
    const filled = grads.map((g, i) => {
      const like = this.outputShapes[i];
      return g ?? (like ? zerosLikeMeta(like) : null);
    });
    const r: unknown = this.fn(this.ctx, ...(filled as Tensor[]));
    const list: unknown[] = Array.isArray(r) ? r : [r];
    // PyTorch allows extra trailing Nones; anything else must match the inputs one to one
    const extra = list.slice(this.next.length);
    if (list.length < this.next.length || extra.some((g) => g !== null && g !== undefined)) {
      throw new Error(`function ${this.name} returned an incorrect number of gradients (expected ${this.next.length}, got ${list.length})`);
    }
    // every gradient a user's backward returns is checked before the engine uses it (docs/notes/validation.md)
    return list.slice(0, this.next.length).map((g, i) => {
      if (g === undefined || g === null) return null;
      if (!(g instanceof Tensor)) {
        throw new Error(`Function ${this.name} returned an invalid gradient at index ${i} - expected a Tensor or null (got ${typeName(g)})`);
      }
      const m = this.inputs[i];
      if (!m || !this.next[i]) return g;
      // the gradient must have the input's shape or one the input broadcasts to (the engine sums it back)
      if (!broadcastsTo(m.shape, g.shape)) {
        throw new Error(`Function ${this.name} returned an invalid gradient at index ${i} - got [${g.shape.join(', ')}] but expected shape compatible with [${m.shape.join(', ')}]`);
      }
      if (g.device !== m.device) {
        throw new Error(`Function ${this.name} returned an invalid gradient at index ${i} - expected device ${m.device} but got ${g.device}`);
      }
      // another dtype is cast to the input's by the engine, as PyTorch does
      return g;
    });
  }

  release(): void {
    this.released = true;
    this.ctx.release();
  }

  /** @internal what `ctx.saveForBackward` got, named `saved[i]`. */
  override savedEntries(): SavedEntry[] | null {
    const s = this.ctx.peekSaved();
    return s ? s.map((tensor, i) => ({ name: `saved[${i}]`, tensor })) : null;
  }
}

/** Whether `shape` broadcasts to `target` (PyTorch's `is_expandable_to`). */
function broadcastsTo(shape: readonly number[], target: readonly number[]): boolean {
  if (shape.length > target.length) return false;
  const lead = target.length - shape.length;
  return shape.every((s, i) => s === 1 || s === target[lead + i]);
}

function zerosLikeMeta(t: Tensor): Tensor {
  return zerosLike(t);
}
