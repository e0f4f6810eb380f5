/**
 * Printed forms of modules read as PyTorch's: floats as Python's repr
 * (`1e-05`, not `0.00001`), against PyTorch 1.13's own output
 * (test/fixtures/torch_repr.json, written by test/fixtures/make_repr.py).
 */
import { expect } from 'chai';
import * as gg from '../../src/index.js';
import { pyFloat } from '../../src/nn/repr.js';
import { fixture } from '../helpers/compare.js';

interface ReprFixture {
  floats: [number, string][];
  modules: [string, unknown[], string][];
}

const golden = fixture<ReprFixture>('torch_repr.json');

/** The module a fixture row names, built with gpugrad's options. */
function build(name: string, args: unknown[]): gg.nn.Module {
  const [a, kw] = args as [number | number[], Record<string, number> | undefined];
  switch (name) {
    case 'LeakyReLU':
      return new gg.nn.LeakyReLU(a as number);
    case 'Dropout':
      return new gg.nn.Dropout(a as number);
    case 'BatchNorm2d':
      return new gg.nn.BatchNorm2d(a as number, { eps: kw?.eps });
    case 'LayerNorm':
      return new gg.nn.LayerNorm(a as number[], { eps: kw?.eps });
    default:
      throw new Error(`no builder for ${name}`);
  }
}

describe('printed forms (Python repr)', () => {
  it("pyFloat prints each float as Python's repr does", () => {
    for (const [v, want] of golden.floats) expect(pyFloat(v), String(v)).to.equal(want);
  });
  it("modules print their float options as PyTorch's do", () => {
    for (const [name, args, want] of golden.modules) expect(build(name, args).toString(), want).to.equal(want);
  });
});
