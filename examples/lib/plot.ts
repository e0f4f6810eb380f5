/**
 * Charts for the examples: Vega-Lite spec → Vega → SVG → PNG (via resvg),
 * headless, no browser and no canvas package needed.
 *
 * Every chart is `width × height` pixels overall (axes, title and legend
 * included), white background, DejaVu Sans text.
 *
 * @module
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { renderAsync, type ResvgRenderOptions } from '@resvg/resvg-js';
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';

/** A named series of points, for line and scatter charts. */
export interface Series {
  name: string;
  x: number[];
  y: number[];
}

/** Options shared by every chart. */
export interface ChartSize {
  /** Overall image width in pixels (default 640). */
  width?: number;
  /** Overall image height in pixels (default 400). */
  height?: number;
}

/** Options for {@link lineChart}. */
export interface LineChartOptions extends ChartSize {
  title: string;
  xLabel: string;
  yLabel: string;
  series: Series[];
  /** Logarithmic y axis; points with y <= 0 are dropped (default false). */
  logY?: boolean;
  /** Fixed y range, e.g. `[0.8, 1.2]` (default: fitted to the data). */
  yDomain?: [number, number];
}

/** Options for {@link barChart}. */
export interface BarChartOptions extends ChartSize {
  title: string;
  /** One bar per row: bars of the same `group` stand side by side, coloured by `category`. */
  groups: { group: string; category: string; value: number }[];
  yLabel: string;
  /** Label under the groups (default: none). */
  xLabel?: string;
}

/** Options for {@link scatterChart}. */
export interface ScatterChartOptions extends ChartSize {
  title: string;
  xLabel: string;
  yLabel: string;
  /** One colour per series (e.g. `real` and `generated`). */
  series: Series[];
  /** Fixed axis ranges, e.g. to keep the frames of an animation comparable. */
  xDomain?: [number, number];
  yDomain?: [number, number];
  /** Point area in square pixels (default 16). */
  pointSize?: number;
  /** Point opacity (default 0.6). */
  opacity?: number;
  /**
   * One unit the same length on both axes (needs `xDomain` and `yDomain`): the
   * plot area is sized from the domains, at most `width` × `height` pixels,
   * and the image grows by the axes, title and legend around it (so it is
   * not exactly `width × height`).
   */
  equalAspect?: boolean;
}

const DEFAULT_WIDTH = 640;
const DEFAULT_HEIGHT = 400;
const FONT_DIR = '/usr/share/fonts/truetype/dejavu';
const FONT_FILES = [`${FONT_DIR}/DejaVuSans.ttf`, `${FONT_DIR}/DejaVuSans-Bold.ttf`];

function resvgOptions(): ResvgRenderOptions {
  const files = FONT_FILES.filter((f) => existsSync(f));
  // Loading two known files is much faster than scanning every system font;
  // fall back to the scan when DejaVu is not where Debian puts it.
  const font: ResvgRenderOptions['font'] =
    files.length > 0
      ? { loadSystemFonts: false, fontFiles: files, defaultFontFamily: 'DejaVu Sans' }
      : { loadSystemFonts: true };
  return { font: { ...font, sansSerifFamily: 'DejaVu Sans' }, background: 'white' };
}

function size(opts: ChartSize): { width: number; height: number } {
  const width = opts.width ?? DEFAULT_WIDTH;
  const height = opts.height ?? DEFAULT_HEIGHT;
  for (const [k, v] of [['width', width], ['height', height]] as const) {
    if (!Number.isInteger(v) || v < 50) throw new Error(`plot: ${k} must be an integer >= 50, got ${v}`);
  }
  return { width, height };
}

/** The parts of every spec that make the chart exactly `width × height`. */
function frame(opts: ChartSize, title: string): Partial<TopLevelSpec> {
  const { width, height } = size(opts);
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title,
    width,
    height,
    autosize: { type: 'fit', contains: 'padding' },
    padding: 8,
    background: 'white',
    config: { font: 'DejaVu Sans' },
  };
}

function inDomain(v: number, domain: [number, number] | undefined): boolean {
  return !domain || (v >= Math.min(...domain) && v <= Math.max(...domain));
}

function seriesRows(series: Series[], keep: (x: number, y: number) => boolean): { series: string; x: number; y: number }[] {
  const rows: { series: string; x: number; y: number }[] = [];
  for (const s of series) {
    if (s.x.length !== s.y.length) {
      throw new Error(`plot: series "${s.name}" has ${s.x.length} x values but ${s.y.length} y values`);
    }
    s.x.forEach((x, i) => {
      const y = s.y[i] ?? NaN;
      // Non-finite values (a diverged loss) would make Vega drop the whole line.
      if (Number.isFinite(x) && Number.isFinite(y) && keep(x, y)) rows.push({ series: s.name, x, y });
    });
  }
  return rows;
}

/**
 * Render any Vega-Lite spec to PNG bytes. The helpers below use it; call it
 * directly for a chart they do not cover.
 *
 * @example
 * ```ts
 * const png = await renderVegaLite({
 *   data: { values: [{ a: 1, b: 2 }] }, mark: 'point',
 *   encoding: { x: { field: 'a', type: 'quantitative' }, y: { field: 'b', type: 'quantitative' } },
 * });
 * writePng('out/point.png', png);
 * ```
 */
export async function renderVegaLite(spec: TopLevelSpec): Promise<Uint8Array> {
  const vgSpec = compile(spec).spec;
  const view = new vega.View(vega.parse(vgSpec), { renderer: 'none' });
  try {
    const svg = await view.toSVG();
    const image = await renderAsync(svg, resvgOptions());
    return new Uint8Array(image.asPng());
  } finally {
    view.finalize();
  }
}

/**
 * The size in pixels of a spec's plot area (the data rectangle, without
 * axes, title and legend), as Vega lays it out.
 *
 * @example const { width, height } = await plotArea(scatterSpec(opts));
 */
export async function plotArea(spec: TopLevelSpec): Promise<{ width: number; height: number }> {
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: 'none' });
  try {
    await view.runAsync();
    return { width: view.width(), height: view.height() };
  } finally {
    view.finalize();
  }
}

/**
 * A line chart, one coloured line per series (e.g. training loss per model).
 *
 * @example
 * ```ts
 * const png = await lineChart({
 *   title: 'Training loss', xLabel: 'step', yLabel: 'loss', logY: true,
 *   series: [{ name: 'BatchNorm', x: [0, 1, 2], y: [2.3, 1.1, 0.7] },
 *            { name: 'LayerNorm', x: [0, 1, 2], y: [2.3, 1.4, 0.9] }],
 * });
 * writePng('out/loss.png', png);
 * ```
 */
export async function lineChart(opts: LineChartOptions): Promise<Uint8Array> {
  const logY = opts.logY ?? false;
  const spec: TopLevelSpec = {
    ...frame(opts, opts.title),
    data: { values: seriesRows(opts.series, (_x, y) => !logY || y > 0) },
    mark: { type: 'line', strokeWidth: 1.5, clip: opts.yDomain !== undefined },
    encoding: {
      x: { field: 'x', type: 'quantitative', title: opts.xLabel, scale: { zero: false } },
      y: {
        field: 'y',
        type: 'quantitative',
        title: opts.yLabel,
        scale: logY ? { type: 'log', ...(opts.yDomain ? { domain: opts.yDomain } : {}) } : opts.yDomain ? { domain: opts.yDomain } : { zero: false },
      },
      color: { field: 'series', type: 'nominal', title: null, sort: opts.series.map((s) => s.name) },
    },
  };
  return renderVegaLite(spec);
}

/**
 * A grouped bar chart: one cluster per `group`, one bar per `category` inside it
 * (e.g. the learned IN/LN/BN importance weights of each SwitchableNorm layer).
 * Groups and categories keep their first-appearance order.
 *
 * @example
 * ```ts
 * const png = await barChart({
 *   title: 'Switchable norm weights', yLabel: 'weight',
 *   groups: [{ group: 'layer1', category: 'IN', value: 0.2 }, { group: 'layer1', category: 'LN', value: 0.3 },
 *            { group: 'layer1', category: 'BN', value: 0.5 }],
 * });
 * ```
 */
export async function barChart(opts: BarChartOptions): Promise<Uint8Array> {
  const groups = [...new Set(opts.groups.map((g) => g.group))];
  const categories = [...new Set(opts.groups.map((g) => g.category))];
  const spec: TopLevelSpec = {
    ...frame(opts, opts.title),
    data: { values: opts.groups.filter((g) => Number.isFinite(g.value)) },
    mark: 'bar',
    encoding: {
      x: { field: 'group', type: 'nominal', title: opts.xLabel ?? null, sort: groups, axis: { labelAngle: 0 } },
      xOffset: { field: 'category', type: 'nominal', sort: categories },
      y: { field: 'value', type: 'quantitative', title: opts.yLabel },
      color: { field: 'category', type: 'nominal', title: null, sort: categories },
    },
  };
  return renderVegaLite(spec);
}

/**
 * A scatter plot, one colour per series (e.g. real vs. generated GAN samples).
 *
 * @example
 * ```ts
 * const png = await scatterChart({
 *   title: 'GAN samples, step 1000', xLabel: 'x₁', yLabel: 'x₂',
 *   xDomain: [-3, 3], yDomain: [-3, 3],
 *   series: [{ name: 'real', x: [0.1, -1], y: [0.5, 2] }, { name: 'generated', x: [0.3], y: [0.4] }],
 * });
 * ```
 */
export async function scatterChart(opts: ScatterChartOptions): Promise<Uint8Array> {
  return renderVegaLite(scatterSpec(opts));
}

/**
 * The Vega-Lite spec {@link scatterChart} renders (to check its axes and
 * aspect without rendering).
 *
 * @throws if `equalAspect` is set without both domains
 * @example const { width, height } = await plotArea(scatterSpec({ ...opts, equalAspect: true })); // width === height for a square domain
 */
export function scatterSpec(opts: ScatterChartOptions): TopLevelSpec {
  let sizing = frame(opts, opts.title);
  if (opts.equalAspect) {
    if (!opts.xDomain || !opts.yDomain) throw new Error('plot: equalAspect needs xDomain and yDomain');
    const { width, height } = size(opts);
    const dx = Math.abs(opts.xDomain[1] - opts.xDomain[0]);
    const dy = Math.abs(opts.yDomain[1] - opts.yDomain[0]);
    // pixels per unit: the largest that fits both sides
    const ppu = Math.min(width / dx, height / dy);
    // 'pad': width and height are the plot area itself; axes, title and legend are added around it
    sizing = { ...sizing, width: Math.round(ppu * dx), height: Math.round(ppu * dy), autosize: { type: 'pad' } };
  }
  return {
    ...sizing,
    // NOTE: points outside a fixed domain are dropped, not just clipped: resvg 2.6 panics on
    // clipped circles far outside the plot (geom.rs unwrap on None)
    data: { values: seriesRows(opts.series, (x, y) => inDomain(x, opts.xDomain) && inDomain(y, opts.yDomain)) },
    mark: { type: 'circle', size: opts.pointSize ?? 16, opacity: opts.opacity ?? 0.6, clip: true },
    encoding: {
      x: {
        field: 'x',
        type: 'quantitative',
        title: opts.xLabel,
        scale: opts.xDomain ? { domain: opts.xDomain } : { zero: false },
      },
      y: {
        field: 'y',
        type: 'quantitative',
        title: opts.yLabel,
        scale: opts.yDomain ? { domain: opts.yDomain } : { zero: false },
      },
      color: { field: 'series', type: 'nominal', title: null, sort: opts.series.map((s) => s.name) },
    },
  };
}

/** A band (`lo`..`hi` at each x) with an optional centre line, for {@link bandChart}. */
export interface BandSeries {
  name: string;
  x: number[];
  lo: number[];
  hi: number[];
  /** Drawn as a line inside the band (default: none). */
  mid?: number[];
}

/** Options for {@link bandChart}. */
export interface BandChartOptions extends ChartSize {
  title: string;
  xLabel: string;
  yLabel: string;
  series: BandSeries[];
  /** Logarithmic y axis; points with a value <= 0 are dropped (default false). */
  logY?: boolean;
}

/**
 * Shaded bands, one colour per series (e.g. the range of the loss over
 * several step sizes at each training step), each with an optional line.
 *
 * @example
 * ```ts
 * const png = await bandChart({ title: 'loss along the gradient', xLabel: 'step', yLabel: 'loss',
 *   series: [{ name: 'with BN', x: [0, 10], lo: [2.1, 0.8], hi: [2.4, 1.1], mid: [2.3, 0.9] }] });
 * ```
 */
export async function bandChart(opts: BandChartOptions): Promise<Uint8Array> {
  const logY = opts.logY ?? false;
  const ok = (v: number) => Number.isFinite(v) && (!logY || v > 0);
  const rows: { series: string; x: number; lo: number; hi: number; mid: number | null }[] = [];
  for (const s of opts.series) {
    if (s.lo.length !== s.x.length || s.hi.length !== s.x.length || (s.mid && s.mid.length !== s.x.length)) {
      throw new Error(`plot: series "${s.name}" has ${s.x.length} x values but ${s.lo.length}/${s.hi.length}${s.mid ? `/${s.mid.length}` : ''} lo/hi/mid values`);
    }
    s.x.forEach((x, i) => {
      const lo = s.lo[i] as number;
      const hi = s.hi[i] as number;
      const mid = s.mid ? (s.mid[i] as number) : null;
      if (Number.isFinite(x) && ok(lo) && ok(hi)) rows.push({ series: s.name, x, lo, hi, mid: mid !== null && ok(mid) ? mid : null });
    });
  }
  const yScale = logY ? { type: 'log' as const } : { zero: false };
  const color = { field: 'series', type: 'nominal' as const, title: null, sort: opts.series.map((s) => s.name) };
  const spec = {
    ...frame(opts, opts.title),
    data: { values: rows },
    encoding: { x: { field: 'x', type: 'quantitative' as const, title: opts.xLabel, scale: { zero: false } }, color },
    layer: [
      { mark: { type: 'area' as const, opacity: 0.3 }, encoding: { y: { field: 'lo', type: 'quantitative' as const, title: opts.yLabel, scale: yScale }, y2: { field: 'hi' } } },
      { mark: { type: 'line' as const, strokeWidth: 1.5 }, transform: [{ filter: 'datum.mid !== null' }], encoding: { y: { field: 'mid', type: 'quantitative' as const, scale: yScale } } },
    ],
  } as TopLevelSpec;
  return renderVegaLite(spec);
}

/** One histogram of {@link histogramChart}: counts over bin edges. */
export interface HistogramSeries {
  name: string;
  /** `counts.length + 1` increasing bin edges. */
  edges: number[];
  counts: number[];
}

/** Options for {@link histogramChart}. */
export interface HistogramChartOptions extends ChartSize {
  title: string;
  xLabel: string;
  series: HistogramSeries[];
  /** Logarithmic density axis (default false). */
  logY?: boolean;
}

/**
 * Histograms drawn as step lines on one axis, each normalised to a density
 * (area 1), so series with different counts compare.
 *
 * @throws if a series' edges and counts do not match
 * @example
 * ```ts
 * const png = await histogramChart({ title: 'weights', xLabel: 'w',
 *   series: [{ name: 'with BN', edges: [-1, 0, 1], counts: [3, 5] }] });
 * ```
 */
export async function histogramChart(opts: HistogramChartOptions): Promise<Uint8Array> {
  const lines: Series[] = opts.series.map((s) => {
    if (s.edges.length !== s.counts.length + 1) throw new Error(`plot: histogram "${s.name}" has ${s.edges.length} edges for ${s.counts.length} bins`);
    const total = s.counts.reduce((a, b) => a + b, 0) || 1;
    const dens = s.counts.map((c, i) => c / total / ((s.edges[i + 1] as number) - (s.edges[i] as number)));
    // a step line: each bin's density from its left edge, held to the last edge
    return { name: s.name, x: s.edges, y: [...dens, dens.at(-1) ?? 0] };
  });
  const logY = opts.logY ?? false;
  const spec: TopLevelSpec = {
    ...frame(opts, opts.title),
    data: { values: seriesRows(lines, (_x, y) => !logY || y > 0) },
    mark: { type: 'line', strokeWidth: 1.5, interpolate: 'step-after' },
    encoding: {
      x: { field: 'x', type: 'quantitative', title: opts.xLabel, scale: { zero: false } },
      y: { field: 'y', type: 'quantitative', title: 'density', scale: logY ? { type: 'log' } : {} },
      color: { field: 'series', type: 'nominal', title: null, sort: opts.series.map((s) => s.name) },
    },
  };
  return renderVegaLite(spec);
}

/** One matrix of a {@link heatmaps} figure. */
export interface HeatmapPanel {
  title: string;
  /** Rows of equal length; row `r`, column `c` is drawn at (c, r). */
  values: ArrayLike<number>[];
}

/** Options for {@link heatmaps}. */
export interface HeatmapOptions {
  title: string;
  /** Side by side, each with its own colour scale and legend. */
  panels: HeatmapPanel[];
  xLabel: string;
  yLabel: string;
  /** Pixels per cell (default: fitted so each panel is about 220 pixels wide, at least 4). */
  cell?: number;
}

/**
 * Matrices side by side as heatmaps (e.g. a gradcheck failure's analytical
 * Jacobian, numerical Jacobian and their difference). Blue-white-red colours
 * centred on 0; each panel has its own scale. The image size follows the
 * matrices (concatenated views cannot be fitted to a fixed size).
 *
 * @throws if there are no panels, or a panel is empty or ragged
 * @example
 * ```ts
 * const png = await heatmaps({ title: 'Jacobians', xLabel: 'output', yLabel: 'input',
 *   panels: [{ title: 'analytical', values: [[1, 0], [0, 1]] }, { title: 'numerical', values: [[1, 0], [0, 0.5]] }] });
 * ```
 */
export async function heatmaps(opts: HeatmapOptions): Promise<Uint8Array> {
  if (opts.panels.length === 0) throw new Error('heatmaps: no panels');
  const views = opts.panels.map((p) => {
    const cols = p.values[0]?.length ?? 0;
    if (cols === 0 || p.values.some((r) => r.length !== cols)) throw new Error(`heatmaps: panel "${p.title}" is empty or ragged`);
    const cell = opts.cell ?? Math.max(4, Math.floor(220 / cols));
    const rows = p.values.flatMap((r, y) => Array.from(r, (v, x) => ({ x, y, v: Number.isFinite(v) ? v : 0 })));
    const m = Math.max(1e-300, ...rows.map((r) => Math.abs(r.v)));
    return {
      title: p.title,
      width: cell * cols,
      height: cell * p.values.length,
      data: { values: rows },
      mark: { type: 'rect' as const },
      encoding: {
        x: { field: 'x', type: 'ordinal' as const, title: opts.xLabel, axis: { labels: cols <= 24, ticks: cols <= 24 } },
        y: { field: 'y', type: 'ordinal' as const, title: opts.yLabel, axis: { labels: p.values.length <= 24, ticks: p.values.length <= 24 } },
        color: { field: 'v', type: 'quantitative' as const, title: null, scale: { scheme: 'redblue', reverse: true, domain: [-m, m] } },
      },
    };
  });
  const spec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title: opts.title,
    padding: 8,
    background: 'white',
    config: { font: 'DejaVu Sans' },
    hconcat: views,
    resolve: { scale: { color: 'independent' } },
  } as TopLevelSpec;
  return renderVegaLite(spec);
}

/**
 * Write PNG (or any) bytes to `path`, creating missing parent directories.
 *
 * @example
 * ```ts
 * writePng('out/plots/loss.png', await lineChart({ ... }));
 * ```
 */
export function writePng(path: string, bytes: Uint8Array): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, bytes);
}

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

/**
 * Width and height of a PNG, read from its IHDR chunk.
 *
 * @throws if `bytes` does not start with the PNG signature and an IHDR chunk
 * @example
 * ```ts
 * const { width, height } = pngSize(await lineChart({ ...opts, width: 800, height: 500 })); // 800, 500
 * ```
 */
export function pngSize(bytes: Uint8Array): { width: number; height: number } {
  if (bytes.length < 24 || !PNG_SIGNATURE.every((b, i) => bytes[i] === b)) {
    throw new Error('pngSize: not a PNG (bad signature)');
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const type = String.fromCharCode(...bytes.subarray(12, 16));
  if (type !== 'IHDR') throw new Error(`pngSize: first chunk is "${type}", expected "IHDR"`);
  return { width: view.getUint32(16, false), height: view.getUint32(20, false) };
}
