/**
 * The finalizer backstop and tidy scopes (tensor/storage.ts `StorageRef`):
 * a handle made inside a scope is registered with the FinalizationRegistry
 * only when it outlives every scope (returned from the outermost, or
 * `keep`); one the scope disposes never is. Checked by dropping handles and
 * forcing collections: the storage of an escaped handle must be freed by
 * the finalizer, as one made outside any scope is.
 */
import { expect } from 'chai';
import v8 from 'node:v8';
import vm from 'node:vm';
import * as gg from '../../src/index.js';

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

interface Inside {
  ref: { storage: { freed: boolean }; registered: boolean };
}
const inside = (t: gg.Tensor): Inside['ref'] => (t as unknown as Inside).ref;

/** Collect until `done()` or give up (a finalizer runs on a later turn of the event loop). */
async function collectUntil(done: () => boolean): Promise<boolean> {
  for (let i = 0; i < 40 && !done(); i++) {
    gc();
    await new Promise((r) => setTimeout(r, 5));
  }
  return done();
}

describe('finalizer backstop across tidy scopes', () => {
  it('a handle made outside any scope is registered and freed once dropped', async () => {
    const made = (): Inside['ref'] => inside(gg.ones([7, 3]).mul(2));
    const ref = made();
    expect(ref.registered).to.equal(true);
    expect(await collectUntil(() => ref.storage.freed), 'freed by the finalizer').to.equal(true);
  });

  it('a handle returned from the outermost tidy is registered when the scope ends, and freed once dropped', async () => {
    let during = true;
    const ref = ((): Inside['ref'] => {
      const t = gg.tidy(() => {
        const y = gg.ones([5, 3]).mul(3);
        during = inside(y).registered;
        return y;
      });
      return inside(t);
    })();
    expect(during, 'not registered while a scope holds it').to.equal(false);
    expect(ref.registered, 'registered once it outlives the scopes').to.equal(true);
    expect(await collectUntil(() => ref.storage.freed), 'freed by the finalizer').to.equal(true);
  });

  it('a nested scope hands its result to the outer one (not registered), which disposes it', () => {
    let ref: Inside['ref'] | null = null;
    gg.tidy(() => {
      const y = gg.tidy(() => gg.ones([4]).mul(2));
      ref = inside(y);
      expect(ref.registered).to.equal(false);
    });
    expect(ref!.registered).to.equal(false);
    expect(ref!.storage.freed, 'the outer scope disposed it').to.equal(true);
  });

  it('keep() inside a scope registers the handle; dropped, it is freed by the finalizer', async () => {
    const ref = ((): Inside['ref'] => {
      let r: Inside['ref'] | null = null;
      gg.tidy(() => {
        const y = gg.keep(gg.ones([6, 2]).mul(4));
        r = inside(y);
      });
      return r!;
    })();
    expect(ref.registered).to.equal(true);
    expect(ref.storage.freed, 'kept past the scope').to.equal(false);
    expect(await collectUntil(() => ref.storage.freed), 'freed by the finalizer').to.equal(true);
  });
});
