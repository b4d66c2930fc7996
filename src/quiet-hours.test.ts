import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import type { QuietHours } from './policy.ts';
import { isQuiet, localTime, quietUntil, zoneAbbreviation } from './quiet-hours.ts';

const IST: QuietHours = { start: '21:00', end: '09:00', timeZone: 'Asia/Kolkata' };
const at = (iso: string) => Date.parse(iso);
const iso = (t: number | null) => (t === null ? null : new Date(t).toISOString());

describe('quiet hours', () => {
  it('holds a window that crosses midnight, start included and end excluded', () => {
    // 22:30 IST is 17:00 UTC: quiet until 09:00 IST the next morning (03:30 UTC).
    expect(iso(quietUntil(IST, at('2025-01-15T17:00:00Z')))).toBe('2025-01-16T03:30:00.000Z');
    // 21:00 IST exactly: quiet, until the next morning.
    expect(iso(quietUntil(IST, at('2025-01-15T15:30:00Z')))).toBe('2025-01-16T03:30:00.000Z');
    // 00:10 and 08:59 IST: quiet until 09:00 the same local day.
    expect(iso(quietUntil(IST, at('2025-01-15T18:40:00Z')))).toBe('2025-01-16T03:30:00.000Z');
    expect(iso(quietUntil(IST, at('2025-01-16T03:29:00Z')))).toBe('2025-01-16T03:30:00.000Z');
    // 09:00 and 20:59 IST: not quiet.
    expect(quietUntil(IST, at('2025-01-16T03:30:00Z'))).toBeNull();
    expect(quietUntil(IST, at('2025-01-16T15:29:59Z'))).toBeNull();
    expect(isQuiet(IST, at('2025-01-16T15:30:00Z'))).toBe(true);
  });

  it('holds a window within one day', () => {
    const lunch: QuietHours = { start: '13:00', end: '15:00', timeZone: 'UTC' };
    expect(iso(quietUntil(lunch, at('2025-01-15T14:00:00Z')))).toBe('2025-01-15T15:00:00.000Z');
    expect(quietUntil(lunch, at('2025-01-15T15:00:00Z'))).toBeNull();
    expect(quietUntil(lunch, at('2025-01-15T12:59:59Z'))).toBeNull();
  });

  it('has no quiet hours when they are off', () => {
    expect(quietUntil(null, at('2025-01-15T17:00:00Z'))).toBeNull();
    expect(isQuiet(null, at('2025-01-15T17:00:00Z'))).toBe(false);
  });

  it('ends at the local time on a night the clocks go forward (New York, 9 March 2025)', () => {
    const night: QuietHours = { start: '22:00', end: '07:00', timeZone: 'America/New_York' };
    // 23:00 EST on the 8th; 07:00 EDT on the 9th is 11:00 UTC, not 12:00.
    const until = quietUntil(night, at('2025-03-09T04:00:00Z'));
    expect(iso(until)).toBe('2025-03-09T11:00:00.000Z');
    expect(localTime(until!, night.timeZone)).toEqual({
      time: '07:00',
      zone: 'EDT',
      date: '2025-03-09',
    });
  });

  it('ends when the clocks jump past an end that does not exist that night', () => {
    // 02:30 is skipped on 9 March 2025 in New York (02:00 EST → 03:00 EDT, at 07:00 UTC).
    const night: QuietHours = { start: '23:00', end: '02:30', timeZone: 'America/New_York' };
    const until = quietUntil(night, at('2025-03-09T06:30:00Z'));
    expect(iso(until)).toBe('2025-03-09T07:00:00.000Z');
    expect(localTime(until!, night.timeZone).time).toBe('03:00');
  });

  it('ends at the first pass through the end on a night an hour repeats (New York, 2 November 2025)', () => {
    const night: QuietHours = { start: '22:00', end: '07:00', timeZone: 'America/New_York' };
    // 23:00 EDT on the 1st; 07:00 EST on the 2nd is 12:00 UTC.
    expect(iso(quietUntil(night, at('2025-11-02T03:00:00Z')))).toBe('2025-11-02T12:00:00.000Z');
    const short: QuietHours = { start: '21:00', end: '01:30', timeZone: 'America/New_York' };
    // 00:30 EDT: until 01:30 EDT (05:30 UTC).
    expect(iso(quietUntil(short, at('2025-11-02T04:30:00Z')))).toBe('2025-11-02T05:30:00.000Z');
    // 01:10 EST, the hour's second pass: until 01:30 EST (06:30 UTC).
    expect(iso(quietUntil(short, at('2025-11-02T06:10:00Z')))).toBe('2025-11-02T06:30:00.000Z');
  });

  it('ends at local 09:00 across the European change (London, 30 March 2025)', () => {
    const night: QuietHours = { start: '21:00', end: '09:00', timeZone: 'Europe/London' };
    const until = quietUntil(night, at('2025-03-29T22:00:00Z'));
    expect(iso(until)).toBe('2025-03-30T08:00:00.000Z');
    expect(localTime(until!, night.timeZone)).toMatchObject({ time: '09:00', zone: 'BST' });
  });

  it('names zones as people read them, else by offset', () => {
    const winter = at('2025-01-15T12:00:00Z');
    expect(zoneAbbreviation(winter, 'Asia/Kolkata')).toBe('IST');
    expect(zoneAbbreviation(winter, 'America/New_York')).toBe('EST');
    expect(zoneAbbreviation(at('2025-07-15T12:00:00Z'), 'America/New_York')).toBe('EDT');
    expect(zoneAbbreviation(winter, 'Europe/London')).toBe('GMT');
    expect(zoneAbbreviation(winter, 'Europe/Berlin')).toBe('CET');
    expect(zoneAbbreviation(winter, 'UTC')).toBe('UTC');
    expect(zoneAbbreviation(winter, 'Asia/Kathmandu')).toBe('GMT+5:45');
  });

  it('always ends after now, outside the window, with every moment before it inside', () => {
    const zones = [
      'Asia/Kolkata',
      'America/New_York',
      'Europe/London',
      'Australia/Lord_Howe',
      'America/Santiago',
      'Pacific/Chatham',
      'UTC',
    ];
    const hhmm = fc
      .tuple(fc.integer({ min: 0, max: 23 }), fc.integer({ min: 0, max: 59 }))
      .map(([h, m]) => `${String(h).padStart(2, '0')}:${String(m).padStart(2, '0')}`);
    fc.assert(
      fc.property(
        hhmm,
        hhmm,
        fc.constantFrom(...zones),
        fc.integer({ min: at('2024-01-01T00:00:00Z'), max: at('2027-01-01T00:00:00Z') }),
        fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: 5, maxLength: 5 }),
        (start, end, timeZone, now, samples) => {
          fc.pre(start !== end);
          const quiet = { start, end, timeZone };
          const until = quietUntil(quiet, now);
          if (!isQuiet(quiet, now)) {
            expect(until).toBeNull();
            return;
          }
          expect(until).not.toBeNull();
          expect(until!).toBeGreaterThan(now);
          expect(until! - now).toBeLessThanOrEqual(26 * 3_600_000);
          expect(isQuiet(quiet, until!)).toBe(false);
          expect(isQuiet(quiet, until! - 1)).toBe(true);
          for (const s of samples) {
            expect(isQuiet(quiet, Math.floor(now + s * (until! - 1 - now)))).toBe(true);
          }
        },
      ),
      { numRuns: 500 },
    );
  });
});
