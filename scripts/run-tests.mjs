#!/usr/bin/env node
// The single test entry (`npm test` ends with it): mocha over dist/test/**/*.test.js.
//
// - Where there is no X display and `xvfb-run` exists, re-runs itself under
//   `xvfb-run -a -s "-screen 0 1x1x24"` (through scripts/with-display.mjs),
//   so headless-gl gets a display; sets EGL_PLATFORM=surfaceless for Dawn.
// - Checks the import graph first (scripts/check-cycles.mjs).
// - Runs the suites in a child process, and a device that cannot share that
//   process with another (headless-gl vs Dawn's OpenGL ES; see
//   test/helpers/devices.ts) in a process of its own, limited to its
//   `[device=NAME]` tests.
// - Prints one line per device ("device gpu:webgpu: 212 passed, 0 failed,
//   3 skipped" and the skip reasons), then a last line `N passed, N failed,
//   N skipped`; exits non-zero on any failure. Skipped tests never count as passed.
//
// Usage: node scripts/run-tests.mjs [test files or dirs under dist/test ...] [--grep PATTERN]
// Env: GPUGRAD_TEST_DEVICES limits devices, CI=true makes a missing device a failure,
//      MOCHA_REPORTER picks the per-test reporter (default spec), MOCHA_TIMEOUT (ms).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync, appendFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const self = fileURLToPath(import.meta.url);
const args = process.argv.slice(2);


// ---------------------------------------------------------------------------------------------

function onPath(cmd) {
  return (process.env.PATH ?? '').split(delimiter).some((dir) => dir && existsSync(join(dir, cmd)));
}

/** Re-run under a virtual X display when there is none (once). */
function ensureDisplay() {
  process.env.EGL_PLATFORM ??= 'surfaceless';
  if (process.env.DISPLAY || process.env.GPUGRAD_RUN_TESTS_WRAPPED || process.platform !== 'linux' || !onPath('xvfb-run')) return;
  const env = { ...process.env, GPUGRAD_RUN_TESTS_WRAPPED: '1' };
  const withDisplay = join(root, 'scripts', 'with-display.mjs');
  const [cmd, cmdArgs] = existsSync(withDisplay)
    ? [process.execPath, [withDisplay, self, ...args]]
    : ['xvfb-run', ['-a', '-s', '-screen 0 1x1x24', process.execPath, self, ...args]];
  const r = spawnSync(cmd, cmdArgs, { stdio: 'inherit', env, cwd: root });
  if (r.error) {
    console.error(`run-tests: could not start ${cmd}: ${r.error.message}`);
    process.exit(1);
  }
  process.exit(r.status ?? 1);
}

function findTests(paths) {
  const out = [];
  const walk = (p) => {
    if (!existsSync(p)) return;
    if (statSync(p).isDirectory()) {
      for (const name of readdirSync(p).sort()) walk(join(p, name));
    } else if (p.endsWith('.test.js')) out.push(p);
  };
  for (const p of paths) walk(resolve(root, p));
  return [...new Set(out)];
}

const escapeRe = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');


/** Run one mocha process; returns its records (and a failure record when it crashed). */
function runPass(name, files, env) {
  const dir = mkdtempSync(join(tmpdir(), 'gpugrad-tests-'));
  const resultsFile = join(dir, 'results.jsonl');
  const deferredFile = join(dir, 'deferred.txt');
  writeFileSync(resultsFile, '');
  writeFileSync(deferredFile, '');
  const t0 = Date.now();
  const r = spawnSync(process.execPath, [self, '--child', ...files], {
    stdio: 'inherit',
    cwd: root,
    env: { ...process.env, ...env, GPUGRAD_TEST_RESULTS: resultsFile, GPUGRAD_TEST_DEFERRED: deferredFile },
  });
  const records = readFileSync(resultsFile, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l));
  const deferred = [...new Set(readFileSync(deferredFile, 'utf8').split('\n').filter(Boolean))];
  const finished = records.some((rec) => rec.kind === 'end');
  const failures = records.filter((rec) => rec.state === 'failed').length;
  if (r.error || r.signal || !finished || (r.status !== 0 && failures === 0)) {
    const why = r.error ? r.error.message : r.signal ? `killed by ${r.signal}` : !finished ? `exited with code ${r.status} before the run finished` : `exited with code ${r.status}`;
    records.push({ kind: 'test', state: 'failed', device: env.GPUGRAD_TEST_DEVICES && name !== 'main' ? env.GPUGRAD_TEST_DEVICES : null, title: `test process "${name}"`, error: why });
  }
  rmSync(dir, { recursive: true, force: true });
  return { records: records.filter((rec) => rec.kind !== 'end'), deferred, seconds: (Date.now() - t0) / 1000 };
}

async function parent(argv) {
  ensureDisplay();
  const started = Date.now();
  const paths = [];
  let grep;
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--grep') grep = argv[++i];
    else paths.push(argv[i]);
  }
  const files = findTests(paths.length ? paths : ['dist/test']);
  const all = [];
  const passes = [];

  // the import graph first: cheap, and a back-edge is a failure like any other
  const cycles = spawnSync(process.execPath, [join(root, 'scripts', 'check-cycles.mjs')], { stdio: 'inherit', cwd: root });
  if (cycles.status !== 0) all.push({ kind: 'test', state: 'failed', device: null, title: 'import graph (scripts/check-cycles.mjs)', error: 'back-edges in src/' });

  if (files.length === 0) {
    console.error(`run-tests: no *.test.js files under ${paths.length ? paths.join(', ') : 'dist/test'} (run the build first)`);
    process.exit(1);
  }

  const main = runPass('main', files, grep ? { GPUGRAD_TEST_GREP: grep } : {});
  all.push(...main.records);
  passes.push(`main ${main.seconds.toFixed(1)}s`);
  for (const device of main.deferred) {
    console.log(`\nrun-tests: ${device} cannot share a process with another device here; running its tests in a process of its own\n`);
    const pattern = `\\[device=${escapeRe(device)}\\]`;
    const pass = runPass(device, files, {
      GPUGRAD_TEST_DEVICES: device,
      GPUGRAD_TEST_GREP: grep ? `(?=.*${pattern})(?=.*(?:${grep}))` : pattern,
    });
    all.push(...pass.records);
    passes.push(`${device} ${pass.seconds.toFixed(1)}s`);
  }

  summarize(all, passes, (Date.now() - started) / 1000);
}

function summarize(records, passes, seconds) {
  const byDevice = new Map();
  const group = (d) => {
    let g = byDevice.get(d);
    if (!g) byDevice.set(d, (g = { passed: 0, failed: 0, skipped: 0, reasons: new Map(), failures: [] }));
    return g;
  };
  for (const rec of records) {
    const g = group(rec.device ?? null);
    g[rec.state]++;
    if (rec.state === 'skipped') {
      const reason = rec.reason ?? 'skipped (no reason given)';
      g.reasons.set(reason, (g.reasons.get(reason) ?? 0) + 1);
    }
    if (rec.state === 'failed') g.failures.push(rec);
  }
  const totals = { passed: 0, failed: 0, skipped: 0 };
  for (const g of byDevice.values()) for (const k of Object.keys(totals)) totals[k] += g[k];

  const failed = records.filter((r) => r.state === 'failed');
  console.log('\n==================== gpugrad test summary ====================');
  if (failed.length) {
    console.log('Failures:');
    for (const f of failed) console.log(`  ✗ ${f.title}\n      ${String(f.error ?? '').split('\n')[0]}`);
    console.log('');
  }
  const devices = [...byDevice.keys()].filter((d) => d !== null);
  devices.sort((a, b) => (a === 'cpu' ? -1 : b === 'cpu' ? 1 : a.localeCompare(b)));
  for (const d of devices) {
    const g = byDevice.get(d);
    console.log(`device ${d}: ${g.passed} passed, ${g.failed} failed, ${g.skipped} skipped`);
    for (const [reason, n] of g.reasons) console.log(`    ${n} skipped: ${reason}`);
  }
  const none = byDevice.get(null);
  if (none) {
    console.log(`not device-specific: ${none.passed} passed, ${none.failed} failed, ${none.skipped} skipped`);
    for (const [reason, n] of none.reasons) console.log(`    ${n} skipped: ${reason}`);
  }
  console.log(`(processes: ${passes.join(', ')}; total ${seconds.toFixed(1)}s)`);
  console.log(`${totals.passed} passed, ${totals.failed} failed, ${totals.skipped} skipped`);
  process.exit(totals.failed > 0 || totals.passed === 0 ? 1 : 0);
}

// ---------------------------------------------------------------------------------------------

/** In the child: run mocha over `files`, writing one JSON line per result to GPUGRAD_TEST_RESULTS. */
async function child(files) {
  const { default: Mocha } = await import('mocha');
  const out = process.env.GPUGRAD_TEST_RESULTS;
  const write = (rec) => {
    if (out) appendFileSync(out, `${JSON.stringify(rec)}\n`);
  };
  const grep = process.env.GPUGRAD_TEST_GREP;
  const mocha = new Mocha({
    reporter: process.env.MOCHA_REPORTER ?? 'spec',
    timeout: Number(process.env.MOCHA_TIMEOUT ?? 60000),
    ...(grep ? { grep: new RegExp(grep) } : {}),
  });
  for (const f of files) mocha.addFile(f);
  try {
    await mocha.loadFilesAsync();
  } catch (e) {
    write({ kind: 'test', state: 'failed', device: null, title: 'loading the test files', error: e?.stack ?? String(e) });
    write({ kind: 'end' });
    console.error(e);
    process.exit(1);
  }

  const deviceOf = (r) => /\[device=([^\]]+)\]/.exec(r.fullTitle())?.[1] ?? null;
  const reasonOf = (r) => {
    for (let x = r; x; x = x.parent) if (typeof x.gpugradSkipReason === 'string') return x.gpugradSkipReason;
    return undefined;
  };
  const fileOf = (r) => (r.file ? relative(root, r.file) : undefined);
  // a test can report twice (an error after it passed); keep its last state
  const tests = new Map();
  const hooks = [];
  const runner = mocha.run((failures) => {
    for (const rec of [...tests.values(), ...hooks]) write(rec);
    write({ kind: 'end', failures });
    // NOTE: GPU runtimes (Dawn, worker threads) keep the event loop alive; exit as `mocha --exit` does
    setImmediate(() => process.exit(failures ? 1 : 0));
  });
  runner.on('pass', (t) => tests.set(t, { kind: 'test', state: 'passed', device: deviceOf(t), title: t.fullTitle(), file: fileOf(t) }));
  runner.on('pending', (t) => tests.set(t, { kind: 'test', state: 'skipped', device: deviceOf(t), title: t.fullTitle(), file: fileOf(t), reason: reasonOf(t) }));
  runner.on('fail', (r, err) => {
    const rec = { kind: r.type === 'hook' ? 'hook' : 'test', state: 'failed', device: deviceOf(r), title: r.fullTitle(), file: fileOf(r), error: err?.message ?? String(err) };
    if (r.type === 'hook') hooks.push(rec);
    else tests.set(r, rec);
  });
}

// ---------------------------------------------------------------------------------------------

if (args[0] === '--child') {
  await child(args.slice(1));
} else {
  await parent(args);
}
