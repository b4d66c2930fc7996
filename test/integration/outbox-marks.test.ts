/**
 * The send's marks on real MariaDB: an FDR message and its attempt outcome reach `sent` in one
 * statement, linked to its message id's newest status log, the outcome only at the first
 * acceptance, nothing once the message is finished, and a message without an outcome row is
 * still marked.
 */
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { createDb, type DbHandle } from '../../src/db/client.ts';
import { prepareDatabase } from '../../src/db/migrate.ts';
import { insertAttemptOutcome } from '../../src/db/outcomes.ts';
import { findOutbox, insertOutbox, markFdrMessageSent } from '../../src/db/outbox.ts';
import { notificationOutbox, whatsappAttemptOutcomes } from '../../src/db/schema.ts';
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

async function fdrMessage(shipmentId: string, withOutcome: boolean) {
  const { db } = handle;
  const { id } = await insertOutbox(db, {
    idempotencyKey: `fdr-${shipmentId}-1`,
    kind: 'fdr_template',
    shipmentId,
    accountId: 379,
    reason: 'customer_unreachable',
    connectionId: 'default',
    templateId: 'tpl-1',
    toNumber: '919700000001',
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
