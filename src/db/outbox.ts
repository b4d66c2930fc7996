/** Queries on `notification_outbox`, one row per WhatsApp message the service must send. */
import { randomBytes } from 'node:crypto';

import { and, eq, inArray, isNull, lt, sql } from 'drizzle-orm';

import type { Db, DbOrTx } from './client.ts';
import { insertIdOnce } from './insert-once.ts';
import { preparedFor } from './prepared.ts';
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
  db: DbOrTx,
  message: NewOutbox,
): Promise<{ id: number; created: boolean }> {
  const correlationKey = newCorrelationKey(message.idempotencyKey);
  const insertId = await insertIdOnce(() =>
    db.insert(notificationOutbox).values({ ...message, correlationKey }),
  );
  if (insertId !== null) {
    return { id: insertId, created: true };
  }
  const [row] = await db
    .select({ id: notificationOutbox.id })
    .from(notificationOutbox)
    .where(eq(notificationOutbox.idempotencyKey, message.idempotencyKey));
  if (!row) {
    throw new Error(`outbox row ${message.idempotencyKey} was not stored`);
  }
  return { id: row.id, created: false };
}

const outboxById = preparedFor((db) =>
  db
    .select()
    .from(notificationOutbox)
    .where(eq(notificationOutbox.id, sql.placeholder('id')))
    .prepare(),
);

export async function findOutbox(db: Db, id: number): Promise<OutboxRow | null> {
  const [row] = await outboxById(db).execute({ id });
  return row ?? null;
}

/**
 * Claims the message for one send attempt: only a pending or sending (a previous attempt that
 * did not finish) row can be claimed; a sent or failed row never is, so nothing is sent twice
 * once its outcome is known.
 */
const claim = preparedFor((db) =>
  db
    .update(notificationOutbox)
    // The error code is cleared: a row left `sending` with none is an attempt cut off mid-way.
    .set({ status: 'sending', attempts: sql`${notificationOutbox.attempts} + 1`, errorCode: null })
    .where(
      and(
        eq(notificationOutbox.id, sql.placeholder('id')),
        inArray(notificationOutbox.status, ['pending', 'sending']),
      ),
    )
    .prepare(),
);

export async function claimOutbox(db: Db, id: number): Promise<boolean> {
  const [result] = await claim(db).execute({ id });
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

/**
 * Marks the message sent unless it is already finished (sent or failed): the row's state is the
 * lock, no SELECT … FOR UPDATE first. Inside a transaction the row stays locked until it ends.
 * Returns whether this call finished it.
 */
export async function markOutboxSent(
  db: DbOrTx,
  id: number,
  gupshupMessageId: string,
  statusLogId: number,
  sentAt: Date,
): Promise<boolean> {
  const [result] = await db
    .update(notificationOutbox)
    .set({
      status: 'sent',
      gupshupMessageId,
      statusLogId,
      sentAt,
      errorCode: null,
      lastError: null,
    })
    .where(
      and(
        eq(notificationOutbox.id, id),
        inArray(notificationOutbox.status, ['pending', 'sending']),
      ),
    );
  return result.affectedRows === 1;
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
 * Failures after which Gupshup may still have accepted the message: no answer in time, a broken
 * connection, an answer we could not read. (An attempt cut off mid-way leaves no code at all.)
 */
export const AMBIGUOUS_SEND_FAILURES: ReadonlySet<string> = new Set([
  'timeout',
  'network',
  'aborted',
  'bad_response',
]);

/** How far before its recorded outcome an attempt may have reached Gupshup. */
const ATTEMPT_SLACK_MS = 10 * 60_000;

/**
 * A delivery report that names no message of ours and carries no correlation key (the seed's
 * own sample has no `extra`) still identifies a send whose answer was lost, under a rule strict
 * enough that it cannot pick the wrong one:
 * - the report is for `destAddr`, and the service has exactly one unfinished send (pending or
 *   sending, on any sender) to that number — a second one, or none, and nothing is attributed
 *   (enterprise reports do not name the sender account, so "only one on that sender" is
 *   tightened to "only one at all");
 * - that send's last attempt has no known outcome (cut off, or timeout, network, aborted,
 *   unreadable answer) and no Gupshup id yet;
 * - that attempt is over: its outcome was recorded (or it began) before `staleBefore`, so it
 *   cannot still be waiting for its answer (a report for a send in flight is retried by the
 *   caller until the send commits or goes stale);
 * - the report happened after that attempt began (its time, when given, is no earlier than
 *   ATTEMPT_SLACK_MS before the attempt's outcome was recorded).
 * The row keeps the report's id, and its send's next run records it as sent (as with `extra`).
 * Returns the row's id, or null.
 */
export async function noteAcceptedSendByNumber(
  db: Db,
  destAddr: string,
  gupshupMessageId: string,
  reportedAt: number | null,
  staleBefore: Date,
): Promise<number | null> {
  return db.transaction(async (tx) => {
    const rows = await tx
      .select({
        id: notificationOutbox.id,
        status: notificationOutbox.status,
        attempts: notificationOutbox.attempts,
        errorCode: notificationOutbox.errorCode,
        gupshupMessageId: notificationOutbox.gupshupMessageId,
        updatedAt: notificationOutbox.updatedAt,
      })
      .from(notificationOutbox)
      .where(
        and(
          eq(notificationOutbox.toNumber, destAddr),
          inArray(notificationOutbox.status, ['pending', 'sending']),
        ),
      )
      .for('update');
    const [row] = rows;
    if (
      rows.length !== 1 ||
      !row ||
      row.status !== 'sending' ||
      row.attempts === 0 ||
      row.gupshupMessageId !== null ||
      (row.errorCode !== null && !AMBIGUOUS_SEND_FAILURES.has(row.errorCode)) ||
      row.updatedAt >= staleBefore ||
      (reportedAt !== null && reportedAt < row.updatedAt.getTime() - ATTEMPT_SLACK_MS)
    ) {
      return null;
    }
    await tx
      .update(notificationOutbox)
      .set({ gupshupMessageId })
      .where(eq(notificationOutbox.id, row.id));
    return row.id;
  });
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
