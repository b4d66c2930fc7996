/**
 * Point lookups of concurrent jobs in one query: the keys asked for while the event loop runs its
 * current callbacks are read together at its next turn (`setImmediate`), with one `IN (…)` query,
 * and each caller gets its own row. Nothing is cached: every call reads MySQL afresh, at the
 * same moment its own query would have, so what it sees is as current.
 */
import DataLoader from 'dataloader';

import type { DbOrTx } from './client.ts';

/** Keys handled in one batch at most. */
const MAX_BATCH = 200;

/**
 * The lower level: one batcher per database handle, whose `run` gets the keys asked for in one
 * turn of the event loop and answers each, in their order, with its value or its own error.
 */
export function batchedFor<H extends object, K, V>(
  run: (db: H, keys: readonly K[]) => Promise<(V | Error)[]>,
): (db: H, key: K) => Promise<V> {
  const made = new WeakMap<H, DataLoader<K, V>>();
  return (db, key) => {
    let loader = made.get(db);
    if (loader === undefined) {
      loader = new DataLoader<K, V>((keys) => run(db, keys), {
        cache: false,
        maxBatchSize: MAX_BATCH,
        batchScheduleFn: (next) => setImmediate(next),
      });
      made.set(db, loader);
    }
    return loader.load(key);
  };
}

/**
 * One coalescing reader per database handle. `fetch` reads the rows of the keys (one or many)
 * and returns them by key; a key without a row gets null.
 */
export function coalescedFor<K, V>(
  fetch: (db: DbOrTx, keys: readonly K[]) => Promise<Map<K, V>>,
): (db: DbOrTx, key: K) => Promise<V | null> {
  return batchedFor<DbOrTx, K, V | null>(async (db, keys) => {
    const rows = await fetch(db, keys);
    return keys.map((k) => rows.get(k) ?? null);
  });
}
