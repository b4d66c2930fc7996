/**
 * The suppression list (`whatsapp_suppressions`): numbers one of our sender numbers must not
 * message, because the customer opted out or because the number cannot receive WhatsApp
 * messages (for a while). Keyed by (sender number, customer number, reason); both numbers are
 * digits with the country code. An entry with `expires_at` in the past no longer counts.
 */
import { and, count, desc, eq, gt, isNull, lte, or, sql, type SQL } from 'drizzle-orm';

import type { Db, DbOrTx } from './client.ts';
import { coalescedFor } from './coalesce.ts';
import { preparedFor } from './prepared.ts';
import { whatsappSuppressions } from './schema.ts';

export const SUPPRESSION_REASONS = ['opted_out', 'not_on_whatsapp'] as const;
export type SuppressionReason = (typeof SUPPRESSION_REASONS)[number];

export const SUPPRESSION_SOURCES = [
  'keyword',
  'user_event',
  'send_error',
  'report',
  'api',
  'cli',
] as const;
export type SuppressionSource = (typeof SUPPRESSION_SOURCES)[number];

export type SuppressionRow = typeof whatsappSuppressions.$inferSelect;

export interface SuppressionInput {
  senderNumber: string;
  customerNumber: string;
  reason: SuppressionReason;
  source: SuppressionSource;
  accountId?: number | null;
  /** Null or absent: until lifted. */
  expiresAt?: Date | null;
  /**
   * When the customer said it (the service's receipt of their message or event); absent: now.
   * Kept as `updated_at`, which a later message lifting it is compared with; a renewal never
   * moves it back.
   */
  at?: Date;
}

function inForce(now: Date): SQL | undefined {
  return or(isNull(whatsappSuppressions.expiresAt), gt(whatsappSuppressions.expiresAt, now));
}

/** Adds (or renews) a suppression; true when it was not in force before. */
export async function suppress(
  db: DbOrTx,
  input: SuppressionInput,
  now = new Date(),
): Promise<boolean> {
  const before = await findSuppression(
    db,
    input.senderNumber,
    input.customerNumber,
    now,
    input.reason,
  );
  const values = {
    senderNumber: input.senderNumber,
    customerNumber: input.customerNumber,
    reason: input.reason,
    source: input.source,
    accountId: input.accountId ?? null,
    expiresAt: input.expiresAt ?? null,
    updatedAt: input.at ?? now,
  };
  const column = whatsappSuppressions.updatedAt;
  await db
    .insert(whatsappSuppressions)
    .values(values)
    .onDuplicateKeyUpdate({
      set: {
        source: values.source,
        accountId: values.accountId,
        expiresAt: values.expiresAt,
        updatedAt: sql`GREATEST(${column}, ${column.mapToDriverValue(values.updatedAt)})`,
      },
    });
  return before === null;
}

/**
 * Lifts a suppression (`reason` given) or every one of the pair; returns how many rows went.
 */
export async function liftSuppression(
  db: DbOrTx,
  senderNumber: string,
  customerNumber: string,
  reason?: SuppressionReason,
): Promise<number> {
  const [result] = await db
    .delete(whatsappSuppressions)
    .where(
      and(
        eq(whatsappSuppressions.senderNumber, senderNumber),
        eq(whatsappSuppressions.customerNumber, customerNumber),
        reason ? eq(whatsappSuppressions.reason, reason) : undefined,
      ),
    );
  return result.affectedRows;
}

/**
 * Lifts the pair's `reason` suppression if it was last set at or before `at`; returns whether it
 * went. A message the customer sent before opting out (a retry, a replay, one overtaken in the
 * queues) cannot undo the opt-out.
 */
export async function liftSuppressionSetBefore(
  db: DbOrTx,
  senderNumber: string,
  customerNumber: string,
  reason: SuppressionReason,
  at: Date,
): Promise<boolean> {
  const [result] = await db
    .delete(whatsappSuppressions)
    .where(
      and(
        eq(whatsappSuppressions.senderNumber, senderNumber),
        eq(whatsappSuppressions.customerNumber, customerNumber),
        eq(whatsappSuppressions.reason, reason),
        lte(whatsappSuppressions.updatedAt, at),
      ),
    );
  return result.affectedRows > 0;
}

/**
 * Lifts an account's suppressions of a customer number (of any sender number; `reason` given:
 * only that one); returns how many rows went. Rows another account set are left alone; with
 * `accountId` null (an operator's CLI), every suppression of the number goes.
 */
export async function liftAccountSuppressions(
  db: DbOrTx,
  accountId: number | null,
  customerNumber: string,
  reason?: SuppressionReason,
): Promise<number> {
  const [result] = await db
    .delete(whatsappSuppressions)
    .where(
      and(
        accountId === null ? undefined : eq(whatsappSuppressions.accountId, accountId),
        eq(whatsappSuppressions.customerNumber, customerNumber),
        reason ? eq(whatsappSuppressions.reason, reason) : undefined,
      ),
    );
  return result.affectedRows;
}

/** The suppression in force for the pair (opted out first), or null. */
export async function findSuppression(
  db: DbOrTx,
  senderNumber: string,
  customerNumber: string,
  now = new Date(),
  reason?: SuppressionReason,
): Promise<SuppressionRow | null> {
  const rows = reason
    ? await db
        .select()
        .from(whatsappSuppressions)
        .where(
          and(
            eq(whatsappSuppressions.senderNumber, senderNumber),
            eq(whatsappSuppressions.customerNumber, customerNumber),
            eq(whatsappSuppressions.reason, reason),
            inForce(now),
          ),
        )
    : await pairsInForce(db, { senderNumber, customerNumber, now });
  return firstInForce(rows ?? [], now);
}

/** The opt-out first, else any other reason, among a pair's rows in force at `now`. */
function firstInForce(rows: SuppressionRow[], now: Date): SuppressionRow | null {
  const live = rows.filter((r) => r.expiresAt === null || r.expiresAt > now);
  return live.find((r) => r.reason === 'opted_out') ?? live[0] ?? null;
}

interface PairAt {
  senderNumber: string;
  customerNumber: string;
  now: Date;
}

/**
 * Concurrent jobs' looks at the list, one query (src/db/coalesce.ts): the rows of every pair
 * asked for that are in force at the earliest of their moments, each caller then keeping those
 * in force at its own.
 */
const pairsInForce = coalescedFor<PairAt, SuppressionRow[]>(async (db, asks) => {
  if (asks.length === 1) {
    const ask = asks[0]!;
    const { senderNumber, customerNumber, now } = ask;
    return new Map([[ask, await pairInForce(db).execute({ senderNumber, customerNumber, now })]]);
  }
  const earliest = new Date(Math.min(...asks.map((a) => a.now.getTime())));
  const rows = await db
    .select()
    .from(whatsappSuppressions)
    .where(
      and(
        or(
          ...asks.map((a) =>
            and(
              eq(whatsappSuppressions.senderNumber, a.senderNumber),
              eq(whatsappSuppressions.customerNumber, a.customerNumber),
            ),
          ),
        ),
        inForce(earliest),
      ),
    );
  return new Map(
    asks.map((a) => [
      a,
      rows.filter(
        (r) => r.senderNumber === a.senderNumber && r.customerNumber === a.customerNumber,
      ),
    ]),
  );
});

/** Checked before every send: prepared once. */
const pairInForce = preparedFor((db) =>
  db
    .select()
    .from(whatsappSuppressions)
    .where(
      and(
        eq(whatsappSuppressions.senderNumber, sql.placeholder('senderNumber')),
        eq(whatsappSuppressions.customerNumber, sql.placeholder('customerNumber')),
        or(
          isNull(whatsappSuppressions.expiresAt),
          gt(whatsappSuppressions.expiresAt, sql.placeholder('now')),
        ),
      ),
    )
    .prepare(),
);

export interface SuppressionFilter {
  accountId?: number;
  senderNumber?: string;
  customerNumber?: string;
  reason?: SuppressionReason;
}

function where(filter: SuppressionFilter, now: Date): SQL | undefined {
  return and(
    filter.accountId !== undefined
      ? eq(whatsappSuppressions.accountId, filter.accountId)
      : undefined,
    filter.senderNumber ? eq(whatsappSuppressions.senderNumber, filter.senderNumber) : undefined,
    filter.customerNumber
      ? eq(whatsappSuppressions.customerNumber, filter.customerNumber)
      : undefined,
    filter.reason ? eq(whatsappSuppressions.reason, filter.reason) : undefined,
    inForce(now),
  );
}

/** Suppressions in force, newest first. */
export async function listSuppressions(
  db: Db,
  filter: SuppressionFilter,
  limit = 100,
  now = new Date(),
): Promise<SuppressionRow[]> {
  return db
    .select()
    .from(whatsappSuppressions)
    .where(where(filter, now))
    .orderBy(desc(whatsappSuppressions.id))
    .limit(limit);
}

export async function countSuppressions(
  db: Db,
  filter: SuppressionFilter,
  now = new Date(),
): Promise<number> {
  const [row] = await db
    .select({ n: count() })
    .from(whatsappSuppressions)
    .where(where(filter, now));
  return row?.n ?? 0;
}
