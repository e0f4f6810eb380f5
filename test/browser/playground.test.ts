/**
 * The playground as a person sees it, in Chromium: load the page, run an
 * example (its graph is drawn as SVG by Graphviz), step the trace, run
 * gradcheck (Jacobian tables), train a few steps (loss and accuracy plots
 * drawn, the loss falls, SwitchableNorm2d weights plotted), and save
 * screenshots to out/screenshots/ (GPUGRAD_SCREENSHOTS=DIR picks another
 * folder; `npm run screenshots` writes docs/img/).
 * Skips (with the reason) where Chromium or the built playground is missing;
 * with CI=true a missing Chromium fails.
 */
import { expect } from 'chai';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Page } from 'playwright-core';

type ChromiumModule = typeof import('../../scripts/browser/chromium.mjs');
type ServeModule = typeof import('../../scripts/browser/serve.mjs');

const root = fileURLToPath(new URL('../../../', import.meta.url));
const isCI = process.env['CI'] === 'true';
const wanted = (process.env['GPUGRAD_TEST_DEVICES'] ?? '').split(',').filter(Boolean);
const shots = process.env['GPUGRAD_SCREENSHOTS'] ?? join(root, 'out/screenshots');

describe('playground [device=chromium]', function () {
  this.timeout(300_000);
  let page: Page | undefined;
  let close: (() => Promise<void>) | undefined;
  const errors: string[] = [];

  before(async function () {
    const skip = (why: string): void => {
      Object.assign(this.currentTest ?? this.test ?? {}, { gpugradSkipReason: why });
      for (const t of this.test?.parent?.tests ?? []) Object.assign(t, { gpugradSkipReason: why });
      this.skip();
    };
    if (process.env['GPUGRAD_TEST_BROWSER'] === '0') return skip('not requested: GPUGRAD_TEST_BROWSER=0');
    if (wanted.length && !wanted.some((d) => d.startsWith('chromium'))) return skip(`not requested: GPUGRAD_TEST_DEVICES=${wanted.join(',')} does not name chromium`);
    const { findChromium, launchChromium } = (await import(`${root}scripts/browser/chromium.mjs`)) as ChromiumModule;
    const { serveStatic } = (await import(`${root}scripts/browser/serve.mjs`)) as ServeModule;
    const found = findChromium();
    if (!found.path) {
      if (isCI) throw new Error(`CI=true requires Chromium: ${found.reason}`);
      return skip(`Chromium not found: ${found.reason}`);
    }
    if (!existsSync(join(root, 'dist/playground/app.js'))) throw new Error('dist/playground/app.js is missing: run `npm run build` (it runs scripts/build-browser.mjs)');
    const server = await serveStatic(join(root, 'dist/playground'));
    const browser = await launchChromium();
    close = async () => {
      await browser.close();
      await server.close();
    };
    page = await browser.context.newPage();
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`${server.url}/`);
    await page.waitForSelector('body[data-ready]');
    mkdirSync(shots, { recursive: true });
  });

  after(async () => {
    await close?.();
  });

  it('lists the browser devices and loads without errors', async () => {
    const p = page as Page;
    expect(await p.getAttribute('body', 'data-ready')).to.equal('true');
    const devices = await p.$$eval('#device option', (os) => os.map((o) => (o as unknown as { value: string }).value));
    expect(devices).to.include('cpu');
    expect(errors, errors.join('\n')).to.deep.equal([]);
  });

  it('runs the BatchNorm2d example and draws its autograd graph', async () => {
    const p = page as Page;
    await p.selectOption('#example', { label: 'BatchNorm2d' });
    await p.click('#run');
    await p.waitForSelector('body[data-graph="drawn"]', { timeout: 60_000 });
    const nodes = await p.$$eval('#graph svg g.node', (gs) => gs.map((g) => g.textContent ?? ''));
    expect(nodes.length, 'graph nodes').to.be.greaterThan(3);
    expect(nodes.join(' ')).to.match(/AccumulateGrad/);
    expect(await p.textContent('#expr-out')).to.match(/x\.grad = shape \[3, 2, 2, 2\]/);
    // step the trace twice: the second node is highlighted in the drawing
    await p.click('#trace-next');
    await p.click('#trace-next');
    expect(await p.textContent('#trace-pos')).to.match(/^step 3 of \d+/);
    expect(await p.$$eval('#graph g.node.active', (gs) => gs.length)).to.equal(1);
    await p.locator('#graph-section').screenshot({ path: join(shots, 'playground-graph.png') });
  });

  it('runs gradcheck and shows the numerical and analytical Jacobians', async () => {
    const p = page as Page;
    await p.click('#gradcheck');
    await p.waitForSelector('body[data-gradcheck]', { timeout: 120_000 });
    expect(await p.getAttribute('body', 'data-gradcheck')).to.equal('passed');
    expect(await p.$$eval('#gradcheck-out table.jac', (ts) => ts.length)).to.equal(2);
    await p.locator('#gradcheck-section').screenshot({ path: join(shots, 'playground-gradcheck.png') });
  });

  it('trains a SwitchableNorm2d CNN: plots drawn and the loss falls', async () => {
    const p = page as Page;
    await p.selectOption('#norm', 'SwitchableNorm2d');
    await p.fill('#steps', '30');
    await p.click('#train');
    await p.waitForSelector('body[data-train="done"], body[data-train="error"]', { timeout: 240_000 });
    expect(await p.getAttribute('body', 'data-train'), (await p.textContent('#train-status')) ?? '').to.equal('done');
    const losses = JSON.parse((await p.getAttribute('body', 'data-losses')) ?? '[]') as number[];
    expect(losses.length).to.equal(30);
    const mean = (xs: number[]): number => xs.reduce((s, v) => s + v, 0) / xs.length;
    expect(mean(losses.slice(-5)), `losses ${losses.map((l) => l.toFixed(2)).join(' ')}`).to.be.lessThan(mean(losses.slice(0, 5)) * 0.8);
    expect(await p.$$eval('#loss-plot path.series', (ps) => ps.length)).to.equal(1);
    expect(await p.$$eval('#acc-plot path.series', (ps) => ps.length)).to.equal(1);
    expect(await p.$$eval('#sn-plot rect.bar', (rs) => rs.length)).to.equal(12);
    await p.locator('#train-section').screenshot({ path: join(shots, 'playground-train.png') });
    await p.screenshot({ path: join(shots, 'playground.png'), fullPage: true });
    expect(errors, errors.join('\n')).to.deep.equal([]);
  });
});
