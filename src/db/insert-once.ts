/**
 * A keyed insert that skips a row already there: how a redelivered event, a repeated callback or
 * a retried step writes nothing twice. Not INSERT IGNORE, which would also turn every other error
 * into a warning, strict SQL mode notwithstanding (src/db/client.ts): an over-long value would be
 * cut to its column and the row stored under a key nobody looks up. Only a duplicate key is
 * skipped here; anything else fails the statement.
 */

/** MySQL's and MariaDB's error for a duplicate unique key (errno 1062). */
const DUPLICATE_KEY = 'ER_DUP_ENTRY';

/**
 * Runs `insert`; true when it stored the row, false when a unique key already held one. Inside a
 * transaction the duplicate rolls back only this statement, as in MySQL it always does.
 */
export async function insertOnce(insert: () => Promise<unknown>): Promise<boolean> {
  try {
    await insert();
    return true;
  } catch (err) {
    if (isDuplicateKey(err)) {
      return false;
    }
    throw err;
  }
}

/**
 * `insertOnce` for an insert whose new row's id the caller needs: the id, or null when a unique
 * key already held a row (the caller reads that one's id, the only case that needs a read).
 */
export async function insertIdOnce(
  insert: () => Promise<readonly [{ insertId: number }, ...unknown[]]>,
): Promise<number | null> {
  let id: number | null = null;
  await insertOnce(async () => {
    const [result] = await insert();
    id = result.insertId;
  });
  return id;
}

/**
 * A batch's rows as one multi-row insert, which fails whole on a duplicate key (the caller then
 * writes them one by one), and one read of their ids by that key: the ids in the keys' order.
 */
export async function insertManyIds(
  keys: string[],
  insert: () => Promise<unknown>,
  readIds: () => Promise<{ key: string; id: number }[]>,
  what: string,
): Promise<number[]> {
  if (keys.length === 0) {
    return [];
  }
  await insert();
  const ids = new Map((await readIds()).map((row) => [row.key, row.id]));
  return keys.map((key) => {
    const id = ids.get(key);
    if (id === undefined) {
      throw new Error(`${what} ${key} was not stored`);
    }
    return id;
  });
}

/** Whether `err`, or an error it wraps (drizzle wraps the driver's), is a duplicate key. */
export function isDuplicateKey(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 5; depth++) {
    if ((e as Error & { code?: unknown }).code === DUPLICATE_KEY) {
      return true;
    }
    e = e.cause;
  }
  return false;
}
