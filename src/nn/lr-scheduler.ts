/**
 * `gg.optim.lrScheduler`: learning-rate schedules with PyTorch 1.13's
 * semantics (torch/optim/lr_scheduler.py): the same recurrences (the
 * "chainable" forms, which read each group's current `lr`), the same
 * `lastEpoch`/step counting, and the same `stateDict()` keys, so a schedule
 * ported from PyTorch gives the same learning rates step for step (checked
 * against PyTorch in test/nn/lr-scheduler.test.ts).
 *
 * Call `scheduler.step()` once per epoch after `optimizer.step()`
 * (ReduceLROnPlateau: `scheduler.step(validationLoss)`).
 *
 * Not ported: `step(epoch)` with an explicit epoch (deprecated in PyTorch),
 * and the warning PyTorch gives when `scheduler.step()` runs before the first
 * `optimizer.step()`.
 *
 * NOTE: over 500 lines because it holds six schedulers on one base class,
 * each short, as PyTorch's lr_scheduler.py does; splitting them would scatter
 * the shared step counting.
 */
import { checkBool, checkInt, checkIntList, checkNumber, checkOptions, typeName } from '../tensor/check.js';

/** A parameter group as schedulers see it: its `lr`, and `initialLr` once a scheduler set it. */
export interface LrGroup {
  lr: number;
  /** The lr the first scheduler attached to the optimizer found (PyTorch's `initial_lr`). */
  initialLr?: number;
}

/** What a scheduler drives: any optimizer (`gg.optim.SGD`, `Adam`, ...) whose groups have an `lr`. */
export interface LrOptimizer {
  readonly paramGroups: readonly LrGroup[];
}

/**
 * A scheduler's state as PyTorch's `state_dict()` lays it out: the same keys
 * (`last_epoch`, `base_lrs`, `_step_count`, `_last_lr`, and each scheduler's
 * own), numbers and arrays only.
 */
export type SchedulerStateDict = Record<string, unknown>;

/** Options every `LRScheduler` takes. */
export interface SchedulerOptions {
  /** The index of the last epoch when resuming; -1 (default) starts fresh. */
  lastEpoch?: number;
  /** Print each lr change, as PyTorch's `verbose=True` does. */
  verbose?: boolean;
}

/** Python's `'{:.4e}'.format(x)`: 1.0000e-01. */
function sci(x: number): string {
  const [m, e] = x.toExponential(4).split('e') as [string, string];
  const n = Number(e);
  return `${m}e${n < 0 ? '-' : '+'}${String(Math.abs(n)).padStart(2, '0')}`;
}

function checkGroupCount(what: string, got: number, want: number): void {
  if (got !== want) throw new Error(`Expected ${want} ${what}, but got ${got}`);
}

/**
 * Base class (PyTorch's `_LRScheduler`): records each group's `initialLr`,
 * and at construction takes the first step, which sets `lastEpoch` to 0 and
 * the groups' lr to `getLr()`'s values. Subclasses implement `getLr()`.
 *
 * Errors: resuming (`lastEpoch` ≥ 0) on an optimizer whose groups have no
 * `initialLr` throws `param 'initial_lr' is not specified in param_groups[i]
 * when resuming an optimizer`.
 * @example
 * class Halve extends gg.optim.lrScheduler.LRScheduler {
 *   protected getLr() { return this.optimizer.paramGroups.map((g) => g.lr / 2); }
 * }
 */
export abstract class LRScheduler {
  readonly optimizer: LrOptimizer;
  /** Each group's lr when the schedule started (PyTorch's `base_lrs`). */
  baseLrs: number[];
  /** Steps taken, counting the one at construction as epoch 0 (PyTorch's `last_epoch`). */
  lastEpoch: number;
  /** Print every change of lr. */
  verbose: boolean;
  /** Calls of `step()`, including the one at construction (PyTorch's `_step_count`). */
  protected stepCount = 0;
  /** The lrs the last step set. */
  protected lastLr: number[] = [];

  /** `keys`: the subclass's own option names; with them, any other key is refused (a subclass of yours may leave them out). */
  constructor(optimizer: LrOptimizer, opts: SchedulerOptions = {}, keys?: readonly string[]) {
    // NOTE: PyTorch finds a wrong type only when the schedule runs; checked here, where the option is given
    const name = new.target.name;
    checkOptions(name, opts, keys && ['lastEpoch', 'verbose', ...keys]);
    this.optimizer = optimizer;
    const lastEpoch = checkInt(name, 'last_epoch', opts.lastEpoch ?? -1);
    this.verbose = checkBool(name, 'verbose', opts.verbose ?? false);
    optimizer.paramGroups.forEach((g, i) => {
      if (lastEpoch === -1) g.initialLr ??= g.lr;
      else if (g.initialLr === undefined) throw new Error(`param 'initial_lr' is not specified in param_groups[${i}] when resuming an optimizer`);
    });
    this.baseLrs = optimizer.paramGroups.map((g) => g.initialLr as number);
    this.lastEpoch = lastEpoch;
  }

  /**
   * Take the first step (sets epoch 0). Called by each subclass's constructor
   * once its own fields are set, because `getLr` reads them.
   */
  protected initialStep(): void {
    this.stepCount = 0;
    this.step();
  }

  /** The lrs for epoch `lastEpoch`, one per group (PyTorch's `get_lr`). */
  protected abstract getLr(): number[];

  /**
   * Advance one epoch and set every group's lr.
   * @example opt.step(); sched.step();
   */
  step(): void {
    this.stepCount += 1;
    this.lastEpoch += 1;
    this.apply(this.getLr());
  }

  /** Set the groups' lrs (printing when verbose) and remember them. */
  protected apply(lrs: readonly number[]): void {
    this.optimizer.paramGroups.forEach((g, i) => {
      const lr = lrs[i] as number;
      g.lr = lr;
      if (this.verbose) console.log(`Adjusting learning rate of group ${i} to ${sci(lr)}.`);
    });
    this.lastLr = this.optimizer.paramGroups.map((g) => g.lr);
  }

  /**
   * The lrs the last step set, one per group (PyTorch's `get_last_lr`).
   * @example sched.getLastLr() // [0.05]
   */
  getLastLr(): number[] {
    return [...this.lastLr];
  }

  /**
   * The state with PyTorch's keys: `base_lrs`, `last_epoch`, `verbose`,
   * `_step_count`, `_get_lr_called_within_step`, `_last_lr` and the
   * subclass's own (`step_size`, `gamma`, `milestones`, `T_max`, ...).
   * @example const saved = sched.stateDict(); // later: sched.loadStateDict(saved)
   */
  stateDict(): SchedulerStateDict {
    return {
      ...this.ownState(),
      base_lrs: [...this.baseLrs],
      last_epoch: this.lastEpoch,
      verbose: this.verbose,
      _step_count: this.stepCount,
      _get_lr_called_within_step: false,
      _last_lr: [...this.lastLr],
    };
  }

  /**
   * Restore from `stateDict()` (the groups' lrs are not touched, as in PyTorch:
   * they come from the optimizer's own state dict).
   * @example sched.loadStateDict(saved);
   */
  loadStateDict(sd: SchedulerStateDict): void {
    const arr = (k: string): number[] => (Array.isArray(sd[k]) ? (sd[k] as number[]).map(Number) : []);
    if (typeof sd['last_epoch'] === 'number') this.lastEpoch = sd['last_epoch'];
    if (typeof sd['_step_count'] === 'number') this.stepCount = sd['_step_count'];
    if (typeof sd['verbose'] === 'boolean') this.verbose = sd['verbose'];
    if (Array.isArray(sd['base_lrs'])) this.baseLrs = arr('base_lrs');
    if (Array.isArray(sd['_last_lr'])) this.lastLr = arr('_last_lr');
    this.loadOwnState(sd);
  }

  /** The subclass's number-valued hyperparameters: PyTorch's state dict key -> the field holding it. */
  protected numberFields(): Record<string, string> {
    return {};
  }
  /** The subclass's own entries of the state dict, PyTorch's keys (by default its `numberFields`). */
  protected ownState(): SchedulerStateDict {
    const fields = this as unknown as Record<string, unknown>;
    return Object.fromEntries(Object.entries(this.numberFields()).map(([key, field]) => [key, fields[field]]));
  }
  /** Read the subclass's own entries back (a number-valued entry that is not a number is left as it is). */
  protected loadOwnState(sd: SchedulerStateDict): void {
    for (const [key, field] of Object.entries(this.numberFields())) {
      const v = sd[key];
      if (typeof v === 'number') (this as unknown as Record<string, unknown>)[field] = v;
    }
  }

  /** The groups' current lrs. */
  protected groupLrs(): number[] {
    return this.optimizer.paramGroups.map((g) => g.lr);
  }
}

/** Options of `StepLR`. */
export interface StepLROptions extends SchedulerOptions {
  /** Epochs between decays. */
  stepSize: number;
  /** Factor per decay (default 0.1). */
  gamma?: number;
}

/**
 * Multiply the lr by `gamma` every `stepSize` epochs (torch.optim.lr_scheduler.StepLR).
 * @example const sched = new gg.optim.lrScheduler.StepLR(opt, { stepSize: 30, gamma: 0.1 });
 */
export class StepLR extends LRScheduler {
  stepSize: number;
  gamma: number;
  constructor(optimizer: LrOptimizer, opts: StepLROptions) {
    super(optimizer, opts, ['stepSize', 'gamma'] satisfies readonly (keyof StepLROptions)[]);
    this.stepSize = checkInt('StepLR', 'step_size', opts.stepSize);
    this.gamma = checkNumber('StepLR', 'gamma', opts.gamma ?? 0.1);
    this.initialStep();
  }
  protected getLr(): number[] {
    const lrs = this.groupLrs();
    if (this.lastEpoch === 0 || this.lastEpoch % this.stepSize !== 0) return lrs;
    return lrs.map((lr) => lr * this.gamma);
  }
  protected override numberFields(): Record<string, string> {
    return { step_size: 'stepSize', gamma: 'gamma' };
  }
}

/** Options of `MultiStepLR`. */
export interface MultiStepLROptions extends SchedulerOptions {
  /** Epochs at which to decay; a repeated epoch decays that many times. */
  milestones: readonly number[];
  /** Factor per decay (default 0.1). */
  gamma?: number;
}

/**
 * Multiply the lr by `gamma` at each milestone epoch (torch.optim.lr_scheduler.MultiStepLR).
 * @example const sched = new gg.optim.lrScheduler.MultiStepLR(opt, { milestones: [30, 80], gamma: 0.1 });
 */
export class MultiStepLR extends LRScheduler {
  /** Milestone epoch → how many times it was listed (PyTorch's Counter). */
  milestones: Map<number, number>;
  gamma: number;
  constructor(optimizer: LrOptimizer, opts: MultiStepLROptions) {
    super(optimizer, opts, ['milestones', 'gamma'] satisfies readonly (keyof MultiStepLROptions)[]);
    this.milestones = new Map();
    for (const m of checkIntList('MultiStepLR', 'milestones', opts.milestones)) this.milestones.set(m, (this.milestones.get(m) ?? 0) + 1);
    this.gamma = checkNumber('MultiStepLR', 'gamma', opts.gamma ?? 0.1);
    this.initialStep();
  }
  protected getLr(): number[] {
    const times = this.milestones.get(this.lastEpoch);
    const lrs = this.groupLrs();
    if (times === undefined) return lrs;
    return lrs.map((lr) => lr * this.gamma ** times);
  }
  protected override numberFields(): Record<string, string> {
    return { gamma: 'gamma' };
  }
  protected override ownState(): SchedulerStateDict {
    return { milestones: Object.fromEntries([...this.milestones].map(([k, v]) => [String(k), v])), ...super.ownState() };
  }
  protected override loadOwnState(sd: SchedulerStateDict): void {
    const m = sd['milestones'];
    if (typeof m === 'object' && m !== null) this.milestones = new Map(Object.entries(m as Record<string, number>).map(([k, v]) => [Number(k), Number(v)]));
    super.loadOwnState(sd);
  }
}

/** Options of `ExponentialLR`. */
export interface ExponentialLROptions extends SchedulerOptions {
  /** Factor per epoch. */
  gamma: number;
}

/**
 * Multiply the lr by `gamma` every epoch (torch.optim.lr_scheduler.ExponentialLR).
 * @example const sched = new gg.optim.lrScheduler.ExponentialLR(opt, { gamma: 0.9 });
 */
export class ExponentialLR extends LRScheduler {
  gamma: number;
  constructor(optimizer: LrOptimizer, opts: ExponentialLROptions) {
    super(optimizer, opts, ['gamma'] satisfies readonly (keyof ExponentialLROptions)[]);
    this.gamma = checkNumber('ExponentialLR', 'gamma', opts.gamma);
    this.initialStep();
  }
  protected getLr(): number[] {
    const lrs = this.groupLrs();
    return this.lastEpoch === 0 ? lrs : lrs.map((lr) => lr * this.gamma);
  }
  protected override numberFields(): Record<string, string> {
    return { gamma: 'gamma' };
  }
}

/** Options of `CosineAnnealingLR`. */
export interface CosineAnnealingLROptions extends SchedulerOptions {
  /** Half period, in epochs (PyTorch's `T_max`). */
  tMax: number;
  /** The lowest lr (default 0). */
  etaMin?: number;
}

/**
 * Cosine annealing from each group's initial lr down to `etaMin` over `tMax`
 * epochs and back up (SGDR without restarts: Loshchilov & Hutter 2017;
 * torch.optim.lr_scheduler.CosineAnnealingLR, its recursive form, which reads
 * the groups' current lr).
 * @example const sched = new gg.optim.lrScheduler.CosineAnnealingLR(opt, { tMax: 50, etaMin: 1e-4 });
 */
export class CosineAnnealingLR extends LRScheduler {
  tMax: number;
  etaMin: number;
  constructor(optimizer: LrOptimizer, opts: CosineAnnealingLROptions) {
    super(optimizer, opts, ['tMax', 'etaMin'] satisfies readonly (keyof CosineAnnealingLROptions)[]);
    this.tMax = checkInt('CosineAnnealingLR', 'T_max', opts.tMax);
    this.etaMin = checkNumber('CosineAnnealingLR', 'eta_min', opts.etaMin ?? 0);
    this.initialStep();
  }
  protected getLr(): number[] {
    const { lastEpoch: e, tMax: T, etaMin: lo } = this;
    const lrs = this.groupLrs();
    if (e === 0) return lrs;
    if (this.stepCount === 1 && e > 0) {
      // resumed: the closed form
      return this.baseLrs.map((base) => lo + ((base - lo) * (1 + Math.cos((e * Math.PI) / T))) / 2);
    }
    // NOTE: Python's % is a floored modulo; e - 1 - T is negative before the first minimum
    if ((((e - 1 - T) % (2 * T)) + 2 * T) % (2 * T) === 0) {
      return lrs.map((lr, i) => lr + (((this.baseLrs[i] as number) - lo) * (1 - Math.cos(Math.PI / T))) / 2);
    }
    return lrs.map((lr) => ((1 + Math.cos((Math.PI * e) / T)) / (1 + Math.cos((Math.PI * (e - 1)) / T))) * (lr - lo) + lo);
  }
  protected override numberFields(): Record<string, string> {
    return { T_max: 'tMax', eta_min: 'etaMin' };
  }
}

/** Options of `LambdaLR`. */
export interface LambdaLROptions extends SchedulerOptions {
  /** epoch → factor of the initial lr; one function for all groups or one per group. */
  lrLambda: ((epoch: number) => number) | readonly ((epoch: number) => number)[];
}

/**
 * lr = initial lr × `lrLambda(epoch)` (torch.optim.lr_scheduler.LambdaLR).
 * The functions are not part of the state dict (`lr_lambdas` holds nulls, as
 * PyTorch does for plain functions).
 *
 * Errors: a list whose length is not the number of groups throws
 * `Expected N lr_lambdas, but got M`.
 * @example const warmup = new gg.optim.lrScheduler.LambdaLR(opt, { lrLambda: (e) => Math.min(1, (e + 1) / 5) });
 */
export class LambdaLR extends LRScheduler {
  readonly lrLambdas: readonly ((epoch: number) => number)[];
  constructor(optimizer: LrOptimizer, opts: LambdaLROptions) {
    super(optimizer, opts, ['lrLambda'] satisfies readonly (keyof LambdaLROptions)[]);
    const n = optimizer.paramGroups.length;
    if (typeof opts.lrLambda === 'function') this.lrLambdas = Array.from({ length: n }, () => opts.lrLambda as (epoch: number) => number);
    else {
      checkGroupCount('lr_lambdas', opts.lrLambda.length, n);
      this.lrLambdas = [...opts.lrLambda];
    }
    this.initialStep();
  }
  protected getLr(): number[] {
    return this.baseLrs.map((base, i) => base * (this.lrLambdas[i] as (epoch: number) => number)(this.lastEpoch));
  }
  protected override ownState(): SchedulerStateDict {
    return { lr_lambdas: this.lrLambdas.map(() => null) };
  }
}

/** Options of `ReduceLROnPlateau`. */
export interface ReduceLROnPlateauOptions {
  /** 'min' (default): the metric should fall (a loss); 'max': rise (an accuracy). */
  mode?: 'min' | 'max';
  /** Factor of each reduction, < 1 (default 0.1). */
  factor?: number;
  /** Epochs without improvement tolerated before reducing (default 10). */
  patience?: number;
  /** What counts as an improvement (default 1e-4). */
  threshold?: number;
  /** 'rel' (default): relative to the best; 'abs': absolute. */
  thresholdMode?: 'rel' | 'abs';
  /** Epochs to wait after a reduction before counting again (default 0). */
  cooldown?: number;
  /** The lowest lr, one for all groups or one per group (default 0). */
  minLr?: number | readonly number[];
  /** Reductions smaller than this are skipped (default 1e-8). */
  eps?: number;
  /** Print each reduction. */
  verbose?: boolean;
}

/**
 * Reduce the lr by `factor` when a metric has stopped improving for
 * `patience` epochs (torch.optim.lr_scheduler.ReduceLROnPlateau).
 *
 * Errors (PyTorch's messages): `Factor should be < 1.0.`, `mode up is unknown!`,
 * `threshold mode x is unknown!`, `expected N min_lrs, got M`.
 * @example
 * const sched = new gg.optim.lrScheduler.ReduceLROnPlateau(opt, { patience: 5 });
 * sched.step(validationLoss);
 */
export class ReduceLROnPlateau {
  readonly optimizer: LrOptimizer;
  factor: number;
  minLrs: number[];
  patience: number;
  verbose: boolean;
  cooldown: number;
  cooldownCounter = 0;
  mode: 'min' | 'max';
  threshold: number;
  thresholdMode: 'rel' | 'abs';
  /** The best metric seen so far. */
  best: number;
  numBadEpochs = 0;
  eps: number;
  lastEpoch = 0;
  /** Set by the first step (PyTorch has no `_last_lr` before it). */
  private lastLr: number[] | undefined;

  constructor(optimizer: LrOptimizer, opts: ReduceLROnPlateauOptions = {}) {
    const name = 'ReduceLROnPlateau';
    checkOptions(name, opts, ['mode', 'factor', 'patience', 'threshold', 'thresholdMode', 'cooldown', 'minLr', 'eps', 'verbose'] satisfies readonly (keyof ReduceLROnPlateauOptions)[]);
    const factor = checkNumber(name, 'factor', opts.factor ?? 0.1);
    if (factor >= 1.0) throw new Error('Factor should be < 1.0.');
    this.optimizer = optimizer;
    this.factor = factor;
    const n = optimizer.paramGroups.length;
    const minLr = opts.minLr ?? 0;
    if (typeof minLr === 'number') this.minLrs = Array.from({ length: n }, () => minLr);
    else if (!Array.isArray(minLr) || !minLr.every((v: unknown) => typeof v === 'number')) throw new TypeError(`${name}(): argument 'min_lr' must be float or list of floats`);
    else {
      if (minLr.length !== n) throw new Error(`expected ${n} min_lrs, got ${minLr.length}`);
      this.minLrs = [...minLr];
    }
    this.patience = checkInt(name, 'patience', opts.patience ?? 10);
    this.verbose = checkBool(name, 'verbose', opts.verbose ?? false);
    this.cooldown = checkInt(name, 'cooldown', opts.cooldown ?? 0);
    this.mode = opts.mode ?? 'min';
    this.threshold = checkNumber(name, 'threshold', opts.threshold ?? 1e-4);
    this.thresholdMode = opts.thresholdMode ?? 'rel';
    this.eps = checkNumber(name, 'eps', opts.eps ?? 1e-8);
    if (this.mode !== 'min' && this.mode !== 'max') throw new Error(`mode ${typeof this.mode === 'string' ? this.mode : typeName(this.mode)} is unknown!`);
    if (this.thresholdMode !== 'rel' && this.thresholdMode !== 'abs') throw new Error(`threshold mode ${typeof this.thresholdMode === 'string' ? this.thresholdMode : typeName(this.thresholdMode)} is unknown!`);
    this.best = this.modeWorse;
  }

  /** The worst possible metric: +∞ in 'min' mode, -∞ in 'max'. */
  get modeWorse(): number {
    return this.mode === 'min' ? Infinity : -Infinity;
  }

  /** True when `a` improves on `best` by more than the threshold. */
  isBetter(a: number, best: number): boolean {
    if (this.mode === 'min' && this.thresholdMode === 'rel') return a < best * (1 - this.threshold);
    if (this.mode === 'min') return a < best - this.threshold;
    if (this.thresholdMode === 'rel') return a > best * (this.threshold + 1);
    return a > best + this.threshold;
  }

  /** True while waiting after a reduction. */
  get inCooldown(): boolean {
    return this.cooldownCounter > 0;
  }

  /**
   * Record one epoch's metric; reduce the lrs when it has not improved for
   * more than `patience` epochs.
   * @example sched.step(await valLoss.item());
   */
  step(metric: number): void {
    const current = Number(metric);
    this.lastEpoch += 1;
    if (this.isBetter(current, this.best)) {
      this.best = current;
      this.numBadEpochs = 0;
    } else {
      this.numBadEpochs += 1;
    }
    if (this.inCooldown) {
      this.cooldownCounter -= 1;
      this.numBadEpochs = 0; // ignore any bad epochs in cooldown
    }
    if (this.numBadEpochs > this.patience) {
      this.reduceLr();
      this.cooldownCounter = this.cooldown;
      this.numBadEpochs = 0;
    }
    this.lastLr = this.optimizer.paramGroups.map((g) => g.lr);
  }

  private reduceLr(): void {
    this.optimizer.paramGroups.forEach((g, i) => {
      const old = g.lr;
      const lr = Math.max(old * this.factor, this.minLrs[i] as number);
      if (old - lr > this.eps) {
        g.lr = lr;
        if (this.verbose) console.log(`Epoch ${this.lastEpoch}: reducing learning rate of group ${i} to ${sci(lr)}.`);
      }
    });
  }

  /** The lrs after the last step, one per group (the groups' lrs before the first). @example sched.getLastLr() */
  getLastLr(): number[] {
    return [...(this.lastLr ?? this.optimizer.paramGroups.map((g) => g.lr))];
  }

  /**
   * The state with PyTorch's keys (`factor`, `min_lrs`, `patience`, `best`,
   * `num_bad_epochs`, `cooldown_counter`, `mode_worse`, ...).
   * @example const saved = sched.stateDict();
   */
  stateDict(): SchedulerStateDict {
    return {
      factor: this.factor,
      min_lrs: [...this.minLrs],
      patience: this.patience,
      verbose: this.verbose,
      cooldown: this.cooldown,
      cooldown_counter: this.cooldownCounter,
      mode: this.mode,
      threshold: this.threshold,
      threshold_mode: this.thresholdMode,
      best: this.best,
      num_bad_epochs: this.numBadEpochs,
      mode_worse: this.modeWorse,
      eps: this.eps,
      last_epoch: this.lastEpoch,
      ...(this.lastLr ? { _last_lr: [...this.lastLr] } : {}),
    };
  }

  /** Restore from `stateDict()`. @example sched.loadStateDict(saved); */
  loadStateDict(sd: SchedulerStateDict): void {
    const num = (k: string, fallback: number): number => (typeof sd[k] === 'number' ? (sd[k] as number) : fallback);
    this.factor = num('factor', this.factor);
    if (Array.isArray(sd['min_lrs'])) this.minLrs = (sd['min_lrs'] as unknown[]).map(Number);
    this.patience = num('patience', this.patience);
    if (typeof sd['verbose'] === 'boolean') this.verbose = sd['verbose'];
    this.cooldown = num('cooldown', this.cooldown);
    this.cooldownCounter = num('cooldown_counter', this.cooldownCounter);
    if (sd['mode'] === 'min' || sd['mode'] === 'max') this.mode = sd['mode'];
    this.threshold = num('threshold', this.threshold);
    if (sd['threshold_mode'] === 'rel' || sd['threshold_mode'] === 'abs') this.thresholdMode = sd['threshold_mode'];
    this.best = num('best', this.best);
    this.numBadEpochs = num('num_bad_epochs', this.numBadEpochs);
    this.eps = num('eps', this.eps);
    this.lastEpoch = num('last_epoch', this.lastEpoch);
    if (Array.isArray(sd['_last_lr'])) this.lastLr = (sd['_last_lr'] as unknown[]).map(Number);
  }
}
