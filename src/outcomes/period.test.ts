import { describe, expect, it } from 'vitest';

import { parseFunnelPeriod } from './period.ts';

const NOW = new Date('2026-12-03T12:00:00Z');

describe('parseFunnelPeriod', () => {
  it('defaults to the last 30 days, grouped by reason', () => {
    expect(parseFunnelPeriod({}, NOW)).toEqual({
      ok: true,
      period: { from: new Date('2026-11-03T12:00:00Z'), to: NOW, groupBy: 'reason' },
    });
  });

  it('reads a bare date to as the end of that day, from as its start', () => {
    const result = parseFunnelPeriod({ from: '2026-11-01', to: '2026-11-30', groupBy: 'day' }, NOW);
    expect(result).toEqual({
      ok: true,
      period: {
        from: new Date('2026-11-01T00:00:00Z'),
        to: new Date('2026-12-01T00:00:00Z'),
        groupBy: 'day',
      },
    });
  });

  it('takes date-times with their offset', () => {
    const result = parseFunnelPeriod(
      { from: '2026-11-01T00:00:00+05:30', to: '2026-11-02T00:00:00Z' },
      NOW,
    );
    expect(result.ok && result.period.from.toISOString()).toBe('2026-10-31T18:30:00.000Z');
  });

  it.each([
    [{ groupBy: 'colour' }, /groupBy/],
    [{ from: 'yesterday' }, /from:/],
    [{ to: '2026-02-30' }, /to:/],
    [{ from: '2026-11-01T00:00:00' }, /from:/],
    [{ from: '2026-11-05', to: '2026-11-01' }, /before/],
    [{ from: '2024-01-01', to: '2026-01-01' }, /366 days/],
  ])('refuses %j with a reason', (query, reason) => {
    const result = parseFunnelPeriod(query, NOW);
    expect(result.ok).toBe(false);
    expect(!result.ok && result.reason).toMatch(reason);
  });
});
