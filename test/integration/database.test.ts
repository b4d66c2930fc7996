/**
 * Start-up database preparation on a real MariaDB: the database is created, the migrations give
 * the spec's tables their exact columns, defaults are seeded, and doing it all again changes
 * nothing.
 */
import mysql from 'mysql2/promise';
import { afterAll, describe, expect, it } from 'vitest';

import { prepareDatabase } from '../../src/db/migrate.ts';
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
