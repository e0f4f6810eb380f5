/**
 * A backward engine in about 60 lines, run on gpugrad's real graph: the same
 * nodes `loss.backward()` walks, without hooks, capture, retainGraph or
 * double backward. Each step names the place in src/ that does it for real
 * (src/autograd/engine.ts unless said otherwise); test/examples/micro-engine.test.ts
 * checks that it gives the real engine's gradients.
 *
 * Run: `node dist/examples/micro-engine.js`
 *
 * @module
 */
import * as gg from '../src/index.js';
import { isMain, parseFlags, runCli } from './lib/cli.js';

type Node = gg.autograd.graph.Node;

/** The gradients of `loss` with respect to every leaf that requires grad, by leaf. */
export function microBackward(loss: gg.Tensor): Map<gg.Tensor, gg.Tensor> {
  // 1. engine.ts `reachable` + the `deps` count in `run`: how many consumers send each node a gradient
  const root = loss.gradFn;
  if (!root) throw new Error('loss has no gradFn');
  const deps = new Map<Node, number>();
  const seen = new Set<Node>([root]);
  const stack = [root];
  while (stack.length) {
    const n = stack.pop()!;
    for (const [next] of n.nextFunctions) {
      if (!next) continue;
      deps.set(next, (deps.get(next) ?? 0) + 1);
      if (!seen.has(next)) seen.add(next), stack.push(next);
    }
  }
  // 2. engine.ts `seedFor`: d loss / d loss = 1
  const buffers = new Map<Node, (gg.Tensor | null)[]>([[root, [gg.onesLike(loss)]]]);
  const leafGrads = new Map<gg.Tensor, gg.Tensor>();
  // 3. engine.ts `run`: Kahn's algorithm, a node runs once all its consumers have
  const ready: Node[] = [root];
  while (ready.length) {
    const node = ready.pop()!;
    const grads = buffers.get(node) ?? [];
    if (node instanceof gg.autograd.graph.AccumulateGrad) {
      // 4. engine.ts `accumulate`: a leaf's gradient is the sum of what reached it
      if (grads[0]) leafGrads.set(node.variable, grads[0]);
    } else {
      // 5. engine.ts `callNode`: the node's backward (tensor/ops.ts: the op table's rule)
      const out = gg.noGrad(() => node.apply(grads));
      node.nextFunctions.forEach(([next, slot], i) => {
        const g = out[i];
        if (!next || !g) return;
        // 6. engine.ts `conform`: a broadcast input gets its gradient summed back to its shape
        const fixed = sumTo(g, node.inputs[i]!.shape);
        // 7. engine.ts `deposit`: gradients from several consumers add up
        const slots = buffers.get(next) ?? new Array<gg.Tensor | null>(next.numOutputs).fill(null);
        slots[slot] = slots[slot] ? slots[slot]!.add(fixed) : fixed;
        buffers.set(next, slots);
      });
    }
    // 8. engine.ts `schedule`: producers whose last consumer just ran become ready
    for (const [next] of node.nextFunctions) {
      if (next && deps.set(next, deps.get(next)! - 1).get(next) === 0) ready.push(next);
    }
  }
  return leafGrads;
}

/** Sum `g` over the dims broadcasting added or stretched, down to `shape`. */
function sumTo(g: gg.Tensor, shape: readonly number[]): gg.Tensor {
  const lead = g.ndim - shape.length;
  const dims = g.shape.map((_, d) => d).filter((d) => d < lead || (shape[d - lead] === 1 && g.shape[d] !== 1));
  return dims.length ? g.sum(dims, true).reshape(...shape) : g;
}

/** The micro engine and the real one on one small graph, side by side. */
export async function main(): Promise<{ micro: number[][]; real: number[][] }> {
  gg.manualSeed(0);
  const w = gg.randn([3, 2], { requiresGrad: true });
  const b = gg.zeros([2], { requiresGrad: true });
  const x = gg.randn([4, 3]);
  const loss = x.matmul(w).add(b).tanh().mul(x.sum(1, true)).mean();
  const mine = microBackward(loss);
  loss.backward();
  const micro = await Promise.all([w, b].map(async (t) => Array.from(await mine.get(t)!.data())));
  const real = await Promise.all([w, b].map(async (t) => Array.from(await t.grad!.data())));
  console.log('micro engine:', micro.map((g) => g.map((v) => v.toFixed(5)).join(' ')));
  console.log('real engine: ', real.map((g) => g.map((v) => v.toFixed(5)).join(' ')));
  return { micro, real };
}

/** The command line, printed on a mistake and by `--help`. */
export const USAGE = 'usage: micro-engine   (no flags)';

if (isMain(import.meta.url)) {
  await runCli(USAGE, async () => {
    parseFlags(USAGE, {});
    await main();
  });
}
