/**
 * Finding a WebGPU adapter in Node for gpu.js's webgpu mode.
 *
 * gpu.js asks `navigator.gpu.requestAdapter()` with no options, so we install
 * a `navigator.gpu` whose `requestAdapter` goes to the Dawn instance and the
 * options we found to work. Discovery order (docs/notes/devices.md):
 * 1. Dawn's default adapter (a hardware GPU through Vulkan/Metal/D3D12);
 * 2. the same instance with `featureLevel: 'compatibility'`;
 * 3. Dawn's OpenGL ES backend (`backend=opengles`, EGL_PLATFORM=surfaceless),
 *    which is what answers on a machine with only Mesa's llvmpipe.
 * `GPUGRAD_WEBGPU_BACKEND` = `default` | `vulkan` | `opengles` | any Dawn
 * backend name pins one choice.
 */
import { platform } from '../platform/platform.js';

/** The subset of a Dawn adapter we look at. */
interface DawnAdapterInfo {
  readonly vendor?: string;
  readonly architecture?: string;
  readonly device?: string;
  readonly description?: string;
  readonly isFallbackAdapter?: boolean;
}
interface DawnAdapter {
  readonly info?: DawnAdapterInfo;
}
interface AdapterOptions {
  featureLevel?: string;
}
interface DawnGpu {
  requestAdapter(options?: AdapterOptions): Promise<DawnAdapter | null>;
}
interface WebGpuModule {
  create(flags: string[]): DawnGpu;
}

/** Which adapter webgpu mode runs on, for `Device.info()`. */
export interface WebGpuAdapterChoice {
  /** Dawn backend we asked for: 'default' (Vulkan/Metal/D3D12), 'opengles', ... */
  readonly backend: string;
  /** Adapter description (vendor, device, driver). */
  readonly adapter: string;
  /** True for software rasterizers: llvmpipe, lavapipe, SwiftShader. */
  readonly software: boolean;
  /** What discovery skipped or noticed (shown by `deviceInfo`, printed with GPUGRAD_DEBUG=1). */
  readonly notes: readonly string[];
}

/**
 * Whether the Vulkan loader can be found. Dawn prints a warning to the
 * process's stderr (native code, out of reach of JS) when it tries Vulkan
 * without one, so the Vulkan attempt is skipped then: it cannot succeed.
 */
function hasVulkanLoader(): boolean {
  const p = platform();
  const proc = (globalThis as { process?: { platform?: string; arch?: string } }).process;
  if (proc?.platform !== 'linux') return true;
  const lib = 'libvulkan.so.1';
  const triple = proc.arch === 'arm64' ? 'aarch64-linux-gnu' : 'x86_64-linux-gnu';
  const dirs = [...(p.env('LD_LIBRARY_PATH') ?? '').split(':').filter(Boolean), '/lib', '/usr/lib', '/lib64', '/usr/lib64', '/usr/local/lib', `/usr/lib/${triple}`, `/lib/${triple}`];
  if (dirs.some((d) => p.exists(`${d}/${lib}`))) return true;
  try {
    // the dynamic linker's cache names every library it can find
    return new TextDecoder('latin1').decode(p.readFile('/etc/ld.so.cache')).includes(lib);
  } catch {
    return false;
  }
}

/** NOTE: the names Mesa, Google and Dawn give their CPU renderers. */
export function isSoftwareRenderer(description: string): boolean {
  return /llvmpipe|lavapipe|softpipe|swiftshader|software|swrast|fallback/i.test(description);
}

let found: Promise<WebGpuAdapterChoice | string> | undefined;
/** Dawn instances stay referenced for the life of the process. */
const instances: DawnGpu[] = [];

function describe(a: DawnAdapter): string {
  const i = a.info ?? {};
  const parts = [i.vendor, i.architecture, i.device, i.description].filter((s): s is string => typeof s === 'string' && s.length > 0);
  return parts.length ? parts.join(' / ') : 'unnamed adapter';
}

interface Attempt {
  readonly backend: string;
  readonly flags: string[];
  readonly options: AdapterOptions | undefined;
}

function attempts(notes: string[]): Attempt[] {
  const pinned = platform().env('GPUGRAD_WEBGPU_BACKEND');
  if ((!pinned || pinned === 'auto') && !hasVulkanLoader()) {
    notes.push('the default (Vulkan) adapter was not tried: the Vulkan loader libvulkan.so.1 is not installed');
    return [{ backend: 'opengles', flags: ['backend=opengles'], options: { featureLevel: 'compatibility' } }];
  }
  const compat: AdapterOptions = { featureLevel: 'compatibility' };
  if (pinned && pinned !== 'auto') {
    if (pinned === 'default') {
      return [
        { backend: 'default', flags: [], options: undefined },
        { backend: 'default', flags: [], options: compat },
      ];
    }
    const compatFirst = pinned === 'opengles' || pinned === 'opengl';
    return [
      { backend: pinned, flags: [`backend=${pinned}`], options: compatFirst ? compat : undefined },
      { backend: pinned, flags: [`backend=${pinned}`], options: compatFirst ? undefined : compat },
    ];
  }
  return [
    { backend: 'default', flags: [], options: undefined },
    { backend: 'default', flags: [], options: compat },
    { backend: 'opengles', flags: ['backend=opengles'], options: compat },
  ];
}

/** True for Dawn backends that drive the system's OpenGL (through EGL). */
export function isGlBackend(backend: string): boolean {
  return backend === 'opengles' || backend === 'opengl';
}

async function discover(allowGl: boolean): Promise<WebGpuAdapterChoice | string> {
  // NOTE: Mesa's EGL reads this when Dawn opens its GL ES display; without it
  // EGL looks for an X or Wayland display that a headless machine lacks
  platform().setEnvDefault('EGL_PLATFORM', 'surfaceless');
  let mod: WebGpuModule;
  try {
    mod = (await platform().importPackage('webgpu')) as WebGpuModule;
  } catch (e) {
    return `the 'webgpu' package (Dawn) does not load: ${(e as Error).message}`;
  }
  const tried: string[] = [];
  const notes: string[] = [];
  const byFlags = new Map<string, DawnGpu>();
  for (const at of attempts(notes)) {
    if (!allowGl && isGlBackend(at.backend)) {
      tried.push(`${at.backend}: not tried, headless-gl already owns OpenGL in this process (Dawn's EGL and headless-gl's GLX cannot share one process here)`);
      continue;
    }
    const key = at.flags.join(',');
    const label = `${at.backend}${at.options?.featureLevel ? ' (compatibility)' : ''}`;
    try {
      let gpu = byFlags.get(key);
      if (!gpu) {
        gpu = mod.create(at.flags);
        byFlags.set(key, gpu);
      }
      const adapter = await gpu.requestAdapter(at.options);
      if (!adapter) {
        tried.push(`${label}: no adapter`);
        continue;
      }
      instances.push(gpu);
      install(gpu, at.options, adapter);
      const description = describe(adapter);
      notes.push(...tried);
      // NOTE: Dawn's OpenGL ES backend prints two limit warnings per adapter from native code;
      // handing gpu.js the probed adapter keeps it to one pair (docs/notes/devices.md)
      if (isGlBackend(at.backend)) notes.push("Dawn's OpenGL ES backend prints its limit warnings (maxDynamic*BuffersPerPipelineLayout reduced) to stderr once, from native code");
      const choice = { backend: at.backend, adapter: description, software: isSoftwareRenderer(description) || adapter.info?.isFallbackAdapter === true, notes };
      if (platform().env('GPUGRAD_DEBUG')) for (const n of notes) platform().warn(`webgpu: ${n}`, 'gpugrad');
      return choice;
    } catch (e) {
      tried.push(`${label}: ${(e as Error).message.split('\n')[0] ?? ''}`);
    }
  }
  return `no WebGPU adapter answered (${tried.join('; ')})`;
}

/**
 * Put our adapter choice where gpu.js looks: `navigator.gpu.requestAdapter()`.
 * The first request gets the adapter the probe found (each request makes Dawn
 * print its warnings again; an adapter serves one device, so later requests get new ones).
 */
function install(gpu: DawnGpu, options: AdapterOptions | undefined, probed: DawnAdapter): void {
  let first: DawnAdapter | null = probed;
  const shim = {
    requestAdapter: (): Promise<DawnAdapter | null> => {
      const a = first;
      first = null;
      return a ? Promise.resolve(a) : gpu.requestAdapter(options);
    },
    getPreferredCanvasFormat: (): string => 'rgba8unorm',
  };
  const g = globalThis as { navigator?: object };
  if (g.navigator === undefined) {
    Object.defineProperty(globalThis, 'navigator', { value: { gpu: shim }, configurable: true, writable: true });
  } else {
    Object.defineProperty(g.navigator, 'gpu', { value: shim, configurable: true, writable: true });
  }
}

/**
 * Find (once per process) a WebGPU adapter and install `navigator.gpu` for
 * gpu.js. Resolves to the adapter chosen, or to the reason there is none.
 * `allowGl` false skips Dawn's OpenGL backends (headless-gl is in use).
 */
export function findWebGpuAdapter(allowGl = true): Promise<WebGpuAdapterChoice | string> {
  return (found ??= discover(allowGl));
}
