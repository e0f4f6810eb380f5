/**
 * The same MLP training step on every device present: the model is built
 * from the same seed on each, trained for a few SGD steps on the same batch,
 * timed, and its loss and updated weights compared with the cpu reference.
 *
 * Run: `node scripts/with-display.mjs dist/examples/device-tour.js [--quick] [--steps N] [--device NAME ...]`
 * (headless-gl cannot share a process with WebGPU on Dawn's GL backend here;
 * it is listed with its reason when absent. With `--device`, only the devices
 * named are opened: `--device cpu --device gpu:headlessgl` runs headless-gl.)
 *
 * @module
 */
import * as gg from '../src/index.js';
import { fmtSeconds, isMain, logger, maxAbsDiff, numberFlag, parseFlags, runCli, SMOKE_TEST_NOTE, table, UsageError } from './lib/cli.js';

/** Options of {@link main}. */
export interface DeviceTourOptions {
  quick?: boolean;
  /** Timed steps per device (default 10; quick 3). */
  steps?: number;
  /** Batch size (default 256; quick 64). */
  batch?: number;
  /** Only these devices (default: all of `gg.availableDevices()`). */
  devices?: string[];
  out?: string;
  verbose?: boolean;
}

/** One device's numbers. */
export interface DeviceRow {
  device: string;
  backend: string;
  /** First step (kernel compilation included), ms. */
  firstStepMs: number;
  /** Mean of the following steps, ms. */
  stepMs: number;
  losses: number[];
  /** max |loss − loss_cpu| over the steps. */
  lossDiff: number;
  /** max |W − W_cpu| over every parameter after the steps. */
  weightDiff: number;
}

/** What {@link main} measured. */
export interface DeviceTourResult {
  rows: DeviceRow[];
  unavailable: Record<string, string>;
  /** The device names this run opened or probed (the requested ones, else every one). */
  tried: string[];
}

function mlp(device: string): gg.nn.Sequential {
  gg.manualSeed(42);
  return new gg.nn.Sequential(
    new gg.nn.Linear(64, 128, { device }),
    new gg.nn.ReLU(),
    new gg.nn.Linear(128, 128, { device }),
    new gg.nn.Tanh(),
    new gg.nn.Linear(128, 10, { device }),
  );
}

/** Run the step everywhere and print the comparison. */
export async function main(opts: DeviceTourOptions = {}): Promise<DeviceTourResult> {
  const quick = opts.quick ?? false;
  const steps = opts.steps ?? (quick ? 3 : 10);
  const bs = opts.batch ?? (quick ? 64 : 256);
  const verbose = opts.verbose ?? true;
  const log = logger(verbose);
  if (quick) log(SMOKE_TEST_NOTE);
  // NOTE: only the devices asked for are opened: probing them all (availableDevices) would open
  // WebGPU, which on Dawn's OpenGL ES backend keeps headless-gl out of this process (docs/notes/examples.md)
  const wanted = opts.devices ?? (await gg.availableDevices());
  const names: string[] = [];
  const missing: Record<string, string> = {};
  let gpuIs: string | undefined;
  for (const d of wanted) {
    let concrete: string;
    try {
      concrete = await gg.initDevice(d);
    } catch (e) {
      // an unknown name is a mistake on the command line; a known device that is not here is listed with its reason
      if (d === 'gpu') missing[d] = 'no gpu.js mode runs here (the reasons of each are below)';
      else if (!gg.unavailableReasons.has(d)) throw new UsageError(`--device ${d}: ${e instanceof Error ? e.message : String(e)}`);
      continue;
    }
    if (d === 'gpu') gpuIs = concrete;
    // 'gpu' is an alias of one concrete mode: run each concrete device once
    if (!names.includes(concrete)) names.push(concrete);
  }
  if (!names.includes('cpu')) names.unshift('cpu');
  log(`devices: ${names.join(', ')}${gpuIs ? ` (gpu = ${gpuIs})` : ''}`);

  // the same data everywhere, made on the host
  gg.manualSeed(7);
  const xHost = await gg.randn([bs, 64]).data();
  const yHost = Float32Array.from({ length: bs }, (_, i) => (i * 7) % 10);

  const rows: DeviceRow[] = [];
  let ref: { losses: number[]; params: Float32Array[] } | null = null;
  for (const device of names) {
    const model = mlp(device);
    const opt = new gg.optim.SGD(model.parameters(), { lr: 0.1, momentum: 0.9 });
    const lossFn = new gg.nn.CrossEntropyLoss();
    const x = gg.tensor(xHost, { shape: [bs, 64], device });
    const y = gg.tensor(yHost, { dtype: 'int64', device }); // class indices are int64, as in PyTorch
    const losses: number[] = [];
    const times: number[] = [];
    for (let s = 0; s < steps; s++) {
      const t0 = performance.now();
      const loss = gg.tidy(() => {
        opt.zeroGrad();
        const l = lossFn.call(model.call(x), y);
        l.backward();
        opt.step();
        return l;
      });
      losses.push(await loss.item());
      // reading a weight back makes sure the step's work is finished on queued devices
      await model.parameters()[0]!.data();
      times.push(performance.now() - t0);
      loss.dispose();
    }
    const params = await Promise.all(model.parameters().map(async (p) => Float32Array.from(await p.data())));
    ref ??= { losses, params };
    const weightDiff = Math.max(...params.map((p, i) => maxAbsDiff(p, ref!.params[i]!)));
    rows.push({
      device,
      backend: gg.deviceInfo(device).backend,
      firstStepMs: times[0] ?? NaN,
      stepMs: times.length > 1 ? times.slice(1).reduce((a, b) => a + b, 0) / (times.length - 1) : NaN,
      losses,
      lossDiff: maxAbsDiff(losses, ref.losses),
      weightDiff,
    });
    x.dispose();
    y.dispose();
    for (const p of model.parameters()) p.dispose();
  }
  // the reasons of the devices this run tried (all of them without --device, or for 'gpu', which probes all)
  const triedAll = opts.devices === undefined || opts.devices.includes('gpu');
  const unavailable = { ...missing, ...Object.fromEntries([...gg.unavailableReasons].filter(([d]) => triedAll || opts.devices!.includes(d))) };
  log(`MLP 64→128→128→10, batch ${bs}, ${steps} SGD steps per device\n`);
  log(table(
    ['device', 'backend', 'first step', 'step (mean)', 'final loss', 'max |Δloss| vs cpu', 'max |ΔW| vs cpu'],
    rows.map((r) => [
      r.device,
      r.backend,
      fmtSeconds(r.firstStepMs),
      `${r.stepMs.toFixed(1)} ms`,
      (r.losses.at(-1) ?? NaN).toFixed(5),
      r.lossDiff.toExponential(1),
      r.weightDiff.toExponential(1),
    ]),
  ));
  for (const [d, why] of Object.entries(unavailable)) log(`not here: ${d}: ${why}`);
  return { rows, unavailable, tried: [...wanted] };
}

/** The command line, printed on a mistake and by `--help`. */
export const USAGE = 'usage: device-tour [--quick] [--steps N] [--batch N] [--device NAME ...] (NAME: cpu, gpu, gpu:webgpu, gpu:headlessgl, gpu:webasm, gpu:cpu)';

if (isMain(import.meta.url)) {
  await runCli(USAGE, async () => {
    const values = parseFlags(USAGE, { quick: { type: 'boolean' }, steps: { type: 'string' }, batch: { type: 'string' }, device: { type: 'string', multiple: true } });
    await main({
      quick: values.quick,
      steps: numberFlag('--steps', values.steps, { integer: true }),
      batch: numberFlag('--batch', values.batch, { integer: true }),
      devices: values.device,
    });
  });
}
