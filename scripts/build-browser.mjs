#!/usr/bin/env node
// The browser builds (esbuild), from the TypeScript sources:
//
// - dist/browser/gpugrad.js       the library: one self-contained ES module (gpu.js's
//                                 browser build inside), mapped by the `browser`
//                                 condition of package.json `exports`; minified.
// - dist/browser/tests.js         a share of the mocha suite (test/browser/suite.ts lists
//                                 it) for test/browser/chromium.test.ts to run in Chromium.
// - dist/playground/              the playground (playground/): app.js with @viz-js/viz,
//                                 and the page's static files; the whole site.
//
// Node-only modules never enter a bundle: each src file X.ts that has an X.browser.ts
// beside it is swapped for that file (the platform the entry installs, the gpu.js
// device list and adapter finding), so files, environment, native GL/WebGPU and
// worker threads stay in Node; a static `node:*` import left fails the build.
// Usage: node scripts/build-browser.mjs [--only lib|tests|playground] [--quiet]
import { build } from 'esbuild';
import { cpSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const only = args.includes('--only') ? args[args.indexOf('--only') + 1] : undefined;
const quiet = args.includes('--quiet');

/**
 * The browser side of every runtime-specific file: an import of `X.js` from src/
 * resolves to `X.browser.ts` when that file exists (backend/platform/host,
 * backend/gpujs/modes, backend/gpujs/adapters), as a package.json `browser`
 * field would map it. gpu.js resolves to its browser build. A static import of
 * a Node built-in (a Node-only piece that leaked into the import graph) fails
 * the build; a dynamic `import('node:...')` (a lazy Node-only path, e.g. writing
 * a PNG file) is left out and fails only if called. `shims` maps modules to
 * browser stand-ins (the test bundle's `node:fs`); `external` lists packages left
 * to the page (loaded lazily by the library).
 */
function browserPlatform(shims = {}, external = []) {
  const src = join(root, 'src') + '/';
  return {
    name: 'gpugrad-browser-platform',
    setup(b) {
      b.onResolve({ filter: /^\.{1,2}\/.*\.js$/ }, (a) => {
        if (!a.importer.startsWith(src)) return undefined;
        const swapped = resolve(dirname(a.importer), a.path.replace(/\.js$/, '.browser.ts'));
        return existsSync(swapped) && swapped !== a.importer ? { path: swapped } : undefined;
      });
      b.onResolve({ filter: /^gpu\.js$/ }, () => ({ path: join(root, 'node_modules/gpu.js/dist/gpu-browser.js') }));
      for (const name of external) b.onResolve({ filter: new RegExp(`^${name.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}$`) }, (a) => ({ path: a.path, external: true }));
      b.onResolve({ filter: /^(node:|fs$|os$|path$|module$|worker_threads$|child_process$|webgpu$|gl$)/ }, (a) => {
        const shim = shims[a.path];
        if (shim) return { path: shim };
        if (a.kind === 'dynamic-import') return { path: a.path, external: true };
        return { errors: [{ text: `'${a.path}' (imported by ${a.importer.replace(root + '/', '')}) is Node-only and must not enter a browser bundle; route it through src/backend/platform (a file X.browser.ts replaces X.ts here)` }] };
      });
    },
  };
}

const common = {
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: ['es2022', 'chrome113'],
  logLevel: quiet ? 'error' : 'warning',
  legalComments: 'none',
  // NOTE: gpu.js's UMD build checks `typeof module` / `define`; esbuild wraps it as CommonJS
  mainFields: ['browser', 'module', 'main'],
  conditions: ['browser'],
};

const sizes = [];
function report(file) {
  const bytes = readFileSync(file);
  const gz = gzipSync(bytes, { level: 9 }).length;
  sizes.push({ file: file.replace(root + '/', ''), bytes: bytes.length, gzip: gz });
}

async function lib() {
  const outfile = join(root, 'dist/browser/gpugrad.js');
  await build({ ...common, entryPoints: [join(root, 'src/index.ts')], outfile, minify: true, sourcemap: true, metafile: false, plugins: [browserPlatform({}, ['@viz-js/viz', '@resvg/resvg-js'])] });
  report(outfile);
}

async function tests() {
  const outfile = join(root, 'dist/browser/tests.js');
  const shims = { 'node:fs': join(root, 'test/browser/fs-shim.ts') };
  await build({ ...common, entryPoints: [join(root, 'test/browser/suite.ts')], outfile, sourcemap: 'inline', plugins: [browserPlatform(shims)] });
}

async function playground() {
  const outdir = join(root, 'dist/playground');
  mkdirSync(outdir, { recursive: true });
  await build({ ...common, entryPoints: [join(root, 'playground/app.ts')], outfile: join(outdir, 'app.js'), minify: true, sourcemap: true, plugins: [browserPlatform()] });
  report(join(outdir, 'app.js'));
  // the static files beside the bundle: dist/playground is the whole site
  for (const f of ['index.html', 'style.css', 'assets/mnist-subset.bin.gz']) cpSync(join(root, 'playground', f), join(outdir, f), { recursive: true });
}

const t0 = Date.now();
if (!only || only === 'lib') await lib();
if ((!only || only === 'tests') && existsSync(join(root, 'test/browser/suite.ts'))) await tests();
if ((!only || only === 'playground') && existsSync(join(root, 'playground/app.ts'))) await playground();
if (!quiet) {
  for (const s of sizes) console.log(`${s.file}: ${(s.bytes / 1024).toFixed(0)} KiB, ${(s.gzip / 1024).toFixed(0)} KiB gzip`);
  console.log(`build-browser: ${((Date.now() - t0) / 1000).toFixed(1)}s`);
}
