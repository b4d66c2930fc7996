/**
 * A clock the test moves by hand (src/clock.ts): quiet hours and the no-reply rule are judged by
 * it, and their BullMQ delays computed from it, so a test can be "at 22:30 IST", look at the
 * delayed job, move to 09:00 and promote it, without waiting.
 */
import type { Clock } from '../../src/clock.ts';

export interface ManualClock extends Clock {
  set(at: number | string): void;
  advance(ms: number): void;
}

export function manualClock(start: number | string): ManualClock {
  let now = typeof start === 'string' ? Date.parse(start) : start;
  return {
    now: () => now,
    set(at) {
      now = typeof at === 'string' ? Date.parse(at) : at;
    },
    advance(ms) {
      now += ms;
    },
  };
}

/** `HH:MM` India time (UTC+5:30, no daylight saving) on the IST date of `day`, as epoch ms. */
export function istTime(hhmm: string, day: number = Date.now()): number {
  const istDate = new Date(day + 330 * 60_000).toISOString().slice(0, 10);
  return Date.parse(`${istDate}T${hhmm}:00+05:30`);
}

export const HOUR = 3_600_000;
