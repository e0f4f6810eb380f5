/**
 * What each gpu.js device runs on in Node (backend, adapter, software or
 * hardware; adapters.browser.ts does this in a web page), found once per process, and which of headless-gl and WebGPU owns the
 * system OpenGL. A device that cannot run here gets a reason instead.
 */
import { platform } from '../platform/platform.js';
import { findWebGpuAdapter, isGlBackend, isSoftwareRenderer } from './webgpu-adapter.js';
import type { GpuDeviceName } from './modes.js';
import { adapterCache } from './adapter-cache.js';
import { asError, gpujs } from './shim.js';

/** What a device runs on (its `DeviceInfo` fields). */
export interface AdapterInfo {
  readonly backend: string;
  readonly adapter: string;
  readonly software: boolean;
  /** What discovery skipped or noticed (DeviceInfo.notes). */
  readonly notes?: readonly string[];
}

interface GlContext {
  getParameter(p: number): unknown;
  getExtension(name: string): { destroy?: () => void } | null;
}
type GlFactory = (w: number, h: number) => GlContext | null;

const glParam = { RENDERER: 0x1f01, VERSION: 0x1f02, VENDOR: 0x1f00 } as const;

/**
 * Which device drives the system OpenGL in this process.
 * NOTE: measured here (Mesa 22.3, Xvfb): once Dawn's OpenGL ES backend has
 * an EGL context, creating a headless-gl (GLX) context kills the process with
 * an X error (BadAccess on X_GLXMakeCurrent); the other way round Dawn finds
 * no GL ES adapter. So the first of the two to start owns GL and the other
 * reports why it is unavailable. WebGPU on Vulkan/Metal/D3D does not conflict.
 */
let glOwner: 'gpu:headlessgl' | 'gpu:webgpu' | undefined;

function glAdapter(): AdapterInfo | string {
  const host = platform();
  let factory: GlFactory;
  // the package first: when it is missing, that is the reason, whoever owns OpenGL (loading it opens no context)
  try {
    factory = host.loadPackage('gl') as GlFactory;
  } catch (e) {
    return `the 'gl' package (headless-gl) does not load: ${asError(e).message.split('\n')[0] ?? ''}`;
  }
  if (glOwner === 'gpu:webgpu') {
    return "headless-gl is not started: WebGPU runs on Dawn's OpenGL ES backend in this process, and the two cannot share a process here (set GPUGRAD_WEBGPU_BACKEND=vulkan, or use gpu:headlessgl in a process that does not open gpu:webgpu)";
  }
  let ctx: GlContext | null = null;
  try {
    ctx = factory(1, 1);
  } catch (e) {
    return `headless-gl could not create a context: ${asError(e).message}`;
  }
  if (ctx) glOwner = 'gpu:headlessgl';
  if (!ctx) {
    const display = host.env('DISPLAY');
    return display
      ? `headless-gl returned no WebGL context on DISPLAY=${display}`
      : 'headless-gl returned no WebGL context: no X display (DISPLAY is unset); run under xvfb-run -a -s "-screen 0 1x1x24" (scripts/with-display.mjs does this)';
  }
  const str = (p: number): string => {
    const v = ctx?.getParameter(p);
    return typeof v === 'string' ? v : '';
  };
  const renderer = [str(glParam.VENDOR), str(glParam.RENDERER), str(glParam.VERSION)].filter(Boolean).join(' / ');
  ctx.getExtension('STACKGL_destroy_context')?.destroy?.();
  // NOTE: headless-gl masks the driver ("stack-gl / ANGLE") and has no WEBGL_debug_renderer_info;
  // on Linux a machine without a DRM device (/dev/dri) can only be rendering in software (llvmpipe)
  const noGpu = host.os === 'linux' && !host.exists('/dev/dri');
  const adapter = `${renderer || 'unknown GL renderer'}${noGpu ? ' (no /dev/dri: Mesa software rasterizer)' : ''}`;
  return { backend: 'WebGL 1 (headless-gl, GLSL ES 1.0 fragment shaders)', adapter, software: noGpu || isSoftwareRenderer(renderer) };
}

/** Adapters found without waiting: everything but WebGPU's. */
function syncAdapter(name: Exclude<GpuDeviceName, 'gpu:webgpu'>): AdapterInfo | string {
  switch (name) {
    case 'gpu:cpu':
      return { backend: 'gpu.js cpu (transpiled JavaScript)', adapter: 'host CPU', software: true };
    case 'gpu:webasm': {
      if (gpujs().GPU.isWebAssemblySupported === false) return 'WebAssembly is not supported by this runtime';
      return { backend: 'gpu.js webasm (WebAssembly f32x4 SIMD, worker threads)', adapter: `host CPU, ${platform().hardwareThreads()} threads`, software: true };
    }
    case 'gpu:headlessgl':
      return glAdapter();
    case 'gpu:webgl2':
    case 'gpu:webgl':
      return `${name} runs in web browsers (the browser bundle); in Node, WebGL is gpu:headlessgl`;
    default:
      return name satisfies never;
  }
}

async function adapterOf(name: GpuDeviceName): Promise<AdapterInfo | string> {
  if (name !== 'gpu:webgpu') return syncAdapter(name);
  const found = await findWebGpuAdapter(glOwner !== 'gpu:headlessgl');
  if (typeof found === 'string') return found;
  if (isGlBackend(found.backend)) glOwner = 'gpu:webgpu';
  return { backend: `WebGPU (Dawn ${found.backend})`, adapter: found.adapter, software: found.software, notes: found.notes };
}

// one search per device and its settled answer, so opening a device stays synchronous after a probe
const cache = adapterCache(adapterOf, syncAdapter);

/** Find what `name` runs on (once per process); a string says why it cannot run here. */
export const findAdapter = cache.findAdapter;
/** What `name` runs on, known without waiting (undefined for WebGPU until probed). */
export const knownAdapter = cache.knownAdapter;
/** Record that `name` failed its probe kernel: it is not opened again in this process. */
export const markUnusable = cache.markUnusable;
