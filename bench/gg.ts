/**
 * W1–W6 on one gpugrad device. Each workload uses the gg.nn layers named in
 * shared/API.md when they exist in this build; where a layer is missing (or
 * throws on this device), a composition of tensor ops computing the same
 * formula stands in and the cell carries a note saying so.
 */
/* eslint-disable @typescript-eslint/no-explicit-any */
import * as gg from '../src/index.js';
import { SIZES, initArray, oneHot, randomArray, type Prepared, type WorkloadId } from './common.js';
import { loadMnist } from '../examples/lib/mnist.js';

type T = gg.Tensor;
const nn = gg.nn as unknown as Record<string, any>;
const optim = (gg as unknown as Record<string, any>).optim as Record<string, any> | undefined;
/** When set, every workload uses its composed-ops form (the retry after an nn path failed). */
let forceComposed = false;
const has = (...names: string[]): boolean => !forceComposed && names.every((n) => typeof nn[n] === 'function');

const put = (data: Float32Array, shape: number[], device: string, requiresGrad = false): T =>
  gg.tensor(data, { shape, device, requiresGrad });

/**
 * Clear the gradients so the next backward starts afresh, freeing the old
 * ones as `Module.zeroGrad()` and the optimizers' `zeroGrad()` do. Why:
 * PyTorch frees a gradient set to None at once (reference counting) and the
 * TensorFlow.js peers free theirs in `tf.tidy`; a gradient only set to null
 * here waits for V8's garbage collector, so every step would take a fresh
 * array (page faults, GC work; docs/notes/bench.md, "W3: two threads").
 */
function clearGrads(ts: Iterable<T>): void {
  for (const t of ts) {
    t.grad?.dispose();
    t.grad = null;
  }
}

/** Finish one iteration: wait for the device, then free the checksum. */
async function drain(t: T): Promise<void> {
  await t.data();
  t.dispose();
}

/** Sum of a gradient, as the small value read back to wait for queued work. */
function gradSum(t: T): T {
  if (!t.grad) throw new Error('no gradient was produced');
  return t.grad.sum();
}

// ---------------------------------------------------------------------------------

function w1(device: string): Prepared {
  const n = SIZES.W1;
  const a = put(randomArray(n * n, 1), [n, n], device);
  const b = put(randomArray(n * n, 2), [n, n], device);
  return {
    run: () => drain(gg.tidy(() => a.matmul(b).sum())),
    dispose: () => (a.dispose(), b.dispose()),
  };
}

/** Cross-entropy via gg.nn when present, else -mean(sum(onehot * logSoftmax)). */
function makeCe(labels: Int32Array, classes: number, device: string): { loss: (logits: T) => T; note?: string } {
  if (has('CrossEntropyLoss')) {
    const ce = new nn.CrossEntropyLoss();
    const target = gg.tensor(Float32Array.from(labels), { shape: [labels.length], dtype: 'int64', device });
    return { loss: (logits) => ce.forward(logits, target) as T };
  }
  const oh = put(oneHot(labels, classes), [labels.length, classes], device);
  return { loss: (logits) => logits.logSoftmax(1).mul(oh).sum().div(-labels.length), note: 'CE composed (nn.CrossEntropyLoss absent)' };
}

/** SGD via gg.optim.SGD when present, else p -= lr * grad under noGrad. */
function makeSgd(params: T[]): { step: () => void; note?: string } {
  if (optim && typeof optim.SGD === 'function') {
    const opt = new optim.SGD(params, { lr: SIZES.lr });
    return { step: () => opt.step() };
  }
  return {
    step: () => gg.noGrad(() => params.forEach((p) => p.grad && p.assign(p.sub(p.grad.mul(SIZES.lr))))),
    note: 'SGD composed (gg.optim absent)',
  };
}

function w2(device: string): Prepared {
  const { batch, dims } = SIZES.W2;
  const x = put(randomArray(batch * dims[0]!, 3), [batch, dims[0]!], device);
  const labels = Int32Array.from({ length: batch }, (_, i) => (i * 7) % 10);
  const notes: string[] = [];
  let forward: (x: T) => T;
  let params: T[];
  if (has('Linear', 'ReLU', 'Sequential')) {
    const model = new nn.Sequential(
      new nn.Linear(dims[0], dims[1]), new nn.ReLU(), new nn.Linear(dims[1], dims[2]), new nn.ReLU(), new nn.Linear(dims[2], dims[3]),
    ).to(device);
    forward = (x) => model.forward(x) as T;
    params = model.parameters() as T[];
  } else {
    notes.push('MLP composed (nn.Linear absent)');
    params = [];
    for (let l = 0; l < 3; l++) {
      params.push(put(initArray(dims[l]! * dims[l + 1]!, dims[l]!, 10 + l), [dims[l]!, dims[l + 1]!], device, true));
      params.push(put(initArray(dims[l + 1]!, dims[l]!, 20 + l), [dims[l + 1]!], device, true));
    }
    forward = (x) => {
      let h = x;
      for (let l = 0; l < 3; l++) {
        h = h.matmul(params[2 * l]!).add(params[2 * l + 1]!);
        if (l < 2) h = h.relu();
      }
      return h;
    };
  }
  const ce = makeCe(labels, 10, device);
  const sgd = makeSgd(params);
  if (ce.note) notes.push(ce.note);
  if (sgd.note) notes.push(sgd.note);
  return {
    note: notes.join('; ') || undefined,
    run: async () => {
      clearGrads(params);
      const loss = gg.tidy(() => {
        const l = ce.loss(forward(x));
        l.backward();
        sgd.step();
        return l.detach();
      });
      await drain(loss);
    },
  };
}

/** BatchNorm2d (training) as tensor ops: (x - μ)/sqrt(σ² + eps)·γ + β, biased σ². */
function bnComposed(x: T, g: T, b: T): T {
  const c = x.shape[1]!;
  const mean = x.mean([0, 2, 3], true);
  const v = x.var([0, 2, 3], { unbiased: false, keepdim: true });
  return x.sub(mean).div(v.add(SIZES.eps).sqrt()).mul(g.reshape(1, c, 1, 1)).add(b.reshape(1, c, 1, 1));
}

/** SwitchableNorm2d (docs/spec/normalization.md#switchablenorm2d) as tensor ops. */
function snComposed(x: T, g: T, b: T, mw: T, vw: T): T {
  const c = x.shape[1]!;
  const stats = (dims: number[]) => [x.mean(dims, true), x.var(dims, { unbiased: false, keepdim: true })] as const;
  const [mIn, vIn] = stats([2, 3]);
  const [mLn, vLn] = stats([1, 2, 3]);
  const [mBn, vBn] = stats([0, 2, 3]);
  const wm = mw.softmax(0);
  const wv = vw.softmax(0);
  const k = (w: T, i: number) => w.narrow(0, i, 1);
  const mean = mIn.mul(k(wm, 0)).add(mLn.mul(k(wm, 1))).add(mBn.mul(k(wm, 2)));
  const v = vIn.mul(k(wv, 0)).add(vLn.mul(k(wv, 1))).add(vBn.mul(k(wv, 2)));
  return x.sub(mean).div(v.add(SIZES.eps).sqrt()).mul(g.reshape(1, c, 1, 1)).add(b.reshape(1, c, 1, 1));
}

function norm(device: string, kind: 'bn' | 'sn'): Prepared {
  const shape = [...SIZES.W34];
  const n = shape.reduce((a, b) => a * b, 1);
  const c = shape[1]!;
  const x = put(randomArray(n, 4), shape, device, true);
  const gy = put(randomArray(n, 5), shape, device);
  let forward: (x: T) => T;
  let params: T[];
  let note: string | undefined;
  const layer = kind === 'bn' ? 'BatchNorm2d' : 'SwitchableNorm2d';
  if (has(layer)) {
    const m = new nn[layer](c).to(device);
    forward = (x) => m.forward(x) as T;
    params = m.parameters() as T[];
  } else {
    note = `composed ops (nn.${layer} absent)`;
    const g = put(new Float32Array(c).fill(1), [c], device, true);
    const b = put(new Float32Array(c), [c], device, true);
    const mw = put(new Float32Array(3).fill(1), [3], device, true);
    const vw = put(new Float32Array(3).fill(1), [3], device, true);
    params = kind === 'bn' ? [g, b] : [g, b, mw, vw];
    forward = kind === 'bn' ? (x) => bnComposed(x, g, b) : (x) => snComposed(x, g, b, mw, vw);
  }
  const all = [x, ...params];
  return {
    note,
    run: async () => {
      clearGrads(all);
      await drain(gg.tidy(() => {
        forward(x).backward(gy);
        return gradSum(x);
      }));
    },
  };
}

function w5(device: string): Prepared {
  const { out, in: cin, k } = SIZES.W5;
  const cols = cin * k * k;
  const gOut = put(randomArray(out * cols, 7), [out, cin, k, k], device);
  const utils = nn.utils as Record<string, any> | undefined;
  const sn = utils?.parametrizations?.spectralNorm;
  if (has('Conv2d') && typeof sn === 'function' && !forceComposed) {
    const conv = new nn.Conv2d(cin, out, k).to(device);
    sn(conv);
    const params = conv.parameters() as T[];
    const orig = params.find((p) => p.shape.length === 4)!;
    return {
      run: async () => {
        clearGrads(params);
        await drain(gg.tidy(() => {
          (conv.weight as T).backward(gOut);
          return gradSum(orig);
        }));
      },
    };
  }
  const W = put(initArray(out * cols, cols, 8), [out, cols], device, true);
  let u = put(randomArray(out, 9), [out, 1], device);
  let v = put(randomArray(cols, 10), [cols, 1], device);
  const normalize = (t: T) => t.div(t.square().sum().sqrt().maximum(1e-12));
  const g2 = gOut.reshape(out, cols);
  return {
    note: 'composed ops (nn.Conv2d / spectralNorm absent)',
    run: async () => {
      W.grad = null;
      const [u2, v2, s] = gg.tidy(() => {
        const [nu, nv] = gg.noGrad(() => {
          const nv = normalize(W.t().matmul(u));
          return [normalize(W.matmul(nv)), nv];
        });
        const sigma = nu.t().matmul(W.matmul(nv)).reshape();
        W.div(sigma).backward(g2);
        return [nu, nv, gradSum(W)];
      });
      u.dispose();
      v.dispose();
      u = u2!;
      v = v2!;
      await drain(s!);
    },
  };
}

function w6(device: string): Prepared {
  const need = ['Conv2d', 'BatchNorm2d', 'ReLU', 'MaxPool2d', 'Flatten', 'Linear', 'Sequential'];
  const missing = need.filter((n) => !has(n));
  if (missing.length) throw new Error(`gg.nn lacks ${missing.join(', ')} in this build`);
  const { batch, c1, c2, classes } = SIZES.W6;
  const { images, labels } = mnistBatch(batch);
  const x = put(images, [batch, 1, 28, 28], device);
  const model = new nn.Sequential(
    new nn.Conv2d(1, c1, 3, { padding: 1 }), new nn.BatchNorm2d(c1), new nn.ReLU(), new nn.MaxPool2d(2),
    new nn.Conv2d(c1, c2, 3, { padding: 1 }), new nn.BatchNorm2d(c2), new nn.ReLU(), new nn.MaxPool2d(2),
    new nn.Flatten(), new nn.Linear(c2 * 7 * 7, classes),
  ).to(device);
  const params = model.parameters() as T[];
  const ce = makeCe(labels, classes, device);
  const sgd = makeSgd(params);
  const notes = [ce.note, sgd.note].filter(Boolean);
  return {
    note: notes.join('; ') || undefined,
    run: async () => {
      clearGrads(params);
      await drain(gg.tidy(() => {
        const l = ce.loss(model.forward(x) as T);
        l.backward();
        sgd.step();
        return l.detach();
      }));
    },
  };
}

let mnistCache: { images: Float32Array; labels: Int32Array } | undefined;
/** One fixed batch of MNIST digits (the same for every implementation). */
export function mnistBatch(batch: number): { images: Float32Array; labels: Int32Array } {
  mnistCache ??= loadMnist({ train: batch, test: 0, seed: 0 }).train;
  return mnistCache;
}

/** Prepare workload `id` on gpugrad device `device`. */
export function prepareGg(id: WorkloadId, device: string, composed = false): Prepared {
  forceComposed = composed;
  try {
    return prepare(id, device);
  } finally {
    forceComposed = false;
  }
}

function prepare(id: WorkloadId, device: string): Prepared {
  switch (id) {
    case 'W1': return w1(device);
    case 'W2': return w2(device);
    case 'W3': return norm(device, 'bn');
    case 'W4': return norm(device, 'sn');
    case 'W5': return w5(device);
    case 'W6': return w6(device);
    case 'W7': throw new Error('W7 runs in a child process (bench/w7.ts)');
  }
}
