/** Run a case of test/fixtures/torch_ops.json (or torch_functional.json's forward_ad_ops) through the public API. */
import * as gg from '../../src/index.js';

const num = (v: unknown): number => {
  if (typeof v !== 'number') throw new Error(`expected a number, got ${JSON.stringify(v)}`);
  return v;
};
const dims = (v: unknown): number | number[] | null => {
  if (v === null || v === undefined) return null;
  if (typeof v === 'number') return v;
  if (Array.isArray(v) && v.every((x) => typeof x === 'number')) return v as number[];
  throw new Error(`expected dims, got ${JSON.stringify(v)}`);
};
const shape = (v: unknown): number[] => {
  if (Array.isArray(v) && v.every((x) => typeof x === 'number')) return v as number[];
  throw new Error(`expected a shape, got ${JSON.stringify(v)}`);
};
const optNum = (v: unknown): number | null => (v === null || v === undefined ? null : num(v));

/** Map a fixture's op and kwargs to the public API. */
export function runOp(op: string, xs: gg.Tensor[], kw: Record<string, unknown>): gg.Tensor {
  const [a, b, c] = xs as [gg.Tensor, gg.Tensor, gg.Tensor];
  switch (op) {
    case 'neg':
    case 'exp':
    case 'log':
    case 'sqrt':
    case 'abs':
    case 'relu':
    case 'sigmoid':
    case 'tanh':
      return a[op]();
    case 'clamp':
      return a.clamp(optNum(kw['min']), optNum(kw['max']));
    case 'add':
    case 'sub':
    case 'mul':
    case 'div':
      return a[op]('other' in kw ? num(kw['other']) : b);
    case 'pow':
      return a.pow('exponent' in kw ? num(kw['exponent']) : b);
    case 'maximum':
    case 'minimum':
    case 'matmul':
      return a[op](b);
    case 'where':
      return gg.where(a, b, c);
    case 'sum':
    case 'mean':
    case 'max':
      return a[op](dims(kw['dim']), kw['keepdim'] === true);
    case 'var':
      return a.var(dims(kw['dim']), { unbiased: kw['unbiased'] === true, keepdim: kw['keepdim'] === true });
    case 'softmax':
    case 'logSoftmax':
      return a[op](num(kw['dim']));
    case 'reshape':
      return a.reshape(shape(kw['shape']));
    case 'expand':
      return a.expand(shape(kw['shape']));
    case 'permute':
      return a.permute(shape(kw['dims']));
    case 'transpose':
      return a.transpose(num(kw['dim0']), num(kw['dim1']));
    case 'narrow':
      return a.narrow(num(kw['dim']), num(kw['start']), num(kw['length']));
    case 'squeeze':
      return kw['dim'] === null ? a.squeeze() : a.squeeze(num(kw['dim']));
    case 'unsqueeze':
      return a.unsqueeze(num(kw['dim']));
    case 'flatten':
      return a.flatten(num(kw['startDim']), num(kw['endDim']));
    case 'cat':
      return gg.cat(xs, num(kw['dim']));
    case 'stack':
      return gg.stack(xs, num(kw['dim']));
    default:
      throw new Error(`golden test: no mapping for fixture op '${op}' (add it to runOp in test/tensor/golden.test.ts)`);
  }
}
