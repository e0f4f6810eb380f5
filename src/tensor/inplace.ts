/**
 * In-place ops, PyTorch's trailing underscore (`add_`, `sub_`, `mul_`, `div_`,
 * `clamp_`, `copy_`, `fill_`, `zero_`, `normal_`, `uniform_`). Each one
 *
 * 1. checks everything first, so a failed call changes nothing: its
 *    arguments, that the tensor does not overlap itself (an expanded tensor),
 *    and, when autograd would record, PyTorch's two refusals (a leaf that
 *    requires grad, a view of one) and gpugrad's own (a view whose base is
 *    not one dense buffer);
 * 2. computes the new values out of place (recorded when autograd records);
 * 3. writes them into the tensor's memory (`Tensor.writeFrom`: views and the
 *    graph's saved handles see them, the version counter counts the write);
 * 4. moves the tensor to the node the op recorded (PyTorch's rebase of
 *    `grad_fn`: `y.add_(1)` leaves `y.gradFn` an AddBackward0); through a
 *    view, the base gets PyTorch's CopySlices and the view AsStridedBackward0.
 *
 * docs/notes/mutation.md has the rules and where they differ from PyTorch.
 * This file knows Tensor only as a type: tensor.ts calls it.
 */
import { hostArray, isFloatingDtype, isIntegralDtype, scalarTypeName, type DType } from '../backend/types.js';
import { WriteNode, type Edge, type InputMeta, type Node } from '../autograd/graph.js';
import { isGradEnabled, withGradMode } from '../autograd/grad-mode.js';
import { forwardActive, setTangent, suspendForward, tangentOf } from './dual.js';
import { normal, uniform } from './random.js';
import { broadcastShapes, fmt } from './shape.js';
import { rooted } from './storage.js';
import { argError, checkIntFits, checkNumber, isTensor } from './check.js';
import { alphaOf, scaledBinary, type AlphaOptions } from './composites.js';
import type { Tensor } from './tensor.js';

/** PyTorch's message for an in-place op on a leaf that requires grad, in grad mode. */
export const LEAF_INPLACE_MESSAGE = 'a leaf Variable that requires grad is being used in an in-place operation.';
const VIEW_OF_LEAF_MESSAGE = 'a view of a leaf Variable that requires grad is being used in an in-place operation.';
const OVERLAP_MESSAGE =
  'unsupported operation: more than one element of the written-to tensor refers to a single memory location. Please clone() the tensor before performing the operation.';

function meta(t: Tensor): InputMeta {
  return { shape: [...t.shape], dtype: t.dtype, device: t.device };
}

/**
 * Refuse a layout where two indices reach one memory element (stride 0 from
 * `expand`), with PyTorch's message. Dims taken from the smallest stride up:
 * each must step past everything the smaller ones reach.
 */
export function checkNoOverlap(self: Tensor): void {
  if (self.numel() === 0) return;
  const dims = self.shape.map((n, d) => ({ n, s: self.strides[d] ?? 0 })).filter((x) => x.n !== 1).sort((a, b) => a.s - b.s);
  let extent = 1;
  for (const { n, s } of dims) {
    if (s < extent) throw new Error(OVERLAP_MESSAGE);
    extent += s * (n - 1);
  }
}

/** The checks every in-place op makes before it writes; returns whether autograd records it. */
function prepare(self: Tensor, op: string, operands: readonly (Tensor | null)[]): boolean {
  self.checkAlive();
  for (const o of operands) o?.checkAlive();
  checkNoOverlap(self);
  // an integer tensor records nothing, whatever it is written from (docs/spec/dtypes.md: integer results record no node;
  // PyTorch's copy_ into one leaves requires_grad False)
  const recording = isGradEnabled() && isFloatingDtype(self.dtype) && (self.requiresGrad || operands.some((o) => o?.requiresGrad));
  const base = self.viewBase;
  if (recording) {
    if (self.isLeaf && self.requiresGrad) throw new Error(LEAF_INPLACE_MESSAGE);
    if (base && base.isLeaf && base.requiresGrad) throw new Error(VIEW_OF_LEAF_MESSAGE);
    // a view of a dense base is recorded through the base (CopySlices, below); anything else is refused
    if (base && !base.isDenseBuffer()) {
      throw new Error(
        `${op}: gpugrad records an in-place write to a view only when its base is one dense buffer (PyTorch's CopySlices); ` +
          'write to the base tensor, use the out-of-place op, or write inside gg.noGrad (docs/notes/mutation.md)',
      );
    }
  }
  if (base && forwardActive() && (tangentOf(self) || operands.some((o) => o && tangentOf(o)))) {
    throw new Error(`${op}: gpugrad does not carry forward-mode tangents through an in-place write to a view; write to the base tensor or use the out-of-place op (docs/notes/mutation.md)`);
  }
  return recording;
}

/** A broadcast operand must not grow the tensor written to (PyTorch's message). */
function checkBroadcastInto(self: Tensor, other: Tensor): void {
  const b = broadcastShapes(self.shape, other.shape);
  if (fmt(b) !== fmt(self.shape)) throw new Error(`output with shape ${fmt(self.shape)} doesn't match the broadcast shape ${fmt(b)}`);
}

/**
 * Write `value` into `self` and, when recorded, make `node` (output `index`)
 * its producer; a `retainGrad()` on the tensor follows it to the new node, as
 * in PyTorch.
 */
function commit(self: Tensor, value: Tensor, node: { fn: Node | null; index: number } | null): void {
  const base = self.viewBase;
  if (node?.fn && base) {
    commitThroughBase(self, base, value, node.fn, node.index);
    return;
  }
  self.writeFrom(value);
  if (!node?.fn) return;
  const old = self.gradFn;
  const ref = old?.retained.get(self.outputIndex);
  if (old && ref?.deref() === self) {
    old.retained.delete(self.outputIndex);
    node.fn.retained.set(node.index, ref);
  }
  self.setGradFn(node.fn, node.index);
  // a tensor from outside a tidy scope keeps the node recorded inside it
  rooted(self);
}

/**
 * A recorded write through a view, as PyTorch's CopySlices: the base becomes
 * a copy of its old value whose region holds the new values (the `scatter`
 * primitive, node `CopySlices`: the old base gets the gradient outside the
 * region, the op the region's), and the view becomes that region of the new
 * base (`asStrided`, node AsStridedBackward0).
 */
function commitThroughBase(view: Tensor, base: Tensor, value: Tensor, fn: Node, index: number): void {
  const region = { shape: [...view.shape], strides: [...view.strides], offset: view.offset };
  // read before the base is written: after it, reading the view's node would regenerate it
  const old = view.gradFn;
  const ref = old?.retained.get(view.outputIndex);
  // the new values as the op's output (a write node's values get the node here)
  const produced = value.gradFn === fn ? value : value.alias();
  if (produced !== value) produced.setGradFn(fn, index);
  const next = withGradMode(true, () => base.scatterRegion(produced, region));
  base.writeFrom(next);
  base.setGradFn(next.gradFn as Node, 0);
  const v = withGradMode(true, () => base.asStrided(region));
  if (old && ref?.deref() === view) {
    old.retained.delete(view.outputIndex);
    (v.gradFn as Node).retained.set(0, ref);
  }
  view.setGradFn(v.gradFn as Node, 0);
  rooted(base);
  rooted(view);
  for (const t of [v, next, produced]) if (t !== value) t.dispose();
}

/** After a write: the tangent of the new values, or a zero one where the old values had one. */
function retangent(self: Tensor, tan: Tensor | null): void {
  if (!forwardActive()) return;
  if (tan) setTangent(self, tan);
  else if (tangentOf(self)) setTangent(self, self.newFull(self.shape, 0));
}

/** `add_`, `sub_` (with PyTorch's `alpha` option), `mul_`, `div_`: the out-of-place op, written back. */
export function binary(self: Tensor, op: 'add' | 'sub' | 'mul' | 'div', other: Tensor | number, opts?: AlphaOptions): void {
  if (typeof other !== 'number' && !isTensor(other)) throw argError(`${op}_`, 'other', 'Tensor or Number', other);
  const alpha = op === 'add' || op === 'sub' ? alphaOf(`${op}_`, self, other, opts) : 1;
  const o = typeof other === 'number' ? null : other;
  if (o) checkBroadcastInto(self, o);
  // an integer tensor cannot take a float result (true division, a float operand): PyTorch's can_cast rule
  const floatResult = op === 'div' || (o ? isFloatingDtype(o.dtype) : !Number.isInteger(other));
  if (isIntegralDtype(self.dtype) && floatResult) {
    throw new Error(`result type Float can't be cast to the desired output type ${scalarTypeName(self.dtype)}`);
  }
  const recording = prepare(self, `${op}_`, [o]);
  // mul and div read the old value for the other operand's gradient: PyTorch saves a copy of it
  const a = recording && (op === 'mul' || op === 'div') && o?.requiresGrad ? self.snapshot() : self;
  const out = withGradMode(recording, () => {
    // as PyTorch, an operand of another float dtype is converted to the tensor's
    const b = o && o.dtype !== self.dtype ? o.to(self.dtype) : other;
    try {
      return alpha === 1 ? a[op](b) : scaledBinary(a, op as 'add' | 'sub', b, alpha);
    } finally {
      if (b !== other) (b as Tensor).dispose();
    }
  });
  if (a !== self) a.dispose();
  const tan = tangentOf(out);
  commit(self, out, recording ? { fn: out.gradFn, index: out.outputIndex } : null);
  retangent(self, tan);
  out.dispose();
}

/** `clamp_`: the out-of-place clamp, written back. */
export function clamp(self: Tensor, min?: number | null, max?: number | null): void {
  const lo = min !== undefined && min !== null;
  const hi = max !== undefined && max !== null;
  if (lo) checkNumber('clamp_', 'min', min);
  if (hi) checkNumber('clamp_', 'max', max);
  if (!lo && !hi) throw new Error("torch.clamp: At least one of 'min' or 'max' must not be None");
  if (isIntegralDtype(self.dtype)) {
    // PyTorch's can_cast: a fractional or non-finite bound makes the result a float, which an integer tensor cannot hold;
    // a whole bound must fit the dtype (both checked before anything is written)
    for (const b of [lo ? min : null, hi ? max : null]) {
      if (b === null) continue;
      if (!Number.isInteger(b)) throw new Error(`result type Float can't be cast to the desired output type ${cTypeName(self.dtype)}`);
      checkIntFits(self.dtype as 'int32' | 'int64', b);
    }
  }
  const recording = prepare(self, 'clamp_', []);
  const out = withGradMode(recording, () => self.clamp(min, max));
  const tan = tangentOf(out);
  commit(self, out, recording ? { fn: out.gradFn, index: out.outputIndex } : null);
  retangent(self, tan);
  out.dispose();
}

/** The C type name PyTorch's clamp_ message uses (`long int`, `int`). */
function cTypeName(dtype: DType): string {
  return dtype === 'int64' ? 'long int' : dtype === 'int32' ? 'int' : dtype === 'float64' ? 'double' : 'float';
}

/** PyTorch's refusal of a random fill of an integer tensor (`kernel` names PyTorch's kernel in the message). */
function checkFloatFill(self: Tensor, kernel: string): void {
  if (isIntegralDtype(self.dtype)) throw new Error(`"${kernel}" not implemented for '${scalarTypeName(self.dtype)}'`);
}

/** `copy_`: `src` broadcast, converted and written; recorded as PyTorch's CopyBackwards. */
export function copy(self: Tensor, src: Tensor | number): void {
  if (typeof src !== 'number' && !isTensor(src)) throw argError('copy_', 'src', 'Tensor or Number', src);
  const s = typeof src === 'number' ? null : src;
  if (s) checkBroadcastInto(self, s);
  const recording = prepare(self, 'copy_', [s]);
  const value = suspendForward(() =>
    withGradMode(false, () => {
      if (!s) return self.newFull(self.shape, src as number);
      const e = expandedAs(self, s);
      const c = e.contiguous();
      if (e !== s && e !== c) e.dispose();
      return c;
    }),
  );
  let node: WriteNode | null = null;
  if (recording) {
    // d(copy) : the old value gets a zero gradient, src the whole one (the engine sums and converts it back to src)
    const next: (Edge | null)[] = [self.edge(), s?.requiresGrad ? s.edge() : null];
    const metas = [meta(self), s ? meta(s) : meta(self)];
    node = new WriteNode('CopyBackwards', next, metas, (g, needs) => [needs[0] ? g.newFull(g.shape, 0) : null, needs[1] ? g : null]);
  }
  const ts = s ? tangentOf(s) : null;
  const tan = ts ? suspendForward(() => withGradMode(false, () => expandedAs(self, ts))) : null;
  commit(self, value, node ? { fn: node, index: 0 } : null);
  retangent(self, tan);
  if (value !== src) value.dispose();
}

/**
 * `t` on `self`'s device, in its dtype, expanded to its shape; the
 * intermediate copies are freed (only the result is new, or `t` itself).
 */
function expandedAs(self: Tensor, t: Tensor): Tensor {
  const moved = t.to(self.device);
  const cast = moved.to(self.dtype);
  const e = cast.expand(...self.shape);
  for (const x of new Set([moved, cast])) if (x !== t && x !== e) x.dispose();
  return e;
}

/**
 * `fill_`, `zero_`, `normal_`, `uniform_`: values that do not depend on the
 * old ones; recorded (PyTorch's FillBackward2, ZeroBackward0, ...) with a
 * zero gradient for the old value. A 0-dim tensor `value` (fill_) gets the
 * gradient's sum (FillBackward3).
 */
function overwrite(self: Tensor, op: string, name: string, make: () => Tensor, value: Tensor | null = null): void {
  const recording = prepare(self, op, [value]);
  const fresh = suspendForward(() => withGradMode(false, make));
  let node: WriteNode | null = null;
  if (recording) {
    const next: (Edge | null)[] = value ? [self.edge(), value.requiresGrad ? value.edge() : null] : [self.edge()];
    const metas = value ? [meta(self), meta(value)] : [meta(self)];
    node = new WriteNode(name, next, metas, (g, needs) => [needs[0] ? g.newFull(g.shape, 0) : null, ...(value ? [needs[1] ? g.sum() : null] : [])]);
  }
  const tv = value ? tangentOf(value) : null;
  const tan = tv ? suspendForward(() => withGradMode(false, () => expandedAs(self, tv))) : null;
  commit(self, fresh, node ? { fn: node, index: 0 } : null);
  retangent(self, tan);
  fresh.dispose();
}

/** `fill_(value)`: a number, or a 0-dim tensor (whose gradient is the sum). */
export function fill(self: Tensor, value: Tensor | number): void {
  if (typeof value === 'number') {
    overwrite(self, 'fill_', 'FillBackward2', () => self.newFull(self.shape, value));
    return;
  }
  if (!isTensor(value)) throw argError('fill_', 'value', 'Tensor or Number', value);
  if (value.ndim !== 0) throw new Error(`fill_ only supports 0-dimension value tensor but got tensor with ${value.ndim} dimensions.`);
  if (value.device !== self.device) throw new Error(`Expected all tensors to be on the same device, but found at least two devices, ${self.device} and ${value.device}! (in fill_)`);
  overwrite(
    self,
    'fill_',
    'FillBackward3',
    () => {
      const e = expandedAs(self, value);
      const c = e.contiguous();
      if (e !== value && e !== c) e.dispose();
      return c;
    },
    value,
  );
}

/** `zero_()`. */
export function zero(self: Tensor): void {
  overwrite(self, 'zero_', 'ZeroBackward0', () => self.newFull(self.shape, 0));
}

/** Host values from the seeded stream (tensor/random.ts), uploaded in this tensor's shape. */
function drawn(self: Tensor, draw: () => number): Tensor {
  const n = self.numel();
  const data = hostArray(self.dtype, n);
  for (let i = 0; i < n; i++) data[i] = draw();
  const flat = self.newTensor(Array.from(data));
  if (self.ndim === 1) return flat;
  const shaped = flat.reshape(...self.shape);
  flat.dispose();
  return shaped;
}

/** `normal_(mean, std)`: values of N(mean, std²) from the seeded stream. */
export function normalFill(self: Tensor, mean: number, std: number): void {
  checkNumber('normal_', 'mean', mean);
  checkNumber('normal_', 'std', std);
  if (!(std >= 0)) throw new Error(`normal expects std >= 0.0, but found std ${std}`);
  // PyTorch checks std first, then dispatches on the dtype (an integer tensor has no normal kernel)
  checkFloatFill(self, 'normal_kernel_cpu');
  overwrite(self, 'normal_', 'NormalBackward0', () => drawn(self, () => mean + std * normal()));
}

/** `uniform_(from, to)`: values of U[from, to) from the seeded stream. */
export function uniformFill(self: Tensor, from: number, to: number): void {
  checkNumber('uniform_', 'from', from);
  checkNumber('uniform_', 'to', to);
  checkFloatFill(self, 'check_uniform_bounds');
  if (!(from <= to)) throw new Error(`uniform_ expects to return a [from, to) range, but found from=${from} > to=${to}`);
  overwrite(self, 'uniform_', 'UniformBackward0', () => drawn(self, () => from + (to - from) * uniform()));
}
