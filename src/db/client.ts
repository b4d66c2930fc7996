/**
 * MySQL connection pool and drizzle instance. Every connection runs in UTC so that
 * CURRENT_TIMESTAMP(3) defaults and the Date values drizzle writes agree.
 */
import { drizzle, type MySql2Database } from 'drizzle-orm/mysql2';
import mysql from 'mysql2/promise';

import * as schema from './schema.ts';

export type Db = MySql2Database<typeof schema>;

export interface DbHandle {
  db: Db;
  pool: mysql.Pool;
  close(): Promise<void>;
}

export function createDb(url: string, connectionLimit = 10): DbHandle {
  const pool = mysql.createPool({
    uri: url,
    connectionLimit,
    timezone: 'Z',
    enableKeepAlive: true,
    connectTimeout: 5_000,
  });
  pool.pool.on('connection', (conn) => {
    conn.query("SET time_zone = '+00:00'");
  });
  const db = drizzle(pool, { schema, mode: 'default' });
  return {
    db,
    pool,
    close: () => pool.end(),
  };
}

/** The database name of a mysql:// URL. */
export function databaseName(url: string): string {
  const name = decodeURIComponent(new URL(url).pathname.replace(/^\//, ''));
  if (!/^[A-Za-z0-9_]+$/.test(name)) {
    throw new Error(`DATABASE_URL must name a database of letters, digits and _ (got "${name}")`);
  }
  return name;
}

/** A transaction handle, accepted wherever a query function takes `Db`-or-transaction. */
export type Tx = Parameters<Parameters<Db['transaction']>[0]>[0];
export type DbOrTx = Db | Tx;
