/**
 * Convolution and pooling, 1d/2d/3d, on two adjoint primitives of the op
 * table (docs/notes/conv.md):
 * - `im2col` turns the image (N, C, *spatial) into columns (N, C, *kernel, *out);
 *   a convolution is then one (grouped, batched) matmul with the reshaped weight,
 *   pooling a reduction over the kernel dims.
 * - `col2im`, its adjoint, sums the columns back onto the image: a transposed
 *   convolution is a matmul followed by col2im.
 * Each primitive's backward is the other, so every gradient here (and every
 * higher-order gradient) comes from matmul, im2col and col2im.
 */
import { Tensor } from '../tensor/tensor.js';
import { apply } from '../tensor/ops.js';
import { tensor, zeros } from '../tensor/creation.js';
import { fmt } from '../tensor/shape.js';
import { noGrad } from '../tensor/graph.js';
import type { DType } from '../backend/types.js';
import { Module, parameter, type FactoryOptions } from './module.js';
import { kaimingUniform_, uniform_ } from './init.js';
import { notifyMaterialized } from './layers.js';

/** One number for every spatial dim, or one per dim. */
export type IntOrList = number | readonly number[];

type Rank = 1 | 2 | 3;

const prod = (xs: readonly number[]): number => xs.reduce((a, b) => a * b, 1);

/** Expand an int-or-list argument to one value per spatial dim (PyTorch's `_ntuple`). */
function tuple(v: IntOrList, r: number, name: string, op: string): number[] {
  const list = typeof v === 'number' ? Array.from({ length: r }, () => v) : [...v];
  if (list.length === 1 && r > 1) return Array.from({ length: r }, () => list[0] as number);
  if (list.length !== r) {
    throw new Error(`${op}: expected ${name} to be a single integer value or a list of ${r} values to match the convolution dimensions, but got ${name}=${fmt(list)}`);
  }
  if (!list.every((x) => Number.isInteger(x))) throw new Error(`${op}: ${name} must hold integers, got ${fmt(list)}`);
  return list;
}

/** Check the input's rank; returns it batched, and whether it was. */
function batchedInput(input: Tensor, r: Rank, op: string): [Tensor, boolean] {
  if (input.rank !== r + 1 && input.rank !== r + 2) {
    throw new Error(`Expected ${r + 1}D (unbatched) or ${r + 2}D (batched) input to ${op}, but got input of size: ${fmt(input.shape)}`);
  }
  const batched = input.rank === r + 2;
  return [batched ? input : input.unsqueeze(0), batched];
}

function windows(x: Tensor, kernel: number[], stride: number[], padding: number[], dilation: number[], outSize: number[], value: number): Tensor {
  const r = kernel.length;
  return apply('im2col', [x], { kernel, stride, padding, dilation, inSize: x.shape.slice(x.rank - r), outSize, value });
}

function checkPositive(op: string, stride: number[], dilation: number[], padding: number[]): void {
  if (stride.some((s) => s <= 0)) throw new Error(`${op}: non-positive stride is not supported`);
  if (dilation.some((d) => d <= 0)) throw new Error(`${op}: dilation should be greater than zero`);
  if (padding.some((p) => p < 0)) throw new Error(`${op}: negative padding is not supported`);
}

function checkBias(bias: Tensor | null | undefined, weight: Tensor, out: number): void {
  if (bias && (bias.rank !== 1 || bias.shape[0] !== out)) {
    throw new Error(`Given weight of size ${fmt(weight.shape)}, expected bias to be 1-dimensional with ${out} elements, but got bias of size ${fmt(bias.shape)} instead`);
  }
}

function addBias(out: Tensor, bias: Tensor | null | undefined, r: number): Tensor {
  if (!bias) return out;
  return out.add(bias.reshape(bias.shape[0] ?? 1, ...Array.from({ length: r }, () => 1)));
}

// ---- convolution --------------------------------------------------------------------

/** Options of `conv1d/2d/3d`. */
export interface ConvOptions {
  stride?: IntOrList;
  /** Zero padding on both sides, or `'valid'` (none) or `'same'` (output size = input size; stride 1). */
  padding?: IntOrList | 'same' | 'valid';
  dilation?: IntOrList;
  groups?: number;
}

/** Check `groups` and the weight's rank and first dim (a convolution's, or a transposed one's); returns groups. */
function checkGroups(r: Rank, x: Tensor, weight: Tensor, groupsOpt: number | undefined): number {
  const groups = groupsOpt ?? 1;
  if (!Number.isInteger(groups) || groups <= 0) throw new Error('non-positive groups is not supported');
  if (weight.rank !== r + 2) {
    throw new Error(`Expected ${r + 2}-dimensional weight for ${r + 2}-dimensional input ${fmt(x.shape)}, but got ${weight.rank}-dimensional weight of size ${fmt(weight.shape)} instead`);
  }
  if ((weight.shape[0] ?? 0) % groups !== 0) {
    throw new Error(`Given groups=${groups}, expected weight to be divisible by ${groups} at dimension 0, but got weight of size ${fmt(weight.shape)} instead`);
  }
  return groups;
}

function convNd(r: Rank, input: Tensor, weight: Tensor, bias: Tensor | null | undefined, opts: ConvOptions): Tensor {
  const op = `conv${r}d`;
  const [x, batched] = batchedInput(input, r, op);
  const groups = checkGroups(r, x, weight, opts.groups);
  const [cout, cg] = weight.shape as [number, number];
  const kernel = weight.shape.slice(2);
  const c = x.shape[1] ?? 0;
  if (c !== cg * groups) {
    throw new Error(`Given groups=${groups}, weight of size ${fmt(weight.shape)}, expected input${fmt(x.shape)} to have ${cg * groups} channels, but got ${c} channels instead`);
  }
  checkBias(bias, weight, cout);
  const stride = tuple(opts.stride ?? 1, r, 'stride', op);
  const dilation = tuple(opts.dilation ?? 1, r, 'dilation', op);
  const inSize = x.shape.slice(2);
  const pad = opts.padding ?? 0;
  let before: number[];
  let total: number[];
  if (pad === 'valid') {
    before = inSize.map(() => 0);
    total = before;
  } else if (pad === 'same') {
    if (stride.some((s) => s !== 1)) throw new Error("padding='same' is not supported for strided convolutions");
    // PyTorch: the odd one out of an uneven total goes to the far side
    total = kernel.map((k, d) => (dilation[d] ?? 1) * (k - 1));
    before = total.map((t) => Math.floor(t / 2));
  } else if (typeof pad === 'string') {
    throw new Error(`Invalid padding string: '${String(pad)}'`);
  } else {
    before = tuple(pad, r, 'padding', op);
    total = before.map((p) => 2 * p);
  }
  checkPositive(op, stride, dilation, before);
  const padded = inSize.map((n, d) => n + (total[d] ?? 0));
  const reach = kernel.map((k, d) => (dilation[d] ?? 1) * (k - 1) + 1);
  if (padded.some((n, d) => n < (reach[d] ?? 1))) {
    throw new Error(`Calculated padded input size per channel: (${padded.join(' x ')}). Kernel size: (${reach.join(' x ')}). Kernel size can't be greater than actual input size`);
  }
  const outSize = padded.map((n, d) => Math.floor((n - (reach[d] ?? 1)) / (stride[d] ?? 1)) + 1);
  const n = x.shape[0] ?? 1;
  const k = cg * prod(kernel);
  const l = prod(outSize);
  // 1×1 kernels with unit stride and no padding read the image as it is
  const trivial = kernel.every((v) => v === 1) && stride.every((v) => v === 1) && before.every((v) => v === 0);
  const cols = trivial ? x.reshape(n, groups, k, l) : windows(x, kernel, stride, before, dilation, outSize, 0).reshape(n, groups, k, l);
  // (G, Cout/G, Cg·K) @ (N, G, Cg·K, L) = (N, G, Cout/G, L), already in (N, Cout, *out) order
  const out = weight.reshape(groups, cout / groups, k).matmul(cols).reshape(n, cout, ...outSize);
  const y = addBias(out, bias, r);
  return batched ? y : y.squeeze(0);
}

/**
 * 1-D convolution (cross-correlation, as PyTorch): input (N, C, L) or (C, L),
 * weight (Cout, C/groups, k).
 * @example gg.nn.functional.conv1d(x, w, b, { padding: 1 })
 */
export function conv1d(input: Tensor, weight: Tensor, bias?: Tensor | null, opts: ConvOptions = {}): Tensor {
  return convNd(1, input, weight, bias, opts);
}
/**
 * 2-D convolution: input (N, C, H, W) or (C, H, W), weight (Cout, C/groups, kh, kw).
 * @example gg.nn.functional.conv2d(x, w, null, { stride: 2, padding: 'same' })
 */
export function conv2d(input: Tensor, weight: Tensor, bias?: Tensor | null, opts: ConvOptions = {}): Tensor {
  return convNd(2, input, weight, bias, opts);
}
/**
 * 3-D convolution: input (N, C, D, H, W) or (C, D, H, W), weight (Cout, C/groups, kd, kh, kw).
 * @example gg.nn.functional.conv3d(x, w, null, { padding: 1 })
 */
export function conv3d(input: Tensor, weight: Tensor, bias?: Tensor | null, opts: ConvOptions = {}): Tensor {
  return convNd(3, input, weight, bias, opts);
}

/** Options of `convTranspose1d/2d/3d`. */
export interface ConvTransposeOptions {
  stride?: IntOrList;
  padding?: IntOrList;
  /** Extra size added to one side of the output (less than stride or dilation). */
  outputPadding?: IntOrList;
  groups?: number;
  dilation?: IntOrList;
}

function convTransposeNd(r: Rank, input: Tensor, weight: Tensor, bias: Tensor | null | undefined, opts: ConvTransposeOptions): Tensor {
  const op = `conv_transpose${r}d`;
  const [x, batched] = batchedInput(input, r, op);
  const groups = checkGroups(r, x, weight, opts.groups);
  const [cin, og] = weight.shape as [number, number];
  const kernel = weight.shape.slice(2);
  const c = x.shape[1] ?? 0;
  if (c !== cin) {
    throw new Error(`Given transposed=1, weight of size ${fmt(weight.shape)}, expected input${fmt(x.shape)} to have ${cin} channels, but got ${c} channels instead`);
  }
  const cout = og * groups;
  checkBias(bias, weight, cout);
  if (typeof opts.padding === 'string') throw new Error(`${op}: padding must be a number or a list of numbers, got '${String(opts.padding)}'`);
  const stride = tuple(opts.stride ?? 1, r, 'stride', op);
  const padding = tuple(opts.padding ?? 0, r, 'padding', op);
  const dilation = tuple(opts.dilation ?? 1, r, 'dilation', op);
  const outPad = tuple(opts.outputPadding ?? 0, r, 'output_padding', op);
  checkPositive(op, stride, dilation, padding);
  outPad.forEach((p, d) => {
    if (p < 0 || (p >= (stride[d] ?? 1) && p >= (dilation[d] ?? 1))) {
      throw new Error(`output padding must be smaller than either stride or dilation, but got output_padding=${fmt(outPad)}, stride=${fmt(stride)}, dilation=${fmt(dilation)}`);
    }
  });
  const inSize = x.shape.slice(2);
  const outSize = inSize.map((n, d) => (n - 1) * (stride[d] ?? 1) - 2 * (padding[d] ?? 0) + (dilation[d] ?? 1) * ((kernel[d] ?? 1) - 1) + (outPad[d] ?? 0) + 1);
  if (outSize.some((s) => s <= 0)) {
    throw new Error(`${op}: calculated output size ${fmt(outSize)} for input size ${fmt(inSize)} is too small`);
  }
  const n = x.shape[0] ?? 1;
  const l = prod(inSize);
  const m = og * prod(kernel);
  // (G, Cout/G·K, Cin/G) @ (N, G, Cin/G, L) = (N, G, Cout/G·K, L) = columns (N, Cout, *k, *in)
  const wt = weight.reshape(groups, cin / groups, m).transpose(1, 2);
  const cols = wt.matmul(x.reshape(n, groups, cin / groups, l)).reshape(n, cout, ...kernel, ...inSize);
  const out = apply('col2im', [cols], { kernel, stride, padding, dilation, inSize: outSize, outSize: inSize });
  const y = addBias(out, bias, r);
  return batched ? y : y.squeeze(0);
}

/**
 * 1-D transposed convolution: input (N, Cin, L), weight (Cin, Cout/groups, k).
 * @example gg.nn.functional.convTranspose1d(x, w, b, { stride: 2 })
 */
export function convTranspose1d(input: Tensor, weight: Tensor, bias?: Tensor | null, opts: ConvTransposeOptions = {}): Tensor {
  return convTransposeNd(1, input, weight, bias, opts);
}
/**
 * 2-D transposed convolution: input (N, Cin, H, W), weight (Cin, Cout/groups, kh, kw).
 * @example gg.nn.functional.convTranspose2d(x, w, b, { stride: 2, padding: 1 })
 */
export function convTranspose2d(input: Tensor, weight: Tensor, bias?: Tensor | null, opts: ConvTransposeOptions = {}): Tensor {
  return convTransposeNd(2, input, weight, bias, opts);
}
/**
 * 3-D transposed convolution: input (N, Cin, D, H, W), weight (Cin, Cout/groups, kd, kh, kw).
 * @example gg.nn.functional.convTranspose3d(x, w, null, { stride: 2 })
 */
export function convTranspose3d(input: Tensor, weight: Tensor, bias?: Tensor | null, opts: ConvTransposeOptions = {}): Tensor {
  return convTransposeNd(3, input, weight, bias, opts);
}

// ---- pooling ----------------------------------------------------------------------------

/** Output size of a pooling window (PyTorch's `pooling_output_shape`). */
function poolOut(n: number, k: number, p: number, s: number, d: number, ceil: boolean): number {
  const span = n + 2 * p - d * (k - 1) - 1 + (ceil ? s - 1 : 0);
  let out = Math.floor(span / s) + 1;
  // the last window must start inside the input or the left padding
  if (ceil && (out - 1) * s >= n + p) out--;
  return out;
}

function poolInput(input: Tensor, r: Rank, op: string): [Tensor, boolean] {
  if ((input.rank !== r + 1 && input.rank !== r + 2) || input.shape.slice(1).some((s) => s === 0)) {
    throw new Error(`${op}: Expected ${r + 1}D or ${r + 2}D (batch mode) tensor with optional 0 dim batch size for input, but got: ${fmt(input.shape)}`);
  }
  const batched = input.rank === r + 2;
  return [batched ? input : input.unsqueeze(0), batched];
}

/**
 * A pooling's input (batched) and window as tuples, checked: positive sizes,
 * padding at most half the kernel (`tooMuchPad` words the error).
 */
function poolArgs(
  r: Rank,
  op: string,
  input: Tensor,
  kernelSize: IntOrList,
  opts: { stride?: IntOrList | null; padding?: IntOrList; dilation?: IntOrList },
  tooMuchPad: (pad: number, kernel: number, dilation: number) => string,
): [x: Tensor, batched: boolean, kernel: number[], stride: number[], padding: number[], dilation: number[]] {
  const [x, batched] = poolInput(input, r, op);
  const kernel = tuple(kernelSize, r, 'kernel_size', op);
  const stride = tuple(opts.stride ?? kernelSize, r, 'stride', op);
  const padding = tuple(opts.padding ?? 0, r, 'padding', op);
  const dilation = tuple(opts.dilation ?? 1, r, 'dilation', op);
  checkPositive(op, stride, dilation, padding);
  kernel.forEach((k, d) => {
    if (k <= 0) throw new Error(`${op}: kernel_size must be greater than zero, but got ${fmt(kernel)}`);
    const p = padding[d] ?? 0;
    if (p > Math.floor(k / 2)) throw new Error(tooMuchPad(p, k, dilation[d] ?? 1));
  });
  return [x, batched, kernel, stride, padding, dilation];
}

function checkOutSize(x: Tensor, outSize: number[]): void {
  if (outSize.some((o) => o < 1)) {
    const c = x.shape[1] ?? 1;
    throw new Error(`Given input size: (${[c, ...x.shape.slice(2)].join('x')}). Calculated output size: (${[c, ...outSize].join('x')}). Output size is too small`);
  }
}

/** Options of `maxPool1d/2d/3d`. */
export interface MaxPoolOptions {
  /** Default: the kernel size. */
  stride?: IntOrList | null;
  padding?: IntOrList;
  dilation?: IntOrList;
  ceilMode?: boolean;
}

function maxPoolNd(r: Rank, input: Tensor, kernelSize: IntOrList, opts: MaxPoolOptions): Tensor {
  const op = `max_pool${r}d`;
  const [x, batched, kernel, stride, padding, dilation] = poolArgs(r, op, input, kernelSize, opts, (p, k, dil) => `pad should be at most half of effective kernel size, but got pad=${p}, kernel_size=${k} and dilation=${dil}`);
  const inSize = x.shape.slice(2);
  const outSize = inSize.map((n, d) => poolOut(n, kernel[d] ?? 1, padding[d] ?? 0, stride[d] ?? 1, dilation[d] ?? 1, opts.ceilMode ?? false));
  checkOutSize(x, outSize);
  // padding reads -∞, which never wins; max's backward splits ties evenly
  const cols = windows(x, kernel, stride, padding, dilation, outSize, -Infinity);
  const y = cols.max(kernel.map((_, d) => 2 + d));
  return batched ? y : y.squeeze(0);
}

/**
 * Max pooling over (N, C, L) or (C, L). Ties share the gradient evenly
 * (PyTorch gives it all to one index).
 * @example gg.nn.functional.maxPool1d(x, 2)
 */
export function maxPool1d(input: Tensor, kernelSize: IntOrList, opts: MaxPoolOptions = {}): Tensor {
  return maxPoolNd(1, input, kernelSize, opts);
}
/**
 * Max pooling over (N, C, H, W) or (C, H, W). Ties share the gradient evenly
 * (PyTorch gives it all to one index).
 * @example gg.nn.functional.maxPool2d(x, 2) // halves H and W
 */
export function maxPool2d(input: Tensor, kernelSize: IntOrList, opts: MaxPoolOptions = {}): Tensor {
  return maxPoolNd(2, input, kernelSize, opts);
}
/** Max pooling over (N, C, D, H, W) or (C, D, H, W). @example gg.nn.functional.maxPool3d(x, 2) // halves D, H and W */
export function maxPool3d(input: Tensor, kernelSize: IntOrList, opts: MaxPoolOptions = {}): Tensor {
  return maxPoolNd(3, input, kernelSize, opts);
}

/** Options of `avgPool1d/2d/3d`. */
export interface AvgPoolOptions {
  /** Default: the kernel size. */
  stride?: IntOrList | null;
  padding?: IntOrList;
  ceilMode?: boolean;
  /** Count padded zeros in the divisor (default true). */
  countIncludePad?: boolean;
  /** Divide by this instead of the window size. */
  divisorOverride?: number | null;
}

function avgPoolNd(r: Rank, input: Tensor, kernelSize: IntOrList, opts: AvgPoolOptions): Tensor {
  const op = `avg_pool${r}d`;
  const [x, batched, kernel, stride, padding, ones] = poolArgs(r, op, input, kernelSize, { stride: opts.stride, padding: opts.padding }, (p, k) => `pad should be at most half of kernel size, but got pad=${p} and kernel_size=${k}`);
  if (opts.divisorOverride === 0) throw new Error('divisor must be not zero');
  const inSize = x.shape.slice(2);
  const ceil = opts.ceilMode ?? false;
  const outSize = inSize.map((n, d) => poolOut(n, kernel[d] ?? 1, padding[d] ?? 0, stride[d] ?? 1, 1, ceil));
  checkOutSize(x, outSize);
  const sums = windows(x, kernel, stride, padding, ones, outSize, 0).sum(kernel.map((_, d) => 2 + d));
  let y: Tensor;
  if (opts.divisorOverride) {
    y = sums.div(opts.divisorOverride);
  } else {
    const counts = poolCounts(inSize, outSize, kernel, stride, padding, opts.countIncludePad ?? true);
    const first = counts[0] ?? 1;
    y = counts.every((v) => v === first) ? sums.div(first) : sums.div(tensor(counts, { shape: outSize, dtype: x.dtype, device: x.device }));
  }
  return batched ? y : y.squeeze(0);
}

/** The divisor of every window (PyTorch: the window clipped to the padded input, or to the input). */
function poolCounts(inSize: number[], outSize: number[], kernel: number[], stride: number[], padding: number[], includePad: boolean): Float64Array {
  const perDim = outSize.map((o, d) => {
    const n = inSize[d] ?? 1;
    const p = padding[d] ?? 0;
    return Array.from({ length: o }, (_, i) => {
      const start = i * (stride[d] ?? 1) - p;
      const end = Math.min(start + (kernel[d] ?? 1), n + p);
      return includePad ? end - start : Math.min(end, n) - Math.max(start, 0);
    });
  });
  const out = new Float64Array(prod(outSize));
  for (let i = 0; i < out.length; i++) {
    let rest = i;
    let c = 1;
    for (let d = outSize.length - 1; d >= 0; d--) {
      const o = outSize[d] ?? 1;
      c *= perDim[d]?.[rest % o] ?? 1;
      rest = Math.floor(rest / o);
    }
    out[i] = c;
  }
  return out;
}

/** Average pooling over (N, C, L) or (C, L). @example gg.nn.functional.avgPool1d(x, 2) */
export function avgPool1d(input: Tensor, kernelSize: IntOrList, opts: AvgPoolOptions = {}): Tensor {
  return avgPoolNd(1, input, kernelSize, opts);
}
/**
 * Average pooling over (N, C, H, W) or (C, H, W).
 * @example gg.nn.functional.avgPool2d(x, 3, { stride: 2, padding: 1, countIncludePad: false })
 */
export function avgPool2d(input: Tensor, kernelSize: IntOrList, opts: AvgPoolOptions = {}): Tensor {
  return avgPoolNd(2, input, kernelSize, opts);
}
/** Average pooling over (N, C, D, H, W) or (C, D, H, W). @example gg.nn.functional.avgPool3d(x, 2, { stride: 2 }) */
export function avgPool3d(input: Tensor, kernelSize: IntOrList, opts: AvgPoolOptions = {}): Tensor {
  return avgPoolNd(3, input, kernelSize, opts);
}

// ---- modules -------------------------------------------------------------------------------

/** Options of the convolution modules (PyTorch's keyword arguments). */
export interface ConvModuleOptions extends FactoryOptions {
  stride?: IntOrList;
  padding?: IntOrList | 'same' | 'valid';
  dilation?: IntOrList;
  groups?: number;
  bias?: boolean;
  /** Only `'zeros'` is supported. */
  paddingMode?: 'zeros';
}

/** Options of the transposed convolution modules. */
export interface ConvTransposeModuleOptions extends FactoryOptions {
  stride?: IntOrList;
  padding?: IntOrList;
  outputPadding?: IntOrList;
  dilation?: IntOrList;
  groups?: number;
  bias?: boolean;
  /** Only `'zeros'` is supported. */
  paddingMode?: 'zeros';
}

/** Python's tuple form: `(3, 3)`, `(3,)`. */
const pyTuple = (xs: readonly number[]): string => (xs.length === 1 ? `(${xs[0]},)` : `(${xs.join(', ')})`);

/** Marks a constructor call that comes from a Lazy* subclass (in_channels unknown). */
const LAZY = Symbol('lazy');
type Internal = { [LAZY]?: true };

/**
 * What Conv{1,2,3}d and ConvTranspose{1,2,3}d share (PyTorch's `_ConvNd`):
 * options as tuples, parameter shapes, `resetParameters`, `extraRepr`, and
 * lazy materialisation.
 * @example for (const m of model.modules()) if (m instanceof gg.nn.ConvNd) m.resetParameters();
 */
export abstract class ConvNd extends Module {
  declare weight: Tensor;
  declare bias: Tensor | null;
  /** 0 until a lazy module's first forward. */
  inChannels: number;
  readonly outChannels: number;
  readonly kernelSize: number[];
  readonly stride: number[];
  readonly padding: number[] | 'same' | 'valid';
  readonly dilation: number[];
  readonly outputPadding: number[];
  readonly groups: number;
  readonly paddingMode = 'zeros';
  readonly transposed: boolean;
  private factory: { dtype?: DType; device?: string };
  private readonly hasBias: boolean;
  private pending: boolean;

  protected constructor(
    readonly spatialRank: Rank,
    transposed: boolean,
    inChannels: number,
    outChannels: number,
    kernelSize: IntOrList,
    opts: (ConvModuleOptions | ConvTransposeModuleOptions) & Internal,
  ) {
    super();
    const name = new.target.name;
    const r = spatialRank;
    this.transposed = transposed;
    this.groups = opts.groups ?? 1;
    if (!Number.isInteger(this.groups) || this.groups <= 0) throw new Error('groups must be a positive integer');
    if (!opts[LAZY] && inChannels % this.groups !== 0) throw new Error('in_channels must be divisible by groups');
    if (outChannels % this.groups !== 0) throw new Error('out_channels must be divisible by groups');
    const mode = opts.paddingMode ?? 'zeros';
    if (mode !== 'zeros') {
      throw new Error(transposed ? `Only "zeros" padding mode is supported for ${name}` : `padding_mode '${String(mode)}' is not supported by gpugrad's ${name} (only 'zeros')`);
    }
    this.inChannels = opts[LAZY] ? 0 : inChannels;
    this.outChannels = outChannels;
    this.kernelSize = tuple(kernelSize, r, 'kernel_size', name);
    this.stride = tuple(opts.stride ?? 1, r, 'stride', name);
    this.dilation = tuple(opts.dilation ?? 1, r, 'dilation', name);
    const pad = opts.padding ?? 0;
    if (typeof pad === 'string') {
      if (transposed) throw new Error(`${name}: padding must be a number or a list of numbers, got '${pad}'`);
      if (pad !== 'same' && pad !== 'valid') throw new Error(`Invalid padding string '${String(pad)}', should be one of ['valid', 'same']`);
      if (pad === 'same' && this.stride.some((s) => s !== 1)) throw new Error("padding='same' is not supported for strided convolutions");
      this.padding = pad;
    } else {
      this.padding = tuple(pad, r, 'padding', name);
    }
    const outPad = 'outputPadding' in opts ? opts.outputPadding : undefined;
    this.outputPadding = tuple(outPad ?? 0, r, 'output_padding', name);
    this.hasBias = opts.bias ?? true;
    this.factory = { dtype: opts.dtype, device: opts.device };
    this.registerParameter('weight', null);
    this.registerParameter('bias', null);
    this.pending = opts[LAZY] ?? false;
    if (this.pending) {
      // PyTorch's _infer_parameters: the first pre-hook, removed once it has run
      const handle = this.registerForwardPreHook((_m, inputs) => {
        handle.remove();
        const x = inputs[0];
        if (x && this.pending) this.materialize(this.channelsOf(x));
      });
    } else {
      this.createParameters();
    }
  }

  /**
   * Whether a lazy module still waits for its first forward (or a state dict)
   * to create its parameters (see `gg.nn.onMaterialize`).
   * @example new gg.nn.LazyConv2d(8, 3).hasUninitializedParams() // true
   */
  hasUninitializedParams(): boolean {
    return this.pending;
  }

  /** The weight's shape: (out, in/groups, *k), or (in, out/groups, *k) when transposed. */
  private weightShape(): number[] {
    const g = this.groups;
    return this.transposed ? [this.inChannels, this.outChannels / g, ...this.kernelSize] : [this.outChannels, this.inChannels / g, ...this.kernelSize];
  }

  private createParameters(): void {
    const opts = this.factory;
    this._parameters.set('weight', parameter(zeros(this.weightShape(), opts)));
    if (this.hasBias && !this._parameters.get('bias')) this._parameters.set('bias', parameter(zeros([this.outChannels], opts)));
    this.resetParameters();
  }

  /**
   * PyTorch's initialisation: weight kaiming-uniform with a = √5, i.e.
   * U(±1/√fan_in), bias U(±1/√fan_in), fan_in = weight.size(1)·∏kernel
   * (for transposed convolutions that is out/groups·∏kernel, as PyTorch computes it).
   * @example conv.resetParameters();
   */
  resetParameters(): void {
    const w = this._parameters.get('weight');
    if (!w) return;
    kaimingUniform_(w, { a: Math.sqrt(5) });
    const b = this._parameters.get('bias');
    if (b) {
      const fanIn = (w.shape[1] ?? 1) * prod(this.kernelSize);
      if (fanIn !== 0) uniform_(b, -1 / Math.sqrt(fanIn), 1 / Math.sqrt(fanIn));
    }
  }

  private channelsOf(x: Tensor): number {
    const batched = x.rank === this.spatialRank + 2;
    if (!batched && x.rank !== this.spatialRank + 1) {
      const op = this.transposed ? `conv_transpose${this.spatialRank}d` : `conv${this.spatialRank}d`;
      throw new Error(`Expected ${this.spatialRank + 1}D (unbatched) or ${this.spatialRank + 2}D (batched) input to ${op}, but got input of size: ${fmt(x.shape)}`);
    }
    return x.shape[batched ? 1 : 0] ?? 0;
  }

  /** Lazy modules: create the parameters for `inChannels`, become the eager class, run the onMaterialize hooks. */
  protected materialize(inChannels: number): void {
    if (inChannels % this.groups !== 0) throw new Error('in_channels must be divisible by groups');
    this.inChannels = inChannels;
    noGrad(() => this.createParameters());
    const eager = Object.getPrototypeOf(Object.getPrototypeOf(this) as object) as object;
    // PyTorch's cls_to_become: a materialised LazyConv2d is a Conv2d
    if (Object.getPrototypeOf(this) !== eager && (Object.getPrototypeOf(this) as { constructor: { name: string } }).constructor.name.startsWith('Lazy')) {
      Object.setPrototypeOf(this, eager);
    }
    this.pending = false;
    notifyMaterialized(this, this.hasBias ? ['weight', 'bias'] : ['weight']);
  }

  /** @internal a state dict entry for a lazy module's weight materialises it. */
  protected override loadMissing(name: string, kind: 'p' | 'b', src: Tensor): void {
    if (kind === 'p' && this.pending && (name === 'weight' || (name === 'bias' && this.hasBias))) {
      if (name === 'bias') {
        if (src.rank !== 1 || src.shape[0] !== this.outChannels) {
          throw new Error(`size mismatch for bias: copying a param with shape ${fmt(src.shape)} from checkpoint, the shape in current model is [${this.outChannels}].`);
        }
        this._parameters.set('bias', parameter(src.to(this.factory.device ?? src.device).to(this.factory.dtype ?? src.dtype).clone()));
        return;
      }
      const g = this.groups;
      const inCh = this.transposed ? (src.shape[0] ?? 0) : (src.shape[1] ?? 0) * g;
      const saved = this.inChannels;
      this.inChannels = inCh;
      const want = this.weightShape();
      this.inChannels = saved;
      if (fmt(want) !== fmt(src.shape)) {
        const shown = this.transposed ? ['in', this.outChannels / g, ...this.kernelSize] : [this.outChannels, 'in/groups', ...this.kernelSize];
        throw new Error(`size mismatch for weight: copying a param with shape ${fmt(src.shape)} from checkpoint, the shape in current model is [${shown.join(', ')}].`);
      }
      this.materialize(inCh);
      const w = this._parameters.get('weight') as Tensor;
      w.assign(src.to(w.device).to(w.dtype));
      return;
    }
    super.loadMissing(name, kind, src);
  }

  /**
   * Lazy modules remember a move or cast made before they materialise.
   * @example new gg.nn.LazyConv2d(8, 3).to('float64') // weight is created as float64 on the first forward
   */
  override to(target: string): this {
    if (this.pending) {
      if (target === 'float32' || target === 'float64') this.factory = { ...this.factory, dtype: target };
      else this.factory = { ...this.factory, device: target };
    }
    return super.to(target);
  }

  /**
   * Convolve `input` (a lazy module first materialises from its channel count).
   * @example new gg.nn.Conv2d(1, 8, 3).call(gg.randn([2, 1, 28, 28])).shape // [2, 8, 26, 26]
   */
  forward(input: Tensor): Tensor {
    if (this.pending) this.materialize(this.channelsOf(input));
    const w = this.weight;
    const b = this.bias;
    const r = this.spatialRank;
    if (this.transposed) {
      const opts = { stride: this.stride, padding: this.padding as number[], outputPadding: this.outputPadding, dilation: this.dilation, groups: this.groups };
      return convTransposeNd(r, input, w, b, opts);
    }
    return convNd(r, input, w, b, { stride: this.stride, padding: this.padding, dilation: this.dilation, groups: this.groups });
  }

  /**
   * The options in PyTorch's printed form (defaults left out).
   * @example new gg.nn.Conv2d(1, 8, 3).extraRepr() // '1, 8, kernel_size=(3, 3), stride=(1, 1)'
   */
  override extraRepr(): string {
    let s = `${this.inChannels}, ${this.outChannels}, kernel_size=${pyTuple(this.kernelSize)}, stride=${pyTuple(this.stride)}`;
    const pad = this.padding;
    if (typeof pad === 'string') s += `, padding=${pad}`;
    else if (pad.some((p) => p !== 0)) s += `, padding=${pyTuple(pad)}`;
    if (this.dilation.some((d) => d !== 1)) s += `, dilation=${pyTuple(this.dilation)}`;
    if (this.outputPadding.some((p) => p !== 0)) s += `, output_padding=${pyTuple(this.outputPadding)}`;
    if (this.groups !== 1) s += `, groups=${this.groups}`;
    if (!this.hasBias) s += ', bias=False';
    return s;
  }
}

/**
 * 1-D convolution layer; weight (out, in/groups, k), bias (out).
 * @example new gg.nn.Conv1d(16, 33, 3, { stride: 2 })
 */
export class Conv1d extends ConvNd {
  constructor(inChannels: number, outChannels: number, kernelSize: IntOrList, opts: ConvModuleOptions = {}) {
    super(1, false, inChannels, outChannels, kernelSize, opts);
  }
}
/**
 * 2-D convolution layer; weight (out, in/groups, kh, kw), bias (out).
 * @example new gg.nn.Conv2d(1, 8, 3, { padding: 1 })
 */
export class Conv2d extends ConvNd {
  constructor(inChannels: number, outChannels: number, kernelSize: IntOrList, opts: ConvModuleOptions = {}) {
    super(2, false, inChannels, outChannels, kernelSize, opts);
  }
}
/** 3-D convolution layer; weight (out, in/groups, kd, kh, kw), bias (out). @example new gg.nn.Conv3d(4, 8, 3, { padding: 1 }) */
export class Conv3d extends ConvNd {
  constructor(inChannels: number, outChannels: number, kernelSize: IntOrList, opts: ConvModuleOptions = {}) {
    super(3, false, inChannels, outChannels, kernelSize, opts);
  }
}
/**
 * 1-D transposed convolution layer; weight (in, out/groups, k), bias (out).
 * @example new gg.nn.ConvTranspose1d(16, 8, 3, { stride: 2, outputPadding: 1 })
 */
export class ConvTranspose1d extends ConvNd {
  constructor(inChannels: number, outChannels: number, kernelSize: IntOrList, opts: ConvTransposeModuleOptions = {}) {
    super(1, true, inChannels, outChannels, kernelSize, opts);
  }
}
/**
 * 2-D transposed convolution layer; weight (in, out/groups, kh, kw), bias (out).
 * @example new gg.nn.ConvTranspose2d(8, 1, 4, { stride: 2, padding: 1 }) // doubles H and W
 */
export class ConvTranspose2d extends ConvNd {
  constructor(inChannels: number, outChannels: number, kernelSize: IntOrList, opts: ConvTransposeModuleOptions = {}) {
    super(2, true, inChannels, outChannels, kernelSize, opts);
  }
}
/**
 * 3-D transposed convolution layer; weight (in, out/groups, kd, kh, kw), bias (out).
 * @example new gg.nn.ConvTranspose3d(8, 4, 2, { stride: 2 }) // doubles D, H and W
 */
export class ConvTranspose3d extends ConvNd {
  constructor(inChannels: number, outChannels: number, kernelSize: IntOrList, opts: ConvTransposeModuleOptions = {}) {
    super(3, true, inChannels, outChannels, kernelSize, opts);
  }
}

const lazy = <O>(opts: O): O & Internal => ({ ...opts, [LAZY]: true as const });

/**
 * Conv1d whose in_channels is taken from the first input; it then becomes a Conv1d.
 * @example const c = new gg.nn.LazyConv1d(8, 3); c.call(x); // weight (8, x.shape[1], 3)
 */
export class LazyConv1d extends Conv1d {
  constructor(outChannels: number, kernelSize: IntOrList, opts: ConvModuleOptions = {}) {
    super(0, outChannels, kernelSize, lazy(opts));
  }
}
/**
 * Conv2d whose in_channels is taken from the first input (or a loaded state dict);
 * it then becomes a Conv2d.
 * @example const c = new gg.nn.LazyConv2d(8, 3, { padding: 1 });
 */
export class LazyConv2d extends Conv2d {
  constructor(outChannels: number, kernelSize: IntOrList, opts: ConvModuleOptions = {}) {
    super(0, outChannels, kernelSize, lazy(opts));
  }
}
/** Conv3d whose in_channels is taken from the first input; it then becomes a Conv3d. @example const c = new gg.nn.LazyConv3d(8, 3); */
export class LazyConv3d extends Conv3d {
  constructor(outChannels: number, kernelSize: IntOrList, opts: ConvModuleOptions = {}) {
    super(0, outChannels, kernelSize, lazy(opts));
  }
}
/** ConvTranspose1d whose in_channels is taken from the first input. @example const c = new gg.nn.LazyConvTranspose1d(8, 3, { stride: 2 }); */
export class LazyConvTranspose1d extends ConvTranspose1d {
  constructor(outChannels: number, kernelSize: IntOrList, opts: ConvTransposeModuleOptions = {}) {
    super(0, outChannels, kernelSize, lazy(opts));
  }
}
/**
 * ConvTranspose2d whose in_channels is taken from the first input.
 * @example const c = new gg.nn.LazyConvTranspose2d(1, 4, { stride: 2, padding: 1 });
 */
export class LazyConvTranspose2d extends ConvTranspose2d {
  constructor(outChannels: number, kernelSize: IntOrList, opts: ConvTransposeModuleOptions = {}) {
    super(0, outChannels, kernelSize, lazy(opts));
  }
}
/** ConvTranspose3d whose in_channels is taken from the first input. @example const c = new gg.nn.LazyConvTranspose3d(4, 2, { stride: 2 }); */
export class LazyConvTranspose3d extends ConvTranspose3d {
  constructor(outChannels: number, kernelSize: IntOrList, opts: ConvTransposeModuleOptions = {}) {
    super(0, outChannels, kernelSize, lazy(opts));
  }
}

// ---- pooling modules ---------------------------------------------------------------------------

/** Python's repr of an int-or-tuple argument. */
const pyArg = (v: IntOrList): string => (typeof v === 'number' ? String(v) : pyTuple(v));

/** Options of MaxPool1d/2d/3d. */
export type MaxPoolModuleOptions = MaxPoolOptions;

/** What MaxPoolNd and AvgPoolNd share: the window's options as given. */
abstract class PoolNd extends Module {
  readonly kernelSize: IntOrList;
  readonly stride: IntOrList;
  readonly padding: IntOrList;
  readonly ceilMode: boolean;
  protected constructor(
    protected readonly r: Rank,
    kernelSize: IntOrList,
    opts: { stride?: IntOrList | null; padding?: IntOrList; ceilMode?: boolean },
  ) {
    super();
    this.kernelSize = kernelSize;
    this.stride = opts.stride ?? kernelSize;
    this.padding = opts.padding ?? 0;
    this.ceilMode = opts.ceilMode ?? false;
  }
}

abstract class MaxPoolNd extends PoolNd {
  readonly dilation: IntOrList;
  protected constructor(r: Rank, kernelSize: IntOrList, opts: MaxPoolModuleOptions) {
    super(r, kernelSize, opts);
    this.dilation = opts.dilation ?? 1;
  }
  forward(input: Tensor): Tensor {
    return maxPoolNd(this.r, input, this.kernelSize, { stride: this.stride, padding: this.padding, dilation: this.dilation, ceilMode: this.ceilMode });
  }
  override extraRepr(): string {
    return `kernel_size=${pyArg(this.kernelSize)}, stride=${pyArg(this.stride)}, padding=${pyArg(this.padding)}, dilation=${pyArg(this.dilation)}, ceil_mode=${this.ceilMode ? 'True' : 'False'}`;
  }
}

/** Max pooling layer over (N, C, L). @example new gg.nn.MaxPool1d(2) */
export class MaxPool1d extends MaxPoolNd {
  constructor(kernelSize: IntOrList, opts: MaxPoolModuleOptions = {}) {
    super(1, kernelSize, opts);
  }
}
/**
 * Max pooling layer over (N, C, H, W); ties share the gradient evenly.
 * @example new gg.nn.MaxPool2d(2) // kernel 2, stride 2
 */
export class MaxPool2d extends MaxPoolNd {
  constructor(kernelSize: IntOrList, opts: MaxPoolModuleOptions = {}) {
    super(2, kernelSize, opts);
  }
}
/** Max pooling layer over (N, C, D, H, W). @example new gg.nn.MaxPool3d(2) */
export class MaxPool3d extends MaxPoolNd {
  constructor(kernelSize: IntOrList, opts: MaxPoolModuleOptions = {}) {
    super(3, kernelSize, opts);
  }
}

/** Options of AvgPool1d/2d/3d. */
export type AvgPoolModuleOptions = AvgPoolOptions;

abstract class AvgPoolNd extends PoolNd {
  readonly countIncludePad: boolean;
  readonly divisorOverride: number | null;
  protected constructor(r: Rank, kernelSize: IntOrList, opts: AvgPoolModuleOptions) {
    super(r, kernelSize, opts);
    this.countIncludePad = opts.countIncludePad ?? true;
    this.divisorOverride = opts.divisorOverride ?? null;
  }
  forward(input: Tensor): Tensor {
    return avgPoolNd(this.r, input, this.kernelSize, {
      stride: this.stride,
      padding: this.padding,
      ceilMode: this.ceilMode,
      countIncludePad: this.countIncludePad,
      divisorOverride: this.divisorOverride,
    });
  }
  override extraRepr(): string {
    return `kernel_size=${pyArg(this.kernelSize)}, stride=${pyArg(this.stride)}, padding=${pyArg(this.padding)}`;
  }
}

/** Average pooling layer over (N, C, L). @example new gg.nn.AvgPool1d(2) */
export class AvgPool1d extends AvgPoolNd {
  constructor(kernelSize: IntOrList, opts: AvgPoolModuleOptions = {}) {
    super(1, kernelSize, opts);
  }
}
/**
 * Average pooling layer over (N, C, H, W).
 * @example new gg.nn.AvgPool2d(2)
 */
export class AvgPool2d extends AvgPoolNd {
  constructor(kernelSize: IntOrList, opts: AvgPoolModuleOptions = {}) {
    super(2, kernelSize, opts);
  }
}
/** Average pooling layer over (N, C, D, H, W). @example new gg.nn.AvgPool3d(2) */
export class AvgPool3d extends AvgPoolNd {
  constructor(kernelSize: IntOrList, opts: AvgPoolModuleOptions = {}) {
    super(3, kernelSize, opts);
  }
}
