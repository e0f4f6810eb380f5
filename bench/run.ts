/**
 * `npm run bench`: W1–W7 of shared/BENCH.md on every gpugrad device that
 * works here and on the peers (tfjs wasm, tfjs cpu, jax-js wasm for W1, W2, W5,
 * PyTorch CPU), in one run.
 * Prints one table (median ms; ratios peer/ours where ours = the best gpugrad
 * device on that row) and writes it as JSON to bench/results/.
 *
 * Flags: --quick (tiny repeats), --only W1,W3, --devices cpu,gpu:webasm
 * (gpugrad devices), --peers tfjs-wasm,tfjs-cpu,jax-js,pytorch-cpu (or --peers none),
 * --out <file> (extra JSON copy), --no-save, --save (also save a --quick run).
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { hostname, cpus } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as gg from '../src/index.js';
import { openDevice, DESCRIPTIONS, FULL_TIMING, QUICK_TIMING, W1_FLOPS, WORKLOADS, guarded, measure, type Cell, type StepCounts, type WorkloadId } from './common.js';
import { prepareGg } from './gg.js';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '..', '..');
const PEERS = ['tfjs-wasm', 'tfjs-cpu', 'jax-js', 'pytorch-cpu'] as const;
type Peer = (typeof PEERS)[number];

interface Args {
  quick: boolean;
  only: WorkloadId[];
  devices: string[] | null;
  peers: Peer[];
  out?: string;
  save: boolean;
  /** Internal: measure one column (gpugrad device or tfjs backend) and print it as JSON. */
  worker?: string;
}

function parseArgs(argv: string[]): Args {
  const a: Args = { quick: false, only: [...WORKLOADS], devices: null, peers: [...PEERS], save: true };
  let saveFlag = false;
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i]!;
    const val = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${k} needs a value`);
      return v;
    };
    if (k === '--quick') a.quick = true;
    else if (k === '--only') a.only = val().split(',').map((s) => s.trim().toUpperCase()).filter((s): s is WorkloadId => (WORKLOADS as readonly string[]).includes(s));
    else if (k === '--devices') a.devices = val().split(',').map((s) => s.trim());
    else if (k === '--peers') {
      const v = val();
      a.peers = v === 'none' ? [] : v.split(',').map((s) => s.trim()).filter((s): s is Peer => (PEERS as readonly string[]).includes(s));
    } else if (k === '--out') a.out = val();
    else if (k === '--no-save') a.save = false;
    else if (k === '--worker') a.worker = val();
    else if (k === '--save') saveFlag = true;
    else throw new Error(`unknown flag ${k}`);
  }
  // a --quick run is a smoke test: saved only when asked (--save)
  if (a.quick) a.save = saveFlag;
  return a;
}

type Column = { name: string; kind: 'gpugrad' | 'peer'; info: string; cells: Partial<Record<WorkloadId, Cell>> };

const log = (s: string) => console.error(s);
const fmtMs = (c: Cell | undefined): string => (c?.ms == null ? '—' : c.ms >= 100 ? c.ms.toFixed(0) : c.ms >= 10 ? c.ms.toFixed(1) : c.ms.toFixed(2));

async function runGgDevice(device: string, args: Args, timing: typeof FULL_TIMING): Promise<Column> {
  let info = '';
  try {
    const d = gg.deviceInfo(device) as unknown as Record<string, unknown>;
    const notes = Array.isArray(d.notes) ? (d.notes as unknown[]).filter((n): n is string => typeof n === 'string' && /matmul/.test(n)) : [];
    info = [d.backend, d.adapter, d.software === true ? 'software' : d.software === false ? 'hardware' : '', ...notes].filter(Boolean).join(', ');
  } catch (e) {
    info = `deviceInfo failed: ${(e as Error).message}`;
  }
  const col: Column = { name: device, kind: 'gpugrad', info, cells: {} };
  for (const id of args.only) {
    if (id === 'W7') continue;
    const t0 = performance.now();
    const attempt = (composed: boolean) => async (): Promise<Cell> => {
      const p = prepareGg(id, device, composed);
      try {
        const cell = await measure(p, timing);
        // one more iteration, counted: where a GPU's time goes (dispatches, compiles, copies)
        const before = gg.memory();
        await p.run();
        const after = gg.memory();
        cell.counts = {
          kernels: after.kernelRuns - before.kernelRuns,
          compiles: after.kernelsCompiled - before.kernelsCompiled,
          uploads: after.uploads - before.uploads,
          downloads: after.downloads - before.downloads,
        };
        return cell;
      } finally {
        p.dispose?.();
      }
    };
    let cell = await guarded(`${device} ${id}`, attempt(false));
    if (cell.ms == null && id !== 'W6') {
      // the gg.nn layer failed here: time the same formula as composed tensor ops instead
      const retry = await guarded(`${device} ${id} (composed)`, attempt(true));
      if (retry.ms != null) cell = { ...retry, note: `composed ops; the nn path failed (${cell.note})` };
    }
    col.cells[id] = cell;
    log(`  ${device.padEnd(15)} ${id}: ${fmtMs(col.cells[id])} ms  (${((performance.now() - t0) / 1000).toFixed(1)} s)${col.cells[id]!.note ? `  [${col.cells[id]!.note}]` : ''}`);
  }
  return col;
}

async function runTf(peer: 'tfjs-wasm' | 'tfjs-cpu', args: Args, timing: typeof FULL_TIMING): Promise<Column> {
  const col: Column = { name: peer, kind: 'peer', info: '', cells: {} };
  try {
    const tfb = await import('./tfjs.js');
    col.info = `tfjs 4.22 ${await tfb.useTf(peer === 'tfjs-wasm' ? 'wasm' : 'cpu')}`;
    for (const id of args.only) {
      if (id === 'W7') continue;
      col.cells[id] = await guarded(`${peer} ${id}`, async () => {
        const p = tfb.prepareTf(id);
        try {
          return await measure(p, timing);
        } finally {
          p.dispose?.();
        }
      });
      log(`  ${peer.padEnd(15)} ${id}: ${fmtMs(col.cells[id])} ms`);
    }
  } catch (e) {
    col.info = `skipped: ${(e as Error).message}`;
    log(`  [skip] ${peer}: ${(e as Error).message}`);
  }
  return col;
}

async function runJax(args: Args, timing: typeof FULL_TIMING): Promise<Column> {
  const col: Column = { name: 'jax-js', kind: 'peer', info: '', cells: {} };
  try {
    const jx = await import('./jaxjs.js');
    col.info = await jx.useJax();
    for (const id of args.only) {
      if (id === 'W7') continue;
      if (!jx.JAX_WORKLOADS.includes(id)) {
        col.cells[id] = { ms: null, note: 'not measured: jax-js has no BatchNorm or conv layers (shared/BENCH.md: W1, W2, W5 only)' };
        continue;
      }
      col.cells[id] = await guarded(`jax-js ${id}`, async () => {
        const p = jx.prepareJax(id);
        try {
          return await measure(p, timing);
        } finally {
          p.dispose?.();
        }
      });
      log(`  ${'jax-js'.padEnd(15)} ${id}: ${fmtMs(col.cells[id])} ms`);
    }
  } catch (e) {
    col.info = `skipped: ${(e as Error).message}`;
    log(`  [skip] jax-js: ${(e as Error).message}`);
  }
  return col;
}

function runTorch(args: Args): Column {
  const col: Column = { name: 'pytorch-cpu', kind: 'peer', info: '', cells: {} };
  const env = { ...process.env };
  delete env.OPENBLAS_CORETYPE;
  delete env.OPENBLAS_L2_SIZE;
  const py = '/usr/bin/python3';
  const r = spawnSync(py, [join(root, 'bench', 'torch_bench.py'), ...(args.quick ? ['--quick'] : []), '--only', args.only.join(',')], {
    env, encoding: 'utf8', timeout: 300_000, stdio: ['ignore', 'pipe', 'inherit'],
  });
  if (r.error || r.status !== 0) {
    col.info = `skipped: ${r.error?.message ?? `exit ${r.status}`} (needs Debian python3-torch at ${py})`;
    log(`  [skip] pytorch-cpu: ${col.info}`);
    return col;
  }
  try {
    const j = JSON.parse(r.stdout.trim().split('\n').pop()!) as { version: string; threads: number; blas: string; cells: Record<string, Cell> };
    col.info = `torch ${j.version}, ${j.threads} threads, ${j.blas}`;
    for (const [k, v] of Object.entries(j.cells)) col.cells[k as WorkloadId] = v;
  } catch (e) {
    col.info = `skipped: unreadable output (${(e as Error).message})`;
  }
  return col;
}

/**
 * Measure one column in a child process of its own: a fresh heap, no idle
 * worker threads or GL contexts of other devices, and gpu:headlessgl and
 * gpu:webgpu (Dawn on OpenGL ES) cannot share a process here anyway.
 */
function runColumnInChild(name: string, kind: Column['kind'], args: Args): Column {
  const flags = ['--worker', name, '--only', args.only.filter((w) => w !== 'W7').join(','), ...(args.quick ? ['--quick'] : [])];
  const r = spawnSync(process.execPath, [fileURLToPath(import.meta.url), ...flags], {
    encoding: 'utf8', timeout: 600_000, stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 64 << 20,
  });
  const last = (r.stdout ?? '').trim().split('\n').pop() ?? '';
  try {
    return JSON.parse(last) as Column;
  } catch {
    const why = r.error?.message ?? (r.signal ? `killed by ${r.signal}` : `exit ${r.status}`);
    log(`  [skip] ${name}: child failed (${why})`);
    return { name, kind, info: `failed: ${why}`, cells: {} };
  }
}

async function worker(args: Args, timing: typeof FULL_TIMING): Promise<void> {
  const name = args.worker!;
  let col: Column;
  if (name === 'tfjs-wasm' || name === 'tfjs-cpu') col = await runTf(name, args, timing);
  else if (name === 'jax-js') col = await runJax(args, timing);
  else {
    try {
      await openDevice(gg, name);
      col = await runGgDevice(name, args, timing);
    } catch (e) {
      col = { name, kind: 'gpugrad', info: `failed: ${(e as Error).message.split('\n')[0]}`, cells: {} };
    }
  }
  console.log(JSON.stringify(col));
  process.exit(0);
}

/** W7 in a fresh child process per device / tfjs backend. */
function runW7(target: { device?: string; peer?: string }): Cell {
  const script = join(here, 'w7.js');
  const flag = target.device ? ['--device', target.device] : ['--peer', target.peer!];
  const r = spawnSync(process.execPath, [script, ...flag], { encoding: 'utf8', timeout: 180_000, stdio: ['ignore', 'pipe', 'pipe'] });
  const last = (r.stdout ?? '').trim().split('\n').pop() ?? '';
  try {
    const j = JSON.parse(last) as { initMs?: number; importMs?: number; firstMs?: number; secondMs?: number; counts?: StepCounts; error?: string };
    if (j.error || j.firstMs === undefined) return { ms: null, note: `error: ${j.error ?? 'no result'}` };
    return { ms: j.firstMs, runs: 1, note: `init ${j.initMs!.toFixed(0)} ms${j.importMs !== undefined ? ` (import ${j.importMs.toFixed(0)})` : ''}, second call ${j.secondMs!.toFixed(1)} ms`, ...(j.counts ? { counts: j.counts } : {}) };
  } catch {
    return { ms: null, note: `error: ${r.error?.message ?? `exit ${r.status}, ${(r.stderr ?? '').trim().split('\n').pop()}`}` };
  }
}

function bestOurs(cols: Column[], id: WorkloadId): { name: string; ms: number } | null {
  let best: { name: string; ms: number } | null = null;
  for (const c of cols) {
    const ms = c.cells[id]?.ms;
    if (c.kind === 'gpugrad' && ms != null && (!best || ms < best.ms)) best = { name: c.name, ms };
  }
  return best;
}

function table(cols: Column[], ids: WorkloadId[]): string {
  const peers = cols.filter((c) => c.kind === 'peer');
  const head = ['', ...cols.map((c) => c.name), 'best ours', ...peers.map((p) => `${p.name}/ours`)];
  const rows: string[][] = [head];
  for (const id of ids) {
    const best = bestOurs(cols, id);
    const row = [id, ...cols.map((c) => fmtMs(c.cells[id])), best ? best.name : '—'];
    for (const p of peers) {
      const pm = p.cells[id]?.ms;
      row.push(best && pm != null ? `${(pm / best.ms).toFixed(2)}×` : '—');
    }
    rows.push(row);
    if (id === 'W1') {
      rows.push(['W1 GFLOP/s', ...cols.map((c) => (c.cells.W1?.ms != null ? (W1_FLOPS / c.cells.W1.ms / 1e6).toFixed(2) : '—')), '', ...peers.map(() => '')]);
    }
  }
  const widths = head.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) => `| ${r.map((s, i) => (i === 0 ? s.padEnd(widths[i]!) : s.padStart(widths[i]!))).join(' | ')} |`;
  return [line(rows[0]!), `|${widths.map((w, i) => (i === 0 ? '-'.repeat(w + 1) + '-' : '-'.repeat(w + 1) + ':')).join('|')}|`, ...rows.slice(1).map(line)].join('\n');
}

/** Kernels, compiles, uploads and downloads of one iteration per gpugrad device and workload. */
function countsTable(cols: Column[], ids: WorkloadId[]): string | null {
  const ours = cols.filter((c) => c.kind === 'gpugrad');
  const rows = ids.map((id) => [id, ...ours.map((c) => {
    const k = c.cells[id]?.counts;
    return k ? `${k.kernels} / ${k.compiles} / ${k.uploads} / ${k.downloads}` : '—';
  })]);
  if (!rows.some((r) => r.slice(1).some((v) => v !== '—'))) return null;
  const all = [['', ...ours.map((c) => c.name)], ...rows];
  const widths = all[0]!.map((_, i) => Math.max(...all.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) => `| ${r.map((v, i) => (i === 0 ? v.padEnd(widths[i]!) : v.padStart(widths[i]!))).join(' | ')} |`;
  return [line(all[0]!), `|${widths.map((w, i) => '-'.repeat(w + 1) + (i === 0 ? '-' : ':')).join('|')}|`, ...all.slice(1).map(line)].join('\n');
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const timing = args.quick ? QUICK_TIMING : FULL_TIMING;
  if (args.worker) return worker(args, timing);
  const started = performance.now();
  log(`gpugrad bench: ${args.only.join(',')}${args.quick ? ' (quick)' : ''}`);
  // `--devices cpu` needs no GPU probing (it opens Dawn and GL contexts, and prints their warnings)
  const onlyCpu = args.devices !== null && args.devices.every((d) => d === 'cpu');
  const found = onlyCpu ? ['cpu'] : (await gg.availableDevices()).filter((d) => d !== 'gpu');
  const missing = onlyCpu ? {} : Object.fromEntries(gg.unavailableReasons);
  for (const [d, why] of Object.entries(missing)) {
    // --devices names the columns wanted: the others' probing results are noise in the log
    if (args.devices && !args.devices.includes(d)) continue;
    // only refused because another device owns GL in this probing process: it gets a process of its own
    if (/cannot share a process/.test(why)) {
      found.push(d);
      log(`  device ${d}: not in this process (${why.slice(0, 80)}...); measured in its own process`);
    } else log(`  device ${d} unavailable: ${why}`);
  }
  const devices = args.devices ? found.filter((d) => args.devices!.includes(d)) : found;
  for (const d of args.devices ?? []) if (!found.includes(d)) log(`  device ${d} requested but not available here`);
  const cols: Column[] = [];
  for (const d of devices) {
    log(`device ${d}`);
    cols.push(runColumnInChild(d, 'gpugrad', args));
  }
  for (const p of args.peers) {
    log(`peer ${p}`);
    cols.push(p === 'pytorch-cpu' ? runTorch(args) : runColumnInChild(p, 'peer', args));
  }
  if (args.only.includes('W7')) {
    log('W7 (fresh process per device)');
    for (const c of cols) {
      if (c.name === 'pytorch-cpu') continue; // measured inside torch_bench.py's fresh process
      if (c.name === 'jax-js') {
        c.cells.W7 = { ms: null, note: 'not measured: W7 is the first W3 call, and jax-js runs no W3' };
        continue;
      }
      c.cells.W7 = c.kind === 'gpugrad' ? runW7({ device: c.name }) : runW7({ peer: c.name });
      log(`  ${c.name.padEnd(15)} W7: ${fmtMs(c.cells.W7)} ms  [${c.cells.W7.note ?? ''}]`);
    }
  }
  const ids = args.only;
  const text = table(cols, ids);
  console.log(`\n${text}\n`);
  const work = countsTable(cols, ids);
  if (work) console.log(`device work per iteration (kernels / compiles / uploads / downloads; W7: first call):\n\n${work}\n`);
  console.log('times in ms (median after warm-up; W7: first call in a fresh process); peer/ours > 1 means gpugrad is faster.');
  for (const c of cols) console.log(`  ${c.name}: ${c.info}`);
  for (const c of cols) for (const id of ids) if (c.cells[id]?.note) console.log(`  note ${c.name} ${id}: ${c.cells[id]!.note}`);
  const totalS = (performance.now() - started) / 1000;
  console.log(`total ${totalS.toFixed(0)} s`);

  const date = new Date().toISOString().slice(0, 10);
  const result = {
    date: new Date().toISOString(),
    host: hostname(),
    cpu: `${cpus().length}× ${cpus()[0]?.model ?? '?'}`,
    node: process.version,
    quick: args.quick,
    workloads: Object.fromEntries(ids.map((id) => [id, DESCRIPTIONS[id]])),
    unavailable: missing,
    columns: cols,
    best: Object.fromEntries(ids.map((id) => [id, bestOurs(cols, id)])),
    table: text,
    totalSeconds: +totalS.toFixed(1),
  };
  if (args.save) {
    const dir = join(root, 'bench', 'results');
    mkdirSync(dir, { recursive: true });
    const json = JSON.stringify(result, null, 1);
    writeFileSync(join(dir, `${date}-${hostname()}.json`), json);
    writeFileSync(join(dir, 'latest.json'), json);
    log(`wrote bench/results/${date}-${hostname()}.json and latest.json`);
  }
  if (args.out) writeFileSync(args.out, JSON.stringify(result, null, 1));
  process.exit(0);
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
