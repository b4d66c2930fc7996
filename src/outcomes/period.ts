/**
 * The period and grouping of a funnel request (`GET /v1/accounts/:accountId/whatsapp-outcomes`):
 * `from` and `to` as ISO dates (`2026-11-01`, a whole UTC day) or date-times with an offset or
 * `Z`; `to` is exclusive, and a bare date `to` means the end of that day. Without them, the last
 * 30 days up to now. At most MAX_SPAN_DAYS long. Days are UTC days, as the funnel's `day` groups
 * are (src/db/outcome-funnel.ts).
 */
import { FUNNEL_GROUPS, type FunnelGroup } from './funnel.ts';

const DAY_MS = 86_400_000;
export const DEFAULT_SPAN_DAYS = 30;
export const MAX_SPAN_DAYS = 366;

const BARE_DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
const DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:\d{2})$/i;

export interface FunnelPeriod {
  from: Date;
  to: Date;
  groupBy: FunnelGroup;
}

export type PeriodResult = { ok: true; period: FunnelPeriod } | { ok: false; reason: string };

/** A bare date's midnight (UTC), or a date-time's instant; null when it is neither. */
function readInstant(text: string): { at: Date; bareDate: boolean } | null {
  const bare = BARE_DATE.exec(text);
  if (bare) {
    const at = new Date(Date.UTC(Number(bare[1]), Number(bare[2]) - 1, Number(bare[3])));
    return at.toISOString().startsWith(text) ? { at, bareDate: true } : null;
  }
  if (!DATE_TIME.test(text)) {
    return null;
  }
  const ms = Date.parse(text);
  return Number.isNaN(ms) ? null : { at: new Date(ms), bareDate: false };
}

export function parseFunnelPeriod(
  query: { from?: string | undefined; to?: string | undefined; groupBy?: string | undefined },
  now: Date,
): PeriodResult {
  const groupBy = query.groupBy ?? 'reason';
  if (!(FUNNEL_GROUPS as readonly string[]).includes(groupBy)) {
    return { ok: false, reason: `groupBy: must be one of ${FUNNEL_GROUPS.join(', ')}` };
  }
  let to = now;
  if (query.to !== undefined) {
    const read = readInstant(query.to);
    if (!read) {
      return { ok: false, reason: 'to: must be an ISO date (YYYY-MM-DD) or date-time with offset' };
    }
    to = read.bareDate ? new Date(read.at.getTime() + DAY_MS) : read.at;
  }
  let from = new Date(to.getTime() - DEFAULT_SPAN_DAYS * DAY_MS);
  if (query.from !== undefined) {
    const read = readInstant(query.from);
    if (!read) {
      return {
        ok: false,
        reason: 'from: must be an ISO date (YYYY-MM-DD) or date-time with offset',
      };
    }
    from = read.at;
  }
  if (from >= to) {
    return { ok: false, reason: 'from: must be before to' };
  }
  if (to.getTime() - from.getTime() > MAX_SPAN_DAYS * DAY_MS) {
    return { ok: false, reason: `the period must be at most ${MAX_SPAN_DAYS} days` };
  }
  return { ok: true, period: { from, to, groupBy: groupBy as FunnelGroup } };
}
