/** Queries on `webhook_events`, the durable record of what Gupshup posted to the webhook. */
import { and, eq, gte, inArray, lt, lte } from 'drizzle-orm';

import type { WebhookEvent } from '../webhook/events.ts';
import type { Db, DbOrTx } from './client.ts';
import { insertIdOnce, insertManyIds } from './insert-once.ts';
import { insertRows } from './insert-rows.ts';
import type { WriteGroup } from './write-batcher.ts';
import { webhookEvents } from './schema.ts';

export type WebhookEventRow = typeof webhookEvents.$inferSelect;

/** An inbound message's request as received: its body as a UTF-8 string and their hex SHA-256. */
export interface ReceivedBody {
  rawBody: string;
  bodySha256: string;
}

/** One event to record (`recordWebhookEvent`'s arguments). */
export interface NewWebhookEvent {
  eventKey: string;
  event: WebhookEvent;
  handled?: { status: 'ignored'; note: string };
  received?: ReceivedBody;
}

function rowOf({ eventKey, event, handled, received }: NewWebhookEvent) {
  return {
    eventKey,
    kind: event.kind,
    payload: JSON.stringify(event),
    ...(received ? { rawBody: received.rawBody, bodySha256: received.bodySha256 } : {}),
    ...(handled ? { status: handled.status, note: handled.note.slice(0, 512) } : {}),
  };
}

/**
 * The webhook's concurrent requests as one statement (src/db/write-batcher.ts): a multi-row
 * INSERT, which fails whole on a duplicate key and commits by itself (no transaction around
 * it), and one read of the new rows' ids by key. A batch holding a repeated callback fails that
 * way and is written event by event instead.
 */
export const webhookEventInserts: WriteGroup<
  NewWebhookEvent,
  { id: number; created: boolean; status: string }
> = {
  async many(tx, items) {
    const keys = items.map((item) => item.eventKey);
    const ids = await insertManyIds(
      keys,
      () => tx.execute(insertRows(webhookEvents, items.map(rowOf))),
      () =>
        tx
          .select({ key: webhookEvents.eventKey, id: webhookEvents.id })
          .from(webhookEvents)
          .where(inArray(webhookEvents.eventKey, keys)),
      'webhook event',
    );
    return items.map((item, i) => ({
      id: ids[i]!,
      created: true,
      status: item.handled?.status ?? 'received',
    }));
  },
  one: (db, item) => recordWebhookEvent(db, item.eventKey, item.event, item.handled, item.received),
  oneStatement: true,
};

/**
 * Records the event unless its key exists; returns the row id, whether it is new and its status.
 * `handled` stores it already `ignored` with that note: an event no job will ever handle (a user
 * or billing event, an ignored callback) never waits as `received`. `received` is stored with the
 * row (an inbound message's body and hash); a repeated callback keeps the first one's.
 */
export async function recordWebhookEvent(
  db: DbOrTx,
  eventKey: string,
  event: WebhookEvent,
  handled?: { status: 'ignored'; note: string },
  received?: ReceivedBody,
): Promise<{ id: number; created: boolean; status: string }> {
  const insertId = await insertIdOnce(() =>
    db.insert(webhookEvents).values(rowOf({ eventKey, event, handled, received })),
  );
  if (insertId !== null) {
    return { id: insertId, created: true, status: handled?.status ?? 'received' };
  }
  // A repeated callback: the first one's row.
  const [row] = await db
    .select({ id: webhookEvents.id, status: webhookEvents.status })
    .from(webhookEvents)
    .where(eq(webhookEvents.eventKey, eventKey));
  if (!row) {
    throw new Error(`webhook event ${eventKey} was not stored`);
  }
  return { id: row.id, created: false, status: row.status };
}

export async function findWebhookEvent(
  db: Db,
  id: number,
): Promise<{ row: WebhookEventRow; event: WebhookEvent } | null> {
  const [row] = await db.select().from(webhookEvents).where(eq(webhookEvents.id, id));
  return row ? { row, event: JSON.parse(row.payload) as WebhookEvent } : null;
}

export async function markWebhookEvent(
  db: DbOrTx,
  id: number,
  status: 'processed' | 'ignored' | 'failed',
  note: string | null,
): Promise<void> {
  await db
    .update(webhookEvents)
    .set({ status, note: note?.slice(0, 512) ?? null })
    .where(eq(webhookEvents.id, id));
}

/**
 * Events of `kinds` stored before `olderThan` and not yet handled (for the sweeper). Only the
 * kinds given are listed, so a row of another kind left `received` cannot fill every batch.
 */
export async function listReceivedWebhookEvents(
  db: Db,
  olderThan: Date,
  limit: number,
  kinds: readonly WebhookEvent['kind'][],
): Promise<{ id: number; kind: string }[]> {
  return db
    .select({ id: webhookEvents.id, kind: webhookEvents.kind })
    .from(webhookEvents)
    .where(
      and(
        eq(webhookEvents.status, 'received'),
        lt(webhookEvents.createdAt, olderThan),
        inArray(webhookEvents.kind, [...kinds]),
      ),
    )
    .limit(limit);
}

/**
 * Marks an event ignored and replaces its stored body with its kind and type only (the raw body
 * as received goes too): a message from a number we never wrote to must not be kept as personal
 * data.
 */
export async function scrubWebhookEvent(db: Db, id: number, note: string): Promise<void> {
  const [row] = await db
    .select({ kind: webhookEvents.kind })
    .from(webhookEvents)
    .where(eq(webhookEvents.id, id));
  await db
    .update(webhookEvents)
    .set({
      status: 'ignored',
      note,
      payload: JSON.stringify({ kind: row?.kind ?? 'unknown', scrubbed: true }),
      rawBody: null,
      bodySha256: null,
    })
    .where(eq(webhookEvents.id, id));
}

/**
 * Whether a delivery report received between `since` and `until` still waits to be processed
 * (its job queued, running or retrying): a send whose answer was lost must not be sent again
 * while its report may be among them.
 */
export async function reportsPendingBetween(db: Db, since: Date, until: Date): Promise<boolean> {
  const [row] = await db
    .select({ id: webhookEvents.id })
    .from(webhookEvents)
    .where(
      and(
        eq(webhookEvents.status, 'received'),
        gte(webhookEvents.createdAt, since),
        lte(webhookEvents.createdAt, until),
        eq(webhookEvents.kind, 'dlr'),
      ),
    )
    .limit(1);
  return row !== undefined;
}

/**
 * Deletes at most `limit` callbacks created before `cutoff` that are handled (processed, ignored
 * or failed; never one still `received`). Returns how many it deleted.
 */
export async function deleteHandledWebhookEventsBefore(
  db: Db,
  cutoff: Date,
  limit: number,
): Promise<number> {
  const [result] = await db
    .delete(webhookEvents)
    .where(
      and(
        inArray(webhookEvents.status, ['processed', 'ignored', 'failed']),
        lt(webhookEvents.createdAt, cutoff),
      ),
    )
    .limit(limit);
  return result.affectedRows;
}

/** The stored payload of each of these events that exists. */
export function findWebhookEventPayloads(
  db: Db,
  ids: readonly number[],
): Promise<{ id: number; payload: string }[]> {
  return db
    .select({ id: webhookEvents.id, payload: webhookEvents.payload })
    .from(webhookEvents)
    .where(inArray(webhookEvents.id, [...ids]));
}
