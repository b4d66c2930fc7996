/**
 * The writes of `whatsapp_attempt_outcomes`: one row per failed-delivery attempt the service
 * decided on, inserted once by `fdr.validate`, then moved forward stage by stage. Every change is
 * one conditional UPDATE by key (the shipment, and the attempt or its FDR message's outbox id;
 * `sent` goes with the message's own mark, src/db/outbox.ts `markFdrMessageSent`)
 * whose condition is the change not made yet, so a retried job, a duplicate report or an event
 * out of order changes nothing, and the caller knows from the affected rows whether it was the
 * one that made it (and counts it). The rows hold ids, codes and times only, no personal data.
 * The funnel's read is src/db/outcome-funnel.ts.
 */
import { and, asc, desc, eq, gt, gte, isNull, lt, lte, or } from 'drizzle-orm';

import type { DbOrTx } from './client.ts';
import { insertOnce } from './insert-once.ts';
import { whatsappAttemptOutcomes as o } from './schema.ts';

export type AttemptOutcomeRow = typeof o.$inferSelect;

/** What `fdr.validate` decided for one attempt. */
export interface NewAttemptOutcome {
  shipmentId: string;
  attempt: number;
  accountId: number;
  reason: string | null;
  courier: string | null;
  templateId: string | null;
  outboxId: number | null;
  messaged: boolean;
  notMessagedCode: string | null;
  failedAt: Date;
}

/** Inserts the attempt's row; false when the attempt has one already (a job run again). */
export function insertAttemptOutcome(db: DbOrTx, row: NewAttemptOutcome): Promise<boolean> {
  return insertOnce(() => db.insert(o).values({ ...row, messaged: row.messaged ? 1 : 0 }));
}

/** A batch's rows as one multi-row insert, which fails whole when an attempt has one already. */
export async function insertAttemptOutcomes(db: DbOrTx, rows: NewAttemptOutcome[]): Promise<void> {
  if (rows.length > 0) {
    await db.insert(o).values(rows.map((row) => ({ ...row, messaged: row.messaged ? 1 : 0 })));
  }
}

export async function findAttemptOutcome(
  db: DbOrTx,
  shipmentId: string,
  attempt: number,
): Promise<AttemptOutcomeRow | null> {
  const [row] = await db
    .select()
    .from(o)
    .where(and(eq(o.shipmentId, shipmentId), eq(o.attempt, attempt)));
  return row ?? null;
}

/** The shipment's latest attempt that has a row, or null when the service decided on none. */
export async function findLatestAttemptOutcome(
  db: DbOrTx,
  shipmentId: string,
): Promise<AttemptOutcomeRow | null> {
  const [row] = await db
    .select()
    .from(o)
    .where(eq(o.shipmentId, shipmentId))
    .orderBy(desc(o.attempt))
    .limit(1);
  return row ?? null;
}

/** Whether the service decided on any attempt of the shipment (the ingress's question). */
export async function hasAttemptOutcome(db: DbOrTx, shipmentId: string): Promise<boolean> {
  const [row] = await db.select({ id: o.id }).from(o).where(eq(o.shipmentId, shipmentId)).limit(1);
  return row !== undefined;
}

/**
 * The shipment's earlier attempts (at most a few), oldest first, for a newer one to close.
 * Attempts count from 1: a first attempt, most events, has none and asks nothing.
 */
export async function listEarlierAttempts(
  db: DbOrTx,
  shipmentId: string,
  attempt: number,
): Promise<AttemptOutcomeRow[]> {
  if (attempt <= 1) {
    return [];
  }
  return db
    .select()
    .from(o)
    .where(and(eq(o.shipmentId, shipmentId), lt(o.attempt, attempt)))
    .orderBy(asc(o.attempt));
}

const ofMessage = (shipmentId: string, outboxId: number) =>
  and(eq(o.shipmentId, shipmentId), eq(o.outboxId, outboxId));

async function changed(update: Promise<[{ affectedRows: number }, ...unknown[]]>) {
  const [result] = await update;
  return result.affectedRows > 0;
}

/** Its delivery report said DELIVERED (or READ, which implies it). */
export function markOutcomeDelivered(db: DbOrTx, shipmentId: string, outboxId: number, at: Date) {
  return changed(
    db
      .update(o)
      .set({ deliveredAt: at })
      .where(and(ofMessage(shipmentId, outboxId), isNull(o.deliveredAt))),
  );
}

export function markOutcomeRead(db: DbOrTx, shipmentId: string, outboxId: number, at: Date) {
  return changed(
    db
      .update(o)
      .set({ readAt: at })
      .where(and(ofMessage(shipmentId, outboxId), isNull(o.readAt))),
  );
}

/** The customer's first reply bound to the attempt's conversation. */
export function markOutcomeReplied(db: DbOrTx, shipmentId: string, outboxId: number, at: Date) {
  return changed(
    db
      .update(o)
      .set({ repliedAt: at })
      .where(and(ofMessage(shipmentId, outboxId), isNull(o.repliedAt))),
  );
}

export interface OutcomeAction {
  action: string;
  at: Date;
  /** `YYYY-MM-DD` for a reschedule; null otherwise. */
  chosenDate: string | null;
}

/**
 * Records the action a reply became. The first one is "actioned" (true); a later one of the same
 * attempt (the customer changed their mind) replaces it, unless an even later one is there.
 */
export async function markOutcomeActioned(
  db: DbOrTx,
  shipmentId: string,
  outboxId: number,
  { action, at, chosenDate }: OutcomeAction,
): Promise<boolean> {
  const values = { action, actionAt: at, chosenDate };
  if (
    await changed(
      db
        .update(o)
        .set(values)
        .where(and(ofMessage(shipmentId, outboxId), isNull(o.action))),
    )
  ) {
    return true;
  }
  await db
    .update(o)
    .set(values)
    .where(and(ofMessage(shipmentId, outboxId), lte(o.actionAt, at)));
  return false;
}

export type FinalOutcome = 'delivered' | 'failed_again' | 'rto' | 'cancelled';

/**
 * Closes an attempt still open. Only from `open`: an event older than the one that closed it, or
 * delivered again, changes nothing.
 */
export function closeAttemptOutcome(
  db: DbOrTx,
  shipmentId: string,
  attempt: number,
  close: { outcome: FinalOutcome; status: string; at: Date; nextReason?: string | null },
): Promise<boolean> {
  return changed(
    db
      .update(o)
      .set({
        outcome: close.outcome,
        outcomeStatus: close.status,
        outcomeAt: close.at,
        nextReason: close.nextReason ?? null,
      })
      .where(and(eq(o.shipmentId, shipmentId), eq(o.attempt, attempt), eq(o.outcome, 'open'))),
  );
}

/** The latest out-for-delivery time seen for the attempt (an older one changes nothing). */
export function markOutForDelivery(db: DbOrTx, shipmentId: string, attempt: number, at: Date) {
  return changed(
    db
      .update(o)
      .set({ outForDeliveryAt: at })
      .where(
        and(
          eq(o.shipmentId, shipmentId),
          eq(o.attempt, attempt),
          or(isNull(o.outForDeliveryAt), lt(o.outForDeliveryAt, at)),
        ),
      ),
  );
}

export type NotHonoured = 'other_date' | 'no_out_for_delivery' | 'contradicting_reason';

/** Flags the attempt as not honoured by the courier, once. */
export function flagNotHonoured(
  db: DbOrTx,
  shipmentId: string,
  attempt: number,
  why: NotHonoured,
  at: Date,
): Promise<boolean> {
  return changed(
    db
      .update(o)
      .set({ notHonoured: why, notHonouredAt: at })
      .where(and(eq(o.shipmentId, shipmentId), eq(o.attempt, attempt), isNull(o.notHonoured))),
  );
}

/**
 * Open attempts whose chosen date is in [since, before) and not flagged yet: the end-of-date
 * check's batch, read through the `(outcome, chosen_date)` index and bounded below, so rows
 * flagged long ago are not read again on every pass.
 */
export function listChosenDatesEnded(
  db: DbOrTx,
  since: string,
  before: string,
  limit: number,
  after: { chosenDate: string; id: number } | null = null,
): Promise<AttemptOutcomeRow[]> {
  return db
    .select()
    .from(o)
    .where(
      and(
        eq(o.outcome, 'open'),
        gte(o.chosenDate, since),
        lt(o.chosenDate, before),
        isNull(o.notHonoured),
        after === null
          ? undefined
          : or(
              gt(o.chosenDate, after.chosenDate),
              and(eq(o.chosenDate, after.chosenDate), gt(o.id, after.id)),
            ),
      ),
    )
    .orderBy(asc(o.chosenDate), asc(o.id))
    .limit(limit);
}
