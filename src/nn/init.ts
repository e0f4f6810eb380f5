/**
 * `gg.nn.init`: PyTorch's weight initialisers (`torch.nn.init`), drawing from
 * gpugrad's seeded random stream (`gg.manualSeed`). Each fills the tensor in
 * place (the object keeps its identity, no graph is recorded) and returns it.
 *
 * The numbers differ from PyTorch's (another generator); the distributions
 * and their bounds are the same.
 */
import { checkNumber, checkOptions } from '../tensor/check.js';
import type { Tensor } from '../tensor/tensor.js';
import { full, uniformTensor, randn } from '../tensor/creation.js';
import { noGrad } from '../autograd/grad-mode.js';

/** Nonlinearities `calculateGain` knows. */
export type Nonlinearity =
  | 'linear' | 'conv1d' | 'conv2d' | 'conv3d' | 'conv_transpose1d' | 'conv_transpose2d' | 'conv_transpose3d'
  | 'sigmoid' | 'tanh' | 'relu' | 'leaky_relu' | 'selu';

/** Which fan `kaiming*` preserves. */
export type FanMode = 'fan_in' | 'fan_out';

/** Options of `kaimingUniform_` and `kaimingNormal_` (PyTorch's defaults). */
export interface KaimingOptions {
  /** Negative slope of the leaky ReLU that follows (default 0). */
  a?: number;
  mode?: FanMode;
  nonlinearity?: Nonlinearity;
}
/** The keys of KaimingOptions (an unknown key is refused). */
const KAIMING_KEYS: readonly (keyof KaimingOptions)[] = ['a', 'mode', 'nonlinearity'];

/**
 * The recommended gain for a nonlinearity (PyTorch's `calculate_gain`).
 * @example gg.nn.init.calculateGain('tanh') // 5/3
 */
export function calculateGain(nonlinearity: Nonlinearity, param?: number): number {
  switch (nonlinearity) {
    case 'linear': case 'conv1d': case 'conv2d': case 'conv3d':
    case 'conv_transpose1d': case 'conv_transpose2d': case 'conv_transpose3d': case 'sigmoid':
      return 1;
    case 'tanh':
      return 5 / 3;
    case 'relu':
      return Math.SQRT2;
    case 'leaky_relu': {
      const slope = checkNumber('calculate_gain', 'param', param ?? 0.01);
      return Math.sqrt(2 / (1 + slope * slope));
    }
    case 'selu':
      return 3 / 4;
    default:
      throw new Error(`Unsupported nonlinearity ${String(nonlinearity)}`);
  }
}

/**
 * fan_in = size(1) · receptive field, fan_out = size(0) · receptive field.
 * @example gg.nn.init.calculateFanInAndFanOut(gg.zeros([5, 4])) // [4, 5]
 */
export function calculateFanInAndFanOut(t: Tensor): [number, number] {
  if (t.ndim < 2) throw new Error('Fan in and fan out can not be computed for tensor with fewer than 2 dimensions');
  const receptive = t.shape.slice(2).reduce((a, b) => a * b, 1);
  return [(t.shape[1] ?? 1) * receptive, (t.shape[0] ?? 1) * receptive];
}

function fan(t: Tensor, mode: FanMode): number {
  if (mode !== 'fan_in' && mode !== 'fan_out') throw new Error(`Mode ${String(mode)} not supported, please use one of fan_in, fan_out`);
  const [fanIn, fanOut] = calculateFanInAndFanOut(t);
  return mode === 'fan_in' ? fanIn : fanOut;
}

/** Replace t's values with `make()`'s, without recording (the tensor keeps its identity). */
function fillWith(t: Tensor, make: () => Tensor): Tensor {
  noGrad(() => {
    const v = make();
    t.assign(v);
    v.dispose();
  });
  return t;
}

/**
 * Fill with U(a, b).
 * @example gg.nn.init.uniform_(w, -0.1, 0.1)
 */
export function uniform_(t: Tensor, a = 0, b = 1): Tensor {
  checkNumber('uniform_', 'a', a);
  checkNumber('uniform_', 'b', b);
  return fillWith(t, () => uniformTensor(t.shape, a, b, { dtype: t.dtype, device: t.device }));
}

/**
 * Fill with N(mean, std²).
 * @example gg.nn.init.normal_(w, 0, 0.02)
 */
export function normal_(t: Tensor, mean = 0, std = 1): Tensor {
  checkNumber('normal_', 'mean', mean);
  checkNumber('normal_', 'std', std);
  return fillWith(t, () => {
    const z = randn(t.shape, { dtype: t.dtype, device: t.device });
    const out = z.mul(std).add(mean);
    z.dispose();
    return out;
  });
}

/** Fill with `value`. @example gg.nn.init.constant_(b, 0.1) */
export function constant_(t: Tensor, value: number): Tensor {
  checkNumber('constant_', 'val', value);
  return fillWith(t, () => full(t.shape, value, { dtype: t.dtype, device: t.device }));
}
/** Fill with 0. @example gg.nn.init.zeros_(fc.bias!) */
export function zeros_(t: Tensor): Tensor {
  return constant_(t, 0);
}
/** Fill with 1. @example gg.nn.init.ones_(bn.weight!) */
export function ones_(t: Tensor): Tensor {
  return constant_(t, 1);
}

/**
 * He (Kaiming) uniform: U(-bound, bound), bound = gain·√(3 / fan).
 * @example gg.nn.init.kaimingUniform_(w, { a: Math.sqrt(5) }) // Linear's default
 */
export function kaimingUniform_(t: Tensor, opts: KaimingOptions = {}): Tensor {
  checkOptions('kaiming_uniform_', opts, KAIMING_KEYS);
  if (t.numel() === 0) return t;
  const gain = calculateGain(opts.nonlinearity ?? 'leaky_relu', opts.a ?? 0);
  const std = gain / Math.sqrt(fan(t, opts.mode ?? 'fan_in'));
  const bound = Math.sqrt(3) * std;
  return uniform_(t, -bound, bound);
}

/**
 * He (Kaiming) normal: N(0, (gain / √fan)²).
 * @example gg.nn.init.kaimingNormal_(w, { mode: 'fan_out', nonlinearity: 'relu' })
 */
export function kaimingNormal_(t: Tensor, opts: KaimingOptions = {}): Tensor {
  checkOptions('kaiming_normal_', opts, KAIMING_KEYS);
  if (t.numel() === 0) return t;
  const gain = calculateGain(opts.nonlinearity ?? 'leaky_relu', opts.a ?? 0);
  const std = gain / Math.sqrt(fan(t, opts.mode ?? 'fan_in'));
  return normal_(t, 0, std);
}

/**
 * Glorot (Xavier) uniform: U(-a, a), a = gain·√(6 / (fan_in + fan_out)).
 * @example gg.nn.init.xavierUniform_(w)
 */
export function xavierUniform_(t: Tensor, gain = 1): Tensor {
  checkNumber('xavier_uniform_', 'gain', gain);
  const [fanIn, fanOut] = calculateFanInAndFanOut(t);
  const a = Math.sqrt(3) * gain * Math.sqrt(2 / (fanIn + fanOut));
  return uniform_(t, -a, a);
}

/**
 * Glorot (Xavier) normal: N(0, gain²·2 / (fan_in + fan_out)).
 * @example gg.nn.init.xavierNormal_(w)
 */
export function xavierNormal_(t: Tensor, gain = 1): Tensor {
  checkNumber('xavier_normal_', 'gain', gain);
  const [fanIn, fanOut] = calculateFanInAndFanOut(t);
  return normal_(t, 0, gain * Math.sqrt(2 / (fanIn + fanOut)));
}
