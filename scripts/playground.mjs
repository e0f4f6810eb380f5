#!/usr/bin/env node
// `npm run playground`: serve the built playground (dist/playground, made by
// scripts/build-browser.mjs) on http://127.0.0.1:8080 (or --port N) until Ctrl-C.
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { serveStatic } from './browser/serve.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const site = join(root, 'dist/playground');
const { values } = parseArgs({ options: { port: { type: 'string', default: '8080' } } });
if (!existsSync(join(site, 'app.js'))) {
  console.error('dist/playground/app.js is missing: run `npm run build` first (npm run playground does)');
  process.exit(1);
}
const server = await serveStatic(site, { port: Number(values.port) });
console.log(`gpugrad playground: ${server.url}/  (Ctrl-C stops)`);
