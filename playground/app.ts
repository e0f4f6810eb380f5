/**
 * The gpugrad playground (served by `npm run playground`; built into
 * dist/playground/app.js by scripts/build-browser.mjs).
 *
 * What runs where: the setup and expression boxes are JavaScript that the page
 * evaluates in the visitor's own browser (as a console would), over gpugrad's
 * public API only. gpugrad builds every kernel from its own op table, so no
 * text typed here becomes kernel source.
 */
import * as gg from '../src/index.js';
import { instance as vizInstance } from '@viz-js/viz';
import { barChart, lineChart } from './plot.js';

type Inputs = Record<string, unknown>;

interface Example {
  readonly name: string;
  readonly setup: string;
  readonly expr: string;
}

const examples: Example[] = [
  { name: 'x.mul(x).sum()', setup: 'return { x: gg.tensor([1, -2, 3], { requiresGrad: true }) };', expr: 'x.mul(x).sum()' },
  {
    name: 'BatchNorm2d',
    setup: 'const bn = new gg.nn.BatchNorm2d(2);\nreturn { bn, x: gg.randn([3, 2, 2, 2], { requiresGrad: true }), w: gg.randn([3, 2, 2, 2]) };',
    expr: 'bn.call(x).mul(w).sum()',
  },
  {
    name: 'SwitchableNorm2d',
    setup: 'const sn = new gg.nn.SwitchableNorm2d(2);\nreturn { sn, x: gg.randn([2, 2, 2, 2], { requiresGrad: true }), w: gg.randn([2, 2, 2, 2]) };',
    expr: 'sn.call(x).mul(w).sum()',
  },
  {
    name: 'spectral-normed conv',
    // NOTE: eval mode freezes the power iteration, so every call is the same function (what gradcheck needs)
    setup: 'const conv = gg.nn.utils.parametrizations.spectralNorm(new gg.nn.Conv2d(1, 2, 2));\nconv.eval();\nreturn { conv, x: gg.randn([1, 1, 3, 3], { requiresGrad: true }) };',
    expr: 'conv.call(x).tanh().sum()',
  },
  { name: 'softmax cross-entropy', setup: 'return { x: gg.randn([2, 3], { requiresGrad: true }), y: gg.tensor([0, 2]) };', expr: 'gg.nn.functional.crossEntropy(x, y)' },
];

const $ = <T extends HTMLElement>(id: string): T => {
  const e = document.getElementById(id);
  if (!e) throw new Error(`playground: #${id} is missing`);
  return e as T;
};

const state: { device: string; y?: gg.Tensor; inputs?: Inputs; order: GraphNode[]; at: number; stop: boolean } = { device: 'cpu', order: [], at: 0, stop: false };

// ---------------------------------------------------------------------------------------
// the user's expression

/** Run the setup box (a function body returning the inputs) and the expression over them. */
function evaluate(setup: string, expr: string): { y: gg.Tensor; inputs: Inputs } {
  // NOTE: user JavaScript, run in the visitor's own page like a console line; it reaches only `gg`
  const inputs = new Function('gg', setup)(gg) as Inputs;
  if (typeof inputs !== 'object' || inputs === null) throw new Error('the setup must return an object of inputs, e.g. return { x: gg.randn([3]) }');
  const y = callExpr(expr, inputs);
  return { y, inputs };
}

function callExpr(expr: string, inputs: Inputs): gg.Tensor {
  const names = Object.keys(inputs);
  const y = new Function('gg', ...names, `return (${expr});`)(gg, ...names.map((n) => inputs[n])) as unknown;
  if (!(y instanceof gg.Tensor)) throw new Error('the expression must give a tensor');
  return y;
}

function leaves(inputs: Inputs): [string, gg.Tensor][] {
  return Object.entries(inputs).filter((e): e is [string, gg.Tensor] => e[1] instanceof gg.Tensor && e[1].requiresGrad);
}

async function show(t: gg.Tensor, digits = 4): Promise<string> {
  const v = Array.from(await t.data());
  const body = v.slice(0, 24).map((x) => x.toFixed(digits)).join(', ');
  return `shape [${t.shape.join(', ')}] ${t.dtype}: [${body}${v.length > 24 ? ', …' : ''}]`;
}

async function runExpression(): Promise<void> {
  const out = $('expr-out');
  out.textContent = 'running…';
  document.body.dataset['graph'] = 'pending';
  try {
    gg.setDefaultDevice(state.device);
    gg.setDefaultDtype('float32');
    const { y, inputs } = evaluate($<HTMLTextAreaElement>('setup').value, $<HTMLTextAreaElement>('expr').value);
    state.y = y;
    state.inputs = inputs;
    const lines = [`y = ${await show(y)}`];
    await drawGraph(y);
    state.order = backwardOrder(y);
    state.at = 0;
    const root = y.numel() === 1 ? y : y.sum();
    root.backward(undefined, { retainGraph: true });
    for (const [name, t] of leaves(inputs)) lines.push(`${name}.grad = ${t.grad ? await show(t.grad) : 'null'}`);
    out.textContent = lines.join('\n');
    renderTrace();
  } catch (e) {
    out.textContent = `error: ${(e as Error).message}`;
    document.body.dataset['graph'] = 'error';
  }
}

// ---------------------------------------------------------------------------------------
// the graph

/** The part of an autograd node the page reads (gpugrad's `t.gradFn`). */
interface GraphNode {
  readonly name: string;
  readonly next: readonly ({ readonly node: GraphNode; readonly index: number } | null)[];
  readonly inputs: readonly { readonly shape: readonly number[] }[];
}

function nodeOf(t: gg.Tensor): GraphNode | null {
  return (t.gradFn as GraphNode | null) ?? null;
}

/** Nodes in the order the engine runs them: a node after every node that feeds it gradient. */
function backwardOrder(y: gg.Tensor): GraphNode[] {
  const root = nodeOf(y);
  if (!root) return [];
  const deps = new Map<GraphNode, number>();
  const seen = new Set<GraphNode>([root]);
  const stack = [root];
  while (stack.length) {
    const n = stack.pop() as GraphNode;
    for (const e of n.next) {
      if (!e) continue;
      deps.set(e.node, (deps.get(e.node) ?? 0) + 1);
      if (!seen.has(e.node)) {
        seen.add(e.node);
        stack.push(e.node);
      }
    }
  }
  const order: GraphNode[] = [];
  const ready = [root];
  while (ready.length) {
    const n = ready.shift() as GraphNode;
    order.push(n);
    for (const e of n.next) {
      if (!e) continue;
      const left = (deps.get(e.node) ?? 1) - 1;
      deps.set(e.node, left);
      if (left === 0) ready.push(e.node);
    }
  }
  return order;
}

/** DOT text of y's graph (one box per node, leaves' shapes on AccumulateGrad). */
function toDot(y: gg.Tensor, order: GraphNode[]): string {
  const id = new Map(order.map((n, i) => [n, `n${i}`]));
  const lines = ['digraph autograd {', '  rankdir=BT; node [shape=box, style="rounded,filled", fillcolor="#ddf4ff", fontname="Helvetica", fontsize=11];'];
  lines.push(`  out [label="y\\n[${y.shape.join(', ')}]", fillcolor="#fff8c5"];`);
  order.forEach((n, i) => {
    const leaf = n.name === 'AccumulateGrad';
    const shape = n.inputs[0]?.shape ?? [];
    lines.push(`  n${i} [id="node-${i}", label="${n.name}${leaf ? `\\n[${shape.join(', ')}]` : ''}"${leaf ? ', fillcolor="#dafbe1"' : ''}];`);
  });
  if (order[0]) lines.push('  n0 -> out;');
  order.forEach((n, i) => {
    for (const e of n.next) if (e) lines.push(`  ${id.get(e.node) ?? '?'} -> n${i};`);
  });
  lines.push('}');
  return lines.join('\n');
}

let viz: Awaited<ReturnType<typeof vizInstance>> | undefined;

async function drawGraph(y: gg.Tensor): Promise<void> {
  const box = $('graph');
  const order = backwardOrder(y);
  if (order.length === 0) {
    box.textContent = 'y has no autograd graph (nothing requires grad)';
    document.body.dataset['graph'] = 'empty';
    return;
  }
  viz ??= await vizInstance();
  const svg = viz.renderSVGElement(toDot(y, order));
  box.replaceChildren(svg);
  document.body.dataset['graph'] = 'drawn';
}

// ---------------------------------------------------------------------------------------
// the trace

function renderTrace(): void {
  const n = state.order[state.at];
  $('trace-pos').textContent = state.order.length ? `step ${state.at + 1} of ${state.order.length}` : '';
  document.querySelectorAll('#graph g.node').forEach((g) => g.classList.toggle('active', g.id === `node-${state.at}`));
  if (!n) {
    $('trace').textContent = '';
    return;
  }
  const into = n.next.map((e, i) => (e ? `  input ${i} [${n.inputs[i]?.shape.join(', ') ?? ''}] → ${e.node.name}` : `  input ${i}: needs no gradient`));
  $('trace').textContent = [
    `${n.name}`,
    n.name === 'AccumulateGrad' ? '  adds the incoming gradient into the leaf’s .grad' : '  maps the gradient of its output to the gradients of its inputs:',
    ...into,
  ].join('\n');
}

// ---------------------------------------------------------------------------------------
// gradcheck and Jacobians (float64 on the cpu reference)

function jacobianTable(title: string, rows: number[][]): HTMLElement {
  const wrap = document.createElement('div');
  const cap = document.createElement('div');
  cap.className = 'muted';
  cap.textContent = title;
  const table = document.createElement('table');
  table.className = 'jac';
  const max = Math.max(1e-12, ...rows.flat().map(Math.abs));
  for (const r of rows.slice(0, 12)) {
    const tr = table.insertRow();
    for (const v of r.slice(0, 16)) {
      const td = tr.insertCell();
      td.textContent = v.toFixed(3);
      const a = Math.min(1, Math.abs(v) / max);
      td.style.background = v >= 0 ? `rgba(9,105,218,${a * 0.6})` : `rgba(207,34,46,${a * 0.6})`;
    }
  }
  wrap.append(cap, table);
  return wrap;
}

/** Numerical (central differences) and analytical Jacobians of f at xs[k], float64. */
async function jacobians(f: (...xs: gg.Tensor[]) => gg.Tensor, xs: gg.Tensor[], k: number, eps = 1e-6): Promise<{ numerical: number[][]; analytical: number[][] }> {
  const x = xs[k] as gg.Tensor;
  const base = Array.from(x.dataSync());
  const y0 = f(...xs);
  const m = y0.numel();
  const numerical: number[][] = Array.from({ length: m }, () => new Array<number>(base.length).fill(0));
  for (let j = 0; j < base.length; j++) {
    const at = (d: number): number[] => {
      const v = base.slice();
      v[j] = (v[j] as number) + d;
      const xj = gg.tensor(v, { shape: x.shape, dtype: 'float64' });
      return Array.from(gg.noGrad(() => f(...xs.map((t, i) => (i === k ? xj : t)))).dataSync());
    };
    const hi = at(eps);
    const lo = at(-eps);
    for (let i = 0; i < m; i++) (numerical[i] as number[])[j] = ((hi[i] as number) - (lo[i] as number)) / (2 * eps);
  }
  const analytical: number[][] = [];
  for (let i = 0; i < m; i++) {
    const y = f(...xs).reshape([-1]);
    const sel = new Array<number>(m).fill(0);
    sel[i] = 1;
    const [g] = gg.autograd.grad([y], [x], { gradOutputs: [gg.tensor(sel, { dtype: 'float64' })], allowUnused: true });
    analytical.push(g ? Array.from(g.dataSync()) : new Array<number>(base.length).fill(0));
  }
  return { numerical, analytical };
}

async function runGradcheck(): Promise<void> {
  const box = $('gradcheck-out');
  box.textContent = 'checking…';
  const device = gg.getDefaultDevice();
  const dtype = gg.getDefaultDtype();
  try {
    // NOTE: gradcheck needs float64, which only the cpu reference device holds
    gg.setDefaultDevice('cpu');
    gg.setDefaultDtype('float64');
    const { inputs } = evaluate($<HTMLTextAreaElement>('setup').value, '0 || gg.zeros([1])');
    const named = leaves(inputs);
    if (named.length === 0) throw new Error('no input requires grad');
    const expr = $<HTMLTextAreaElement>('expr').value;
    const f = (...xs: gg.Tensor[]): gg.Tensor => callExpr(expr, { ...inputs, ...Object.fromEntries(named.map(([n], i) => [n, xs[i]])) });
    const xs = named.map(([, t]) => t);
    let ok: boolean;
    let why = '';
    try {
      ok = await gg.autograd.gradcheck(f, xs);
    } catch (e) {
      ok = false;
      why = (e as Error).message.split('\n')[0] ?? '';
    }
    const head = document.createElement('p');
    head.innerHTML = `gradcheck: <span class="${ok ? 'ok' : 'bad'}">${ok ? 'passed' : 'failed'}</span> <span class="muted">(float64 on cpu, eps 1e-6)</span>`;
    if (why) head.append(document.createTextNode(` ${why}`));
    const jacs = document.createElement('div');
    jacs.className = 'jacs';
    for (let k = 0; k < xs.length; k++) {
      const { numerical, analytical } = await jacobians(f, xs, k);
      const name = named[k]?.[0] ?? `input ${k}`;
      jacs.append(jacobianTable(`numerical ∂y/∂${name}`, numerical), jacobianTable(`analytical ∂y/∂${name}`, analytical));
    }
    box.replaceChildren(head, jacs);
    document.body.dataset['gradcheck'] = ok ? 'passed' : 'failed';
  } catch (e) {
    box.textContent = `error: ${(e as Error).message}`;
    document.body.dataset['gradcheck'] = 'error';
  } finally {
    gg.setDefaultDevice(device);
    gg.setDefaultDtype(dtype);
  }
}

// ---------------------------------------------------------------------------------------
// MNIST training

interface Digits {
  train: { images: Float32Array; labels: Float32Array };
  test: { images: Float32Array; labels: Float32Array };
}

let digits: Promise<Digits> | undefined;

/** The asset written by scripts/make-mnist-asset.mjs (format described there). */
async function loadDigits(): Promise<Digits> {
  const res = await fetch('assets/mnist-subset.bin.gz');
  if (!res.ok || !res.body) throw new Error(`assets/mnist-subset.bin.gz: HTTP ${res.status}`);
  const bytes = new Uint8Array(await new Response(res.body.pipeThrough(new DecompressionStream('gzip'))).arrayBuffer());
  const view = new DataView(bytes.buffer);
  if (String.fromCharCode(...bytes.subarray(0, 4)) !== 'GGMN') throw new Error('mnist asset: bad magic');
  const nTrain = view.getUint32(4, true);
  const nTest = view.getUint32(8, true);
  const px = 784;
  const images = (from: number, n: number): Float32Array => Float32Array.from(bytes.subarray(12 + from * px, 12 + (from + n) * px), (v) => v / 255);
  const labelsAt = 12 + (nTrain + nTest) * px;
  const labels = (from: number, n: number): Float32Array => Float32Array.from(bytes.subarray(labelsAt + from, labelsAt + from + n));
  return { train: { images: images(0, nTrain), labels: labels(0, nTrain) }, test: { images: images(nTrain, nTest), labels: labels(nTrain, nTest) } };
}

function normLayer(kind: string, c: number): gg.nn.Module {
  switch (kind) {
    case 'BatchNorm2d':
      return new gg.nn.BatchNorm2d(c);
    case 'SwitchableNorm2d':
      return new gg.nn.SwitchableNorm2d(c);
    case 'GroupNorm':
      return new gg.nn.GroupNorm(2, c);
    default:
      return new gg.nn.Identity();
  }
}

function model(kind: string): gg.nn.Sequential {
  return new gg.nn.Sequential(
    new gg.nn.Conv2d(1, 4, 3, { padding: 1 }),
    normLayer(kind, 4),
    new gg.nn.ReLU(),
    new gg.nn.MaxPool2d(2),
    new gg.nn.Conv2d(4, 8, 3, { padding: 1 }),
    normLayer(kind, 8),
    new gg.nn.ReLU(),
    new gg.nn.MaxPool2d(2),
    new gg.nn.Flatten(),
    new gg.nn.Linear(8 * 7 * 7, 10),
  );
}

async function accuracy(net: gg.nn.Module, d: Digits): Promise<number> {
  net.eval();
  const n = d.test.labels.length;
  const pred = gg.tidy(() => gg.noGrad(() => net.call(gg.tensor(d.test.images, { shape: [n, 1, 28, 28] })).argmax(1)));
  const p = await pred.data();
  pred.dispose();
  net.train();
  let right = 0;
  for (let i = 0; i < n; i++) if (p[i] === d.test.labels[i]) right++;
  return right / n;
}

async function switchWeights(net: gg.nn.Module): Promise<{ groups: string[]; mean: number[]; var: number[] } | null> {
  const groups: string[] = [];
  const mean: number[] = [];
  const vr: number[] = [];
  let i = 0;
  for (const [, m] of net.namedModules()) {
    if (!(m instanceof gg.nn.SwitchableNorm2d)) continue;
    i++;
    const mw = Array.from(await gg.noGrad(() => m.meanWeight.softmax(0)).data());
    const vw = Array.from(await gg.noGrad(() => m.varWeight.softmax(0)).data());
    ['IN', 'LN', 'BN'].forEach((k, j) => {
      groups.push(`${k}${i}`);
      mean.push(mw[j] ?? 0);
      vr.push(vw[j] ?? 0);
    });
  }
  return groups.length ? { groups, mean, var: vr } : null;
}

async function train(): Promise<void> {
  const status = $('train-status');
  const button = $<HTMLButtonElement>('train');
  button.disabled = true;
  state.stop = false;
  document.body.dataset['train'] = 'running';
  try {
    const d = await (digits ??= loadDigits());
    gg.setDefaultDevice(state.device);
    gg.setDefaultDtype('float32');
    gg.manualSeed(0);
    const kind = $<HTMLSelectElement>('norm').value;
    const steps = Number($<HTMLInputElement>('steps').value);
    const batch = Number($<HTMLInputElement>('batch').value);
    const net = model(kind);
    const opt = new gg.optim.SGD(net.parameters(), { lr: Number($<HTMLInputElement>('lr').value), momentum: 0.9 });
    const lossFn = new gg.nn.CrossEntropyLoss();
    const losses: [number, number][] = [];
    const accs: [number, number][] = [[0, await accuracy(net, d)]];
    const n = d.train.labels.length;
    const t0 = performance.now();
    for (let step = 1; step <= steps && !state.stop; step++) {
      const from = ((step - 1) * batch) % (n - batch + 1);
      const loss = gg.tidy(() => {
        const x = gg.tensor(d.train.images.subarray(from * 784, (from + batch) * 784), { shape: [batch, 1, 28, 28] });
        const y = gg.tensor(d.train.labels.subarray(from, from + batch));
        opt.zeroGrad();
        const l = lossFn.call(net.call(x), y);
        l.backward();
        opt.step();
        return l;
      });
      losses.push([step, await loss.item()]);
      loss.dispose();
      if (step % 10 === 0 || step === steps) {
        accs.push([step, await accuracy(net, d)]);
        lineChart($('acc-plot') as unknown as SVGSVGElement, [{ name: 'accuracy', points: accs }], [0, 1]);
        const sw = await switchWeights(net);
        if (sw) barChart($('sn-plot') as unknown as SVGSVGElement, sw.groups, [{ name: 'mean', values: sw.mean }, { name: 'var', values: sw.var }]);
      }
      lineChart($('loss-plot') as unknown as SVGSVGElement, [{ name: 'loss', points: losses }]);
      const last = accs[accs.length - 1]?.[1] ?? 0;
      status.textContent = `${kind} on ${state.device}: step ${step}/${steps}, loss ${(losses[losses.length - 1]?.[1] ?? 0).toFixed(3)}, test accuracy ${(last * 100).toFixed(1)}%, ${((performance.now() - t0) / step).toFixed(0)} ms/step, ${gg.memory().liveBuffers} live buffers`;
      // let the page paint between steps
      await new Promise((r) => setTimeout(r, 0));
    }
    document.body.dataset['losses'] = JSON.stringify(losses.map((p) => p[1]));
    document.body.dataset['accuracy'] = JSON.stringify(accs.map((p) => p[1]));
    document.body.dataset['train'] = 'done';
  } catch (e) {
    status.textContent = `error: ${(e as Error).message}`;
    document.body.dataset['train'] = 'error';
  } finally {
    button.disabled = false;
  }
}

// ---------------------------------------------------------------------------------------

function pickExample(i: number): void {
  const ex = examples[i] ?? examples[0];
  if (!ex) return;
  $<HTMLTextAreaElement>('setup').value = ex.setup;
  $<HTMLTextAreaElement>('expr').value = ex.expr;
}

async function main(): Promise<void> {
  const sel = $<HTMLSelectElement>('device');
  const found = (await gg.availableDevices()).filter((d) => d !== 'gpu');
  for (const d of found) sel.add(new Option(d, d));
  const missing = [...gg.unavailableReasons.entries()].map(([d, r]) => `${d}: ${r}`);
  const describe = (): void => {
    state.device = sel.value;
    const i = gg.deviceInfo(state.device);
    $('device-info').textContent = `${i.backend} · ${i.adapter}${i.software ? ' (software)' : ''}`;
    $('device-info').title = missing.length ? `not available here:\n${missing.join('\n')}` : '';
  };
  sel.addEventListener('change', describe);
  describe();
  const exSel = $<HTMLSelectElement>('example');
  examples.forEach((ex, i) => exSel.add(new Option(ex.name, String(i))));
  exSel.addEventListener('change', () => pickExample(Number(exSel.value)));
  pickExample(0);
  $('run').addEventListener('click', () => void runExpression());
  $('gradcheck').addEventListener('click', () => void runGradcheck());
  $('trace-next').addEventListener('click', () => {
    state.at = Math.min(state.order.length - 1, state.at + 1);
    renderTrace();
  });
  $('trace-prev').addEventListener('click', () => {
    state.at = Math.max(0, state.at - 1);
    renderTrace();
  });
  $('train').addEventListener('click', () => void train());
  $('stop').addEventListener('click', () => {
    state.stop = true;
  });
  document.body.dataset['ready'] = 'true';
}

main().catch((e: unknown) => {
  $('device-info').textContent = `error: ${(e as Error).message}`;
  document.body.dataset['ready'] = 'error';
});
