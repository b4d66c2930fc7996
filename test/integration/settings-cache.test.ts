/**
 * The settings cache's templates, on real MySQL and Redis, with two caches standing for two
 * replicas: a template read once is served from memory (a change written behind the cache is not
 * seen), and any replica's invalidation drops every template on every replica.
 */
import { eq } from 'drizzle-orm';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { createDb, type DbHandle } from '../../src/db/client.ts';
import { prepareDatabase } from '../../src/db/migrate.ts';
import { whatsappTemplates } from '../../src/db/schema.ts';
import { findDefaultTemplate } from '../../src/db/templates.ts';
import { createLog } from '../../src/log.ts';
import { createSettingsCache, type SettingsCache } from '../../src/settings-cache.ts';
import { createTestEnv, REDIS_URL, waitFor } from '../helpers/env.ts';

const env = createTestEnv('settingscache');
const log = createLog('silent');
let handle: DbHandle;
let redis: Redis;
let a: SettingsCache;
let b: SettingsCache;

async function cacheFor(): Promise<SettingsCache> {
  return createSettingsCache({
    db: handle.db,
    redis,
    prefix: `t-${env.id}`,
    ttlMs: 3_600_000,
    log,
  });
}

async function setBody(id: string, body: string): Promise<void> {
  await handle.db.update(whatsappTemplates).set({ body }).where(eq(whatsappTemplates.id, id));
}

/**
 * Nothing is cached until a cache's channel listens: waits until `cache` serves a template from
 * memory, probing with another reason's default template (left with a probe body) so the one
 * under test is read only once the cache listens.
 */
async function untilCaching(cache: SettingsCache): Promise<void> {
  const probe = (await findDefaultTemplate(handle.db, 'otp_cancellation'))!.id;
  let round = 0;
  await waitFor(
    async () => {
      const before = (await cache.template(probe))?.body;
      await setBody(probe, `probe ${round++}`);
      // Unchanged: served from memory.
      return (await cache.template(probe))?.body === before;
    },
    { what: 'the cache to listen' },
  );
}

beforeAll(async () => {
  await prepareDatabase(env.env.DATABASE_URL!, log);
  handle = createDb(env.env.DATABASE_URL!, 4);
  redis = new Redis(REDIS_URL);
  a = await cacheFor();
  b = await cacheFor();
});

afterAll(async () => {
  await a?.close();
  await b?.close();
  redis?.disconnect();
  await handle?.close();
  await env.dropDatabase();
});

describe('settings cache: templates', () => {
  it('serves a template from memory until any replica invalidates, then reads it again', async () => {
    const original = (await b.defaultTemplate('address_issue'))!;
    await untilCaching(b);
    expect((await b.template(original.id))!.body).toBe(original.body);
    expect((await b.defaultTemplate('address_issue'))!.body).toBe(original.body);

    // Written behind the cache: B keeps serving what it read.
    await handle.db
      .update(whatsappTemplates)
      .set({ body: 'changed behind the cache {{1}}' })
      .where(eq(whatsappTemplates.id, original.id));
    expect((await b.template(original.id))!.body).toBe(original.body);
    expect((await b.defaultTemplate('address_issue'))!.body).toBe(original.body);

    // A change announced by the other replica (for any account) drops B's templates.
    await a.invalidate(12345);
    await waitFor(
      async () => (await b.template(original.id))?.body === 'changed behind the cache {{1}}',
      { what: "B to drop its templates on A's announcement" },
    );
    expect((await b.defaultTemplate('address_issue'))!.body).toBe('changed behind the cache {{1}}');
  });
});
