/**
 * Delivery-date choices: which days are offered, how they are titled, and the horizon check.
 * Times near midnight on both sides of UTC guard against local-time drift.
 */
import { describe, expect, it } from 'vitest';

import {
  addUtcDays,
  formatDateChoice,
  InvalidDateError,
  isWithinHorizon,
  nextDeliveryDates,
  toIsoDate,
} from './dates.ts';

// Thursday 8 June 2023, the seed's failed-delivery day.
const SEED_DAY = new Date('2023-06-08T16:06:16Z');

describe('nextDeliveryDates', () => {
  it('starts the day after and stops at count', () => {
    expect(nextDeliveryDates(SEED_DAY, { count: 3, horizonDays: 6, skipSundays: false })).toEqual([
      '2023-06-09',
      '2023-06-10',
      '2023-06-11',
    ]);
  });

  it('stops at the horizon when count asks for more', () => {
    expect(nextDeliveryDates(SEED_DAY, { count: 10, horizonDays: 2, skipSundays: false })).toEqual([
      '2023-06-09',
      '2023-06-10',
    ]);
  });

  it('never goes past the courier limit of six days', () => {
    const dates = nextDeliveryDates(SEED_DAY, { count: 30, horizonDays: 30, skipSundays: false });

    expect(dates).toHaveLength(6);
    expect(dates.at(-1)).toBe('2023-06-14');
  });

  it('skips Sundays when asked, without extending the horizon', () => {
    // 11 June 2023 is a Sunday.
    expect(nextDeliveryDates(SEED_DAY, { count: 3, horizonDays: 6, skipSundays: true })).toEqual([
      '2023-06-09',
      '2023-06-10',
      '2023-06-12',
    ]);
    expect(nextDeliveryDates(SEED_DAY, { count: 9, horizonDays: 6, skipSundays: true })).toEqual([
      '2023-06-09',
      '2023-06-10',
      '2023-06-12',
      '2023-06-13',
      '2023-06-14',
    ]);
  });

  it('counts from the UTC day, whatever the hour', () => {
    const lateUtc = new Date('2023-06-08T23:59:59.999Z');
    const earlyUtc = new Date('2023-06-08T00:00:00.000Z');
    const opts = { count: 1, horizonDays: 6, skipSundays: false };

    expect(nextDeliveryDates(lateUtc, opts)).toEqual(['2023-06-09']);
    expect(nextDeliveryDates(earlyUtc, opts)).toEqual(['2023-06-09']);
  });

  it('crosses month and year ends, and leap days', () => {
    const opts = { count: 2, horizonDays: 6, skipSundays: false };

    expect(nextDeliveryDates(new Date('2023-12-31T10:00:00Z'), opts)).toEqual([
      '2024-01-01',
      '2024-01-02',
    ]);
    expect(nextDeliveryDates(new Date('2024-02-28T10:00:00Z'), opts)).toEqual([
      '2024-02-29',
      '2024-03-01',
    ]);
  });

  it('offers nothing for a zero count or horizon', () => {
    expect(nextDeliveryDates(SEED_DAY, { count: 0, horizonDays: 6, skipSundays: false })).toEqual(
      [],
    );
    expect(nextDeliveryDates(SEED_DAY, { count: 3, horizonDays: 0, skipSundays: false })).toEqual(
      [],
    );
  });
});

describe('formatDateChoice', () => {
  it('writes the seed interactive title format', () => {
    expect(formatDateChoice('2023-06-10')).toBe('10 June 2023');
    expect(formatDateChoice('2024-01-01')).toBe('1 January 2024');
    expect(formatDateChoice('2024-02-29')).toBe('29 February 2024');
    expect(formatDateChoice('2023-12-09')).toBe('9 December 2023');
  });

  it('refuses what is not a calendar date', () => {
    expect(() => formatDateChoice('2023-02-29')).toThrow(InvalidDateError);
    expect(() => formatDateChoice('10 June 2023')).toThrow(InvalidDateError);
    expect(() => formatDateChoice('2023-6-10')).toThrow(InvalidDateError);
  });
});

describe('isWithinHorizon', () => {
  it('accepts from tomorrow up to the horizon, inclusive', () => {
    expect(isWithinHorizon('2023-06-09', SEED_DAY, 6)).toBe(true);
    expect(isWithinHorizon('2023-06-14', SEED_DAY, 6)).toBe(true);
    expect(isWithinHorizon('2023-06-11', SEED_DAY, 3)).toBe(true);
  });

  it('refuses today, the past and beyond the horizon', () => {
    expect(isWithinHorizon('2023-06-08', SEED_DAY, 6)).toBe(false);
    expect(isWithinHorizon('2023-06-01', SEED_DAY, 6)).toBe(false);
    expect(isWithinHorizon('2023-06-15', SEED_DAY, 6)).toBe(false);
    expect(isWithinHorizon('2023-06-12', SEED_DAY, 3)).toBe(false);
  });

  it('caps the horizon at the courier limit', () => {
    expect(isWithinHorizon('2023-06-15', SEED_DAY, 30)).toBe(false);
  });

  it('uses the UTC day of from', () => {
    // 23:30 UTC on the 8th is still the 8th, so the 9th is tomorrow and the 15th is too far.
    const late = new Date('2023-06-08T23:30:00Z');

    expect(isWithinHorizon('2023-06-09', late, 6)).toBe(true);
    expect(isWithinHorizon('2023-06-15', late, 6)).toBe(false);
  });

  it('is false for malformed or impossible dates', () => {
    expect(isWithinHorizon('2023-06-31', SEED_DAY, 6)).toBe(false);
    expect(isWithinHorizon('tomorrow', SEED_DAY, 6)).toBe(false);
    expect(isWithinHorizon('', SEED_DAY, 6)).toBe(false);
  });
});

describe('toIsoDate and addUtcDays', () => {
  it('builds real dates and refuses rolled-over ones', () => {
    expect(toIsoDate(2023, 6, 10)).toBe('2023-06-10');
    expect(toIsoDate(2023, 4, 31)).toBeNull();
    expect(toIsoDate(2023, 2, 29)).toBeNull();
    expect(toIsoDate(2023, 13, 1)).toBeNull();
    expect(toIsoDate(2023, 0, 1)).toBeNull();
  });

  it('adds days to the UTC day', () => {
    expect(addUtcDays(new Date('2023-06-08T23:59:00Z'), 1)).toBe('2023-06-09');
    expect(addUtcDays(new Date('2023-06-08T00:01:00Z'), 0)).toBe('2023-06-08');
  });
});
