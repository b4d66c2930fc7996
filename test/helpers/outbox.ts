/**
 * The outbox row of a shipment's message, and the sends of one message, for tests that follow
 * one send.
 */
import { eq } from 'drizzle-orm';

import type { Db } from '../../src/db/client.ts';
import { notificationOutbox } from '../../src/db/schema.ts';
import type { RecordedSend } from '../../src/sandbox/types.ts';

export async function outboxOf(db: Db, shipmentId: string) {
  const [row] = await db
    .select()
    .from(notificationOutbox)
    .where(eq(notificationOutbox.shipmentId, shipmentId));
  return row;
}

/**
 * Whether a send the sandbox saw is the message with this idempotency key (`fdr-<shipment>-
 * <attempt>`): its `msg_id` is the row's correlation key, `<key>.<random part>`.
 */
export function isSendOf(send: RecordedSend, idempotencyKey: string): boolean {
  return send.params.msg_id?.startsWith(`${idempotencyKey}.`) ?? false;
}

/** The idempotency key a send's `msg_id` names (its correlation key without the random part). */
export function keyOfSend(send: RecordedSend): string {
  const msgId = send.params.msg_id ?? '';
  return msgId.includes('.') ? msgId.slice(0, msgId.lastIndexOf('.')) : msgId;
}
