/**
 * The suppression check made before every send (a prepared query): a pair is suppressed while
 * its suppression is in force (no expiry, or an expiry still ahead), not once it has expired, and
 * the opt-out wins over another reason for the same pair.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { createDb, type DbHandle } from '../../src/db/client.ts';
import { prepareDatabase } from '../../src/db/migrate.ts';
import { findSuppression, suppress } from '../../src/db/suppressions.ts';
import { createLog } from '../../src/log.ts';
import { createTestEnv } from '../helpers/env.ts';

const env = createTestEnv('supplookup');
let handle: DbHandle;
const SENDER = '919319278973';
const HOUR = 3_600_000;

beforeAll(async () => {
  await prepareDatabase(env.env.DATABASE_URL!, createLog('silent'));
  handle = createDb(env.env.DATABASE_URL!, 2);
});

afterAll(async () => {
  await handle?.close();
  await env.dropDatabase();
});

describe('findSuppression', () => {
  it('finds a suppression while it is in force and not after it expired', async () => {
    const { db } = handle;
    const now = new Date();
    await suppress(db, {
      senderNumber: SENDER,
      customerNumber: '919700000001',
      reason: 'not_on_whatsapp',
      source: 'send_error',
      expiresAt: new Date(now.getTime() + HOUR),
    });
    await suppress(db, {
      senderNumber: SENDER,
      customerNumber: '919700000002',
      reason: 'not_on_whatsapp',
      source: 'send_error',
      expiresAt: new Date(now.getTime() - HOUR),
    });
    expect(await findSuppression(db, SENDER, '919700000001', now)).toMatchObject({
      reason: 'not_on_whatsapp',
    });
    expect(
      await findSuppression(db, SENDER, '919700000001', new Date(now.getTime() + 2 * HOUR)),
    ).toBeNull();
    expect(await findSuppression(db, SENDER, '919700000002', now)).toBeNull();
    expect(await findSuppression(db, SENDER, '919700000003', now)).toBeNull();
    // Another sender's number is another pair.
    expect(await findSuppression(db, '919000000000', '919700000001', now)).toBeNull();
  });

  it('gives the opt-out before another reason for the same pair', async () => {
    const { db } = handle;
    await suppress(db, {
      senderNumber: SENDER,
      customerNumber: '919700000004',
      reason: 'not_on_whatsapp',
      source: 'send_error',
      expiresAt: new Date(Date.now() + HOUR),
    });
    await suppress(db, {
      senderNumber: SENDER,
      customerNumber: '919700000004',
      reason: 'opted_out',
      source: 'keyword',
    });
    expect(await findSuppression(db, SENDER, '919700000004')).toMatchObject({
      reason: 'opted_out',
    });
    expect(
      await findSuppression(db, SENDER, '919700000004', new Date(), 'not_on_whatsapp'),
    ).toMatchObject({
      reason: 'not_on_whatsapp',
    });
  });
});
