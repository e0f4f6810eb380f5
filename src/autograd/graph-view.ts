/**
 * `gg.autograd.graph`: pictures of the backward graph (PyTorch users know
 * them from torchviz). `toDot` is plain text building; `toSvg`, `toPng` and
 * `render` load Graphviz (WebAssembly) and resvg on first use.
 */
export { toDot, shapeLabel, type DotOptions, type NamedTensors } from './dot.js';
export { dotToSvg, toSvg, svgToPng, toPng, render, type RenderOptions } from './render.js';
export { Node, AccumulateGrad, type SavedEntry } from './graph.js';
