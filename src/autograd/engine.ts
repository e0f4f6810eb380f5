/**
 * The backward engine: PyTorch's user model, micrograd's clarity.
 *
 * 1. Walk the graph from the roots (iteratively: a 100,000-op chain must not
 *    overflow the stack) and count, for each node, the edges that reach it.
 * 2. Seed the roots' gradients and run nodes in topological order (Kahn's
 *    algorithm): a node runs once every consumer of its outputs has run, so
 *    its gradient buffer is complete.
 * 3. Each node's gradients flow along its edges; a gradient whose shape,
 *    dtype or device differs from the input's (broadcasting, casts, moves) is
 *    brought back here, in one place.
 * 4. AccumulateGrad nodes add into `leaf.grad`; without `retainGraph` each
 *    node frees its saved tensors after use.
 *
 * `run` is that loop; a node's visit is named steps: `runPreHooks` (tensor
 * hooks), `retainGrads` (retainGrad on non-leaves), capture (autograd.grad
 * keeps the gradients arriving at its inputs), `accumulate` (leaves) or
 * `callNode` (backward, post hooks, send along the edges), release (free
 * saved tensors unless retainGraph) and `schedule` (producers whose
 * consumers are all done become ready). `Tensor.backward()` calls `backward`
 * here; this file knows Tensor only as a type, so tensor.ts can import it.
 */
import { AccumulateGrad, ChainNode, OpNode, WriteNode, type GradHook, type Node } from './graph.js';
import { withGradMode } from './grad-mode.js';
import { fmt, sameShape, type Shape } from '../tensor/shape.js';
import { keep, tidy } from '../tensor/storage.js';
import { checkOptionalTensor, checkOptions, isTensor, typeName } from '../tensor/check.js';
import type { Tensor } from '../tensor/tensor.js';
import { isAnomalyEnabled } from './grad-mode.js';
import { checkGradients } from './anomaly.js';
import { traceBackwardStart, traceStep, tracing, type TraceStep } from './trace.js';

/** Options of `backward()`. */
export interface BackwardOptions {
  retainGraph?: boolean;
  createGraph?: boolean;
  /** Restrict accumulation to these leaves (PyTorch's `inputs=`). */
  inputs?: Tensor[];
}

interface Root {
  node: Node;
  index: number;
  grad: Tensor;
}

interface RunOptions {
  retainGraph: boolean;
  createGraph: boolean;
  /** autograd.grad: capture gradients arriving at these (node, output) slots instead of accumulating. */
  capture?: Map<Node, Map<number, number>>;
  /** backward(inputs=...): accumulate only into these nodes (leaves' AccumulateGrad, non-leaves' producers). */
  only?: Set<Node>;
  /** backward(inputs=...) with non-leaf inputs: the tensors whose `.grad` takes what arrives at (node, output). */
  nonLeaf?: Map<Node, Map<number, Tensor>>;
}

/** Gradients collected per node output while the graph is walked. */
type Buffers = Map<Node, (Tensor | null)[]>;

/** Nodes reachable from the roots, in no particular order. */
function reachable(roots: readonly Node[]): Node[] {
  const seen = new Set<Node>(roots);
  const stack = [...roots];
  while (stack.length) {
    const n = stack.pop() as Node;
    for (const e of n.next) {
      if (e && !seen.has(e.node)) {
        seen.add(e.node);
        stack.push(e.node);
      }
    }
  }
  return [...seen];
}

/**
 * Which nodes must run: those that lead to a target (`active`), and among
 * them those with a target strictly beyond them (`beyond`): a captured node
 * only keeps going when another target lies further down.
 */
function needed(nodes: readonly Node[], isTarget: (n: Node) => boolean): { active: Set<Node>; beyond: Set<Node> } {
  // reverse edges, then a backward search from the targets' consumers
  const parents = new Map<Node, Node[]>();
  for (const n of nodes) {
    for (const e of n.next) {
      if (!e) continue;
      const list = parents.get(e.node) ?? [];
      list.push(n);
      parents.set(e.node, list);
    }
  }
  const targets = nodes.filter(isTarget);
  const beyond = new Set<Node>();
  // Stryker disable next-line ArrayDeclaration: a target without consumers (a root) adds nothing; a non-node in the set is never looked up
  const stack = targets.flatMap((t) => parents.get(t) ?? []);
  while (stack.length) {
    const n = stack.pop() as Node;
    if (beyond.has(n)) continue;
    beyond.add(n);
    for (const p of parents.get(n) ?? []) stack.push(p);
  }
  return { active: new Set([...targets, ...beyond]), beyond };
}

/** Bring a gradient back to the shape, dtype and device of the input it is for (`to` gives the tensor itself when nothing changes). */
function conform(g: Tensor, shape: readonly number[], dtype: string, device: string): Tensor {
  return sumTo(g.to(device).to(dtype), shape);
}

/** Sum a broadcast gradient back down to `shape` (the adjoint of broadcasting); itself when it has that shape. */
function sumTo(g: Tensor, shape: Shape): Tensor {
  const lead = g.shape.length - shape.length;
  // the dims broadcasting added in front, and those where the input had size 1
  const dims = g.shape.flatMap((s, i) => (i < lead || shape[i - lead] !== s ? [i] : []));
  return dims.length ? g.sum(dims).reshape(shape) : g;
}

/** Add `g` into slot `index` of `node`'s buffer (the slot owns its handle). */
function deposit(buffers: Buffers, node: Node, index: number, g: Tensor): void {
  const slots = buffers.get(node) ?? new Array<Tensor | null>(node.numOutputs).fill(null);
  buffers.set(node, slots);
  const prev = slots[index];
  if (!prev) {
    slots[index] = g.alias();
  } else {
    slots[index] = prev.add(g);
    prev.dispose();
  }
}

/** Walk the graph from the roots and run every active node once, in topological order. */
function run(roots: readonly Root[], opts: RunOptions): Map<Node, (Tensor | null)[]> {
  const captured = new Map<Node, (Tensor | null)[]>();
  const all = reachable(roots.map((r) => r.node));
  const capture = opts.capture;
  const only = opts.only;
  const plan = capture ? needed(all, (n) => capture.has(n)) : only ? needed(all, (n) => only.has(n)) : { active: new Set(all), beyond: new Set(all) };
  const active = plan.active;

  // dependencies: how many active consumers still have to send a gradient
  const deps = new Map<Node, number>();
  for (const n of active) {
    for (const e of n.next) if (e && active.has(e.node)) deps.set(e.node, (deps.get(e.node) ?? 0) + 1);
  }

  const buffers: Buffers = new Map();
  for (const r of roots) deposit(buffers, r.node, r.index, r.grad);

  const ready = [...new Set(roots.map((r) => r.node))].filter((n) => active.has(n) && !deps.get(n));
  // trace (autograd.trace): how many consumers each node waits for, kept before `deps` counts down
  const waits = tracing() ? new Map(deps) : null;
  traceBackwardStart(); // a new pass in every open trace (none: nothing to do)
  while (ready.length) {
    const node = ready.pop() as Node;
    const grads = buffers.get(node) ?? new Array<Tensor | null>(node.numOutputs).fill(null);
    buffers.delete(node);
    const gradIn = [...grads];
    let out: (Tensor | null)[] = [];

    runPreHooks(node, grads, opts.createGraph);
    retainGrads(node, grads, opts.createGraph);
    const wanted = capture?.has(node) === true;
    // Stryker disable next-line ConditionalExpression: grad() reads only its inputs' slots, which are all wanted
    if (wanted) captured.set(node, [...grads]); // capture (autograd.grad): the caller owns these
    // backward(inputs=[y]) with y a non-leaf: y.grad takes the gradient arriving at y, as a leaf's would
    const nonLeaf = opts.nonLeaf?.get(node);
    nonLeaf?.forEach((t, i) => accumulateInto(t, grads[i] ?? null, opts.createGraph));
    if (node instanceof AccumulateGrad) {
      if (!capture) accumulate(node, grads[0] ?? null, opts.createGraph);
    } else if (plan.beyond.has(node)) {
      // a target (a captured node, a named non-leaf) runs only when another target lies beyond it;
      // every other active node leads to a target
      out = callNode(node, grads, opts.createGraph, active, buffers);
      if (!opts.retainGraph) node.release();
    }
    if (waits) {
      const action = node instanceof AccumulateGrad ? (capture ? 'capture' : 'accumulate') : plan.beyond.has(node) ? 'backward' : 'capture';
      traceVisit(node, waits.get(node) ?? 0, gradIn, out, action);
    }
    // Stryker disable next-line ConditionalExpression: frees the node's gradients (memory, not values)
    if (!wanted) for (const g of grads) g?.dispose();
    schedule(node, active, deps, ready);
  }
  return captured;
}

/** Tensor hooks (`registerHook`): each may return a replacement gradient. */
function runPreHooks(node: Node, grads: (Tensor | null)[], createGraph: boolean): void {
  node.preHooks.forEach((hooks, i) => {
    for (const h of hooks) {
      const g = grads[i];
      if (!g) continue;
      const r: unknown = withGradMode(createGraph, () => h(g));
      if (r !== undefined && r !== null) grads[i] = checkHookResult(h, g, r);
    }
  });
}

/** A hook's replacement gradient must look like the one it replaces (PyTorch's messages). */
function checkHookResult(h: GradHook, g: Tensor, r: unknown): Tensor {
  const name = h.name || '<anonymous>';
  if (!isTensor(r)) throw new TypeError(`hook '${name}' returned ${typeName(r)}: a tensor hook must return a Tensor or nothing`);
  if (!sameShape(r.shape, g.shape)) throw new Error(`hook '${name}' has changed the size of value (was ${fmt(g.shape)} got ${fmt(r.shape)})`);
  if (r.dtype !== g.dtype) throw new Error(`hook '${name}' has changed the type of value (was ${g.dtype} got ${r.dtype})`);
  if (r.device !== g.device) throw new Error(`hook '${name}' has changed the device of value (was ${g.device} got ${r.device})`);
  return r;
}

/** `retainGrad()` on non-leaves: add the gradient into `t.grad` (retained grads accumulate across backward calls, as PyTorch's). */
function retainGrads(node: Node, grads: readonly (Tensor | null)[], createGraph: boolean): void {
  node.retained.forEach((ref, i) => {
    const t = ref.deref();
    // Stryker disable next-line ConditionalExpression: deref() gives undefined only after the collector took the tensor
    if (t) accumulateInto(t, grads[i] ?? null, createGraph);
  });
}

/**
 * Call the node's backward, run its post hooks (module backward hooks), and
 * send each input's gradient along its edge, conformed to the input.
 */
function callNode(node: Node, grads: (Tensor | null)[], createGraph: boolean, active: ReadonlySet<Node>, buffers: Buffers): (Tensor | null)[] {
  // Stryker disable next-line ArrayDeclaration: step() assigns it before it is read
  let out: (Tensor | null)[] = [];
  const step = (): (Tensor | null)[] => {
    out = withGradMode(createGraph, () => node.apply(grads));
    for (const h of node.postHooks) {
      const r = h(out, grads);
      if (r) out = r;
    }
    if (isAnomalyEnabled()) checkGradients(node, out); // anomaly mode: a NaN here throws with the forward stack
    return node.next.map((e, i) => {
      const g = out[i];
      if (!e || !g || !active.has(e.node)) return null;
      const meta = node.inputs[i];
      return meta ? withGradMode(createGraph, () => conform(g, meta.shape, meta.dtype, meta.device)) : g;
    });
  };
  // NOTE: a table rule's temporaries are the engine's own: they are freed as soon as the rule
  // returns, and its results once deposited (README "Memory"). A custom Function's backward and
  // module hooks are user code that may keep what it made, so those are left to the collector.
  const owned = (node instanceof OpNode || node instanceof WriteNode || node instanceof ChainNode) && node.postHooks.length === 0;
  const fixed = owned ? tidy(step) : step();
  node.next.forEach((e, i) => {
    const g = fixed[i];
    if (e && g) deposit(buffers, e.node, e.index, g);
  });
  if (owned) for (const g of new Set(fixed)) if (g && !grads.includes(g)) g.dispose();
  // the trace reads only these gradients' shapes, which a freed tensor keeps
  return out;
}

/** `autograd.trace`: report a node's visit (hooks counted as they ran: pre hooks on gradients that arrived, post hooks when backward ran). */
function traceVisit(node: Node, waitedFor: number, gradIn: readonly (Tensor | null)[], gradOut: readonly (Tensor | null)[], action: TraceStep['action']): void {
  const pre = [...node.preHooks].reduce((n, [i, hs]) => n + (gradIn[i] ? hs.length : 0), 0);
  const hooks = pre + (action === 'backward' ? node.postHooks.length : 0);
  traceStep({ node, waitedFor, gradIn, gradOut, hooks, released: node.released, action });
}

/** The node has sent its gradients: each producer it feeds has one consumer less to wait for. */
function schedule(node: Node, active: ReadonlySet<Node>, deps: Map<Node, number>, ready: Node[]): void {
  for (const e of node.next) {
    if (!e || !active.has(e.node)) continue;
    const left = (deps.get(e.node) ?? 0) - 1;
    deps.set(e.node, left);
    if (left === 0) ready.push(e.node);
  }
}

function accumulate(node: AccumulateGrad, g: Tensor | null, createGraph: boolean): void {
  accumulateInto(node.leaf, g, createGraph);
}

/** Add `g` into `leaf.grad` (set it when there is none); with createGraph the sum is recorded. */
function accumulateInto(leaf: Tensor, g: Tensor | null, createGraph: boolean): void {
  if (!g) return;
  // a `.grad` owns its memory (as PyTorch's AccumulateGrad clones a shared gradient): `x.grad.zero_()` must not reach another tensor
  const incoming = g.fork(createGraph);
  if (!leaf.grad) {
    leaf.grad = keep(incoming);
  } else {
    const prev = leaf.grad;
    leaf.grad = keep(withGradMode(createGraph, () => prev.add(incoming)));
    incoming.dispose();
    if (!createGraph) prev.dispose();
  }
}

function seedFor(t: Tensor, g: Tensor | null | undefined, i: number): Tensor {
  if (g === undefined || g === null) {
    if (t.numel() !== 1) throw new Error('grad can be implicitly created only for scalar outputs');
    return t.newFull(t.shape, 1);
  }
  if (!sameShape(g.shape, t.shape)) {
    throw new Error(`Mismatch in shape: grad_output[${i}] has a shape of ${fmt(g.shape)} and output[${i}] has a shape of ${fmt(t.shape)}.`);
  }
  if (g.device !== t.device || g.dtype !== t.dtype) {
    throw new Error(`Mismatch in dtype or device: grad_output[${i}] is ${g.dtype} on '${g.device}' but output[${i}] is ${t.dtype} on '${t.device}'.`);
  }
  return g;
}

function rootOf(t: Tensor, i: number): { node: Node; index: number } {
  t.checkAlive();
  const e = t.edge();
  if (!e) throw new Error(`element ${i} of tensors does not require grad and does not have a grad_fn`);
  return e;
}

/**
 * `t.backward(gradient, opts)`: accumulate gradients into the leaves.
 * @throws TypeError `backward() got an unexpected keyword argument 'k'` for an
 *   option key BackwardOptions lacks (PyTorch's `Tensor.backward()` TypeError),
 *   before anything runs
 * @example gg.autograd.backward(loss, undefined); // same as loss.backward()
 */
export function backward(t: Tensor, gradient: Tensor | undefined, opts: BackwardOptions = {}): void {
  checkOptions('backward', opts, ['retainGraph', 'createGraph', 'inputs'] satisfies readonly (keyof BackwardOptions)[]);
  // a gradient that is not a tensor (an array, a number) is refused by name, not read as one
  checkOptionalTensor('backward', 'gradient', gradient);
  const createGraph = opts.createGraph ?? false;
  const retainGraph = opts.retainGraph ?? createGraph;
  const root = rootOf(t, 0);
  const grad = seedFor(t, gradient, 0);
  let only: Set<Node> | undefined;
  const nonLeaf = new Map<Node, Map<number, Tensor>>();
  if (opts.inputs) {
    only = new Set(
      opts.inputs.map((x, i) => {
        const e = rootOf(x, i);
        if (!x.isLeaf) nonLeaf.set(e.node, (nonLeaf.get(e.node) ?? new Map<number, Tensor>()).set(e.index, x));
        return e.node;
      }),
    );
  }
  run([{ ...root, grad }], { retainGraph, createGraph, ...(only ? { only } : {}), ...(nonLeaf.size ? { nonLeaf } : {}) });
  if (grad !== gradient) grad.dispose();
}

/** Options of `autograd.grad`. */
export interface GradOptions {
  gradOutputs?: (Tensor | null)[] | Tensor | null;
  retainGraph?: boolean;
  createGraph?: boolean;
  allowUnused?: boolean;
}

/**
 * Gradients of `outputs` with respect to `inputs`, returned instead of
 * accumulated into `.grad` (PyTorch's `torch.autograd.grad`).
 * @throws TypeError `grad() got an unexpected keyword argument 'k'` for an
 *   option key GradOptions lacks, before anything runs
 * @example
 * const x = gg.tensor([3], { requiresGrad: true });
 * const [dx] = gg.autograd.grad(x.mul(x), [x]); // [6]
 */
export function grad(outputs: Tensor | Tensor[], inputs: Tensor | Tensor[], opts: GradOptions = {}): (Tensor | null)[] {
  checkOptions('grad', opts, ['gradOutputs', 'retainGraph', 'createGraph', 'allowUnused'] satisfies readonly (keyof GradOptions)[]);
  const outs = Array.isArray(outputs) ? outputs : [outputs];
  const ins = Array.isArray(inputs) ? inputs : [inputs];
  // one per output; a missing one (undefined or null) is implicit (ones for a scalar output)
  const gos = Array.isArray(opts.gradOutputs) ? opts.gradOutputs : [opts.gradOutputs];
  const createGraph = opts.createGraph ?? false;
  const retainGraph = opts.retainGraph ?? createGraph;
  const capture = new Map<Node, Map<number, number>>();
  ins.forEach((x, i) => {
    if (!x.requiresGrad) throw new Error(`One of the differentiated Tensors does not require grad (input ${i})`);
    const e = rootOf(x, i);
    const m = capture.get(e.node) ?? new Map<number, number>();
    m.set(e.index, i);
    capture.set(e.node, m);
  });
  const seeds: Tensor[] = [];
  const roots = outs.map((o, i) => {
    const g = seedFor(o, gos[i], i);
    // Stryker disable next-line ConditionalExpression: frees the implicit seeds (memory, not values)
    if (g !== gos[i]) seeds.push(g);
    return { ...rootOf(o, i), grad: g };
  });
  const got = run(roots, { retainGraph, createGraph, capture });
  // Stryker disable next-line ArrowFunction: as above
  seeds.forEach((s) => s.dispose());
  return ins.map((x, i) => {
    const e = x.edge();
    const g = e ? (got.get(e.node)?.[e.index] ?? null) : null;
    if (!g && !opts.allowUnused) {
      throw new Error(`One of the differentiated Tensors appears to not have been used in the graph. Set allowUnused: true if this is the desired behavior. (input ${i})`);
    }
    if (!g) return null;
    return conform(createGraph ? g : g.detach(), x.shape, x.dtype, x.device);
  });
}
