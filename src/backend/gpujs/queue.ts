/**
 * The serial queue of an asynchronous device (webasm, webgpu): every run,
 * free and read is chained on it, so they happen in call order while the
 * caller goes on synchronously. A failure in queued work rejects the work's
 * own promise, and is kept to reject the next read of anything, once (see
 * docs/notes/devices.md).
 */
import { asError } from './shim.js';

const noop = (): void => undefined;

export class SerialQueue {
  /** Settles when all work enqueued so far has. */
  private tail: Promise<void> = Promise.resolve();
  /** First failure in queued work not yet reported by a read. */
  private failure: Error | undefined;

  /** Chain `work` and return its result; a failure is also kept for the next read. */
  enqueue<T>(work: () => T | Promise<T>): Promise<T> {
    const p = this.tail.then(work);
    this.tail = p.then(noop, (e: unknown) => {
      this.failure ??= asError(e);
    });
    return p;
  }

  /** Chain work nobody waits for (frees, teardown): never rejects, a failure is kept for the next read. */
  post(work: () => void | Promise<void>): void {
    void this.enqueue(work).catch(noop);
  }

  /** Chain a read: it rejects with its own failure, or else with a kept one (which it then clears). */
  read<T>(work: () => Promise<T>): Promise<T> {
    const p = this.tail.then(work);
    this.tail = p.then(noop, noop);
    return p.then(
      (data) => {
        const f = this.failure;
        if (f) {
          this.failure = undefined;
          throw f;
        }
        return data;
      },
      (e: unknown) => {
        this.failure = undefined;
        throw asError(e);
      },
    );
  }

  /** Resolves once all work enqueued so far has settled. */
  async flush(): Promise<void> {
    await this.tail;
  }
}
