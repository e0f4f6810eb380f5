/**
 * What each gpu.js device runs on in a web page (the browser bundle's
 * adapters.ts; scripts/build-browser.mjs swaps the files): the page's WebGL 2
 * and WebGL contexts and their renderer, `navigator.gpu`'s adapter, or the
 * reason a device cannot run. Found once per page.
 */
import { asError } from './shim.js';
import type { GpuDeviceName } from './modes.js';
import { adapterCache } from './adapter-cache.js';
import type { AdapterInfo } from './adapters.js';

export type { AdapterInfo } from './adapters.js';

/** The DOM pieces read here (the library's tsconfig has no DOM types). */
interface GlContextLike {
  getParameter(p: number): unknown;
  getExtension(name: string): unknown;
}
interface CanvasLike {
  getContext(kind: string): GlContextLike | null;
}
interface AdapterInfoLike {
  readonly vendor?: string;
  readonly architecture?: string;
  readonly device?: string;
  readonly description?: string;
  readonly isFallbackAdapter?: boolean;
}
interface NavigatorGpuLike {
  requestAdapter(): Promise<{ readonly info?: AdapterInfoLike; readonly isFallbackAdapter?: boolean } | null>;
}
interface PageGlobals {
  document?: { createElement(tag: 'canvas'): CanvasLike };
  OffscreenCanvas?: new (w: number, h: number) => CanvasLike;
  navigator?: { gpu?: NavigatorGpuLike };
}
const page = globalThis as unknown as PageGlobals;

/** NOTE: the names browsers give CPU renderers (Chrome's SwiftShader, Mesa's llvmpipe, Windows' WARP). */
export function isSoftwareRenderer(description: string): boolean {
  return /swiftshader|llvmpipe|lavapipe|softpipe|software|swrast|basic render/i.test(description);
}

function canvas(): CanvasLike | null {
  if (page.OffscreenCanvas) return new page.OffscreenCanvas(1, 1);
  return page.document?.createElement('canvas') ?? null;
}

const gl = { VENDOR: 0x1f00, RENDERER: 0x1f01, VERSION: 0x1f02, UNMASKED_VENDOR: 0x9245, UNMASKED_RENDERER: 0x9246 } as const;

/** The WebGL context of `kind` this page offers, with its renderer, or why there is none. */
function glAdapter(kind: 'webgl2' | 'webgl'): AdapterInfo | string {
  const c = canvas();
  if (!c) return 'no canvas here (neither a window nor a worker with OffscreenCanvas)';
  let ctx: GlContextLike | null = null;
  try {
    ctx = c.getContext(kind);
  } catch (e) {
    return `creating a ${kind} context threw: ${asError(e).message}`;
  }
  if (!ctx) return `this browser gives no ${kind === 'webgl2' ? 'WebGL 2' : 'WebGL'} context (turned off, a blocklisted GPU, or no GPU process)`;
  const str = (p: number): string => {
    const v = ctx?.getParameter(p);
    return typeof v === 'string' ? v : '';
  };
  // NOTE: WEBGL_debug_renderer_info gives the driver's own name; without it, the browser's masked one
  const unmasked = ctx.getExtension('WEBGL_debug_renderer_info') !== null;
  const renderer = unmasked ? [str(gl.UNMASKED_VENDOR), str(gl.UNMASKED_RENDERER)] : [str(gl.VENDOR), str(gl.RENDERER)];
  const adapter = [...renderer, str(gl.VERSION)].filter(Boolean).join(' / ') || 'unknown WebGL renderer';
  const backend = kind === 'webgl2' ? 'WebGL 2 (browser, GLSL ES 3.0 fragment shaders)' : 'WebGL 1 (browser, GLSL ES 1.0 fragment shaders)';
  return { backend, adapter, software: isSoftwareRenderer(adapter) };
}

async function webgpuAdapter(): Promise<AdapterInfo | string> {
  const gpu = page.navigator?.gpu;
  if (!gpu) return 'navigator.gpu is missing: no WebGPU in this browser, or it is off (Chrome needs a secure context: https or localhost)';
  // NOTE: gpu.js asks navigator.gpu.requestAdapter() with no options too, so this is the adapter it gets
  const adapter = await gpu.requestAdapter();
  if (!adapter) return 'navigator.gpu.requestAdapter() returned null (no WebGPU adapter here, or a blocklisted one)';
  const i = adapter.info ?? {};
  const parts = [i.vendor, i.architecture, i.device, i.description].filter((s): s is string => typeof s === 'string' && s.length > 0);
  const description = parts.length ? parts.join(' / ') : 'unnamed adapter';
  const fallback = i.isFallbackAdapter === true || adapter.isFallbackAdapter === true;
  return { backend: 'WebGPU (navigator.gpu, WGSL compute shaders)', adapter: `${description}${fallback ? ' (fallback adapter)' : ''}`, software: fallback || isSoftwareRenderer(description) };
}

/** Adapters found without waiting: everything but WebGPU's. */
function syncAdapter(name: Exclude<GpuDeviceName, 'gpu:webgpu'>): AdapterInfo | string {
  switch (name) {
    case 'gpu:cpu':
      return { backend: 'gpu.js cpu (transpiled JavaScript)', adapter: "host CPU (the page's thread)", software: true };
    case 'gpu:webgl2':
      return glAdapter('webgl2');
    case 'gpu:webgl':
      return glAdapter('webgl');
    case 'gpu:headlessgl':
    case 'gpu:webasm':
      return `${name} runs in Node only (this is a web page)`;
    default:
      return name satisfies never;
  }
}

// one search per device and its settled answer, so opening a device stays synchronous after a probe
const cache = adapterCache((name) => (name === 'gpu:webgpu' ? webgpuAdapter() : Promise.resolve(syncAdapter(name))), syncAdapter);

/** Find what `name` runs on (once per page); a string says why it cannot run here. */
export const findAdapter = cache.findAdapter;
/** What `name` runs on, known without waiting (undefined for WebGPU until probed). */
export const knownAdapter = cache.knownAdapter;
/** Record that `name` failed its probe kernel: it is not opened again in this page. */
export const markUnusable = cache.markUnusable;
