/**
 * Conversations (one per FDR template message sent) and the customer replies bound to them.
 * A reply binds to the message it names, else to the customer's newest open conversation.
 */
import { and, desc, eq, gt, inArray, isNotNull, isNull, like, lt, or, sql } from 'drizzle-orm';

import type { Db, DbOrTx } from './client.ts';
import { eraseReplyEntries } from './activity.ts';
import { insertOnce } from './insert-once.ts';
import { notificationOutbox, whatsappConversations, whatsappReplies } from './schema.ts';

export type ConversationRow = typeof whatsappConversations.$inferSelect;
export type ReplyRow = typeof whatsappReplies.$inferSelect;

export interface NewConversation {
  outboxId: number;
  shipmentId: string;
  accountId: number;
  customerNumber: string;
  connectionId: string;
}

export async function openConversation(db: DbOrTx, c: NewConversation): Promise<void> {
  await insertOnce(() => db.insert(whatsappConversations).values(c));
}

/**
 * The conversations of a batch of FDR messages as one multi-row insert, which fails whole when
 * one of them exists (the caller then opens them one by one).
 */
export async function openConversations(db: DbOrTx, cs: NewConversation[]): Promise<void> {
  if (cs.length > 0) {
    await db.insert(whatsappConversations).values(cs);
  }
}

export async function findConversation(db: Db, id: number): Promise<ConversationRow | null> {
  const [row] = await db
    .select()
    .from(whatsappConversations)
    .where(eq(whatsappConversations.id, id));
  return row ?? null;
}

/** The conversation of an FDR template message, by that message's outbox id (its key). */
export async function findConversationByOutboxId(
  db: Db,
  outboxId: number,
): Promise<ConversationRow | null> {
  const [row] = await db
    .select()
    .from(whatsappConversations)
    .where(eq(whatsappConversations.outboxId, outboxId));
  return row ?? null;
}

/**
 * The conversation of the message Gupshup calls `gupshupId`. Enterprise replies carry only the
 * first half of the id SendMessage returned (`<19 digits>` of `<19 digits>-<18 digits>`), so a
 * stored id that starts with `<gupshupId>-` matches too.
 */
export async function findConversationByMessageId(
  db: Db,
  gupshupId: string,
): Promise<ConversationRow | null> {
  const [outbox] = await db
    .select({ id: notificationOutbox.id, conversationId: notificationOutbox.conversationId })
    .from(notificationOutbox)
    .where(
      or(
        eq(notificationOutbox.gupshupMessageId, gupshupId),
        like(notificationOutbox.gupshupMessageId, `${gupshupId.replace(/[%_\\]/g, '')}-%`),
      ),
    )
    .orderBy(desc(notificationOutbox.id))
    .limit(1);
  if (!outbox) {
    return null;
  }
  if (outbox.conversationId !== null) {
    return findConversation(db, outbox.conversationId);
  }
  const [row] = await db
    .select()
    .from(whatsappConversations)
    .where(eq(whatsappConversations.outboxId, outbox.id));
  return row ?? null;
}

/** The customer's newest conversation still open and younger than `since`. */
export async function latestConversationForNumber(
  db: Db,
  customerNumber: string,
  since: Date,
): Promise<ConversationRow | null> {
  const [row] = await db
    .select()
    .from(whatsappConversations)
    .where(
      and(
        eq(whatsappConversations.customerNumber, customerNumber),
        gt(whatsappConversations.createdAt, since),
        isNull(whatsappConversations.closedAt),
      ),
    )
    .orderBy(desc(whatsappConversations.createdAt), desc(whatsappConversations.id))
    .limit(1);
  return row ?? null;
}

/**
 * The customer's newest conversation of any age, open or closed, optionally on one sender
 * connection: whom an opt-out or opt-in concerns when no open conversation takes the message.
 */
export async function lastConversationForNumber(
  db: Db,
  customerNumber: string,
  connectionId?: string,
): Promise<ConversationRow | null> {
  const [row] = await db
    .select()
    .from(whatsappConversations)
    .where(
      and(
        eq(whatsappConversations.customerNumber, customerNumber),
        connectionId === undefined
          ? undefined
          : eq(whatsappConversations.connectionId, connectionId),
      ),
    )
    .orderBy(desc(whatsappConversations.createdAt), desc(whatsappConversations.id))
    .limit(1);
  return row ?? null;
}

export async function updateConversation(
  db: DbOrTx,
  id: number,
  set: Partial<Pick<ConversationRow, 'awaiting' | 'offeredDates' | 'closedAt' | 'customerUserId'>>,
): Promise<void> {
  await db.update(whatsappConversations).set(set).where(eq(whatsappConversations.id, id));
}

/**
 * Makes `replyId` the conversation's latest actionable reply unless a later one already is.
 * "Later" is by webhook arrival (the event id), not by reply id: replies are stored by
 * concurrent workers, so their ids need not follow the order the customer sent them in.
 */
export async function markLatestActionable(
  db: Db,
  conversationId: number,
  replyId: number,
): Promise<void> {
  await db.execute(sql`
    update ${whatsappConversations} c
    join ${whatsappReplies} r on r.id = ${replyId}
    left join ${whatsappReplies} cur on cur.id = c.last_actionable_reply_id
    set c.last_actionable_reply_id = r.id
    where c.id = ${conversationId}
      and (cur.id is null or cur.webhook_event_id < r.webhook_event_id)`);
}

export async function insertReply(
  db: Db,
  reply: typeof whatsappReplies.$inferInsert,
): Promise<ReplyRow> {
  await insertOnce(() => db.insert(whatsappReplies).values(reply));
  const [row] = await db
    .select()
    .from(whatsappReplies)
    .where(eq(whatsappReplies.webhookEventId, reply.webhookEventId));
  if (!row) {
    throw new Error(`reply for webhook event ${reply.webhookEventId} was not stored`);
  }
  return row;
}

export async function findReplyByEvent(db: Db, webhookEventId: number): Promise<ReplyRow | null> {
  const [row] = await db
    .select()
    .from(whatsappReplies)
    .where(eq(whatsappReplies.webhookEventId, webhookEventId));
  return row ?? null;
}

export async function markReply(
  db: DbOrTx,
  id: number,
  state: 'acted' | 'superseded' | 'logged' | 'declined',
  action: string | null,
): Promise<void> {
  await db.update(whatsappReplies).set({ state, action }).where(eq(whatsappReplies.id, id));
}

/**
 * Erases the summary (what the customer tapped or typed) of at most `limit` replies received
 * before `cutoff`; the row, its intent, state and action stay, so counts do not change. Walks
 * `whatsapp_replies_received`. Returns how many it erased.
 */
export async function eraseReplySummariesBefore(
  db: Db,
  cutoff: Date,
  limit: number,
): Promise<number> {
  const rows = await db
    .select({ id: whatsappReplies.id })
    .from(whatsappReplies)
    .where(and(lt(whatsappReplies.receivedAt, cutoff), isNotNull(whatsappReplies.summary)))
    .limit(limit);
  if (rows.length === 0) {
    return 0;
  }
  const ids = rows.map((r) => r.id);
  // The reply's timeline entry quotes it: its text and media go with the summary.
  await eraseReplyEntries(db, ids);
  const [result] = await db
    .update(whatsappReplies)
    .set({ summary: null })
    .where(inArray(whatsappReplies.id, ids));
  return result.affectedRows;
}

/** The shipment of the reply stored from each of these webhook events, keyed by event id. */
export function replyShipments(
  db: Db,
  webhookEventIds: readonly number[],
): Promise<{ id: number; shipmentId: string }[]> {
  return db
    .select({ id: whatsappReplies.webhookEventId, shipmentId: whatsappReplies.shipmentId })
    .from(whatsappReplies)
    .where(inArray(whatsappReplies.webhookEventId, [...webhookEventIds]));
}
