/**
 * The outcomes page's period: a `from` and a `to` calendar date (`YYYY-MM-DD`, UTC, both
 * included), as its GET form sends them, turned into the funnel's `[from, to)` instants. Without
 * them the period is the last 30 days up to today; a date left empty takes its default. Anything
 * else (a date that does not exist, `from` after `to`, a period longer than MAX_RANGE_DAYS) is
 * refused with the problems in words, for the page to show beside its form.
 */

/** The longest period the page reads at once: one GROUP BY over at most a year of attempts. */
export const MAX_RANGE_DAYS = 366;
/** The default period, in days, today included. */
export const DEFAULT_RANGE_DAYS = 30;

const DAY_MS = 24 * 60 * 60 * 1000;
const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;

export interface DateRange {
  /** The first day, `YYYY-MM-DD`. */
  from: string;
  /** The last day, `YYYY-MM-DD` (included). */
  to: string;
  /** Midnight UTC starting `from`. */
  start: Date;
  /** Midnight UTC after `to` (exclusive, as the funnel reads it). */
  end: Date;
}

export type DateRangeResult =
  | { ok: true; range: DateRange }
  /** What was given (or its default) for the form to show again, and what is wrong with it. */
  | { ok: false; from: string; to: string; problems: string[] };

/** `YYYY-MM-DD` of an instant, in UTC. */
export function dayOf(at: Date): string {
  return at.toISOString().slice(0, 10);
}

/** Midnight UTC of a `YYYY-MM-DD` that names a real day, else null (`2026-02-30`, `2026-13-01`). */
export function parseDay(text: string): Date | null {
  const match = DATE.exec(text);
  if (!match) {
    return null;
  }
  const at = new Date(Date.UTC(Number(match[1]), Number(match[2]) - 1, Number(match[3])));
  return dayOf(at) === text ? at : null;
}

/** The one value of a query parameter, '' when absent or empty, null when repeated or not text. */
function single(raw: unknown): string | null {
  if (raw === undefined) {
    return '';
  }
  return typeof raw === 'string' ? raw.trim() : null;
}

/**
 * The period a query asks for (`from`, `to`), judged against `today`. Each problem names the
 * field as the form labels it.
 */
export function parseDateRange(
  query: { from?: unknown; to?: unknown },
  today: Date,
): DateRangeResult {
  const todayStart = parseDay(dayOf(today))!;
  const givenFrom = single(query.from);
  const givenTo = single(query.to);
  const problems: string[] = [];

  const readDay = (label: string, given: string | null, fallback: Date): Date | null => {
    if (given === null) {
      problems.push(`${label}: give one date`);
      return null;
    }
    if (given === '') {
      return fallback;
    }
    const day = parseDay(given);
    if (!day) {
      problems.push(`${label}: "${given}" is not a date (YYYY-MM-DD)`);
    }
    return day;
  };

  const end = readDay('To', givenTo, todayStart);
  const defaultStart = new Date((end ?? todayStart).getTime() - (DEFAULT_RANGE_DAYS - 1) * DAY_MS);
  const start = readDay('From', givenFrom, defaultStart);
  if (start && end) {
    if (start > end) {
      problems.push('From must not be after To');
    } else if ((end.getTime() - start.getTime()) / DAY_MS + 1 > MAX_RANGE_DAYS) {
      problems.push(`The period can be at most ${MAX_RANGE_DAYS} days`);
    }
  }
  if (!start || !end || problems.length > 0) {
    return {
      ok: false,
      from: start ? dayOf(start) : (givenFrom ?? ''),
      to: end ? dayOf(end) : (givenTo ?? ''),
      problems,
    };
  }
  return {
    ok: true,
    range: {
      from: dayOf(start),
      to: dayOf(end),
      start,
      end: new Date(end.getTime() + DAY_MS),
    },
  };
}
