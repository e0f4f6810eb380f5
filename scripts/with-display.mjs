#!/usr/bin/env node
// Run `node <args>` where an X display exists, for headless-gl (gpu:headlessgl).
// With DISPLAY set, or without xvfb-run on PATH, runs node directly; otherwise
// re-execs under `xvfb-run -a -s "-screen 0 1x1x24"`. Also sets
// EGL_PLATFORM=surfaceless (if unset) for Dawn's OpenGL ES backend (gpu:webgpu).
// Usage: node scripts/with-display.mjs dist/examples/mnist-norms.js [args...]
import { spawnSync } from 'node:child_process';
import { delimiter, join } from 'node:path';
import { existsSync } from 'node:fs';

const args = process.argv.slice(2);
if (args.length === 0) {
  console.error('usage: node scripts/with-display.mjs <script.js | node_modules/.bin/tool> [args...]');
  process.exit(2);
}
const env = { ...process.env };
env.EGL_PLATFORM ??= 'surfaceless';

const onPath = (cmd) => (env.PATH ?? '').split(delimiter).some((dir) => dir && existsSync(join(dir, cmd)));
const wrap = !env.DISPLAY && process.platform === 'linux' && onPath('xvfb-run');
const [cmd, cmdArgs] = wrap
  ? ['xvfb-run', ['-a', '-s', '-screen 0 1x1x24', process.execPath, ...args]]
  : [process.execPath, args];

const r = spawnSync(cmd, cmdArgs, { stdio: 'inherit', env });
if (r.error) {
  console.error(`with-display: could not run ${cmd}: ${r.error.message}`);
  process.exit(1);
}
if (r.signal) process.kill(process.pid, r.signal);
process.exit(r.status ?? 1);
