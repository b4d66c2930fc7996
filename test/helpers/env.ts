/**
 * Integration-test environment: each test file gets its own MySQL database, BullMQ prefix and
 * Pub/Sub topic names, so files cannot disturb each other. Servers come from the environment
 * (TEST_MYSQL_URL, TEST_REDIS_URL, PUBSUB_EMULATOR_HOST) with this machine's defaults.
 */
import { randomBytes } from 'node:crypto';

import mysql from 'mysql2/promise';

import { loadConfig, type Config } from '../../src/config.ts';

export const MYSQL_URL = (process.env.TEST_MYSQL_URL ?? 'mysql://root@127.0.0.1:3306').replace(
  /\/+$/,
  '',
);
export const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
export const EMULATOR_HOST = process.env.PUBSUB_EMULATOR_HOST ?? '127.0.0.1:8085';
export const PROJECT_ID = process.env.PUBSUB_PROJECT_ID ?? 'local-project';
export const API_TOKEN = 'test-api-token';

export interface TestEnv {
  id: string;
  database: string;
  env: Record<string, string>;
  config(overrides?: Record<string, string>): Config;
  dropDatabase(): Promise<void>;
}

export function createTestEnv(name: string): TestEnv {
  const id = `${name.replace(/[^a-z0-9]/gi, '').toLowerCase()}${randomBytes(3).toString('hex')}`;
  const database = `wa_test_${id}`;
  const env: Record<string, string> = {
    NODE_ENV: 'test',
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    PORT: '0',
    HOST: '127.0.0.1',
    DATABASE_URL: `${MYSQL_URL}/${database}`,
    REDIS_URL,
    QUEUE_PREFIX: `t-${id}`,
    PUBSUB_EMULATOR_HOST: EMULATOR_HOST,
    PUBSUB_PROJECT_ID: PROJECT_ID,
    FDR_TOPIC: `fdr-${id}`,
    FDR_SUBSCRIPTION: `fdr-sub-${id}`,
    ACTIVITY_TOPIC: `activity-${id}`,
    GUPSHUP_DEFAULT_USERID: '2000000001',
    GUPSHUP_DEFAULT_PASSWORD: 'sandbox-secret-pw',
    GUPSHUP_DEFAULT_WA_NUMBER: '919319278973',
    API_TOKEN,
    MESSAGE_SEND_BACKOFF_MS: '20',
    SWEEP_INTERVAL_MS: '0',
    SETTINGS_CACHE_TTL_MS: '60000',
    // Tests run at any hour: no test waits for the morning unless it sets quiet hours itself.
    DEFAULT_QUIET_HOURS: 'off',
  };
  return {
    id,
    database,
    env,
    config: (overrides = {}) => loadConfig({ ...env, ...overrides }),
    async dropDatabase() {
      const conn = await mysql.createConnection({ uri: MYSQL_URL });
      try {
        await conn.query(`DROP DATABASE IF EXISTS \`${database}\``);
      } finally {
        await conn.end();
      }
    },
  };
}

/** Polls `probe` until it returns a truthy value, or fails after `timeoutMs`. */
export async function waitFor<T>(
  probe: () => Promise<T> | T,
  { timeoutMs = 10_000, intervalMs = 25, what = 'condition' } = {},
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: string | undefined;
  for (;;) {
    try {
      const value = await probe();
      if (value) {
        return value;
      }
    } catch (err) {
      last = err instanceof Error ? err.message : JSON.stringify(err);
    }
    if (Date.now() > deadline) {
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${last}` : ''}`,
      );
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
