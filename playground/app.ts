/**
 * The gpugrad playground (served by `npm run playground`; built into
 * dist/playground/app.js by scripts/build-browser.mjs).
 *
 * What runs where: the setup and expression boxes are JavaScript that the page
 * evaluates in the visitor's own browser (as a console would), over gpugrad's
 * public API only. gpugrad builds every kernel from its own op table, so no
 * text typed here becomes kernel source.
 *
 * What it shows is the library's own "seeing autograd" API
 * (docs/notes/seeing-autograd.md): the graph is `gg.autograd.graph.toDot`
 * laid out by `gg.autograd.graph.dotToSvg` (Graphviz in WebAssembly), the
 * steps are `gg.autograd.trace`, NaN hunting is `gg.autograd.detectAnomaly`,
 * the Jacobians are `gg.autograd.functional.jacobian` beside finite
 * differences and `gg.autograd.gradcheck`'s verdict.
 */
import * as gg from '../src/index.js';
import { barChart, lineChart } from './plot.js';

type Inputs = Record<string, unknown>;

interface Example {
  readonly name: string;
  readonly setup: string;
  readonly expr: string;
  /** Tick "anomaly mode" when picked. */
  readonly anomaly?: boolean;
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
  {
    name: 'a wrong backward (gradcheck fails)',
    // a planted bug: d(x³)/dx is 3x², the backward says 2x²; gradcheck's Jacobians show where
    setup:
      'class Cube extends gg.autograd.Function {\n  static forward(ctx, x) { ctx.saveForBackward(x); return x.mul(x).mul(x); }\n  static backward(ctx, g) { const [x] = ctx.savedTensors; return g.mul(x).mul(x).mul(2); } // should be 3\n}\nreturn { Cube, x: gg.tensor([1, -2, 3], { requiresGrad: true }) };',
    expr: 'Cube.apply(x)',
  },
  { name: 'softmax cross-entropy', setup: 'return { x: gg.randn([2, 3], { requiresGrad: true }), y: gg.tensor([0, 2]) };', expr: 'gg.nn.functional.crossEntropy(x, y)' },
  {
    name: 'a NaN gradient (anomaly mode)',
    // d/dx sqrt(x)·x at 0: MulBackward0 sends 0 to SqrtBackward0, whose 0.5/sqrt(0) = inf makes 0·inf = NaN
    setup: 'return { x: gg.tensor([0, 1, 4], { requiresGrad: true }) };',
    expr: 'x.sqrt().mul(x).sum()',
    anomaly: true,
  },
];

const $ = <T extends HTMLElement>(id: string): T => {
  const e = document.getElementById(id);
  if (!e) throw new Error(`playground: #${id} is missing`);
  return e as T;
};

/** What one backward node received and sent, read by a post hook (see `gradientValues`). */
interface Flow {
  readonly gradIn: (number[] | null)[];
  readonly gradOut: (number[] | null)[];
}

const state: {
  device: string;
  steps: gg.autograd.TraceStep[];
  table: string[];
  ids: Map<gg.autograd.graph.Node, string>;
  names: Map<gg.Tensor, string>;
  flows: Map<gg.autograd.graph.Node, Flow>;
  /** The node whose backward anomaly mode stopped (the engine threw before tracing it), shown as one more step. */
  failed: gg.autograd.graph.Node | null;
  at: number;
  stop: boolean;
} = { device: 'cpu', steps: [], table: [], ids: new Map(), names: new Map(), flows: new Map(), failed: null, at: 0, stop: false };

// ---------------------------------------------------------------------------------------
// the user's expression

/** Run the setup box (a function body returning the inputs) and the expression over them. */
function evaluate(setup: string, expr: string): { y: gg.Tensor; inputs: Inputs } {
  // NOTE: user JavaScript, run in the visitor's own page like a console line; it reaches only `gg`
  // the sourceURL names the boxes in stack traces (anomaly mode's forward stack: "at expression.js:1:10")
  const inputs = new Function('gg', `${setup}\n//# sourceURL=setup.js`)(gg) as Inputs;
  if (typeof inputs !== 'object' || inputs === null) throw new Error('the setup must return an object of inputs, e.g. return { x: gg.randn([3]) }');
  const y = callExpr(expr, inputs);
  return { y, inputs };
}

function callExpr(expr: string, inputs: Inputs): gg.Tensor {
  const names = Object.keys(inputs);
  const y = new Function('gg', ...names, `return (${expr}\n);\n//# sourceURL=expression.js`)(gg, ...names.map((n) => inputs[n])) as unknown;
  if (!(y instanceof gg.Tensor)) throw new Error('the expression must give a tensor');
  return y;
}

function leaves(inputs: Inputs): [string, gg.Tensor][] {
  return Object.entries(inputs).filter((e): e is [string, gg.Tensor] => e[1] instanceof gg.Tensor && e[1].requiresGrad);
}

const fmtValues = (v: ArrayLike<number>, digits = 4, max = 24): string => {
  const body = Array.from(v).slice(0, max).map((x) => x.toFixed(digits)).join(', ');
  return `[${body}${v.length > max ? ', …' : ''}]`;
};

async function show(t: gg.Tensor, digits = 4): Promise<string> {
  return `shape [${t.shape.join(', ')}] ${t.dtype}: ${fmtValues(await t.data(), digits)}`;
}

/**
 * The expression's forward, its graph, and one traced backward. In anomaly
 * mode the whole run is inside `gg.autograd.detectAnomaly` (its async form,
 * which also checks devices that read back asynchronously), so every node
 * records its forward stack and the first NaN gradient stops the backward
 * with PyTorch's message.
 */
async function runExpression(): Promise<void> {
  const out = $('expr-out');
  out.textContent = 'running…';
  document.body.dataset['graph'] = 'pending';
  document.body.dataset['run'] = 'running';
  delete document.body.dataset['anomaly'];
  const anomaly = $<HTMLInputElement>('anomaly').checked;
  const lines: string[] = [];
  try {
    gg.setDefaultDevice(state.device);
    gg.setDefaultDtype('float32');
    const body = async (): Promise<void> => {
      const { y, inputs } = evaluate($<HTMLTextAreaElement>('setup').value, $<HTMLTextAreaElement>('expr').value);
      lines.push(`y = ${await show(y)}`);
      // backward needs a scalar: a non-scalar y is summed first (its graph then starts at SumBackward0)
      const root = y.numel() === 1 ? y : y.sum();
      await drawGraph(root, inputs, root === y ? 'y' : 'y.sum()');
      state.steps = [];
      state.table = [];
      state.failed = null;
      state.at = 0;
      if (!root.gradFn) return;
      state.flows = await gradientValues(root);
      // the engine's own trace of the backward: one step per node it visits, in order
      let failure: unknown;
      const t = gg.autograd.trace(() => {
        try {
          root.backward(undefined, { retainGraph: true });
        } catch (e) {
          failure = e; // keep the steps up to the node that failed
        }
      });
      state.steps = t.steps;
      state.table = t.format().split('\n');
      if (failure !== undefined) throw failure;
      for (const [name, x] of leaves(inputs)) lines.push(`${name}.grad = ${x.grad ? await show(x.grad) : 'null'}`);
    };
    if (anomaly) await gg.autograd.detectAnomaly(body);
    else await body();
    out.textContent = lines.join('\n');
  } catch (e) {
    const msg = (e as Error).message;
    // anomaly mode's message is PyTorch's first line, then the forward stack of the node
    lines.push(`backward stopped: ${msg.split('\n').filter((l) => l.trim()).slice(0, 6).join('\n  ')}`);
    out.textContent = lines.join('\n');
    if (document.body.dataset['graph'] === 'pending') document.body.dataset['graph'] = 'error';
    document.body.dataset['anomaly'] = /returned nan values/.test(msg) ? 'nan' : 'error';
    // the node that failed: not in the trace (the engine threw first), named by the message,
    // and the first-pass hooks saw it return a NaN
    const name = /^Function '([^']+)'/.exec(msg)?.[1];
    const traced = new Set(state.steps.map((st) => st.node));
    const nan = (f: Flow | undefined): boolean => f?.gradOut.some((v) => v?.some(Number.isNaN)) ?? false;
    state.failed = [...state.ids.keys()].find((n) => n.name === name && !traced.has(n) && nan(state.flows.get(n))) ?? null;
    // step to where it stopped
    state.at = Math.max(0, positions() - 1);
  }
  renderTrace();
  document.body.dataset['run'] = 'done';
}

// ---------------------------------------------------------------------------------------
// the graph: gg.autograd.graph.toDot, laid out by Graphviz (gg.autograd.graph.dotToSvg)

/**
 * The DOT ids toDot gives y's nodes (`n0`, `n1`, ...): a breadth-first walk
 * from the root over non-null `next` edges, numbering nodes as first met, as
 * `gg.autograd.graph.toDot` documents. The trace highlights nodes by them
 * (test/browser/playground.test.ts checks a highlighted box shows its step's node).
 */
function dotIds(y: gg.Tensor): Map<gg.autograd.graph.Node, string> {
  const ids = new Map<gg.autograd.graph.Node, string>();
  const root = y.gradFn;
  if (!root) return ids;
  const queue = [root];
  ids.set(root, 'n0');
  for (let q = 0; q < queue.length; q++) {
    for (const e of (queue[q] as gg.autograd.graph.Node).next) {
      if (!e || ids.has(e.node)) continue;
      ids.set(e.node, `n${ids.size}`);
      queue.push(e.node);
    }
  }
  return ids;
}

/** Top-level tensors and module parameters by name (`bn.weight`), for the graph's leaf labels. */
function named(inputs: Inputs): Record<string, gg.Tensor> {
  const out: Record<string, gg.Tensor> = {};
  for (const [k, v] of Object.entries(inputs)) {
    if (v instanceof gg.Tensor) out[k] = v;
    else if (v instanceof gg.nn.Module) for (const [p, t] of v.namedParameters()) out[`${k}.${p}`] = t;
  }
  return out;
}

async function drawGraph(y: gg.Tensor, inputs: Inputs, name: string): Promise<void> {
  const box = $('graph');
  state.ids = dotIds(y);
  if (!y.gradFn) {
    box.textContent = 'y has no autograd graph (nothing requires grad)';
    document.body.dataset['graph'] = 'empty';
    return;
  }
  const params = named(inputs);
  state.names = new Map(Object.entries(params).map(([k, t]) => [t, k]));
  const dot = gg.autograd.graph.toDot(y, { params, rootNames: [name], showSaved: $<HTMLInputElement>('saved').checked });
  $('dot').textContent = dot;
  const svg = await gg.autograd.graph.dotToSvg(dot);
  // NOTE: parsed as an SVG document, not as HTML: nothing in it runs
  box.replaceChildren(new DOMParser().parseFromString(svg, 'image/svg+xml').documentElement);
  document.body.dataset['graph'] = 'drawn';
}

// ---------------------------------------------------------------------------------------
// the trace: gg.autograd.trace, one step per node the engine visits

/**
 * The gradient values each node received and sent, from a first backward
 * (`gg.autograd.grad`, which leaves every `.grad` alone) with a post hook on
 * every node (`node.postHooks`, PyTorch's `node.register_hook`). The hooks
 * are removed before the traced backward, so its "hooks" column shows only
 * the user's own.
 */
async function gradientValues(root: gg.Tensor): Promise<Map<gg.autograd.graph.Node, Flow>> {
  const nodes = [...dotIds(root).keys()];
  const held = new Map<gg.autograd.graph.Node, { gradIn: (gg.Tensor | null)[]; gradOut: (gg.Tensor | null)[] }>();
  // NOTE: detach() is a second handle on the same buffer: it outlives the engine's own handle
  const hook = (n: gg.autograd.graph.Node) => (gradInputs: (gg.Tensor | null)[], gradOutputs: (gg.Tensor | null)[]): void => {
    held.set(n, { gradIn: gradOutputs.map((g) => g?.detach() ?? null), gradOut: gradInputs.map((g) => g?.detach() ?? null) });
  };
  const hooks = nodes.map((n) => {
    const h = hook(n);
    n.postHooks.push(h);
    return [n, h] as const;
  });
  const leafNodes = nodes.filter((n): n is gg.autograd.graph.AccumulateGrad => n instanceof gg.autograd.graph.AccumulateGrad);
  let grads: (gg.Tensor | null)[] = [];
  try {
    grads = gg.autograd.grad([root], leafNodes.map((n) => n.variable), { retainGraph: true, allowUnused: true });
  } catch {
    // the traced backward meets the same error and reports it
  } finally {
    for (const [n, h] of hooks) n.postHooks.splice(n.postHooks.indexOf(h), 1);
  }
  const read = async (g: gg.Tensor | null): Promise<number[] | null> => {
    if (!g) return null;
    const v = Array.from(await g.data());
    g.dispose();
    return v;
  };
  const flows = new Map<gg.autograd.graph.Node, Flow>();
  for (const [n, f] of held) flows.set(n, { gradIn: await Promise.all(f.gradIn.map(read)), gradOut: await Promise.all(f.gradOut.map(read)) });
  for (const [i, n] of leafNodes.entries()) flows.set(n, { gradIn: [await read(grads[i] ?? null)], gradOut: [] });
  return flows;
}

/** `MulBackward0 [n1]`, `AccumulateGrad of x [n2]`: a node as the picture names it. */
function nodeLabel(n: gg.autograd.graph.Node): string {
  const leaf = n instanceof gg.autograd.graph.AccumulateGrad ? state.names.get(n.variable) : undefined;
  return `${n.name}${leaf !== undefined ? ` of ${leaf}` : ''} [${state.ids.get(n) ?? '?'}]`;
}

const shape = (s: readonly number[] | null): string => (s ? `(${s.join(', ')}${s.length === 1 ? ',' : ''})` : '-');

/** Steps to walk: the trace's, and the node anomaly mode stopped at, if any. */
function positions(): number {
  return state.steps.length + (state.failed ? 1 : 0);
}

/** The node at the current position. */
function nodeAt(): gg.autograd.graph.Node | undefined {
  return state.steps[state.at]?.node ?? (state.at === state.steps.length ? (state.failed ?? undefined) : undefined);
}

/** Highlight the step's node (red outline; filled red where anomaly mode stopped), the edges its gradients leave by (blue), the nodes already run (grey). */
function highlight(): void {
  const done = new Set(state.steps.slice(0, state.at).map((s) => state.ids.get(s.node)));
  const node = nodeAt();
  const id = node ? state.ids.get(node) : undefined;
  const failedId = state.failed ? state.ids.get(state.failed) : undefined;
  document.querySelectorAll('#graph g.node').forEach((g) => {
    const t = g.querySelector('title')?.textContent ?? '';
    g.classList.toggle('active', id !== undefined && t === id);
    g.classList.toggle('done', done.has(t));
    g.classList.toggle('failed', failedId !== undefined && t === failedId);
  });
  document.querySelectorAll('#graph g.edge').forEach((g) => {
    const t = g.querySelector('title')?.textContent ?? '';
    // a node anomaly mode stopped sends nothing on
    g.classList.toggle('flow', id !== undefined && state.steps[state.at] !== undefined && t.startsWith(`${id}->`));
  });
}

const vals = (v: number[] | null | undefined): string => (v ? ` ${fmtValues(v, 3, 6)}` : '');

/** Where anomaly mode's forward stack says the node was made. */
function madeAt(n: gg.autograd.graph.Node): string[] {
  const stack = n.forwardStack;
  return stack ? ['  made in the forward at (anomaly mode):', ...stack.split('\n').filter((l) => /^\s+at /.test(l)).slice(0, 2).map((l) => `    ${l.trim()}`)] : [];
}

function renderTrace(): void {
  const step = state.steps[state.at];
  const total = positions();
  $('trace-pos').textContent = total ? `step ${state.at + 1} of ${total}` : '';
  highlight();
  const failed = state.failed;
  if (!step && failed && state.at === state.steps.length) {
    const flow = state.flows.get(failed);
    $('trace').textContent = [
      `${nodeLabel(failed)}: anomaly mode stopped the engine here`,
      ...(flow?.gradIn.map((v, i) => `  gradient in${flow.gradIn.length > 1 ? ` ${i}` : ''}${vals(v)}`) ?? []),
      ...(flow?.gradOut.map((v, i) => `  gradient out ${i}${vals(v)}  ← NaN: the engine throws before sending it on`) ?? []),
      ...madeAt(failed),
      '',
      'gg.autograd.trace(...).format() (the steps before it):',
      ...state.table.map((l) => `  ${l}`),
    ].join('\n');
    return;
  }
  if (!step) {
    $('trace').textContent = '';
    return;
  }
  const flow = state.flows.get(step.node);
  const lines = [`${nodeLabel(step.node)} (${step.action === 'accumulate' ? 'a leaf' : step.action === 'capture' ? 'captured for autograd.grad' : 'ran its backward rule'})`];
  lines.push(`  waited for ${step.waitedFor} consumer gradient(s); ${step.hooks} hook(s); saved tensors ${step.released ? 'freed' : 'kept (retainGraph)'}`);
  step.gradIn.forEach((s, i) => lines.push(`  gradient in${step.gradIn.length > 1 ? ` ${i}` : ''}  ${shape(s)}${vals(flow?.gradIn[i])}`));
  if (step.action === 'accumulate') {
    const leaf = (step.node as gg.autograd.graph.AccumulateGrad).variable;
    lines.push(`  → added into the leaf's .grad ${shape(leaf.shape)}`);
  }
  step.gradOut.forEach((s, i) => {
    const to = step.node.next[i]?.node;
    lines.push(`  gradient out ${i} → ${to ? nodeLabel(to) : '(needs none)'} ${shape(s)}${vals(flow?.gradOut[i])}`);
  });
  lines.push(...madeAt(step.node));
  lines.push('', 'gg.autograd.trace(...).format():', ...state.table.map((l, i) => (i === state.at + 1 ? `▶ ${l}` : `  ${l}`)));
  $('trace').textContent = lines.join('\n');
}

// ---------------------------------------------------------------------------------------
// gradcheck and Jacobians (float64 on the cpu reference)

/** A Jacobian as a table, blue for positive and red for negative, shaded against `scale` (default: its own largest entry). */
function jacobianTable(title: string, rows: number[][], scale?: number): HTMLElement {
  const wrap = document.createElement('div');
  const cap = document.createElement('div');
  cap.className = 'muted';
  cap.textContent = title;
  const table = document.createElement('table');
  table.className = 'jac';
  const max = scale ?? Math.max(1e-12, ...rows.flat().map(Math.abs));
  for (const r of rows.slice(0, 12)) {
    const tr = table.insertRow();
    for (const v of r.slice(0, 16)) {
      const td = tr.insertCell();
      td.textContent = v !== 0 && Math.abs(v) < 5e-4 ? v.toExponential(0) : v.toFixed(3);
      const a = Math.min(1, Math.abs(v) / max);
      td.style.background = v >= 0 ? `rgba(9,105,218,${a * 0.6})` : `rgba(207,34,46,${a * 0.6})`;
    }
  }
  wrap.append(cap, table);
  return wrap;
}

/**
 * The Jacobian of f with respect to xs[k] (float64), as rows (output elements)
 * by columns (input elements): `analytical` from backward
 * (`gg.autograd.functional.jacobian`, one backward per output element) and
 * `numerical` from central differences, the two things gradcheck compares.
 */
async function jacobians(f: (...xs: gg.Tensor[]) => gg.Tensor, xs: gg.Tensor[], k: number, eps = 1e-6): Promise<{ numerical: number[][]; analytical: number[][] }> {
  const x = xs[k] as gg.Tensor;
  const n = x.numel();
  const base = Array.from(await x.data());
  const withX = (xk: gg.Tensor): gg.Tensor[] => xs.map((t, i) => (i === k ? xk : t));
  const m = gg.noGrad(() => f(...xs)).numel();
  const numerical: number[][] = Array.from({ length: m }, () => new Array<number>(n).fill(0));
  for (let j = 0; j < n; j++) {
    const at = async (d: number): Promise<number[]> => {
      const v = base.slice();
      v[j] = (v[j] as number) + d;
      const xj = gg.tensor(v, { shape: x.shape, dtype: 'float64' });
      return Array.from(await gg.noGrad(() => f(...withX(xj))).data());
    };
    const hi = await at(eps);
    const lo = await at(-eps);
    for (let i = 0; i < m; i++) (numerical[i] as number[])[j] = ((hi[i] as number) - (lo[i] as number)) / (2 * eps);
  }
  const jac = gg.autograd.functional.jacobian((xk: gg.Tensor) => f(...withX(xk)), x);
  const flat = Array.from(await jac.data());
  const analytical = Array.from({ length: m }, (_, i) => flat.slice(i * n, (i + 1) * n));
  return { numerical, analytical };
}

async function runGradcheck(): Promise<void> {
  const box = $('gradcheck-out');
  box.textContent = 'checking…';
  delete document.body.dataset['gradcheck'];
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
      why = ((e as Error).message.split('\n')[0] ?? '').replace(/,$/, '');
      if (e instanceof gg.autograd.GradcheckError && e.outputIndex !== undefined) why += ` (the tables below: ∂y/∂${named[e.inputIndex ?? 0]?.[0] ?? '?'})`;
    }
    const head = document.createElement('p');
    const verdict = document.createElement('span');
    verdict.className = ok ? 'ok' : 'bad';
    verdict.textContent = ok ? 'passed' : 'failed';
    const note = document.createElement('span');
    note.className = 'muted';
    note.textContent = ' (float64 on cpu, eps 1e-6; rows: elements of y, columns: elements of the input)';
    head.append('gg.autograd.gradcheck: ', verdict, note);
    // NOTE: the error's text is the user's, so it goes in as text, never as HTML
    if (why) head.append(document.createElement('br'), why);
    const jacs = document.createElement('div');
    jacs.className = 'jacs';
    for (let k = 0; k < xs.length; k++) {
      const { numerical, analytical } = await jacobians(f, xs, k);
      const name = named[k]?.[0] ?? `input ${k}`;
      const diff = analytical.map((r, i) => r.map((v, j) => v - (numerical[i]?.[j] ?? 0)));
      jacs.append(
        jacobianTable(`numerical ∂y/∂${name} (finite differences)`, numerical),
        jacobianTable(`analytical ∂y/∂${name} (backward)`, analytical),
        // shaded against the Jacobian's own scale, so rounding noise stays pale and a wrong entry stands out
        jacobianTable('analytical − numerical', diff, Math.max(1e-12, ...numerical.flat().map(Math.abs))),
      );
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
        const y = gg.tensor(d.train.labels.subarray(from, from + batch), { dtype: 'int64' });
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
  $<HTMLInputElement>('anomaly').checked = ex.anomaly === true;
}

async function main(): Promise<void> {
  const sel = $<HTMLSelectElement>('device');
  const found = (await gg.availableDevices()).filter((d) => d !== 'gpu');
  for (const d of found) sel.add(new Option(d, d));
  // start on the GPU device 'gpu' resolves to (the best this browser offers), else the cpu reference
  if (found.length > 1) sel.value = gg.deviceInfo('gpu').name;
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
    state.at = Math.max(0, Math.min(positions() - 1, state.at + 1));
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
