/**
 * Reader for test/fixtures/torch_tools.json (make_tools.py): PyTorch 1.13
 * goldens of rounding, norm, arange, rsub, gradient clipping, lr schedulers
 * and the porting checks (messages, node names, alpha, dtype inference).
 * Non-finite numbers are stored as the strings 'inf', '-inf', 'nan'.
 */
import { fixture } from './compare.js';

export type Num = number | 'inf' | '-inf' | 'nan';
export interface ToolTensor {
  shape: number[];
  data: Num[];
}

/** A JSON number or its string form as a number. */
export function num(v: Num | unknown): number {
  if (v === 'inf') return Infinity;
  if (v === '-inf') return -Infinity;
  if (v === 'nan') return NaN;
  return v as number;
}
/** A golden's values as numbers. */
export function nums(t: ToolTensor): number[] {
  return t.data.map(num);
}
/** A state dict from the fixture with 'inf' strings turned back into numbers. */
export function revive(v: unknown): unknown {
  if (v === 'inf' || v === '-inf' || v === 'nan') return num(v);
  if (Array.isArray(v)) return v.map(revive);
  if (typeof v === 'object' && v !== null) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, revive(x)]));
  return v;
}

export interface ToolsFixture {
  torch: string;
  rounding: { op: 'floor' | 'ceil' | 'round'; input: ToolTensor; output: ToolTensor; gout: ToolTensor; grad: ToolTensor }[];
  norms: { name: string; p: Num | 'fro'; dim: number | number[] | null; keepdim: boolean; input: ToolTensor; output: ToolTensor; gout: ToolTensor; grad: ToolTensor }[];
  aranges: { args: number[]; output?: ToolTensor; error?: string }[];
  rsub: { input: ToolTensor; other: number; alpha: number; output: ToolTensor; gout: ToolTensor; grad: ToolTensor };
  roundDecimals: { dtype: 'float64' | 'float32'; decimals: number; input: ToolTensor; output: ToolTensor }[];
  clips: { name: string; kind: 'norm' | 'value'; maxNorm?: number; normType?: Num; clipValue?: number; grads: ToolTensor[]; totalNorm?: Num; clipped: ToolTensor[] }[];
  schedulers: {
    name: string;
    kind: string;
    options: Record<string, unknown>;
    lrs: number[][];
    lastLr?: number[];
    metrics?: number[];
    stateDicts: Record<string, unknown>[];
    initialLr?: number[];
  }[];
  errors: Record<string, string | null>;
  reprs: { name: string; shape: number[]; dtype: string; data: Num[]; requiresGrad: boolean; gradFn: boolean; repr: string }[];
  porting: {
    errors: Record<string, string | null>;
    gradFnNames: Record<string, string>;
    alpha: { op: 'add' | 'sub'; alpha: number; a: ToolTensor; b: ToolTensor | number; out: ToolTensor; inplace: ToolTensor; gout: ToolTensor; gradA: ToolTensor; gradB: ToolTensor | null }[];
    intAlpha: number[];
    dtypes: Record<string, string>;
    values: Record<string, ToolTensor>;
  };
  /** The probe's defects (make_tools.py "probe fixes"). */
  probe: {
    /** max/min/amax/amin over a dim and max pooling with NaN rows/windows: the gradient of sum(output·gout). */
    maxNan: { name: string; op: string; dim: number | null; dtype: 'float64' | 'float32'; input: ToolTensor; output: ToolTensor; gout: ToolTensor; grad: ToolTensor }[];
    /** crossEntropy with labelSmoothing 0.1, ignoreIndex 2 and every target (or one, `target`) ignored: loss and the gradient of loss.sum(). */
    ceIgnored: { weighted: boolean; reduction: 'mean' | 'sum' | 'none'; target?: number[]; input: ToolTensor; loss: ToolTensor; grad: ToolTensor }[];
    /** `mode/dtype/given/ints` (W weight, B bias, M running_mean, V running_var): PyTorch's message, null when it runs. */
    normDtypes: Record<string, string | null>;
    backward: { retainTwice: ToolTensor; unknownKey: string };
  };
}

let cached: ToolsFixture | undefined;
/** The parsed fixture (read once). */
export function tools(): ToolsFixture {
  return (cached ??= fixture<ToolsFixture>('torch_tools.json'));
}
