#!/usr/bin/env node
// The packed tarball, used as a new project would (`npm run test:package`; a step of .ci/run).
//
// 1. builds the package files (scripts/build-package.mjs; tsc's dist/ must exist) and packs
//    the tarball; checks what is in it: the bundles, types for import and require, LICENSE,
//    source maps that carry their sources, nothing from test/ or examples/;
// 2. installs it in a fresh temp project (`--prefer-offline`: the local npm cache first;
//    `--omit=optional` unless GPUGRAD_PACKAGE_FULL=1, which also installs webgpu);
// 3. imports it from an ES module and from CommonJS and runs a short training step
//    on `cpu` and on `gpu:cpu` (that loads the bundled gpu.js);
// 4. type-checks a consumer under `strict` as an ES module (NodeNext) and as CommonJS,
//    then runs the CommonJS one compiled, the case that failed at run time before.
// Prints the install time and the size of node_modules. Exits non-zero on any failure.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
const full = process.env.GPUGRAD_PACKAGE_FULL === '1';
let failures = 0;

function check(ok, what) {
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${what}`);
  if (!ok) failures += 1;
}
function run(cmd, args, cwd, env = {}) {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', env: { ...process.env, ...env } });
  return { ok: r.status === 0, out: `${r.stdout ?? ''}${r.stderr ?? ''}`.trim() };
}
function duBytes(p) {
  const s = statSync(p, { throwIfNoEntry: false });
  if (!s) return 0;
  if (!s.isDirectory()) return s.size;
  return readdirSync(p).reduce((n, f) => n + duBytes(join(p, f)), 0);
}

// ---- 1. build and pack ----
if (!existsSync(join(root, 'dist', 'src', 'index.js'))) execFileSync(npm, ['run', 'build'], { cwd: root, stdio: 'inherit' });
execFileSync(process.execPath, [join(root, 'scripts', 'build-package.mjs')], { cwd: root, stdio: 'inherit' });
const work = mkdtempSync(join(tmpdir(), 'gpugrad-package-'));
const packed = JSON.parse(execFileSync(npm, ['pack', '--ignore-scripts', '--json', '--pack-destination', work], { cwd: root, encoding: 'utf8' }));
const tarball = join(work, packed[0].filename);
const files = packed[0].files.map((f) => f.path);
console.log(`packed ${packed[0].filename}: ${files.length} files, ${(packed[0].size / 1024).toFixed(0)} KiB packed, ${(packed[0].unpackedSize / 1024).toFixed(0)} KiB unpacked`);

for (const f of ['LICENSE', 'README.md', 'package.json', 'dist/pkg/index.mjs', 'dist/pkg/index.cjs', 'dist/pkg/gpu.cjs', 'dist/src/index.d.ts', 'dist/types-cjs/index.d.ts', 'dist/types-cjs/package.json']) {
  check(files.includes(f), `tarball has ${f}`);
}
check(!files.some((f) => /^(test|examples|bench|src|scripts|\.ci)\//.test(f) || /^dist\/(test|examples|bench)\//.test(f)), 'tarball has no tests, examples, sources or scripts');
check(!files.some((f) => f.startsWith('dist/src/') && !f.endsWith('.d.ts')), 'dist/src/ holds declarations only');
for (const f of files.filter((x) => x.endsWith('.map'))) {
  const map = JSON.parse(readFileSync(join(root, f), 'utf8'));
  const missing = map.sources.filter((_, i) => typeof map.sourcesContent?.[i] !== 'string');
  check(missing.length === 0, `${f} carries the text of its ${map.sources.length} sources`);
}
const readme = readFileSync(join(root, 'README.md'), 'utf8');
const use = readme.indexOf('## Use it as a dependency');
check(use >= 0 && use < readme.indexOf('install-deps'), "README's 'Use it as a dependency' comes before any repository-only command");

// ---- 2. install in a fresh project ----
const project = join(work, 'consumer');
mkdirSync(project);
writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'consumer', version: '1.0.0', private: true }, null, 2));
const installArgs = ['install', '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error', ...(full ? [] : ['--omit=optional']), tarball];
const t0 = Date.now();
const install = run(npm, installArgs, project);
const seconds = (Date.now() - t0) / 1000;
check(install.ok, `npm ${installArgs.slice(0, -1).join(' ')} gpugrad.tgz${install.ok ? '' : `\n${install.out}`}`);
const nm = join(project, 'node_modules');
console.log(`install: ${seconds.toFixed(1)} s, node_modules ${(duBytes(nm) / 1e6).toFixed(1)} MB (${readdirSync(nm).filter((f) => !f.startsWith('.')).join(', ')})`);
check(!existsSync(join(nm, 'gpu.js')), 'gpu.js is not installed (it is bundled)');
check(!existsSync(join(nm, 'gl')), 'headless-gl is not installed by default (an optional peer)');
const webgpu = join(nm, 'webgpu', 'package.json');
if (full) check(existsSync(webgpu) && JSON.parse(readFileSync(webgpu, 'utf8')).version === '0.4.0', 'webgpu 0.4.0 is installed (optional dependency)');
else check(!existsSync(webgpu), 'webgpu is left out with --omit=optional');

// ---- 3. import and train, ESM and CommonJS ----
const step = (imp) => `${imp}
async function main() {
  for (const device of ['cpu', 'gpu:cpu']) {
    await gg.initDevice(device);
    gg.manualSeed(0);
    const model = new gg.nn.Sequential(new gg.nn.Linear(4, 8), new gg.nn.ReLU(), new gg.nn.Linear(8, 3)).to(device);
    const opt = new gg.optim.SGD(model.parameters(), { lr: 0.1 });
    const x = gg.randn([16, 4], { device });
    const y = gg.tensor([0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2, 0], { device });
    const lossFn = new gg.nn.CrossEntropyLoss();
    const losses = [];
    for (let i = 0; i < 5; i++) {
      opt.zeroGrad();
      const loss = lossFn.call(model.call(x), y);
      loss.backward();
      opt.step();
      losses.push(await loss.item());
    }
    if (!(losses[4] < losses[0])) throw new Error(device + ': loss did not fall: ' + losses.join(', '));
    console.log(device, 'loss', losses[0].toFixed(4), '->', losses[4].toFixed(4));
  }
}
main().catch((e) => { console.error(e); process.exit(1); });
`;
writeFileSync(join(project, 'esm.mjs'), step("import * as gg from 'gpugrad';"));
writeFileSync(join(project, 'cjs.cjs'), step("const gg = require('gpugrad');"));
for (const f of ['esm.mjs', 'cjs.cjs']) {
  const r = run(process.execPath, [f], project);
  check(r.ok, `node ${f}: a training step on cpu and gpu:cpu\n${r.out.replace(/^/gm, '     ')}`);
}

// ---- 4. types under strict, ES module and CommonJS ----
const consumer = `import * as gg from 'gpugrad';
const t: gg.Tensor = gg.tensor([[1, 2], [3, 4]], { requiresGrad: true });
const layer: gg.nn.Linear = new gg.nn.Linear(2, 1);
const out: gg.Tensor = layer.call(t).sum();
out.backward();
const dtype: gg.DType = t.dtype;
export async function values(): Promise<number[]> {
  return Array.from(await t.grad!.data());
}
export const names: string[] = Object.keys(layer.stateDict());
void dtype;
`;
const tsconfig = (module, extra) => JSON.stringify({ compilerOptions: { strict: true, module, moduleResolution: module === 'commonjs' ? 'node10' : 'nodenext', target: 'ES2022', lib: ['ES2022'], types: [], outDir: 'out', ...extra }, files: ['consumer.ts'] }, null, 2);
for (const [name, module, type] of [['esm', 'nodenext', 'module'], ['cjs-nodenext', 'nodenext', 'commonjs'], ['cjs-node10', 'commonjs', 'commonjs']]) {
  const dir = join(project, `ts-${name}`);
  mkdirSync(dir);
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: `ts-${name}`, private: true, type }));
  writeFileSync(join(dir, 'consumer.ts'), consumer);
  writeFileSync(join(dir, 'tsconfig.json'), tsconfig(module, {}));
  const r = run(process.execPath, [tsc, '-p', dir], dir);
  check(r.ok, `tsc --strict, ${name} (module ${module}, package type ${type})${r.ok ? '' : `\n${r.out}`}`);
  if (r.ok && type === 'commonjs') {
    const js = join(dir, 'out', 'consumer.js');
    const ran = run(process.execPath, ['-e', `require(${JSON.stringify(js)}).values().then((v) => console.log(v.join(',')))`], dir);
    const last = ran.out.trim().split('\n').pop() ?? '';
    check(ran.ok && last.split(',').length === 4 && last.split(',').every((v) => Number.isFinite(Number(v))), `compiled ${name} consumer runs: grad [${last}]${ran.ok ? '' : `\n${ran.out}`}`);
  }
}

if (process.env.GPUGRAD_PACKAGE_KEEP !== '1') rmSync(work, { recursive: true, force: true });
else console.log(`kept ${work}`);
console.log(failures === 0 ? 'package: all checks passed' : `package: ${failures} check(s) failed`);
process.exit(failures === 0 ? 0 : 1);
