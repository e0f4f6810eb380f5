/**
 * Devices found by name, and the one place that owns open devices. `cpu` is
 * always here; the gpu.js modes are loaded lazily and probed (their adapter
 * is found, a context opens and a probe kernel returns the right numbers)
 * before they are reported as available.
 */
import { CpuDevice } from './cpu.js';
import type { Device, DeviceInfo } from './device.js';
import { findAdapter, knownAdapter, markUnusable } from './gpujs/adapters.js';
import { GpuJsDevice } from './gpujs/device.js';
import { bestOrder, closeAfterProbe, gpuDeviceNames, isGpuName, type GpuDeviceName } from './gpujs/modes.js';

/** Every device string gpugrad knows. */
export const deviceNames: readonly string[] = ['cpu', 'gpu', ...gpuDeviceNames];

/** The open gpu.js devices (cpu aside), by concrete name. */
const open = new Map<string, Device>();
/** Devices in `open` that only a probe has used so far. */
const probeOnly = new Set<string>();
let cpu: CpuDevice | undefined;

/** Resolve `'gpu'` to the best concrete mode found here (needs `availableDevices` first). */
let bestGpu: GpuDeviceName | undefined;

/** Get (opening on first use) the device called `name`. */
export function getDevice(name: string): Device {
  if (name === 'cpu') return (cpu ??= new CpuDevice());
  let concrete = name;
  if (name === 'gpu') {
    if (!bestGpu) {
      throw new Error("device 'gpu' is not resolved yet: call 'await gg.availableDevices()' (or 'await gg.initDevice(\"gpu\")') once before using it");
    }
    concrete = bestGpu;
  }
  if (!isGpuName(concrete)) {
    throw new Error(`unknown device '${name}'; expected one of ${deviceNames.join(', ')}`);
  }
  probeOnly.delete(concrete);
  return openGpuDevice(concrete);
}

/**
 * Open the gpu.js device `name` (or return it, open). Probe it first
 * (`probeGpuDevice`): that finds its adapter, which for WebGPU is only found
 * asynchronously.
 */
export function openGpuDevice(name: GpuDeviceName): Device {
  const hit = open.get(name);
  if (hit) return hit;
  const adapter = knownAdapter(name);
  if (adapter === undefined) throw new Error(`device '${name}' is not probed yet: call 'await gg.availableDevices()' (or 'await gg.initDevice("${name}")') before using it`);
  if (typeof adapter === 'string') throw new Error(`device '${name}' is not available here: ${adapter}`);
  const dev = new GpuJsDevice(name, adapter, () => {
    if (open.get(name) === dev) open.delete(name);
    probeOnly.delete(name);
  });
  open.set(name, dev);
  return dev;
}

const probes = new Map<GpuDeviceName, Promise<string | null>>();

/**
 * Check that `name` really runs here: null when it does, else the reason.
 * Cached per process. The device it opens stays open for its first use.
 */
export function probeGpuDevice(name: GpuDeviceName): Promise<string | null> {
  let p = probes.get(name);
  if (!p) {
    p = (async (): Promise<string | null> => {
      const adapter = await findAdapter(name);
      if (typeof adapter === 'string') return adapter;
      try {
        const wasOpen = open.has(name);
        const dev = openGpuDevice(name) as GpuJsDevice;
        if (!wasOpen) probeOnly.add(name);
        const bad = await dev.selfTest();
        if (bad !== null) {
          markUnusable(name, bad);
          dev.release();
        }
        return bad;
      } catch (e) {
        const reason = `device '${name}' failed its probe kernel: ${(e instanceof Error ? e.message : String(e)).split('\n')[0] ?? ''}`;
        markUnusable(name, reason);
        open.get(name)?.release();
        return reason;
      }
    })();
    probes.set(name, p);
  }
  return p;
}

/** Wait until every queued operation of an async gpu.js device has settled (tests, benchmarks). */
export async function flushGpuDevice(dev: Device): Promise<void> {
  if (dev instanceof GpuJsDevice) await dev.flush();
}

/** Why each probed device is missing, for test summaries. */
export const unavailableReasons = new Map<string, string>();

/**
 * Probe one device: null when it works here, else the reason (also kept in
 * `unavailableReasons`). Only that device is touched.
 */
export async function probeDevice(name: string): Promise<string | null> {
  if (name === 'cpu') return null;
  if (!isGpuName(name)) return `unknown device '${name}'; expected one of ${deviceNames.join(', ')}`;
  const reason = await probeGpuDevice(name);
  if (reason === null) unavailableReasons.delete(name);
  else unavailableReasons.set(name, reason);
  return reason;
}

/**
 * Probe every device and list those that really run here, best GPU mode
 * first after `cpu`. Also resolves `'gpu'`.
 */
export async function availableDevices(): Promise<string[]> {
  const found: string[] = ['cpu'];
  const infos: DeviceInfo[] = [];
  for (const name of gpuDeviceNames) {
    const wasOpen = open.has(name) && !probeOnly.has(name);
    const reason = await probeGpuDevice(name);
    if (reason === null) {
      found.push(name);
      infos.push(getDevice(name).info());
      unavailableReasons.delete(name);
      // NOTE: a live Dawn device keeps Node's event loop busy; a device opened only
      // for the probe is closed again (it reopens on first use)
      if (!wasOpen && closeAfterProbe(name)) {
        const dev = getDevice(name);
        releaseDevice(name);
        await flushGpuDevice(dev);
      }
    } else {
      unavailableReasons.set(name, reason);
    }
  }
  bestGpu = pickBest(infos);
  if (bestGpu) found.splice(1, 0, 'gpu');
  return found;
}

/** The best device that runs, in this runtime's order of preference (modes.ts). */
function pickBest(infos: DeviceInfo[]): GpuDeviceName | undefined {
  const hw = infos.filter((i) => !i.software);
  const order = bestOrder(hw.length > 0);
  const names = new Set((hw.length ? hw : infos).map((i) => i.name));
  return order.find((n) => names.has(n)) ?? (infos[0]?.name as GpuDeviceName | undefined);
}

/** Release a device: its kernels and cached state. Tensors on it become unusable. */
export function releaseDevice(name: string): void {
  const dev = name === 'cpu' ? cpu : open.get(name === 'gpu' && bestGpu ? bestGpu : name);
  if (!dev) return;
  dev.release();
  if (dev !== cpu) {
    dev.released = true;
    open.delete(dev.name);
    probeOnly.delete(dev.name);
  }
}

/** Devices opened so far. */
export function openDevices(): Device[] {
  return [...(cpu ? [cpu] : []), ...open.values()];
}
