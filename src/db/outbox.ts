/** Queries on `notification_outbox`, one row per WhatsApp message the service must send. */
import { randomBytes } from 'node:crypto';

import { and, eq, inArray, isNull, lt, sql } from 'drizzle-orm';

import type { Db, DbOrTx } from './client.ts';
import { insertOnce } from './insert-once.ts';
import { notificationOutbox } from './schema.ts';

export type OutboxRow = typeof notificationOutbox.$inferSelect;
/** A new message; its correlation key is drawn by `insertOutbox`. */
export type NewOutbox = Omit<typeof notificationOutbox.$inferInsert, 'correlationKey'>;

/** Random bytes in a correlation key: 128 bits, 22 base64url characters. */
const CORRELATION_RANDOM_BYTES = 16;
/** `correlation_key`'s length, which is also the most of `extra` a delivery report keeps. */
const MAX_CORRELATION_KEY = 191;

/**
 * A fresh correlation key for a message: `<idempotency key>.<22 random base64url characters>`.
 * The key part says which message it is to whoever reads a report; the random part is what
 * makes a report naming it believable (base64url holds no `.`, so the key part is everything
 * before the last dot).
 */
export function newCorrelationKey(idempotencyKey: string): string {
  const key = `${idempotencyKey}.${randomBytes(CORRELATION_RANDOM_BYTES).toString('base64url')}`;
  if (key.length > MAX_CORRELATION_KEY) {
    // Keys are built from bounded ids (a shipment id is at most 64 characters); this is a bug.
    throw new Error(`idempotency key ${idempotencyKey.slice(0, 40)}… is too long to correlate`);
  }
  return key;
}

/**
 * Inserts the message unless its idempotency key exists; returns the row id either way. The
 * correlation key is drawn here and stored with the row: when the row exists already (the step
 * ran before), the new draw is discarded with the insert and the stored one stands.
 */
export async function insertOutbox(
  db: Db,
  message: NewOutbox,
): Promise<{ id: number; created: boolean }> {
  const correlationKey = newCorrelationKey(message.idempotencyKey);
  const created = await insertOnce(() =>
    db.insert(notificationOutbox).values({ ...message, correlationKey }),
  );
  const [row] = await db
    .select({ id: notificationOutbox.id })
    .from(notificationOutbox)
    .where(eq(notificationOutbox.idempotencyKey, message.idempotencyKey));
  if (!row) {
    throw new Error(`outbox row ${message.idempotencyKey} was not stored`);
  }
  return { id: row.id, created };
}

export async function findOutbox(db: Db, id: number): Promise<OutboxRow | null> {
  const [row] = await db.select().from(notificationOutbox).where(eq(notificationOutbox.id, id));
  return row ?? null;
}

/**
 * Claims the message for one send attempt: only a pending or sending (a previous attempt that
 * did not finish) row can be claimed; a sent or failed row never is, so nothing is sent twice
 * once its outcome is known.
 */
export async function claimOutbox(db: Db, id: number): Promise<boolean> {
  const [result] = await db
    .update(notificationOutbox)
    // The error code is cleared: a row left `sending` with none is an attempt cut off mid-way.
    .set({ status: 'sending', attempts: sql`${notificationOutbox.attempts} + 1`, errorCode: null })
    .where(
      and(
        eq(notificationOutbox.id, id),
        inArray(notificationOutbox.status, ['pending', 'sending']),
      ),
    );
  return result.affectedRows === 1;
}

/** Locks the row for this transaction; false when it is already sent or failed (or gone). */
export async function lockUnfinishedOutbox(tx: DbOrTx, id: number): Promise<boolean> {
  const [row] = await tx
    .select({ status: notificationOutbox.status })
    .from(notificationOutbox)
    .where(eq(notificationOutbox.id, id))
    .for('update');
  return row !== undefined && row.status !== 'sent' && row.status !== 'failed';
}

export async function markOutboxSent(
  db: DbOrTx,
  id: number,
  gupshupMessageId: string,
  statusLogId: number,
  sentAt: Date,
): Promise<void> {
  await db
    .update(notificationOutbox)
    .set({
      status: 'sent',
      gupshupMessageId,
      statusLogId,
      sentAt,
      errorCode: null,
      lastError: null,
    })
    .where(eq(notificationOutbox.id, id));
}

/**
 * A delivery report names this message (by its whole correlation key in `extra`) while its send
 * is unfinished, or failed without an answer: Gupshup accepted an attempt whose answer we never
 * got. The id is kept so the next attempt (or a requeue) records the send instead of sending
 * again. Returns the id of the row that took it, or null. The idempotency key alone (guessable
 * from the shipment id) matches nothing.
 */
export async function noteAcceptedSend(
  db: Db,
  correlationKey: string,
  gupshupMessageId: string,
): Promise<number | null> {
  const [result] = await db
    .update(notificationOutbox)
    .set({ gupshupMessageId })
    .where(
      and(
        eq(notificationOutbox.correlationKey, correlationKey),
        inArray(notificationOutbox.status, ['sending', 'failed']),
        isNull(notificationOutbox.gupshupMessageId),
      ),
    );
  if (result.affectedRows !== 1) {
    return null;
  }
  const [row] = await db
    .select({ id: notificationOutbox.id })
    .from(notificationOutbox)
    .where(eq(notificationOutbox.correlationKey, correlationKey));
  return row?.id ?? null;
}

/**
 * What a send puts in `msg_id`/`extra`: the row's correlation key; for a row written before
 * correlation keys existed, its idempotency key as then (reports naming it match nothing).
 */
export function correlationOf(
  outbox: Pick<OutboxRow, 'correlationKey' | 'idempotencyKey'>,
): string {
  return outbox.correlationKey ?? outbox.idempotencyKey;
}

export async function markOutboxError(
  db: DbOrTx,
  id: number,
  status: 'sending' | 'failed',
  errorCode: string,
  lastError: string,
): Promise<void> {
  await db
    .update(notificationOutbox)
    .set({ status, errorCode, lastError: lastError.slice(0, 1024) })
    .where(eq(notificationOutbox.id, id));
}

/** Messages recorded before `olderThan` that are not finished (for the sweeper). */
export async function listUnfinishedOutbox(
  db: Db,
  olderThan: Date,
  limit: number,
): Promise<number[]> {
  const rows = await db
    .select({ id: notificationOutbox.id })
    .from(notificationOutbox)
    .where(
      and(
        inArray(notificationOutbox.status, ['pending', 'sending']),
        lt(notificationOutbox.updatedAt, olderThan),
      ),
    )
    .limit(limit);
  return rows.map((r) => r.id);
}
