/**
 * The write batcher on a real MariaDB: concurrent units share commits, each caller settles only
 * once its own writes are committed (visible to another connection), a failing unit fails alone,
 * and close commits what is queued.
 */
import { eq, inArray, sql } from 'drizzle-orm';
import { int, mysqlTable, varchar } from 'drizzle-orm/mysql-core';
import mysql from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { createDb, type DbHandle, type DbOrTx } from '../../src/db/client.ts';
import { insertIdOnce, isDuplicateKey } from '../../src/db/insert-once.ts';
import { createWriteBatcher, type WriteGroup } from '../../src/db/write-batcher.ts';
import { createTestEnv, MYSQL_URL } from '../helpers/env.ts';

const env = createTestEnv('writebatcher');
let handle: DbHandle;
let other: mysql.Connection;

const items = mysqlTable('items', {
  id: int('id').autoincrement().primaryKey(),
  k: varchar('k', { length: 32 }).notNull(),
  tag: varchar('tag', { length: 16 }).notNull(),
});

async function rowsOf(tag: string): Promise<string[]> {
  const [rows] = await other.query('SELECT k FROM items WHERE tag = ? ORDER BY k', [tag]);
  return (rows as { k: string }[]).map((r) => r.k);
}

beforeAll(async () => {
  const admin = await mysql.createConnection({ uri: MYSQL_URL });
  await admin.query(`CREATE DATABASE \`${env.database}\``);
  await admin.end();
  handle = createDb(env.env.DATABASE_URL!, 8);
  await handle.db.execute(
    sql`CREATE TABLE items (id INT AUTO_INCREMENT PRIMARY KEY, k VARCHAR(32) NOT NULL UNIQUE, tag VARCHAR(16) NOT NULL)`,
  );
  other = await mysql.createConnection({ uri: env.env.DATABASE_URL! });
});

afterAll(async () => {
  await other.end();
  await handle.close();
  await env.dropDatabase();
});

describe('write batcher', () => {
  it('commits concurrent units together, each caller settling after its commit', async () => {
    const batches: number[] = [];
    const batcher = createWriteBatcher(handle.db, {
      maxWaitMs: 5,
      onBatch: (n) => batches.push(n),
    });
    const keys = Array.from({ length: 200 }, (_v, i) => `a-${String(i).padStart(3, '0')}`);
    const seen = await Promise.all(
      keys.map(async (k) => {
        const id = await batcher.run(async (tx) => {
          const [result] = await tx.execute(sql`INSERT INTO items (k, tag) VALUES (${k}, 'a')`);
          return result.insertId;
        });
        // Settled means committed: another connection sees the row now.
        const [rows] = await other.query('SELECT id FROM items WHERE k = ?', [k]);
        return { id, visible: (rows as { id: number }[])[0]?.id };
      }),
    );
    for (const s of seen) {
      expect(s.visible).toBe(s.id);
    }
    expect(await rowsOf('a')).toEqual(keys);
    expect(batches.reduce((a, b) => a + b, 0)).toBe(200);
    // Far fewer transactions than units.
    expect(batches.length).toBeLessThan(50);
    await batcher.close();
  });

  it('fails only the unit that failed; the others of its batch commit', async () => {
    const batcher = createWriteBatcher(handle.db, { maxWaitMs: 20 });
    await batcher.run((tx) => tx.execute(sql`INSERT INTO items (k, tag) VALUES ('b-dup', 'b')`));
    const outcomes = await Promise.allSettled(
      ['b-1', 'b-dup', 'b-2', 'b-3'].map((k) =>
        batcher.run(async (tx) => {
          await tx.execute(sql`INSERT INTO items (k, tag) VALUES (${k}, 'b')`);
          return k;
        }),
      ),
    );
    expect(outcomes.map((o) => o.status)).toEqual([
      'fulfilled',
      'rejected',
      'fulfilled',
      'fulfilled',
    ]);
    const failed = outcomes[1] as PromiseRejectedResult;
    expect(isDuplicateKey(failed.reason)).toBe(true);
    expect(await rowsOf('b')).toEqual(['b-1', 'b-2', 'b-3', 'b-dup']);
    await batcher.close();
  });

  /** Keyed inserts into `items`, a batch's as one statement; `many` calls are counted. */
  async function insertItems(db: DbOrTx, keys: string[], calls: number[]) {
    calls.push(keys.length);
    await db.insert(items).values(keys.map((k) => ({ k, tag: 'g' })));
    const rows = await db
      .select({ id: items.id, k: items.k })
      .from(items)
      .where(inArray(items.k, keys));
    const ids = new Map(rows.map((r) => [r.k, r.id]));
    return keys.map((k) => ({ id: ids.get(k)!, created: true }));
  }

  function itemInserts(calls: number[]): WriteGroup<string, { id: number; created: boolean }> {
    return {
      many: (tx, keys) => insertItems(tx, keys, calls),
      async one(db, k) {
        const id = await insertIdOnce(() => db.insert(items).values({ k, tag: 'g' }));
        if (id !== null) {
          return { id, created: true };
        }
        const [row] = await db.select({ id: items.id }).from(items).where(eq(items.k, k));
        return { id: row!.id, created: false };
      },
    };
  }

  it("writes a batch's items of a group as one statement, each caller getting its own row", async () => {
    const calls: number[] = [];
    const group = itemInserts(calls);
    const batcher = createWriteBatcher(handle.db, { maxWaitMs: 20, concurrency: 1 });
    const keys = Array.from({ length: 40 }, (_v, i) => `g-${String(i).padStart(2, '0')}`);
    const [results, plain] = await Promise.all([
      Promise.all(keys.map((k) => batcher.runIn(group, k))),
      // A plain unit in the same batch commits with them.
      batcher.run((tx) => tx.execute(sql`INSERT INTO items (k, tag) VALUES ('g-plain', 'g')`)),
    ]);
    expect(plain).toBeDefined();
    // Every caller has its own row's id, as another connection sees it.
    const [rows] = await other.query("SELECT id, k FROM items WHERE tag = 'g' AND k <> 'g-plain'");
    const idOf = new Map((rows as { id: number; k: string }[]).map((r) => [r.k, r.id]));
    expect(results).toEqual(keys.map((k) => ({ id: idOf.get(k), created: true })));
    expect(calls.reduce((a, b) => a + b, 0)).toBe(40);
    // One statement per batch, not per item.
    expect(calls.length).toBeLessThanOrEqual(2);
    expect(await rowsOf('g')).toEqual([...keys, 'g-plain'].sort());
    await batcher.close();
  });

  it('writes item by item when the multi-row statement fails (a duplicate among them)', async () => {
    const calls: number[] = [];
    const group = itemInserts(calls);
    const batcher = createWriteBatcher(handle.db, { maxWaitMs: 20, concurrency: 1 });
    const first = await batcher.runIn(group, 'h-dup');
    const results = await Promise.all(
      ['h-1', 'h-dup', 'h-2', 'h-1'].map((k) => batcher.runIn(group, k)),
    );
    expect(results.map((r) => r.created)).toEqual([true, false, true, false]);
    expect(results[1]!.id).toBe(first.id);
    expect(results[3]!.id).toBe(results[0]!.id);
    // The multi-row attempt was made and rolled back whole.
    expect(calls).toContain(4);
    const [rows] = await other.query("SELECT k FROM items WHERE k LIKE 'h-%' ORDER BY k");
    expect((rows as { k: string }[]).map((r) => r.k)).toEqual(['h-1', 'h-2', 'h-dup']);
    await batcher.close();
  });

  it("runs a one-statement group's batch outside a transaction, item by item on a duplicate", async () => {
    const calls: number[] = [];
    const inner = itemInserts(calls);
    const outside: boolean[] = [];
    const group: WriteGroup<string, { id: number; created: boolean }> = {
      ...inner,
      many: (db, keys) => {
        // The batcher's own Db, not a transaction: the statement commits by itself.
        outside.push(db === handle.db);
        return insertItems(db, keys, calls);
      },
      oneStatement: true,
    };
    const batcher = createWriteBatcher(handle.db, { maxWaitMs: 20, concurrency: 1 });
    // A batch of one goes the same way.
    const first = await batcher.runIn(group, 'o-dup');
    const keys = ['o-1', 'o-2', 'o-3'];
    const results = await Promise.all(keys.map((k) => batcher.runIn(group, k)));
    const [rows] = await other.query("SELECT id, k FROM items WHERE k LIKE 'o-%'");
    const idOf = new Map((rows as { id: number; k: string }[]).map((r) => [r.k, r.id]));
    expect(results).toEqual(keys.map((k) => ({ id: idOf.get(k), created: true })));
    expect(first).toEqual({ id: idOf.get('o-dup'), created: true });
    expect(calls).toEqual([1, 3]);
    expect(outside).toEqual([true, true]);

    // A duplicate fails the statement whole; each item is then written alone.
    const again = await Promise.all(['o-4', 'o-dup'].map((k) => batcher.runIn(group, k)));
    expect(again.map((r) => r.created)).toEqual([true, false]);
    expect(again[1]!.id).toBe(first.id);
    expect(await rowsOf('g')).toEqual(
      expect.arrayContaining(['o-1', 'o-2', 'o-3', 'o-4', 'o-dup']),
    );
    await batcher.close();
  });

  it('close commits what is queued and refuses new work', async () => {
    const batcher = createWriteBatcher(handle.db, { maxWaitMs: 1_000, concurrency: 1 });
    const pending = ['c-1', 'c-2', 'c-3'].map((k) =>
      batcher.run((tx) => tx.execute(sql`INSERT INTO items (k, tag) VALUES (${k}, 'c')`)),
    );
    await batcher.close();
    await Promise.all(pending);
    expect(await rowsOf('c')).toEqual(['c-1', 'c-2', 'c-3']);
    await expect(batcher.run(async () => 1)).rejects.toThrow(/closed/);
  });
});
