/**
 * Tests parameterised over the devices present (jax-js / tfjs `describeWithFlags` style).
 *
 * ```ts
 * forEachDevice((device) => {
 *   it('adds', async () => { ... gg.tensor([1], { device }) ... });
 * });
 * ```
 * Each device gets a `describe('[device=NAME]')`; `scripts/run-tests.mjs`
 * groups results by that tag. A device that does not run here gets the same
 * tests, skipped with the reason from `gg.unavailableReasons`; with `CI=true`
 * it gets one failing test instead (CI machines must run every device).
 *
 * The device list is computed once, at load time, with top-level await
 * (mocha needs describe blocks synchronously).
 *
 * Environment:
 * - `GPUGRAD_TEST_DEVICES=gpu:webasm,gpu:cpu` limits the gpu.js devices
 *   (`cpu` always runs); the first one listed is opened first, so a device that
 *   cannot share a process with another (headless-gl and Dawn's OpenGL ES)
 *   gets the system OpenGL.
 * - `GPUGRAD_TEST_DEFERRED=<file>` (set by run-tests.mjs): devices that could
 *   not start in this process because another device owns OpenGL are written
 *   there, one a line, and run-tests runs their tests in a process of their own.
 */
import { appendFileSync } from 'node:fs';
import * as gg from '../../src/index.js';

export const isCI = process.env['CI'] === 'true';
const wanted = (process.env['GPUGRAD_TEST_DEVICES'] ?? '').split(',').map((s) => s.trim()).filter(Boolean);
const deferredFile = process.env['GPUGRAD_TEST_DEFERRED'];

// open the wanted devices first (in the order given) so they win a shared resource;
// a device that fails here keeps this first reason (later probes would only see the conflict)
const initErrors = new Map<string, string>();
for (const d of wanted) {
  if (d === 'cpu' || d === 'gpu' || d === 'gpu:webgpu') continue;
  try {
    await gg.initDevice(d);
  } catch (e) {
    initErrors.set(d, (e as Error).message.replace(/^device '[^']*' is not available here: /, ''));
  }
}
const found = await gg.availableDevices();

/** Concrete devices that run here (no `'gpu'` alias), `cpu` first. */
export const availableDevices: readonly string[] = found.filter((d) => d !== 'gpu');

/** Why a device does not run here (null when it does). */
export function unavailableReason(device: string): string | null {
  if (availableDevices.includes(device)) return null;
  return initErrors.get(device) ?? gg.unavailableReasons.get(device) ?? 'unknown device';
}

/** A reason meaning "it would run, but not in this process" (another device owns OpenGL). */
function needsOwnProcess(reason: string): boolean {
  return /cannot share (a|one) process|not tried, headless-gl already owns/.test(reason);
}

/** Every concrete device gpugrad knows, in probe order, filtered by GPUGRAD_TEST_DEVICES. */
export const allDevices: readonly string[] = [...new Set([...availableDevices, ...gg.unavailableReasons.keys()])].filter(
  (d) => d === 'cpu' || wanted.length === 0 || wanted.includes(d),
);

const deferred = new Set<string>();
if (deferredFile) {
  for (const d of allDevices) {
    const reason = unavailableReason(d);
    if (reason !== null && needsOwnProcess(reason) && !wanted.includes(d)) deferred.add(d);
  }
}
const reported = new Set<string>();
/** Tell run-tests.mjs (once per device) that `device` has tests to run in a process of its own. */
function defer(device: string): void {
  if (!deferredFile || reported.has(device)) return;
  reported.add(device);
  appendFileSync(deferredFile, `${device}\n`);
}

/** Mark a test or suite skipped for `reason` (read by run-tests.mjs). */
export function setSkipReason(target: Mocha.Runnable | Mocha.Suite | undefined, reason: string): void {
  if (target) Object.assign(target, { gpugradSkipReason: reason });
}

/** Skip the running test with a reason that the summary prints. */
export function skipBecause(ctx: Mocha.Context, reason: string): never {
  const r = ctx.currentTest ?? ctx.test;
  // from a before() hook the whole suite is skipped: the reason goes on the suite
  setSkipReason((r as { type?: string } | undefined)?.type === 'hook' ? r?.parent : r, reason);
  ctx.skip();
}

/** Options of `forEachDevice`. */
export interface ForEachDeviceOptions {
  /** Leave out `cpu` (e.g. parity tests against the cpu reference). */
  skipCpu?: boolean;
  /** Only devices for which this returns true. */
  filter?: (device: string) => boolean;
}

/**
 * Define `fn`'s tests once per device, inside `describe('[device=NAME]')`.
 * @example forEachDevice((device) => it('works', async () => { gg.ones([2], { device }) }));
 */
export function forEachDevice(fn: (device: string) => void, opts: ForEachDeviceOptions = {}): void {
  for (const device of allDevices) {
    if (opts.skipCpu && device === 'cpu') continue;
    if (opts.filter && !opts.filter(device)) continue;
    if (deferred.has(device)) {
      defer(device); // its tests run in a process of their own (run-tests.mjs)
      continue;
    }
    const reason = unavailableReason(device);
    if (reason === null) {
      describe(`[device=${device}]`, function () {
        fn(device);
      });
    } else if (isCI) {
      describe(`[device=${device}]`, function () {
        it('is available (CI=true requires every device)', function () {
          throw new Error(`device ${device} is not available: ${reason}`);
        });
      });
    } else {
      const suite = describe(`[device=${device}]`, function () {
        beforeEach(function () {
          skipBecause(this, `not available: ${reason}`);
        });
        fn(device);
      });
      setSkipReason(suite, `not available: ${reason}`);
    }
  }
}

/** Wait for a device's queued work (async devices) by reading a tiny result. */
export async function settle(t: gg.Tensor): Promise<void> {
  await t.data();
}

/** Whether `device` can read values synchronously. */
export function syncReadable(device: string): boolean {
  return gg.deviceInfo(device).syncRead;
}
