/**
 * A training progress bar for the examples: a live cli-progress bar on a
 * terminal, a few plain log lines elsewhere (CI, files, pipes).
 *
 * @module
 */
import cliProgress from 'cli-progress';

/** Extra values shown next to the bar. */
export interface ProgressPayload {
  /** Latest loss, shown with 4 significant digits. */
  loss?: number;
  /** Free-form speed text, e.g. `'812 img/s'`. */
  speed?: string;
}

/** What {@link progressBar} returns. */
export interface ProgressBar {
  /** Set the current count (not an increment) and, optionally, the shown loss/speed. */
  update(n: number, payload?: ProgressPayload): void;
  /** Finish: stops the live bar, or prints the summary line when not on a terminal. Idempotent. */
  stop(): void;
}

/** Options for {@link progressBar}; the defaults suit the examples. */
export interface ProgressOptions {
  /** Where to write (default `process.stderr`). Live bar only if `stream.isTTY === true`. */
  stream?: NodeJS.WritableStream & { isTTY?: boolean };
  /**
   * Off a terminal, also print a line when progress first reaches each of these
   * fractions (default `[0.25, 0.5, 0.75]`; `[]` for the summary line only).
   */
  milestones?: number[];
}

/** Format a loss for display: 4 significant digits, exponent for tiny/huge values. */
export function formatLoss(loss: number): string {
  if (!Number.isFinite(loss)) return String(loss);
  const a = Math.abs(loss);
  return a !== 0 && (a < 1e-3 || a >= 1e5) ? loss.toExponential(3) : loss.toPrecision(4);
}

function formatSeconds(ms: number): string {
  const s = ms / 1000;
  return s < 60 ? `${s.toFixed(1)}s` : `${Math.floor(s / 60)}m${Math.round(s % 60)}s`;
}

function payloadText(p: ProgressPayload): string {
  const parts: string[] = [];
  if (p.loss !== undefined) parts.push(`loss ${formatLoss(p.loss)}`);
  if (p.speed !== undefined) parts.push(p.speed);
  return parts.map((s) => ` | ${s}`).join('');
}

/**
 * Start a progress bar for `total` steps.
 *
 * On a TTY it draws a live bar (`label [=====-----] 40/100 | loss 0.3127 | 812 img/s | ETA 3s`).
 * Otherwise nothing is redrawn: one line at 25 %, 50 % and 75 % and a summary
 * line at `stop()` (`label: 100/100 in 4.1s | loss 0.1021 | 812 img/s`), so CI
 * logs stay short.
 *
 * @example
 * ```ts
 * const bar = progressBar('train BatchNorm', steps);
 * for (let i = 0; i < steps; i++) {
 *   const loss = trainStep();
 *   bar.update(i + 1, { loss, speed: `${rate.toFixed(0)} img/s` });
 * }
 * bar.stop();
 * ```
 */
export function progressBar(label: string, total: number, opts: ProgressOptions = {}): ProgressBar {
  const stream = opts.stream ?? process.stderr;
  const start = Date.now();
  let value = 0;
  let payload: ProgressPayload = {};
  let stopped = false;

  if (stream.isTTY === true) {
    const bar = new cliProgress.SingleBar(
      {
        stream,
        format: (options, params, p: ProgressPayload) => {
          const barText = cliProgress.Format.BarFormat(params.progress, options);
          const eta = Number.isFinite(params.eta) && params.value > 0 ? ` | ETA ${params.eta}s` : '';
          return `${label} [${barText}] ${params.value}/${params.total}${payloadText(p)}${eta}`;
        },
        barsize: 30,
        hideCursor: true,
        etaBuffer: 50,
      },
      cliProgress.Presets.legacy,
    );
    bar.start(total, 0, {});
    return {
      update(n, p = {}) {
        if (stopped) return;
        payload = { ...payload, ...p };
        bar.update(n, payload);
      },
      stop() {
        if (stopped) return;
        stopped = true;
        bar.stop();
      },
    };
  }

  const pending = [...(opts.milestones ?? [0.25, 0.5, 0.75])].sort((a, b) => a - b);
  const line = (text: string) => stream.write(`${text}\n`);
  return {
    update(n, p = {}) {
      if (stopped) return;
      value = n;
      payload = { ...payload, ...p };
      let reached: number | undefined;
      while (pending.length > 0 && total > 0 && n / total >= (pending[0] ?? Infinity)) {
        reached = pending.shift();
      }
      if (reached !== undefined && n < total) {
        line(`${label}: ${n}/${total} (${Math.round(reached * 100)}%)${payloadText(payload)}`);
      }
    },
    stop() {
      if (stopped) return;
      stopped = true;
      line(`${label}: ${value}/${total} in ${formatSeconds(Date.now() - start)}${payloadText(payload)}`);
    },
  };
}
