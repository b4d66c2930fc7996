/**
 * The send's marks on real MariaDB: an FDR message and its attempt outcome reach `sent` in one
 * statement, linked to its message id's newest status log, the outcome only at the first
 * acceptance, nothing once the message is finished, and a message without an outcome row is
 * still marked; a batch's marks in one statement, true only when every message and outcome was
 * open.
 */
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { createDb, type DbHandle } from '../../src/db/client.ts';
import { prepareDatabase } from '../../src/db/migrate.ts';
import { insertAttemptOutcome } from '../../src/db/outcomes.ts';
import {
  claimOutbox,
  findOutbox,
  insertOutbox,
  markFdrMessageSent,
  markFdrMessagesSent,
} from '../../src/db/outbox.ts';
import {
  notificationOutbox,
  whatsappAttemptOutcomes,
  whatsappSuppressions,
} from '../../src/db/schema.ts';
import { insertStatusLog } from '../../src/db/status-logs.ts';
import { createLog } from '../../src/log.ts';
import { createTestEnv } from '../helpers/env.ts';

const env = createTestEnv('outboxmarks');
let handle: DbHandle;

beforeAll(async () => {
  await prepareDatabase(env.env.DATABASE_URL!, createLog('silent'));
  handle = createDb(env.env.DATABASE_URL!, 2);
});

afterAll(async () => {
  await handle?.close();
  await env.dropDatabase();
});

async function fdrMessage(shipmentId: string, withOutcome: boolean, toNumber = '919700000001') {
  const { db } = handle;
  const { id } = await insertOutbox(db, {
    idempotencyKey: `fdr-${shipmentId}-1`,
    kind: 'fdr_template',
    shipmentId,
    accountId: 379,
    reason: 'customer_unreachable',
    connectionId: 'default',
    templateId: 'tpl-1',
    toNumber,
    body: 'hello',
    status: 'sending',
  });
  if (withOutcome) {
    await insertAttemptOutcome(db, {
      shipmentId,
      attempt: 1,
      accountId: 379,
      reason: 'customer_unreachable',
      courier: null,
      templateId: 'tpl-1',
      outboxId: id,
      messaged: true,
      notMessagedCode: null,
      failedAt: new Date(),
    });
  }
  return { id, shipmentId };
}

async function outcomeSentAt(shipmentId: string): Promise<Date | null> {
  const [row] = await handle.db
    .select({ sentAt: whatsappAttemptOutcomes.sentAt })
    .from(whatsappAttemptOutcomes)
    .where(eq(whatsappAttemptOutcomes.shipmentId, shipmentId));
  return row!.sentAt;
}

describe('markFdrMessageSent', () => {
  it('marks the message and its outcome sent together, the outcome at the first acceptance only', async () => {
    const { db } = handle;
    const message = await fdrMessage('MARK-1', true);
    const at = new Date('2026-12-01T10:00:00.123Z');
    // The row links to its message id's newest status log.
    await insertStatusLog(db, { shipmentId: 'MARK-1', status: 'SUBMITTED', messageId: 'gs-0' });
    await insertStatusLog(db, { shipmentId: 'MARK-1', status: 'SUBMITTED', messageId: 'gs-1' });
    const logId = await insertStatusLog(db, {
      shipmentId: 'MARK-1',
      status: 'SUBMITTED',
      messageId: 'gs-1',
    });
    expect(await markFdrMessageSent(db, message, 'gs-1', at)).toEqual({
      finished: true,
      outcomeSent: true,
    });
    const row = await findOutbox(db, message.id);
    expect(row).toMatchObject({ status: 'sent', gupshupMessageId: 'gs-1', statusLogId: logId });
    expect(row!.sentAt?.toISOString()).toBe(at.toISOString());
    expect((await outcomeSentAt('MARK-1'))?.toISOString()).toBe(at.toISOString());

    // Finished: nothing changes, neither row.
    expect(await markFdrMessageSent(db, message, 'gs-2', new Date())).toEqual({
      finished: false,
      outcomeSent: false,
    });
    expect((await findOutbox(db, message.id))!.gupshupMessageId).toBe('gs-1');

    // Sent again after a requeue (the row unfinished once more): the outcome keeps its first time.
    await db
      .update(notificationOutbox)
      .set({ status: 'sending' })
      .where(eq(notificationOutbox.id, message.id));
    expect(await markFdrMessageSent(db, message, 'gs-3', new Date())).toEqual({
      finished: true,
      outcomeSent: false,
    });
    expect((await outcomeSentAt('MARK-1'))?.toISOString()).toBe(at.toISOString());
  });

  it('marks a message that has no outcome row', async () => {
    const { db } = handle;
    const message = await fdrMessage('MARK-2', false);
    expect(await markFdrMessageSent(db, message, 'gs-4', new Date())).toEqual({
      finished: true,
      outcomeSent: false,
    });
    expect((await findOutbox(db, message.id))!.status).toBe('sent');
  });

  it("does not mark another shipment's message by its id", async () => {
    const { db } = handle;
    const message = await fdrMessage('MARK-3', true);
    expect(
      await markFdrMessageSent(db, { ...message, shipmentId: 'OTHER' }, 'gs-5', new Date()),
    ).toEqual({ finished: false, outcomeSent: false });
    expect((await findOutbox(db, message.id))!.status).toBe('sending');
    expect(await outcomeSentAt('MARK-3')).toBeNull();
  });
});

describe('markFdrMessagesSent', () => {
  it("marks a batch's messages and outcomes in one statement, each with its own values", async () => {
    const { db } = handle;
    const a = await fdrMessage('BATCH-1', true);
    const b = await fdrMessage('BATCH-2', true);
    const logA = await insertStatusLog(db, {
      shipmentId: 'BATCH-1',
      status: 'SUBMITTED',
      messageId: 'gs-b1',
    });
    const logB = await insertStatusLog(db, {
      shipmentId: 'BATCH-2',
      status: 'SUBMITTED',
      messageId: 'gs-b2',
    });
    const atA = new Date('2026-12-01T10:00:01.111Z');
    const atB = new Date('2026-12-01T10:00:02.222Z');
    expect(
      await markFdrMessagesSent(db, [
        { outbox: a, gupshupMessageId: 'gs-b1', sentAt: atA },
        { outbox: b, gupshupMessageId: 'gs-b2', sentAt: atB },
      ]),
    ).toBe(true);
    const rowA = await findOutbox(db, a.id);
    const rowB = await findOutbox(db, b.id);
    expect(rowA).toMatchObject({ status: 'sent', gupshupMessageId: 'gs-b1', statusLogId: logA });
    expect(rowB).toMatchObject({ status: 'sent', gupshupMessageId: 'gs-b2', statusLogId: logB });
    expect(rowA!.sentAt?.toISOString()).toBe(atA.toISOString());
    expect(rowB!.sentAt?.toISOString()).toBe(atB.toISOString());
    expect((await outcomeSentAt('BATCH-1'))?.toISOString()).toBe(atA.toISOString());
    expect((await outcomeSentAt('BATCH-2'))?.toISOString()).toBe(atB.toISOString());
  });

  it('is false when a message is finished, its outcome sent already, or it has none', async () => {
    const { db } = handle;
    const open = await fdrMessage('BATCH-3', true);
    const finished = await fdrMessage('BATCH-4', true);
    await markFdrMessageSent(db, finished, 'gs-b4', new Date());
    const mark = (outbox: { id: number; shipmentId: string }, id: string) => ({
      outbox,
      gupshupMessageId: id,
      sentAt: new Date(),
    });
    expect(await markFdrMessagesSent(db, [mark(open, 'gs-b3'), mark(finished, 'gs-b4x')])).toBe(
      false,
    );

    // Unfinished again after a requeue, its outcome sent at the first acceptance.
    const requeued = await fdrMessage('BATCH-5', true);
    await markFdrMessageSent(db, requeued, 'gs-b5', new Date());
    await db
      .update(notificationOutbox)
      .set({ status: 'sending' })
      .where(eq(notificationOutbox.id, requeued.id));
    const fresh = await fdrMessage('BATCH-6', true);
    expect(await markFdrMessagesSent(db, [mark(fresh, 'gs-b6'), mark(requeued, 'gs-b5x')])).toBe(
      false,
    );

    const bare = await fdrMessage('BATCH-7', false);
    const other = await fdrMessage('BATCH-8', true);
    expect(await markFdrMessagesSent(db, [mark(bare, 'gs-b7'), mark(other, 'gs-b8')])).toBe(false);
  });
});

describe('claimOutbox', () => {
  it('stamps the row at its claim, not when the statement was prepared', async () => {
    const { db } = handle;
    const first = await fdrMessage('CLAIM-1', false);
    const second = await fdrMessage('CLAIM-2', false);
    // The first claim prepares the statements (with and without the opt-out check).
    expect(await claimOutbox(db, first.id)).toBe(true);
    const unless = {
      senderNumber: '919319278973',
      customerNumber: '919700000001',
      now: new Date(),
    };
    expect(await claimOutbox(db, first.id, unless)).toBe(true);
    // Time apart from the preparation: what is measured is which moment the claim records.
    await new Promise((done) => setTimeout(done, 30));
    const before = Date.now();
    expect(await claimOutbox(db, second.id)).toBe(true);
    const plain = (await findOutbox(db, second.id))!;
    expect(plain.updatedAt.getTime()).toBeGreaterThanOrEqual(before);
    expect(plain.attempts).toBe(1);
    const beforeAgain = Date.now();
    expect(await claimOutbox(db, second.id, { ...unless, now: new Date() })).toBe(true);
    const checked = (await findOutbox(db, second.id))!;
    expect(checked.updatedAt.getTime()).toBeGreaterThanOrEqual(beforeAgain);
    expect(checked.attempts).toBe(2);
  });
});

/** UPDATE statements the server has run so far (every connection's, one- and multi-table). */
async function updatesSoFar(): Promise<number> {
  const [rows] = await handle.pool.query(
    "SHOW GLOBAL STATUS WHERE Variable_name IN ('Com_update', 'Com_update_multi')",
  );
  return (rows as { Value: string }[]).reduce((sum, row) => sum + Number(row.Value), 0);
}

describe('claimOutbox, concurrent claims', () => {
  const SENDER = '919319278973';
  const unlessFor = (customerNumber: string) => ({
    senderNumber: SENDER,
    customerNumber,
    now: new Date(),
  });

  it('claims the concurrent sends of a process in one statement', async () => {
    const { db } = handle;
    const messages = await Promise.all(
      Array.from({ length: 8 }, (_v, i) => fdrMessage(`TOGETHER-${i}`, false, `9197000001${i}0`)),
    );
    const before = await updatesSoFar();
    const claimed = await Promise.all(
      messages.map((m, i) =>
        // Half with the opt-out check, half without (the opt-out confirmation's claim).
        claimOutbox(db, m.id, i % 2 === 0 ? unlessFor(`9197000001${i}0`) : null),
      ),
    );
    expect(claimed).toEqual(messages.map(() => true));
    expect(await updatesSoFar()).toBe(before + 1);
    for (const m of messages) {
      expect(await findOutbox(db, m.id)).toMatchObject({ status: 'sending', attempts: 1 });
    }
  });

  it('answers each claim alone when any row of the batch could not be taken', async () => {
    const { db } = handle;
    const open = await fdrMessage('APART-1', false, '919700000201');
    const finished = await fdrMessage('APART-2', false, '919700000202');
    const suppressed = await fdrMessage('APART-3', false, '919700000203');
    const lapsed = await fdrMessage('APART-4', false, '919700000204');
    const twice = await fdrMessage('APART-5', false, '919700000205');
    await markFdrMessageSent(db, finished, 'gs-apart', new Date());
    const day = 86_400_000;
    await db.insert(whatsappSuppressions).values([
      {
        senderNumber: SENDER,
        customerNumber: '919700000203',
        reason: 'opted_out',
        source: 'keyword',
        expiresAt: new Date(Date.now() + day),
      },
      {
        senderNumber: SENDER,
        customerNumber: '919700000204',
        reason: 'not_on_whatsapp',
        source: 'report',
        expiresAt: new Date(Date.now() - day),
      },
    ]);
    const claimed = await Promise.all([
      claimOutbox(db, open.id, unlessFor('919700000201')),
      claimOutbox(db, finished.id, unlessFor('919700000202')),
      claimOutbox(db, suppressed.id, unlessFor('919700000203')),
      claimOutbox(db, lapsed.id, unlessFor('919700000204')),
      claimOutbox(db, twice.id, unlessFor('919700000205')),
      claimOutbox(db, twice.id, unlessFor('919700000205')),
    ]);
    // A row asked for twice is claimed twice, as two claims one after the other would be (an
    // unfinished row stays claimable: one job per message is the queue's guarantee).
    expect(claimed).toEqual([true, false, false, true, true, true]);
    // The batch rolled back counted no attempt: each row has the attempts of its own claims.
    expect(await findOutbox(db, open.id)).toMatchObject({ status: 'sending', attempts: 1 });
    expect(await findOutbox(db, lapsed.id)).toMatchObject({ status: 'sending', attempts: 1 });
    expect(await findOutbox(db, twice.id)).toMatchObject({ status: 'sending', attempts: 2 });
    expect(await findOutbox(db, suppressed.id)).toMatchObject({ status: 'sending', attempts: 0 });
    expect((await findOutbox(db, finished.id))!.status).toBe('sent');

    // Without the duplicate, a batch holding the suppressed row is rolled back as well.
    const more = await Promise.all(
      ['919700000206', '919700000207', '919700000208'].map((n, i) =>
        fdrMessage(`APART-${6 + i}`, false, n),
      ),
    );
    const again = await Promise.all([
      claimOutbox(db, suppressed.id, unlessFor('919700000203')),
      ...more.map((m, i) => claimOutbox(db, m.id, unlessFor(`91970000020${6 + i}`))),
    ]);
    expect(again).toEqual([false, true, true, true]);
    for (const m of more) {
      expect(await findOutbox(db, m.id)).toMatchObject({ attempts: 1 });
    }
  });
});
