/**
 * The Tensor: a strided view of device memory plus its place in the autograd
 * graph, and `apply`, the one door through which every primitive op makes a
 * tensor and records its node. Ops are synchronous on every device; reading
 * values may wait for the device (`await t.data()`).
 *
 * Methods are thin: a primitive is `apply(name, inputs, attrs)` (the table in
 * ops.ts), a composite calls composites.ts, argument checks are shape
 * functions (shape.ts), `backward()` calls the engine (autograd/engine.ts).
 *
 * Follow one op: `x.exp()` calls `apply('exp', [x])` below, which runs the
 * table entry's forward (ops.ts), the kernel built from `formulas.exp`
 * (backend/kernels.ts) on x's device, and records an OpNode
 * (autograd/graph.ts) whose backward is `grad.mul(result)`.
 *
 * NOTE: over 500 lines because the class carries ~90 short public methods,
 * each with its TSDoc; their bodies are one or two lines.
 */
import type { DType, HostArray } from '../backend/types.js';
import type { DeviceBuffer } from '../backend/device.js';
import { DTYPES, hostArray, isFloatingDtype, isIntegralDtype, resultType } from '../backend/types.js';
import { defaults } from './defaults.js';
import { fill, scatter } from '../backend/kernels.js';
import { getDevice } from '../backend/registry.js';
import { AccumulateGrad, OpNode, type Edge, type GradHook, type Node } from '../autograd/graph.js';
import { isGradEnabled, withGradMode } from '../autograd/grad-mode.js';
import { backward, type BackwardOptions } from '../autograd/engine.js';
import * as C from './composites.js';
import { formatTensor, nest, type NestedArray } from './format.js';
import { wrapNdArray, type NdArray } from './ndarray.js';
import { ops, type FusedAttrs, type OpAttrs, type OpName, type OpSpec } from './ops.js';
import { forwardActive, setTangent, suspendForward, tangentOf } from './dual.js';
import {
  broadcastShapes, checkMatmul, contiguousStrides, expandedShape, fmt, inferShape, isContiguousLayout, narrowStart, normDim, normDims, numel, permutation, sameShape, shapeOf, type Dims, type ShapeArgs,
} from './shape.js';
import { Storage, StorageRef, VersionCounter, keep, rooted, tidy, track } from './storage.js';
import * as I from './inplace.js';
import { compact as compactFused, composed as composedFused, MAX_FUSED_INPUTS } from './fuse.js';
import { typeName, argError, checkOptions, checkBool, checkFits, checkInt, checkIntFits, checkIntList, checkNumber, checkTensor, isTensor, tensorBrand } from './check.js';

/** Handle returned by `registerHook`. */
export interface RemovableHandle {
  remove(): void;
}

/**
 * What `JSON.stringify(tensor)` writes (`Tensor.toJSON`): dtype, shape and
 * device name, and the values as nested arrays where they can be read
 * synchronously.
 */
export interface TensorJSON {
  dtype: DType;
  shape: number[];
  device: string;
  /** The values (`arraySync()`); absent on a device that reads asynchronously and for a disposed tensor. */
  data?: NestedArray;
  /** Present (true) for a disposed tensor. */
  disposed?: true;
}

/**
 * An n-dimensional array of float32, float64, int32 or int64 on a device,
 * with reverse-mode autograd (floating point tensors only; docs/spec/dtypes.md).
 * Made by `gg.tensor`, `gg.zeros`, `gg.randn`, ...; ops return new tensors,
 * and the trailing-underscore ops (`add_`, `copy_`, ...) write in place
 * (docs/spec/mutation.md).
 * @example const x = gg.tensor([[1, 2], [3, 4]], { requiresGrad: true }); x.mul(x).sum().backward();
 */
export class Tensor {
  readonly shape: readonly number[];
  readonly strides: readonly number[];
  readonly offset: number;
  readonly dtype: DType;
  private gradValue: Tensor | null = null;
  /**
   * Gradient accumulated by backward (leaves that require grad, or retained).
   * Assigning checks what PyTorch checks: a Tensor (or null) of this tensor's
   * shape, dtype and device.
   * @throws TypeError for a non-tensor; Error `assigned grad has data of a different size` (type, device)
   * @example x.grad = gg.zerosLike(x);
   */
  get grad(): Tensor | null {
    return this.gradValue;
  }
  set grad(g: Tensor | null) {
    if (g !== null && g !== undefined) {
      if (!isTensor(g)) throw new TypeError(`assigned grad expected to be a Tensor or None but got grad of type ${typeName(g)}`);
      if (!sameShape(g.shape, this.shape)) throw new Error(`assigned grad has data of a different size (${fmt(g.shape)}, expected ${fmt(this.shape)})`);
      if (g.dtype !== this.dtype) throw new Error(`assigned grad has data of a different type (${g.dtype}, expected ${this.dtype})`);
      if (g.device !== this.device) throw new Error(`assigned grad has data located on a different device ('${g.device}', expected '${this.device}')`);
    }
    this.gradValue = g ?? null;
  }
  /**
   * The node that produced this tensor (null for leaves). A view whose base
   * was written since its node was recorded gets a new one first
   * (AsStridedBackward0 of the base, PyTorch's view regeneration; docs/notes/mutation.md).
   */
  get gradFn(): Node | null {
    if (this.base && this.viewVersion !== this.versionCounter.value) this.regenerateViewNode(this.base);
    return this.node;
  }
  private node: Node | null = null;
  /** The version this view's node was recorded at (PyTorch's attr_version). */
  private viewVersion = 0;
  private outputNr = 0;
  private leafRequiresGrad = false;
  private accumulator: AccumulateGrad | null = null;
  private ref: StorageRef;
  private disposed = false;
  /** Shared with views, aliases and detached handles (docs/notes/mutation.md). */
  private versionCounter = new VersionCounter();
  /** The tensor this one is a view of (PyTorch's `_base`), null when it owns its layout. */
  private base: Tensor | null = null;

  /** @internal the brand `isTensor` (check.ts) looks for. */
  get [tensorBrand](): true {
    return true;
  }

  /** @internal use `gg.tensor()` and the other creation functions. */
  constructor(storage: Storage, shape: readonly number[], strides: readonly number[], offset: number, dtype: DType) {
    this.shape = Object.freeze([...shape]);
    this.strides = Object.freeze([...strides]);
    this.offset = offset;
    this.dtype = dtype;
    // the finalizer backstop only for a handle made outside every tidy scope (`escape` below)
    this.ref = new StorageRef(this, storage, false);
    if (!track(this)) this.ref.register(this);
  }

  /** @internal this handle outlives the tidy scopes it was made in: the finalizer backstop covers it from now on (storage.ts). */
  escape(): void {
    this.ref.register(this);
  }

  /** @internal a contiguous tensor over new host data. */
  static fromHost(data: HostArray, shape: readonly number[], dtype: DType, device: string): Tensor {
    const dev = getDevice(device);
    const buffer = dev.upload(data, dtype);
    return new Tensor(new Storage(buffer), shape, contiguousStrides(shape), 0, dtype);
  }

  /** @internal a contiguous tensor filled with `value`, computed on the device (no upload). */
  static filled(shape: readonly number[], value: number, dtype: DType, device: string): Tensor {
    const dev = getDevice(device);
    // an integer fill truncates toward zero and must be exact on the device (docs/notes/dtypes.md)
    const v = isIntegralDtype(dtype) ? checkIntFits(dtype as 'int32' | 'int64', value) : value;
    if (isIntegralDtype(dtype)) dev.checkExact([v], dtype);
    const buffer = dev.run(fill(numel(shape), v), [], dtype);
    return new Tensor(new Storage(buffer), shape, contiguousStrides(shape), 0, dtype);
  }

  /** @internal `value` in `shape`, on this tensor's device and dtype (PyTorch's `new_full`). */
  newFull(shape: readonly number[], value: number): Tensor {
    return Tensor.filled(shape, value, this.dtype, this.device);
  }

  /** @internal a 1-D tensor of `values` on this tensor's device and dtype (PyTorch's `new_tensor`). */
  newTensor(values: readonly number[]): Tensor {
    const data = hostArray(this.dtype, values.length);
    data.set(values);
    return Tensor.fromHost(data, [values.length], this.dtype, this.device);
  }

  // ---- properties ---------------------------------------------------------------

  /** The device this tensor lives on, e.g. `'cpu'` or `'gpu:webgpu'`. @example gg.zeros([2]).device // 'cpu' */
  get device(): string {
    return this.ref.storage.device.name;
  }
  /** @internal */
  get storage(): Storage {
    return this.ref.storage;
  }
  /** Number of dims. @example gg.zeros([2, 3]).ndim // 2 */
  get ndim(): number {
    return this.shape.length;
  }
  /** Number of elements. @example gg.zeros([2, 3]).numel() // 6 */
  numel(): number {
    return numel(this.shape);
  }
  /**
   * The shape (PyTorch's `size()`), or the size of one dim (negative counts from the end).
   * @example gg.zeros([2, 3]).size() // [2, 3]; gg.zeros([2, 3]).size(-1) // 3
   */
  size(): number[];
  size(dim: number): number;
  size(dim?: number): number[] | number {
    if (dim === undefined) return [...this.shape];
    return this.shape[normDim(dim, this.ndim)] ?? 1;
  }
  /**
   * True for tensors not produced by a recorded op.
   * @example const w = gg.randn([2], { requiresGrad: true }); w.isLeaf // true; w.mul(2).isLeaf // false
   */
  get isLeaf(): boolean {
    return this.gradFn === null;
  }
  /** Whether gradients flow to this tensor. Settable on leaves only. @example gg.zeros([2]).requiresGrad // false */
  get requiresGrad(): boolean {
    return this.gradFn !== null || this.leafRequiresGrad;
  }
  set requiresGrad(v: boolean) {
    // PyTorch's requires_grad_ message (creation with requiresGrad says "Only Tensors of floating point and complex dtype ...")
    if (v && !isFloatingDtype(this.dtype)) throw new Error('only Tensors of floating point dtype can require gradients');
    if (!this.isLeaf) {
      throw new Error(
        "you can only change requires_grad flags of leaf variables. If you want to use a computed variable in a subgraph that doesn't require differentiation use varNoGrad = v.detach().",
      );
    }
    this.leafRequiresGrad = v;
  }
  /** Set `requiresGrad` and return this (PyTorch's `requires_grad_`). @example const w = gg.randn([3, 3]).requiresGrad_(); */
  requiresGrad_(v = true): this {
    this.requiresGrad = v;
    return this;
  }
  /** Whether the layout is dense row-major from the start of a buffer. @example gg.zeros([2, 3]).t().isContiguous() // false */
  isContiguous(): boolean {
    return isContiguousLayout(this.shape, this.strides, 0);
  }

  // ---- graph plumbing (used by ops.ts and the engine) --------------------------

  /** @internal the edge gradients of this tensor flow along. */
  edge(): Edge | null {
    if (this.gradFn) return { node: this.gradFn, index: this.outputNr };
    if (!this.leafRequiresGrad) return null;
    this.accumulator ??= new AccumulateGrad(this);
    return { node: this.accumulator, index: 0 };
  }
  /** @internal */
  setGradFn(node: Node, outputNr: number): void {
    this.node = node;
    this.outputNr = outputNr;
    this.viewVersion = this.versionCounter.value;
  }

  /**
   * PyTorch's regeneration of a view's `grad_fn`: its base was written (in
   * place, not through this view) since the view's node was recorded, so
   * that node no longer describes where the view's values come from. A view
   * in the graph becomes the region of the base's current value
   * (`asStrided`, AsStridedBackward0), as `commitThroughBase` (inplace.ts)
   * does for the view written through. A view outside the graph (a leaf) stays one.
   */
  private regenerateViewNode(base: Tensor): void {
    this.viewVersion = this.versionCounter.value;
    if (!this.node || !base.requiresGrad || this.disposed || this.ref.released || base.disposed || base.ref.released || base.storage.freed) return;
    const region = { shape: [...this.shape], strides: [...this.strides], offset: this.offset };
    const v = suspendForward(() => withGradMode(true, () => base.asStrided(region)));
    const fresh = v.node as Node;
    const old = this.node;
    const ref = old.retained.get(this.outputNr);
    if (ref?.deref() === this) {
      old.retained.delete(this.outputNr);
      fresh.retained.set(0, ref);
    }
    this.setGradFn(fresh, 0);
    // a view from outside a tidy scope keeps the node recorded inside it
    rooted(this);
    v.dispose();
  }
  /** @internal the output slot of gradFn this tensor is. */
  get outputIndex(): number {
    return this.outputNr;
  }
  /**
   * @internal a second handle on the same data and the same place in the graph,
   * disposed independently (how nodes save tensors for backward).
   */
  alias(): Tensor {
    const t = new Tensor(this.storage, this.shape, this.strides, this.offset, this.dtype);
    keep(t);
    this.giveGraphPlace(t);
    t.versionCounter = this.versionCounter;
    t.base = this.base;
    return t;
  }

  /** `t` takes this tensor's place in the graph: the same producer, or the same leaf sink. */
  private giveGraphPlace(t: Tensor): void {
    t.node = this.gradFn;
    t.outputNr = this.outputNr;
    t.viewVersion = this.viewVersion;
    t.leafRequiresGrad = this.leafRequiresGrad;
    if (this.leafRequiresGrad && !this.gradFn) {
      this.accumulator ??= new AccumulateGrad(this);
      t.accumulator = this.accumulator;
    }
  }

  /**
   * @internal a tensor of its own over the current values, without a copy
   * when this one is its whole buffer (the new storage points at the same
   * buffer, which is never written): what `.grad` holds, so writing one
   * gradient in place never reaches another. `keepGraph` keeps this tensor's
   * place in the graph (createGraph).
   */
  fork(keepGraph: boolean): Tensor {
    this.checkAlive();
    const t = this.isDenseBuffer() ? new Tensor(this.storage.fork(), this.shape, this.strides, 0, this.dtype) : this.contiguousCopy();
    if (keepGraph) this.giveGraphPlace(t);
    return t;
  }

  /**
   * @internal a copy of the current values in a new storage, with this tensor's
   * place in the graph and its tangent: what an in-place op saves when its
   * backward needs the value it overwrites (PyTorch saves `self.clone()` there).
   */
  snapshot(): Tensor {
    const d = this.detach();
    const c = suspendForward(() => withGradMode(false, () => apply('contiguous', [d], {})));
    d.dispose();
    this.giveGraphPlace(c);
    const tan = tangentOf(this);
    if (tan) setTangent(c, tan);
    return c;
  }

  /**
   * How many times this tensor's data has been written in place (PyTorch's
   * `_version`); views and `detach()`ed handles share the count. The graph
   * records it for every tensor it saves, and backward refuses a saved tensor
   * whose count moved (docs/notes/mutation.md).
   * @example const x = gg.zeros([2]); x.add_(1); x.version // 1
   */
  get version(): number {
    return this.versionCounter.value;
  }

  /** @internal the tensor this one is a view of (PyTorch's `_base`), or null. */
  get viewBase(): Tensor | null {
    return this.base;
  }

  /** @internal `view` is a view of this tensor's data: it shares the version counter and the base. */
  markView(view: Tensor): void {
    view.versionCounter = this.versionCounter;
    view.base = this.base ?? this;
    view.viewVersion = this.versionCounter.value;
  }

  /**
   * @internal write `value` (this tensor's shape, dtype and device) into this
   * tensor's memory, where every view and saved handle of it sees it, and
   * count the write. A tensor that is its whole buffer takes `value`'s buffer
   * (no copy); a strided view gets a new buffer with its region replaced.
   */
  writeFrom(value: Tensor): void {
    const dense = value.isDenseBuffer() ? value : value.contiguousCopy();
    if (this.isDenseBuffer()) {
      this.storage.share(dense.storage);
    } else {
      const buf = this.storage.device.run(scatter(this.storage.buffer.size, this.shape, this.strides, this.offset), [this.storage.buffer, dense.storage.buffer], this.dtype);
      this.storage.replace(buf);
    }
    if (dense !== value) dense.dispose();
    this.versionCounter.value++;
  }
  /** @internal throws when the tensor was disposed. */
  checkAlive(): void {
    if (this.disposed || this.ref.released || this.storage.freed) {
      throw new Error(`Tensor of shape ${fmt(this.shape)} on '${this.device}' was disposed and cannot be used`);
    }
  }
  /**
   * @internal replace this tensor's values in place (optimisers, running
   * statistics, loading state dicts): a write like `copy_` without autograd,
   * counted by the version counter, seen by views of this tensor.
   */
  assign(src: Tensor): void {
    this.checkAlive();
    src.checkAlive();
    if (src.device !== this.device || src.dtype !== this.dtype || !sameShape(src.shape, this.shape)) {
      throw new Error(`cannot assign a ${src.dtype} ${fmt(src.shape)} tensor on '${src.device}' to a ${this.dtype} ${fmt(this.shape)} tensor on '${this.device}'`);
    }
    I.checkNoOverlap(this);
    this.writeFrom(src);
  }

  /**
   * Copy `src`'s values into this tensor in place (PyTorch's `copy_`):
   * broadcast to this shape, converted to this dtype and device. Recorded by
   * autograd in grad mode (`CopyBackwards`: `src` gets the gradient, the old
   * value gets zeros); refused on a leaf that requires grad unless inside
   * `gg.noGrad`. Counts as a write for the version counter.
   * Shapes: `src` broadcastable to `this.shape`. Dtypes: any float dtype.
   * @throws TypeError when `src` is not a Tensor or number; Error `a leaf Variable that requires grad is being used in an in-place operation.`;
   *   Error `output with shape [..] doesn't match the broadcast shape [..]` (PyTorch's messages). A failed call changes nothing.
   * Reference: torch.Tensor.copy_.
   * @example gg.noGrad(() => layer.weight.copy_(gg.zeros(layer.weight.shape)));
   */
  copy_(src: Tensor | number): this {
    I.copy(this, src);
    return this;
  }

  // ---- in-place ops (tensor/inplace.ts; docs/notes/mutation.md) ---------------------

  /**
   * Add `other` in place (PyTorch's `add_`): `this += other`, `other`
   * broadcast to this shape (it must not grow it). Recorded by autograd in
   * grad mode, where this tensor's `gradFn` becomes AddBackward0 (through a
   * view: its base's becomes CopySlices); refused on a leaf that requires
   * grad (use `gg.noGrad`) and on a view of one. Views of this tensor see the new values; the version counter
   * counts the write, so a graph that saved this tensor refuses to backward.
   * Dtypes: an operand of the other float dtype is converted to this one.
   * With `{ alpha }` it adds alpha·other (PyTorch's `x.add_(y, alpha=2)`).
   * @throws TypeError for a non-tensor, non-number `other`, a non-number
   *   alpha or an unknown option; Error `For integral input tensors, argument
   *   alpha must not be a floating point number.`, Error `a leaf Variable that requires grad is being used in an in-place operation.`,
   *   `output with shape [2] doesn't match the broadcast shape [2, 2]`, `unsupported operation: more than one element of the written-to tensor refers to a single memory location. ...`
   *   (PyTorch's messages). A failed call changes nothing.
   * Reference: torch.Tensor.add_.
   * @example const y = x.mul(2); y.add_(1); y.gradFn!.name // 'AddBackward0'
   * @example const a = gg.ones([3]); a.add_(gg.tensor([1, 2, 3]), { alpha: 2 }) // [3, 5, 7]
   */
  add_(other: Tensor | number, opts?: C.AlphaOptions): this {
    I.binary(this, 'add', other, opts);
    return this;
  }
  /**
   * Subtract in place (PyTorch's `sub_`, `{ alpha }` included: x -= alpha·other); rules, errors and shapes as `add_` (SubBackward0).
   * Reference: torch.Tensor.sub_.
   * @example gg.noGrad(() => w.sub_(w.grad!.mul(0.1)));
   */
  sub_(other: Tensor | number, opts?: C.AlphaOptions): this {
    I.binary(this, 'sub', other, opts);
    return this;
  }
  /**
   * Multiply in place (PyTorch's `mul_`); rules, errors and shapes as `add_`
   * (MulBackward0). When `other` requires grad the old value is kept for its
   * gradient, as PyTorch does.
   * Reference: torch.Tensor.mul_.
   * @example gg.tensor([1, 2]).mul_(3) // [3, 6]
   */
  mul_(other: Tensor | number): this {
    I.binary(this, 'mul', other);
    return this;
  }
  /**
   * Divide in place (PyTorch's `div_`); rules, errors and shapes as `add_` (DivBackward0).
   * Reference: torch.Tensor.div_.
   * @example gg.tensor([2, 4]).div_(2) // [1, 2]
   */
  div_(other: Tensor | number): this {
    I.binary(this, 'div', other);
    return this;
  }
  /**
   * Limit to [min, max] in place (PyTorch's `clamp_`; either bound may be
   * omitted, not both). Values, gradient and NaN handling as `clamp`.
   * @throws Error `torch.clamp: At least one of 'min' or 'max' must not be None`; TypeError for a non-number bound; the in-place refusals of `add_`.
   * Reference: torch.Tensor.clamp_.
   * @example gg.tensor([-2, 0.5, 3]).clamp_(0, 1) // [0, 0.5, 1]
   */
  clamp_(min?: number | null, max?: number | null): this {
    I.clamp(this, min, max);
    return this;
  }
  /**
   * Set every element to `value` in place (PyTorch's `fill_`): a number, or a
   * 0-dim tensor (whose gradient is then the sum of this tensor's gradient,
   * FillBackward3). Recorded in grad mode as FillBackward2 (the old values
   * get a zero gradient).
   * @throws Error `fill_ only supports 0-dimension value tensor but got tensor with 1 dimensions.`; the in-place refusals of `add_`.
   * Reference: torch.Tensor.fill_.
   * @example gg.zeros([2]).fill_(7) // [7, 7]
   */
  fill_(value: Tensor | number): this {
    I.fill(this, value);
    return this;
  }
  /**
   * Set every element to 0 in place (PyTorch's `zero_`; ZeroBackward0 in grad mode).
   * @throws the in-place refusals of `add_`.
   * Reference: torch.Tensor.zero_.
   * @example gg.noGrad(() => w.grad!.zero_());
   */
  zero_(): this {
    I.zero(this);
    return this;
  }
  /**
   * Fill in place with samples of N(mean, std²) from the seeded stream
   * (`gg.manualSeed`; the same numbers as `gg.randn` scaled; PyTorch's
   * generator gives other numbers). NormalBackward0 in grad mode.
   * @throws Error `normal expects std >= 0.0, but found std -1`; TypeError for non-numbers; the in-place refusals of `add_`.
   * Reference: torch.Tensor.normal_.
   * @example gg.noGrad(() => layer.weight.normal_(0, 0.02));
   */
  normal_(mean = 0, std = 1): this {
    I.normalFill(this, mean, std);
    return this;
  }
  /**
   * Fill in place with samples of U[from, to) from the seeded stream
   * (`gg.manualSeed`). UniformBackward0 in grad mode.
   * @throws Error `uniform_ expects to return a [from, to) range, but found from=1 > to=0`; TypeError for non-numbers; the in-place refusals of `add_`.
   * Reference: torch.Tensor.uniform_.
   * @example gg.noGrad(() => layer.bias!.uniform_(-0.1, 0.1));
   */
  uniform_(from = 0, to = 1): this {
    I.uniformFill(this, from, to);
    return this;
  }

  /**
   * @internal take over another tensor's data, even with another shape,
   * device or dtype, keeping this object's identity (PyTorch's `set_`:
   * `module.to()` moves parameters so, unsafe parametrizations reshape them).
   * Counted as a write by the version counter, as `set_` is.
   */
  rehome(src: Tensor): void {
    this.checkAlive();
    this.adopt(src);
    this.versionCounter.value++;
  }

  /** Share `src`'s data (a dense copy of it when it is a strided view) from now on. */
  private adopt(src: Tensor): void {
    const data = src.isContiguous() ? src : src.contiguous();
    const next = new StorageRef(this, data.storage);
    this.ref.release();
    this.ref = next;
    const self = this as { shape: readonly number[]; strides: readonly number[]; offset: number; dtype: DType };
    self.shape = Object.freeze([...data.shape]);
    self.strides = Object.freeze(contiguousStrides(data.shape));
    self.offset = 0;
    self.dtype = data.dtype;
    if (data !== src) data.dispose();
  }

  // ---- memory ---------------------------------------------------------------------

  /**
   * Release this handle's claim on device memory now. Other views and saved
   * graph values keep the data alive until they are released too.
   * @example const t = gg.ones([1024, 1024], { device: 'gpu' }); t.dispose();
   */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.ref.release();
  }
  /** Whether `dispose()` was called. @example t.dispose(); t.isDisposed // true */
  get isDisposed(): boolean {
    return this.disposed;
  }

  // ---- reading values -------------------------------------------------------------

  /**
   * The values as a flat typed array (row-major), once the device is done.
   * @example await gg.tensor([[1, 2], [3, 4]]).data() // Float32Array [1, 2, 3, 4]
   */
  async data(): Promise<HostArray> {
    this.checkAlive();
    if (this.isDenseBuffer()) return this.storage.device.read(this.storage.buffer);
    const c = this.contiguousCopy();
    try {
      return await c.storage.device.read(c.storage.buffer);
    } finally {
      c.dispose();
    }
  }

  /**
   * The values, synchronously; devices whose results arrive later throw
   * and ask for `await t.data()`.
   * @example gg.tensor([1, 2]).dataSync() // Float32Array [1, 2]
   */
  dataSync(): HostArray {
    this.checkAlive();
    if (this.isDenseBuffer()) return this.storage.device.readSync(this.storage.buffer);
    const c = this.contiguousCopy();
    try {
      return c.storage.device.readSync(c.storage.buffer);
    } finally {
      c.dispose();
    }
  }

  /** @internal host data for a device transfer (needs a synchronously readable source). */
  dataSyncForTransfer(): HostArray {
    if (!this.storage.device.syncRead) {
      throw new Error(`cannot move a tensor off '${this.device}' synchronously: its results arrive asynchronously; use 'await t.toAsync(device)'`);
    }
    return this.dataSync();
  }

  /**
   * The values as nested arrays.
   * @example await gg.tensor([[1, 2], [3, 4]]).array() // [[1, 2], [3, 4]]
   */
  async array(): Promise<NestedArray> {
    return nest(await this.data(), this.shape);
  }
  /** Nested arrays, synchronously (where `dataSync` works). @example gg.tensor([[1, 2], [3, 4]]).arraySync() // [[1, 2], [3, 4]] */
  arraySync(): NestedArray {
    return nest(this.dataSync(), this.shape);
  }

  /**
   * The values as a scijs `ndarray` (the `ndarray` package's object) of this
   * tensor's shape, over a new row-major buffer read from the device: a
   * Float32Array or Float64Array, as the dtype. Writing to it does not change
   * the tensor. Hands gpugrad's values to the scijs packages (ndarray-ops,
   * ndarray-fft, ...); `gg.tensor(nd)` brings an ndarray (any view) back.
   * @example
   * const nd = await gg.tensor([[1, 2, 3], [4, 5, 6]]).ndarray();
   * nd.shape;     // [2, 3]
   * nd.get(1, 0); // 4
   * nd.transpose(1, 0).get(0, 1); // 4
   */
  async ndarray(): Promise<NdArray> {
    return wrapNdArray(await this.data(), this.shape);
  }
  /**
   * `ndarray()`, synchronously (where `dataSync` works; devices whose results
   * arrive later throw and ask for `await t.ndarray()`).
   * @example gg.arange(6).reshape(2, 3).ndarraySync().get(1, 2) // 5
   */
  ndarraySync(): NdArray {
    return wrapNdArray(this.dataSync(), this.shape);
  }

  /**
   * The single value of a one-element tensor.
   * @example await gg.tensor([[3]]).item() // 3
   */
  async item(): Promise<number> {
    this.checkItem();
    return (await this.data())[0] ?? NaN;
  }
  /** `item()`, synchronously (where `dataSync` works). @example gg.tensor([[3]]).itemSync() // 3 */
  itemSync(): number {
    this.checkItem();
    return this.dataSync()[0] ?? NaN;
  }
  private checkItem(): void {
    if (this.numel() !== 1) throw new Error(`a Tensor with ${this.numel()} elements cannot be converted to Scalar`);
  }
  /** @internal whether this tensor is its whole buffer, densely. */
  isDenseBuffer(): boolean {
    return this.isContiguous() && this.storage.buffer.size === this.numel();
  }
  /** @internal a dense copy of the values, outside the graph. */
  contiguousCopy(): Tensor {
    // NOTE: the detached handle holds a reference to the storage; release it now, not at GC
    const d = this.detach();
    try {
      return apply('contiguous', [d], {});
    } finally {
      d.dispose();
    }
  }

  /**
   * The tensor as PyTorch prints it: `tensor([[1., 5., 3.]], dtype=torch.float64, requires_grad=True)`,
   * summarised past 1000 elements; on a device that reads only asynchronously, the size instead of the values.
   * @example String(gg.tensor([1, 2])) // 'tensor([1., 2.])'
   */
  toString(): string {
    return formatTensor(this);
  }

  /**
   * What `JSON.stringify(t)` writes (the JSON hook): `{ dtype, shape, device,
   * data }`, where `data` holds the values as nested arrays (`arraySync()`,
   * PyTorch's `tolist()`; a 0-d tensor gives a number). Why this shape: the
   * tensor's own fields are device handles and graph nodes, which meant
   * nothing in JSON and dumped the device; this is what a log or a saved
   * config needs, and `gg.tensor(j.data, { dtype: j.dtype })` reads it back.
   * No gradient, graph or device internals are written.
   *
   * `data` is left out where the values cannot be read synchronously: on a
   * device whose results arrive later (`await t.array()` there) and for a
   * disposed tensor (which gets `disposed: true`). JSON has no NaN or
   * ±Infinity: `JSON.stringify` writes them as null.
   * @example JSON.stringify(gg.tensor([[1, 2], [3, 4]])) // '{"dtype":"int64","shape":[2,2],"device":"cpu","data":[[1,2],[3,4]]}'
   */
  toJSON(): TensorJSON {
    const head = { dtype: this.dtype, shape: [...this.shape], device: this.device };
    if (this.disposed) return { ...head, disposed: true };
    if (!this.storage.device.syncRead) return head;
    return { ...head, data: this.arraySync() };
  }

  /**
   * What `console.log(t)` and `util.inspect(t)` print in Node: the same as `toString()`
   * (instead of the internals). The symbol is Node's `util.inspect.custom`,
   * got through `Symbol.for` so this module needs no Node import.
   */
  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return formatTensor(this);
  }

  // ---- autograd -------------------------------------------------------------------

  /**
   * Compute gradients of this tensor with respect to the graph's leaves and
   * accumulate them into their `.grad` (PyTorch's `Tensor.backward`).
   * The options may also come first, without a gradient (as PyTorch's
   * `loss.backward(retain_graph=True)` reads): a plain object that is neither
   * a Tensor nor an array, with no second argument, is the options.
   * @throws TypeError `backward() got an unexpected keyword argument 'k'` for
   *   an option key other than retainGraph, createGraph, inputs
   * @example
   * const x = gg.tensor([1, 2, 3], { requiresGrad: true });
   * x.mul(x).sum().backward(); // x.grad = [2, 4, 6]
   * @example
   * const loss = x.mul(x).sum();
   * loss.backward({ retainGraph: true }); // the same as loss.backward(undefined, { retainGraph: true })
   */
  backward(gradient?: Tensor | BackwardOptions, opts?: BackwardOptions): void {
    // options first (no gradient): a plain object, not a Tensor, not an array
    if (opts === undefined && gradient !== undefined && gradient !== null && typeof gradient === 'object' && !(gradient instanceof Tensor) && !Array.isArray(gradient)) {
      backward(this, undefined, gradient as BackwardOptions);
      return;
    }
    backward(this, gradient as Tensor | undefined, opts ?? {});
  }

  /**
   * Keep `.grad` on this non-leaf tensor after backward.
   * @example const y = x.mul(2); y.retainGrad(); y.sum().backward(); // y.grad is ones
   */
  retainGrad(): void {
    if (this.gradFn) this.gradFn.retained.set(this.outputNr, new WeakRef(this));
    else if (!this.leafRequiresGrad) throw new Error("can't retain_grad on Tensor that has requires_grad=False");
  }

  /**
   * Run `fn` on this tensor's gradient when it is computed; a returned tensor
   * replaces the gradient.
   * @example x.registerHook((g) => g.mul(2));
   */
  registerHook(fn: GradHook): RemovableHandle {
    const edge = this.edge();
    if (!edge) throw new Error("cannot register a hook on a tensor that doesn't require gradient");
    const list = edge.node.preHooks.get(edge.index) ?? [];
    list.push(fn);
    edge.node.preHooks.set(edge.index, list);
    return { remove: () => list.splice(list.indexOf(fn) >>> 0, 1) };
  }

  /**
   * A new tensor on the same data, cut from the graph.
   * @example const y = x.mul(2).detach(); // y.requiresGrad === false
   */
  detach(): Tensor {
    this.checkAlive();
    const t = new Tensor(this.storage, this.shape, this.strides, this.offset, this.dtype);
    // as PyTorch: a detached tensor shares the version counter (writes through it are seen by the graph)
    t.versionCounter = this.versionCounter;
    return t;
  }

  /**
   * A copy with its own memory; gradients flow back to this tensor.
   * @example const y = x.clone();
   */
  clone(): Tensor {
    return apply('contiguous', [this], {});
  }

  /**
   * This tensor as a dense row-major layout (itself when it already is one).
   * @example x.transpose(0, 1).contiguous()
   */
  contiguous(): Tensor {
    return this.isContiguous() ? this : apply('contiguous', [this], {});
  }

  /**
   * Move to a device or convert the dtype: `t.to('gpu:webasm')`, `t.to('float64')`,
   * `t.to('int64')`. Gradients flow back across a move or a float cast; a cast
   * to an integer dtype truncates toward zero (as PyTorch) and carries no gradient.
   * @throws RangeError when an integer value cannot be held exactly on the target device (docs/notes/dtypes.md)
   * @example gg.tensor([1, 2]).to('float64').dtype // 'float64'
   */
  to(target: string): Tensor {
    this.checkAlive();
    if (isDtype(target)) {
      return target === this.dtype ? this : apply('cast', [this], { dtype: target });
    }
    const dev = getDevice(target);
    if (dev.name === this.device) return this;
    dev.checkDtype(this.dtype);
    return apply('toDevice', [this], { device: dev.name });
  }

  /** `to(device)` from any device, waiting for asynchronous results. @example const host = await y.toAsync('cpu'); */
  async toAsync(target: string): Promise<Tensor> {
    if (this.storage.device.syncRead || isDtype(target)) return this.to(target);
    const data = await this.data();
    const out = Tensor.fromHost(data, this.shape, this.dtype, target);
    out.requiresGrad = this.requiresGrad && this.isLeaf;
    return out;
  }
  /** As float64. @example gg.tensor([1]).double().dtype // 'float64' */
  double(): Tensor {
    return this.to('float64');
  }
  /** As float32. @example gg.tensor([1], { dtype: 'float64' }).float().dtype // 'float32' */
  float(): Tensor {
    return this.to('float32');
  }
  /** As int64, truncating toward zero (PyTorch's `long()`). @example gg.tensor([1.7, -1.7]).long() // tensor([1, -1]) */
  long(): Tensor {
    return this.to('int64');
  }
  /** As int32, truncating toward zero (PyTorch's `int()`). @example gg.tensor([1.7]).int().dtype // 'int32' */
  int(): Tensor {
    return this.to('int32');
  }
  /** Whether the dtype is float32 or float64 (PyTorch's `is_floating_point()`). @example gg.tensor([1]).isFloatingPoint() // false */
  isFloatingPoint(): boolean {
    return isFloatingDtype(this.dtype);
  }

  // ---- elementwise math -------------------------------------------------------------

  /**
   * @internal a number as a scalar tensor on this device: this tensor's dtype,
   * except that a fractional (or non-finite) number next to an integer tensor
   * is a default-dtype float, as PyTorch wraps a Python float (docs/spec/dtypes.md#promotion).
   */
  scalar(v: number): Tensor {
    const dtype = isIntegralDtype(this.dtype) && !Number.isInteger(v) ? defaults.dtype : this.dtype;
    const data = hostArray(dtype, 1);
    data[0] = v;
    return Tensor.fromHost(data, [], dtype, this.device);
  }
  /**
   * `op(this, o)` for a tensor or a number operand; a number becomes a scalar
   * tensor that is freed as soon as the op has run (the graph keeps its own
   * handle when it saves it). Anything else is refused, naming the argument.
   */
  private binary(op: 'add' | 'sub' | 'mul' | 'div' | 'pow' | 'maximum' | 'minimum' | 'eq' | 'ne' | 'lt' | 'le' | 'gt' | 'ge', arg: string, o: Tensor | number): Tensor {
    if (typeof o === 'number') {
      const s = this.scalar(o);
      try {
        return apply(op, [this, s], {});
      } finally {
        s.dispose();
      }
    }
    if (!isTensor(o)) throw argError(op, arg, 'Tensor or Number', o);
    return apply(op, [this, o], {});
  }

  /**
   * Elementwise sum `x + alpha·other` with broadcasting (PyTorch's
   * `torch.add(input, other, *, alpha=1)`); dtype by PyTorch's promotion.
   * Gradient: g for x, alpha·g for a tensor `other` (node AddBackward0).
   * @throws TypeError when `other` is neither a tensor nor a number, for a
   *   non-number alpha or an unknown option (`add() got an unexpected keyword
   *   argument 'k'`); Error `For integral input tensors, argument alpha must
   *   not be a floating point number.`; the broadcast error for shapes that
   *   do not broadcast
   * @example gg.tensor([1, 2]).add(1) // [2, 3]
   * @example gg.tensor([1, 1]).add(gg.tensor([1, 2]), { alpha: 2 }) // [3, 5]
   */
  add(o: Tensor | number, opts?: C.AlphaOptions): Tensor {
    if (opts === undefined) return this.binary('add', 'other', o);
    const alpha = C.alphaOf('add', this, o, opts);
    return alpha === 1 ? this.binary('add', 'other', o) : C.scaledBinary(this, 'add', o, alpha);
  }
  /**
   * Elementwise difference `x - alpha·other` with broadcasting (PyTorch's
   * `torch.sub(input, other, *, alpha=1)`); rules and errors as `add`
   * (node SubBackward0).
   * @example gg.tensor([1, 2]).sub(1) // [0, 1]
   * @example gg.tensor([1, 1]).sub(gg.tensor([1, 2]), { alpha: 2 }) // [-1, -3]
   */
  sub(o: Tensor | number, opts?: C.AlphaOptions): Tensor {
    if (opts === undefined) return this.binary('sub', 'other', o);
    const alpha = C.alphaOf('sub', this, o, opts);
    return alpha === 1 ? this.binary('sub', 'other', o) : C.scaledBinary(this, 'sub', o, alpha);
  }
  /**
   * The reversed difference `other - alpha·x` (PyTorch's `torch.rsub` and
   * `x.__rsub__`), the way to write `1 - x`: `x.rsub(1)`.
   *
   * Shapes broadcast as in `sub`; `other` is a number or a tensor of `x`'s
   * dtype and device. Gradient: `-alpha` for `x`, 1 for a tensor `other`.
   * @throws TypeError when `other` is neither a tensor nor a number, or
   *   `alpha` is not a number
   * @example gg.tensor([0.25, 1]).rsub(1) // [0.75, 0]
   * @example gg.tensor([1, 2]).rsub(10, { alpha: 2 }) // [8, 6]
   */
  rsub(other: Tensor | number, opts: { alpha?: number } = {}): Tensor {
    return C.rsub(this, other, opts);
  }
  /** Elementwise product. @example gg.tensor([1, 2]).mul(3) // [3, 6] */
  mul(o: Tensor | number): Tensor {
    return this.binary('mul', 'other', o);
  }
  /** Elementwise quotient. @example gg.tensor([1, 2]).div(2) // [0.5, 1] */
  div(o: Tensor | number): Tensor {
    return this.binary('div', 'other', o);
  }
  /**
   * Elementwise power. Integer tensors use PyTorch's integer power (a
   * negative tensor exponent gives 0 unless the base is ±1).
   * @throws Error `Integers to negative integer powers are not allowed.` for an
   *   integer tensor and a negative whole number exponent (PyTorch's message)
   * @example gg.tensor([2, 3]).pow(2) // [4, 9]
   */
  pow(o: Tensor | number): Tensor {
    // PyTorch computes x^0.5 as sqrt(x): NaN at -inf (Math.pow gives inf), gradient -inf at -0
    if (o === 0.5) return this.sqrt();
    // an integer result cannot hold a fraction: PyTorch refuses a negative whole number exponent of an integer tensor
    if (typeof o === 'number' && Number.isInteger(o) && o < 0 && isIntegralDtype(this.dtype)) {
      this.checkAlive();
      throw new Error('Integers to negative integer powers are not allowed.');
    }
    return this.binary('pow', 'exponent', o);
  }
  /**
   * Elementwise larger value, broadcast (torch.maximum): NaN where either is NaN; on a tie of +0
   * and -0 this tensor's value (the first operand, as PyTorch's scalar loop); a tie splits the
   * gradient in half (docs/notes/special-values.md, "The sign of zero").
   * @example gg.tensor([1, 5]).maximum(gg.tensor([3, 2])) // [3, 5]
   */
  maximum(o: Tensor | number): Tensor {
    return this.binary('maximum', 'other', o);
  }
  /**
   * Elementwise smaller value, broadcast (torch.minimum); NaN, ±0 ties and the gradient as `maximum`.
   * @example gg.tensor([1, 5]).minimum(2) // [1, 2]
   */
  minimum(o: Tensor | number): Tensor {
    return this.binary('minimum', 'other', o);
  }
  /** -x. @example gg.tensor([1]).neg() // [-1] */
  neg(): Tensor {
    return apply('neg', [this], {});
  }
  /** e^x. @example gg.tensor([0]).exp() // [1] */
  exp(): Tensor {
    return apply('exp', [this], {});
  }
  /** Natural log. @example gg.tensor([1]).log() // [0] */
  log(): Tensor {
    return apply('log', [this], {});
  }
  /** Square root. @example gg.tensor([4]).sqrt() // [2] */
  sqrt(): Tensor {
    return apply('sqrt', [this], {});
  }
  /** 1/sqrt(x). @example gg.tensor([4]).rsqrt() // [0.5] */
  rsqrt(): Tensor {
    return C.rsqrt(this);
  }
  /** 1/x. @example gg.tensor([4]).reciprocal() // [0.25] */
  reciprocal(): Tensor {
    return C.reciprocal(this);
  }
  /** x². @example gg.tensor([3]).square() // [9] */
  square(): Tensor {
    return C.square(this);
  }
  /** |x|. @example gg.tensor([-2]).abs() // [2] */
  abs(): Tensor {
    return apply('abs', [this], {});
  }
  /** -1, 0 or 1. @example gg.tensor([-2, 0, 3]).sign() // [-1, 0, 1] */
  sign(): Tensor {
    return apply('sign', [this], {});
  }
  /**
   * The largest integer <= x, elementwise (PyTorch's `torch.floor`).
   *
   * Shape and dtype: as `x`. ±inf, NaN and -0 stay as they are. Gradient
   * and forward-mode tangent are zero (the node is `FloorBackward0`, as in
   * PyTorch), so a loss through it still reaches the inputs, with zeros.
   * @example gg.tensor([-1.5, 0.5, 2]).floor() // [-2, 0, 2]
   */
  floor(): Tensor {
    return apply('floor', [this], {});
  }
  /**
   * The smallest integer >= x, elementwise (PyTorch's `torch.ceil`).
   *
   * Shape and dtype: as `x`; ceil(-0.5) is -0. Zero gradient and tangent
   * (`CeilBackward0`), as in PyTorch.
   * @example gg.tensor([-1.5, 0.5, 2]).ceil() // [-1, 1, 2]
   */
  ceil(): Tensor {
    return apply('ceil', [this], {});
  }
  /**
   * The nearest integer, halves to the even neighbour (PyTorch's
   * `torch.round`, IEEE round-half-to-even: 0.5 → 0, 1.5 → 2, 2.5 → 2,
   * -0.5 → -0), unlike JavaScript's `Math.round` (halves up).
   *
   * `decimals` (PyTorch's keyword `decimals`, an integer, default 0) rounds
   * to that many decimal places, negative ones to tens, hundreds, ...,
   * computed as PyTorch does: round(x·10^d) / 10^d, or round(x / 10^-d)·10^-d
   * for d < 0, in the tensor's dtype (so 2.675 gives 2.68 in float64, as
   * x·100 rounds to 267.5 first).
   *
   * Shape and dtype: as `x`. Zero gradient and tangent (`RoundBackward0`;
   * with decimals the node is the final mul/div's), as in PyTorch.
   * @throws TypeError when `decimals` is not a whole number, the options
   *   are not an object, or for an unknown option
   * @example gg.tensor([0.5, 1.5, 2.5, -0.5, 2.6]).round() // [0, 2, 2, -0, 3]
   * @example gg.tensor([1.2345, 1234.5], { dtype: 'float64' }).round({ decimals: 2 }) // [1.23, 1234.5]
   * @example gg.tensor([1234.5]).round({ decimals: -2 }) // [1200]
   */
  round(opts: { decimals?: number } = {}): Tensor {
    const decimals = checkInt('round', 'decimals', checkOptions('round', opts, ['decimals']).decimals ?? 0);
    if (decimals === 0) return apply('round', [this], {});
    return C.roundDecimals(this, decimals);
  }
  /** max(x, 0): +0 for negative x, -0 and NaN kept; the gradient at ±0 is 0, as in PyTorch (torch.relu). @example gg.tensor([-1, 2]).relu() // [0, 2] */
  relu(): Tensor {
    return C.relu(this);
  }
  /** 1/(1+e^-x). @example gg.tensor([0]).sigmoid() // [0.5] */
  sigmoid(): Tensor {
    return apply('sigmoid', [this], {});
  }
  /** Hyperbolic tangent. @example gg.tensor([0]).tanh() // [0] */
  tanh(): Tensor {
    return apply('tanh', [this], {});
  }
  /**
   * Limit to [min, max] (either may be omitted); the gradient passes where
   * min <= x <= max, as in PyTorch.
   * @example gg.tensor([-2, 0.5, 3]).clamp(0, 1) // [0, 0.5, 1]
   */
  clamp(min?: number | null, max?: number | null): Tensor {
    if (min !== undefined && min !== null) checkNumber('clamp', 'min', min);
    if (max !== undefined && max !== null) checkNumber('clamp', 'max', max);
    return C.clamp(this, min, max);
  }
  /** 1 where equal, else 0. @example gg.tensor([1, 2]).eq(2) // [0, 1] */
  eq(o: Tensor | number): Tensor {
    return this.binary('eq', 'other', o);
  }
  /** 1 where not equal. @example gg.tensor([1, 2]).ne(2) // [1, 0] */
  ne(o: Tensor | number): Tensor {
    return this.binary('ne', 'other', o);
  }
  /** 1 where less. @example gg.tensor([1, 2]).lt(2) // [1, 0] */
  lt(o: Tensor | number): Tensor {
    return this.binary('lt', 'other', o);
  }
  /** 1 where less or equal. @example gg.tensor([1, 2, 3]).le(2) // [1, 1, 0] */
  le(o: Tensor | number): Tensor {
    return this.binary('le', 'other', o);
  }
  /** 1 where greater. @example gg.tensor([1, 2]).gt(1) // [0, 1] */
  gt(o: Tensor | number): Tensor {
    return this.binary('gt', 'other', o);
  }
  /** 1 where greater or equal. @example gg.tensor([1, 2, 3]).ge(2) // [0, 1, 1] */
  ge(o: Tensor | number): Tensor {
    return this.binary('ge', 'other', o);
  }
  /**
   * This tensor where `condition` is non-zero, else `other` (PyTorch's `Tensor.where`).
   * @example gg.tensor([1, 2]).where(gg.tensor([1, 0]), 0) // [1, 0]
   */
  where(condition: Tensor, other: Tensor | number): Tensor {
    checkTensor('where', 'condition', condition);
    if (typeof other !== 'number' && !isTensor(other)) throw argError('where', 'other', 'Tensor or Number', other);
    const o = typeof other === 'number' ? this.scalar(other) : other;
    try {
      // the condition is read as "non-zero", in the branches' promoted dtype (apply casts)
      return apply('where', [condition, this, o], {});
    } finally {
      // temporaries made here are freed now; the graph holds its own handles
      if (o !== other) o.dispose();
    }
  }

  // ---- reductions ------------------------------------------------------------------------

  /** Sum over `dim` (all dims by default). @example gg.tensor([[1, 2], [3, 4]]).sum(1) // [3, 7] */
  sum(dim?: Dims, keepdim = false): Tensor {
    return apply('sum', [this], { dims: normDims(dim, this.ndim, 'sum'), keepdim: checkBool('sum', 'keepdim', keepdim) });
  }
  /** Mean over `dim`. @example gg.tensor([1, 2, 3]).mean() // 2 */
  mean(dim?: Dims, keepdim = false): Tensor {
    return C.mean(this, dim, keepdim);
  }
  /**
   * Variance over `dim`, divided by max(n - correction, 0): `unbiased` (the
   * default) divides by n - 1, `{ correction: 0 }` by n, as PyTorch.
   * @throws TypeError for an unknown option or one of the wrong type
   * @example gg.tensor([1, 2, 3, 4]).var() // 1.6667
   * @example gg.tensor([1, 2, 3]).var(0, { correction: 0 }) // 0.6667
   */
  var(dim?: Dims, opts: C.VarOptions = {}): Tensor {
    return C.variance(this, dim, opts);
  }
  /**
   * Standard deviation over `dim` (the options of `var`).
   * @throws TypeError for an unknown option or one of the wrong type
   * @example gg.tensor([1, 2, 3, 4]).std() // 1.2910
   */
  std(dim?: Dims, opts: C.VarOptions = {}): Tensor {
    return C.std(this, dim, opts);
  }
  /**
   * Largest value over `dim` (the values only; see `argmax`). Ties share the
   * gradient; a NaN counts as the largest, so a row's NaN gets its gradient
   * (several NaNs share it) and the other elements 0, as torch.max(x, dim).
   * @example gg.tensor([[1, 5], [7, 2]]).max(1) // [5, 7]
   */
  max(dim?: Dims, keepdim = false): Tensor {
    const dims = normDims(dim, this.ndim, 'max');
    // PyTorch's two messages: no dim given on an empty tensor, or a given dim of size 0
    const empty = dims.find((d) => this.shape[d] === 0);
    if (empty !== undefined && dim !== undefined && dim !== null) throw new RangeError(`max(): Expected reduction dim ${empty} to have non-zero size.`);
    // a NaN maximum passes its gradient to the NaNs, as torch.max(x) and torch.max(x, dim)
    return apply('amax', [this], { dims, keepdim: checkBool('max', 'keepdim', keepdim) });
  }
  /**
   * The vector p-norm over `dim` (all elements by default): (Σ|x|^p)^(1/p),
   * as PyTorch's `x.norm(p, dim, keepdim)` (`torch.linalg.vector_norm`).
   * `p` is a number (`Infinity`: max |x|, `-Infinity`: min |x|, 0: the count
   * of non-zeros) or `'fro'` (= 2); the default is 2.
   *
   * Shape: `dim` removed, or kept as size 1 with `keepdim`. Dtype: as `x`.
   * Gradient (PyTorch 1.13's norm_backward): x·|x|^(p-2)/‖x‖^(p-1), 0 where
   * the norm is 0; for ±∞ shared evenly between tied maxima (minima); none for p = 0.
   * @throws Error for a `p` that is neither a number nor 'fro' (NaN included);
   *   RangeError for a dim out of range
   * @example gg.tensor([[3, 4], [6, 8]]).norm() // 11.1803
   * @example gg.tensor([[3, 4], [6, 8]]).norm(2, 1) // [5, 10]
   * @example gg.tensor([[3, -4]]).norm(Infinity, 1, true) // [[4]]
   */
  norm(p: C.NormOrd = 2, dim?: Dims, keepdim = false): Tensor {
    return C.norm(this, p, dim, keepdim);
  }
  /** Smallest value over `dim`. @example gg.tensor([[1, 5], [7, 2]]).min(1) // [1, 2] */
  min(dim?: Dims, keepdim = false): Tensor {
    return C.min(this, dim, keepdim);
  }
  /**
   * Same as `max` (PyTorch's amax), also at NaN: a NaN row's gradient goes to
   * its NaNs (torch.amax's is NaN for the whole row).
   * @example gg.tensor([[1, 5], [7, 2]]).amax(1) // [5, 7]
   */
  amax(dim?: Dims, keepdim = false): Tensor {
    return this.max(dim, keepdim);
  }
  /**
   * Index of the first largest value along `dim` (of the flattened tensor
   * when `dim` is omitted), as an int64 tensor without gradient (PyTorch's
   * `argmax`; a NaN counts as the largest).
   * @example gg.tensor([[1, 5], [7, 2]]).argmax(1) // tensor([1, 0])
   */
  argmax(dim?: number | null, keepdim = false): Tensor {
    return C.argmax(this, dim ?? null, keepdim);
  }
  /**
   * Index of the first smallest value along `dim` (flattened when omitted), int64 (PyTorch's `argmin`).
   * @example gg.tensor([[1, 5], [7, 2]]).argmin(1) // tensor([0, 1])
   */
  argmin(dim?: number | null, keepdim = false): Tensor {
    return C.argmin(this, dim ?? null, keepdim);
  }
  /**
   * Softmax along `dim`, computed stably (the max is subtracted first).
   * @example gg.tensor([1, 1]).softmax(0) // [0.5, 0.5]
   */
  softmax(dim: number): Tensor {
    return C.softmax(this, dim);
  }
  /**
   * log(softmax(x)) along `dim`, without overflow.
   * @example gg.tensor([0, 0]).logSoftmax(0) // [-0.693, -0.693]
   */
  logSoftmax(dim: number): Tensor {
    return C.logSoftmax(this, dim);
  }
  /** log(Σ e^x) along `dim`, stably. @example gg.tensor([0, 0]).logsumexp(0) // 0.6931 (ln 2) */
  logsumexp(dim: number, keepdim = false): Tensor {
    return C.logsumexp(this, dim, keepdim);
  }

  // ---- matmul -------------------------------------------------------------------

  /**
   * Matrix product with NumPy's rules: 1-D operands are promoted and the
   * added dim removed; batch dims broadcast.
   * @throws TypeError when `o` is not a tensor (PyTorch's `matmul(): argument 'other' must be Tensor, not list`)
   * @example gg.ones([2, 3]).matmul(gg.ones([3, 4])).shape // [2, 4]
   */
  matmul(o: Tensor): Tensor {
    checkTensor('matmul', 'other', o);
    if (this.ndim === 0 || o.ndim === 0) throw new Error('both arguments to matmul need to be at least 1D, but they are ' + `${this.ndim}D and ${o.ndim}D`);
    const a = this.ndim === 1 ? this.unsqueeze(0) : this;
    const b = o.ndim === 1 ? o.unsqueeze(1) : o;
    checkMatmul(a.shape, b.shape);
    const raw = apply('matmul', [a, b], {});
    let out = raw;
    if (this.ndim === 1) out = out.squeeze(-2);
    if (o.ndim === 1) out = out.squeeze(-1);
    // temporaries (the unsqueezed operands, the unsqueezed product) are freed now
    for (const t of [a, b, raw]) if (t !== this && t !== o && t !== out) t.dispose();
    return out;
  }
  /** Same as `matmul` for 2-D operands. @example gg.tensor([[1, 2]]).mm(gg.tensor([[3], [4]])) // [[11]] */
  mm(o: Tensor): Tensor {
    checkTensor('mm', 'mat2', o);
    if (this.ndim !== 2 || o.ndim !== 2) throw new Error('mm: both arguments must be 2D');
    return this.matmul(o);
  }

  // ---- shapes and views ------------------------------------------------------------

  /**
   * Same data, new shape (one dim may be -1); copies only when the layout needs it.
   * @example gg.arange(6).reshape(2, 3).shape // [2, 3]
   */
  reshape(...shape: ShapeArgs): Tensor {
    const target = inferShape(shapeOf(shape), this.numel());
    if (sameShape(target, this.shape)) return this;
    const src = this.isContiguous() ? this : this.contiguous();
    try {
      return apply('reshape', [src], { shape: target });
    } finally {
      // the copy is a temporary: the view (and the graph) hold their own handles
      if (src !== this) src.dispose();
    }
  }
  /**
   * A view with a new shape; the data must be contiguous (as PyTorch's view).
   * @example gg.arange(6).view(3, 2)
   */
  view(...shape: ShapeArgs): Tensor {
    if (!this.isContiguous()) {
      throw new Error('view size is not compatible with input tensor\'s size and stride (at least one dimension spans across two contiguous subspaces). Use .reshape(...) instead.');
    }
    return this.reshape(...shape);
  }
  /**
   * Reorder dims (a view).
   * @example gg.zeros([2, 3, 4]).permute(2, 0, 1).shape // [4, 2, 3]
   */
  permute(...dims: ShapeArgs): Tensor {
    const norm = permutation(checkIntList('permute', 'dims', shapeOf(dims)), this.ndim);
    if (norm.every((d, i) => d === i)) return this;
    return apply('permute', [this], { dims: norm });
  }
  /** Swap two dims (a view). @example gg.zeros([2, 3]).transpose(0, 1).shape // [3, 2] */
  transpose(a: number, b: number): Tensor {
    const dims = this.shape.map((_, i) => i);
    const x = normDim(checkInt('transpose', 'dim0', a), this.ndim);
    const y = normDim(checkInt('transpose', 'dim1', b), this.ndim);
    dims[x] = y;
    dims[y] = x;
    return this.ndim < 2 ? this : this.permute(...dims);
  }
  /** Transpose of a matrix. @example gg.zeros([2, 3]).t().shape // [3, 2] */
  t(): Tensor {
    if (this.ndim > 2) throw new Error(`t() expects a tensor with <= 2 dimensions, but self is ${this.ndim}D`);
    return this.ndim < 2 ? this : this.transpose(0, 1);
  }
  /**
   * Broadcast to a larger shape without copying (-1 keeps a dim).
   * @example gg.zeros([3, 1]).expand(3, 4).shape // [3, 4]
   */
  expand(...shape: ShapeArgs): Tensor {
    const full = expandedShape(this.shape, checkIntList('expand', 'size', shapeOf(shape)));
    if (sameShape(full, this.shape)) return this;
    return apply('expand', [this], { shape: full });
  }
  /** Expand to another tensor's shape. @example gg.tensor([1, 2]).expandAs(gg.zeros([3, 2])).shape // [3, 2] */
  expandAs(o: Tensor): Tensor {
    return this.expand(...o.shape);
  }
  /**
   * Remove size-1 dims (all, or just `dim`).
   * @example gg.zeros([1, 3, 1]).squeeze().shape // [3]
   */
  squeeze(dim?: number): Tensor {
    if (dim === undefined) return this.reshape(this.shape.filter((s) => s !== 1));
    const d = normDim(dim, this.ndim, 'squeeze');
    if (this.shape[d] !== 1) return this;
    return this.reshape(this.shape.filter((_, i) => i !== d));
  }
  /** Insert a size-1 dim at `dim`. @example gg.zeros([3]).unsqueeze(0).shape // [1, 3] */
  unsqueeze(dim: number): Tensor {
    const d = normDim(dim, this.ndim + 1, 'unsqueeze');
    const shape = [...this.shape];
    shape.splice(d, 0, 1);
    return this.reshape(shape);
  }
  /**
   * Flatten dims `start..end` into one.
   * @example gg.zeros([2, 3, 4]).flatten(1).shape // [2, 12]
   */
  flatten(start = 0, end = -1): Tensor {
    checkInt('flatten', 'start_dim', start);
    checkInt('flatten', 'end_dim', end);
    if (this.ndim === 0) return this.reshape(1);
    const s = normDim(start, this.ndim);
    const e = normDim(end, this.ndim);
    if (s > e) throw new Error('flatten() has invalid args: start_dim cannot come after end_dim');
    const mid = this.shape.slice(s, e + 1).reduce((a, b) => a * b, 1);
    return this.reshape([...this.shape.slice(0, s), mid, ...this.shape.slice(e + 1)]);
  }
  /**
   * The slice `start .. start+length` of `dim` (a view; negative start counts from the end).
   * @example gg.arange(5).narrow(0, 1, 3) // [1, 2, 3]
   */
  narrow(dim: number, start: number, length: number): Tensor {
    checkInt('narrow', 'dim', dim);
    checkInt('narrow', 'start', start);
    checkInt('narrow', 'length', length);
    const d = normDim(dim, this.ndim);
    const s = narrowStart(this.shape, d, start, length);
    if (s === 0 && length === this.shape[d]) return this;
    return apply('narrow', [this], { dim: d, start: s, length });
  }
  /**
   * Pad each dim with `before[d]` and `after[d]` copies of `value` (negative amounts crop).
   * @example gg.ones([2]).pad([1], [2]) // [0, 1, 1, 0, 0]
   */
  pad(before: readonly number[], after: readonly number[], value = 0): Tensor {
    checkIntList('pad', 'before', before);
    checkIntList('pad', 'after', after);
    checkFits(this.dtype, checkNumber('pad', 'value', value));
    const b = this.shape.map((_, d) => before[d] ?? 0);
    const a = this.shape.map((_, d) => after[d] ?? 0);
    if (b.every((x) => x === 0) && a.every((x) => x === 0)) return this;
    this.shape.forEach((s, d) => {
      if (s + (b[d] ?? 0) + (a[d] ?? 0) < 0) throw new Error(`padding makes dim ${d} of size ${s} negative`);
    });
    return apply('pad', [this], { before: b, after: a, value });
  }
  /** @internal a strided view of this dense tensor (PyTorch's as_strided; a written view's producer). */
  asStrided(region: OpAttrs['asStrided']): Tensor {
    return apply('asStrided', [this], region);
  }
  /** @internal a copy of this dense tensor whose `region` holds `value` (PyTorch's CopySlices; tensor/inplace.ts). */
  scatterRegion(value: Tensor, region: OpAttrs['scatter']): Tensor {
    return apply('scatter', [this, value], region);
  }
  /** @internal sliding windows of the trailing dims (the op table's im2col; conv's forward). */
  im2col(attrs: OpAttrs['im2col']): Tensor {
    return apply('im2col', [this], attrs);
  }
  /**
   * @internal a fused chain over this tensor and `others` (inputs 1..) as one kernel:
   * the op table's `fused` entry (tensor/fuse.ts builds the expressions).
   */
  fused(others: readonly Tensor[], attrs: FusedAttrs): Tensor {
    const all = [this, ...others];
    let shape: number[] = [...(attrs.shape ?? this.shape)];
    for (const t of all) shape = broadcastShapes(shape, t.shape);
    // only the inputs the chain reads become kernel inputs (a gradient's chain reads few)
    const { expr, used } = compactFused(attrs.expr, all.length);
    const ins = used.length ? used.map((k) => all[k] as Tensor) : [this];
    if (ins.length > MAX_FUSED_INPUTS) {
      // the composed ops have the derivatives of `expr` itself: a diffExpr needs the fused op
      if (attrs.diffExpr) throw new Error(`internal: the fused ${attrs.name} has a diffExpr and more than ${MAX_FUSED_INPUTS} inputs`);
      return tidy(() => composedFused(attrs.expr, all, shape, attrs.dims, attrs.kind));
    }
    const diffExpr = attrs.diffExpr && compactFused(attrs.diffExpr, all.length, used).expr;
    return apply('fused', ins, diffExpr ? { ...attrs, expr, diffExpr, shape } : { ...attrs, expr, shape });
  }
  /**
   * @internal a contiguous tensor of `shape` over `buffer`, a new buffer of
   * this tensor's device that nothing else holds (a fast path's result:
   * tensor/normalize-fast.ts). Not recorded.
   */
  ownerOf(buffer: DeviceBuffer, shape: readonly number[]): Tensor {
    return new Tensor(new Storage(buffer), shape, contiguousStrides(shape), 0, buffer.dtype);
  }
  /**
   * @internal the norm layers' normalised output from the moments of this tensor
   * (the op table's `normalize`; tensor/normalize.ts names the inputs).
   */
  normalizeGroups(others: readonly Tensor[], attrs: OpAttrs['normalize']): Tensor {
    return apply('normalize', [this, ...others], attrs);
  }
  /** @internal the adjoint of `im2col`: windows summed back into place. */
  col2im(attrs: OpAttrs['col2im']): Tensor {
    return apply('col2im', [this], attrs);
  }
  /**
   * @internal this·o (batched, broadcast) summed over the last `sum` batch dims as
   * well: the op table's `matmul` with its `sum` attribute (a broadcast operand's
   * gradient in one product; ops.ts `productTo`). No 1-D promotion: both operands
   * are at least 2-D.
   */
  matmulSum(o: Tensor, sum: number): Tensor {
    return apply('matmul', [this, o], { sum });
  }
  /**
   * @internal this + mat1·mat2 (PyTorch's `addmm` with beta = alpha = 1): mat1
   * (m, k) and mat2 (k, n) 2-D, this broadcastable to (m, n), one floating
   * dtype and device (the caller checks; nn.functional.linear); or batched
   * as matmul (no 1-D promotion; a convolution's product and bias). One op,
   * node AddmmBackward0, one kernel where the device fuses the bias
   * (`Device.fusesBias`), else the product's and the add's.
   */
  addmm(mat1: Tensor, mat2: Tensor): Tensor {
    return apply('addmm', [this, mat1, mat2], {});
  }
}

/** Whether a string names a dtype (`to()` takes a dtype or a device). */
function isDtype(s: string): s is DType {
  return (DTYPES as readonly string[]).includes(s);
}

/** Elementwise ops whose operands are promoted to one dtype (PyTorch's TensorIterator ops). */
const PROMOTING = new Set<OpName>(['add', 'sub', 'mul', 'div', 'pow', 'maximum', 'minimum', 'eq', 'ne', 'lt', 'le', 'gt', 'ge', 'where']);
/** Unary ops that compute in floats: an integer input is first cast to the default dtype (`torch.tensor([1]).exp()` is float32). */
const FLOAT_ONLY = new Set<OpName>(['exp', 'log', 'sqrt', 'sigmoid', 'tanh']);

/**
 * The dtype each input of `op` is computed in (docs/spec/dtypes.md#promotion),
 * or null when the inputs are used as they are.
 */
function computeDtype(op: OpName, inputs: readonly Tensor[]): DType | null {
  if (PROMOTING.has(op)) {
    // where's condition is only tested against zero: the branches decide
    const r = resultType(op === 'where' ? inputs.slice(1) : inputs);
    // true division: integers divide as the default float dtype
    return op === 'div' && isIntegralDtype(r) ? defaults.dtype : r;
  }
  const x = inputs[0];
  if (FLOAT_ONLY.has(op) && x && isIntegralDtype(x.dtype)) return defaults.dtype;
  return null;
}

/** Check that all operands live on one device with one dtype (PyTorch's messages). */
function checkOperands(op: string, inputs: readonly Tensor[]): void {
  const first = inputs[0];
  if (!first) return;
  for (const t of inputs) {
    t.checkAlive();
    if (t.device !== first.device) {
      throw new Error(`Expected all tensors to be on the same device, but found at least two devices, ${first.device} and ${t.device}! (in ${op})`);
    }
    if (t.dtype !== first.dtype && op !== 'cast') {
      throw new Error(`${op}: expected both operands to have the same dtype, but got ${first.dtype} and ${t.dtype}; convert one with .to('${first.dtype}') or .double()/.float()`);
    }
  }
}

/**
 * @internal Apply primitive `op`: run its forward and, when recording and an input
 * requires grad, record a node whose backward is the table's rule.
 */
export function apply<N extends OpName>(op: N, inputs: readonly Tensor[], attrs: OpAttrs[N]): Tensor {
  const target = computeDtype(op, inputs);
  if (target !== null && inputs.some((t) => t.dtype !== target)) {
    for (const t of inputs) t.checkAlive();
    // promotion: recorded casts (gradients flow back through them), freed once the op has run
    const cast = inputs.map((t) => (t.dtype === target ? t : apply('cast', [t], { dtype: target })));
    try {
      return apply(op, cast, attrs);
    } finally {
      cast.forEach((c, i) => c !== inputs[i] && c.dispose());
    }
  }
  checkOperands(op, inputs);
  const spec = ops[op];
  // an op's own forward computes values only: its inner ops carry no tangents
  const p = suspendForward(() => withGradMode(false, () => spec.forward(inputs, attrs)));
  const out = new Tensor(p.storage, p.shape, p.strides, p.offset, p.dtype);
  // a view shares its input's memory, so it shares its version counter too (docs/notes/mutation.md)
  const first = inputs[0];
  if (first && p.storage === first.storage) first.markView(out);
  // an integer result carries no gradient (PyTorch: only floating point tensors require grad)
  if (!spec.nondifferentiable && isFloatingDtype(out.dtype) && isGradEnabled() && inputs.some((t) => t.requiresGrad)) {
    const next = inputs.map((t) => (t.requiresGrad ? t.edge() : null));
    const meta = inputs.map((t) => ({ shape: [...t.shape], dtype: t.dtype, device: t.device }));
    const node = new OpNode(op, spec, attrs, inputs, next, meta);
    out.setGradFn(node, 0);
    node.saveResult(out);
  }
  // after recording: rules that use the output (exp, tanh, ...) then differentiate through it
  if (forwardActive() && isFloatingDtype(out.dtype)) pushTangent(spec, inputs, attrs, out);
  return out;
}

/** Forward mode: give `out` the tangent the op's `jvp` rule makes of its inputs' tangents (tensor/dual.ts). */
function pushTangent<A>(spec: OpSpec<A>, inputs: readonly Tensor[], attrs: A, out: Tensor): void {
  const tangents = inputs.map(tangentOf);
  if (!tangents.some((t) => t)) return;
  const tan = suspendForward(() => spec.jvp({ tangents, inputs, result: out, attrs }));
  if (!tan) return;
  // a tangent of a broadcast input only covers its own shape: broadcast it as the output is
  setTangent(out, tan.shape.join() === out.shape.join() ? tan : suspendForward(() => tan.expand(...out.shape)));
}

