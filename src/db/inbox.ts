/** Queries on `fdr_inbox`, the durable record of FDR events taken in from Pub/Sub. */
import { and, asc, eq, inArray, lt, sql } from 'drizzle-orm';

import type { Db, DbOrTx } from './client.ts';
import { insertIdOnce, insertManyIds, insertOnce } from './insert-once.ts';
import { insertRows } from './insert-rows.ts';
import { coalescedFor } from './coalesce.ts';
import { preparedFor } from './prepared.ts';
import type { WriteGroup } from './write-batcher.ts';
import { fdrInbox } from './schema.ts';

export type InboxStatus = 'received' | 'processed' | 'skipped' | 'failed';
export type InboxRow = typeof fdrInbox.$inferSelect;

export interface NewInboxEvent {
  shipmentId: string;
  attempt: number;
  accountId: number | null;
  pubsubMessageId: string | null;
  payload: string;
}

export function inboxEventKey(shipmentId: string, attempt: number): string {
  return `${shipmentId}#${attempt}`;
}

export interface RecordedInboxEvent {
  id: number;
  status: InboxStatus;
  created: boolean;
}

/**
 * Records the event unless the same shipment attempt is already recorded (a redelivery). Returns
 * the row's id and status either way, with `created` telling which; only a redelivery reads the
 * row back.
 */

export async function recordInboxEvent(
  db: DbOrTx,
  event: NewInboxEvent,
): Promise<RecordedInboxEvent> {
  const eventKey = inboxEventKey(event.shipmentId, event.attempt);
  const insertId = await insertIdOnce(() => db.insert(fdrInbox).values({ eventKey, ...event }));
  if (insertId !== null) {
    return { id: insertId, status: 'received', created: true };
  }
  const [row] = await db
    .select({ id: fdrInbox.id, status: fdrInbox.status })
    .from(fdrInbox)
    .where(eq(fdrInbox.eventKey, eventKey));
  if (!row) {
    throw new Error(`inbox row ${eventKey} was not stored`);
  }
  return { id: row.id, status: row.status as InboxStatus, created: false };
}

/**
 * The inbox inserts of a batch of Pub/Sub messages as one statement (src/db/write-batcher.ts): a
 * multi-row INSERT, which fails whole on a duplicate key and commits by itself (no transaction
 * around it), and one read of the new rows' ids by key. A batch holding a redelivery fails that
 * way and is written event by event instead.
 */
export const inboxInserts: WriteGroup<NewInboxEvent, RecordedInboxEvent> = {
  async many(tx, events) {
    const rows = events.map((event) => ({
      eventKey: inboxEventKey(event.shipmentId, event.attempt),
      ...event,
    }));
    const keys = rows.map((row) => row.eventKey);
    const ids = await insertManyIds(
      keys,
      () => tx.execute(insertRows(fdrInbox, rows)),
      () =>
        tx
          .select({ key: fdrInbox.eventKey, id: fdrInbox.id })
          .from(fdrInbox)
          .where(inArray(fdrInbox.eventKey, keys)),
      'inbox row',
    );
    return ids.map((id) => ({ id, status: 'received', created: true }));
  },
  one: recordInboxEvent,
  oneStatement: true,
};

export interface InvalidInboxEvent {
  /** sha256 (hex) of the message data: its key, so a redelivery records nothing twice. */
  digest: string;
  pubsubMessageId: string | null;
  /** The message data as text; kept up to MAX_INVALID_PAYLOAD characters. */
  payload: string;
  reason: string;
}

/**
 * An invalid event is kept for inspection, not for processing: its first 64 Ki characters are
 * enough to see what was wrong (a valid event is stored whole).
 */
const MAX_INVALID_PAYLOAD = 65_536;

/**
 * Records an FDR event that cannot be keyed by shipment and attempt (src/pubsub/ingest.ts), as
 * already `skipped` with its reason: no job will ever process it. Keyed `invalid|sha256:<digest>`,
 * which no `<shipmentId>#<attempt>` key can equal (a shipment id holds no `|`); the shipment id
 * is left empty and the attempt 0, the event having no usable ones.
 */
export async function recordInvalidInboxEvent(
  db: Db,
  event: InvalidInboxEvent,
): Promise<{ id: number; created: boolean }> {
  const eventKey = `invalid|sha256:${event.digest}`;
  const created = await insertOnce(() =>
    db.insert(fdrInbox).values({
      eventKey,
      shipmentId: '',
      attempt: 0,
      accountId: null,
      pubsubMessageId: event.pubsubMessageId,
      payload: event.payload.slice(0, MAX_INVALID_PAYLOAD),
      status: 'skipped',
      reason: event.reason.slice(0, 512),
    }),
  );
  const [row] = await db
    .select({ id: fdrInbox.id })
    .from(fdrInbox)
    .where(eq(fdrInbox.eventKey, eventKey));
  if (!row) {
    throw new Error(`inbox row ${eventKey} was not stored`);
  }
  return { id: row.id, created };
}

const inboxById = preparedFor((db) =>
  db
    .select()
    .from(fdrInbox)
    .where(eq(fdrInbox.id, sql.placeholder('id')))
    .prepare(),
);

/** Concurrent jobs' reads of their inbox rows, one query (src/db/coalesce.ts). */
const inboxRows = coalescedFor<number, InboxRow>(async (db, ids) => {
  const rows =
    ids.length === 1
      ? await inboxById(db).execute({ id: ids[0]! })
      : await db
          .select()
          .from(fdrInbox)
          .where(inArray(fdrInbox.id, [...ids]));
  return new Map(rows.map((row) => [row.id, row]));
});

export function findInbox(db: Db, id: number): Promise<InboxRow | null> {
  return inboxRows(db, id);
}

export async function markInbox(
  db: DbOrTx,
  id: number,
  status: Exclude<InboxStatus, 'received'>,
  reason: string | null,
): Promise<void> {
  await markInboxes(db, [id], status, reason);
}

/** `markInbox` for a batch's events at once. */
export async function markInboxes(
  db: DbOrTx,
  ids: number[],
  status: Exclude<InboxStatus, 'received'>,
  reason: string | null,
): Promise<void> {
  if (ids.length === 0) {
    return;
  }
  await db
    .update(fdrInbox)
    .set({ status, reason: reason?.slice(0, 512) ?? null })
    .where(ids.length === 1 ? eq(fdrInbox.id, ids[0]!) : inArray(fdrInbox.id, ids));
}

/** Events recorded before `olderThan` and still waiting for validation (for the sweeper). */
export async function listReceivedInbox(db: Db, olderThan: Date, limit: number): Promise<number[]> {
  const rows = await db
    .select({ id: fdrInbox.id })
    .from(fdrInbox)
    .where(and(eq(fdrInbox.status, 'received'), lt(fdrInbox.createdAt, olderThan)))
    .limit(limit);
  return rows.map((r) => r.id);
}

/**
 * Deletes at most `limit` events created before `cutoff` that are done with (processed, skipped
 * or failed; never one still `received`). Returns how many it deleted.
 */
export async function deleteFinishedInboxBefore(
  db: Db,
  cutoff: Date,
  limit: number,
): Promise<number> {
  const [result] = await db
    .delete(fdrInbox)
    .where(
      and(
        inArray(fdrInbox.status, ['processed', 'skipped', 'failed']),
        lt(fdrInbox.createdAt, cutoff),
      ),
    )
    .limit(limit);
  return result.affectedRows;
}

/** Every event of the shipment taken in, oldest first. */
export function listShipmentInbox(db: Db, shipmentId: string): Promise<InboxRow[]> {
  return db
    .select()
    .from(fdrInbox)
    .where(eq(fdrInbox.shipmentId, shipmentId))
    .orderBy(asc(fdrInbox.id));
}

/** The shipment of each of these rows that exists. */
export function inboxShipments(
  db: Db,
  ids: readonly number[],
): Promise<{ id: number; shipmentId: string }[]> {
  return db
    .select({ id: fdrInbox.id, shipmentId: fdrInbox.shipmentId })
    .from(fdrInbox)
    .where(inArray(fdrInbox.id, [...ids]));
}
