/**
 * The playground as a person sees it, in Chromium: load the page, run an
 * example (its graph is `gg.autograd.graph.toDot` drawn as SVG by Graphviz),
 * step the engine's trace (`gg.autograd.trace`) with the gradient values,
 * stop at a NaN in anomaly mode (`gg.autograd.detectAnomaly`), run gradcheck
 * (Jacobian tables; a planted wrong backward fails), train a few steps (loss
 * and accuracy plots drawn, the loss falls, SwitchableNorm2d weights
 * plotted), and save
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
    // a page starts on the GPU device the browser offers (SwiftShader's here)
    const device = await p.inputValue('#device');
    expect(device).to.match(/^gpu:/);
    expect(await p.textContent('#device-info')).to.match(/software/);
    expect(errors, errors.join('\n')).to.deep.equal([]);
  });

  it('runs the BatchNorm2d example and draws its autograd graph', async () => {
    const p = page as Page;
    await p.selectOption('#example', { label: 'BatchNorm2d' });
    await p.click('#run');
    await p.waitForSelector('body[data-run="done"]', { timeout: 60_000 });
    expect(await p.getAttribute('body', 'data-graph')).to.equal('drawn');
    const nodes = await p.$$eval('#graph svg g.node', (gs) => gs.map((g) => g.textContent ?? ''));
    expect(nodes.length, 'graph nodes').to.be.greaterThan(3);
    const text = nodes.join(' ');
    // toDot's boxes: PyTorch's node names (the norm layer's one node, as PyTorch's), and leaves named from the setup (module parameters too)
    for (const want of ['SumBackward0', 'MulBackward0', 'NativeBatchNormBackward0', 'bn.weight', 'bn.bias']) expect(text, want).to.include(want);
    expect(await p.textContent('#dot')).to.match(/^digraph autograd \{/);
    expect(await p.textContent('#expr-out')).to.match(/x\.grad = shape \[3, 2, 2, 2\]/);
    // gg.autograd.trace's steps: as many as the engine visits, the library's table shown
    const total = Number(/^step 1 of (\d+)/.exec((await p.textContent('#trace-pos')) ?? '')?.[1]);
    expect(total, 'trace steps').to.be.greaterThan(5);
    expect(await p.textContent('#trace')).to.match(/step\s+node\s+waited\s+grad in\s+grad out/);
    // step the trace twice: the third step's node is highlighted, the edges it sends gradients along too
    await p.click('#trace-next');
    await p.click('#trace-next');
    expect(await p.textContent('#trace-pos')).to.equal(`step 3 of ${total}`);
    const trace = (await p.textContent('#trace')) ?? '';
    const stepNode = /^(\w+)/.exec(trace)?.[1] ?? '?';
    expect(trace, 'gradient values').to.match(/gradient in\s+\(3, 2, 2, 2\) \[-?\d/);
    expect(trace).to.match(/▶ +3 +\w+/);
    const active = await p.$$eval('#graph g.node.active', (gs) => gs.map((g) => g.textContent ?? ''));
    expect(active.length).to.equal(1);
    expect(active[0], 'the highlighted box is the step\'s node').to.include(stepNode);
    expect(await p.$$eval('#graph g.edge.flow', (gs) => gs.length)).to.be.greaterThan(0);
    expect(await p.$$eval('#graph g.node.done', (gs) => gs.length)).to.equal(2);
    await p.locator('#graph-section').screenshot({ path: join(shots, 'playground-graph.png') });
    await p.locator('#trace-section').screenshot({ path: join(shots, 'playground-trace.png') });
  });

  it('walks x.mul(x).sum() to the end: every node highlighted in turn, x.grad = 2x', async () => {
    const p = page as Page;
    await p.selectOption('#example', { label: 'x.mul(x).sum()' });
    await p.click('#run');
    await p.waitForSelector('body[data-run="done"]', { timeout: 60_000 });
    expect(await p.getAttribute('body', 'data-graph')).to.equal('drawn');
    const seen: string[] = [];
    for (let i = 0; i < 3; i++) {
      seen.push(((await p.$$eval('#graph g.node.active', (gs) => gs.map((g) => g.textContent ?? ''))).join('')).replace(/\s+/g, ' ').trim());
      await p.click('#trace-next');
    }
    expect(seen).to.deep.equal(['n0 SumBackward0', 'n1 MulBackward0', 'n2 x (3,)']);
    expect(await p.textContent('#trace-pos')).to.equal('step 3 of 3');
    expect(await p.textContent('#trace')).to.include('gradient in  (3,) [2.000, -4.000, 6.000]');
    expect(await p.textContent('#expr-out')).to.include('x.grad = shape [3] float32: [2.0000, -4.0000, 6.0000]');
  });

  it('anomaly mode stops at the NaN: PyTorch\'s message, the forward line, the node marked', async () => {
    const p = page as Page;
    await p.selectOption('#example', { label: 'a NaN gradient (anomaly mode)' });
    expect(await p.isChecked('#anomaly')).to.equal(true);
    await p.click('#run');
    await p.waitForSelector('body[data-run="done"]', { timeout: 60_000 });
    expect(await p.getAttribute('body', 'data-anomaly')).to.equal('nan');
    const out = (await p.textContent('#expr-out')) ?? '';
    expect(out).to.include("Function 'SqrtBackward0' returned nan values in its 0th output.");
    expect(out, 'the forward stack names the expression box').to.include('expression.js');
    expect(await p.$$eval('#graph g.node.failed', (gs) => gs.map((g) => g.textContent ?? ''))).to.satisfy((t: string[]) => t.length === 1 && t[0]?.includes('SqrtBackward0'));
    const trace = (await p.textContent('#trace')) ?? '';
    expect(trace).to.match(/^SqrtBackward0 \[n\d\]: anomaly mode stopped the engine here/);
    expect(trace).to.include('gradient out 0 [NaN, 0.500, 1.000]');
    await p.locator('#trace-section').screenshot({ path: join(shots, 'playground-anomaly.png') });
    await p.uncheck('#anomaly');
  });

  it('gradcheck fails on a planted wrong backward and shows where', async () => {
    const p = page as Page;
    await p.selectOption('#example', { label: 'a wrong backward (gradcheck fails)' });
    await p.click('#gradcheck');
    await p.waitForSelector('body[data-gradcheck]', { timeout: 120_000 });
    expect(await p.getAttribute('body', 'data-gradcheck')).to.equal('failed');
    expect(await p.textContent('#gradcheck-out')).to.include('Jacobian mismatch for output 0 with respect to input 0');
    const cells = await p.$$eval('#gradcheck-out table.jac', (ts) => ts.map((t) => [...t.querySelectorAll('td')].map((td) => td.textContent)));
    // d(x³)/dx = 3x² at x = [1, -2, 3]; the planted backward says 2x²
    expect(cells[0]?.filter((_, i) => i % 4 === 0)).to.deep.equal(['3.000', '12.000', '27.000']);
    expect(cells[1]?.filter((_, i) => i % 4 === 0)).to.deep.equal(['2.000', '8.000', '18.000']);
    await p.locator('#gradcheck-section').screenshot({ path: join(shots, 'playground-gradcheck-fail.png') });
    await p.selectOption('#example', { label: 'BatchNorm2d' });
  });

  it('runs gradcheck and shows the numerical and analytical Jacobians', async () => {
    const p = page as Page;
    await p.click('#gradcheck');
    await p.waitForSelector('body[data-gradcheck]', { timeout: 120_000 });
    expect(await p.getAttribute('body', 'data-gradcheck')).to.equal('passed');
    expect(await p.$$eval('#gradcheck-out table.jac', (ts) => ts.length), 'numerical, analytical, difference').to.equal(3);
    await p.locator('#gradcheck-section').screenshot({ path: join(shots, 'playground-gradcheck.png') });
  });

  it('trains on the GPU device the page starts on: a few steps, plots drawn', async () => {
    const p = page as Page;
    const device = await p.inputValue('#device');
    await p.selectOption('#norm', 'BatchNorm2d');
    await p.fill('#steps', '3');
    await p.click('#train');
    await p.waitForSelector('body[data-train="done"], body[data-train="error"]', { timeout: 120_000 });
    const status = (await p.textContent('#train-status')) ?? '';
    expect(await p.getAttribute('body', 'data-train'), status).to.equal('done');
    expect(status).to.include(`BatchNorm2d on ${device}: step 3/3`);
    const losses = JSON.parse((await p.getAttribute('body', 'data-losses')) ?? '[]') as number[];
    expect(losses.length).to.equal(3);
    for (const l of losses) expect(l).to.be.within(0.5, 5); // about ln 10 = 2.3 at the start
    expect(await p.$$eval('#loss-plot path.series', (ps) => ps.length)).to.equal(1);
  });

  it('trains a SwitchableNorm2d CNN: plots drawn and the loss falls', async () => {
    const p = page as Page;
    // NOTE: on the cpu reference: 30 steps under SwiftShader's software WebGL would take minutes
    await p.selectOption('#device', 'cpu');
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
    // the whole page in one state: x.mul(x).sum(), its graph at trace step 2, its gradcheck
    await p.selectOption('#example', { label: 'x.mul(x).sum()' });
    await p.click('#run');
    await p.waitForSelector('body[data-run="done"]', { timeout: 60_000 });
    expect(await p.getAttribute('body', 'data-graph')).to.equal('drawn');
    await p.click('#trace-next');
    await p.click('#gradcheck');
    await p.waitForSelector('body[data-gradcheck="passed"]', { timeout: 60_000 });
    await p.screenshot({ path: join(shots, 'playground.png'), fullPage: true });
    expect(errors, errors.join('\n')).to.deep.equal([]);
  });
});
