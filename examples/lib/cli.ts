/**
 * Small shared helpers for the examples: run-when-executed-directly, device
 * choice, timing and a plain-text table.
 *
 * @module
 */
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import * as gg from '../../src/index.js';

/**
 * A command-line mistake (an unknown flag, a value that is not a number, a
 * device that is not known or not here): `runCli` prints its message and the
 * example's usage line, without a stack trace, and exits with status 2.
 */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** What every example prints first in quick mode, so a quick run is not read as the documented results. */
export const SMOKE_TEST_NOTE = 'quick mode: a smoke test (small sizes, few steps), not the measured results of docs/notes/examples.md; run without --quick for those';

type Options = NonNullable<ParseArgsConfig['options']>;

/**
 * Parse `argv` with Node's `util.parseArgs` (strict: an unknown flag, a
 * missing value or a positional argument is a {@link UsageError}); `--help`
 * / `-h` prints `usage` and exits 0.
 *
 * @example const v = parseFlags('usage: x [--quick]', { quick: { type: 'boolean' } });
 */
export function parseFlags<const O extends Options>(usage: string, options: O, argv: string[] = process.argv.slice(2)): FlagValues<O> {
  let values: Record<string, unknown>;
  try {
    values = parseArgs({ args: argv, options: { ...options, help: { type: 'boolean', short: 'h' } }, strict: true, allowPositionals: false }).values;
  } catch (e) {
    throw new UsageError(e instanceof Error ? e.message : String(e));
  }
  if (values['help']) {
    console.log(usage);
    process.exit(0);
  }
  return values as FlagValues<O>;
}

/** The values `parseFlags` returns: a string (or strings, for `multiple`) or a boolean per flag, undefined when absent. */
export type FlagValues<O extends Options> = {
  [K in keyof O]?: O[K] extends { type: 'boolean' } ? boolean : O[K] extends { multiple: true } ? string[] : string;
};

/**
 * A flag's value as a number (undefined when the flag is absent).
 *
 * @throws UsageError when it is not a finite number, or not a positive integer where `integer` is set
 * @example const steps = numberFlag('--steps', values.steps, { integer: true });
 */
export function numberFlag(flag: string, value: string | undefined, opts: { integer?: boolean } = {}): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n)) throw new UsageError(`${flag} expects a number, got '${value}'`);
  if (opts.integer && !(Number.isInteger(n) && n > 0)) throw new UsageError(`${flag} expects a positive integer, got '${value}'`);
  return n;
}

/**
 * Run an example's command line: `body` parses the flags and runs `main`.
 * A {@link UsageError} (thrown while parsing, or by `pickDevice` for a bad
 * `--device`) prints `error: ...` and `usage` on stderr and exits 2; success
 * exits with `body`'s status (default 0). Any other error keeps its stack
 * trace: that is a bug, not a typing mistake.
 *
 * @example if (isMain(import.meta.url)) await runCli(USAGE, async () => { await main(parse()); });
 */
export async function runCli(usage: string, body: () => Promise<number | void>): Promise<never> {
  let status: number;
  try {
    status = (await body()) ?? 0;
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    console.error(`error: ${e.message}`);
    console.error(usage);
    status = 2;
  }
  // NOTE: a live GPU runtime (Dawn, worker threads) keeps the event loop alive
  process.exit(status);
}

/**
 * True when the module at `importMetaUrl` is the script node was started with
 * (so `import { main } from './x.js'` in a test does not run the example).
 *
 * @example if (isMain(import.meta.url)) await main(parseCli());
 */
export function isMain(importMetaUrl: string): boolean {
  const script = process.argv[1];
  if (!script) return false;
  try {
    return realpathSync(fileURLToPath(importMetaUrl)) === realpathSync(script);
  } catch {
    return false;
  }
}

/**
 * The device to run on: `requested` if given (opened, `'gpu'` resolved to its
 * concrete mode), else the first entry of `gg.availableDevices()` with
 * `'gpu'` resolved to the mode it stands for (the registry lists devices
 * best first).
 */
export async function pickDevice(requested?: string): Promise<string> {
  if (requested) return openRequested(requested);
  const names = await gg.availableDevices();
  // a hardware adapter wins; with only software renderers (llvmpipe, SwiftShader,
  // gpu.js's CPU modes) the reference cpu device measured fastest (docs/notes/bench.md)
  if (names.includes('gpu') && !gg.deviceInfo('gpu').software) return gg.initDevice('gpu');
  return gg.initDevice('cpu');
}

/**
 * Open a device named on the command line.
 *
 * @throws UsageError with gpugrad's reason when the name is unknown or the device does not run here
 */
export async function openRequested(name: string): Promise<string> {
  try {
    return await gg.initDevice(name);
  } catch (e) {
    throw new UsageError(`--device ${name}: ${e instanceof Error ? e.message : String(e)}`);
  }
}

/** One line describing a device, e.g. `gpu:webasm: gpu.js webasm (...) on host CPU, 2 threads (software)`. */
export function describeDevice(name: string): string {
  const info = gg.deviceInfo(name);
  return `${info.name}: ${info.backend} on ${info.adapter}${info.software ? ' (software)' : ''}`;
}

/** Milliseconds since `start` (from `performance.now()`). */
export function since(start: number): number {
  return performance.now() - start;
}

/** Seconds with one decimal, e.g. `12.3 s`. */
export function fmtSeconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

/**
 * A plain-text table with right-aligned numeric-looking cells.
 *
 * @example console.log(table(['run', 'acc'], [['BN', '97.1%']]));
 */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const fmt = (cells: string[]) =>
    cells
      .map((c, i) => (/^[-+\d.]/.test(c) && i > 0 ? c.padStart(widths[i] ?? 0) : c.padEnd(widths[i] ?? 0)))
      .join('  ');
  return [fmt(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(fmt)].join('\n');
}

/**
 * An example's opening: its logger, the quick-mode note, the device
 * (`pickDevice(device)`) and a line naming it.
 */
export async function openExample(opts: { quick: boolean; verbose: boolean; device?: string }): Promise<{ log: (s: string) => void; device: string }> {
  const log = logger(opts.verbose);
  if (opts.quick) log(SMOKE_TEST_NOTE);
  const device = await pickDevice(opts.device);
  log(`device ${describeDevice(device)}`);
  return { log, device };
}

/** A `console.log` that prints only when `verbose`. */
export function logger(verbose: boolean): (s: string) => void {
  return (s) => {
    if (verbose) console.log(s);
  };
}

/** Maximum absolute difference of two equally long arrays. */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`maxAbsDiff: lengths differ (${a.length} vs ${b.length})`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs((a[i] as number) - (b[i] as number)));
  return m;
}

/** `|a - b| <= atol + rtol·|b|` elementwise (torch.allclose). */
export function allclose(a: ArrayLike<number>, b: ArrayLike<number>, rtol = 1e-5, atol = 1e-8): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    const x = a[i] as number;
    const y = b[i] as number;
    if (!(Math.abs(x - y) <= atol + rtol * Math.abs(y))) return false;
  }
  return true;
}
