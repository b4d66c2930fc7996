/**
 * The batch's multi-row insert (src/db/insert-rows.ts) on a real MariaDB: every value stored as
 * given, the hostile ones too, the same as drizzle's own insert stores it; a column left out
 * takes its default; a duplicate key fails the whole statement.
 */
import { asc, sql } from 'drizzle-orm';
import { datetime, int, mediumtext, mysqlTable, varchar } from 'drizzle-orm/mysql-core';
import mysql from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { createDb, type DbHandle } from '../../src/db/client.ts';
import { isDuplicateKey } from '../../src/db/insert-once.ts';
import { insertRows } from '../../src/db/insert-rows.ts';
import { createTestEnv, MYSQL_URL } from '../helpers/env.ts';

const env = createTestEnv('insertrows');
let handle: DbHandle;

const columns = {
  id: int('id').autoincrement().primaryKey(),
  key: varchar('event_key', { length: 64 }).notNull().unique(),
  body: mediumtext('body').notNull(),
  count: int('count'),
  at: datetime('at', { mode: 'date', fsp: 3 }),
  status: varchar('status', { length: 16 }).notNull().default('received'),
};
const mine = mysqlTable('rows_mine', columns);
const theirs = mysqlTable('rows_theirs', columns);

const HOSTILE = [
  "it's",
  'back\\slash \\',
  'a "quote" and a `tick`',
  "'); DROP TABLE rows_mine; --",
  'nul \u0000 byte',
  'new\nline\r\ttab \u001a sub',
  'what? ?? ? :name',
  '% _ wildcards',
  'emoji 🚚📦 and देवनागरी',
  'line separator \u2028 and \u2029',
  '',
];

beforeAll(async () => {
  const admin = await mysql.createConnection({ uri: MYSQL_URL });
  await admin.query(`CREATE DATABASE \`${env.database}\` CHARACTER SET utf8mb4`);
  await admin.end();
  handle = createDb(env.env.DATABASE_URL!, 2);
  for (const name of ['rows_mine', 'rows_theirs']) {
    await handle.db.execute(
      sql.raw(
        `CREATE TABLE ${name} (id INT AUTO_INCREMENT PRIMARY KEY, event_key VARCHAR(64) NOT NULL UNIQUE, ` +
          `body MEDIUMTEXT NOT NULL, count INT NULL, at DATETIME(3) NULL, ` +
          `status VARCHAR(16) NOT NULL DEFAULT 'received') CHARACTER SET utf8mb4`,
      ),
    );
  }
});

afterAll(async () => {
  await handle.close();
  await env.dropDatabase();
});

describe('insertRows', () => {
  it('stores every value as given, exactly as drizzle’s own insert does', async () => {
    const rows = HOSTILE.map((body, i) => ({
      key: `k${i}`,
      body,
      count: i % 3 === 0 ? null : i - 5,
      at: i % 2 === 0 ? new Date(Date.UTC(2026, 11, 6, 1, 2, 3, i)) : null,
      ...(i % 4 === 0 ? { status: `s'${i}` } : {}),
    }));
    const [result] = await handle.db.execute(insertRows(mine, rows));
    expect(result.affectedRows).toBe(rows.length);
    for (const row of rows) {
      await handle.db.insert(theirs).values(row);
    }
    const stored = await handle.db.select().from(mine).orderBy(asc(mine.id));
    const reference = await handle.db.select().from(theirs).orderBy(asc(theirs.id));
    expect(stored.map(({ id: _id, ...rest }) => rest)).toEqual(
      reference.map(({ id: _id, ...rest }) => rest),
    );
    expect(stored.map((r) => r.body)).toEqual(HOSTILE);
    // A row that left the status out took the column's default; one that gave it, its own.
    expect(stored[1]!.status).toBe('received');
    expect(stored[4]!.status).toBe("s'4");
    expect(stored[2]!.at).toEqual(new Date(Date.UTC(2026, 11, 6, 1, 2, 3, 2)));
    // The ids of one multi-row insert follow on from its insert id.
    expect(stored[0]!.id).toBe(result.insertId);
  });

  it('fails whole on a duplicate key: none of its rows is stored', async () => {
    const rows = [
      { key: 'dup-a', body: 'a' },
      { key: 'k3', body: 'already there' },
      { key: 'dup-b', body: 'b' },
    ];
    const error = await handle.db.execute(insertRows(mine, rows)).catch((e: unknown) => e);
    expect(isDuplicateKey(error)).toBe(true);
    const [found] = await handle.pool.query(
      "SELECT COUNT(*) AS n FROM rows_mine WHERE event_key LIKE 'dup-%'",
    );
    expect((found as { n: number }[])[0]!.n).toBe(0);
  });

  it('refuses no rows, and a key the table has no column for', () => {
    expect(() => insertRows(mine, [])).toThrow(/at least one row/);
    expect(() => insertRows(mine, [{ key: 'x', body: 'y', nope: 1 } as never])).toThrow(
      /no column nope/,
    );
  });
});
