/**
 * Retention on a real MariaDB and Redis: handled webhook events and validated inbox events older
 * than the limit are deleted in batches, the report history of old status rows is cleared, and
 * work still waiting or newer than the limit is left alone; the scheduled run does it by itself.
 * Personal data of replies and their evidence older than PERSONAL_DATA_RETENTION_DAYS is erased
 * with every row kept: the counts of replies and evidence and the outcome funnel are unchanged.
 */
import { createHash } from 'node:crypto';

import { count, isNull, sql } from 'drizzle-orm';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { createDb, type DbHandle } from '../../src/db/client.ts';
import { prepareDatabase } from '../../src/db/migrate.ts';
import {
  fdrInbox,
  shipmentActivity,
  webhookEvents,
  whatsappAttemptOutcomes,
  whatsappReplies,
  whatsappReplyEvidence,
  whatsappStatusLogs,
} from '../../src/db/schema.ts';
import { ERASED_REPLY_TITLE } from '../../src/db/activity.ts';
import { createLog } from '../../src/log.ts';
import { readFunnel } from '../../src/outcomes/funnel.ts';
import { erasePersonalData, purgeExpired, startRetention } from '../../src/retention.ts';
import { createTestEnv, REDIS_URL, waitFor } from '../helpers/env.ts';

const env = createTestEnv('retention');
const log = createLog('silent');
let handle: DbHandle;
const DAY = 86_400_000;
const now = new Date('2026-06-01T00:00:00Z');
const old = new Date(now.getTime() - 40 * DAY);
const recent = new Date(now.getTime() - 5 * DAY);
const cutoff = new Date(now.getTime() - 30 * DAY);

async function seed(tag: string): Promise<void> {
  const events = [
    ...Array.from({ length: 5 }, (_v, i) => ({
      key: `${tag}-old-done-${i}`,
      status: 'processed',
      at: old,
    })),
    { key: `${tag}-old-ignored`, status: 'ignored', at: old },
    { key: `${tag}-old-waiting`, status: 'received', at: old },
    { key: `${tag}-new-done`, status: 'processed', at: recent },
  ];
  for (const e of events) {
    await handle.db.insert(webhookEvents).values({
      eventKey: e.key,
      kind: 'dlr',
      payload: '{}',
      status: e.status,
      createdAt: e.at,
    });
    await handle.db.insert(fdrInbox).values({
      eventKey: e.key,
      shipmentId: e.key,
      attempt: 1,
      payload: '{}',
      status: e.status === 'ignored' ? 'skipped' : e.status,
      createdAt: e.at,
    });
  }
  for (const [i, at] of [old, old, old, recent].entries()) {
    await handle.db.insert(whatsappStatusLogs).values({
      shipmentId: `${tag}-log-${i}`,
      status: 'READ',
      remarks: '[{"destAddr":"919876543210"}]',
      createdAt: at,
    });
  }
}

async function keysLeft(tag: string) {
  const hooks = await handle.db
    .select({ key: webhookEvents.eventKey })
    .from(webhookEvents)
    .where(sql`${webhookEvents.eventKey} like ${`${tag}-%`}`);
  const inbox = await handle.db
    .select({ key: fdrInbox.eventKey })
    .from(fdrInbox)
    .where(sql`${fdrInbox.eventKey} like ${`${tag}-%`}`);
  const logs = await handle.db
    .select({ shipmentId: whatsappStatusLogs.shipmentId, remarks: whatsappStatusLogs.remarks })
    .from(whatsappStatusLogs)
    .where(sql`${whatsappStatusLogs.shipmentId} like ${`${tag}-%`}`);
  return {
    webhook: hooks.map((r) => r.key).sort(),
    inbox: inbox.map((r) => r.key).sort(),
    withRemarks: logs.filter((r) => r.remarks !== null).map((r) => r.shipmentId),
    logs: logs.length,
  };
}

beforeAll(async () => {
  await prepareDatabase(env.env.DATABASE_URL!, log);
  handle = createDb(env.env.DATABASE_URL!, 4);
});

afterAll(async () => {
  await handle.close();
  await env.dropDatabase();
});

describe('retention', () => {
  it('purges in batches only what is handled and older than the limit', async () => {
    await seed('a');
    const purged = await purgeExpired(handle.db, cutoff, { batch: 2, maxBatches: 100, pauseMs: 0 });
    expect(purged).toEqual({ webhookEvents: 6, inbox: 6, statusRemarks: 3 });
    expect(await keysLeft('a')).toEqual({
      webhook: ['a-new-done', 'a-old-waiting'],
      inbox: ['a-new-done', 'a-old-waiting'],
      withRemarks: ['a-log-3'],
      logs: 4,
    });
  });

  it('stops after its batches per run; the next run goes on', async () => {
    await seed('b');
    const first = await purgeExpired(handle.db, cutoff, { batch: 2, maxBatches: 1, pauseMs: 0 });
    expect(first).toEqual({ webhookEvents: 2, inbox: 2, statusRemarks: 2 });
    const rest = await purgeExpired(handle.db, cutoff, { batch: 2, maxBatches: 100, pauseMs: 0 });
    expect(rest).toEqual({ webhookEvents: 4, inbox: 4, statusRemarks: 1 });
    expect((await keysLeft('b')).webhook).toEqual(['b-new-done', 'b-old-waiting']);
  });

  it('runs on its schedule, under a lock one replica holds', async () => {
    await seed('c');
    const redis = new Redis(REDIS_URL);
    const prefix = `t-${env.id}`;
    const running = startRetention(
      { db: handle.db, redis, log, prefix, now: () => now },
      { days: 30, personalDataDays: 365, intervalMs: 200, batch: 100, maxBatches: 10, pauseMs: 0 },
    );
    try {
      await waitFor(async () => (await keysLeft('c')).webhook.length === 2, {
        what: 'the scheduled retention run',
      });
      expect(await redis.exists(`${prefix}:retention-lock`)).toBe(1);
    } finally {
      running.stop();
      redis.disconnect();
    }
    expect(await keysLeft('c')).toEqual({
      webhook: ['c-new-done', 'c-old-waiting'],
      inbox: ['c-new-done', 'c-old-waiting'],
      withRemarks: ['c-log-3'],
      logs: 4,
    });
  });
});

describe('personal data retention', () => {
  const personalCutoff = new Date(now.getTime() - 365 * DAY);
  const ancient = new Date(now.getTime() - 400 * DAY);
  const lastMonth = new Date(now.getTime() - 30 * DAY);
  const body = 'mobile=919876543210&type=text&text=Please%20deliver%20tomorrow';
  const hash = createHash('sha256').update(body).digest('hex');
  const funnelQuery = {
    accountId: 7,
    groupBy: 'reason',
    from: new Date(now.getTime() - 500 * DAY),
    to: now,
  } as const;

  async function seedAnswers(): Promise<void> {
    for (const [i, at] of [ancient, ancient, ancient, lastMonth].entries()) {
      const [reply] = await handle.db.insert(whatsappReplies).values({
        webhookEventId: 9_000 + i,
        conversationId: 1,
        shipmentId: `P-${i}`,
        type: 'text',
        intent: 'date',
        summary: 'Please deliver tomorrow',
        receivedAt: at,
        state: 'acted',
        action: 'RESCHEDULE',
      });
      await handle.db.insert(shipmentActivity).values({
        activityKey: `reply-${reply.insertId}`,
        shipmentId: `P-${i}`,
        accountId: 7,
        kind: 'whatsapp_reply',
        title: 'Customer replied: Please deliver tomorrow',
        details: JSON.stringify({
          type: 'text',
          intent: 'date',
          location: { latitude: 28.4, longitude: 77.0 },
        }),
        occurredAt: at,
      });
      await handle.db.insert(whatsappReplyEvidence).values({
        replyId: reply.insertId,
        webhookEventId: 9_000 + i,
        shipmentId: `P-${i}`,
        accountId: 7,
        attempt: 1,
        gupshupMessageId: `gs-${i}`,
        callbackAt: at,
        choice: 'date',
        detail: '2025-05-02',
        bodySha256: hash,
        rawBody: body,
        createdAt: at,
      });
      await handle.db.insert(whatsappAttemptOutcomes).values({
        shipmentId: `P-${i}`,
        attempt: 1,
        accountId: 7,
        reason: 'customer_unreachable',
        messaged: 1,
        failedAt: at,
        sentAt: at,
        repliedAt: at,
        action: 'reschedule',
        actionAt: at,
        outcome: 'delivered',
      });
    }
  }

  async function counts() {
    const [replies] = await handle.db.select({ n: count() }).from(whatsappReplies);
    const [evidence] = await handle.db.select({ n: count() }).from(whatsappReplyEvidence);
    return { replies: replies!.n, evidence: evidence!.n };
  }

  it('erases the personal data of answers older than the limit, keeping rows, hashes and counts', async () => {
    await seedAnswers();
    const before = { ...(await counts()), funnel: await readFunnel(handle.db, funnelQuery) };
    expect(before.funnel.total.counts).toMatchObject({ messaged: 4, replied: 4, rescued: 4 });

    const erased = await erasePersonalData(handle.db, personalCutoff, {
      batch: 2,
      maxBatches: 100,
      pauseMs: 0,
    });
    expect(erased).toEqual({ replySummaries: 3, evidence: 3 });

    const replies = await handle.db
      .select({ shipmentId: whatsappReplies.shipmentId, summary: whatsappReplies.summary })
      .from(whatsappReplies)
      .orderBy(whatsappReplies.shipmentId);
    expect(replies).toEqual([
      { shipmentId: 'P-0', summary: null },
      { shipmentId: 'P-1', summary: null },
      { shipmentId: 'P-2', summary: null },
      { shipmentId: 'P-3', summary: 'Please deliver tomorrow' },
    ]);
    const evidence = await handle.db
      .select()
      .from(whatsappReplyEvidence)
      .orderBy(whatsappReplyEvidence.shipmentId);
    for (const row of evidence.slice(0, 3)) {
      expect(row).toMatchObject({ rawBody: null, detail: null, bodySha256: hash, choice: 'date' });
      expect(row.erasedAt).toBeInstanceOf(Date);
      expect(row.gupshupMessageId).toMatch(/^gs-/);
    }
    expect(evidence[3]).toMatchObject({ rawBody: body, detail: '2025-05-02', erasedAt: null });
    // The replies' timeline entries no longer quote them; the young one still does.
    const entries = await handle.db
      .select({ title: shipmentActivity.title, details: shipmentActivity.details })
      .from(shipmentActivity)
      .where(sql`${shipmentActivity.shipmentId} like 'P-%'`)
      .orderBy(shipmentActivity.shipmentId);
    expect(entries.map((e) => e.title)).toEqual([
      ERASED_REPLY_TITLE,
      ERASED_REPLY_TITLE,
      ERASED_REPLY_TITLE,
      'Customer replied: Please deliver tomorrow',
    ]);
    expect(entries.map((e) => JSON.parse(e.details) as Record<string, unknown>)).toEqual([
      { type: 'text', intent: 'date' },
      { type: 'text', intent: 'date' },
      { type: 'text', intent: 'date' },
      { type: 'text', intent: 'date', location: { latitude: 28.4, longitude: 77.0 } },
    ]);

    const after = { ...(await counts()), funnel: await readFunnel(handle.db, funnelQuery) };
    expect(after).toEqual(before);

    // Nothing is left to erase: a second run changes nothing.
    expect(
      await erasePersonalData(handle.db, personalCutoff, { batch: 2, maxBatches: 100, pauseMs: 0 }),
    ).toEqual({ replySummaries: 0, evidence: 0 });
  });

  it('the scheduled run erases them too, by PERSONAL_DATA_RETENTION_DAYS', async () => {
    await handle.db
      .update(whatsappReplyEvidence)
      .set({ rawBody: body, detail: '2025-05-02', erasedAt: null });
    const redis = new Redis(REDIS_URL);
    const running = startRetention(
      { db: handle.db, redis, log, prefix: `t-${env.id}-personal`, now: () => now },
      { days: 30, personalDataDays: 365, intervalMs: 200, batch: 100, maxBatches: 10, pauseMs: 0 },
    );
    try {
      await waitFor(
        async () =>
          (
            await handle.db
              .select({ id: whatsappReplyEvidence.id })
              .from(whatsappReplyEvidence)
              .where(isNull(whatsappReplyEvidence.rawBody))
          ).length === 3,
        { what: 'the scheduled erasure' },
      );
    } finally {
      running.stop();
      redis.disconnect();
    }
    const [young] = await handle.db
      .select({ rawBody: whatsappReplyEvidence.rawBody })
      .from(whatsappReplyEvidence)
      .where(sql`${whatsappReplyEvidence.shipmentId} = 'P-3'`);
    expect(young?.rawBody).toBe(body);
  });
});
