/**
 * The outcomes funnel: what became of the failed-delivery attempts of a period, per group, with
 * the rates between the stages and the rescue rate beside that of the attempts not messaged.
 *
 * Stages, each counted among the attempts messaged: `sent` (Gupshup accepted the message),
 * `delivered` and `read` (its delivery reports), `replied` (the customer answered), `actioned`
 * (the answer became an action on the order). Rates, each to four decimal places and null when
 * nothing was there to divide by:
 * - `sent` ÷ messaged, `delivered` ÷ sent, `read` ÷ delivered, `replied` ÷ delivered (a customer
 *   with read receipts off replies without a read report), `actioned` ÷ replied;
 * - `rescueRate`: attempts whose next outcome is delivered ÷ attempts messaged;
 * - `notMessaged.rescueRate`: the same for the period's attempts not messaged because WhatsApp
 *   was off for the account or the reason, or the number was suppressed (COMPARISON_CODES);
 * - `lift`: the difference of the two, in rate points.
 */
import {
  readFunnelCounts,
  type FunnelCounts,
  type FunnelGroup,
  type FunnelQuery,
} from '../db/outcome-funnel.ts';
import type { DbOrTx } from '../db/client.ts';

export type { FunnelGroup, FunnelQuery };
export { FUNNEL_GROUPS } from '../db/outcome-funnel.ts';

export type Counts = Omit<FunnelCounts, 'key'>;

export interface Rates {
  sent: number | null;
  delivered: number | null;
  read: number | null;
  replied: number | null;
  actioned: number | null;
  rescueRate: number | null;
}

export interface FunnelRow {
  /** The reason code, courier name, template id or `YYYY-MM-DD`; null when unknown. */
  key: string | null;
  counts: Counts;
  rates: Rates;
  notMessaged: { attempts: number; delivered: number; rescueRate: number | null };
  /** rescueRate − notMessaged.rescueRate, null unless both are known. */
  lift: number | null;
}

export interface Funnel {
  accountId: number | 'all';
  from: string;
  to: string;
  groupBy: FunnelGroup;
  total: FunnelRow;
  groups: FunnelRow[];
}

/** `part ÷ whole` to four decimal places; null when `whole` is 0. */
export function rate(part: number, whole: number): number | null {
  return whole === 0 ? null : Math.round((part / whole) * 10_000) / 10_000;
}

const ZERO: Counts = {
  attempts: 0,
  messaged: 0,
  sent: 0,
  delivered: 0,
  read: 0,
  replied: 0,
  actioned: 0,
  rescued: 0,
  failedAgain: 0,
  failedAgainSameReason: 0,
  rto: 0,
  cancelled: 0,
  open: 0,
  notHonoured: 0,
  notMessaged: 0,
  notMessagedDelivered: 0,
};

export function funnelRow(key: string | null, counts: Counts): FunnelRow {
  const rescueRate = rate(counts.rescued, counts.messaged);
  const notMessagedRate = rate(counts.notMessagedDelivered, counts.notMessaged);
  return {
    key,
    counts,
    rates: {
      sent: rate(counts.sent, counts.messaged),
      delivered: rate(counts.delivered, counts.sent),
      read: rate(counts.read, counts.delivered),
      replied: rate(counts.replied, counts.delivered),
      actioned: rate(counts.actioned, counts.replied),
      rescueRate,
    },
    notMessaged: {
      attempts: counts.notMessaged,
      delivered: counts.notMessagedDelivered,
      rescueRate: notMessagedRate,
    },
    lift:
      rescueRate === null || notMessagedRate === null
        ? null
        : Math.round((rescueRate - notMessagedRate) * 10_000) / 10_000,
  };
}

function add(a: Counts, b: Counts): Counts {
  const sum = { ...a };
  for (const name of Object.keys(sum) as (keyof Counts)[]) {
    sum[name] = a[name] + b[name];
  }
  return sum;
}

/** The period's funnel: every group, and their total (each attempt is in exactly one group). */
export async function readFunnel(db: DbOrTx, query: FunnelQuery): Promise<Funnel> {
  const rows = await readFunnelCounts(db, query);
  const groups = rows.map(({ key, ...counts }) => funnelRow(key, counts));
  const total = rows.reduce<Counts>((sum, { key: _key, ...counts }) => add(sum, counts), ZERO);
  return {
    accountId: query.accountId,
    from: query.from.toISOString(),
    to: query.to.toISOString(),
    groupBy: query.groupBy,
    total: funnelRow(null, total),
    groups,
  };
}
