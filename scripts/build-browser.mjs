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
// Node-only modules never enter a bundle: src/backend/platform.ts is swapped for
// src/backend/platform.browser.ts (files, environment, native GL/WebGPU, worker
// threads stay in Node), and any `node:*` import left fails the build.
// Usage: node scripts/build-browser.mjs [--only lib|tests|playground] [--quiet]
import { build } from 'esbuild';
import { cpSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const only = args.includes('--only') ? args[args.indexOf('--only') + 1] : undefined;
const quiet = args.includes('--quiet');

/**
 * Resolve the platform seam to its browser side, gpu.js to its browser build, and
 * refuse Node built-ins (a Node-only piece that leaked into the import graph).
 * `shims` maps extra `node:*` modules to browser stand-ins (the test bundle only).
 */
function browserPlatform(shims = {}) {
  return {
    name: 'gpugrad-browser-platform',
    setup(b) {
      b.onResolve({ filter: /(^|\/)platform(\.node)?\.js$/ }, (a) => {
        if (!a.importer.includes(`${join(root, 'src')}`)) return undefined;
        const ts = resolve(dirname(a.importer), a.path.replace(/(\.node)?\.js$/, '.browser.ts'));
        return existsSync(ts) ? { path: ts } : undefined;
      });
      b.onResolve({ filter: /^gpu\.js$/ }, () => ({ path: join(root, 'node_modules/gpu.js/dist/gpu-browser.js') }));
      b.onResolve({ filter: /^(node:|fs$|os$|path$|module$|worker_threads$|child_process$|webgpu$|gl$)/ }, (a) => {
        const shim = shims[a.path];
        if (shim) return { path: shim };
        return { errors: [{ text: `'${a.path}' (imported by ${a.importer.replace(root + '/', '')}) is Node-only and must not enter a browser bundle; route it through src/backend/platform.ts` }] };
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
  await build({ ...common, entryPoints: [join(root, 'src/index.ts')], outfile, minify: true, sourcemap: true, metafile: false, plugins: [browserPlatform()] });
  report(outfile);
  // NOTE: the declarations are the Node build's (the same API); the bundle has no .d.ts of its own
  writeFileSync(join(root, 'dist/browser/gpugrad.d.ts'), "export * from '../src/index.js';\n");
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
