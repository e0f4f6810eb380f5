#!/usr/bin/env node
// Builds what the npm package ships, from tsc's output (run `npm run build` first;
// `npm pack` does both through `prepack`). See docs/notes/packaging.md for the choices.
//
//   dist/pkg/index.mjs   ES module, one file: gpugrad's sources
//   dist/pkg/index.cjs   the same as CommonJS
//   dist/pkg/gpu.cjs     gpu.js with acorn and gpu-mock.js, bundled (loaded lazily by both)
//   dist/pkg/*.map       source maps with the sources inlined (they point at src/*.ts,
//                        which is not shipped, so the text travels in the map)
//   dist/types-cjs/      tsc's declarations again, under a `"type": "commonjs"` package.json,
//                        so TypeScript reads them as CommonJS types for `require`
//   dist/pkg/THIRD_PARTY_LICENSES.md   the licences of the bundled packages
//
// Why gpu.js is bundled: its package.json pins `webgpu` 0.2.9 as a dependency and
// `gl` as an optional one, and an `overrides` entry only applies inside this
// repository, so a consumer installing `gpu.js` from npm would get an 84 MB Dawn
// that gpugrad never loads and a headless-gl compiled from source. Bundled, the
// consumer's install is ndarray plus the optional `webgpu` we do load.
import { build } from 'esbuild';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const entry = join(root, 'dist', 'src', 'index.js');
if (!existsSync(entry)) {
  console.error(`build-package: ${entry} is missing; run 'npm run build' first`);
  process.exit(1);
}
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));

// Loaded at run time from the consumer's node_modules, never bundled: the native
// device packages (optional; loaded lazily when their device is asked for), ndarray,
// and the optional graph-picture packages (@viz-js/viz, @resvg/resvg-js; loaded on first render).
const external = ['webgpu', 'gl', 'ndarray', ...Object.keys(pkg.dependencies ?? {}), ...Object.keys(pkg.optionalDependencies ?? {})];
const bundled = ['gpu.js', 'acorn', 'gpu-mock.js'];

const out = join(root, 'dist', 'pkg');
rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });

// gpu.js on its own file, loaded (as now) only when a gpu.js device is first opened
await build({
  entryPoints: [join(root, 'node_modules', 'gpu.js', 'src', 'index.js')],
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  external: ['gl'],
  legalComments: 'eof',
  logLevel: 'warning',
  outfile: join(out, 'gpu.cjs'),
});

// The sources load gpu.js lazily with createRequire(import.meta.url)('gpu.js');
// esbuild cannot follow that, so point it at ./gpu.cjs next to the bundle (the
// bundle's import.meta.url is dist/pkg/index.*). Fails if no such call is found.
let redirected = 0;
const redirectGpuJs = {
  name: 'redirect-gpu.js',
  setup(b) {
    b.onLoad({ filter: /[\\/]dist[\\/]src[\\/].*\.js$/ }, (args) => {
      const text = readFileSync(args.path, 'utf8');
      const patched = text.replace(/require\((['"])gpu\.js\1\)/g, () => {
        redirected += 1;
        return "require('./gpu.cjs')";
      });
      return { contents: patched, loader: 'js', resolveDir: dirname(args.path) };
    });
  },
};

const common = {
  entryPoints: [entry],
  plugins: [redirectGpuJs],
  bundle: true,
  platform: 'node',
  target: 'node20',
  external,
  sourcemap: true,
  sourcesContent: true,
  legalComments: 'eof',
  logLevel: 'warning',
};

await build({ ...common, format: 'esm', outfile: join(out, 'index.mjs') });

// the sources use import.meta.url (createRequire): give CommonJS the file's URL instead
await build({
  ...common,
  format: 'cjs',
  outfile: join(out, 'index.cjs'),
  define: { 'import.meta.url': '__gpugradImportMetaUrl' },
  banner: { js: "const __gpugradImportMetaUrl = require('node:url').pathToFileURL(__filename).href;" },
});

if (redirected !== 2) {
  console.error(`build-package: expected one require('gpu.js') per bundle, found ${redirected} in two bundles`);
  process.exit(1);
}

// CommonJS declarations: the same .d.ts files, read as CommonJS because of the package.json
const types = join(root, 'dist', 'src');
const typesCjs = join(root, 'dist', 'types-cjs');
rmSync(typesCjs, { recursive: true, force: true });
const copyDts = (from, to) => {
  for (const name of readdirSync(from)) {
    const p = join(from, name);
    if (statSync(p).isDirectory()) copyDts(p, join(to, name));
    else if (name.endsWith('.d.ts')) {
      mkdirSync(to, { recursive: true });
      cpSync(p, join(to, name));
    }
  }
};
copyDts(types, typesCjs);
writeFileSync(join(typesCjs, 'package.json'), JSON.stringify({ type: 'commonjs' }, null, 2) + '\n');

// licences of what is bundled
const notices = ['# Third-party licences', '', 'dist/pkg/index.mjs and index.cjs bundle these packages.', ''];
for (const name of bundled) {
  const nested = join(root, 'node_modules', 'gpu.js', 'node_modules', name);
  const dir = existsSync(nested) ? nested : join(root, 'node_modules', name);
  const meta = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
  const file = readdirSync(dir).find((f) => /^licen[cs]e/i.test(f));
  notices.push(`## ${name} ${meta.version} (${meta.license ?? 'see package'})`, '');
  if (file) notices.push(readFileSync(join(dir, file), 'utf8').trim(), '');
}
writeFileSync(join(out, 'THIRD_PARTY_LICENSES.md'), notices.join('\n'));

const size = (f) => `${(statSync(join(out, f)).size / 1024).toFixed(0)} KiB`;
console.log(`build-package: dist/pkg/index.mjs ${size('index.mjs')}, index.cjs ${size('index.cjs')}, gpu.cjs ${size('gpu.cjs')}, dist/types-cjs`);
