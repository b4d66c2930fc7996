/**
 * Queries on `whatsapp_status_logs`, one row per WhatsApp message sent for a shipment: its
 * Gupshup id, its delivery status (which only moves forward, src/dlr/codes.ts) and the reports
 * received in `remarks`.
 */
import { and, asc, desc, eq, inArray, isNotNull, like, lt, type SQL } from 'drizzle-orm';

import type { Db, DbOrTx } from './client.ts';
import { whatsappStatusLogs } from './schema.ts';

export type StatusLogRow = typeof whatsappStatusLogs.$inferSelect;

/** Records an accepted send (status `SUBMITTED` until its first report); returns the row id. */
export async function insertStatusLog(
  db: DbOrTx,
  log: { shipmentId: string; status: string; messageId: string },
): Promise<number> {
  const [row] = await db.insert(whatsappStatusLogs).values(log).$returningId();
  if (!row) {
    throw new Error(`status log of message ${log.messageId} was not stored`);
  }
  return row.id;
}

/**
 * The status logs of a batch of accepted messages as one multi-row insert (their ids are not
 * read back: each outbox row links to its message's newest log, src/db/outbox.ts).
 */
export async function insertStatusLogs(
  db: DbOrTx,
  logs: { shipmentId: string; status: string; messageId: string }[],
): Promise<void> {
  await db.insert(whatsappStatusLogs).values(logs);
}

async function newestStatusLogId(db: Db, where: SQL): Promise<number | null> {
  const [row] = await db
    .select({ id: whatsappStatusLogs.id })
    .from(whatsappStatusLogs)
    .where(where)
    .orderBy(desc(whatsappStatusLogs.id))
    .limit(1);
  return row?.id ?? null;
}

/** The newest row holding exactly this Gupshup id, or null. */
export function newestStatusLogIdByMessageId(db: Db, messageId: string): Promise<number | null> {
  return newestStatusLogId(db, eq(whatsappStatusLogs.messageId, messageId));
}

/** `%` and `_` are wildcards in LIKE; Gupshup ids hold neither, but a report is outside input. */
function escapeLike(text: string): string {
  return text.replace(/[\\%_]/g, (c) => `\\${c}`);
}

/**
 * The newest row whose Gupshup id is `<firstHalf>-<anything>` (an enterprise id is
 * `<digits>-<digits>`, and a report may name only its first half), or null.
 */
export function newestStatusLogIdByFirstHalf(db: Db, firstHalf: string): Promise<number | null> {
  return newestStatusLogId(db, like(whatsappStatusLogs.messageId, `${escapeLike(firstHalf)}-%`));
}

/** The row, locked for update until the transaction ends; null when it is gone. */
export async function lockStatusLog(tx: DbOrTx, id: number): Promise<StatusLogRow | null> {
  const [row] = await tx
    .select()
    .from(whatsappStatusLogs)
    .where(eq(whatsappStatusLogs.id, id))
    .for('update');
  return row ?? null;
}

/** Stores the reports received and, when one moved it, the new status and the report's time. */
export async function updateStatusLogReports(
  tx: DbOrTx,
  id: number,
  change: { remarks: string; status?: string; externalUpdatedAt?: Date },
): Promise<void> {
  await tx.update(whatsappStatusLogs).set(change).where(eq(whatsappStatusLogs.id, id));
}

/**
 * Clears the report history (`remarks`) of at most `limit` rows created before `cutoff`; the
 * rows and their status stay. Returns how many rows it cleared.
 */
export async function clearStatusLogRemarksBefore(
  db: Db,
  cutoff: Date,
  limit: number,
): Promise<number> {
  const [result] = await db
    .update(whatsappStatusLogs)
    .set({ remarks: null })
    .where(and(lt(whatsappStatusLogs.createdAt, cutoff), isNotNull(whatsappStatusLogs.remarks)))
    .limit(limit);
  return result.affectedRows;
}

/** Every status row of the shipment, oldest first. */
export function listShipmentStatusLogs(db: Db, shipmentId: string): Promise<StatusLogRow[]> {
  return db
    .select()
    .from(whatsappStatusLogs)
    .where(eq(whatsappStatusLogs.shipmentId, shipmentId))
    .orderBy(asc(whatsappStatusLogs.id));
}

/** The shipment id of each of these Gupshup ids that has a status row (exact ids only). */
export async function shipmentsByMessageId(
  db: Db,
  messageIds: readonly string[],
): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  if (messageIds.length === 0) {
    return out;
  }
  const rows = await db
    .select({ messageId: whatsappStatusLogs.messageId, shipmentId: whatsappStatusLogs.shipmentId })
    .from(whatsappStatusLogs)
    .where(inArray(whatsappStatusLogs.messageId, [...messageIds]));
  for (const row of rows) {
    if (row.messageId !== null) {
      out.set(row.messageId, row.shipmentId);
    }
  }
  return out;
}
