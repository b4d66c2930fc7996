/**
 * The shipment activity timeline. A step records its entry here (keyed, so a retried step adds
 * nothing), then asks `activity.emit` to publish it.
 */
import { and, asc, desc, eq, inArray, isNull, lt, sql } from 'drizzle-orm';

import type { Db, DbOrTx } from './client.ts';
import { insertIdOnce, insertManyIds } from './insert-once.ts';
import { shipmentActivity } from './schema.ts';

export interface ActivityEntry {
  /** Unique per step, e.g. `notified-<outboxId>`; the same key twice records one entry. */
  key: string;
  shipmentId: string;
  accountId: number | null;
  kind: string;
  title: string;
  details: Record<string, unknown>;
  occurredAt: Date;
}

export interface ActivityRow extends Omit<ActivityEntry, 'key'> {
  id: number;
  key: string;
  publishedAt: Date | null;
}

/** Inserts the entry unless its key exists; returns the row id either way. */
function rowOf(entry: ActivityEntry) {
  return {
    activityKey: entry.key,
    shipmentId: entry.shipmentId,
    accountId: entry.accountId,
    kind: entry.kind,
    title: entry.title.slice(0, 512),
    details: JSON.stringify(entry.details),
    occurredAt: entry.occurredAt,
  };
}

/**
 * A batch's entries as one multi-row insert, which fails whole when one of them exists (the
 * caller then inserts them one by one), and one read of their ids by key, in the entries' order.
 */
export async function insertActivities(db: DbOrTx, entries: ActivityEntry[]): Promise<number[]> {
  const keys = entries.map((e) => e.key);
  return insertManyIds(
    keys,
    () => db.insert(shipmentActivity).values(entries.map(rowOf)),
    () =>
      db
        .select({ key: shipmentActivity.activityKey, id: shipmentActivity.id })
        .from(shipmentActivity)
        .where(inArray(shipmentActivity.activityKey, keys)),
    'activity',
  );
}

export async function insertActivity(db: DbOrTx, entry: ActivityEntry): Promise<number> {
  const insertId = await insertIdOnce(() => db.insert(shipmentActivity).values(rowOf(entry)));
  if (insertId !== null) {
    return insertId;
  }
  // The entry was recorded before (a retried step): its id, read once.
  const [row] = await db
    .select({ id: shipmentActivity.id })
    .from(shipmentActivity)
    .where(eq(shipmentActivity.activityKey, entry.key));
  if (!row) {
    throw new Error(`activity ${entry.key} was not stored`);
  }
  return row.id;
}

function toRow(r: typeof shipmentActivity.$inferSelect): ActivityRow {
  return {
    id: r.id,
    key: r.activityKey,
    shipmentId: r.shipmentId,
    accountId: r.accountId,
    kind: r.kind,
    title: r.title,
    details: JSON.parse(r.details) as Record<string, unknown>,
    occurredAt: r.occurredAt,
    publishedAt: r.publishedAt,
  };
}

export async function findActivity(db: Db, id: number): Promise<ActivityRow | null> {
  const [row] = await db.select().from(shipmentActivity).where(eq(shipmentActivity.id, id));
  return row ? toRow(row) : null;
}

export async function listShipmentActivity(db: Db, shipmentId: string): Promise<ActivityRow[]> {
  const rows = await db
    .select()
    .from(shipmentActivity)
    .where(eq(shipmentActivity.shipmentId, shipmentId))
    .orderBy(asc(shipmentActivity.occurredAt), asc(shipmentActivity.id));
  return rows.map(toRow);
}

/**
 * An account's latest timeline entries, newest first (the settings page shows them). Ordered by
 * id, which follows recording order, rather than by occurred_at: there is no account index, and
 * walking the primary key backwards stops after `limit` matches instead of sorting every row of
 * the account.
 */
export async function listAccountActivity(
  db: Db,
  accountId: number,
  limit: number,
): Promise<ActivityRow[]> {
  const rows = await db
    .select()
    .from(shipmentActivity)
    .where(eq(shipmentActivity.accountId, accountId))
    .orderBy(desc(shipmentActivity.id))
    .limit(limit);
  return rows.map(toRow);
}

export async function markActivityPublished(db: Db, id: number): Promise<void> {
  await db
    .update(shipmentActivity)
    .set({ publishedAt: new Date() })
    .where(and(eq(shipmentActivity.id, id), isNull(shipmentActivity.publishedAt)));
}

/**
 * Publishes the oldest unpublished entries, up to `limit`, in one transaction: the rows are
 * locked (rows another publisher holds are skipped, so two replicas never publish the same
 * batch), handed to `publish`, and marked published once it resolved. Returns how many.
 */
export async function publishUnpublishedActivity(
  db: Db,
  limit: number,
  publish: (rows: ActivityRow[]) => Promise<void>,
): Promise<number> {
  return db.transaction(async (tx) => {
    const rows = await tx
      .select()
      .from(shipmentActivity)
      .where(isNull(shipmentActivity.publishedAt))
      .orderBy(asc(shipmentActivity.publishedAt), asc(shipmentActivity.createdAt))
      .limit(limit)
      .for('update', { skipLocked: true });
    if (rows.length === 0) {
      return 0;
    }
    await publish(rows.map(toRow));
    await tx
      .update(shipmentActivity)
      .set({ publishedAt: new Date() })
      .where(
        inArray(
          shipmentActivity.id,
          rows.map((r) => r.id),
        ),
      );
    return rows.length;
  });
}

/** Entries stored before `olderThan` and still unpublished (for the sweeper). */
export async function listUnpublishedActivity(
  db: Db,
  olderThan: Date,
  limit: number,
): Promise<number[]> {
  const rows = await db
    .select({ id: shipmentActivity.id })
    .from(shipmentActivity)
    .where(and(isNull(shipmentActivity.publishedAt), lt(shipmentActivity.createdAt, olderThan)))
    .limit(limit);
  return rows.map((r) => r.id);
}

/** The shipment of each of these timeline entries that exists. */
export function activityShipments(
  db: Db,
  ids: readonly number[],
): Promise<{ id: number; shipmentId: string }[]> {
  return db
    .select({ id: shipmentActivity.id, shipmentId: shipmentActivity.shipmentId })
    .from(shipmentActivity)
    .where(inArray(shipmentActivity.id, [...ids]));
}

/** What a reply's timeline entry says once its personal data is erased. */
export const ERASED_REPLY_TITLE = 'Customer replied (text erased after the retention period)';

/**
 * Erases what the timeline entries of these replies (`reply-<id>`, found by their unique key)
 * quote of the customer: the title's text, and the media link and location in the details. The
 * type, intent and times stay.
 */
export async function eraseReplyEntries(db: DbOrTx, replyIds: readonly number[]): Promise<void> {
  if (replyIds.length === 0) {
    return;
  }
  await db
    .update(shipmentActivity)
    .set({
      title: ERASED_REPLY_TITLE,
      // Details are always JSON (src/activity.ts); on MariaDB a NULL would mean they were not.
      details: sql`coalesce(json_remove(${shipmentActivity.details}, '$.mediaUrl', '$.location'), ${shipmentActivity.details})`,
    })
    .where(
      inArray(
        shipmentActivity.activityKey,
        replyIds.map((id) => `reply-${id}`),
      ),
    );
}
