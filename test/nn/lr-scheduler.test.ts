/**
 * gg.optim.lrScheduler against PyTorch 1.13 (test/fixtures/make_tools.py):
 * the lr of each of two parameter groups after every step, get_last_lr, and
 * the state dict (PyTorch's keys) after every step; resuming from a state
 * dict; PyTorch's error messages.
 */
import { expect } from 'chai';
import * as gg from '../../src/index.js';
import { revive, tools } from '../helpers/tools-fixture.js';

const S = gg.optim.lrScheduler;
const LAMBDAS: Record<string, (e: number) => number> = {
  exp95: (e) => 0.95 ** e,
  inv: (e) => 1 / (e + 1),
  warmup5: (e) => Math.min(1, (e + 1) / 5),
};

function twoGroups(): gg.optim.SGD {
  const a = gg.zeros([2], { dtype: 'float64', requiresGrad: true });
  const b = gg.zeros([3], { dtype: 'float64', requiresGrad: true });
  return new gg.optim.SGD([{ params: [a] }, { params: [b], lr: 0.01 }], { lr: 0.1 });
}

type Case = ReturnType<typeof tools>['schedulers'][number];
type Sched = gg.optim.lrScheduler.LRScheduler | gg.optim.lrScheduler.ReduceLROnPlateau;

function make(c: Case, opt: gg.optim.SGD, lastEpoch?: number): Sched {
  const o = c.options;
  const n = (k: string): number => o[k] as number;
  const resume = lastEpoch === undefined ? {} : { lastEpoch };
  switch (c.kind) {
    case 'StepLR':
      return new S.StepLR(opt, { stepSize: n('stepSize'), gamma: n('gamma'), ...resume });
    case 'MultiStepLR':
      return new S.MultiStepLR(opt, { milestones: o['milestones'] as number[], gamma: n('gamma'), ...resume });
    case 'ExponentialLR':
      return new S.ExponentialLR(opt, { gamma: n('gamma'), ...resume });
    case 'CosineAnnealingLR':
      return new S.CosineAnnealingLR(opt, { tMax: n('tMax'), etaMin: n('etaMin'), ...resume });
    case 'LambdaLR': {
      const l = c.options['lrLambda'] as string | string[];
      return new S.LambdaLR(opt, { lrLambda: typeof l === 'string' ? (LAMBDAS[l] as (e: number) => number) : l.map((k) => LAMBDAS[k] as (e: number) => number), ...resume });
    }
    case 'ReduceLROnPlateau':
      return new S.ReduceLROnPlateau(opt, c.options as gg.optim.lrScheduler.ReduceLROnPlateauOptions);
    default:
      throw new Error(`unknown scheduler ${c.kind}`);
  }
}

function closeArrays(got: number[], want: number[], what: string): void {
  expect(got.length, what).to.equal(want.length);
  got.forEach((v, i) => expect(v, `${what}[${i}]`).to.be.closeTo(want[i] as number, 1e-12 * (1 + Math.abs(want[i] as number))));
}

/** Deep equality with numbers compared to 1e-12 relative. */
function closeState(got: unknown, want: unknown, path: string): void {
  if (typeof want === 'number') {
    expect(typeof got, path).to.equal('number');
    if (!Number.isFinite(want)) expect(got, path).to.equal(want);
    else expect(got as number, path).to.be.closeTo(want, 1e-12 * (1 + Math.abs(want)));
  } else if (Array.isArray(want)) {
    expect(got, path).to.be.an('array').with.length(want.length);
    want.forEach((w, i) => closeState((got as unknown[])[i], w, `${path}[${i}]`));
  } else if (typeof want === 'object' && want !== null) {
    expect(Object.keys(got as object).sort(), `${path} keys`).to.deep.equal(Object.keys(want).sort());
    for (const [k, w] of Object.entries(want)) closeState((got as Record<string, unknown>)[k], w, `${path}.${k}`);
  } else {
    expect(got, path).to.equal(want);
  }
}

describe('optim.lrScheduler (PyTorch 1.13 goldens)', () => {
  for (const c of tools().schedulers) {
    it(`${c.name}: lrs, getLastLr and stateDict after every step`, () => {
      const opt = twoGroups();
      const sched = make(c, opt);
      const lrs = () => opt.paramGroups.map((g) => g.lr);
      closeArrays(lrs(), c.lrs[0] as number[], 'lrs after construction');
      closeState(sched.stateDict(), revive(c.stateDicts[0]), 'stateDict[0]');
      for (let i = 1; i < c.lrs.length; i++) {
        opt.step();
        if (sched instanceof S.ReduceLROnPlateau) sched.step(c.metrics?.[i - 1] as number);
        else sched.step();
        closeArrays(lrs(), c.lrs[i] as number[], `lrs after step ${i}`);
        closeArrays(sched.getLastLr(), c.lrs[i] as number[], `getLastLr after step ${i}`);
        closeState(sched.stateDict(), revive(c.stateDicts[i]), `stateDict[${i}]`);
      }
      if (c.initialLr) closeArrays(opt.paramGroups.map((g) => (g as { initialLr?: number }).initialLr as number), c.initialLr, 'initialLr');
    });

    it(`${c.name}: saved half way (optimizer and scheduler state dicts), a new pair resumes the same schedule`, () => {
      const half = Math.floor((c.lrs.length - 1) / 2);
      const opt = twoGroups();
      const sched = make(c, opt);
      const step = (s: Sched, i: number) => (s instanceof S.ReduceLROnPlateau ? s.step(c.metrics?.[i] as number) : s.step());
      for (let i = 0; i < half; i++) step(sched, i);
      // through JSON, as a checkpoint file would carry it
      const saved = JSON.parse(JSON.stringify(sched.stateDict(), (_k, v: unknown) => (v === Infinity ? 'inf' : v === -Infinity ? '-inf' : v))) as unknown;
      const savedOpt = opt.stateDict();
      const opt2 = twoGroups();
      opt2.loadStateDict(savedOpt);
      const sched2 = make(c, opt2);
      sched2.loadStateDict(revive(saved) as gg.optim.lrScheduler.SchedulerStateDict);
      for (let i = half; i < c.lrs.length - 1; i++) step(sched2, i);
      closeArrays(opt2.paramGroups.map((g) => g.lr), c.lrs[c.lrs.length - 1] as number[], 'lrs at the end');
    });
  }

  it("PyTorch's error messages", () => {
    const e = tools().errors;
    expect(() => new S.ReduceLROnPlateau(twoGroups(), { factor: 1.0 })).to.throw(e['plateauFactor'] as string);
    expect(() => new S.ReduceLROnPlateau(twoGroups(), { mode: 'up' as 'min' })).to.throw(e['plateauMode'] as string);
    expect(() => new S.ReduceLROnPlateau(twoGroups(), { thresholdMode: 'x' as 'rel' })).to.throw(e['plateauThresholdMode'] as string);
    expect(() => new S.ReduceLROnPlateau(twoGroups(), { minLr: [0.1, 0.2, 0.3] })).to.throw(e['plateauMinLr'] as string);
    expect(() => new S.LambdaLR(twoGroups(), { lrLambda: [LAMBDAS['inv']!, LAMBDAS['inv']!, LAMBDAS['inv']!] })).to.throw(e['lambdaCount'] as string);
    const one = new gg.optim.SGD([gg.zeros([1], { requiresGrad: true })], { lr: 0.1 });
    // PyTorch raises KeyError, whose str() adds quotes
    expect(() => new S.StepLR(one, { stepSize: 2, lastEpoch: 3 })).to.throw((e['resumeWithoutInitialLr'] as string).replace(/^"|"$/g, ''));
  });

  it('a failed construction changes no group', () => {
    const opt = twoGroups();
    expect(() => new S.LambdaLR(opt, { lrLambda: [LAMBDAS['inv']!] })).to.throw();
    expect(opt.paramGroups.map((g) => g.lr)).to.deep.equal([0.1, 0.01]);
  });

  it('verbose prints as PyTorch does', () => {
    const logged: string[] = [];
    const orig = console.log;
    console.log = (...a: unknown[]) => logged.push(a.join(' '));
    try {
      const sched = new S.StepLR(twoGroups(), { stepSize: 1, gamma: 0.5, verbose: true });
      sched.step();
    } finally {
      console.log = orig;
    }
    expect(logged).to.deep.equal([
      'Adjusting learning rate of group 0 to 1.0000e-01.',
      'Adjusting learning rate of group 1 to 1.0000e-02.',
      'Adjusting learning rate of group 0 to 5.0000e-02.',
      'Adjusting learning rate of group 1 to 5.0000e-03.',
    ]);
  });

  it("loadStateDict restores each scheduler's own hyperparameters (PyTorch's __dict__ update)", () => {
    const pairs: [gg.optim.lrScheduler.LRScheduler, gg.optim.lrScheduler.LRScheduler, Record<string, unknown>][] = [
      [new S.StepLR(twoGroups(), { stepSize: 3, gamma: 0.5 }), new S.StepLR(twoGroups(), { stepSize: 7 }), { stepSize: 3, gamma: 0.5 }],
      [new S.ExponentialLR(twoGroups(), { gamma: 0.25 }), new S.ExponentialLR(twoGroups(), { gamma: 0.9 }), { gamma: 0.25 }],
      [new S.CosineAnnealingLR(twoGroups(), { tMax: 4, etaMin: 0.001 }), new S.CosineAnnealingLR(twoGroups(), { tMax: 9 }), { tMax: 4, etaMin: 0.001 }],
      [new S.MultiStepLR(twoGroups(), { milestones: [2, 2, 5], gamma: 0.3 }), new S.MultiStepLR(twoGroups(), { milestones: [1] }), { gamma: 0.3 }],
    ];
    for (const [src, dst, want] of pairs) {
      dst.loadStateDict(JSON.parse(JSON.stringify(src.stateDict())) as gg.optim.lrScheduler.SchedulerStateDict);
      for (const [k, v] of Object.entries(want)) expect((dst as unknown as Record<string, unknown>)[k], `${src.constructor.name}.${k}`).to.equal(v);
    }
    const ms = pairs[3]?.[1] as gg.optim.lrScheduler.MultiStepLR;
    expect([...ms.milestones]).to.deep.equal([[2, 2], [5, 1]]);
  });
});
