/**
 * Tensors printed as PyTorch 1.13 prints them (torch/_tensor_str.py, default
 * print options: precision 4, threshold 1000, edgeitems 3, linewidth 80):
 * `tensor([[1., 5., 3.]], dtype=torch.float64, requires_grad=True)`.
 *
 * One formatter per tensor picks integer mode (`1.`), fixed (`0.1235`) or
 * scientific (`1.2346e+05`) notation from the non-zero finite values shown,
 * and pads every element to one width; a tensor of more than 1000 elements
 * is summarised with `...` (3 items at each edge of each dimension). Checked
 * against PyTorch's own strings in test/tensor/print.test.ts.
 */

const PRECISION = 4;
const THRESHOLD = 1000;
const EDGEITEMS = 3;
const LINEWIDTH = 80;

/** What the printer needs to know about a tensor. */
export interface PrintInfo {
  /** Values, row-major (all of them, read from the device). */
  readonly data: ArrayLike<number>;
  readonly shape: readonly number[];
  /** gpugrad's dtype name ('float32', 'float64', 'int32', 'int64', ...). */
  readonly dtype: string;
  /** The default dtype now: a tensor of it prints no `dtype=`. */
  readonly defaultDtype: string;
  readonly device: string;
  /** The name of the node that made it (`MulBackward0`), or null for a leaf. */
  readonly gradFn: string | null;
  readonly requiresGrad: boolean;
}

const isFloating = (dtype: string): boolean => dtype.startsWith('float');

/**
 * Python's `'{:.Nf}'` / `'{:.Ne}'` of a double: like toFixed/toExponential,
 * except that an exact tie rounds to even (JavaScript rounds it away from
 * zero) and -0 keeps its sign.
 */
function pyFixed(v: number, digits: number): string {
  if (!Number.isFinite(v)) return Number.isNaN(v) ? 'nan' : v > 0 ? 'inf' : '-inf';
  const sign = v < 0 || Object.is(v, -0) ? '-' : '';
  const a = Math.abs(v);
  let s = a.toFixed(digits);
  if (digits > 0 && a < 1e21) {
    // NOTE: a tie is a dyadic rational with at most digits + 1 decimals, so 25 more digits show it exactly
    const long = a.toFixed(Math.min(100, digits + 25));
    const dot = long.indexOf('.');
    if (/^50*$/.test(long.slice(dot + 1 + digits))) {
      const kept = long.slice(0, dot + 1 + digits);
      if (Number(kept[kept.length - 1]) % 2 === 0) s = kept;
    }
  }
  return sign + s;
}

function pyExp(v: number, digits: number): string {
  if (!Number.isFinite(v)) return Number.isNaN(v) ? 'nan' : v > 0 ? 'inf' : '-inf';
  const sign = v < 0 || Object.is(v, -0) ? '-' : '';
  const a = Math.abs(v);
  let [mant, exp] = a.toExponential(digits).split('e') as [string, string];
  const [longMant, longExp] = a.toExponential(Math.min(100, digits + 25)).split('e') as [string, string];
  const rest = longMant.slice(2 + digits);
  if (/^50*$/.test(rest)) {
    const kept = longMant.slice(0, 2 + digits).replace(/\.$/, '');
    if (Number(kept[kept.length - 1]) % 2 === 0) {
      mant = kept;
      exp = longExp;
    }
  }
  const e = Number(exp);
  return `${sign}${mant}e${e < 0 ? '-' : '+'}${String(Math.abs(e)).padStart(2, '0')}`;
}

/** PyTorch's `_Formatter`: the notation and width for a tensor's shown values. */
class Formatter {
  private intMode = true;
  private sciMode = false;
  private maxWidth = 1;
  constructor(
    private readonly floating: boolean,
    shown: readonly number[],
  ) {
    if (!floating) {
      for (const v of shown) this.maxWidth = Math.max(this.maxWidth, String(v).length);
      return;
    }
    const finite = shown.filter((v) => Number.isFinite(v) && v !== 0);
    if (finite.length === 0) return;
    const abs = finite.map(Math.abs);
    const lo = Math.min(...abs);
    const hi = Math.max(...abs);
    this.intMode = finite.every((v) => v === Math.ceil(v));
    const wide = hi / lo > 1000 || hi > 1e8;
    if (this.intMode) {
      if (wide) {
        this.sciMode = true;
        for (const v of finite) this.maxWidth = Math.max(this.maxWidth, pyExp(v, PRECISION).length);
      } else {
        for (const v of finite) this.maxWidth = Math.max(this.maxWidth, pyFixed(v, 0).length + 1);
      }
    } else if (wide || lo < 1e-4) {
      this.sciMode = true;
      for (const v of finite) this.maxWidth = Math.max(this.maxWidth, pyExp(v, PRECISION).length);
    } else {
      for (const v of finite) this.maxWidth = Math.max(this.maxWidth, pyFixed(v, PRECISION).length);
    }
  }
  get width(): number {
    return this.maxWidth;
  }
  format(v: number): string {
    let s: string;
    if (!this.floating) s = String(v);
    else if (this.sciMode) s = pyExp(v, PRECISION);
    else if (this.intMode) s = pyFixed(v, 0) + (Number.isFinite(v) ? '.' : '');
    else s = pyFixed(v, PRECISION);
    return s.padStart(this.maxWidth, ' ');
  }
}

/** A view of the flat data: the sub-tensor at `offset` with `shape`. */
interface Block {
  readonly offset: number;
  readonly shape: readonly number[];
}

function stride(shape: readonly number[]): number {
  return shape.slice(1).reduce((a, b) => a * b, 1);
}

/** The indices along the first axis that are shown (all, or the edges). */
function shownRows(n: number, summarize: boolean): (number | null)[] {
  if (!summarize || n <= 2 * EDGEITEMS) return Array.from({ length: n }, (_, i) => i);
  return [...Array.from({ length: EDGEITEMS }, (_, i) => i), null, ...Array.from({ length: EDGEITEMS }, (_, i) => n - EDGEITEMS + i)];
}

/** PyTorch's `get_summarized_data`, flattened: the values the formatter sees. */
function shownValues(data: ArrayLike<number>, b: Block, summarize: boolean, out: number[]): void {
  if (b.shape.length === 0) {
    out.push(data[b.offset] as number);
    return;
  }
  const s = stride(b.shape);
  for (const i of shownRows(b.shape[0] as number, summarize)) {
    if (i !== null) shownValues(data, { offset: b.offset + i * s, shape: b.shape.slice(1) }, summarize, out);
  }
}

function vectorStr(data: ArrayLike<number>, b: Block, indent: number, summarize: boolean, f: Formatter): string {
  const perLine = Math.max(1, Math.floor((LINEWIDTH - indent) / (f.width + 2)));
  const items = shownRows(b.shape[0] as number, summarize).map((i) => (i === null ? ' ...' : f.format(data[b.offset + i] as number)));
  const lines: string[] = [];
  for (let i = 0; i < items.length; i += perLine) lines.push(items.slice(i, i + perLine).join(', '));
  return `[${lines.join(`,\n${' '.repeat(indent + 1)}`)}]`;
}

function blockStr(data: ArrayLike<number>, b: Block, indent: number, summarize: boolean, f: Formatter): string {
  const dim = b.shape.length;
  if (dim === 0) return f.format(data[b.offset] as number);
  if (dim === 1) return vectorStr(data, b, indent, summarize, f);
  const s = stride(b.shape);
  const slices = shownRows(b.shape[0] as number, summarize).map((i) =>
    i === null ? '...' : blockStr(data, { offset: b.offset + i * s, shape: b.shape.slice(1) }, indent + 1, summarize, f),
  );
  return `[${slices.join(`,${'\n'.repeat(dim - 1)}${' '.repeat(indent + 1)}`)}]`;
}

/**
 * The text between `tensor(` and the suffixes: PyTorch's `_tensor_str`.
 * @example tensorStr({ data: [1, 5, 3], shape: [1, 3], dtype: 'float64' }, 7) // '[[1., 5., 3.]]'
 */
export function tensorStr(t: Pick<PrintInfo, 'data' | 'shape' | 'dtype'>, indent: number): string {
  const numel = t.shape.reduce((a, b) => a * b, 1);
  if (numel === 0) return '[]';
  const summarize = numel > THRESHOLD;
  const shown: number[] = [];
  shownValues(t.data, { offset: 0, shape: t.shape }, summarize, shown);
  const f = new Formatter(isFloating(t.dtype), shown);
  return blockStr(t.data, { offset: 0, shape: t.shape }, indent, summarize, f);
}

/** PyTorch's dtype names. */
function torchDtype(dtype: string): string {
  return `torch.${dtype}`;
}

/** PyTorch's `_add_suffixes`: `, suffix` on the last line, or a new line past 80 columns. */
function addSuffixes(body: string, suffixes: readonly string[], indent: number): string {
  const parts = [body];
  let last = body.length - body.lastIndexOf('\n') + 1;
  for (const s of suffixes) {
    if (last + s.length + 2 > LINEWIDTH) {
      parts.push(`,\n${' '.repeat(indent)}${s}`);
      last = indent + s.length;
    } else {
      parts.push(`, ${s}`);
      last += s.length + 2;
    }
  }
  parts.push(')');
  return parts.join('');
}

/**
 * The whole string, PyTorch's `repr(tensor)`: values, then `device=` (when
 * not 'cpu'), `size=` (empty tensors of rank ≠ 1), `dtype=` (when not the
 * default dtype, int64 or bool), `grad_fn=<...>` or `requires_grad=True`.
 * @example tensorRepr({ data: [1, 5, 3], shape: [1, 3], dtype: 'float64', defaultDtype: 'float32', device: 'cpu', gradFn: null, requiresGrad: true })
 * // 'tensor([[1., 5., 3.]], dtype=torch.float64, requires_grad=True)'
 */
export function tensorRepr(t: PrintInfo): string {
  const prefix = 'tensor(';
  const indent = prefix.length;
  const suffixes: string[] = [];
  if (t.device !== 'cpu') suffixes.push(`device='${t.device}'`);
  const numel = t.shape.reduce((a, b) => a * b, 1);
  let body: string;
  if (numel === 0) {
    if (t.shape.length !== 1) suffixes.push(`size=${pySize(t.shape)}`);
    if (t.dtype !== t.defaultDtype) suffixes.push(`dtype=${torchDtype(t.dtype)}`);
    body = '[]';
  } else {
    if (![t.defaultDtype, 'int64', 'bool'].includes(t.dtype)) suffixes.push(`dtype=${torchDtype(t.dtype)}`);
    body = tensorStr(t, indent);
  }
  if (t.gradFn !== null) suffixes.push(`grad_fn=<${t.gradFn}>`);
  else if (t.requiresGrad) suffixes.push('requires_grad=True');
  return addSuffixes(prefix + body, suffixes, indent);
}

/** Python's str(tuple(shape)): (2, 0), (3,), (). */
export function pySize(shape: readonly number[]): string {
  return shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
}
