/**
 * Functional convolution and pooling, 1d/2d/3d (PyTorch's `F.conv2d`,
 * `F.max_pool2d`, ...), and the argument checks the modules of conv.ts and
 * pool.ts share with them. Both rest on two adjoint primitives of the op
 * table (docs/notes/conv.md):
 * - `im2col` turns the image (N, C, *spatial) into columns (N, C, *kernel, *out);
 *   a convolution is then one (grouped, batched) matmul with the reshaped weight,
 *   pooling a reduction over the kernel dims.
 * - `col2im`, its adjoint, sums the columns back onto the image: a transposed
 *   convolution is a matmul followed by col2im.
 * Each primitive's backward is the other, so every gradient here (and every
 * higher-order gradient) comes from matmul, im2col and col2im.
 */
import { tidy } from '../../tensor/storage.js';
import { checkBool, checkInt, checkIntList, checkOptionalTensor, checkOptions, checkTensor } from '../../tensor/check.js';
import { Tensor } from '../../tensor/tensor.js';
import { apply } from '../../tensor/tensor.js';
import { arange, tensor } from '../../tensor/creation.js';
import { noGrad } from '../../autograd/grad-mode.js';
import { getDevice } from '../../backend/registry.js';
import { fmt } from '../../tensor/shape.js';
import { isFloatingDtype, type DType } from '../../backend/types.js';
import { envSwitches } from '../../backend/platform/platform.js';

/** One number for every spatial dim, or one per dim. */
export type IntOrList = number | readonly number[];

/** @internal The number of spatial dims. */
export type Rank = 1 | 2 | 3;

/** @internal ∏ xs. */
export const prod = (xs: readonly number[]): number => xs.reduce((a, b) => a * b, 1);

/** @internal Expand an int-or-list argument to one value per spatial dim (PyTorch's `_ntuple`). */
export function tuple(v: IntOrList, r: number, name: string, op: string): number[] {
  // NOTE: types first (docs/notes/validation.md): these numbers become kernel literals
  const list = typeof v === 'number' ? Array.from({ length: r }, () => checkInt(op, name, v)) : checkIntList(op, name, v);
  if (list.length === 1 && r > 1) return Array.from({ length: r }, () => list[0] as number);
  if (list.length !== r) {
    throw new Error(`${op}: expected ${name} to be a single integer value or a list of ${r} values to match the convolution dimensions, but got ${name}=${fmt(list)}`);
  }
  if (!list.every((x) => Number.isInteger(x))) throw new Error(`${op}: ${name} must hold integers, got ${fmt(list)}`);
  return list;
}

/** Check the input's rank; returns it batched, and whether it was. */
function batchedInput(input: Tensor, r: Rank, op: string): [Tensor, boolean] {
  if (input.ndim !== r + 1 && input.ndim !== r + 2) {
    throw new Error(`Expected ${r + 1}D (unbatched) or ${r + 2}D (batched) input to ${op}, but got input of size: ${fmt(input.shape)}`);
  }
  const batched = input.ndim === r + 2;
  return [batched ? input : input.unsqueeze(0), batched];
}

function windows(x: Tensor, kernel: number[], stride: number[], padding: number[], dilation: number[], outSize: number[], value: number): Tensor {
  const r = kernel.length;
  return apply('im2col', [x], { kernel, stride, padding, dilation, inSize: x.shape.slice(x.ndim - r), outSize, value });
}

/**
 * A pooling's windows and the dims to reduce over them. Windows that tile the
 * image exactly (stride = kernel, no padding, no dilation, size = out·kernel:
 * MaxPool2d(2) on an even image) are a view, (N, C, out₀, k₀, out₁, k₁, ...),
 * reduced over the k dims: no im2col pass forward, and the gradient of the view
 * is the image's own layout, so no col2im pass backward. The same elements
 * reduced in the same order as over im2col's columns (docs/notes/conv.md).
 * Otherwise im2col's columns (N, C, *kernel, *out), reduced over dims 2..r+1.
 */
function poolWindows(x: Tensor, kernel: number[], stride: number[], padding: number[], dilation: number[], outSize: number[], value: number): [Tensor, number[]] {
  const inSize = x.shape.slice(2);
  const tiles = kernel.every((k, d) => stride[d] === k && padding[d] === 0 && dilation[d] === 1 && (outSize[d] ?? 0) * k === inSize[d]);
  if (tiles && x.isContiguous()) {
    const split = kernel.flatMap((k, d) => [outSize[d] ?? 1, k]);
    return [x.reshape(...x.shape.slice(0, 2), ...split), kernel.map((_, d) => 3 + 2 * d)];
  }
  return [windows(x, kernel, stride, padding, dilation, outSize, value), kernel.map((_, d) => 2 + d)];
}

function checkPositive(op: string, stride: number[], dilation: number[], padding: number[]): void {
  if (stride.some((s) => s <= 0)) throw new Error(`${op}: non-positive stride is not supported`);
  if (dilation.some((d) => d <= 0)) throw new Error(`${op}: dilation should be greater than zero`);
  if (padding.some((p) => p < 0)) throw new Error(`${op}: negative padding is not supported`);
}

/** The tensor arguments and the options object of a convolution, by type. */
function checkConvTensors(op: string, input: unknown, weight: unknown, bias: unknown, opts: unknown, allowed: readonly string[]): void {
  checkTensor(op, 'input', input);
  checkTensor(op, 'weight', weight);
  checkOptionalTensor(op, 'bias', bias);
  checkOptions(op, opts as object | undefined, allowed);
}

/**
 * A weight whose spatial size has a zero refuses to run, with PyTorch's
 * message for its rank (1-d is reported as a 2-d kernel of height 1, as
 * PyTorch computes it). Without it a zero kernel yields a larger, all-zero
 * output instead of an error.
 */
function checkKernelSize(kernel: readonly number[]): void {
  if (kernel.every((k) => k > 0)) return;
  if (kernel.length === 3) throw new Error(`kernel size should be greater than zero, but got: ${kernel.join(' x ')} (TxHxW)`);
  const [h, w] = kernel.length === 1 ? [1, kernel[0]] : kernel;
  throw new Error(`kernel size should be greater than zero, but got kernel_height: ${h} kernel_width: ${w}`);
}

function checkBias(bias: Tensor | null | undefined, weight: Tensor, out: number): void {
  if (bias && (bias.ndim !== 1 || bias.shape[0] !== out)) {
    throw new Error(`Given weight of size ${fmt(weight.shape)}, expected bias to be 1-dimensional with ${out} elements, but got bias of size ${fmt(bias.shape)} instead`);
  }
}

function addBias(out: Tensor, bias: Tensor | null | undefined, r: number): Tensor {
  if (!bias) return out;
  return out.add(bias.reshape(bias.shape[0] ?? 1, ...Array.from({ length: r }, () => 1)));
}

/**
 * @internal Whether a convolution's bias is folded into its product (the
 * `addmm` primitive over the batched product; default: true unless
 * `GPUGRAD_CONV_ADDMM=0`). Off, the product is followed by a broadcast add.
 * Writable: tests compare the two. Read at the first use (`envSwitches`).
 */
export const convSettings = envSwitches({ foldBias: 'GPUGRAD_CONV_ADDMM' });

/** A bias the product can take: weight, bias and input of one floating dtype on one device (else the add's promotion and errors). */
function foldsBias(x: Tensor, weight: Tensor, bias: Tensor): boolean {
  return isFloatingDtype(x.dtype) && weight.dtype === x.dtype && bias.dtype === x.dtype && weight.device === x.device && bias.device === x.device;
}

/** @internal A convolution's stride, padding, dilation and output padding as tuples. */
export interface ConvGeometry {
  stride: number[];
  /** A tuple, or `'same'`/`'valid'` (never for a transposed convolution). */
  padding: number[] | 'same' | 'valid';
  dilation: number[];
  /** All zeros unless transposed. */
  outputPadding: number[];
}

/**
 * @internal The argument checks that `conv2d(...)` and `new Conv2d(...)`
 * share (likewise for every rank and the transposed forms): each option
 * expanded to one value per spatial dim, a padding string only for a plain
 * convolution and only `'same'` or `'valid'`, `'same'` only with stride 1.
 * `caller` picks PyTorch's wording for an unknown padding string, which
 * differs between the functional form and the module.
 */
export function convGeometry(
  r: Rank,
  op: string,
  transposed: boolean,
  opts: { stride?: IntOrList; padding?: IntOrList | string; dilation?: IntOrList; outputPadding?: IntOrList },
  caller: 'functional' | 'module',
): ConvGeometry {
  const pad = opts.padding ?? 0;
  if (transposed && typeof pad === 'string') throw new Error(`${op}: padding must be a number or a list of numbers, got '${pad}'`);
  const stride = tuple(opts.stride ?? 1, r, 'stride', op);
  const dilation = tuple(opts.dilation ?? 1, r, 'dilation', op);
  let padding: number[] | 'same' | 'valid';
  if (typeof pad === 'string') {
    if (pad !== 'same' && pad !== 'valid') {
      throw new Error(caller === 'functional' ? `Invalid padding string: '${pad}'` : `Invalid padding string '${pad}', should be one of ['valid', 'same']`);
    }
    if (pad === 'same' && stride.some((s) => s !== 1)) throw new Error("padding='same' is not supported for strided convolutions");
    padding = pad;
  } else {
    padding = tuple(pad, r, 'padding', op);
  }
  const outputPadding = tuple(opts.outputPadding ?? 0, r, 'output_padding', op);
  return { stride, padding, dilation, outputPadding };
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
  const groups = checkInt('conv', 'groups', groupsOpt ?? 1);
  if (groups <= 0) throw new Error('non-positive groups is not supported');
  if (weight.ndim !== r + 2) {
    throw new Error(`Expected ${r + 2}-dimensional weight for ${r + 2}-dimensional input ${fmt(x.shape)}, but got ${weight.ndim}-dimensional weight of size ${fmt(weight.shape)} instead`);
  }
  if ((weight.shape[0] ?? 0) % groups !== 0) {
    throw new Error(`Given groups=${groups}, expected weight to be divisible by ${groups} at dimension 0, but got weight of size ${fmt(weight.shape)} instead`);
  }
  return groups;
}

/**
 * The frame both convolutions share: the arguments checked (types, option
 * keys, rank, groups, kernel size, the input's channels, the bias), the input
 * batched, `body` run on it inside `tidy` (intermediate results are freed
 * when it returns, README "Memory"), the bias added, and the batch dim
 * dropped again for an unbatched input.
 */
function convFrame(
  r: Rank,
  transposed: boolean,
  input: Tensor,
  weight: Tensor,
  bias: Tensor | null | undefined,
  opts: ConvOptions | ConvTransposeOptions,
  body: (x: Tensor, groups: number, kernel: number[], op: string, bias: Tensor | null) => Tensor,
): Tensor {
  const op = transposed ? `conv_transpose${r}d` : `conv${r}d`;
  const keys = transposed
    ? (['stride', 'padding', 'outputPadding', 'dilation', 'groups'] satisfies readonly (keyof ConvTransposeOptions)[])
    : (['stride', 'padding', 'dilation', 'groups'] satisfies readonly (keyof ConvOptions)[]);
  checkConvTensors(op, input, weight, bias, opts, keys);
  return tidy(() => {
    const [x, batched] = batchedInput(input, r, op);
    const groups = checkGroups(r, x, weight, opts.groups);
    const [w0, w1] = weight.shape as [number, number];
    const kernel = weight.shape.slice(2);
    checkKernelSize(kernel);
    // a convolution's weight is (Cout, Cin/G, *k), a transposed one's (Cin, Cout/G, *k)
    const cin = transposed ? w0 : w1 * groups;
    const c = x.shape[1] ?? 0;
    if (c !== cin) {
      throw new Error(`Given ${transposed ? 'transposed=1' : `groups=${groups}`}, weight of size ${fmt(weight.shape)}, expected input${fmt(x.shape)} to have ${cin} channels, but got ${c} channels instead`);
    }
    checkBias(bias, weight, transposed ? w1 * groups : w0);
    // body adds the bias (a convolution may fold it into its product)
    const y = body(x, groups, kernel, op, bias ?? null);
    return batched ? y : y.squeeze(0);
  });
}

/** @internal The convolution of rank `r` (conv1d/2d/3d and the Conv modules' forward). */
export function convNd(r: Rank, input: Tensor, weight: Tensor, bias: Tensor | null | undefined, opts: ConvOptions): Tensor {
  return convFrame(r, false, input, weight, bias, opts, (x, groups, kernel, op, b) => {
    const [cout, cg] = weight.shape as [number, number];
    const { stride, dilation, padding: pad } = convGeometry(r, op, false, opts, 'functional');
    const inSize = x.shape.slice(2);
    let before: number[];
    let total: number[];
    if (pad === 'valid') {
      before = inSize.map(() => 0);
      total = before;
    } else if (pad === 'same') {
      // PyTorch: the odd one out of an uneven total goes to the far side
      total = kernel.map((k, d) => (dilation[d] ?? 1) * (k - 1));
      before = total.map((t) => Math.floor(t / 2));
    } else {
      before = pad;
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
    const w = weight.reshape(groups, cout / groups, k);
    if (b && convSettings.foldBias && foldsBias(x, weight, b)) {
      // the bias as the product's: one op (addmm over the batched product), on the cpu one
      // kernel (the gemm's per-row bias epilogue), the product's and the add's values
      // (docs/notes/architecture.md, "The gemm's bias epilogue"); its gradient the same sums
      const c = groups === 1 ? b.reshape(cout, 1) : b.reshape(groups, cout / groups, 1);
      return c.addmm(w, cols).reshape(n, cout, ...outSize);
    }
    return addBias(w.matmul(cols).reshape(n, cout, ...outSize), b, r);
  });
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

/** @internal The transposed convolution of rank `r`. */
export function convTransposeNd(r: Rank, input: Tensor, weight: Tensor, bias: Tensor | null | undefined, opts: ConvTransposeOptions): Tensor {
  return convFrame(r, true, input, weight, bias, opts, (x, groups, kernel, op, b) => {
    const [cin, og] = weight.shape as [number, number];
    const cout = og * groups;
    const geometry = convGeometry(r, op, true, opts, 'functional');
    const { stride, dilation, outputPadding: outPad } = geometry;
    const padding = geometry.padding as number[];
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
    return addBias(apply('col2im', [cols], { kernel, stride, padding, dilation, inSize: outSize, outSize: inSize }), b, r);
  });
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
  if ((input.ndim !== r + 1 && input.ndim !== r + 2) || input.shape.slice(1).some((s) => s === 0)) {
    throw new Error(`${op}: Expected ${r + 1}D or ${r + 2}D (batch mode) tensor with optional 0 dim batch size for input, but got: ${fmt(input.shape)}`);
  }
  const batched = input.ndim === r + 2;
  return [batched ? input : input.unsqueeze(0), batched];
}

/**
 * A pooling's input (batched) and window as tuples, checked: positive sizes,
 * padding at most half the kernel (`tooMuchPad` words the error), strides
 * with PyTorch 1.13's messages (`stride should not be zero`, `stride should
 * be greater than zero, but got dH: -1 dW: -1`).
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
  // PyTorch's order: a zero stride first (pooling_output_shape), a negative one after the kernel
  if (stride.includes(0)) throw new Error('stride should not be zero');
  kernel.forEach((k, d) => {
    if (k <= 0) throw new Error(`${op}: kernel_size must be greater than zero, but got ${fmt(kernel)}`);
    const p = padding[d] ?? 0;
    if (p > Math.floor(k / 2)) throw new Error(tooMuchPad(p, k, dilation[d] ?? 1));
  });
  if (stride.some((v) => v < 0)) {
    // PyTorch names the strides dT dH dW; 1-D pooling runs as 2-D with a height stride of 1
    const shown = r === 1 ? [1, ...stride] : stride;
    const names = shown.length === 3 ? ['dT', 'dH', 'dW'] : ['dH', 'dW'];
    throw new Error(`stride should be greater than zero, but got ${shown.map((v, d) => `${names[d]}: ${v}`).join(' ')}`);
  }
  checkPositive(op, stride, dilation, padding);
  return [x, batched, kernel, stride, padding, dilation];
}

/** The keys of MaxPoolOptions and AvgPoolOptions (an unknown key is refused). */
const MAX_POOL_KEYS: readonly (keyof MaxPoolOptions)[] = ['stride', 'padding', 'dilation', 'ceilMode'];
const AVG_POOL_KEYS: readonly (keyof AvgPoolOptions)[] = ['stride', 'padding', 'ceilMode', 'countIncludePad', 'divisorOverride'];

/**
 * @internal The types of a pooling's arguments (ints or int lists, booleans,
 * an int divisor), checked before anything runs: the functional forms call
 * it, and the modules at construction (PyTorch checks when they run).
 */
export function checkPoolArgs(r: Rank, op: string, kernelSize: unknown, opts: unknown, avg: boolean): void {
  const o = checkOptions(op, opts as object | undefined, avg ? AVG_POOL_KEYS : MAX_POOL_KEYS) as AvgPoolOptions & MaxPoolOptions;
  tuple(kernelSize as IntOrList, r, 'kernel_size', op);
  if (o.stride !== undefined && o.stride !== null) tuple(o.stride, r, 'stride', op);
  if (o.padding !== undefined) tuple(o.padding, r, 'padding', op);
  if (o.ceilMode !== undefined) checkBool(op, 'ceil_mode', o.ceilMode);
  if (avg) {
    if (o.countIncludePad !== undefined) checkBool(op, 'count_include_pad', o.countIncludePad);
    if (o.divisorOverride !== undefined && o.divisorOverride !== null) checkInt(op, 'divisor_override', o.divisorOverride);
  } else if (o.dilation !== undefined) {
    tuple(o.dilation, r, 'dilation', op);
  }
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

/** A max pooling's checked input (batched) and window, with its in and out sizes. */
interface MaxPoolGeom {
  x: Tensor;
  batched: boolean;
  kernel: number[];
  stride: number[];
  padding: number[];
  dilation: number[];
  inSize: number[];
  outSize: number[];
}

function maxPoolGeom(r: Rank, op: string, input: Tensor, kernelSize: IntOrList, opts: MaxPoolOptions): MaxPoolGeom {
  const [x, batched, kernel, stride, padding, dilation] = poolArgs(r, op, input, kernelSize, opts, (p, k, dil) => `pad should be at most half of effective kernel size, but got pad=${p}, kernel_size=${k} and dilation=${dil}`);
  const inSize = x.shape.slice(2);
  const outSize = inSize.map((n, d) => poolOut(n, kernel[d] ?? 1, padding[d] ?? 0, stride[d] ?? 1, dilation[d] ?? 1, opts.ceilMode ?? false));
  checkOutSize(x, outSize);
  return { x, batched, kernel, stride, padding, dilation, inSize, outSize };
}

/**
 * What max pooling's padding reads: -∞ for floats, the lowest value for
 * integers (-2^31 for int32, -2^63 for int64, both exact in float32 and
 * float64), as PyTorch's kernels start an integer max from
 * `numeric_limits::min()`: an int32 host array would turn -∞ into 0 (a
 * padded 0 then beat a window of negatives), and an int64 window with no
 * input element would hold -∞ (docs/notes/special-values.md, "Integer max
 * pooling").
 */
function maxPoolFill(dtype: DType): number {
  return dtype === 'int32' ? -(2 ** 31) : dtype === 'int64' ? -(2 ** 63) : -Infinity;
}

/** The batched max over the windows of `g` (N, C, *outSize). */
function maxPoolValues(g: MaxPoolGeom): Tensor {
  const { x, kernel, stride, padding, dilation, inSize, outSize } = g;
  // padding reads -∞ (integers: their lowest value), which never wins; max's backward splits ties evenly and gives a NaN maximum's gradient to the NaN
  const [cols, dims] = poolWindows(x, kernel, stride, padding, dilation, outSize, maxPoolFill(x.dtype));
  // but a padded -∞ ties with a window of -∞ (integers: of their lowest value): the mask of the real cells keeps it out of the
  // split (docs/notes/special-values.md, "Max pooling with padding over a window of -inf")
  const real = poolValid(inSize, outSize, kernel, stride, padding, dilation);
  return real ? apply('amax', [cols, tensor(real, { shape: [1, 1, ...kernel, ...outSize], dtype: x.dtype, device: x.device })], { dims, keepdim: false }) : cols.max(dims);
}

/** @internal Max pooling of rank `r`. */
export function maxPoolNd(r: Rank, input: Tensor, kernelSize: IntOrList, opts: MaxPoolOptions): Tensor {
  const op = `max_pool${r}d`;
  checkPoolArgs(r, op, kernelSize, opts, false);
  // NOTE: intermediate results are freed when it returns (README "Memory")
  return tidy(() => {
    const g = maxPoolGeom(r, op, input, kernelSize, opts);
    const y = maxPoolValues(g);
    return g.batched ? y : y.squeeze(0);
  });
}

/** @internal Max pooling of rank `r` and the index of each window's maximum (PyTorch's `max_poolNd_with_indices`). */
export function maxPoolNdWithIndices(r: Rank, input: Tensor, kernelSize: IntOrList, opts: MaxPoolOptions): [Tensor, Tensor] {
  const op = `max_pool${r}d`;
  checkPoolArgs(r, op, kernelSize, opts, false);
  return tidy(() => {
    const g = maxPoolGeom(r, op, input, kernelSize, opts);
    const y = maxPoolValues(g);
    const indices = noGrad(() => maxPoolIndices(g, y));
    return g.batched ? [y, indices] : [y.squeeze(0), indices.squeeze(0)];
  });
}

/**
 * The index into each (N, C) plane of the input (flattened) of every
 * window's maximum, int64 (N, C, *outSize): PyTorch's rule, a scan of the
 * window's input elements in row-major order from -∞ that takes an element
 * when it is greater or NaN. So the first of tied maxima, the last NaN, and
 * for a window of -∞ its first input element (never padding). A window with
 * no input element (dilation stepping over a short input) gets PyTorch's
 * start index, that of the window's first in-range tap per dim, which may
 * lie past the input as PyTorch's does. Computed with ops over the windows
 * (any device): the taps' numbers and indices in float64, or float32 where
 * the device has no float64 (int64 lives in float32 there: its indices are
 * exact to 2^24, and a larger plane is refused at upload, docs/notes/dtypes.md).
 */
function maxPoolIndices(g: MaxPoolGeom, y: Tensor): Tensor {
  const { x, kernel, stride, padding, dilation, inSize, outSize } = g;
  const n = x.shape[0] ?? 1;
  const c = x.shape[1] ?? 1;
  const r = kernel.length;
  const kk = prod(kernel);
  const l = prod(outSize);
  // per tap t and window w (row-major): its flat input index, or -1 for padding; a window with
  // no input element gets PyTorch's start index at every tap (its -∞ ties with them all)
  const src = new Float64Array(kk * l);
  const inStrides = inSize.map((_, d) => prod(inSize.slice(d + 1)));
  for (let w = 0; w < l; w++) {
    const o = outSize.map((_, d) => Math.floor(w / prod(outSize.slice(d + 1))) % (outSize[d] ?? 1));
    let any = false;
    for (let t = 0; t < kk; t++) {
      let flat = 0;
      let inside = true;
      for (let d = 0; d < r; d++) {
        const tap = Math.floor(t / prod(kernel.slice(d + 1))) % (kernel[d] ?? 1);
        const at = (o[d] ?? 0) * (stride[d] ?? 1) - (padding[d] ?? 0) + tap * (dilation[d] ?? 1);
        if (at < 0 || at >= (inSize[d] ?? 1)) inside = false;
        flat += at * (inStrides[d] ?? 1);
      }
      src[t * l + w] = inside ? flat : -1;
      any ||= inside;
    }
    if (any) continue;
    // PyTorch's start: per dim the first tap at or after 0 (max_pool's `while (start < 0) start += dilation`)
    let start = 0;
    for (let d = 0; d < r; d++) {
      let s0 = (o[d] ?? 0) * (stride[d] ?? 1) - (padding[d] ?? 0);
      while (s0 < 0) s0 += dilation[d] ?? 1;
      start += s0 * (inStrides[d] ?? 1);
    }
    for (let t = 0; t < kk; t++) src[t * l + w] = start;
  }
  const dev = x.device;
  const dt = getDevice(dev).dtypes.includes('float64') ? 'float64' : 'float32';
  const cols = windows(x, kernel, stride, padding, dilation, outSize, maxPoolFill(x.dtype)).reshape(n, c, kk, l);
  const yk = y.reshape(n, c, 1, l);
  const taps = arange(kk, { dtype: dt, device: dev }).reshape(kk, 1);
  // the cells that hold an input element: the mask the values' backward uses (null: all of them)
  const valid = poolValid(inSize, outSize, kernel, stride, padding, dilation);
  const hit = cols.eq(yk).to(dt);
  // the first input element equal to the maximum (±0 compare equal: the first of a tie), and the last NaN
  const first = taps.where(valid ? hit.mul(tensor(valid, { shape: [kk, l], dtype: dt, device: dev })) : hit, kk).min(2);
  const lastNan = taps.where(cols.ne(cols), -1).max(2);
  const tap = lastNan.where(y.ne(y).reshape(n, c, l), first);
  const index = tensor(src, { shape: [kk, l], dtype: 'int64', device: dev }).to(dt);
  return index.where(taps.eq(tap.reshape(n, c, 1, l)), 0).sum(2).reshape(n, c, ...outSize).to('int64');
}

/**
 * Which cells of max pooling's columns (*kernel, *outSize) hold an input
 * element (1) and which padding (0), or null when every window lies inside
 * the input (no padding reached, no ceil-mode tail past the end). PyTorch's
 * max pooling never looks at padding; gpugrad pads with -∞, which never
 * wins, but ties with a window whose elements are all -∞, and the tie rule
 * would hand the padding shares of the gradient that col2im then drops.
 * A window with no input element at all (dilation can skip past a short
 * input) keeps every cell: its -∞ has no element to go to, PyTorch's
 * gradient there is 0 too, and no 0/0 count is made.
 */
function poolValid(inSize: number[], outSize: number[], kernel: number[], stride: number[], padding: number[], dilation: number[]): Float64Array | null {
  // per dim: [tap][window] inside the input
  const inside = kernel.map((k, d) =>
    Array.from({ length: k }, (_, t) => Array.from({ length: outSize[d] ?? 1 }, (_, o) => {
      const at = o * (stride[d] ?? 1) - (padding[d] ?? 0) + t * (dilation[d] ?? 1);
      return at >= 0 && at < (inSize[d] ?? 1);
    })),
  );
  if (inside.every((taps) => taps.every((row) => row.every(Boolean)))) return null;
  // per dim and window: whether any tap reaches the input
  const anyTap = outSize.map((o, d) => Array.from({ length: o }, (_, w) => (inside[d] ?? []).some((row) => row[w])));
  const r = kernel.length;
  const dimsAll = [...kernel, ...outSize];
  const out = new Float64Array(prod(dimsAll));
  const idx = new Array<number>(2 * r).fill(0);
  for (let i = 0; i < out.length; i++) {
    let rest = i;
    for (let d = 2 * r - 1; d >= 0; d--) {
      const n = dimsAll[d] ?? 1;
      idx[d] = rest % n;
      rest = Math.floor(rest / n);
    }
    let real = true;
    let empty = false;
    for (let d = 0; d < r; d++) {
      const w = idx[r + d] ?? 0;
      if (!inside[d]?.[idx[d] ?? 0]?.[w]) real = false;
      if (!anyTap[d]?.[w]) empty = true;
    }
    out[i] = real || empty ? 1 : 0;
  }
  return out;
}

/**
 * Max pooling over (N, C, L) or (C, L) (PyTorch's `F.max_pool1d`). Ties share
 * the gradient evenly (PyTorch gives it all to one index) between the
 * window's input elements, never its padding (a window of -∞ over padding
 * sends its whole gradient to its elements); a NaN in a window is its
 * maximum and takes its gradient, as PyTorch.
 * @throws TypeError for an unknown option or a non-int size; Error with
 *   PyTorch 1.13's messages for a bad input rank, `stride should not be zero`,
 *   `stride should be greater than zero, but got dH: -1 dW: -1`, too much
 *   padding, and an output size below 1
 * @example gg.nn.functional.maxPool1d(x, 2)
 */
export function maxPool1d(input: Tensor, kernelSize: IntOrList, opts: MaxPoolOptions = {}): Tensor {
  return maxPoolNd(1, input, kernelSize, opts);
}
/**
 * Max pooling over (N, C, H, W) or (C, H, W) (PyTorch's `F.max_pool2d`). Ties
 * share the gradient evenly (PyTorch gives it all to one index) between the
 * window's input elements, never its padding; a NaN in a window is its
 * maximum and takes its gradient, as PyTorch.
 * @throws TypeError for an unknown option or a non-int size; Error with
 *   PyTorch 1.13's messages for a bad input rank, `stride should not be zero`,
 *   `stride should be greater than zero, but got dH: -1 dW: -1`, too much
 *   padding, and an output size below 1
 * @example gg.nn.functional.maxPool2d(x, 2) // halves H and W
 */
export function maxPool2d(input: Tensor, kernelSize: IntOrList, opts: MaxPoolOptions = {}): Tensor {
  return maxPoolNd(2, input, kernelSize, opts);
}
/**
 * Max pooling over (N, C, L) or (C, L) and the index of each window's
 * maximum (PyTorch's `F.max_pool1d_with_indices`, `F.max_pool1d` with
 * `return_indices=True`): values and gradient as `maxPool1d`; indices int64
 * (no gradient) into the flattened L of each (N, C) plane, PyTorch's: the
 * first of tied maxima, the last NaN, a window of -∞'s first input element
 * (never padding).
 * @throws as `maxPool1d`
 * @example const [y, i] = gg.nn.functional.maxPool1dWithIndices(x, 2)
 */
export function maxPool1dWithIndices(input: Tensor, kernelSize: IntOrList, opts: MaxPoolOptions = {}): [Tensor, Tensor] {
  return maxPoolNdWithIndices(1, input, kernelSize, opts);
}
/**
 * Max pooling over (N, C, H, W) or (C, H, W) and the index of each window's
 * maximum (PyTorch's `F.max_pool2d_with_indices`, `F.max_pool2d` with
 * `return_indices=True`): values and gradient as `maxPool2d`; indices int64
 * (no gradient) into the flattened H·W of each (N, C) plane, PyTorch's: the
 * first of tied maxima, the last NaN, a window of -∞'s first input element
 * (never padding).
 * @throws as `maxPool2d`
 * @example const [y, i] = gg.nn.functional.maxPool2dWithIndices(x, 2)
 */
export function maxPool2dWithIndices(input: Tensor, kernelSize: IntOrList, opts: MaxPoolOptions = {}): [Tensor, Tensor] {
  return maxPoolNdWithIndices(2, input, kernelSize, opts);
}
/**
 * Max pooling over (N, C, D, H, W) or (C, D, H, W) and the index of each
 * window's maximum (PyTorch's `F.max_pool3d_with_indices`): values and
 * gradient as `maxPool3d`; indices int64 into the flattened D·H·W of each
 * (N, C) plane, PyTorch's rule (`maxPool2dWithIndices`).
 * @throws as `maxPool3d`
 * @example const [y, i] = gg.nn.functional.maxPool3dWithIndices(x, 2)
 */
export function maxPool3dWithIndices(input: Tensor, kernelSize: IntOrList, opts: MaxPoolOptions = {}): [Tensor, Tensor] {
  return maxPoolNdWithIndices(3, input, kernelSize, opts);
}
/**
 * Max pooling over (N, C, D, H, W) or (C, D, H, W) (PyTorch's `F.max_pool3d`).
 * Ties share the gradient evenly between the window's input elements (never
 * its padding); a NaN in a window takes its gradient.
 * @throws TypeError for an unknown option or a non-int size; Error with
 *   PyTorch 1.13's messages for a bad input rank, `stride should not be zero`,
 *   `stride should be greater than zero, but got dH: -1 dW: -1`, too much
 *   padding, and an output size below 1
 * @example gg.nn.functional.maxPool3d(x, 2) // halves D, H and W
 */
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

/** @internal Average pooling of rank `r`. */
export function avgPoolNd(r: Rank, input: Tensor, kernelSize: IntOrList, opts: AvgPoolOptions): Tensor {
  const op = `avg_pool${r}d`;
  checkPoolArgs(r, op, kernelSize, opts, true);
  // NOTE: intermediate results are freed when it returns (README "Memory")
  return tidy(() => {
    const [x, batched, kernel, stride, padding, ones] = poolArgs(r, op, input, kernelSize, { stride: opts.stride, padding: opts.padding }, (p, k) => `pad should be at most half of kernel size, but got pad=${p} and kernel_size=${k}`);
    if (opts.divisorOverride === 0) throw new Error('divisor must be not zero');
    const inSize = x.shape.slice(2);
    const ceil = opts.ceilMode ?? false;
    const outSize = inSize.map((n, d) => poolOut(n, kernel[d] ?? 1, padding[d] ?? 0, stride[d] ?? 1, 1, ceil));
    checkOutSize(x, outSize);
    const [cols, dims] = poolWindows(x, kernel, stride, padding, ones, outSize, 0);
    const sums = cols.sum(dims);
    let y: Tensor;
    if (opts.divisorOverride) {
      y = sums.div(opts.divisorOverride);
    } else {
      const counts = poolCounts(inSize, outSize, kernel, stride, padding, opts.countIncludePad ?? true);
      const first = counts[0] ?? 1;
      y = counts.every((v) => v === first) ? sums.div(first) : sums.div(tensor(counts, { shape: outSize, dtype: x.dtype, device: x.device }));
    }
    return batched ? y : y.squeeze(0);
  });
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

/**
 * Average pooling over (N, C, L) or (C, L) (PyTorch's `F.avg_pool1d`).
 * @throws TypeError for an unknown option or a non-int size; Error with
 *   PyTorch 1.13's messages for a bad input rank, `stride should not be zero`,
 *   `stride should be greater than zero, but got dH: -1 dW: -1`, too much
 *   padding, and an output size below 1
 * @example gg.nn.functional.avgPool1d(x, 2)
 */
export function avgPool1d(input: Tensor, kernelSize: IntOrList, opts: AvgPoolOptions = {}): Tensor {
  return avgPoolNd(1, input, kernelSize, opts);
}
/**
 * Average pooling over (N, C, H, W) or (C, H, W) (PyTorch's `F.avg_pool2d`).
 * @throws TypeError for an unknown option or a non-int size; Error with
 *   PyTorch 1.13's messages for a bad input rank, `stride should not be zero`,
 *   `stride should be greater than zero, but got dH: -1 dW: -1`, too much
 *   padding, and an output size below 1
 * @example gg.nn.functional.avgPool2d(x, 3, { stride: 2, padding: 1, countIncludePad: false })
 */
export function avgPool2d(input: Tensor, kernelSize: IntOrList, opts: AvgPoolOptions = {}): Tensor {
  return avgPoolNd(2, input, kernelSize, opts);
}
/**
 * Average pooling over (N, C, D, H, W) or (C, D, H, W) (PyTorch's `F.avg_pool3d`).
 * @throws TypeError for an unknown option or a non-int size; Error with
 *   PyTorch 1.13's messages for a bad input rank, `stride should not be zero`,
 *   `stride should be greater than zero, but got dH: -1 dW: -1`, too much
 *   padding, and an output size below 1
 * @example gg.nn.functional.avgPool3d(x, 2, { stride: 2 })
 */
export function avgPool3d(input: Tensor, kernelSize: IntOrList, opts: AvgPoolOptions = {}): Tensor {
  return avgPoolNd(3, input, kernelSize, opts);
}
