/**
 * Start-up database preparation on a real MariaDB: the database is created, the migrations give
 * the spec's tables their exact columns, defaults are seeded, and doing it all again changes
 * nothing. Every connection of the service's pool is in strict SQL mode: a value too long for its
 * column is an error, never silently cut.
 */
import { sql } from 'drizzle-orm';
import mysql from 'mysql2/promise';
import { afterAll, describe, expect, it } from 'vitest';

import { createDb } from '../../src/db/client.ts';
import { recordInboxEvent } from '../../src/db/inbox.ts';
import { isDuplicateKey } from '../../src/db/insert-once.ts';
import { prepareDatabase } from '../../src/db/migrate.ts';
import { findOutbox, insertOutbox } from '../../src/db/outbox.ts';
import { fdrInbox, whatsappStatusLogs } from '../../src/db/schema.ts';
import { FDR_REASONS } from '../../src/fdr/reasons.ts';
import { createLog } from '../../src/log.ts';
import { createTestEnv, MYSQL_URL } from '../helpers/env.ts';

const env = createTestEnv('database');
const log = createLog('silent');

async function query<T>(sql: string, params: unknown[] = []): Promise<T[]> {
  const conn = await mysql.createConnection({ uri: MYSQL_URL });
  try {
    const [rows] = await conn.query(sql, params);
    return rows as T[];
  } finally {
    await conn.end();
  }
}

async function columns(table: string) {
  const rows = await query<{ COLUMN_NAME: string }>(
    'select COLUMN_NAME from information_schema.COLUMNS where TABLE_SCHEMA = ? and TABLE_NAME = ? order by ORDINAL_POSITION',
    [env.database, table],
  );
  return rows.map((r) => r.COLUMN_NAME);
}

afterAll(() => env.dropDatabase());

describe('prepareDatabase', () => {
  it('creates the database, the spec tables with their exact columns, and the defaults', async () => {
    await prepareDatabase(env.env.DATABASE_URL!, log);

    expect(await columns('whatsapp_status_logs')).toEqual([
      'id',
      'shipment_id',
      'status',
      'message_id',
      'remarks',
      'created_at',
      'updated_at',
      'external_updatedAt',
    ]);
    expect(await columns('whatsappTemplateVariables')).toEqual(
      expect.arrayContaining(['variable_number', 'defined_variable', 'description', 'template_id']),
    );
    expect(await columns('poe_channel_notifications')).toEqual(
      expect.arrayContaining(['account_id', 'isWhatsappEnabled', 'whatsappTemplateId']),
    );
    expect(await columns('poe_channel_settings')).toEqual(
      expect.arrayContaining(['account_id', 'whatsappSenderConnectionId']),
    );
    const [flag] = await query<{ COLUMN_DEFAULT: string }>(
      "select COLUMN_DEFAULT from information_schema.COLUMNS where TABLE_SCHEMA = ? and TABLE_NAME = 'poe_channel_notifications' and COLUMN_NAME = 'isWhatsappEnabled'",
      [env.database],
    );
    expect(flag!.COLUMN_DEFAULT).toBe('0');

    const templates = await query<{ default_for_reason: string }>(
      `select default_for_reason from \`${env.database}\`.whatsapp_templates`,
    );
    expect(templates.map((t) => t.default_for_reason).sort()).toEqual([...FDR_REASONS].sort());
    const mappings = await query<{ n: number }>(
      `select count(*) as n from \`${env.database}\`.whatsappTemplateVariables`,
    );
    expect(Number(mappings[0]!.n)).toBeGreaterThanOrEqual(9 * 5);
  });

  it('is idempotent: a second start changes no counts', async () => {
    const count = async (table: string) =>
      Number(
        (
          await query<{ n: number }>(`select count(*) as n from \`${env.database}\`.\`${table}\``)
        )[0]!.n,
      );
    const before = [await count('whatsapp_templates'), await count('whatsappTemplateVariables')];
    // Two replicas starting at once: the migration lock serialises them.
    await Promise.all([
      prepareDatabase(env.env.DATABASE_URL!, log),
      prepareDatabase(env.env.DATABASE_URL!, log),
    ]);
    expect([await count('whatsapp_templates'), await count('whatsappTemplateVariables')]).toEqual(
      before,
    );
  });
});

describe('the connection pool', () => {
  it('runs every connection in strict SQL mode, whatever the server default', async () => {
    const handle = createDb(env.env.DATABASE_URL!, 3);
    try {
      // Several connections at once, so more than the first one is looked at.
      const modes = await Promise.all(
        [1, 2, 3].map(async () => {
          const [rows] = await handle.pool.query('select @@SESSION.sql_mode as mode, sleep(0.05)');
          return (rows as Array<{ mode: string }>)[0]!.mode.split(',');
        }),
      );
      for (const mode of modes) {
        expect(mode).toEqual(expect.arrayContaining(['STRICT_ALL_TABLES', 'STRICT_TRANS_TABLES']));
      }
    } finally {
      await handle.close();
    }
  });

  it('refuses a value too long for its column instead of cutting it', async () => {
    const handle = createDb(env.env.DATABASE_URL!, 2);
    const longId = 'S'.repeat(300);
    try {
      const direct = await handle.db
        .insert(whatsappStatusLogs)
        .values({ shipmentId: longId, status: 'SUBMITTED' })
        .then(
          () => null,
          (err: unknown) => err,
        );
      expect(direct).toBeInstanceOf(Error);
      expect((direct as Error & { cause?: { code?: string } }).cause?.code).toBe(
        'ER_DATA_TOO_LONG',
      );
      // The inbox's keyed insert too: it used to store the id cut to 64 characters, under a key
      // its own read-back then missed.
      await expect(
        recordInboxEvent(handle.db, {
          shipmentId: longId,
          attempt: 1,
          accountId: 379,
          pubsubMessageId: null,
          payload: '{}',
        }),
      ).rejects.toThrow();
      const [stored] = await handle.db
        .select({ n: sql<number>`count(*)` })
        .from(fdrInbox)
        .where(sql`${fdrInbox.shipmentId} like 'SSSS%'`);
      expect(Number(stored!.n)).toBe(0);
    } finally {
      await handle.close();
    }
  });

  it('skips a keyed insert whose key exists, and says which happened', async () => {
    const handle = createDb(env.env.DATABASE_URL!, 2);
    const event = {
      shipmentId: 'DB-ONCE-1',
      attempt: 1,
      accountId: 379,
      pubsubMessageId: 'm-1',
      payload: '{}',
    };
    try {
      const first = await recordInboxEvent(handle.db, event);
      const again = await recordInboxEvent(handle.db, { ...event, pubsubMessageId: 'm-2' });
      expect([first.created, again.created]).toEqual([true, false]);
      expect(again.id).toBe(first.id);
      expect(again.status).toBe('received');
      const [stored] = await handle.db
        .select()
        .from(fdrInbox)
        .where(sql`${fdrInbox.id} = ${first.id}`);
      expect(stored!.pubsubMessageId).toBe('m-1');
      const duplicate = await handle.db
        .insert(fdrInbox)
        .values({ eventKey: stored!.eventKey, shipmentId: 'x', attempt: 1, payload: '{}' })
        .then(
          () => null,
          (err: unknown) => err,
        );
      expect(isDuplicateKey(duplicate)).toBe(true);
    } finally {
      await handle.close();
    }
  });

  it("draws an outbox row's correlation key once: writing the row again keeps the first", async () => {
    const handle = createDb(env.env.DATABASE_URL!, 2);
    const message = {
      idempotencyKey: 'fdr-DB-CORR-1-1',
      kind: 'fdr_template',
      shipmentId: 'DB-CORR-1',
      accountId: 379,
      connectionId: 'default',
      toNumber: '917891971009',
      body: 'Hello',
    };
    try {
      const first = await insertOutbox(handle.db, message);
      const stored = (await findOutbox(handle.db, first.id))!.correlationKey;
      expect(stored).toMatch(/^fdr-DB-CORR-1-1\.[\w-]{22}$/);
      const again = await insertOutbox(handle.db, message);
      expect(again).toEqual({ id: first.id, created: false });
      expect((await findOutbox(handle.db, first.id))!.correlationKey).toBe(stored);
    } finally {
      await handle.close();
    }
  });
});
