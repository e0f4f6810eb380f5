/**
 * The suite in a real browser: Debian's Chromium driven by playwright-core
 * (no browser download), software GPU through SwiftShader.
 *
 * At load time this file serves the repository (node:http), opens
 * - test/browser/smoke.html: the library bundle dist/browser/gpugrad.js imported
 *   the way a web page does (no Node globals), forward/backward on every device
 *   the page offers, gradcheck, safetensors from Blob/ArrayBuffer/Response;
 * - test/browser/index.html: the share of the mocha suite listed in
 *   test/browser/suite.ts (dist/browser/tests.js), on every browser device,
 * and replays every outcome here as a mocha test tagged `[device=chromium:NAME]`,
 * so `scripts/run-tests.mjs` counts them per browser device.
 *
 * Skips say why (no Chromium, not requested). With CI=true, a missing Chromium
 * or a browser device that does not run (`cpu`, `gpu:cpu`, `gpu:webgl2`,
 * `gpu:webgl`, `gpu:webgpu`) is a failure.
 * Env: GPUGRAD_TEST_DEVICES (runs here when unset or when it names `chromium`),
 * GPUGRAD_BROWSER_DEVICES (limits the devices inside the page),
 * GPUGRAD_BROWSER_TIMEOUT (seconds, default 900), GPUGRAD_CHROMIUM (executable).
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

interface Result {
  title: string;
  state: 'passed' | 'failed' | 'skipped';
  reason?: string;
  error?: string;
}
interface Smoke {
  results: Result[];
  devices: string[];
  infos: Record<string, { backend: string; adapter: string }>;
  reasons: Record<string, string>;
}
type ChromiumModule = typeof import('../../scripts/browser/chromium.mjs');
type ServeModule = typeof import('../../scripts/browser/serve.mjs');

/** The browser devices gpugrad offers; with CI=true each must run. */
export const browserDevices = ['cpu', 'gpu:webgl2', 'gpu:webgl', 'gpu:webgpu', 'gpu:cpu'] as const;

const root = fileURLToPath(new URL('../../../', import.meta.url));
const isCI = process.env['CI'] === 'true';
const wantedDevices = (process.env['GPUGRAD_TEST_DEVICES'] ?? '').split(',').filter(Boolean);
const grep = process.env['GPUGRAD_TEST_GREP'];

/** Why the browser run is not started here, or null. */
function notRequested(): string | null {
  if (process.env['GPUGRAD_TEST_BROWSER'] === '0') return 'GPUGRAD_TEST_BROWSER=0';
  if (wantedDevices.length && !wantedDevices.some((d) => d.startsWith('chromium'))) return `GPUGRAD_TEST_DEVICES=${wantedDevices.join(',')} does not name chromium`;
  return null;
}

/** Build the bundles when the build step did not (e.g. only tsc ran). */
function ensureBundles(): string | null {
  if (existsSync(`${root}dist/browser/gpugrad.js`) && existsSync(`${root}dist/browser/tests.js`)) return null;
  const r = spawnSync(process.execPath, [`${root}scripts/build-browser.mjs`, '--quiet'], { cwd: root, encoding: 'utf8' });
  return r.status === 0 ? null : `scripts/build-browser.mjs failed: ${r.stderr || r.stdout}`;
}

interface Outcome {
  chromium: string | null;
  smoke?: Smoke;
  suite?: Result[];
  error?: string;
}

async function runInChromium(): Promise<Outcome> {
  const { findChromium, launchChromium } = (await import(`${root}scripts/browser/chromium.mjs`)) as ChromiumModule;
  const { serveStatic } = (await import(`${root}scripts/browser/serve.mjs`)) as ServeModule;
  const found = findChromium();
  if (!found.path) return { chromium: found.reason ?? 'no Chromium' };
  const built = ensureBundles();
  if (built) return { chromium: null, error: built };
  const timeout = Number(process.env['GPUGRAD_BROWSER_TIMEOUT'] ?? 900) * 1000;
  const server = await serveStatic(root);
  let browser: Awaited<ReturnType<ChromiumModule['launchChromium']>> | undefined;
  try {
    browser = await launchChromium();
    const page = await browser.context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('console', (m) => {
      if (m.type() === 'error' || m.text().startsWith('browser test failed')) console.log(`  [chromium] ${m.text()}`);
    });
    await page.goto(`${server.url}/test/browser/smoke.html`);
    await page.waitForFunction(() => 'gpugradResults' in globalThis, undefined, { timeout });
    const smoke = (await page.evaluate(() => (globalThis as unknown as { gpugradResults: Promise<unknown> }).gpugradResults)) as Smoke;
    if (errors.length) smoke.results.push({ title: 'the smoke page raised no errors', state: 'failed', error: errors.join('\n') });
    await page.close();

    const env: Record<string, string> = {};
    if (isCI) env['CI'] = 'true';
    const limit = process.env['GPUGRAD_BROWSER_DEVICES'];
    if (limit) env['GPUGRAD_TEST_DEVICES'] = limit;
    const suitePage = await browser.context.newPage();
    suitePage.on('pageerror', (e) => errors.push(e.message));
    suitePage.on('console', (m) => {
      if (m.type() === 'error' || m.text().startsWith('browser test failed')) console.log(`  [chromium] ${m.text().slice(0, 400)}`);
    });
    await suitePage.goto(`${server.url}/test/browser/index.html?env=${encodeURIComponent(JSON.stringify(env))}`);
    await suitePage.waitForFunction(() => 'gpugradResults' in globalThis, undefined, { timeout });
    const suite = (await suitePage.evaluate(() => (globalThis as unknown as { gpugradResults: Promise<unknown> }).gpugradResults)) as Result[];
    return { chromium: null, smoke, suite };
  } catch (e) {
    return { chromium: null, error: (e as Error).stack ?? String(e) };
  } finally {
    await browser?.close();
    await server.close();
  }
}

/** `[device=cpu] ...` → ['chromium:cpu', '...']; untagged titles go to 'chromium'. */
function split(title: string): [string, string] {
  const m = /\[device=([^\]]+)\]\s*/.exec(title);
  if (!m) return ['chromium', title];
  return [`chromium:${m[1]}`, title.replace(m[0], '').trim()];
}

function replay(results: Result[], prefix: string): void {
  const byDevice = new Map<string, Result[]>();
  for (const r of results) {
    const [device, title] = split(r.title);
    const list = byDevice.get(device) ?? [];
    list.push({ ...r, title });
    byDevice.set(device, list);
  }
  for (const [device, list] of byDevice) {
    describe(`${prefix} [device=${device}]`, function () {
      for (const r of list) {
        it(r.title, function () {
          if (r.state === 'skipped') {
            Object.assign(this.test ?? {}, { gpugradSkipReason: r.reason ?? 'skipped in the page (no reason given)' });
            this.skip();
          }
          if (r.state === 'failed') throw new Error(`in Chromium: ${r.error ?? 'failed'}`);
        });
      }
    });
  }
}

const skipWhy = notRequested();
if (grep && !/chromium|browser/i.test(grep)) {
  // a grep run of other tests (run-tests' per-device passes): nothing here can match
} else if (skipWhy) {
  describe('browser [device=chromium]', function () {
    it('runs the suite in Chromium', function () {
      Object.assign(this.test ?? {}, { gpugradSkipReason: `not requested: ${skipWhy}` });
      this.skip();
    });
  });
} else {
  const t0 = Date.now();
  const outcome = await runInChromium();
  const seconds = ((Date.now() - t0) / 1000).toFixed(1);
  if (outcome.chromium !== null) {
    describe('browser [device=chromium]', function () {
      it('runs the suite in Chromium', function () {
        if (isCI) throw new Error(`CI=true requires Chromium: ${outcome.chromium}`);
        Object.assign(this.test ?? {}, { gpugradSkipReason: `Chromium not found: ${outcome.chromium}` });
        this.skip();
      });
    });
  } else if (outcome.error !== undefined || !outcome.smoke || !outcome.suite) {
    describe('browser [device=chromium]', function () {
      it('runs the suite in Chromium', function () {
        throw new Error(outcome.error ?? 'no results came back');
      });
    });
  } else {
    const { smoke, suite } = outcome;
    console.log(
      `  [chromium] ${seconds}s; devices: ${smoke.devices.map((d) => `${d} (${smoke.infos[d]?.adapter ?? '?'})`).join(', ')}` +
        (Object.keys(smoke.reasons).length ? `; not available: ${Object.entries(smoke.reasons).map(([d, r]) => `${d}: ${r}`).join('; ')}` : ''),
    );
    replay(smoke.results, 'bundle smoke');
    replay(suite, 'suite');
    describe('browser [device=chromium]', function () {
      for (const d of browserDevices) {
        it(`offers ${d}`, function () {
          if (smoke.devices.includes(d)) return;
          const why = smoke.reasons[d] ?? 'not listed by gg.availableDevices()';
          if (isCI) throw new Error(`CI=true requires ${d} in Chromium: ${why}`);
          Object.assign(this.test ?? {}, { gpugradSkipReason: `${d} not available in Chromium: ${why}` });
          this.skip();
        });
      }
    });
  }
}
