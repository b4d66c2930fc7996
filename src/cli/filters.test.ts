import { describe, expect, it } from 'vitest';

import { describeFilter, errorCodeOf, formatDuration, matchesFailedJob } from './filters.ts';

const NOW = Date.parse('2024-06-08T12:00:00Z');
const job = (failedReason: string, minutesAgo: number) => ({
  failedReason,
  finishedOn: NOW - minutesAgo * 60_000,
});

describe('errorCodeOf', () => {
  it('reads the code a worker error starts with', () => {
    expect(errorCodeOf('gupshup_100: Unknown exception, please retry later')).toBe('gupshup_100');
    expect(errorCodeOf('http_503: Service Unavailable')).toBe('http_503');
  });

  it('is null for reasons without a code', () => {
    expect(errorCodeOf('webhook event 9 does not exist')).toBeNull();
    expect(errorCodeOf(undefined)).toBeNull();
    expect(errorCodeOf('')).toBeNull();
  });
});

describe('matchesFailedJob', () => {
  const failed100 = job('gupshup_100: Unknown exception, please retry later', 30);

  it('matches everything without filters', () => {
    expect(matchesFailedJob(failed100, {}, NOW)).toBe(true);
    expect(matchesFailedJob({}, {}, NOW)).toBe(true);
  });

  it('filters by code exactly', () => {
    expect(matchesFailedJob(failed100, { code: 'gupshup_100' }, NOW)).toBe(true);
    expect(matchesFailedJob(failed100, { code: 'gupshup_10' }, NOW)).toBe(false);
    expect(matchesFailedJob(job('gupshup_1000: x', 1), { code: 'gupshup_100' }, NOW)).toBe(false);
  });

  it('filters by reason text, any case', () => {
    expect(matchesFailedJob(failed100, { reason: 'UNKNOWN exception' }, NOW)).toBe(true);
    expect(matchesFailedJob(failed100, { reason: 'phone number' }, NOW)).toBe(false);
  });

  it('filters by failure time', () => {
    expect(matchesFailedJob(failed100, { sinceMs: 60 * 60_000 }, NOW)).toBe(true);
    expect(matchesFailedJob(failed100, { sinceMs: 10 * 60_000 }, NOW)).toBe(false);
    expect(matchesFailedJob({ failedReason: 'x' }, { sinceMs: 60_000 }, NOW)).toBe(false);
  });

  it('needs every filter given to match', () => {
    const filter = { code: 'gupshup_100', reason: 'retry', sinceMs: 3_600_000 };
    expect(matchesFailedJob(failed100, filter, NOW)).toBe(true);
    expect(matchesFailedJob(job('gupshup_105: retry', 5), filter, NOW)).toBe(false);
  });
});

describe('describeFilter', () => {
  it('says which filters applied', () => {
    expect(describeFilter({})).toBe('');
    expect(describeFilter({ code: 'gupshup_100', sinceMs: 2 * 3_600_000, limit: 5 })).toBe(
      ' (code gupshup_100, failed in the last 2h)',
    );
  });

  it('formats durations compactly', () => {
    expect(formatDuration(90 * 60_000)).toBe('1h30m');
    expect(formatDuration(86_400_000)).toBe('1d');
  });
});
