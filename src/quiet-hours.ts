/**
 * Quiet hours: the local hours of an account's day during which no business-initiated message
 * (the FDR template, a no-reply reminder) goes out. Pure time arithmetic on the runtime's IANA
 * zone database, with no dependency: `quietUntil` says when a window that holds `now` ends.
 *
 * A window is `[start, end)` in local wall-clock time; `start > end` crosses midnight
 * (21:00-09:00 holds 23:00 and 08:59, not 09:00). Daylight-saving changes are handled as the
 * wall clock shows them: the end is the first instant after `now` at which the local time is no
 * longer inside the window, so 07:00 is 07:00 on a day the clocks went forward at 02:00, an end
 * that falls into a skipped hour (02:30 on a spring-forward night) is the moment the clocks jump
 * past it, and on a night an hour repeats the first pass through the end counts.
 */
import type { QuietHours } from './policy.ts';

const MINUTE = 60_000;
const DAY = 86_400_000;

const wallFormatters = new Map<string, Intl.DateTimeFormat>();

function wallFormatter(zone: string): Intl.DateTimeFormat {
  let formatter = wallFormatters.get(zone);
  if (!formatter) {
    formatter = new Intl.DateTimeFormat('en-US', {
      timeZone: zone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    wallFormatters.set(zone, formatter);
  }
  return formatter;
}

/** The local wall-clock time at instant `t` in `zone`, written as if it were UTC (epoch ms). */
export function wallTime(t: number, zone: string): number {
  const parts = wallFormatter(zone).formatToParts(new Date(t));
  const part = (type: Intl.DateTimeFormatPartTypes) =>
    Number(parts.find((p) => p.type === type)?.value ?? 0);
  const ms = ((t % 1000) + 1000) % 1000;
  return (
    Date.UTC(
      part('year'),
      part('month') - 1,
      part('day'),
      part('hour'),
      part('minute'),
      part('second'),
    ) + ms
  );
}

/** `HH:MM` → milliseconds after local midnight. */
function clockMs(hhmm: string): number {
  const [h, m] = hhmm.split(':').map(Number);
  return ((h ?? 0) * 60 + (m ?? 0)) * MINUTE;
}

const msOfDay = (wall: number) => ((wall % DAY) + DAY) % DAY;

/** Whether instant `t` falls inside the quiet hours (none: never). */
export function isQuiet(quiet: QuietHours | null, t: number): boolean {
  if (!quiet) {
    return false;
  }
  const at = msOfDay(wallTime(t, quiet.timeZone));
  const start = clockMs(quiet.start);
  const end = clockMs(quiet.end);
  return start < end ? at >= start && at < end : at >= start || at < end;
}

/**
 * The instants whose local time in `zone` is `wall` (UTC-coded), earliest first: one on most
 * days, two in a repeated hour, none in a skipped one.
 */
function instantsAt(wall: number, zone: string): number[] {
  // The offsets in force a day either side (and at) cover both sides of any one transition.
  const offsets = new Set(
    [wall - DAY, wall, wall + DAY].map((probe) => wallTime(probe, zone) - probe),
  );
  const found = [...offsets]
    .map((offset) => wall - offset)
    .filter((t) => wallTime(t, zone) === wall);
  return [...new Set(found)].sort((a, b) => a - b);
}

/**
 * For a local time that does not exist (the clocks jumped over it): the instant they jumped,
 * the first one whose local time is past it.
 */
function jumpOver(wall: number, zone: string): number {
  const offsets = [wall - DAY, wall + DAY].map((probe) => wallTime(probe, zone) - probe);
  let lo = wall - Math.max(...offsets);
  let hi = wall - Math.min(...offsets);
  // Local time runs forward across a jump: find the first instant at or past `wall`.
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    if (wallTime(mid, zone) >= wall) {
      hi = mid;
    } else {
      lo = mid;
    }
  }
  return hi;
}

/**
 * When the quiet hours that hold `now` end (epoch ms), or null when `now` is not inside them
 * (or there are none). The result is after `now` and outside the window.
 */
export function quietUntil(quiet: QuietHours | null, now: number): number | null {
  if (!quiet || !isQuiet(quiet, now)) {
    return null;
  }
  let from = now;
  // A zone's rules could put the end back inside the window (a jump larger than the gap
  // between end and start): look again from there, a bounded number of times.
  for (let pass = 0; pass < 4; pass++) {
    const end = nextEnd(quiet, from);
    if (!isQuiet(quiet, end)) {
      return end;
    }
    from = end;
  }
  return from + MINUTE;
}

function nextEnd(quiet: QuietHours, now: number): number {
  const zone = quiet.timeZone;
  const wall = wallTime(now, zone);
  const midnight = wall - msOfDay(wall);
  const end = clockMs(quiet.end);
  // Today's end if it is still ahead on the wall clock, else tomorrow's (a window past midnight).
  const firstDay = msOfDay(wall) < end ? 0 : 1;
  for (let day = firstDay; day < firstDay + 3; day++) {
    const target = midnight + day * DAY + end;
    const instants = instantsAt(target, zone);
    const candidate = instants.length > 0 ? instants.find((t) => t > now) : jumpOver(target, zone);
    if (candidate !== undefined && candidate > now) {
      return candidate;
    }
  }
  return now + MINUTE;
}

const ABBREVIATION_LOCALES = [
  'en-IN',
  'en-US',
  'en-GB',
  'en-AU',
  'en-NZ',
  'en-SG',
  'en-ZA',
  'en-CA',
];

/**
 * The zone's abbreviation at instant `t` as people read it (IST, EDT, BST, CET), from the first
 * English locale that names one; else its offset (`GMT+5:45`).
 */
export function zoneAbbreviation(t: number, zone: string): string {
  let fallback = '';
  for (const locale of ABBREVIATION_LOCALES) {
    const name =
      new Intl.DateTimeFormat(locale, { timeZone: zone, timeZoneName: 'short' })
        .formatToParts(new Date(t))
        .find((p) => p.type === 'timeZoneName')?.value ?? '';
    if (name && !/^(GMT|UTC)[+-−]/.test(name)) {
      return name;
    }
    fallback ||= name;
  }
  return fallback || zone;
}

/** How instant `t` reads in `zone`: `09:00`, `IST`, `2025-01-16`. */
export function localTime(t: number, zone: string): { time: string; zone: string; date: string } {
  const iso = new Date(wallTime(t, zone)).toISOString();
  return { time: iso.slice(11, 16), zone: zoneAbbreviation(t, zone), date: iso.slice(0, 10) };
}

/** `21:00–09:00 Asia/Kolkata`. */
export function describeQuietHours(quiet: QuietHours): string {
  return `${quiet.start}–${quiet.end} ${quiet.timeZone}`;
}

/**
 * The instant at which the local time in `zone` is `wall` (UTC-coded epoch ms): the earlier one
 * in a repeated hour, the moment the clocks jumped for one they skipped.
 */
export function instantOfWallTime(wall: number, zone: string): number {
  return instantsAt(wall, zone)[0] ?? jumpOver(wall, zone);
}
