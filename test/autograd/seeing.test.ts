/**
 * Seeing autograd: PyTorch's node names and introspection (checked against
 * torch 1.13 in fixtures/torch_node_names.json), graph pictures (DOT
 * structure, SVG and PNG), and the kernel trace on every device.
 */
import { expect } from 'chai';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as gg from '../../src/index.js';
import { decodePng } from '../helpers/png.js';
import { forEachDevice } from '../helpers/devices.js';

interface NodeNames {
  nodes: Record<string, { name: string; next: (string | null)[] }>;
  chain: { root: string; mul: string; mulNext: [string, number][]; variableIsLeaf: boolean; repr: string };
  anomaly: string;
  batchnorm2d: string;
}
const torch = JSON.parse(readFileSync(new URL('../../../test/fixtures/torch_node_names.json', import.meta.url), 'utf8')) as NodeNames;

const f64 = { dtype: 'float64' as const };
const names = (n: gg.autograd.graph.Node | null): (string | null)[] => (n ? n.nextFunctions.map(([m]) => m?.name ?? null) : []);

describe('autograd introspection (PyTorch names)', () => {
  const x = gg.rand([2, 3], f64).add(0.5).requiresGrad_();
  const c = gg.rand([2, 3], f64).add(0.5).requiresGrad_();
  const w = gg.rand([3, 4], { ...f64, requiresGrad: true });
  const cases: Record<string, () => gg.Tensor> = {
    neg: () => x.neg(),
    exp: () => x.exp(),
    log: () => x.log(),
    sqrt: () => x.sqrt(),
    abs: () => x.abs(),
    sigmoid: () => x.sigmoid(),
    tanh: () => x.tanh(),
    add: () => x.add(c),
    addScalar: () => x.add(1),
    sub: () => x.sub(c),
    mul: () => x.mul(c),
    mulScalar: () => x.mul(2),
    div: () => x.div(c),
    pow: () => x.pow(c),
    powScalar: () => x.pow(2),
    maximum: () => x.maximum(c),
    minimum: () => x.minimum(c),
    where: () => x.where(c.gt(1), c),
    sumAll: () => x.sum(),
    sumDim: () => x.sum(1),
    amax: () => x.amax(1),
    mm: () => x.matmul(w),
    bmm: () => x.unsqueeze(0).matmul(w.unsqueeze(0)),
    view: () => x.view(3, 2),
    permute: () => x.permute(1, 0),
    narrow: () => x.narrow(1, 0, 2),
    pad: () => x.pad([0, 1], [0, 1]),
    cast: () => x.float(),
    contiguous: () => x.permute(1, 0).contiguous(),
  };

  it('every case of the fixture is covered', () => {
    expect(Object.keys(cases).sort()).to.deep.equal(Object.keys(torch.nodes).sort());
  });

  for (const [name, fn] of Object.entries(cases)) {
    it(`${name}: gradFn is ${torch.nodes[name]?.name} with PyTorch's nextFunctions`, () => {
      const want = torch.nodes[name]!;
      const y = fn();
      expect(y.gradFn?.name).to.equal(want.name);
      // where gpugrad's graph differs from PyTorch's, on purpose: unsqueeze is a view primitive
      // (ViewBackward0, PyTorch: UnsqueezeBackward0); where's condition is input 0 of the node
      // (PyTorch leaves the bool condition out); pow's scalar exponent is a constant input
      // (PyTorch's pow(Tensor, Scalar) has one input)
      let next = names(y.gradFn).map((n) => (n === 'ViewBackward0' && name === 'bmm' ? 'UnsqueezeBackward0' : n));
      if (name === 'where') next = next.slice(1);
      if (name === 'powScalar') next = next.slice(0, 1);
      expect(next).to.deep.equal(want.next);
    });
  }

  it('x.mul(x).sum(): SumBackward0 → MulBackward0 → AccumulateGrad twice; variable is the leaf', () => {
    const y = x.mul(x).sum();
    expect(y.gradFn!.name).to.equal(torch.chain.root);
    const [[mul, i]] = y.gradFn!.nextFunctions as [[gg.autograd.graph.Node, number]];
    expect(i).to.equal(0);
    expect(mul.name).to.equal(torch.chain.mul);
    expect(mul.nextFunctions.map(([n, k]) => [n!.name, k])).to.deep.equal(torch.chain.mulNext);
    const acc = mul.nextFunctions[0]![0] as gg.autograd.graph.AccumulateGrad;
    expect(acc).to.be.instanceOf(gg.autograd.graph.AccumulateGrad);
    expect(acc.variable === x).to.equal(torch.chain.variableIsLeaf);
    expect(acc.nextFunctions).to.deep.equal([]);
  });

  it('toString shows grad_fn=<...> as PyTorch prints it, requires_grad=True on leaves', () => {
    const y = gg.tensor([1, 2], { requiresGrad: true });
    expect(y.mul(y).sum().toString()).to.equal(`tensor(5., ${torch.chain.repr.replace('dtype=torch.float64, ', '')})`);
    expect(y.toString()).to.equal('tensor([1., 2.], requires_grad=True)');
    expect(String(y.mul(2).gradFn)).to.equal('<MulBackward0>');
    expect(gg.zeros([2000], { requiresGrad: true }).mul(2).toString()).to.match(/grad_fn=<MulBackward0>\)$/);
  });

  it('a constant operand is a [null, 0] pair', () => {
    const y = x.mul(2);
    expect(y.gradFn!.nextFunctions[1]).to.deep.equal([null, 0]);
  });

  it('savedTensors: self and other of mul, result of exp; PyTorch\'s message once freed', () => {
    const a = gg.tensor([1, 2], { requiresGrad: true });
    const m = a.mul(a.exp());
    const e = m.gradFn!.nextFunctions[1]![0]!;
    expect(m.gradFn!.savedTensors.map((t) => t.shape)).to.deep.equal([[2], [2]]);
    expect(e.name).to.equal('ExpBackward0');
    expect(e.savedEntries()!.map((s) => s.name)).to.deep.equal(['result']);
    expect(m.sum().gradFn!.savedTensors).to.deep.equal([]);
    m.sum().backward();
    expect(() => m.gradFn!.savedTensors).to.throw(/^Trying to backward through the graph a second time/);
    expect(() => e.savedTensors).to.throw(/^Trying to backward through the graph a second time/);
  });

  it('savedTensors survive a backward with retainGraph', () => {
    const a = gg.tensor([1, 2], { requiresGrad: true });
    const y = a.mul(a).sum();
    y.backward(undefined, { retainGraph: true });
    const mul = y.gradFn!.nextFunctions[0]![0]!;
    expect(mul.savedTensors).to.have.length(2);
  });

  it('custom Functions are <Name>Backward and expose ctx.saveForBackward tensors', () => {
    class Square extends gg.autograd.Function {
      static override forward(ctx: gg.autograd.FunctionCtx, t: gg.Tensor): gg.Tensor {
        ctx.saveForBackward(t);
        return t.mul(t);
      }
      static override backward(ctx: gg.autograd.FunctionCtx, g: gg.Tensor): gg.Tensor {
        const [t] = ctx.savedTensors as [gg.Tensor];
        return g.mul(t).mul(2);
      }
    }
    const a = gg.tensor([3], { requiresGrad: true });
    const y = Square.apply(a);
    expect(y.gradFn!.name).to.equal('SquareBackward');
    expect(y.gradFn!.savedTensors.map((t) => t.shape)).to.deep.equal([[1]]);
    y.sum().backward();
    expect(() => y.gradFn!.savedTensors).to.throw(/^Trying to backward through the graph a second time/);
  });

  it('metadata is a plain object the user owns, one per node', () => {
    const y = x.mul(2);
    expect(y.gradFn!.metadata).to.deep.equal({});
    y.gradFn!.metadata['label'] = 'doubled';
    expect(y.gradFn!.metadata).to.deep.equal({ label: 'doubled' });
    expect(x.mul(3).gradFn!.metadata).to.deep.equal({});
  });
});

describe('autograd.graph.toDot', () => {
  const edges = (dot: string): [string, string][] =>
    [...dot.matchAll(/^\s+(\w+) -> (\w+)/gm)].map((m) => [m[1]!, m[2]!] as [string, string]);
  const label = (dot: string, id: string): string | undefined => new RegExp(`^\\s+${id} \\[label="([^"]*)"`, 'm').exec(dot)?.[1];

  it('x.mul(x).sum(): root → SumBackward0 → MulBackward0 ⇉ x, edges in gradient-flow direction', () => {
    const x = gg.tensor([1, 2], { requiresGrad: true });
    const dot = gg.autograd.graph.toDot(x.mul(x).sum(), { params: { x } });
    expect(dot.startsWith('digraph autograd {')).to.equal(true);
    expect(dot.trimEnd().endsWith('}')).to.equal(true);
    expect(edges(dot)).to.deep.equal([['r0', 'n0'], ['n0', 'n1'], ['n1', 'n2'], ['n1', 'n2']]);
    expect(label(dot, 'r0')).to.equal('output\\n()');
    expect(label(dot, 'n0')).to.equal('SumBackward0');
    expect(label(dot, 'n1')).to.equal('MulBackward0');
    expect(label(dot, 'n2')).to.equal('x\\n(2,)');
    expect(dot).to.match(/n2 \[[^\]]*fillcolor=lightblue/);
  });

  it('names leaves from module.namedParameters() and labels unnamed leaves by shape', () => {
    const lin = new gg.nn.Linear(3, 2);
    const input = gg.randn([4, 3], { requiresGrad: true });
    const dot = gg.autograd.graph.toDot(lin.call(input).sum(), { params: lin.namedParameters() });
    expect(dot).to.include('"weight\\n(2, 3)"');
    expect(dot).to.include('"bias\\n(2,)"');
    expect(dot).to.include('label="(4, 3)", fillcolor=lightblue');
  });

  it('showSaved draws saved tensors with names and shapes; freed ones are marked', () => {
    const x = gg.tensor([[1, 2, 3]], { requiresGrad: true });
    const y = x.exp().sum();
    const before = gg.autograd.graph.toDot(y, { showSaved: true });
    expect(before).to.match(/n1_s0 \[label="result\\n\(1, 3\)", fillcolor=orange\]/);
    expect(before).to.include('n1_s0 -> n1 [style=dotted, dir=none]');
    expect(gg.autograd.graph.toDot(y)).to.not.include('orange');
    y.backward();
    const after = gg.autograd.graph.toDot(y, { showSaved: true });
    expect(label(after, 'n1')).to.equal('ExpBackward0\\n(saved tensors freed)');
  });

  it('maxDepth cuts the walk and marks the cut', () => {
    const x = gg.tensor([1, 2], { requiresGrad: true });
    const y = x.exp().log().sqrt().sum();
    const full = gg.autograd.graph.toDot(y);
    const cut = gg.autograd.graph.toDot(y, { maxDepth: 1 });
    expect(edges(full)).to.have.length(5);
    expect(edges(cut).map((e) => e.join('>'))).to.deep.equal(['r0>n0', 'n0>n1', 'n1>c0']);
    expect(cut).to.include('c0 [label="…"');
    expect(() => gg.autograd.graph.toDot(y, { maxDepth: -1 })).to.throw(/maxDepth/);
  });

  it('several roots share nodes; a leaf root is drawn with its AccumulateGrad', () => {
    const x = gg.tensor([1, 2], { requiresGrad: true });
    const h = x.exp();
    const dot = gg.autograd.graph.toDot([h.sum(), h.mean(), x], { rootNames: ['a', 'b', 'x'] });
    expect(dot.match(/ExpBackward0/g)).to.have.length(1);
    expect(label(dot, 'r1')).to.equal('b\\n()');
    expect(edges(dot).filter(([from]) => from === 'r2')).to.have.length(1);
  });

  it('escapes quotes and backslashes in user-given names', () => {
    const x = gg.tensor([1], { requiresGrad: true });
    const dot = gg.autograd.graph.toDot(x.mul(2), { params: [['a"b\\c\nd', x]] });
    expect(dot).to.include('label="a\\"b\\\\c d\\n(1,)"');
  });
});

describe('autograd.graph pictures (Graphviz via @viz-js/viz, PNG via resvg)', function () {
  this.timeout(60_000);
  let dir: string;
  before(() => (dir = mkdtempSync(join(tmpdir(), 'gpugrad-graph-'))));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('toSvg lays out every node', async () => {
    const x = gg.tensor([1, 2], { requiresGrad: true });
    const svg = await gg.autograd.graph.toSvg(x.mul(x).sum(), { params: { x }, showSaved: true });
    expect(svg).to.include('<svg');
    for (const text of ['SumBackward0', 'MulBackward0', 'self', 'other']) expect(svg).to.include(`>${text}</text>`);
    expect(svg.match(/class="node"/g)).to.have.length(6);
    expect(svg.match(/class="edge"/g)).to.have.length(6);
  });

  it('render writes an SVG and a PNG that decodes, at the requested scale', async () => {
    const bn = new gg.nn.BatchNorm2d(2);
    const out = bn.call(gg.randn([2, 2, 3, 3])).sum();
    const svgFile = await gg.autograd.graph.render(out, join(dir, 'bn.svg'), { params: bn.namedParameters() });
    expect(readFileSync(svgFile, 'utf8')).to.include('weight');
    const pngFile = await gg.autograd.graph.render(out, join(dir, 'bn.png'), { params: bn.namedParameters(), scale: 1 });
    const one = decodePng(readFileSync(pngFile));
    const two = decodePng(await gg.autograd.graph.toPng(out, { params: bn.namedParameters(), scale: 2 }));
    expect(one.width).to.be.greaterThan(50);
    expect(Math.abs(two.width - 2 * one.width)).to.be.lessThan(3);
    expect(Math.abs(two.height - 2 * one.height)).to.be.lessThan(3);
  });

  it('render refuses other extensions before drawing anything', async () => {
    const x = gg.tensor([1], { requiresGrad: true });
    let err: Error | undefined;
    await gg.autograd.graph.render(x.mul(2), join(dir, 'g.pdf')).catch((e: Error) => (err = e));
    expect(err?.message).to.match(/must end in \.svg or \.png/);
  });

  it('svgToPng rejects a bad scale', async () => {
    let err: Error | undefined;
    await gg.autograd.graph.svgToPng('<svg xmlns="http://www.w3.org/2000/svg"/>', 0).catch((e: Error) => (err = e));
    expect(err?.message).to.match(/scale must be a positive number/);
  });
});

describe('gg.profile (kernel trace)', () => {
  forEachDevice((device) => {
    it('records one kernel per op, with device, element count and time', async () => {
      const x = gg.tensor([1, 2, 3], { device, requiresGrad: true });
      // tidy: nothing of this test is left for the garbage collector to free during a later suite
      const p = await gg.profile(() =>
        gg.tidy(() => {
          const y = x.mul(x).sum();
          y.backward();
          return y;
        }),
      );
      expect((await p.result.data())[0]).to.equal(14);
      p.result.dispose();
      const forward = p.kernels.slice(0, 2);
      expect(forward.map((k) => [k.kernel, k.device, k.elements])).to.deep.equal([
        ['mul', device, 3],
        ['sum', device, 1],
      ]);
      for (const k of p.kernels) {
        expect(k.ms, k.kernel).to.be.a('number');
        expect(Number.isFinite(k.ms) && k.ms >= 0, `${k.kernel}: ${k.ms}`).to.equal(true);
        expect(k.source).to.equal(undefined);
      }
      // backward: seed, then grad·x twice (x is both inputs) and their sum into x.grad
      expect(p.kernels.filter((k) => k.kernel === 'mul')).to.have.length(3);
      expect(p.format().split('\n')[0]).to.match(/^kernel\s+device\s+elements\s+ms$/);
      const rows = p.summary();
      expect(rows.find((r) => r.kernel === 'mul')).to.include({ calls: 3, elements: 9, device });
      x.grad?.dispose();
      x.dispose();
    });
  });

  it('keeps kernel sources on request, and nested profiles both see inner kernels', async () => {
    const x = gg.tensor([1, 2], { dtype: 'float32' });
    const outer = await gg.profile(async () => {
      x.exp();
      const inner = await gg.profile(() => x.neg(), { source: true });
      expect(inner.kernels.map((k) => k.kernel)).to.deep.equal(['neg']);
      expect(inner.kernels[0]!.source).to.match(/^\/\/ neg: 2 threads\n\(in0\) => \{/);
      return inner.result;
    });
    expect(outer.kernels.map((k) => k.kernel)).to.deep.equal(['exp', 'neg']);
  });

  it('closes the profile when fn throws', async () => {
    let err: Error | undefined;
    await gg.profile(() => {
      throw new Error('boom');
    }).catch((e: Error) => (err = e));
    expect(err?.message).to.equal('boom');
    const p = await gg.profile(() => 1);
    expect(p.kernels).to.deep.equal([]);
    expect(p.totalMs).to.equal(0);
  });
});
