/**
 * `gg.optim`: optimisers with PyTorch 1.13's update rules
 * (torch/optim/sgd.py, adam.py, adamw.py, single-tensor path).
 *
 * A step runs under `noGrad` and writes each parameter in place
 * (`param.assign`), so parameter objects keep their identity. Optimiser
 * state (momentum buffers, Adam's moments) lives in tensors that are kept
 * out of `tidy` scopes and updated in place; every temporary is disposed,
 * so device memory stays flat across steps.
 */
import { Tensor } from '../tensor/tensor.js';
import { argError, checkBool, checkNumber, checkOptions, typeName } from '../tensor/check.js';
import { zerosLike } from '../tensor/creation.js';
import { noGrad } from '../autograd/grad-mode.js';
import { keep, tidy } from '../tensor/storage.js';
import { fx } from '../tensor/fuse.js';
import { broadcastShapes } from '../tensor/shape.js';

/** SGD's last line, p + d·(-lr), over inputs (p, d, -lr). */
const SGD_UPDATE = fx.add(fx.in(0), fx.mul(fx.in(1), fx.in(2)));
/** Its fused op's attributes: one object for every update (docs/notes/architecture.md, "Per-op JavaScript"). */
const SGD_ATTRS = { expr: SGD_UPDATE, dims: [], kind: 'sum', name: 'SgdUpdate' } as const;

/** A parameter group: its tensors and its options (the optimiser's defaults filled in). */
export type ParamGroup<O> = O & { params: Tensor[] };
/**
 * A group as given to a constructor or `addParamGroup`: its tensors, any of
 * the optimiser's options, and `initialLr` (the lr a resumed scheduler starts from).
 */
export type ParamGroupInput<O> = Partial<O> & { params: Iterable<Tensor>; initialLr?: number };
/** What the constructors accept: tensors, or groups with per-group options. */
export type Params<O> = Iterable<Tensor> | ParamGroupInput<O>[];

/** Per-parameter state: tensors (kept) and numbers. */
export type ParamState = Record<string, Tensor | number>;

/** `optimizer.stateDict()`: PyTorch's layout, parameters numbered in group order. */
export interface OptimizerStateDict<O> {
  state: Record<number, ParamState>;
  paramGroups: (O & { params: number[] })[];
}

function isGroupList<O>(p: Params<O>): p is ParamGroupInput<O>[] {
  return Array.isArray(p) && p.length > 0 && !isTensorLike(p[0]);
}
function isTensorLike(v: unknown): boolean {
  return typeof v === 'object' && v !== null && 'shape' in v && 'dtype' in v;
}

/**
 * Base class: parameter groups, `zeroGrad`, per-parameter `state`, `step`.
 * @example const opt: gg.optim.Optimizer<gg.optim.SGDOptions> = new gg.optim.SGD(model.parameters(), { lr: 0.1 });
 */
export abstract class Optimizer<O extends object> {
  readonly defaults: O;
  readonly paramGroups: ParamGroup<O>[] = [];
  /** Per-parameter state, created on the first step that updates the parameter. */
  readonly state = new Map<Tensor, ParamState>();

  constructor(params: Params<O>, defaults: O) {
    this.defaults = defaults;
    const groups = isGroupList(params) ? params : [{ params: params as Iterable<Tensor> } as ParamGroupInput<O>];
    if (groups.length === 0 || (groups.length === 1 && [...(groups[0] as { params: Iterable<Tensor> }).params].length === 0)) {
      throw new Error('optimizer got an empty parameter list');
    }
    for (const g of groups) this.addParamGroup(g);
  }

  /**
   * Add a group of parameters with its own options (e.g. a smaller lr), as
   * PyTorch's `Optimizer.add_param_group`; the constructor adds each group
   * it is given through it.
   *
   * A group's keys are `params`, the optimiser's option names (its
   * `defaults`) and `initialLr` (what a resumed scheduler reads). Why
   * refuse others (PyTorch stores any key): a misspelt option such as
   * `weight_decay` was silently ignored and the group trained with the
   * default (docs/notes/validation.md).
   * @throws TypeError `add_param_group() got an unexpected keyword argument 'k'`
   *   (with a camelCase hint) for another key; Error `can't optimize a
   *   non-leaf Tensor`, `some parameters appear in more than one parameter
   *   group`, and the optimiser's own option errors
   * @example opt.addParamGroup({ params: head.parameters(), lr: 1e-2 })
   */
  addParamGroup(group: ParamGroupInput<O>): void {
    checkOptions('add_param_group', group, ['params', 'initialLr', ...Object.keys(this.defaults)]);
    const params = [...group.params];
    for (const p of params) {
      if (!p.isLeaf) throw new Error("can't optimize a non-leaf Tensor");
    }
    const seen = new Set<Tensor>();
    for (const g of this.paramGroups) for (const p of g.params) seen.add(p);
    if (params.some((p) => seen.has(p))) throw new Error('some parameters appear in more than one parameter group');
    if (new Set(params).size !== params.length) {
      console.warn('optimizer contains a parameter group with duplicate parameters; in future, this will cause an error');
    }
    const full = { ...this.defaults, ...group, params } as ParamGroup<O>;
    this.validate(full);
    this.paramGroups.push(full);
  }

  /** Check a group's options, throwing PyTorch's messages. */
  protected abstract validate(group: O): void;

  /** One update of every parameter that has a gradient. @example loss.backward(); opt.step(); opt.zeroGrad(); */
  abstract step(): void;

  /**
   * Clear the gradients: set to null (default, as PyTorch 2) or zero them in place.
   * @example opt.zeroGrad();
   */
  zeroGrad(setToNone = true): void {
    for (const g of this.paramGroups) {
      for (const p of g.params) {
        if (!p.grad) continue;
        if (setToNone) {
          p.grad.dispose();
          p.grad = null;
        } else {
          const grad = p.grad;
          noGrad(() => {
            const z = zerosLike(grad);
            grad.assign(z);
            z.dispose();
          });
        }
      }
    }
  }

  /** The state of one parameter, created empty. */
  protected stateOf(p: Tensor): ParamState {
    let s = this.state.get(p);
    if (!s) {
      s = {};
      this.state.set(p, s);
    }
    return s;
  }
  /** A kept zero tensor like `p`, stored as state `key` (created on first use). */
  protected buffer(s: ParamState, key: string, like: Tensor): Tensor {
    const cur = s[key];
    if (cur !== undefined && typeof cur !== 'number') return cur;
    const t = keep(noGrad(() => zerosLike(like)));
    s[key] = t;
    return t;
  }

  /**
   * A failed step changes nothing (every call validates before it writes): before
   * the first write, every tensor the update reads (each parameter with a
   * gradient, its gradient and its state tensors) must be alive and
   * broadcastable to the parameter, so the error the update would raise
   * midway (a disposed gradient, a loaded buffer of the wrong shape) is
   * raised first. PyTorch's own step can stop halfway (its single-tensor
   * loop has updated the parameters before the bad one); here no parameter
   * or buffer moves.
   */
  protected checkStep(): void {
    for (const g of this.paramGroups) {
      for (const p of g.params) {
        const grad = p.grad;
        if (!grad) continue;
        p.checkAlive();
        const reads = [grad, ...Object.values(this.state.get(p) ?? {}).filter((v): v is Tensor => typeof v !== 'number')];
        for (const t of reads) {
          t.checkAlive();
          broadcastShapes(t.shape, p.shape);
        }
      }
    }
  }

  /**
   * Run `fn` for each parameter with a gradient, under noGrad, disposing
   * temporaries: one tidy scope per parameter, or per group for a group
   * with `foreach: true` (the same ops, so the same values).
   */
  protected forEachParam(fn: (p: Tensor, grad: Tensor, group: ParamGroup<O>) => void): void {
    noGrad(() => {
      for (const g of this.paramGroups) {
        if ((g as { foreach?: unknown }).foreach === true) {
          tidy(() => {
            for (const p of g.params) if (p.grad) fn(p, p.grad, g);
          });
          continue;
        }
        for (const p of g.params) {
          const grad = p.grad;
          if (!grad) continue;
          tidy(() => fn(p, grad, g));
        }
      }
    });
  }

  /**
   * The state as PyTorch lays it out: `state[i]` for the i-th parameter (in
   * group order) and the groups' options with `params` as indices. Tensors
   * are copies.
   * @example const saved = opt.stateDict();
   */
  stateDict(): OptimizerStateDict<O> {
    const index = new Map<Tensor, number>();
    const paramGroups = this.paramGroups.map((g) => {
      const { params, ...opts } = g;
      const ids = params.map((p) => {
        if (!index.has(p)) index.set(p, index.size);
        return index.get(p) as number;
      });
      return { ...(opts as unknown as O), params: ids };
    });
    const state: Record<number, ParamState> = {};
    for (const [p, s] of this.state) {
      const i = index.get(p);
      if (i === undefined) continue;
      state[i] = Object.fromEntries(Object.entries(s).map(([k, v]) => [k, typeof v === 'number' ? v : keep(noGrad(() => v.clone()))]));
    }
    return { state, paramGroups };
  }

  /**
   * Restore options and state from `stateDict()` (the groups must match in size).
   * @example opt.loadStateDict(saved); // e.g. when resuming training
   */
  loadStateDict(sd: OptimizerStateDict<O>): void {
    if (typeof sd !== 'object' || sd === null || !Array.isArray(sd.paramGroups) || typeof sd.state !== 'object' || sd.state === null) {
      throw new TypeError("loadStateDict(): expected an optimizer state dict ({ state, paramGroups }) as returned by stateDict()");
    }
    if (sd.paramGroups.length !== this.paramGroups.length) throw new Error('loaded state dict has a different number of parameter groups');
    sd.paramGroups.forEach((g, i) => {
      const own = this.paramGroups[i] as ParamGroup<O>;
      if (!Array.isArray(g.params) || g.params.length !== own.params.length) {
        throw new Error("loaded state dict contains a parameter group that doesn't match the size of optimizer's group");
      }
    });
    const byIndex: Tensor[] = [];
    sd.paramGroups.forEach((g, i) => {
      const own = this.paramGroups[i] as ParamGroup<O>;
      g.params.forEach((idx, k) => (byIndex[idx] = own.params[k] as Tensor));
      const { params: _params, ...opts } = g;
      // the options must pass the same checks as the constructor's, before anything changes
      this.validate({ ...own, ...opts });
    });
    // every state value is checked, then converted, before anything is replaced (a failed load changes nothing)
    const entries: [Tensor, string, Tensor | number][] = [];
    for (const [k, s] of Object.entries(sd.state)) {
      const p = byIndex[Number(k)];
      if (!p) continue;
      for (const [key, v] of Object.entries(s as Record<string, unknown>)) {
        if (typeof v === 'number') {
          entries.push([p, key, v]);
          continue;
        }
        if (!isTensor(v)) throw new TypeError(`loadStateDict(): state ${k}.${key} must be a Tensor or a number, not ${typeName(v)}`);
        if (v.isDisposed || v.storage.freed) throw new Error(`loadStateDict(): state ${k}.${key} was disposed`);
        if (v.device !== p.device && !v.storage.device.syncRead) {
          throw new Error(`loadStateDict(): state ${k}.${key} is on '${v.device}', whose results arrive asynchronously: move it first with 'await t.toAsync('${p.device}')'`);
        }
        entries.push([p, key, v]);
      }
    }
    const next = new Map<Tensor, ParamState>();
    try {
      for (const [p, key, v] of entries) {
        const s = next.get(p) ?? {};
        next.set(p, s);
        s[key] = typeof v === 'number' ? v : keep(noGrad(() => v.to(p.device).to(p.dtype).clone()));
      }
    } catch (e) {
      for (const s of next.values()) for (const v of Object.values(s)) if (typeof v !== 'number') v.dispose();
      throw e;
    }
    sd.paramGroups.forEach((g, i) => {
      const { params: _params, ...opts } = g;
      Object.assign(this.paramGroups[i] as ParamGroup<O>, opts);
    });
    for (const s of this.state.values()) for (const v of Object.values(s)) if (typeof v !== 'number') v.dispose();
    this.state.clear();
    for (const [p, s] of next) this.state.set(p, s);
  }
}

function isTensor(v: unknown): v is Tensor {
  return v instanceof Tensor;
}

// ---- SGD ---------------------------------------------------------------------------------------

/** Options of `SGD`. */
export interface SGDOptions {
  lr: number;
  momentum: number;
  dampening: number;
  weightDecay: number;
  nesterov: boolean;
  maximize: boolean;
  /**
   * Update a group's parameters together, each step of the formula over
   * all of them before the next (PyTorch's `foreach`, `_multi_tensor_sgd`):
   * the same values, bit for bit, with less JavaScript per parameter. null
   * (the default, as PyTorch's for tensors on the CPU) and false update one
   * parameter at a time.
   */
  foreach: boolean | null;
}

/**
 * Stochastic gradient descent with momentum (PyTorch's formulation:
 * buf = μ·buf + (1 - dampening)·g, the first buf = g; p -= lr·buf, or
 * lr·(g + μ·buf) with nesterov). `foreach: true` updates each group's
 * parameters together, with the same values.
 * @throws TypeError `SGD() got an unexpected keyword argument 'k'` for an
 *   unknown option; Error with PyTorch's messages for a negative lr,
 *   momentum or weight decay and for nesterov without momentum or with
 *   dampening
 * @example const opt = new gg.optim.SGD(model.parameters(), { lr: 0.1, momentum: 0.9, foreach: true });
 */
export class SGD extends Optimizer<SGDOptions> {
  constructor(params: Params<SGDOptions>, opts: Partial<SGDOptions> & { lr: number }) {
    checkOptions('SGD', opts, ['lr', 'momentum', 'dampening', 'weightDecay', 'nesterov', 'maximize', 'foreach'] satisfies readonly (keyof SGDOptions)[]);
    super(params, {
      lr: opts.lr, momentum: opts.momentum ?? 0, dampening: opts.dampening ?? 0, weightDecay: opts.weightDecay ?? 0,
      nesterov: opts.nesterov ?? false, maximize: opts.maximize ?? false, foreach: opts.foreach ?? null,
    });
  }

  protected validate(g: SGDOptions): void {
    if (g.lr !== undefined && g.lr !== null) checkNumber('SGD', 'lr', g.lr);
    checkNumber('SGD', 'momentum', g.momentum);
    checkNumber('SGD', 'dampening', g.dampening);
    checkNumber('SGD', 'weight_decay', g.weightDecay);
    checkBool('SGD', 'nesterov', g.nesterov);
    checkBool('SGD', 'maximize', g.maximize);
    if (g.foreach !== null && g.foreach !== undefined) checkBool('SGD', 'foreach', g.foreach);
    if (g.lr === undefined || g.lr === null) throw new Error('SGD: a learning rate (lr) is required');
    // NaN is refused as PyTorch's message names it (PyTorch 1.13 itself lets NaN through, then every step writes NaN)
    if (Number.isNaN(g.lr) || g.lr < 0) throw new Error(`Invalid learning rate: ${g.lr}`);
    if (g.momentum < 0) throw new Error(`Invalid momentum value: ${g.momentum}`);
    if (g.weightDecay < 0) throw new Error(`Invalid weight_decay value: ${g.weightDecay}`);
    if (g.nesterov && (g.momentum <= 0 || g.dampening !== 0)) throw new Error('Nesterov momentum requires a momentum and zero dampening');
  }

  /** One SGD update of every parameter that has a gradient. @example loss.backward(); opt.step(); */
  step(): void {
    this.checkStep();
    // -lr as one 0-d tensor per value, device and dtype, kept from step to step while the lr
    // stays: one upload when it changes, not one per step or per parameter (a device with a
    // queue, e.g. WebGPU, would otherwise write a buffer every step)
    const negLr: LrTensors = { now: new Map(), before: this.lrTensors };
    try {
      if (!this.paramGroups.some((g) => g.foreach === true)) {
        this.forEachParam((p, grad, g) => this.update(p, grad, g, negLr));
        return;
      }
      noGrad(() => {
        for (const g of this.paramGroups) {
          if (g.foreach === true) {
            tidy(() => this.updateGroup(g, negLr));
            continue;
          }
          for (const p of g.params) {
            const grad = p.grad;
            if (grad) tidy(() => this.update(p, grad, g, negLr));
          }
        }
      });
    } finally {
      for (const [key, t] of negLr.before) if (negLr.now.get(key) !== t) t.dispose();
      this.lrTensors = negLr.now;
    }
  }

  /** The last step's -lr tensors, by device, dtype and value (`negLrOf`). */
  private lrTensors = new Map<string, Tensor>();

  /** One parameter's update (PyTorch's `_single_tensor_sgd`), sharing the step's -lr tensors. */
  private update(p: Tensor, grad: Tensor, g: ParamGroup<SGDOptions>, negLr: LrTensors): void {
    let d = g.maximize ? grad.neg() : grad;
    if (g.weightDecay !== 0) d = d.add(p.mul(g.weightDecay));
    if (g.momentum !== 0) {
      const buf = this.momentumBuffer(p, d, g);
      d = g.nesterov ? d.add(buf.mul(g.momentum)) : buf;
    }
    // p + d·(-lr) as one fused kernel (docs/notes/architecture.md, "Fused kernels"): the
    // composed p.add(d.mul(-lr)) in one pass; float64 bit for bit, float32 without rounding d·(-lr)
    p.assign(p.fused([d, negLrOf(p, g.lr, negLr)], SGD_ATTRS));
  }

  /**
   * A group's update with `foreach` (PyTorch's `_multi_tensor_sgd`): each line
   * of `update` over every parameter with a gradient before the next line,
   * in one tidy scope. The same ops on the same tensors as `update`, so the
   * same values bit for bit; what it saves is JavaScript per parameter (a
   * scope, closures, the -lr lookup). Unlike torch 1.13's foreach with
   * nesterov, the gradients are not written (PyTorch 2 fixed that).
   */
  private updateGroup(g: ParamGroup<SGDOptions>, negLr: LrTensors): void {
    const ps: Tensor[] = [];
    let ds: Tensor[] = [];
    for (const p of g.params) {
      if (!p.grad) continue;
      ps.push(p);
      ds.push(p.grad);
    }
    if (ps.length === 0) return;
    if (g.maximize) ds = ds.map((d) => d.neg());
    if (g.weightDecay !== 0) ds = ds.map((d, i) => d.add((ps[i] as Tensor).mul(g.weightDecay)));
    if (g.momentum !== 0) {
      const bufs = ps.map((p, i) => this.momentumBuffer(p, ds[i] as Tensor, g));
      ds = g.nesterov ? ds.map((d, i) => d.add((bufs[i] as Tensor).mul(g.momentum))) : bufs;
    }
    let lr: Tensor | null = null;
    for (let i = 0; i < ps.length; i++) {
      const p = ps[i] as Tensor;
      // the group's parameters share a device and dtype, as a rule: one lookup for all of them
      if (!lr || lr.device !== p.device || lr.dtype !== p.dtype) lr = negLrOf(p, g.lr, negLr);
      p.assign(p.fused([ds[i] as Tensor, lr], SGD_ATTRS));
    }
  }

  /** PyTorch's momentum buffer: d itself (a kept copy) on the first step, else μ·buf + (1 - dampening)·d, written in place. */
  private momentumBuffer(p: Tensor, d: Tensor, g: SGDOptions): Tensor {
    const s = this.stateOf(p);
    const existing = s['momentum_buffer'];
    if (existing === undefined || typeof existing === 'number') {
      const buf = keep(d.clone());
      s['momentum_buffer'] = buf;
      return buf;
    }
    existing.assign(existing.mul(g.momentum).add(g.dampening === 0 ? d : d.mul(1 - g.dampening)));
    return existing;
  }
}

/** A step's -lr tensors (`now`) and the previous step's (`before`), which it takes over while the lr stays. */
interface LrTensors {
  now: Map<string, Tensor>;
  before: ReadonlyMap<string, Tensor>;
}

/** The step's -lr as a kept 0-d tensor of p's device and dtype: one per value, device and dtype, the last step's when the same. */
function negLrOf(p: Tensor, lr: number, negLr: LrTensors): Tensor {
  // Object.is: -0 and 0 are different keys (String(-0) is '0'); NaN never gets here (validate)
  const key = `${p.device}|${p.dtype}|${Object.is(lr, 0) ? '0' : Object.is(lr, -0) ? '-0' : String(-lr)}`;
  let t = negLr.now.get(key);
  if (t) return t;
  const last = negLr.before.get(key);
  t = last && !last.isDisposed ? last : keep(p.scalar(-lr));
  negLr.now.set(key, t);
  return t;
}

// ---- Adam / AdamW -----------------------------------------------------------------------------

/** Options of `Adam` and `AdamW`. */
export interface AdamOptions {
  lr: number;
  betas: [number, number];
  eps: number;
  weightDecay: number;
  amsgrad: boolean;
  maximize: boolean;
  /**
   * PyTorch's `foreach`: true updates a group's parameters in one scope, the
   * same ops and values as one at a time (torch 1.13's foreach Adam and
   * AdamW give its single-tensor values bit for bit too); null (the
   * default, as PyTorch's for tensors on the CPU) and false, one at a time.
   */
  foreach: boolean | null;
}

/** The keys of AdamOptions (an unknown key is refused). */
const ADAM_KEYS: readonly (keyof AdamOptions)[] = ['lr', 'betas', 'eps', 'weightDecay', 'amsgrad', 'maximize', 'foreach'];

function checkAdam(g: AdamOptions): void {
  checkNumber('Adam', 'lr', g.lr);
  checkNumber('Adam', 'eps', g.eps);
  checkNumber('Adam', 'weight_decay', g.weightDecay);
  if (!Array.isArray(g.betas) || g.betas.length !== 2) throw argError('Adam', 'betas', 'a pair of numbers', g.betas);
  checkNumber('Adam', 'betas[0]', g.betas[0]);
  checkNumber('Adam', 'betas[1]', g.betas[1]);
  checkBool('Adam', 'amsgrad', g.amsgrad);
  checkBool('Adam', 'maximize', g.maximize);
  if (g.foreach !== null && g.foreach !== undefined) checkBool('Adam', 'foreach', g.foreach);
  if (!(g.lr >= 0)) throw new Error(`Invalid learning rate: ${g.lr}`);
  if (!(g.eps >= 0)) throw new Error(`Invalid epsilon value: ${g.eps}`);
  if (!(g.betas[0] >= 0 && g.betas[0] < 1)) throw new Error(`Invalid beta parameter at index 0: ${g.betas[0]}`);
  if (!(g.betas[1] >= 0 && g.betas[1] < 1)) throw new Error(`Invalid beta parameter at index 1: ${g.betas[1]}`);
  if (!(g.weightDecay >= 0)) throw new Error(`Invalid weight_decay value: ${g.weightDecay}`);
}

function adamDefaults(opts: Partial<AdamOptions>, weightDecay: number): AdamOptions {
  return {
    lr: opts.lr ?? 1e-3,
    betas: opts.betas ?? [0.9, 0.999],
    eps: opts.eps ?? 1e-8,
    weightDecay: opts.weightDecay ?? weightDecay,
    amsgrad: opts.amsgrad ?? false,
    maximize: opts.maximize ?? false,
    foreach: opts.foreach ?? null,
  };
}

/** The shared moment update; `decoupled` is AdamW's weight decay. */
function adamUpdate(state: ParamState, p: Tensor, grad: Tensor, g: AdamOptions, decoupled: boolean, buffer: (key: string) => Tensor): void {
  let gr = g.maximize ? grad.neg() : grad;
  const step = (typeof state['step'] === 'number' ? state['step'] : 0) + 1;
  state['step'] = step;
  const [beta1, beta2] = g.betas;
  if (decoupled) {
    p.assign(p.mul(1 - g.lr * g.weightDecay));
  } else if (g.weightDecay !== 0) {
    gr = gr.add(p.mul(g.weightDecay));
  }
  const expAvg = buffer('exp_avg');
  const expAvgSq = buffer('exp_avg_sq');
  expAvg.assign(expAvg.mul(beta1).add(gr.mul(1 - beta1)));
  expAvgSq.assign(expAvgSq.mul(beta2).add(gr.mul(gr).mul(1 - beta2)));
  const biasCorrection1 = 1 - beta1 ** step;
  const biasCorrection2 = 1 - beta2 ** step;
  const stepSize = g.lr / biasCorrection1;
  const bc2Sqrt = Math.sqrt(biasCorrection2);
  let second = expAvgSq;
  if (g.amsgrad) {
    const maxSq = buffer('max_exp_avg_sq');
    maxSq.assign(maxSq.maximum(expAvgSq));
    second = maxSq;
  }
  const denom = second.sqrt().div(bc2Sqrt).add(g.eps);
  p.assign(p.add(expAvg.div(denom).mul(-stepSize)));
}

/**
 * Adam (Kingma & Ba), with L2 weight decay added to the gradient.
 * @example const opt = new gg.optim.Adam(model.parameters(), { lr: 1e-3 });
 */
export class Adam extends Optimizer<AdamOptions> {
  constructor(params: Params<AdamOptions>, opts: Partial<AdamOptions> = {}) {
    checkOptions('Adam', opts, ADAM_KEYS);
    super(params, adamDefaults(opts, 0));
  }
  protected validate(g: AdamOptions): void {
    checkAdam(g);
  }
  /** One Adam update of every parameter that has a gradient. @example loss.backward(); opt.step(); */
  step(): void {
    this.checkStep();
    this.forEachParam((p, grad, g) => {
      const s = this.stateOf(p);
      adamUpdate(s, p, grad, g, false, (k) => this.buffer(s, k, p));
    });
  }
}

/**
 * AdamW (Loshchilov & Hutter): decoupled weight decay p *= 1 - lr·wd
 * (default wd 1e-2).
 * @example const opt = new gg.optim.AdamW(model.parameters(), { lr: 1e-3, weightDecay: 0.05 });
 */
export class AdamW extends Optimizer<AdamOptions> {
  constructor(params: Params<AdamOptions>, opts: Partial<AdamOptions> = {}) {
    checkOptions('AdamW', opts, ADAM_KEYS);
    super(params, adamDefaults(opts, 1e-2));
  }
  protected validate(g: AdamOptions): void {
    checkAdam(g);
  }
  /** One AdamW update (decay, then Adam) of every parameter that has a gradient. @example loss.backward(); opt.step(); */
  step(): void {
    this.checkStep();
    this.forEachParam((p, grad, g) => {
      const s = this.stateOf(p);
      adamUpdate(s, p, grad, g, true, (k) => this.buffer(s, k, p));
    });
  }
}

// ---- learning-rate schedules: gg.optim.lrScheduler (lr-scheduler.ts) ----
export * as lrScheduler from './lr-scheduler.js';
