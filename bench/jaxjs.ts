/**
 * W1, W2 and W5 on jax-js 0.1.25 (`@jax-js/jax`, its WebAssembly backend in
 * Node), written the way a jax-js user would: `valueAndGrad`/`grad` over pure
 * functions, `jit` on the training step, and jax-js's ownership rules (every
 * op consumes its arguments; `.ref` keeps one). It has no BatchNorm or conv
 * layers, so W3, W4 and W6 are not measured (shared/BENCH.md).
 * Every iteration ends with `await <small array>.data()`.
 */
import type * as Jax from '@jax-js/jax';
import { SIZES, initArray, oneHot, randomArray, type Prepared, type WorkloadId } from './common.js';

type JaxModule = typeof Jax;
type Arr = Jax.Array;
let jax: JaxModule | undefined;

/** The workloads jax-js runs here. */
export const JAX_WORKLOADS: readonly WorkloadId[] = ['W1', 'W2', 'W5'];

/** Load jax-js and start its WebAssembly backend; returns a description. */
export async function useJax(): Promise<string> {
  // NOTE: jax-js reads navigator (a browser global) while starting; Node 20 has none
  const g = globalThis as { navigator?: object };
  g.navigator ??= {};
  jax = await import('@jax-js/jax');
  const got = await jax.init('wasm');
  if (!got.includes('wasm')) throw new Error(`jax-js did not start its wasm backend (started: ${got.join(', ') || 'none'})`);
  jax.defaultDevice('wasm');
  const shared = typeof SharedArrayBuffer === 'function' ? 'SharedArrayBuffer present' : 'no SharedArrayBuffer';
  return `jax-js 0.1.25, wasm (${shared})`;
}

function lib(): JaxModule {
  if (!jax) throw new Error('useJax() first');
  return jax;
}

const arr = (data: Float32Array, shape: number[]): Arr => lib().numpy.array(data).reshape(shape);

async function drain(t: Arr): Promise<void> {
  await t.data(); // consumes t
}

function w1(): Prepared {
  const { numpy: np } = lib();
  const n = SIZES.W1;
  const a = arr(randomArray(n * n, 1), [n, n]);
  const b = arr(randomArray(n * n, 2), [n, n]);
  return { run: () => drain(np.matmul(a.ref, b.ref).sum()), dispose: () => [a, b].forEach((t) => t.dispose()) };
}

type Mlp = { w: Arr[]; b: Arr[] };

function w2(): Prepared {
  const { numpy: np, nn, valueAndGrad, jit, blockUntilReady } = lib();
  const { batch, dims } = SIZES.W2;
  const x = arr(randomArray(batch * dims[0]!, 3), [batch, dims[0]!]);
  const labels = Int32Array.from({ length: batch }, (_, i) => (i * 7) % 10);
  const y = arr(oneHot(labels, 10), [batch, 10]);
  let p: Mlp = { w: [], b: [] };
  for (let l = 0; l < 3; l++) {
    p.w.push(arr(initArray(dims[l]! * dims[l + 1]!, dims[l]!, 10 + l), [dims[l]!, dims[l + 1]!]));
    p.b.push(arr(initArray(dims[l + 1]!, dims[l]!, 20 + l), [dims[l + 1]!]));
  }
  // mean cross-entropy of softmax(logits) against one-hot y (each argument used once: owned)
  const loss = (q: Mlp, xs: Arr, ys: Arr): Arr => {
    let h = xs;
    for (let l = 0; l < 3; l++) {
      h = np.matmul(h, q.w[l]!).add(q.b[l]!);
      if (l < 2) h = nn.relu(h);
    }
    return nn.logSoftmax(h, -1).mul(ys).sum().mul(-1 / batch);
  };
  const step = jit(valueAndGrad(loss));
  return {
    note: 'jit(valueAndGrad(loss)), SGD update eager',
    run: async () => {
      const [l, g] = step({ w: p.w.map((t) => t.ref), b: p.b.map((t) => t.ref) }, x.ref, y.ref) as unknown as [Arr, Mlp];
      p = { w: p.w.map((t, i) => t.sub(g.w[i]!.mul(SIZES.lr))), b: p.b.map((t, i) => t.sub(g.b[i]!.mul(SIZES.lr))) };
      await blockUntilReady(p);
      await drain(l);
    },
    dispose: () => {
      for (const t of [...p.w, ...p.b, x, y]) t.dispose();
      step.dispose();
    },
  };
}

function w5(): Prepared {
  const { numpy: np, grad } = lib();
  const { out, in: cin, k } = SIZES.W5;
  const cols = cin * k * k;
  const W = arr(initArray(out * cols, cols, 8), [out, cols]);
  const G = arr(randomArray(out * cols, 7), [out, cols]);
  let u = arr(randomArray(out, 9), [out]);
  let v = arr(randomArray(cols, 10), [cols]);
  // t / max(‖t‖, 1e-12), consuming t
  const normalize = (t: Arr): Arr => t.ref.div(np.maximum(np.sqrt(t.ref.mul(t).sum()), 1e-12));
  return {
    run: async () => {
      // power iteration (PyTorch runs it under no_grad), then d/dW sum(G ⊙ W/σ), σ = uᵀ W v
      const nv = normalize(np.matmul(W.ref.transpose(), u));
      const nu = normalize(np.matmul(W.ref, nv.ref));
      const f = (w: Arr): Arr => {
        const sigma = np.dot(nu.ref, np.matmul(w.ref, nv.ref));
        return w.div(sigma).mul(G.ref).sum();
      };
      const gw = grad(f)(W.ref) as Arr;
      u = nu;
      v.dispose();
      v = nv;
      await drain(gw.sum());
    },
    dispose: () => [W, G, u, v].forEach((t) => t.dispose()),
  };
}

/** Prepare workload `id` on jax-js (W1, W2, W5 only). */
export function prepareJax(id: WorkloadId): Prepared {
  switch (id) {
    case 'W1': return w1();
    case 'W2': return w2();
    case 'W5': return w5();
    default: throw new Error(`${id} is not measured on jax-js (no BatchNorm or conv layers to compare; shared/BENCH.md)`);
  }
}
