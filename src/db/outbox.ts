/** Queries on `notification_outbox`, one row per WhatsApp message the service must send. */
import { randomBytes } from 'node:crypto';

import { and, asc, desc, eq, gt, inArray, isNull, lt, notExists, or, sql } from 'drizzle-orm';

import { coerceError } from '../errors.ts';
import type { Db, DbOrTx } from './client.ts';
import { insertIdOnce, insertManyIds } from './insert-once.ts';
import { batchedFor, coalescedFor } from './coalesce.ts';
import { preparedFor } from './prepared.ts';
import { notificationOutbox, whatsappSuppressions } from './schema.ts';
import { valuesTable } from './values-table.ts';

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

/**
 * A batch's messages as one multi-row insert, which fails whole when one of their keys exists
 * (the caller then inserts them one by one), and one read of their ids by key, in order.
 */
export async function insertOutboxes(db: DbOrTx, messages: NewOutbox[]): Promise<number[]> {
  const keys = messages.map((m) => m.idempotencyKey);
  return insertManyIds(
    keys,
    () =>
      db
        .insert(notificationOutbox)
        .values(
          messages.map((m) => ({ ...m, correlationKey: newCorrelationKey(m.idempotencyKey) })),
        ),
    () =>
      db
        .select({ key: notificationOutbox.idempotencyKey, id: notificationOutbox.id })
        .from(notificationOutbox)
        .where(inArray(notificationOutbox.idempotencyKey, keys)),
    'outbox row',
  );
}

const outboxById = preparedFor((db) =>
  db
    .select()
    .from(notificationOutbox)
    .where(eq(notificationOutbox.id, sql.placeholder('id')))
    .prepare(),
);

/** The id of the message with this key while it is unfinished (pending or sending), else null. */
export async function findUnfinishedOutboxByKey(
  db: Db,
  idempotencyKey: string,
): Promise<number | null> {
  const [row] = await db
    .select({ id: notificationOutbox.id })
    .from(notificationOutbox)
    .where(
      and(
        eq(notificationOutbox.idempotencyKey, idempotencyKey),
        inArray(notificationOutbox.status, ['pending', 'sending']),
      ),
    );
  return row?.id ?? null;
}

/** Concurrent jobs' reads of their outbox rows, one query (src/db/coalesce.ts). */
const outboxRows = coalescedFor<number, OutboxRow>(async (db, ids) => {
  const rows =
    ids.length === 1
      ? await outboxById(db).execute({ id: ids[0]! })
      : await db
          .select()
          .from(notificationOutbox)
          .where(inArray(notificationOutbox.id, [...ids]));
  return new Map(rows.map((row) => [row.id, row]));
});

export function findOutbox(db: Db, id: number): Promise<OutboxRow | null> {
  return outboxRows(db, id);
}

/**
 * The claim of a message for one send attempt: only a pending or sending (a previous attempt
 * that did not finish) row can be claimed; a sent or failed row never is, so nothing is sent
 * twice once its outcome is known. Its change: the row `sending`, one attempt more, its error
 * code cleared (a row left `sending` with none is an attempt cut off mid-way).
 */
const claimChange = {
  status: 'sending',
  attempts: sql`${notificationOutbox.attempts} + 1`,
  errorCode: null,
  // Given with each run: the column's own on-update value would be computed once, when the
  // statement is prepared, and stamp every claim with that moment.
  updatedAt: sql`${sql.placeholder('claimedAt')}`,
} as const;
/** The row the claim takes: this one, while unfinished. */
const claimable = () =>
  and(
    eq(notificationOutbox.id, sql.placeholder('id')),
    inArray(notificationOutbox.status, ['pending', 'sending']),
  );

const claim = preparedFor((db) =>
  db.update(notificationOutbox).set(claimChange).where(claimable()).prepare(),
);

/**
 * The claim for a message to a customer who may be suppressed for its sender: it also asks that
 * no suppression of the pair (src/db/suppressions.ts) be in force, so the send's last look at the
 * opt-out list costs no statement of its own.
 */
const claimUnsuppressed = preparedFor((db) =>
  db
    .update(notificationOutbox)
    .set(claimChange)
    .where(
      and(
        claimable(),
        notExists(
          db
            .select({ one: sql`1` })
            .from(whatsappSuppressions)
            .where(
              and(
                eq(whatsappSuppressions.senderNumber, sql.placeholder('sender')),
                eq(whatsappSuppressions.customerNumber, sql.placeholder('customer')),
                or(
                  isNull(whatsappSuppressions.expiresAt),
                  gt(whatsappSuppressions.expiresAt, sql.placeholder('now')),
                ),
              ),
            ),
        ),
      ),
    )
    .prepare(),
);

/** The pair a claim must find unsuppressed: the sender's number, the customer's, and now. */
export interface UnlessSuppressed {
  senderNumber: string;
  customerNumber: string;
  now: Date;
}

/**
 * Takes the message for an attempt: true when it was unfinished (and, with `unless`, its pair
 * not suppressed). False says only that it was not taken; the caller asks why.
 *
 * The claims of concurrent sends in one process are made together: those asked for while the
 * event loop runs its current callbacks go at its next turn, and when there are enough of them,
 * as one statement in a transaction that is kept only if it took every row. Otherwise (a row
 * finished or suppressed meanwhile, the same row asked for twice, a deadlock) it is rolled back
 * and each claim is made alone, with its own answer.
 */
export function claimOutbox(
  db: Db,
  id: number,
  unless: UnlessSuppressed | null = null,
): Promise<boolean> {
  return claims(db, { id, unless });
}

interface ClaimAsk {
  id: number;
  unless: UnlessSuppressed | null;
}

/** Claims asked for in one turn: fewer than this go one by one (one statement each). */
const CLAIMS_TOGETHER_FROM = 4;

const claims = batchedFor<Db, ClaimAsk, boolean>(claimAll);

async function claimAll(db: Db, asks: readonly ClaimAsk[]): Promise<(boolean | Error)[]> {
  const distinct = new Set(asks.map((ask) => ask.id)).size === asks.length;
  if (asks.length >= CLAIMS_TOGETHER_FROM && distinct) {
    if (await claimTogether(db, asks).catch(() => false)) {
      return asks.map(() => true);
    }
  }
  return Promise.all(
    asks.map((ask) => claimAlone(db, ask.id, ask.unless).catch((err: unknown) => coerceError(err))),
  );
}

/** Thrown inside the claims' transaction to roll it back: not every row was taken. */
class NotEveryRow extends Error {}

/**
 * Every claim of `asks` in one UPDATE (each row's pair from a derived table), committed only
 * when it took every row: found rows (mysql2's count) equal to the claims.
 */
async function claimTogether(db: Db, asks: readonly ClaimAsk[]): Promise<boolean> {
  const claimedAt = new Date();
  const rows = valuesTable(
    ['id', 'sender', 'customer', 'now'],
    asks.map(({ id, unless }) => [
      id,
      unless?.senderNumber ?? null,
      unless?.customerNumber ?? null,
      unless?.now ?? null,
    ]),
  );
  try {
    await db.transaction(async (tx) => {
      const [result] = await tx.execute(sql`
        UPDATE notification_outbox o
        JOIN (${rows}) v ON v.id = o.id
        SET o.status = 'sending', o.attempts = o.attempts + 1, o.error_code = NULL,
          o.updated_at = ${claimedAt}
        WHERE o.status IN ('pending', 'sending')
          AND (v.sender IS NULL OR NOT EXISTS (
            SELECT 1 FROM whatsapp_suppressions s
            WHERE s.sender_number = v.sender AND s.customer_number = v.customer
              AND (s.expires_at IS NULL OR s.expires_at > CAST(v.now AS DATETIME(3)))))`);
      if (result.affectedRows !== asks.length) {
        throw new NotEveryRow();
      }
    });
    return true;
  } catch (err) {
    if (err instanceof NotEveryRow) {
      return false;
    }
    throw err;
  }
}

/** One claim, one prepared statement. */
async function claimAlone(db: Db, id: number, unless: UnlessSuppressed | null): Promise<boolean> {
  const claimedAt = new Date();
  const [result] = unless
    ? await claimUnsuppressed(db).execute({
        id,
        claimedAt,
        sender: unless.senderNumber,
        customer: unless.customerNumber,
        now: unless.now,
      })
    : await claim(db).execute({ id, claimedAt });
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
 * The status log a sent message links to: its message id's newest (the one the send just wrote
 * in the same transaction), read inside the mark's own statement.
 */
const newestLogOf = (gupshupMessageId: string) =>
  sql`(SELECT MAX(s.id) FROM whatsapp_status_logs s WHERE s.message_id = ${gupshupMessageId})`;

/**
 * Marks the message sent unless it is already finished (sent or failed): the row's state is the
 * lock, no SELECT … FOR UPDATE first. Inside a transaction the row stays locked until it ends.
 * The status log of its message id must be written first. Returns whether this call finished it.
 */
export async function markOutboxSent(
  db: DbOrTx,
  id: number,
  gupshupMessageId: string,
  sentAt: Date,
): Promise<boolean> {
  const [result] = await db
    .update(notificationOutbox)
    .set({
      status: 'sent',
      gupshupMessageId,
      statusLogId: newestLogOf(gupshupMessageId),
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
 * `markOutboxSent` for an FDR message, whose attempt outcome (src/db/outcomes.ts) reaches `sent`
 * at its first acceptance: both rows in one statement, the outcome's joined by its key (shipment
 * and outbox id) and only while its `sent_at` is unset. The rows matched (mysql2 counts found
 * rows) tell what changed: none, the message row alone, or the outcome's too.
 */
export async function markFdrMessageSent(
  db: DbOrTx,
  outbox: { id: number; shipmentId: string },
  gupshupMessageId: string,
  sentAt: Date,
): Promise<{ finished: boolean; outcomeSent: boolean }> {
  const now = new Date();
  const [result] = await db.execute(sql`
    UPDATE notification_outbox o
    LEFT JOIN whatsapp_attempt_outcomes a
      ON a.shipment_id = o.shipment_id AND a.outbox_id = o.id AND a.sent_at IS NULL
    SET o.status = 'sent', o.gupshup_message_id = ${gupshupMessageId},
      o.status_log_id = ${newestLogOf(gupshupMessageId)}, o.sent_at = ${sentAt}, o.error_code = NULL,
      o.last_error = NULL, o.updated_at = ${now}, a.sent_at = ${sentAt}, a.updated_at = ${now}
    WHERE o.id = ${outbox.id} AND o.shipment_id = ${outbox.shipmentId}
      AND o.status IN ('pending', 'sending')`);
  return { finished: result.affectedRows >= 1, outcomeSent: result.affectedRows >= 2 };
}

/** One FDR message of a batch accepted by Gupshup (`markFdrMessagesSent`). */
export interface FdrMessageMark {
  outbox: { id: number; shipmentId: string };
  gupshupMessageId: string;
  sentAt: Date;
}

/**
 * `markFdrMessageSent` for a batch of messages in one statement, each row its own values (a
 * derived table joined by id and shipment). True only in the plain case: every message was
 * unfinished and every one had an outcome row not yet sent (rows matched: twice the messages).
 * Anything else (a message finished meanwhile, an outcome already sent by an earlier attempt, a
 * message without an outcome row) is false, and the caller rolls back and marks the messages one
 * by one, where each gets its own answer.
 */
export async function markFdrMessagesSent(
  db: DbOrTx,
  marks: readonly FdrMessageMark[],
): Promise<boolean> {
  if (marks.length === 0) {
    return true;
  }
  const now = new Date();
  const rows = valuesTable(
    ['id', 'shipment_id', 'message_id', 'sent_at'],
    marks.map((m) => [m.outbox.id, m.outbox.shipmentId, m.gupshupMessageId, m.sentAt]),
  );
  const [result] = await db.execute(sql`
    UPDATE notification_outbox o
    JOIN (${rows}) v ON v.id = o.id AND v.shipment_id = o.shipment_id
    LEFT JOIN whatsapp_attempt_outcomes a
      ON a.shipment_id = o.shipment_id AND a.outbox_id = o.id AND a.sent_at IS NULL
    SET o.status = 'sent', o.gupshup_message_id = v.message_id,
      o.status_log_id = (SELECT MAX(s.id) FROM whatsapp_status_logs s WHERE s.message_id = v.message_id),
      o.sent_at = v.sent_at, o.error_code = NULL, o.last_error = NULL, o.updated_at = ${now},
      a.sent_at = v.sent_at, a.updated_at = ${now}
    WHERE o.status IN ('pending', 'sending')`);
  return result.affectedRows === 2 * marks.length;
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
 *
 * Most such reports are for messages that are not ours at all (another system sending on the
 * same Gupshup account): a plain read finds no candidate and answers without a transaction;
 * only a candidate is read again under its row lock, and the rule checked again there.
 */
export async function noteAcceptedSendByNumber(
  db: Db,
  destAddr: string,
  gupshupMessageId: string,
  reportedAt: number | null,
  staleBefore: Date,
): Promise<number | null> {
  if (soleLostAttempt(await unfinishedSendsTo(db, destAddr), reportedAt, staleBefore) === null) {
    return null;
  }
  return db.transaction(async (tx) => {
    const row = soleLostAttempt(
      await unfinishedSendsTo(tx, destAddr).for('update'),
      reportedAt,
      staleBefore,
    );
    if (row === null) {
      return null;
    }
    await tx
      .update(notificationOutbox)
      .set({ gupshupMessageId })
      .where(eq(notificationOutbox.id, row.id));
    return row.id;
  });
}

function unfinishedSendsTo(db: DbOrTx, destAddr: string) {
  return db
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
    );
}

/** `noteAcceptedSendByNumber`'s rule: the one unfinished send whose lost attempt this is. */
function soleLostAttempt<
  R extends {
    status: string;
    attempts: number;
    errorCode: string | null;
    gupshupMessageId: string | null;
    updatedAt: Date;
  },
>(rows: R[], reportedAt: number | null, staleBefore: Date): R | null {
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
  return row;
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

/** The status row of the message whose correlation key is exactly `correlationKey`, or null. */
export async function findStatusLogIdByCorrelationKey(
  db: Db,
  correlationKey: string,
): Promise<number | null> {
  const [row] = await db
    .select({ statusLogId: notificationOutbox.statusLogId })
    .from(notificationOutbox)
    .where(eq(notificationOutbox.correlationKey, correlationKey));
  return row?.statusLogId ?? null;
}

/**
 * When the last attempt of the newest unfinished (`sending`) message began: the one with this
 * correlation key, else to this number, else any; null when none is sending.
 */
export async function lastSendingAttemptAt(
  db: Db,
  match: { correlationKey: string } | { toNumber: string } | null,
): Promise<Date | null> {
  const which =
    match === null
      ? undefined
      : 'correlationKey' in match
        ? eq(notificationOutbox.correlationKey, match.correlationKey)
        : eq(notificationOutbox.toNumber, match.toNumber);
  const [row] = await db
    .select({ updatedAt: notificationOutbox.updatedAt })
    .from(notificationOutbox)
    .where(and(eq(notificationOutbox.status, 'sending'), which))
    .orderBy(desc(notificationOutbox.updatedAt))
    .limit(1);
  return row?.updatedAt ?? null;
}

/** Is any message being sent (`sending`), to this number when one is given? */
export async function anySendInFlight(db: Db, toNumber: string | null): Promise<boolean> {
  const [row] = await db
    .select({ id: notificationOutbox.id })
    .from(notificationOutbox)
    .where(
      and(
        eq(notificationOutbox.status, 'sending'),
        toNumber === null ? undefined : eq(notificationOutbox.toNumber, toNumber),
      ),
    )
    .limit(1);
  return row !== undefined;
}

/** The message sent with this Gupshup id and recorded under this status row, or null. */
export async function findOutboxBySend(
  db: Db,
  statusLogId: number,
  gupshupMessageId: string,
): Promise<OutboxRow | null> {
  // By the indexed Gupshup id, then pinned to this row (the same id cannot name two sends, but
  // nothing in the schema promises it).
  const [row] = await db
    .select()
    .from(notificationOutbox)
    .where(
      and(
        eq(notificationOutbox.gupshupMessageId, gupshupMessageId),
        eq(notificationOutbox.statusLogId, statusLogId),
      ),
    );
  return row ?? null;
}

/**
 * Moves a message held by quiet hours to `until`, only while no attempt has touched it: a
 * `sending` row's updated_at is its last attempt's time, which the reconcile wait reads.
 */
export async function deferUntouchedOutbox(db: Db, id: number, until: Date): Promise<void> {
  await db
    .update(notificationOutbox)
    .set({ updatedAt: until })
    .where(
      and(
        eq(notificationOutbox.id, id),
        eq(notificationOutbox.status, 'pending'),
        eq(notificationOutbox.attempts, 0),
      ),
    );
}

/** Puts a failed message back to pending, so the worker may claim it once more. */
export async function reopenFailedOutbox(db: Db, id: number): Promise<void> {
  await db
    .update(notificationOutbox)
    .set({ status: 'pending' })
    .where(and(eq(notificationOutbox.id, id), eq(notificationOutbox.status, 'failed')));
}

/** The account of the shipment's newest message, or null when it has none. */
export async function latestOutboxAccount(db: Db, shipmentId: string): Promise<number | null> {
  const [latest] = await db
    .select({ accountId: notificationOutbox.accountId })
    .from(notificationOutbox)
    .where(eq(notificationOutbox.shipmentId, shipmentId))
    .orderBy(desc(notificationOutbox.id))
    .limit(1);
  return latest?.accountId ?? null;
}

/** Every message of the shipment, oldest first. */
export function listShipmentOutbox(db: Db, shipmentId: string): Promise<OutboxRow[]> {
  return db
    .select()
    .from(notificationOutbox)
    .where(eq(notificationOutbox.shipmentId, shipmentId))
    .orderBy(asc(notificationOutbox.id));
}

/** The shipment of each of these rows that exists. */
export function outboxShipments(
  db: Db,
  ids: readonly number[],
): Promise<{ id: number; shipmentId: string }[]> {
  return db
    .select({ id: notificationOutbox.id, shipmentId: notificationOutbox.shipmentId })
    .from(notificationOutbox)
    .where(inArray(notificationOutbox.id, [...ids]));
}

/** The shipment of each of these exact correlation keys that a message holds. */
export async function shipmentsByCorrelationKey(
  db: Db,
  keys: readonly string[],
): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  if (keys.length === 0) {
    return out;
  }
  const rows = await db
    .select({ key: notificationOutbox.correlationKey, shipmentId: notificationOutbox.shipmentId })
    .from(notificationOutbox)
    .where(inArray(notificationOutbox.correlationKey, [...keys]));
  for (const row of rows) {
    if (row.key !== null) {
      out.set(row.key, row.shipmentId);
    }
  }
  return out;
}
