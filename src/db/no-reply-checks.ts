/**
 * `whatsapp_no_reply_checks`: one row per FDR message sent while the account's no-reply rule
 * acts (seed edge case 3), the record of what the `no-reply.check` job must still do. It goes
 * `scheduled` → `done` (outcome: what it did) or `cancelled` (outcome: why). Only a scheduled
 * row changes, so a check acts at most once, whoever runs it.
 */
import { and, eq, gt, inArray, lt, ne, or, sql } from 'drizzle-orm';

import type { Db, DbOrTx } from './client.ts';
import { insertOnce } from './insert-once.ts';
import { fdrInbox, notificationOutbox, whatsappNoReplyChecks, whatsappReplies } from './schema.ts';

export type NoReplyCheckRow = typeof whatsappNoReplyChecks.$inferSelect;

/** Why a check was called off (its `outcome`). */
export type CancelReason =
  | 'replied'
  | 'newer_attempt'
  | 'not_failed_delivery'
  | 'closed'
  | 'message_missing'
  | 'wms_not_configured'
  | 'wms_refused'
  | 'no_template'
  | 'render_failed';

/** Records the check of one FDR message; a second call for the same message changes nothing. */
export interface NewNoReplyCheck {
  outboxId: number;
  shipmentId: string;
  accountId: number;
  dueAt: Date;
}

export async function scheduleNoReplyCheck(db: DbOrTx, check: NewNoReplyCheck): Promise<boolean> {
  return insertOnce(() => db.insert(whatsappNoReplyChecks).values(check));
}

/** A batch's checks as one multi-row insert, which fails whole when one of them exists. */
export async function scheduleNoReplyChecks(db: DbOrTx, checks: NewNoReplyCheck[]): Promise<void> {
  if (checks.length > 0) {
    await db.insert(whatsappNoReplyChecks).values(checks);
  }
}

export async function findNoReplyCheck(
  db: DbOrTx,
  outboxId: number,
): Promise<NoReplyCheckRow | null> {
  const [row] = await db
    .select()
    .from(whatsappNoReplyChecks)
    .where(eq(whatsappNoReplyChecks.outboxId, outboxId));
  return row ?? null;
}

/** Locks a scheduled check for the transaction; null when it is no longer scheduled. */
export async function lockScheduledCheck(
  tx: DbOrTx,
  outboxId: number,
): Promise<NoReplyCheckRow | null> {
  const [row] = await tx
    .select()
    .from(whatsappNoReplyChecks)
    .where(
      and(
        eq(whatsappNoReplyChecks.outboxId, outboxId),
        eq(whatsappNoReplyChecks.status, 'scheduled'),
      ),
    )
    .for('update');
  return row ?? null;
}

/** Moves a scheduled check to done or cancelled; false when it was not scheduled any more. */
export async function finishNoReplyCheck(
  db: DbOrTx,
  outboxId: number,
  status: 'done' | 'cancelled',
  outcome: string,
): Promise<boolean> {
  const [result] = await db
    .update(whatsappNoReplyChecks)
    .set({ status, outcome })
    .where(
      and(
        eq(whatsappNoReplyChecks.outboxId, outboxId),
        eq(whatsappNoReplyChecks.status, 'scheduled'),
      ),
    );
  return result.affectedRows === 1;
}

/** A scheduled check's new due time (it waits for quiet hours to end). */
export async function rescheduleNoReplyCheck(
  db: DbOrTx,
  outboxId: number,
  dueAt: Date,
): Promise<void> {
  await db
    .update(whatsappNoReplyChecks)
    .set({ dueAt })
    .where(
      and(
        eq(whatsappNoReplyChecks.outboxId, outboxId),
        eq(whatsappNoReplyChecks.status, 'scheduled'),
      ),
    );
}

/**
 * Cancels the scheduled checks of a shipment's earlier failed-delivery attempts (a newer one
 * arrived); returns the outbox ids of the checks it cancelled.
 */
export async function cancelEarlierAttemptChecks(
  db: Db,
  shipmentId: string,
  attempt: number,
): Promise<number[]> {
  // Attempts count from 1: a first attempt has no earlier one, and most events are first
  // attempts, so they ask nothing.
  if (attempt <= 1) {
    return [];
  }
  const rows = await db
    .select({ outboxId: whatsappNoReplyChecks.outboxId })
    .from(whatsappNoReplyChecks)
    .innerJoin(notificationOutbox, eq(notificationOutbox.id, whatsappNoReplyChecks.outboxId))
    .innerJoin(fdrInbox, eq(fdrInbox.id, notificationOutbox.inboxId))
    .where(
      and(
        eq(whatsappNoReplyChecks.shipmentId, shipmentId),
        eq(whatsappNoReplyChecks.status, 'scheduled'),
        lt(fdrInbox.attempt, attempt),
      ),
    );
  const cancelled: number[] = [];
  for (const { outboxId } of rows) {
    if (await finishNoReplyCheck(db, outboxId, 'cancelled', 'newer_attempt')) {
      cancelled.push(outboxId);
    }
  }
  return cancelled;
}

/**
 * Whether the shipment has a failed-delivery attempt newer than the one of FDR message
 * `outboxId` (whatever became of that attempt's event).
 */
export async function hasNewerAttempt(
  db: Db,
  shipmentId: string,
  inboxId: number | null,
): Promise<boolean> {
  if (inboxId === null) {
    return false;
  }
  const [own] = await db
    .select({ attempt: fdrInbox.attempt })
    .from(fdrInbox)
    .where(eq(fdrInbox.id, inboxId));
  if (!own) {
    return false;
  }
  const [newer] = await db
    .select({ id: fdrInbox.id })
    .from(fdrInbox)
    .where(and(eq(fdrInbox.shipmentId, shipmentId), sql`${fdrInbox.attempt} > ${own.attempt}`))
    .limit(1);
  return newer !== undefined;
}

/**
 * Whether the customer replied in the conversation: any reply bound to it, except one that
 * named it from another number (recorded, declined `other_sender`).
 */
export async function customerReplied(db: Db, conversationId: number): Promise<boolean> {
  const [row] = await db
    .select({ id: whatsappReplies.id })
    .from(whatsappReplies)
    .where(
      and(
        eq(whatsappReplies.conversationId, conversationId),
        or(
          ne(whatsappReplies.state, 'declined'),
          sql`coalesce(${whatsappReplies.action}, '') <> 'other_sender'`,
        ),
      ),
    )
    .limit(1);
  return row !== undefined;
}

/**
 * Checks still scheduled whose due time passed before `dueBefore`: what the sweeper makes sure
 * has a job. A check that is not due yet is left alone (its job, if Redis lost it, is made again
 * once it is).
 */
export async function listDueNoReplyChecks(
  db: Db,
  dueBefore: Date,
  limit: number,
): Promise<number[]> {
  const rows = await db
    .select({ outboxId: whatsappNoReplyChecks.outboxId })
    .from(whatsappNoReplyChecks)
    .where(
      and(
        eq(whatsappNoReplyChecks.status, 'scheduled'),
        lt(whatsappNoReplyChecks.dueAt, dueBefore),
      ),
    )
    .orderBy(whatsappNoReplyChecks.dueAt)
    .limit(limit);
  return rows.map((r) => r.outboxId);
}

/** Where a walk over the scheduled checks in due order stopped: the last one it saw. */
export interface CheckCursor {
  dueAt: Date;
  outboxId: number;
}

/**
 * Scheduled checks due before `dueBefore`, after `cursor` (in due order, then outbox id), with
 * their due times: the page of checks to hand to Redis next (src/sweeper.ts).
 */
export async function listScheduledChecksAfter(
  db: Db,
  cursor: CheckCursor | null,
  dueBefore: Date,
  limit: number,
): Promise<CheckCursor[]> {
  return db
    .select({ outboxId: whatsappNoReplyChecks.outboxId, dueAt: whatsappNoReplyChecks.dueAt })
    .from(whatsappNoReplyChecks)
    .where(
      and(
        eq(whatsappNoReplyChecks.status, 'scheduled'),
        lt(whatsappNoReplyChecks.dueAt, dueBefore),
        cursor
          ? or(
              gt(whatsappNoReplyChecks.dueAt, cursor.dueAt),
              and(
                eq(whatsappNoReplyChecks.dueAt, cursor.dueAt),
                gt(whatsappNoReplyChecks.outboxId, cursor.outboxId),
              ),
            )
          : undefined,
      ),
    )
    .orderBy(whatsappNoReplyChecks.dueAt, whatsappNoReplyChecks.outboxId)
    .limit(limit);
}

/** The checks of some messages, by outbox id (for tests and the CLI). */
export async function findNoReplyChecks(db: Db, outboxIds: number[]): Promise<NoReplyCheckRow[]> {
  return outboxIds.length === 0
    ? []
    : db
        .select()
        .from(whatsappNoReplyChecks)
        .where(inArray(whatsappNoReplyChecks.outboxId, outboxIds));
}
