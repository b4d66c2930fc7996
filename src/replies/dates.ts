/**
 * Delivery-date choices for the "Select new delivery date" reply: which dates to offer the
 * customer, how each is titled in the message, and whether a date the customer picked (or typed)
 * is still one the courier accepts.
 *
 * Used by the `reply.route` worker when it offers dates and when it turns the chosen one into a
 * WMS `ndrNotification` RESCHEDULE, and by src/replies/intent.ts to build YYYY-MM-DD strings.
 *
 * Every date here is a calendar day, written `YYYY-MM-DD`, and all arithmetic happens on UTC
 * days: local-time math would shift a date by one around midnight on a server outside IST.
 */

/** Couriers accept a rescheduled delivery at most six days ahead; a larger horizon is clamped. */
export const COURIER_MAX_DAYS_AHEAD = 6;

/** English month names, as the seed's interactive titles spell them ("10 June 2023"). */
export const MONTH_NAMES = [
  'January',
  'February',
  'March',
  'April',
  'May',
  'June',
  'July',
  'August',
  'September',
  'October',
  'November',
  'December',
] as const;

const DAY_MS = 86_400_000;
const ISO_DATE = /^(\d{4})-(\d{2})-(\d{2})$/;

/** A string that is not a real `YYYY-MM-DD` calendar date reached a function that needs one. */
export class InvalidDateError extends Error {
  readonly code = 'ERR_INVALID_DATE';
  constructor(date: string) {
    super(`not a YYYY-MM-DD calendar date: "${date.slice(0, 40)}"`);
    this.name = 'InvalidDateError';
  }
}

/**
 * The dates to offer, oldest first: from the day after `from` (UTC) up to `horizonDays` later
 * (never past the courier limit), without Sundays when `skipSundays` is set (many couriers do not
 * deliver then), and at most `count` of them.
 */
export function nextDeliveryDates(
  from: Date,
  opts: { count: number; horizonDays: number; skipSundays: boolean },
): string[] {
  const start = startOfUtcDay(from);
  const horizon = clampHorizon(opts.horizonDays);
  const dates: string[] = [];
  for (let offset = 1; offset <= horizon && dates.length < opts.count; offset += 1) {
    const day = new Date(start + offset * DAY_MS);
    if (opts.skipSundays && day.getUTCDay() === 0) {
      continue;
    }
    dates.push(formatIsoDate(day));
  }
  return dates;
}

/** `2023-06-10` → `10 June 2023`, the title format of the seed's interactive date replies. */
export function formatDateChoice(date: string): string {
  const day = parseIsoDate(date);
  if (day === null) {
    throw new InvalidDateError(date);
  }
  return `${day.getUTCDate()} ${MONTH_NAMES[day.getUTCMonth()] ?? ''} ${day.getUTCFullYear()}`;
}

const WEEKDAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'] as const;

/**
 * `2023-06-14` → `Wed, 14 June 2023`: the title of a date row in the list message (at most 22
 * characters, inside WhatsApp's 24 for a row title).
 */
export function formatDateRow(date: string): string {
  const day = parseIsoDate(date);
  if (day === null) {
    throw new InvalidDateError(date);
  }
  return `${WEEKDAYS[day.getUTCDay()] ?? ''}, ${formatDateChoice(date)}`;
}

/**
 * True when `date` is strictly after `from`'s UTC day and at most `horizonDays` (capped at the
 * courier limit) later. A malformed date is never within the horizon.
 */
export function isWithinHorizon(date: string, from: Date, horizonDays: number): boolean {
  const day = parseIsoDate(date);
  if (day === null) {
    return false;
  }
  const offset = Math.round((day.getTime() - startOfUtcDay(from)) / DAY_MS);
  return offset >= 1 && offset <= clampHorizon(horizonDays);
}

/**
 * Builds `YYYY-MM-DD` from calendar parts (month 1–12), or null when the day does not exist
 * (31 April, 29 February outside a leap year): `Date.UTC` would silently roll those over.
 */
export function toIsoDate(year: number, month: number, day: number): string | null {
  if (!Number.isInteger(year) || !Number.isInteger(month) || !Number.isInteger(day)) {
    return null;
  }
  if (year < 1000 || year > 9999) {
    return null;
  }
  const date = new Date(Date.UTC(year, month - 1, day));
  if (
    date.getUTCFullYear() !== year ||
    date.getUTCMonth() !== month - 1 ||
    date.getUTCDate() !== day
  ) {
    return null;
  }
  return formatIsoDate(date);
}

/** The UTC calendar day `days` after `from`'s UTC day, as `YYYY-MM-DD`. */
export function addUtcDays(from: Date, days: number): string {
  return formatIsoDate(new Date(startOfUtcDay(from) + days * DAY_MS));
}

/** A strict `YYYY-MM-DD` as midnight UTC, or null. */
function parseIsoDate(date: string): Date | null {
  const match = ISO_DATE.exec(date);
  if (!match) {
    return null;
  }
  const iso = toIsoDate(Number(match[1]), Number(match[2]), Number(match[3]));
  return iso === null ? null : new Date(`${iso}T00:00:00Z`);
}

function startOfUtcDay(date: Date): number {
  return Date.UTC(date.getUTCFullYear(), date.getUTCMonth(), date.getUTCDate());
}

function formatIsoDate(date: Date): string {
  return date.toISOString().slice(0, 10);
}

function clampHorizon(horizonDays: number): number {
  return Math.min(Math.floor(horizonDays), COURIER_MAX_DAYS_AHEAD);
}
