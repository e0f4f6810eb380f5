// The README's short tour as plain JavaScript, which Node runs as it is:
//
//   npm run build && node examples/tour.mjs        (in this repository)
//
// In your own project, import from the package instead of dist/
// (`import * as gg from 'gpugrad';`), save it as `tour.mjs` and run
// `node tour.mjs`. The README's TypeScript version runs with `npx tsx tour.ts`.
// test/examples/readme-tour.test.ts runs this file and checks what it prints.
import * as gg from '../dist/src/index.js';

// tensors and backward
const x = gg.tensor([[1, 2], [3, 4]], { requiresGrad: true });
const y = x.mul(x).sum();
y.backward();
console.log('x.grad', JSON.stringify(await x.grad.array())); // [[2,4],[6,8]]

// gradcheck in float64, PyTorch's semantics
const a = gg.randn([3, 4], { dtype: 'float64', requiresGrad: true });
console.log('gradcheck', await gg.autograd.gradcheck((t) => t.softmax(1).mul(t).sum(0), [a])); // true
console.log('gradgradcheck', await gg.autograd.gradgradcheck((t) => t.tanh().matmul(t.t()), [a])); // true

// a custom op
class Square extends gg.autograd.Function {
  static forward(ctx, t) {
    ctx.saveForBackward(t);
    return t.mul(t);
  }
  static backward(ctx, g) {
    const [t] = ctx.savedTensors;
    return g.mul(t).mul(2);
  }
}
console.log('custom op gradcheck', await gg.autograd.gradcheck((t) => Square.apply(t), [a])); // true

// BatchNorm2d, exactly PyTorch's
const bn = new gg.nn.BatchNorm2d(3);
const out = bn.call(gg.randn([8, 3, 5, 5]));
console.log('BatchNorm2d', JSON.stringify(out.shape), Object.keys(bn.stateDict()).join(' '));

// SwitchableNorm2d: a drop-in for BatchNorm2d that learns to mix IN/LN/BN statistics
const sn = new gg.nn.SwitchableNorm2d(3);
console.log('SwitchableNorm2d', Object.keys(sn.stateDict()).join(' '));

// spectral normalization as a parametrization
const conv = gg.nn.utils.parametrizations.spectralNorm(new gg.nn.Conv2d(3, 8, 3));
console.log('spectral norm', Object.keys(conv.stateDict()).join(' '));

// a training step: tidy frees every temporary, so device memory stays flat
const model = new gg.nn.Sequential(new gg.nn.Linear(4, 16), new gg.nn.ReLU(), new gg.nn.Linear(16, 3));
const opt = new gg.optim.SGD(model.parameters(), { lr: 0.1, momentum: 0.9 });
const lossFn = new gg.nn.CrossEntropyLoss();
const [inputs, labels] = [gg.randn([8, 4]), gg.tensor([0, 1, 2, 0, 1, 2, 0, 1])];
for (let step = 0; step < 100; step++) {
  const loss = gg.tidy(() => {
    opt.zeroGrad();
    const l = lossFn.call(model.call(inputs), labels);
    l.backward();
    opt.step();
    return l;
  });
  if (step % 20 === 0 || step === 99) console.log('step', step, 'loss', (await loss.item()).toFixed(4));
  loss.dispose();
}

// on a GPU mode: ops stay synchronous, reading values waits for the device
const gpu = await gg.initDevice('gpu');
const g = gg.ones([64, 64], { device: 'gpu' });
console.log(`gpu = ${gpu}: sum of ones(64, 64) @ ones(64, 64) =`, await g.matmul(g).sum().item()); // 262144
// the devices that did not start here, and why
for (const [name, why] of gg.unavailableReasons) console.log(`not here: ${name}: ${why}`);
