/**
 * Point lookups of concurrent jobs in one query: the keys asked for while the event loop runs its
 * current callbacks are read together at its next turn (`setImmediate`), with one `IN (…)` query,
 * and each caller gets its own row. Nothing is cached: every call reads MySQL afresh, at the
 * same moment its own query would have, so what it sees is as current.
 */
import DataLoader from 'dataloader';

import type { DbOrTx } from './client.ts';

/** Keys read in one query at most. */
const MAX_BATCH = 200;

/**
 * One coalescing reader per database handle. `fetch` reads the rows of the keys (one or many)
 * and returns them by key; a key without a row gets null.
 */
export function coalescedFor<K, V>(
  fetch: (db: DbOrTx, keys: readonly K[]) => Promise<Map<K, V>>,
): (db: DbOrTx, key: K) => Promise<V | null> {
  const made = new WeakMap<DbOrTx, DataLoader<K, V | null>>();
  return (db, key) => {
    let loader = made.get(db);
    if (loader === undefined) {
      loader = new DataLoader<K, V | null>(
        async (keys) => {
          const rows = await fetch(db, keys);
          return keys.map((k) => rows.get(k) ?? null);
        },
        { cache: false, maxBatchSize: MAX_BATCH, batchScheduleFn: (run) => setImmediate(run) },
      );
      made.set(db, loader);
    }
    return loader.load(key);
  };
}
