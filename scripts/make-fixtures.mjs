#!/usr/bin/env node
// Regenerates every PyTorch golden file: runs each test/fixtures/make_*.py with the Python that
// has torch (Debian's /usr/bin/python3, torch 1.13; override with GPUGRAD_TORCH_PYTHON).
//
// `--check` instead proves that the committed goldens are what their scripts write: it runs the
// scripts, compares every output with the file that was there before, puts the old files back and
// fails on any difference. Numbers may differ by a few units in the last place, because torch's
// matmul sums in an order that depends on the BLAS build and thread count, so numbers compare
// with a relative tolerance of 1e-12, or 1e-6 relative plus 1e-6 absolute in the files of float32 data
// (a trained model: its convolution picks an algorithm by thread count, and an SGD step subtracts
// nearly equal numbers); tests compare goldens far more loosely
// than either. Every other value (shapes, names, strings, NaN, ±inf, the sign of zero) must match exactly.
// Usage: npm run fixtures [-- --check] [-- make_addmm.py ...]
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const dir = fileURLToPath(new URL('../test/fixtures/', import.meta.url));
const python = process.env.GPUGRAD_TORCH_PYTHON ?? '/usr/bin/python3';
const args = process.argv.slice(2);
const check = args.includes('--check');
const named = args.filter((a) => !a.startsWith('--'));
const scripts = readdirSync(dir)
  .filter((f) => /^make_.*\.py$/.test(f))
  .filter((f) => named.length === 0 || named.includes(f))
  .sort();
if (named.length > 0 && scripts.length !== named.length) {
  console.error(`unknown fixture script(s): ${named.filter((n) => !scripts.includes(n)).join(', ')}`);
  process.exit(2);
}
const outputs = () => readdirSync(dir).filter((f) => /\.(json|safetensors)$/.test(f));
const before = new Map(outputs().map((f) => [f, readFileSync(join(dir, f))]));

for (const script of scripts) {
  const t0 = Date.now();
  execFileSync(python, [join(dir, script)], { stdio: 'inherit', cwd: dir });
  console.log(`${script}: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
}
if (!check) process.exit(0);

// The golden files whose numbers are float32 (make_fixtures.py's docstring says which).
const FLOAT32_FILES = new Set(['torch_state.json', 'torch_state.safetensors']);
let REL = 1e-12;
let ABS = 0;
/** Where `a` and `b` differ beyond the tolerance, as a path; null when they agree. */
function differ(a, b, path) {
  if (typeof a === 'number' && typeof b === 'number') {
    if (Object.is(a, b)) return null;
    if (!Number.isFinite(a) || !Number.isFinite(b)) return `${path}: ${a} vs ${b}`;
    if (ABS === 0 && (a === 0 || b === 0 || Math.sign(a) !== Math.sign(b))) return `${path}: ${a} vs ${b}`;
    return Math.abs(a - b) <= REL * Math.max(Math.abs(a), Math.abs(b)) + ABS ? null : `${path}: ${a} vs ${b}`;
  }
  if (Array.isArray(a) && Array.isArray(b)) {
    if (a.length !== b.length) return `${path}: length ${a.length} vs ${b.length}`;
    for (let i = 0; i < a.length; i++) {
      const d = differ(a[i], b[i], `${path}[${i}]`);
      if (d) return d;
    }
    return null;
  }
  if (a && b && typeof a === 'object' && typeof b === 'object') {
    const ka = Object.keys(a).sort();
    const kb = Object.keys(b).sort();
    if (ka.join() !== kb.join()) return `${path}: keys ${ka} vs ${kb}`;
    for (const k of ka) {
      const d = differ(a[k], b[k], `${path}.${k}`);
      if (d) return d;
    }
    return null;
  }
  return a === b ? null : `${path}: ${JSON.stringify(a)} vs ${JSON.stringify(b)}`;
}
/** A safetensors file as {header, tensors: name -> numbers}, so its data compares like JSON's. */
function safetensors(buf) {
  const n = Number(buf.readBigUInt64LE(0));
  const header = JSON.parse(buf.subarray(8, 8 + n).toString('utf8'));
  const data = buf.subarray(8 + n);
  const tensors = {};
  for (const [name, t] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    const [s, e] = t.data_offsets;
    const bytes = new Uint8Array(data.subarray(s, e));
    const view = { F64: Float64Array, F32: Float32Array, I64: BigInt64Array, I32: Int32Array }[t.dtype];
    tensors[name] = view ? Array.from(new view(bytes.buffer), (v) => (typeof v === 'bigint' ? Number(v) : v)) : Array.from(bytes);
  }
  return { header, tensors };
}
const parse = (f, buf) => (f.endsWith('.json') ? JSON.parse(buf.toString('utf8')) : safetensors(buf));

let failures = 0;
for (const f of outputs()) {
  const now = readFileSync(join(dir, f));
  const old = before.get(f);
  if (!old) {
    console.error(`${f}: written by a script but not committed`);
    failures++;
    continue;
  }
  if (!now.equals(old)) {
    [REL, ABS] = FLOAT32_FILES.has(f) ? [1e-6, 1e-6] : [1e-12, 0];
    const d = differ(parse(f, old), parse(f, now), f);
    if (d) {
      console.error(`${f} differs from its script's output at ${d}`);
      failures++;
    }
    writeFileSync(join(dir, f), old);
  }
}
console.log(failures === 0 ? `every golden file (${before.size}) matches its script` : `${failures} golden file(s) differ`);
process.exit(failures === 0 ? 0 : 1);
