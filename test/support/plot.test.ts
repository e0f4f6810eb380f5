import { expect } from 'chai';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { barChart, lineChart, pngSize, scatterChart, writePng } from '../../examples/lib/plot.js';

describe('plot', function () {
  this.timeout(30_000);

  it('lineChart renders a PNG of the requested size (log y, NaN dropped)', async () => {
    const x = Array.from({ length: 50 }, (_, i) => i);
    const png = await lineChart({
      title: 'Training loss',
      xLabel: 'step',
      yLabel: 'loss',
      logY: true,
      width: 500,
      height: 300,
      series: [
        { name: 'BatchNorm', x, y: x.map((i) => 2 * Math.exp(-i / 10) + 0.01) },
        { name: 'LayerNorm', x, y: x.map((i) => (i === 10 ? NaN : 2 * Math.exp(-i / 20) + 0.01)) },
      ],
    });
    expect(pngSize(png)).to.deep.equal({ width: 500, height: 300 });
    expect(png.length).to.be.greaterThan(2000);
  });

  it('lineChart uses 640x400 by default', async () => {
    const png = await lineChart({ title: 't', xLabel: 'x', yLabel: 'y', series: [{ name: 's', x: [0, 1], y: [1, 2] }] });
    expect(pngSize(png)).to.deep.equal({ width: 640, height: 400 });
  });

  it('barChart renders grouped bars at the requested size', async () => {
    const groups = ['layer1', 'layer2', 'layer3'].flatMap((g, i) =>
      ['IN', 'LN', 'BN'].map((c, j) => ({ group: g, category: c, value: (i + j + 1) / 10 })),
    );
    const png = await barChart({ title: 'Switchable weights', yLabel: 'weight', groups, width: 420, height: 260 });
    expect(pngSize(png)).to.deep.equal({ width: 420, height: 260 });
  });

  it('scatterChart renders at the requested size with fixed domains', async () => {
    const n = 200;
    const real = { name: 'real', x: Array.from({ length: n }, (_, i) => Math.cos(i)), y: Array.from({ length: n }, (_, i) => Math.sin(i)) };
    const fake = { name: 'generated', x: real.x.map((v) => v * 0.5), y: real.y.map((v) => v * 0.5 + 5) };
    const png = await scatterChart({
      title: 'GAN samples',
      xLabel: 'x1',
      yLabel: 'x2',
      series: [real, fake],
      xDomain: [-2, 2],
      yDomain: [-2, 2],
      width: 400,
      height: 400,
    });
    expect(pngSize(png)).to.deep.equal({ width: 400, height: 400 });
  });

  it('rejects mismatched series lengths', async () => {
    let err: unknown;
    try {
      await lineChart({ title: 't', xLabel: 'x', yLabel: 'y', series: [{ name: 's', x: [0, 1], y: [1] }] });
    } catch (e) {
      err = e;
    }
    expect(err).to.be.instanceOf(Error);
    expect((err as Error).message).to.equal('plot: series "s" has 2 x values but 1 y values');
  });

  it('writePng creates parent directories; pngSize rejects non-PNG bytes', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gpugrad-plot-'));
    try {
      const png = await lineChart({ title: 't', xLabel: 'x', yLabel: 'y', width: 200, height: 120, series: [{ name: 's', x: [0, 1], y: [1, 2] }] });
      const path = join(dir, 'a', 'b', 'c.png');
      writePng(path, png);
      expect(pngSize(new Uint8Array(readFileSync(path)))).to.deep.equal({ width: 200, height: 120 });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    expect(() => pngSize(new Uint8Array(30))).to.throw('pngSize: not a PNG (bad signature)');
  });
});
