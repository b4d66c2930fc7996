/**
 * Queries on `whatsapp_reply_evidence`: one row per customer answer bound to a conversation,
 * holding what a dispute with a courier needs (Gupshup's message id, the callback's own time,
 * the choice read, and the request body as received with its SHA-256). Written once by reply id
 * (src/reply-evidence.ts); its personal data (`raw_body`, `detail`) erased by the retention run
 * after PERSONAL_DATA_RETENTION_DAYS, the row itself kept.
 */
import { and, asc, eq, isNull, lt, sql } from 'drizzle-orm';

import type { Db } from './client.ts';
import { insertOnce } from './insert-once.ts';
import { fdrInbox, notificationOutbox, webhookEvents, whatsappReplyEvidence } from './schema.ts';

export type EvidenceRow = typeof whatsappReplyEvidence.$inferSelect;
export type NewEvidence = typeof whatsappReplyEvidence.$inferInsert;

/** What an answer's evidence is copied from, besides the reply and its conversation. */
export interface EvidenceSource {
  /** The request body as received, or null for a row stored without one. */
  rawBody: string | null;
  bodySha256: string | null;
  /** When the webhook received the request. */
  receivedAt: Date;
  /** The failed-delivery attempt the conversation's FDR message was sent for, when known. */
  attempt: number | null;
}

/**
 * The webhook row's body and hash, and the attempt of the conversation's FDR message (its outbox
 * row's inbox event), in one read. The attempt is null once the inbox event has been purged.
 */
export async function findEvidenceSource(
  db: Db,
  webhookEventId: number,
  outboxId: number,
): Promise<EvidenceSource | null> {
  const [row] = await db
    .select({
      rawBody: webhookEvents.rawBody,
      bodySha256: webhookEvents.bodySha256,
      receivedAt: webhookEvents.createdAt,
      attempt: fdrInbox.attempt,
    })
    .from(webhookEvents)
    .leftJoin(notificationOutbox, eq(notificationOutbox.id, outboxId))
    .leftJoin(fdrInbox, eq(fdrInbox.id, notificationOutbox.inboxId))
    .where(eq(webhookEvents.id, webhookEventId));
  return row ?? null;
}

/** Stores the evidence of one reply unless it is there already; true when it stored it. */
export function insertReplyEvidence(db: Db, evidence: NewEvidence): Promise<boolean> {
  return insertOnce(() => db.insert(whatsappReplyEvidence).values(evidence));
}

/** The evidence of every answer about the shipment, oldest first. */
export function listShipmentEvidence(db: Db, shipmentId: string): Promise<EvidenceRow[]> {
  return db
    .select()
    .from(whatsappReplyEvidence)
    .where(eq(whatsappReplyEvidence.shipmentId, shipmentId))
    .orderBy(asc(whatsappReplyEvidence.id));
}

/**
 * Erases the personal data of at most `limit` evidence rows created before `cutoff`: the body
 * and the detail go, `erased_at` is set; the hash, ids, choice and times stay. Returns how many
 * it erased.
 */
export async function eraseEvidenceBefore(db: Db, cutoff: Date, limit: number): Promise<number> {
  const [result] = await db
    .update(whatsappReplyEvidence)
    .set({ rawBody: null, detail: null, erasedAt: sql`CURRENT_TIMESTAMP(3)` })
    .where(and(lt(whatsappReplyEvidence.createdAt, cutoff), isNull(whatsappReplyEvidence.erasedAt)))
    .limit(limit);
  return result.affectedRows;
}

/** The accounts whose answers about the shipment are kept (the evidence outlives its events). */
export async function evidenceAccounts(db: Db, shipmentId: string): Promise<number[]> {
  const rows = await db
    .selectDistinct({ accountId: whatsappReplyEvidence.accountId })
    .from(whatsappReplyEvidence)
    .where(eq(whatsappReplyEvidence.shipmentId, shipmentId));
  return rows.map((r) => r.accountId);
}
