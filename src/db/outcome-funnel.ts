/**
 * The funnel's one read of `whatsapp_attempt_outcomes`: per group (reason, courier, template or
 * day of the failure), how many of the period's attempts reached each stage, and how the ones
 * not messaged ended. One GROUP BY over the rows of the period, found by the
 * `(account_id, failed_at)` index for one account and by `failed_at` for all; never a scan of the
 * whole table. The rates are worked out in src/outcomes/funnel.ts.
 */
import { and, gte, inArray, lt, sql, type SQL } from 'drizzle-orm';

import type { DbOrTx } from './client.ts';
import { whatsappAttemptOutcomes as o } from './schema.ts';

export const FUNNEL_GROUPS = ['reason', 'courier', 'template', 'day'] as const;
export type FunnelGroup = (typeof FUNNEL_GROUPS)[number];

/**
 * The skip codes of attempts that count as "not messaged" in the comparison: the customer was
 * reachable and the event readable, but the account (or that reason) had WhatsApp off, or the
 * number was suppressed. An attempt skipped for a bad phone number, an unknown reason or a
 * missing template is left out: its outcome says nothing about messaging.
 */
export const COMPARISON_CODES = ['whatsapp_disabled', 'opted_out', 'not_on_whatsapp'] as const;

/** Counts of one group; every field a whole number. */
export interface FunnelCounts {
  key: string | null;
  attempts: number;
  messaged: number;
  sent: number;
  delivered: number;
  read: number;
  replied: number;
  actioned: number;
  /** Messaged attempts whose next outcome is delivered. */
  rescued: number;
  failedAgain: number;
  failedAgainSameReason: number;
  rto: number;
  cancelled: number;
  open: number;
  notHonoured: number;
  /** Attempts not messaged for a COMPARISON_CODES reason, and how many of them were delivered. */
  notMessaged: number;
  notMessagedDelivered: number;
}

export interface FunnelQuery {
  /** One account, or every account (the admin's `all`). */
  accountId: number | 'all';
  from: Date;
  /** Exclusive. */
  to: Date;
  groupBy: FunnelGroup;
}

const count = (condition: SQL) =>
  sql<string>`coalesce(sum(case when ${condition} then 1 else 0 end), 0)`;
const messaged = sql`${o.messaged} = 1`;
const comparison = sql`${o.messaged} = 0 and ${inArray(o.notMessagedCode, [...COMPARISON_CODES])}`;

function groupExpression(groupBy: FunnelGroup): SQL<string | null> {
  switch (groupBy) {
    case 'reason':
      return sql<string | null>`${o.reason}`;
    case 'courier':
      return sql<string | null>`${o.courier}`;
    case 'template':
      return sql<string | null>`${o.templateId}`;
    case 'day':
      // The connection runs in UTC (src/db/client.ts): the day is the UTC date of the failure.
      return sql<string | null>`date_format(${o.failedAt}, '%Y-%m-%d')`;
  }
}

export async function readFunnelCounts(db: DbOrTx, query: FunnelQuery): Promise<FunnelCounts[]> {
  const key = groupExpression(query.groupBy);
  const period = and(gte(o.failedAt, query.from), lt(o.failedAt, query.to));
  const where =
    query.accountId === 'all' ? period : and(sql`${o.accountId} = ${query.accountId}`, period);
  const rows = await db
    .select({
      key,
      attempts: sql<string>`count(*)`,
      messaged: count(messaged),
      sent: count(sql`${messaged} and ${o.sentAt} is not null`),
      delivered: count(sql`${messaged} and ${o.deliveredAt} is not null`),
      read: count(sql`${messaged} and ${o.readAt} is not null`),
      replied: count(sql`${messaged} and ${o.repliedAt} is not null`),
      actioned: count(sql`${messaged} and ${o.action} is not null`),
      rescued: count(sql`${messaged} and ${o.outcome} = 'delivered'`),
      failedAgain: count(sql`${messaged} and ${o.outcome} = 'failed_again'`),
      failedAgainSameReason: count(
        sql`${messaged} and ${o.outcome} = 'failed_again' and ${o.nextReason} = ${o.reason}`,
      ),
      rto: count(sql`${messaged} and ${o.outcome} = 'rto'`),
      cancelled: count(sql`${messaged} and ${o.outcome} = 'cancelled'`),
      open: count(sql`${messaged} and ${o.outcome} = 'open'`),
      notHonoured: count(sql`${messaged} and ${o.notHonoured} is not null`),
      notMessaged: count(comparison),
      notMessagedDelivered: count(sql`${comparison} and ${o.outcome} = 'delivered'`),
    })
    .from(o)
    .where(where)
    .groupBy(key)
    .orderBy(key);
  return rows.map((row) => ({
    key: row.key,
    attempts: Number(row.attempts),
    messaged: Number(row.messaged),
    sent: Number(row.sent),
    delivered: Number(row.delivered),
    read: Number(row.read),
    replied: Number(row.replied),
    actioned: Number(row.actioned),
    rescued: Number(row.rescued),
    failedAgain: Number(row.failedAgain),
    failedAgainSameReason: Number(row.failedAgainSameReason),
    rto: Number(row.rto),
    cancelled: Number(row.cancelled),
    open: Number(row.open),
    notHonoured: Number(row.notHonoured),
    notMessaged: Number(row.notMessaged),
    notMessagedDelivered: Number(row.notMessagedDelivered),
  }));
}
