/**
 * Hot queries built once: drizzle builds a query's SQL anew on every call (a visible share of the
 * workers' CPU), unless it is prepared. `preparedFor` keeps one prepared query per database
 * handle, made on first use with `sql.placeholder(...)` where the values go; a transaction handle
 * gets its own (prepared on it, so it runs on the transaction's connection).
 */
import type { DbOrTx } from './client.ts';

export function preparedFor<P>(build: (db: DbOrTx) => P): (db: DbOrTx) => P {
  const made = new WeakMap<DbOrTx, P>();
  return (db) => {
    let query = made.get(db);
    if (query === undefined) {
      query = build(db);
      made.set(db, query);
    }
    return query;
  };
}
