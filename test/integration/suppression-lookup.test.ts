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

  it('answers concurrent looks (read together) each at its own moment', async () => {
    const { db } = handle;
    const now = Date.now();
    await suppress(db, {
      senderNumber: SENDER,
      customerNumber: '919700000010',
      reason: 'not_on_whatsapp',
      source: 'send_error',
      expiresAt: new Date(now + HOUR),
    });
    await suppress(db, {
      senderNumber: SENDER,
      customerNumber: '919700000011',
      reason: 'not_on_whatsapp',
      source: 'send_error',
      expiresAt: new Date(now + HOUR),
    });
    await suppress(db, {
      senderNumber: SENDER,
      customerNumber: '919700000011',
      reason: 'opted_out',
      source: 'keyword',
    });
    const looks = await Promise.all([
      findSuppression(db, SENDER, '919700000010', new Date(now)),
      // The same pair two hours on: its suppression has expired by then.
      findSuppression(db, SENDER, '919700000010', new Date(now + 2 * HOUR)),
      findSuppression(db, SENDER, '919700000011', new Date(now)),
      findSuppression(db, SENDER, '919700000012', new Date(now)),
      findSuppression(db, '919000000000', '919700000010', new Date(now)),
    ]);
    expect(looks.map((r) => r?.reason ?? null)).toEqual([
      'not_on_whatsapp',
      null,
      'opted_out',
      null,
      null,
    ]);
  });
});
