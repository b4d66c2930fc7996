/**
 * MySQL connection pool and drizzle instance. Every connection runs in UTC so that
 * CURRENT_TIMESTAMP(3) defaults and the Date values drizzle writes agree, and in strict SQL mode
 * (SQL_MODE) so that a value that does not fit its column is an error, never silently cut.
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

/**
 * The session SQL mode of every connection. Strict (STRICT_ALL_TABLES, STRICT_TRANS_TABLES): an
 * over-long string, an out-of-range number or an impossible date fails its statement instead of
 * being cut, clamped or zeroed with a warning — a shipment id cut to its column would be stored
 * under a key nobody looks up. Set here rather than left to the server, whose default differs
 * between MySQL 8, MariaDB and managed instances; every mode named is accepted by MySQL 8 and
 * MariaDB 10.11 alike (NO_AUTO_CREATE_USER, for one, is not: MySQL 8 removed it).
 *
 * INSERT IGNORE still turns those errors into warnings, whatever the mode: no query uses it
 * (src/db/insert-once.ts is how a keyed insert skips a row that exists).
 */
export const SQL_MODE = [
  'STRICT_ALL_TABLES',
  'STRICT_TRANS_TABLES',
  'NO_ZERO_IN_DATE',
  'NO_ZERO_DATE',
  'ERROR_FOR_DIVISION_BY_ZERO',
  'NO_ENGINE_SUBSTITUTION',
].join(',');

export function createDb(url: string, connectionLimit = 10): DbHandle {
  const pool = mysql.createPool({
    uri: url,
    connectionLimit,
    timezone: 'Z',
    enableKeepAlive: true,
    connectTimeout: 5_000,
    // mysql2 otherwise captures a stack trace for every query, to join it to a failed query's
    // error: a measurable share of the workers' CPU. The error still says what failed.
    trace: false,
  });
  // Runs before the connection is handed out (commands on one connection run in order). A
  // connection that cannot be set up is destroyed, so nothing runs on it in the server's mode.
  pool.pool.on('connection', (conn) => {
    conn.query(
      `SET SESSION time_zone = '+00:00', SESSION sql_mode = '${SQL_MODE}'`,
      (err: Error | null) => {
        if (err) {
          conn.destroy();
        }
      },
    );
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
