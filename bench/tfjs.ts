/**
 * W1–W6 on TensorFlow.js (backends 'wasm' and 'cpu'), written the way a tfjs
 * user would: channels-last (NHWC, tfjs's native layout), tf.moments +
 * tf.batchNorm under tf.grads, tf.train.sgd for the training steps.
 * Every iteration ends with `await <small tensor>.data()`.
 */
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { SIZES, initArray, oneHot, randomArray, type Prepared, type WorkloadId } from './common.js';
import { mnistBatch } from './gg.js';

export type TfBackend = 'wasm' | 'cpu';

/** Switch tfjs to `backend` (and wait for it to initialise). */
export async function useTf(backend: TfBackend): Promise<string> {
  const ok = await tf.setBackend(backend);
  if (!ok) throw new Error(`tfjs backend '${backend}' failed to initialise`);
  await tf.ready();
  const threads = backend === 'wasm' ? (tf.env().getBool('WASM_HAS_MULTITHREAD_SUPPORT') ? 'threads' : 'single thread') : '';
  const simd = backend === 'wasm' ? (tf.env().getBool('WASM_HAS_SIMD_SUPPORT') ? 'SIMD' : 'no SIMD') : '';
  return [tf.getBackend(), simd, threads].filter(Boolean).join(', ');
}

async function drain(t: tf.Tensor): Promise<void> {
  await t.data();
  t.dispose();
}

const nhwc = (): [number, number, number, number] => {
  const [n, c, h, w] = SIZES.W34;
  return [n, h, w, c];
};

function w1(): Prepared {
  const n = SIZES.W1;
  const a = tf.tensor2d(randomArray(n * n, 1), [n, n]);
  const b = tf.tensor2d(randomArray(n * n, 2), [n, n]);
  return { run: () => drain(tf.tidy(() => tf.matMul(a, b).sum())), dispose: () => tf.dispose([a, b]) };
}

function w2(): Prepared {
  const { batch, dims } = SIZES.W2;
  const x = tf.tensor2d(randomArray(batch * dims[0]!, 3), [batch, dims[0]!]);
  const labels = Int32Array.from({ length: batch }, (_, i) => (i * 7) % 10);
  const y = tf.tensor2d(oneHot(labels, 10), [batch, 10]);
  const ws: tf.Variable[] = [];
  const bs: tf.Variable[] = [];
  for (let l = 0; l < 3; l++) {
    ws.push(tf.variable(tf.tensor2d(initArray(dims[l]! * dims[l + 1]!, dims[l]!, 10 + l), [dims[l]!, dims[l + 1]!])));
    bs.push(tf.variable(tf.tensor1d(initArray(dims[l + 1]!, dims[l]!, 20 + l))));
  }
  const opt = tf.train.sgd(SIZES.lr);
  const loss = (): tf.Scalar => {
    let h: tf.Tensor2D = x;
    for (let l = 0; l < 3; l++) {
      h = tf.add(tf.matMul(h, ws[l]!), bs[l]!);
      if (l < 2) h = tf.relu(h);
    }
    return tf.losses.softmaxCrossEntropy(y, h) as tf.Scalar;
  };
  return { run: () => drain(opt.minimize(loss, true)!) };
}

function norm(kind: 'bn' | 'sn'): Prepared {
  const shape = nhwc();
  const n = shape.reduce((a, b) => a * b, 1);
  const c = shape[3];
  const x = tf.tensor4d(randomArray(n, 4), shape);
  const dy = tf.tensor4d(randomArray(n, 5), shape);
  const g = tf.ones([c]);
  const b = tf.zeros([c]);
  const mw = tf.ones([3]);
  const vw = tf.ones([3]);
  const bn = (x: tf.Tensor, g: tf.Tensor, b: tf.Tensor): tf.Tensor => {
    const { mean, variance } = tf.moments(x, [0, 1, 2]);
    return tf.batchNorm(x, mean, variance, b, g, SIZES.eps);
  };
  // SwitchableNorm2d (docs/spec/normalization.md#switchablenorm2d) in NHWC: IN over (H,W), LN over (H,W,C), BN over (N,H,W)
  const sn = (x: tf.Tensor, g: tf.Tensor, b: tf.Tensor, mw: tf.Tensor, vw: tf.Tensor): tf.Tensor => {
    const mIn = tf.moments(x, [1, 2], true);
    const mLn = tf.moments(x, [1, 2, 3], true);
    const mBn = tf.moments(x, [0, 1, 2], true);
    const wm = tf.unstack(tf.softmax(mw));
    const wv = tf.unstack(tf.softmax(vw));
    const mean = mIn.mean.mul(wm[0]!).add(mLn.mean.mul(wm[1]!)).add(mBn.mean.mul(wm[2]!));
    const v = mIn.variance.mul(wv[0]!).add(mLn.variance.mul(wv[1]!)).add(mBn.variance.mul(wv[2]!));
    return x.sub(mean).mul(tf.rsqrt(v.add(SIZES.eps))).mul(g).add(b);
  };
  const grads =
    kind === 'bn'
      ? () => tf.grads((x: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => bn(x, g, b))([x, g, b], dy)
      : () => tf.grads((x: tf.Tensor, g: tf.Tensor, b: tf.Tensor, mw: tf.Tensor, vw: tf.Tensor) => sn(x, g, b, mw, vw))([x, g, b, mw, vw], dy);
  return { run: () => drain(tf.tidy(() => grads()[0]!.sum())) };
}

function w5(): Prepared {
  const { out, in: cin, k } = SIZES.W5;
  const cols = cin * k * k;
  const W = tf.tensor2d(initArray(out * cols, cols, 8), [out, cols]);
  const G = tf.tensor2d(randomArray(out * cols, 7), [out, cols]);
  let u = tf.tensor2d(randomArray(out, 9), [out, 1]);
  let v = tf.tensor2d(randomArray(cols, 10), [cols, 1]);
  const normalize = (t: tf.Tensor2D): tf.Tensor2D => t.div(tf.maximum(tf.norm(t), 1e-12));
  return {
    run: async () => {
      const [nu, nv, s] = tf.tidy(() => {
        // power iteration, outside the differentiated function (PyTorch does it under no_grad)
        const nv = normalize(tf.matMul(W, u, true, false));
        const nu = normalize(tf.matMul(W, nv));
        const f = (w: tf.Tensor): tf.Tensor => w.div(tf.matMul(nu, tf.matMul(w as tf.Tensor2D, nv), true, false).reshape([]));
        const gw = tf.grad(f)(W, G);
        return [nu, nv, gw.sum()];
      });
      tf.dispose([u, v]);
      u = nu as tf.Tensor2D;
      v = nv as tf.Tensor2D;
      await drain(s!);
    },
  };
}

function w6(): Prepared {
  const { batch, c1, c2, classes } = SIZES.W6;
  const { images, labels } = mnistBatch(batch);
  const x = tf.tensor4d(images, [batch, 28, 28, 1]);
  const y = tf.tensor2d(oneHot(labels, classes), [batch, classes]);
  const v = (data: Float32Array, shape: number[]) => tf.variable(tf.tensor(data, shape));
  const f1 = v(initArray(9 * c1, 9, 30), [3, 3, 1, c1]);
  const b1 = v(initArray(c1, 9, 31), [c1]);
  const f2 = v(initArray(9 * c1 * c2, 9 * c1, 32), [3, 3, c1, c2]);
  const b2 = v(initArray(c2, 9 * c1, 33), [c2]);
  const g1 = tf.variable(tf.ones([c1]));
  const be1 = tf.variable(tf.zeros([c1]));
  const g2 = tf.variable(tf.ones([c2]));
  const be2 = tf.variable(tf.zeros([c2]));
  const flat = c2 * 7 * 7;
  const wl = v(initArray(flat * classes, flat, 34), [flat, classes]);
  const bl = v(initArray(classes, flat, 35), [classes]);
  const bn = (h: tf.Tensor4D, g: tf.Tensor, b: tf.Tensor): tf.Tensor4D => {
    const { mean, variance } = tf.moments(h, [0, 1, 2]);
    return tf.batchNorm4d(h, mean as tf.Tensor1D, variance as tf.Tensor1D, b as tf.Tensor1D, g as tf.Tensor1D, SIZES.eps);
  };
  const block = (h: tf.Tensor4D, f: tf.Tensor4D, bias: tf.Tensor, g: tf.Tensor, be: tf.Tensor): tf.Tensor4D =>
    tf.maxPool(tf.relu(bn(tf.conv2d(h, f, 1, 'same').add(bias), g, be)), 2, 2, 'valid');
  const opt = tf.train.sgd(SIZES.lr);
  const loss = (): tf.Scalar => {
    const h = block(block(x, f1 as tf.Variable<tf.Rank.R4>, b1, g1, be1), f2 as tf.Variable<tf.Rank.R4>, b2, g2, be2);
    const logits = tf.add(tf.matMul(h.reshape([batch, flat]), wl as tf.Tensor2D), bl);
    return tf.losses.softmaxCrossEntropy(y, logits) as tf.Scalar;
  };
  return { run: () => drain(opt.minimize(loss, true)!) };
}

/** Prepare workload `id` on the current tfjs backend. */
export function prepareTf(id: WorkloadId): Prepared {
  switch (id) {
    case 'W1': return w1();
    case 'W2': return w2();
    case 'W3': return norm('bn');
    case 'W4': return norm('sn');
    case 'W5': return w5();
    case 'W6': return w6();
    case 'W7': throw new Error('W7 runs in a child process (bench/w7.ts)');
  }
}
