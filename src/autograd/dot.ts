/**
 * Graph pictures, torchviz's way: the backward graph as Graphviz DOT text.
 *
 * Pure string building (no Node-only imports), so a browser page can call it
 * too; `render.ts` turns the text into SVG or PNG. See
 * docs/notes/seeing-autograd.md for what each box and edge means.
 */
import { AccumulateGrad, type Node } from './graph.js';
import type { Tensor } from '../tensor/tensor.js';

/** Named tensors: `module.namedParameters()`, an array of pairs, or a record. */
export type NamedTensors = Iterable<readonly [string, Tensor]> | Record<string, Tensor>;

/** Options of {@link toDot}. */
export interface DotOptions {
  /**
   * Names for leaves (torchviz's `params`), usually `model.namedParameters()`;
   * leaves not named here are labelled with their shape only.
   */
  params?: NamedTensors;
  /** Draw each node's saved tensors (orange, dotted edge to the node) with their shapes (default false). */
  showSaved?: boolean;
  /**
   * Stop after this many edges from the roots' nodes (default: no limit); a
   * node whose inputs are cut off gets a `…` box.
   */
  maxDepth?: number;
  /** Names for the roots (default `output`, or `output0`, `output1`, ...). */
  rootNames?: readonly string[];
}

/** `(2, 3)`, `()` for a scalar: shapes as torchviz writes them. */
export function shapeLabel(shape: readonly number[]): string {
  return shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
}

/** A DOT double-quoted string: backslashes and quotes escaped, lines joined by `\n`. */
function quote(lines: readonly string[]): string {
  return `"${lines.map((l) => l.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/[\r\n]+/g, ' ')).join('\\n')}"`;
}

function namedMap(params: NamedTensors | undefined): Map<Tensor, string> {
  const out = new Map<Tensor, string>();
  if (!params) return out;
  const pairs = Symbol.iterator in params ? (params as Iterable<readonly [string, Tensor]>) : Object.entries(params);
  for (const [name, t] of pairs) out.set(t, name);
  return out;
}

/**
 * The backward graph of `roots` as Graphviz DOT, like torchviz's `make_dot`:
 * one box per backward node (its PyTorch name: `MulBackward0`, ...), leaves
 * (`AccumulateGrad`) in light blue with their parameter name and shape, the
 * roots in green, saved tensors in orange when `showSaved` is on. Edges point
 * the way gradients flow: from a node to the producers of its inputs
 * (`nextFunctions`); a producer with several outputs labels the edge with
 * the output slot. Node ids (`n0`, `n1`, ...) follow a breadth-first walk
 * from the roots, so the text is the same for the same graph.
 *
 * Reference: torchviz `make_dot` (which draws edges the other way, in the
 * direction of the forward pass).
 * @param roots tensors whose graph to draw (usually the loss)
 * @throws Error when `maxDepth` is negative or not an integer
 * @example
 * const x = gg.tensor([1, 2], { requiresGrad: true });
 * const dot = gg.autograd.graph.toDot(x.mul(x).sum(), { params: { x } });
 * // digraph autograd { ... n0 [label="SumBackward0"] ... }
 */
export function toDot(roots: Tensor | readonly Tensor[], opts: DotOptions = {}): string {
  const list: readonly Tensor[] = Array.isArray(roots) ? roots : [roots as Tensor];
  const maxDepth = opts.maxDepth ?? Infinity;
  if (maxDepth !== Infinity && (!Number.isInteger(maxDepth) || maxDepth < 0)) {
    throw new Error(`toDot: maxDepth must be a non-negative integer, got ${maxDepth}`);
  }
  const names = namedMap(opts.params);
  const lines: string[] = [
    'digraph autograd {',
    '  graph [rankdir=TB, nodesep=0.25, ranksep=0.3];',
    '  node [shape=box, style="filled,rounded", fillcolor=white, fontname="Courier", fontsize=11, height=0.3, margin="0.12,0.05"];',
    '  edge [arrowsize=0.7];',
  ];
  const ids = new Map<Node, string>();
  const depth = new Map<Node, number>();
  const queue: Node[] = [];
  const visit = (n: Node, d: number): string => {
    let id = ids.get(n);
    if (id === undefined) {
      id = `n${ids.size}`;
      ids.set(n, id);
      depth.set(n, d);
      queue.push(n);
    }
    return id;
  };

  list.forEach((t, i) => {
    const name = opts.rootNames?.[i] ?? names.get(t) ?? (list.length === 1 ? 'output' : `output${i}`);
    lines.push(`  r${i} [label=${quote([name, shapeLabel(t.shape)])}, fillcolor=darkolivegreen1];`);
    const node = t.gradFn ?? (t.requiresGrad ? accumulatorOf(t) : null);
    if (node) lines.push(`  r${i} -> ${visit(node, 0)};`);
  });

  let cut = 0;
  for (let q = 0; q < queue.length; q++) {
    const n = queue[q] as Node;
    const id = ids.get(n) as string;
    const d = depth.get(n) as number;
    if (n instanceof AccumulateGrad) {
      const leaf = n.variable;
      const label = names.get(leaf);
      lines.push(`  ${id} [label=${quote(label === undefined ? [shapeLabel(leaf.shape)] : [label, shapeLabel(leaf.shape)])}, fillcolor=lightblue, tooltip="AccumulateGrad"];`);
      continue;
    }
    const saved = opts.showSaved ? n.savedEntries() : [];
    lines.push(`  ${id} [label=${quote(saved === null ? [n.name, '(saved tensors freed)'] : [n.name])}];`);
    (saved ?? []).forEach((s, k) => {
      lines.push(`  ${id}_s${k} [label=${quote([s.name, shapeLabel(s.tensor.shape)])}, fillcolor=orange];`);
      lines.push(`  ${id}_s${k} -> ${id} [style=dotted, dir=none];`);
    });
    const edges = n.next.filter((e) => e !== null);
    if (edges.length && d >= maxDepth) {
      lines.push(`  c${cut} [label="…", shape=plaintext, style=""];`);
      lines.push(`  ${id} -> c${cut++} [style=dashed];`);
      continue;
    }
    for (const e of edges) {
      const to = visit(e.node, d + 1);
      lines.push(`  ${id} -> ${to}${e.node.numOutputs > 1 ? ` [label="${e.index}"]` : ''};`);
    }
  }
  lines.push('}');
  return lines.join('\n') + '\n';
}

/** A leaf that requires grad drawn as a root: its accumulator, without creating one for a tensor that needs none. */
function accumulatorOf(t: Tensor): Node | null {
  return t.edge()?.node ?? null;
}
