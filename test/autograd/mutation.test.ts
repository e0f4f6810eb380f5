/**
 * Mutation and autograd (docs/notes/mutation.md, docs/spec/mutation.md): the
 * in-place ops of issue 15 and issue 13's inputs 4-7, against PyTorch 1.13's
 * values, node names and messages (test/fixtures/torch_autograd.json, keys
 * `retain_grad_*`, `backward_inputs_*`, `copy_*`, `version_messages`,
 * `add_not_saved_grad` and `inplace`, written by make_special.py).
 * The ops run on every device (float64 on cpu, float32 on the gpu.js devices).
 */
import { expect } from 'chai';
import * as gg from '../../src/index.js';
import { F32, F64, expectClose, fixture, values, type Golden } from '../helpers/compare.js';
import { forEachDevice } from '../helpers/devices.js';

const fx = fixture<Record<string, unknown>>('torch_autograd.json');
const g = (k: string): number[] => (fx[k] as Golden).data.map(Number);

interface OpGolden {
  name: string;
  value?: Golden;
  x_grad: Golden;
  w_grad?: Golden;
  v_grad?: Golden;
  requires_grad?: boolean;
  is_leaf?: boolean;
}
interface InplaceGolden {
  ops: Record<string, OpGolden>;
  transpose_write: Golden;
  narrow_write: { base: Golden; view: Golden; versions: number[] };
  detach_shares_version: { x: Golden; version: number };
  no_grad_leaf: { value: Golden; version: number; is_leaf: boolean; requires_grad: boolean };
  sgd_step_version: number;
  load_state_dict_version: number;
  mul_self_not_saved_grad: Golden;
  messages: Record<string, string>;
  retain_then_inplace: Golden;
  backward_inputs_mixed: { y: Golden; x: Golden };
  backward_inputs_twice: Golden;
  grad_nonleaf: Golden;
}
const ip = fx['inplace'] as InplaceGolden;
const versionMessages = fx['version_messages'] as Record<string, string>;

function errorOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    return (e as Error).message;
  }
  throw new Error('expected an error');
}

describe('issue 13 inputs 4-7: autograd rules for mutation (cpu, float64)', () => {
  const f64 = { dtype: 'float64' as const };
  it('input 4: a retained grad accumulates across backward calls, as a leaf grad does', async () => {
    const x = gg.tensor([1, 2], { ...f64, requiresGrad: true });
    const y = x.mul(3);
    y.retainGrad();
    const z = y.mul(y).sum();
    z.backward(undefined, { retainGraph: true });
    z.backward(undefined, { retainGraph: true });
    expect(await values(y.grad!)).to.deep.equal(g('retain_grad_twice'));
    expect(await values(x.grad!)).to.deep.equal(g('retain_grad_twice_leaf'));
  });
  it('input 5: backward({ inputs: [y] }) fills a non-leaf y.grad and stops there', async () => {
    const x = gg.tensor([1, 2], { ...f64, requiresGrad: true });
    const y = x.mul(2);
    y.mul(3).sum().backward(undefined, { inputs: [y] });
    expect(await values(y.grad!)).to.deep.equal(g('backward_inputs_nonleaf'));
    expect(x.grad === null).to.equal(fx['backward_inputs_nonleaf_x_is_none']);
  });
  it('backward({ inputs }) with a leaf and a non-leaf: the leaf gets every path; twice accumulates', async () => {
    const x = gg.tensor([1, 2], { ...f64, requiresGrad: true });
    const y = x.mul(2);
    y.mul(3).add(x).sum().backward(undefined, { inputs: [y, x] });
    expect(await values(y.grad!)).to.deep.equal(ip.backward_inputs_mixed.y.data);
    expect(await values(x.grad!)).to.deep.equal(ip.backward_inputs_mixed.x.data);
    const x2 = gg.tensor([1, 2], { ...f64, requiresGrad: true });
    const y2 = x2.mul(2);
    const z = y2.mul(y2).sum();
    z.backward(undefined, { inputs: [y2], retainGraph: true });
    z.backward(undefined, { inputs: [y2] });
    expect(await values(y2.grad!)).to.deep.equal(ip.backward_inputs_twice.data);
    expect(x2.grad).to.equal(null);
  });
  it('autograd.grad of a non-leaf', async () => {
    const x = gg.tensor([1, 2], { ...f64, requiresGrad: true });
    const y = x.mul(2);
    const [dy] = gg.autograd.grad(y.mul(y).sum(), [y]);
    expect(await values(dy!)).to.deep.equal(ip.grad_nonleaf.data);
  });
  it('input 6: copy_ in grad mode is recorded (CopyBackwards): x.grad 0, src.grad 1', async () => {
    const x = gg.tensor([1, 2], { ...f64, requiresGrad: true });
    const src = gg.tensor([5, 6], { ...f64, requiresGrad: true });
    const y = x.mul(2);
    expect(y.copy_(src)).to.equal(y);
    expect(y.gradFn!.name).to.equal(fx['copy_grad_fn']);
    y.sum().backward();
    expect(await values(x.grad!)).to.deep.equal(g('copy_x_grad'));
    expect(await values(src.grad!)).to.deep.equal(g('copy_src_grad'));
  });
  it('copy_ of a broadcast source into a tensor that does not require grad joins the graph', async () => {
    const a = gg.zeros([2, 2], f64);
    const s = gg.tensor([1, 2], { ...f64, requiresGrad: true });
    a.copy_(s);
    expect(a.requiresGrad).to.equal(fx['copy_broadcast_requires_grad']);
    a.mul(gg.tensor([[1, 2], [3, 4]], f64)).sum().backward();
    expect(await values(s.grad!)).to.deep.equal(g('copy_broadcast_src_grad'));
  });
  it('input 7: a saved tensor changed before backward (copy_, optimizer step) raises PyTorch\'s message', () => {
    const w = gg.tensor([1, 2], { ...f64, requiresGrad: true });
    const x = gg.tensor([3, 4], f64);
    const loss = w.mul(x).sum();
    x.copy_(gg.tensor([0, 0], f64));
    expect(errorOf(() => loss.backward())).to.equal(versionMessages['input_copy']);

    const p = gg.tensor([1, 2], { ...f64, requiresGrad: true });
    const first = p.mul(p).sum();
    const opt = new gg.optim.SGD([p], { lr: 0.1 });
    p.mul(p).sum().backward();
    opt.step();
    expect(errorOf(() => first.backward())).to.equal(versionMessages['optimizer_step']);
  });
  it('a saved output written in noGrad: "which is output 0 of ExpBackward0", also through a later op', () => {
    const x = gg.tensor([1, 2], { ...f64, requiresGrad: true });
    const y = x.exp();
    const z = y.sum();
    gg.noGrad(() => y.copy_(gg.tensor([0, 0], f64)));
    expect(errorOf(() => z.backward())).to.equal(versionMessages['result_copy_ok']);
    const x2 = gg.tensor([1, 2], { ...f64, requiresGrad: true });
    const y2 = x2.exp();
    gg.noGrad(() => y2.copy_(gg.tensor([0, 0], f64)));
    expect(errorOf(() => y2.exp().sum().backward())).to.equal(versionMessages['result_saved']);
  });
  it('a tensor nothing saved may change (add saves nothing; mul with a constant saves only the constant)', async () => {
    const w = gg.tensor([1, 2], { ...f64, requiresGrad: true });
    const loss = w.add(1).sum();
    gg.noGrad(() => w.copy_(gg.tensor([0, 0], f64)));
    loss.backward();
    expect(await values(w.grad!)).to.deep.equal(g('add_not_saved_grad'));
    const w2 = gg.tensor([1, 2], { ...f64, requiresGrad: true });
    const loss2 = w2.mul(gg.tensor([3, 4], f64)).sum();
    gg.noGrad(() => w2.add_(1));
    loss2.backward();
    expect(await values(w2.grad!)).to.deep.equal(ip.mul_self_not_saved_grad.data);
  });
  it('the message names the producer PyTorch names: the current grad_fn, AsStridedBackward0 for a view, a custom Function\'s input', () => {
    const m = ip.messages;
    const a = gg.tensor([1, 2], { ...f64, requiresGrad: true });
    const ay = a.mul(2);
    const az = ay.mul(ay).sum();
    gg.noGrad(() => ay.add_(1));
    expect(errorOf(() => az.backward())).to.equal(m['saved_nonleaf_no_grad']);

    const b = gg.tensor([1, 2], { ...f64, requiresGrad: true });
    const by = b.mul(2);
    const bz = by.mul(by).sum();
    by.add_(1); // in grad mode: by's gradFn becomes AddBackward0
    expect(errorOf(() => bz.backward())).to.equal(m['saved_nonleaf_rebased']);

    const c = gg.tensor([[1, 2], [3, 4]], { ...f64, requiresGrad: true });
    const ct = c.t();
    const cz = ct.mul(ct).sum();
    gg.noGrad(() => c.mul_(2));
    expect(errorOf(() => cz.backward())).to.equal(m['saved_view']);

    const d = gg.tensor([1, 2], { ...f64, requiresGrad: true });
    const dy = d.exp();
    const dz = dy.sum();
    gg.noGrad(() => dy.add_(1));
    expect(errorOf(() => gg.autograd.detectAnomaly(() => dz.backward()))).to.equal(m['anomaly']);

    class Square extends gg.autograd.Function {
      static override forward(ctx: gg.autograd.FunctionCtx, x: gg.Tensor): gg.Tensor {
        ctx.saveForBackward(x);
        return x.mul(x);
      }
      static override backward(ctx: gg.autograd.FunctionCtx, grad: gg.Tensor): gg.Tensor {
        const [x] = ctx.savedTensors;
        return x!.mul(2).mul(grad);
      }
    }
    const e = gg.tensor([1, 2], { ...f64, requiresGrad: true });
    const ey = e.mul(1);
    const ez = Square.apply(ey).sum();
    gg.noGrad(() => ey.zero_());
    expect(errorOf(() => ez.backward())).to.equal(m['custom_function_saved']);
  });
  it('retainGrad() follows the tensor through an in-place op', async () => {
    const x = gg.tensor([1, 2], { ...f64, requiresGrad: true });
    const y = x.mul(1);
    y.retainGrad();
    y.add_(1);
    y.mul(gg.tensor([2, 3], f64)).sum().backward();
    expect(await values(y.grad!)).to.deep.equal(ip.retain_then_inplace.data);
  });
  it('versions: shared by views and detach(), counted under noGrad, by an optimizer step and by loadStateDict', async () => {
    const x = gg.arange(6, f64).reshape(2, 3);
    const n = x.narrow(1, 1, 2);
    n.mul_(10);
    expect([x.version, n.version]).to.deep.equal(ip.narrow_write.versions);
    const y = gg.tensor([1, 2], f64);
    y.detach().add_(1);
    expect(y.version).to.equal(ip.detach_shares_version.version);
    expect(await values(y)).to.deep.equal(ip.detach_shares_version.x.data);
    const l = gg.tensor([1, 2], { ...f64, requiresGrad: true });
    gg.noGrad(() => l.mul_(2).add_(1));
    expect([l.version, l.isLeaf, l.requiresGrad]).to.deep.equal([ip.no_grad_leaf.version, ip.no_grad_leaf.is_leaf, ip.no_grad_leaf.requires_grad]);
    expect(await values(l)).to.deep.equal(ip.no_grad_leaf.value.data);
    const w = gg.tensor([1, 2], { ...f64, requiresGrad: true });
    const opt = new gg.optim.SGD([w], { lr: 0.1 });
    w.mul(w).sum().backward();
    const v0 = w.version;
    opt.step();
    expect(w.version - v0).to.equal(ip.sgd_step_version);
    const lin = new gg.nn.Linear(2, 2, f64);
    const v1 = lin.weight.version;
    lin.loadStateDict(lin.stateDict());
    expect(lin.weight.version - v1).to.equal(ip.load_state_dict_version);
  });
  it('forward mode: the tangent follows the write (mul_, add_, copy_, zero_, into a constant)', async () => {
    const fw = (fx['inplace'] as { forward_ad: Record<string, Golden> }).forward_ad;
    const F = gg.autograd.forwardAd;
    await F.dualLevel(async () => {
      const x = F.makeDual(gg.tensor([1, 2], f64), gg.tensor([1, 0.5], f64));
      const tangent = async (t: gg.Tensor): Promise<number[]> => values(F.unpackDual(t).tangent!);
      const y = x.mul(1);
      y.mul_(3);
      expect(await tangent(y)).to.deep.equal(fw['mul_']!.data);
      y.add_(x);
      expect(await tangent(y)).to.deep.equal(fw['add_']!.data);
      const z = gg.zeros([2], f64);
      z.copy_(x);
      expect(await tangent(z)).to.deep.equal(fw['copy_']!.data);
      y.zero_();
      expect(await tangent(y)).to.deep.equal(fw['zero_']!.data);
      const w = gg.ones([2], f64);
      w.mul_(x);
      expect(await tangent(w)).to.deep.equal(fw['mul_into_constant']!.data);
      expect(errorOf(() => F.makeDual(gg.zeros([2, 2], f64), gg.ones([2, 2], f64)).t().add_(1))).to.match(/forward-mode tangents through an in-place write to a view/);
    });
  });
  it('an in-place op inside tidy on a tensor made outside it keeps its node alive', async () => {
    const x = gg.tensor([1, 2], { ...f64, requiresGrad: true });
    const w = gg.tensor([3, 4], { ...f64, requiresGrad: true });
    const y = x.mul(1);
    gg.tidy(() => {
      y.mul_(w); // MulBackward0 saves a copy of y's old value and w
    });
    y.sum().backward();
    expect(await values(x.grad!)).to.deep.equal([3, 4]);
    expect(await values(w.grad!)).to.deep.equal([1, 2]);
  });
  it('gradcheck and gradgradcheck through in-place writes to views (CopySlices and AsStrided, double backward)', async () => {
    const x = gg.randn([3, 4], { ...f64, requiresGrad: true });
    const w = gg.randn([4], { ...f64, requiresGrad: true });
    const f = (a: gg.Tensor, b: gg.Tensor): gg.Tensor => {
      const c = a.mul(1);
      c.narrow(0, 1, 1).mul_(b);
      c.t().narrow(0, 0, 2).add_(a.narrow(1, 0, 2).t().mul(b.narrow(0, 0, 1)));
      return c.mul(c);
    };
    expect(await gg.autograd.gradcheck(f, [x, w])).to.equal(true);
    expect(await gg.autograd.gradgradcheck(f, [x, w])).to.equal(true);
  });
  it('a .grad owns its memory: writing one gradient in place leaves another alone', async () => {
    const a = gg.tensor([1, 2], { ...f64, requiresGrad: true });
    const b = gg.tensor([3, 4], { ...f64, requiresGrad: true });
    a.add(b).sum().backward(); // AddBackward sends one gradient to both
    gg.noGrad(() => a.grad!.mul_(5));
    expect(await values(a.grad!)).to.deep.equal([5, 5]);
    expect(await values(b.grad!)).to.deep.equal([1, 1]);
    const c = gg.tensor([1, 2], { ...f64, requiresGrad: true });
    c.sum().backward(); // the gradient arrives as an expanded view of one number
    gg.noGrad(() => c.grad!.zero_());
    expect(await values(c.grad!)).to.deep.equal([0, 0]);
  });
});

describe('in-place ops (issue 15): values, nodes, gradients and messages as PyTorch', () => {
  forEachDevice((device) => {
    const dtype = device === 'cpu' ? ('float64' as const) : ('float32' as const);
    const tol = dtype === 'float64' ? F64 : F32;
    const opts = { device, dtype };
    const t = (data: number[], shape?: number[], requiresGrad = false): gg.Tensor => gg.tensor(data, { ...opts, requiresGrad, ...(shape ? { shape } : {}) });
    const fixMessage = (m: string): string => (dtype === 'float32' ? m.replace('torch.DoubleTensor', 'torch.FloatTensor') : m);

    for (const op of ['add_', 'sub_', 'mul_', 'div_'] as const) {
      it(`${op} with a number, with a broadcast tensor that requires grad, and into a constant`, async () => {
        for (const kind of ['scalar', 'tensor'] as const) {
          const want = ip.ops[`${op}/${kind}`]!;
          const x = t([1, 2, 3, 4], [2, 2], true);
          const w = t([0.5, -2], undefined, true);
          const y = x.mul(2);
          expect(y[op](kind === 'scalar' ? 1.5 : w)).to.equal(y);
          expect(y.gradFn!.name).to.equal(want.name);
          expectClose(await values(y), want.value!.data, tol, `${op} ${kind} value`);
          y.mul(t([1, 2, 3, 4], [2, 2])).sum().backward();
          expectClose(await values(x.grad!), want.x_grad.data, tol, `${op} ${kind} x.grad`);
          if (kind === 'tensor') expectClose(await values(w.grad!), want.w_grad!.data, tol, `${op} w.grad`);
        }
        const want = ip.ops[`${op}/into_constant`]!;
        const a = t([1, 2]);
        const w = t([3, 4], undefined, true);
        a[op](w);
        expect([a.gradFn!.name, a.requiresGrad, a.isLeaf]).to.deep.equal([want.name, want.requires_grad, want.is_leaf]);
        expectClose(await values(a), want.value!.data, tol, `${op} into constant`);
        a.sum().backward();
        expectClose(await values(w.grad!), want.w_grad!.data, tol, `${op} into constant w.grad`);
      });
    }
    it('clamp_ (both bounds, min only, max only): values and gradient as clamp', async () => {
      for (const [label, lo, hi] of [['both', -1, 2.5], ['min', 2.5, null], ['max', null, 2.5]] as const) {
        const want = ip.ops[`clamp_/${label}`]!;
        const x = t([1, 2, 3, 4], [2, 2], true);
        const y = x.mul(1);
        expect(y.clamp_(lo, hi)).to.equal(y);
        expectClose(await values(y), want.value!.data, tol, `clamp_ ${label}`);
        y.sum().backward();
        expectClose(await values(x.grad!), want.x_grad.data, tol, `clamp_ ${label} grad`);
      }
    });
    it('fill_, zero_, normal_, uniform_: recorded with a zero gradient for the old values (PyTorch\'s node names)', async () => {
      const runs: [string, (y: gg.Tensor) => gg.Tensor][] = [
        ['fill_', (y) => y.fill_(7)],
        ['zero_', (y) => y.zero_()],
        ['normal_', (y) => y.normal_(0, 1)],
        ['uniform_', (y) => y.uniform_(0, 1)],
      ];
      for (const [op, f] of runs) {
        const want = ip.ops[op]!;
        const x = t([1, 2], undefined, true);
        const y = x.mul(1);
        expect(f(y)).to.equal(y);
        expect([y.gradFn!.name, y.requiresGrad]).to.deep.equal([want.name, want.requires_grad]);
        y.sum().backward();
        expect(await values(x.grad!)).to.deep.equal(want.x_grad.data);
      }
      const want = ip.ops['fill_/tensor']!;
      const x = t([1, 2], undefined, true);
      const v = gg.tensor(3, { ...opts, requiresGrad: true });
      const y = x.mul(1);
      y.fill_(v);
      expect(y.gradFn!.name).to.equal(want.name);
      expect(await values(y)).to.deep.equal(want.value!.data);
      y.mul(t([2, 5])).sum().backward();
      expect(await values(x.grad!)).to.deep.equal(want.x_grad.data);
      expect(await values(v.grad!)).to.deep.equal(want.v_grad!.data);
    });
    it('normal_ and uniform_ draw from the seeded stream (the numbers of randn and rand)', async () => {
      gg.manualSeed(7);
      const a = t([0, 0, 0, 0, 0, 0], [2, 3]).normal_(2, 3);
      gg.manualSeed(7);
      const b = gg.randn([2, 3], opts).mul(3).add(2);
      expectClose(await values(a), await values(b), tol, 'normal_');
      gg.manualSeed(8);
      const u = t([0, 0, 0, 0]).uniform_(-1, 3);
      gg.manualSeed(8);
      const r = gg.rand([4], opts).mul(4).sub(1);
      expectClose(await values(u), await values(r), tol, 'uniform_');
    });
    it('no grad: writes through transposed and narrowed views reach the base; the version is shared', async () => {
      const x = t([1, 2, 3, 4], [2, 2]);
      x.t().add_(t([10, 20]));
      expect(await values(x)).to.deep.equal(ip.transpose_write.data);
      const b = gg.arange(6, opts).reshape(2, 3);
      const n = b.narrow(1, 1, 2);
      n.mul_(10);
      expect(await values(b)).to.deep.equal(ip.narrow_write.base.data);
      expect(await values(n)).to.deep.equal(ip.narrow_write.view.data);
      expect([b.version, n.version]).to.deep.equal(ip.narrow_write.versions);
    });
    it('copy_ converts dtype and broadcasts; numbers fill', async () => {
      const x = t([0, 0, 0, 0], [2, 2]);
      x.copy_(gg.tensor([1, 2], { device, dtype: dtype === 'float64' ? 'float32' : 'float32' }));
      expect(await values(x)).to.deep.equal([1, 2, 1, 2]);
      x.copy_(5);
      expect(await values(x)).to.deep.equal([5, 5, 5, 5]);
      expect(x.version).to.equal(2);
    });
    it("refusals with PyTorch's messages, and a failed call changes nothing", async () => {
      const m = ip.messages;
      const leaf = t([1, 2], undefined, true);
      expect(errorOf(() => leaf.add_(1))).to.equal(m['leaf']);
      expect(errorOf(() => leaf.copy_(t([0, 0])))).to.equal(m['leaf']);
      expect(errorOf(() => leaf.narrow(0, 0, 1).add_(1))).to.equal(m['view_of_leaf']);
      expect(await values(leaf)).to.deep.equal([1, 2]);
      expect(leaf.version).to.equal(0);
      const z = t([0, 0]);
      expect(errorOf(() => t([0, 0], [1, 2]).expand(2, 2).add_(1))).to.equal(m['overlap']);
      expect(errorOf(() => z.add_(gg.ones([2, 2], opts)))).to.equal(m['broadcast']);
      expect(errorOf(() => z.copy_(gg.ones([2, 2], opts)))).to.equal(m['copy_broadcast']);
      expect(errorOf(() => z.copy_(gg.ones([3], opts)))).to.equal(m['copy_size']);
      expect(errorOf(() => z.fill_(gg.ones([2], opts)))).to.equal(m['fill_dim']);
      expect(errorOf(() => z.normal_(0, -1))).to.equal(m['normal_std']);
      expect(errorOf(() => z.uniform_(1, 0))).to.equal(m['uniform_range']);
      expect(errorOf(() => z.clamp_())).to.equal(m['clamp_none']);
      expect(errorOf(() => z.add_('1' as unknown as number))).to.match(/add_\(\): argument 'other'/);
      expect(await values(z)).to.deep.equal([0, 0]);
      expect(z.version).to.equal(0);
      // leaves are written under noGrad (how optimizers and init work)
      gg.noGrad(() => leaf.add_(1));
      expect(await values(leaf)).to.deep.equal([2, 3]);
    });
    it('through a view in grad mode: the base gets CopySlices, the view AsStridedBackward0, gradients as PyTorch', async () => {
      type ViewCase = { names: (string | boolean)[]; base: Golden; view: Golden; x_grad: Golden; w_grad: Golden | null; version: number; view_x_grad: Golden; view_w_grad: Golden | null };
      const views = (ip as unknown as { views: Record<string, ViewCase> }).views;
      const m = t([1, 2, 3, 4], [2, 2]);
      const cases: [string, (b: gg.Tensor) => gg.Tensor, (v: gg.Tensor, w: gg.Tensor) => unknown][] = [
        ['narrow_mul_', (b) => b.narrow(0, 0, 1), (v, w) => v.mul_(w)],
        ['t_add_', (b) => b.t(), (v, w) => v.add_(w)],
        ['narrow_copy_', (b) => b.narrow(1, 1, 1), (v, w) => v.copy_(w.reshape(2, 1))],
        ['narrow_zero_', (b) => b.narrow(0, 1, 1), (v) => v.zero_()],
      ];
      for (const [label, mk, op] of cases) {
        const want = views[label]!;
        const x = t([1, 2, 3, 4], [2, 2], true);
        const w = t([5, 6], undefined, true);
        const b = x.mul(1);
        const v = mk(b);
        op(v, w);
        expect([b.gradFn!.name, v.gradFn!.name], label).to.deep.equal(want.names);
        expect(b.version, label).to.equal(want.version);
        expect(await values(b), label).to.deep.equal(want.base.data);
        expect(await values(v), label).to.deep.equal(want.view.data);
        b.mul(m).sum().backward(undefined, { retainGraph: true });
        expect(await values(x.grad!), label).to.deep.equal(want.x_grad.data);
        expect(w.grad === null ? null : await values(w.grad), label).to.deep.equal(want.w_grad?.data ?? null);
        x.grad = null;
        w.grad = null;
        v.sum().backward();
        expect(await values(x.grad!), `${label} through the view`).to.deep.equal(want.view_x_grad.data);
        expect(w.grad === null ? null : await values(w.grad), label).to.deep.equal(want.view_w_grad?.data ?? null);
      }
      const want = views['into_constant_base']!;
      const a = t([0, 0, 0, 0], [2, 2]);
      const w = t([5, 6], undefined, true);
      a.narrow(0, 1, 1).add_(w);
      expect([a.gradFn!.name, a.requiresGrad]).to.deep.equal(want.names);
      expect(await values(a)).to.deep.equal(want.base.data);
      a.mul(m).sum().backward();
      expect(await values(w.grad!)).to.deep.equal(want.w_grad!.data);
    });
    it('the version check on this device: saved tensor written, PyTorch\'s message', async () => {
      const x = t([1, 2], undefined, true);
      const y = x.mul(2);
      const z = y.mul(y).sum();
      gg.noGrad(() => y.add_(1));
      expect(errorOf(() => z.backward())).to.equal(fixMessage(ip.messages['saved_nonleaf_no_grad']!));
    });
  });
});
