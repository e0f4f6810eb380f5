/**
 * Fast paths compared with the code they replace: each fast path on the
 * cpu device has a boolean switch (docs/notes/architecture.md), and its
 * tests run the same computation with the switch on and then off.
 */

/** Keys of `T` whose values are booleans (a device's fast-path switches). */
type Switch<T> = { [K in keyof T]: T[K] extends boolean ? K : never }[keyof T];

/**
 * Run `fn` with `target[key]` true, then with it false, and restore the
 * setting it had (also when `fn` throws).
 *
 * @returns `[on, off]`: the results with the fast path and without it.
 */
export async function onThenOff<T, R>(target: T, key: Switch<T>, fn: () => Promise<R>): Promise<[R, R]> {
  const was = target[key];
  try {
    (target[key] as boolean) = true;
    const on = await fn();
    (target[key] as boolean) = false;
    const off = await fn();
    return [on, off];
  } finally {
    target[key] = was;
  }
}
