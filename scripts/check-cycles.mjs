#!/usr/bin/env node
// Check the import graph of src/ against the layering rule of
// docs/notes/architecture.md: index.ts → nn → core (tensor/ and autograd/) →
// backend. Reads static imports, `export ... from`, `import type` and dynamic
// `import()`, which the lint rule does not see. Fails (exit 1) on
// - an edge from a lower layer to a higher one (a directory-level back-edge),
// - a cycle between directories of different layers, or of directories not
//   in the layer list,
// - any cycle between files of the runtime graph (every import that is not
//   type-only): modules load in one order, nothing is filled in later,
// - gpu.js / webgpu / gl imported outside src/backend,
// - Node-specific code outside src/backend/platform/node.ts (which the Node
//   entry point src/index.ts installs): a `node:` import, `process.`,
//   `require(` or `createRequire`, so that tensor/, autograd/ and nn/ load in
//   any JavaScript runtime (docs/notes/architecture.md, "Platform").
// Type-only imports (`import type`, `import { type A }`, `export type`) are
// erased by the compiler and never run; they still obey the layer direction
// but may close a loop (graph.ts names Tensor as a type, Tensor creates
// nodes), which is how every file below tensor.ts speaks of tensors.
// Usage: node scripts/check-cycles.mjs [srcDir]   (default: src)
import { readFileSync, readdirSync, statSync, existsSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const src = resolve(root, process.argv[2] ?? 'src');

/** Lower layers first (directories of one layer share an entry); a file may import only its own layer or lower ones. */
const layers = [['backend'], ['tensor', 'autograd'], ['nn'], ['.']];
const layerOf = (dir) => layers.findIndex((l) => l.includes(dir));
const gpuPackages = new Set(['gpu.js', 'webgpu', 'gl']);
/** The files that may hold Node-specific code (relative to src). */
const nodeFiles = new Set(['backend/platform/node.ts']);
/** Node-specific code other than imports. */
const nodeUses = [/\bprocess\.\w+/, /\brequire\s*\(/, /\bcreateRequire\b/];

function walk(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...walk(p));
    else if (/\.(ts|mts|js|mjs)$/.test(name) && !name.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

/** A source file without its comments. */
const stripComments = (text) => text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:\\'"`])\/\/.*$/gm, '$1');

/** Whether an import/export clause names types only (the compiler erases it). */
function typeOnly(typeKeyword, clause) {
  if (typeKeyword) return true;
  const braces = /^\s*\{([^}]*)\}\s*$/.exec(clause ?? '');
  if (!braces) return false;
  const names = braces[1].split(',').map((n) => n.trim()).filter(Boolean);
  return names.length > 0 && names.every((n) => n.startsWith('type '));
}

/** Import specifiers of a source file (comments stripped first), each with whether it is type-only. */
function specifiers(text) {
  const code = stripComments(text);
  const found = [];
  for (const m of code.matchAll(/\bimport\s+(type\s+)?([\w*{}\s,$]*?)\s*from\s*['"]([^'"]+)['"]/g)) {
    found.push({ spec: m[3], type: typeOnly(m[1], m[2]) });
  }
  for (const m of code.matchAll(/\bexport\s+(type\s+)?(\*(?:\s+as\s+\w+)?|\{[^}]*\})\s*from\s*['"]([^'"]+)['"]/g)) {
    found.push({ spec: m[3], type: typeOnly(m[1], m[2]) });
  }
  for (const re of [/\bimport\s*['"]([^'"]+)['"]/g, /\bimport\s*\(\s*['"]([^'"]+)['"]\s*\)/g]) {
    for (const m of code.matchAll(re)) found.push({ spec: m[1], type: false });
  }
  return found;
}

/** The file a relative specifier points at (NodeNext: `.js` names the `.ts` source). */
function resolveSpec(from, spec) {
  const base = resolve(dirname(from), spec);
  const candidates = [base, base.replace(/\.js$/, '.ts'), base.replace(/\.mjs$/, '.mts'), `${base}.ts`, join(base, 'index.ts')];
  return candidates.find((c) => existsSync(c) && statSync(c).isFile()) ?? null;
}

/** Top-level directory of a file under src ('.' for src/*.ts). */
function dirOf(file) {
  const rel = relative(src, file).split(sep);
  return rel.length === 1 ? '.' : rel[0];
}

const files = walk(src);
const problems = [];
const runtimeEdges = new Map(); // file => files it imports at run time
const dirEdges = new Map(); // "a -> b" => example
for (const file of files) {
  const from = dirOf(file);
  const edges = [];
  const text = readFileSync(file, 'utf8');
  const nodeAllowed = nodeFiles.has(relative(src, file).split(sep).join('/'));
  if (!nodeAllowed) {
    const code = stripComments(text);
    for (const re of nodeUses) {
      const m = re.exec(code);
      if (m) problems.push(`${relative(root, file)} uses '${m[0]}': Node-specific code belongs in src/backend/platform/node.ts`);
    }
  }
  for (const { spec, type } of specifiers(text)) {
    const pkg = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0];
    if (spec.startsWith('node:') && !nodeAllowed) {
      problems.push(`${relative(root, file)} imports '${spec}': only src/backend/platform/node.ts may import Node's modules`);
      continue;
    }
    if (!spec.startsWith('.')) {
      if (gpuPackages.has(pkg) && from !== 'backend') problems.push(`${relative(root, file)} imports '${spec}': only src/backend may use gpu.js, webgpu and gl`);
      continue;
    }
    const target = resolveSpec(file, spec);
    if (!target) {
      problems.push(`${relative(root, file)} imports '${spec}', which does not resolve to a file`);
      continue;
    }
    if (!target.startsWith(src + sep)) {
      problems.push(`${relative(root, file)} imports '${spec}' from outside src/`);
      continue;
    }
    if (!type) edges.push(target);
    const to = dirOf(target);
    if (to !== from) {
      const key = `${from} -> ${to}`;
      if (!dirEdges.has(key)) dirEdges.set(key, `${relative(root, file)} imports '${spec}'`);
    }
  }
  runtimeEdges.set(file, edges);
}

// 1. layer direction
for (const [key, example] of dirEdges) {
  const [from, to] = key.split(' -> ');
  const a = layerOf(from);
  const b = layerOf(to);
  if (a >= 0 && b >= 0 && b > a) problems.push(`back-edge ${from === '.' ? 'src' : from}/ -> ${to === '.' ? 'src' : to}/: ${example}`);
}

// 2. cycles in the directory graph (Tarjan), which also covers directories outside the layer list;
//    directories of one layer may import each other (their files are held to no runtime cycle by 3.)
function sccs(nodes, succ) {
  let index = 0;
  const idx = new Map();
  const low = new Map();
  const stack = [];
  const on = new Set();
  const out = [];
  const strong = (v) => {
    idx.set(v, index);
    low.set(v, index++);
    stack.push(v);
    on.add(v);
    for (const w of succ(v)) {
      if (!idx.has(w)) {
        strong(w);
        low.set(v, Math.min(low.get(v), low.get(w)));
      } else if (on.has(w)) low.set(v, Math.min(low.get(v), idx.get(w)));
    }
    if (low.get(v) === idx.get(v)) {
      const comp = [];
      let w;
      do {
        w = stack.pop();
        on.delete(w);
        comp.push(w);
      } while (w !== v);
      out.push(comp);
    }
  };
  for (const v of nodes) if (!idx.has(v)) strong(v);
  return out;
}

const dirs = [...new Set(files.map(dirOf))];
const dirSucc = (d) => [...dirEdges.keys()].filter((k) => k.startsWith(`${d} -> `)).map((k) => k.split(' -> ')[1]);
for (const comp of sccs(dirs, dirSucc)) {
  const oneLayer = comp.every((d) => layerOf(d) >= 0 && layerOf(d) === layerOf(comp[0]));
  if (comp.length > 1 && !oneLayer) {
    const inside = [...dirEdges].filter(([k]) => comp.includes(k.split(' -> ')[0]) && comp.includes(k.split(' -> ')[1]));
    problems.push(`directory cycle ${comp.join(' <-> ')}:\n    ${inside.map(([k, ex]) => `${k}: ${ex}`).join('\n    ')}`);
  }
}

// 3. file-level cycles of the runtime graph
for (const comp of sccs(files, (f) => runtimeEdges.get(f) ?? [])) {
  if (comp.length > 1) problems.push(`import cycle between files: ${comp.map((f) => relative(root, f)).join(' <-> ')}`);
}

const edgeList = [...dirEdges.keys()].sort().join(', ');
if (problems.length) {
  console.error(`check-cycles: ${problems.length} problem(s) in the import graph of ${relative(root, src)}/:`);
  for (const p of problems) console.error(`  - ${p}`);
  process.exit(1);
}
console.log(`check-cycles: ${files.length} files, directory edges: ${edgeList || 'none'}; no back-edges, no import cycle.`);
