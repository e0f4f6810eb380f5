/**
 * The engine trace behind `gg.autograd.trace(fn)`: one step per node the
 * backward engine visits, in the order it visits them. The engine reports
 * through `traceStep` only while a trace is open. No Node-only imports, so a
 * browser page can show a trace too. See docs/notes/seeing-autograd.md.
 */
import type { AccumulateGrad, Node } from './graph.js';
import type { Tensor } from '../tensor/tensor.js';

/** One node visit of the backward engine. */
export interface TraceStep {
  /** 1-based position in the trace. */
  readonly step: number;
  /** The node visited (its `name`, `nextFunctions`, ...). */
  readonly node: Node;
  /** PyTorch's name of the node (`MulBackward0`, `AccumulateGrad`, ...). */
  readonly name: string;
  /** Which backward call of the trace this step belongs to (1-based). */
  readonly pass: number;
  /** How many consumers' gradients it waited for before it could run (0 for a root). */
  readonly waitedFor: number;
  /** Shapes of the gradients it received, one per output (null: none arrived). */
  readonly gradIn: readonly (readonly number[] | null)[];
  /** Shapes of the gradients it sent, one per input (null: none); empty for AccumulateGrad. */
  readonly gradOut: readonly (readonly number[] | null)[];
  /** Tensor hooks (`registerHook`) and post hooks that ran. */
  readonly hooks: number;
  /** Whether it freed its saved tensors (a backward without `retainGraph`). */
  readonly released: boolean;
  /** What it did: `backward` (its rule ran), `accumulate` (into `leaf.grad`) or `capture` (the gradient was kept and the rule did not run: `autograd.grad`'s inputs, a non-leaf named in `backward(inputs)`). */
  readonly action: 'backward' | 'accumulate' | 'capture';
}

/** What `gg.autograd.trace` returns. */
export interface Trace<T> {
  /** What `fn` returned. */
  result: T;
  /** Every node visit, in order. */
  steps: TraceStep[];
  /** A table of the steps (see {@link formatTrace}). */
  format(): string;
}

/** @internal What the engine reports per node visit. */
export interface StepReport {
  node: Node;
  waitedFor: number;
  gradIn: readonly (Tensor | null)[];
  gradOut: readonly (Tensor | null)[];
  hooks: number;
  released: boolean;
  action: TraceStep['action'];
}

interface OpenTrace {
  steps: TraceStep[];
  pass: number;
}
const open: OpenTrace[] = [];

/** @internal Whether a trace is open (the engine skips the bookkeeping otherwise). */
export function tracing(): boolean {
  return open.length > 0;
}

/** @internal The engine starts a backward pass. */
export function traceBackwardStart(): void {
  for (const t of open) t.pass++;
}

/** @internal The engine visited a node. */
export function traceStep(r: StepReport): void {
  const shapes = (gs: readonly (Tensor | null)[]) => gs.map((g) => (g ? [...g.shape] : null));
  const gradIn = shapes(r.gradIn);
  const gradOut = shapes(r.gradOut);
  for (const t of open) {
    t.steps.push({ step: t.steps.length + 1, node: r.node, name: r.node.name, pass: t.pass, waitedFor: r.waitedFor, gradIn, gradOut, hooks: r.hooks, released: r.released, action: r.action });
  }
}

const shapeText = (s: readonly number[] | null): string => (s ? `(${s.join(', ')}${s.length === 1 ? ',' : ''})` : '-');

/**
 * A trace as a table, one line per step: step, node, how many consumers it
 * waited for, gradient shapes in and out, hooks run, freed saved tensors,
 * and the leaf an `AccumulateGrad` wrote into.
 * @example console.log(gg.autograd.formatTrace(t.steps));
 */
export function formatTrace(steps: readonly TraceStep[]): string {
  const rows = steps.map((s) => [
    String(s.step),
    s.name,
    String(s.waitedFor),
    s.gradIn.map(shapeText).join(' '),
    s.action === 'backward' ? s.gradOut.map(shapeText).join(' ') : s.action === 'accumulate' ? `→ .grad ${shapeText((s.node as AccumulateGrad).variable.shape)}` : '(captured)',
    String(s.hooks),
    s.released ? 'yes' : 'no',
  ]);
  const header = ['step', 'node', 'waited', 'grad in', 'grad out', 'hooks', 'freed'];
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => (r[c] ?? '').length)));
  const line = (r: string[]) => r.map((v, c) => (c === 0 || c === 2 || c === 5 ? v.padStart(widths[c] ?? 0) : v.padEnd(widths[c] ?? 0))).join('  ').trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}

/**
 * Run `fn` and record what the backward engine does meanwhile: every node it
 * visits, in order (PyTorch has no such trace; its engine is C++). Each step
 * gives the node, how many consumers it waited for (the topological rule: a
 * node runs once every consumer of its outputs has sent its gradient), the
 * gradient shapes in and out, the hooks run and whether saved tensors were
 * freed. Traces may nest; the engine does no extra work when none is open.
 * `fn` runs synchronously (backward is synchronous on every device).
 * @throws whatever `fn` throws (the trace is closed first)
 * @example
 * const t = gg.autograd.trace(() => x.mul(x).sum().backward());
 * t.steps.map((s) => s.name); // ['SumBackward0', 'MulBackward0', 'AccumulateGrad']
 * console.log(t.format());
 */
export function trace<T>(fn: () => T): Trace<T> {
  const t: OpenTrace = { steps: [], pass: 0 };
  open.push(t);
  let result: T;
  try {
    result = fn();
  } finally {
    open.splice(open.indexOf(t), 1);
  }
  return { result, steps: t.steps, format: () => formatTrace(t.steps) };
}
