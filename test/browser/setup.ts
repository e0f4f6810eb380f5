/**
 * First module of the browser test bundle: mocha's browser build (globals
 * `describe`, `it`, ...) and the `process.env` the shared test helpers read,
 * taken from the page (`window.gpugradTestEnv`, set by test/browser/index.html
 * from its query string). Only the test bundle gets this `process`; the
 * library bundle itself never reads one.
 */
import 'mocha/mocha.js';

interface TestWindow {
  gpugradTestEnv?: Record<string, string>;
  process?: { env: Record<string, string | undefined> };
  mocha: { setup(opts: Record<string, unknown>): void };
}

const w = globalThis as unknown as TestWindow;
w.process ??= { env: { ...(w.gpugradTestEnv ?? {}) } };
// a silent reporter: test/browser/suite.ts collects results from the runner's events
w.mocha.setup({ ui: 'bdd', reporter: function silent() {}, timeout: 120000, checkLeaks: false });
