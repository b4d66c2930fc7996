/**
 * Start-up database preparation: create the database if it is missing, apply the committed
 * drizzle migrations, then seed the platform defaults. Safe to run from many replicas at once
 * (a MySQL named lock serialises them) and on every start (each step is idempotent).
 */
import { fileURLToPath } from 'node:url';

import { migrate } from 'drizzle-orm/mysql2/migrator';
import mysql from 'mysql2/promise';

import type { Log } from '../log.ts';
import { createDb, databaseName } from './client.ts';
import { seedDefaults } from './seed.ts';

const MIGRATIONS = fileURLToPath(new URL('../../drizzle', import.meta.url));

export async function ensureDatabase(url: string): Promise<void> {
  const name = databaseName(url);
  const server = new URL(url);
  server.pathname = '/';
  const conn = await mysql.createConnection({ uri: server.toString(), connectTimeout: 5_000 });
  try {
    await conn.query(
      `CREATE DATABASE IF NOT EXISTS \`${name}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`,
    );
  } finally {
    await conn.end();
  }
}

export async function prepareDatabase(url: string, log: Log): Promise<void> {
  await ensureDatabase(url);
  const handle = createDb(url, 2);
  try {
    const conn = await handle.pool.getConnection();
    try {
      await conn.query("SELECT GET_LOCK('whatsapp_notifications_migrate', 60)");
      await migrate(handle.db, { migrationsFolder: MIGRATIONS });
      await seedDefaults(handle.db);
      await conn.query("SELECT RELEASE_LOCK('whatsapp_notifications_migrate')");
    } finally {
      conn.release();
    }
    log.info(
      { database: databaseName(url) },
      'database ready (migrations applied, defaults seeded)',
    );
  } finally {
    await handle.close();
  }
}
