/**
 * Graph pictures as SVG and PNG: DOT text (dot.ts) laid out by Graphviz
 * compiled to WebAssembly (`@viz-js/viz`, no system install), and SVG turned
 * into PNG by resvg (`@resvg/resvg-js`). Both packages are optional
 * dependencies, loaded on first use, so importing gpugrad never needs them.
 *
 * `toSvg` works wherever `@viz-js/viz` loads (Node and browsers); `toPng`
 * needs resvg's native module (Node), and `render` writes through the
 * platform's files (backend/platform: Node's file system under the Node entry).
 */
import { platform } from '../backend/platform/platform.js';
import type { Tensor } from '../tensor/tensor.js';
import { toDot, type DotOptions } from './dot.js';

/** The parts of `@viz-js/viz` used here. */
interface Viz {
  renderString(dot: string, opts: { format: 'svg'; engine?: string }): string;
}
/** The parts of `@resvg/resvg-js` used here. */
interface ResvgModule {
  renderAsync(svg: string, opts: Record<string, unknown>): Promise<{ asPng(): Uint8Array }>;
}

let vizInstance: Promise<Viz> | null = null;

/** Load a package by name at run time, with an error that says how to install it. */
async function load<T>(pkg: string, what: string): Promise<T> {
  try {
    return (await import(pkg)) as T;
  } catch (e) {
    throw new Error(`${what} needs the optional package '${pkg}' (npm install ${pkg}): ${(e as Error).message}`);
  }
}

async function viz(): Promise<Viz> {
  // NOTE: a literal specifier, so a browser bundler can find and split the package
  vizInstance ??= import('@viz-js/viz').then(
    (m): Promise<Viz> => m.instance(),
    (e: Error) => {
      throw new Error(`drawing a graph needs the optional package '@viz-js/viz' (npm install @viz-js/viz): ${e.message}`);
    },
  );
  try {
    return await vizInstance;
  } catch (e) {
    vizInstance = null;
    throw e;
  }
}

/** Options of {@link toSvg}, {@link toPng} and {@link render}: toDot's, plus the PNG's scale. */
export interface RenderOptions extends DotOptions {
  /** PNG pixels per SVG point (default 2, sharp on high-density screens). */
  scale?: number;
}

/**
 * Lay out DOT text with Graphviz (`dot` engine) and return SVG text.
 * @throws Error when `@viz-js/viz` is not installed or the DOT text is invalid
 * @example const svg = await gg.autograd.graph.dotToSvg('digraph { a -> b }');
 */
export async function dotToSvg(dot: string): Promise<string> {
  return (await viz()).renderString(dot, { format: 'svg', engine: 'dot' });
}

/**
 * The backward graph of `roots` (see {@link toDot}) as SVG text.
 * @example const svg = await gg.autograd.graph.toSvg(loss, { params: model.namedParameters() });
 */
export async function toSvg(roots: Tensor | readonly Tensor[], opts: RenderOptions = {}): Promise<string> {
  return dotToSvg(toDot(roots, opts));
}

/**
 * Fonts resvg should use: DejaVu where Debian puts it (fast), else a system
 * scan. NOTE: the DOT text asks for Courier, whose widths Graphviz knows
 * without fonts; the SVG says `Courier,monospace`, and DejaVu Sans Mono
 * (0.602 em per character, Courier 0.600) stands in for it here.
 */
function fontOptions(): Record<string, unknown> {
  const dir = '/usr/share/fonts/truetype/dejavu';
  const files = ['DejaVuSans.ttf', 'DejaVuSansMono.ttf'].map((f) => `${dir}/${f}`).filter((f) => platform().exists(f));
  return files.length
    ? { loadSystemFonts: false, fontFiles: files, defaultFontFamily: 'DejaVu Sans', monospaceFamily: 'DejaVu Sans Mono', sansSerifFamily: 'DejaVu Sans' }
    : { loadSystemFonts: true };
}

/**
 * Turn SVG text into PNG bytes with resvg (white background). Node only.
 * @throws Error when `@resvg/resvg-js` is not installed, or `scale` is not positive
 * @example const png = await gg.autograd.graph.svgToPng(svg, 2);
 */
export async function svgToPng(svg: string, scale = 2): Promise<Uint8Array> {
  if (!(scale > 0 && Number.isFinite(scale))) throw new Error(`svgToPng: scale must be a positive number, got ${scale}`);
  const { renderAsync } = await load<ResvgModule>('@resvg/resvg-js', 'drawing a PNG');
  const img = await renderAsync(svg, { background: 'white', fitTo: { mode: 'zoom', value: scale }, font: fontOptions() });
  return img.asPng();
}

/**
 * The backward graph of `roots` as PNG bytes. Node only.
 * @example const png = await gg.autograd.graph.toPng(loss);
 */
export async function toPng(roots: Tensor | readonly Tensor[], opts: RenderOptions = {}): Promise<Uint8Array> {
  return svgToPng(await toSvg(roots, opts), opts.scale ?? 2);
}

/**
 * Draw the backward graph of `roots` into `file`: SVG or PNG by its
 * extension (torchviz's `make_dot(...).render()`), written through the
 * platform's files (Node's under the Node entry point; the folder must
 * exist). Resolves to the path written.
 * @throws Error when the extension is neither `.svg` nor `.png`, or the file cannot be written
 * @example await gg.autograd.graph.render(loss, 'graph.png', { params: model.namedParameters(), showSaved: true });
 */
export async function render(roots: Tensor | readonly Tensor[], file: string, opts: RenderOptions = {}): Promise<string> {
  const ext = /\.(svg|png)$/i.exec(file)?.[1]?.toLowerCase();
  if (!ext) throw new Error(`render: the file name must end in .svg or .png, got '${file}'`);
  const svg = await toSvg(roots, opts);
  const data = ext === 'svg' ? new TextEncoder().encode(svg) : await svgToPng(svg, opts.scale ?? 2);
  platform().writeFile(file, data);
  return file;
}
