import { describe, expect, it } from 'vitest';

import { parseDateRange, parseDay } from './date-range.ts';

const today = new Date('2026-12-03T11:30:00Z');

describe('the outcomes page period', () => {
  it('defaults to the last 30 days, today included', () => {
    expect(parseDateRange({}, today)).toEqual({
      ok: true,
      range: {
        from: '2026-11-04',
        to: '2026-12-03',
        start: new Date('2026-11-04T00:00:00Z'),
        end: new Date('2026-12-04T00:00:00Z'),
      },
    });
    // Empty fields (a form submitted as it came) are defaults too.
    expect(parseDateRange({ from: '', to: ' ' }, today)).toMatchObject({
      ok: true,
      range: { from: '2026-11-04', to: '2026-12-03' },
    });
  });

  it('reads both days as UTC dates, the last one included', () => {
    expect(parseDateRange({ from: '2026-11-01', to: '2026-11-01' }, today)).toMatchObject({
      ok: true,
      range: { start: new Date('2026-11-01T00:00:00Z'), end: new Date('2026-11-02T00:00:00Z') },
    });
    // Only `to`: the 30 days up to it.
    expect(parseDateRange({ to: '2026-10-31' }, today)).toMatchObject({
      ok: true,
      range: { from: '2026-10-02', to: '2026-10-31' },
    });
  });

  it('refuses what is not a period, saying why', () => {
    expect(parseDateRange({ from: '2026-02-30' }, today)).toEqual({
      ok: false,
      from: '2026-02-30',
      to: '2026-12-03',
      problems: ['From: "2026-02-30" is not a date (YYYY-MM-DD)'],
    });
    expect(parseDateRange({ from: '2026-11-10', to: '2026-11-09' }, today)).toMatchObject({
      ok: false,
      problems: ['From must not be after To'],
    });
    expect(parseDateRange({ from: '2025-01-01', to: '2026-11-09' }, today)).toMatchObject({
      ok: false,
      problems: ['The period can be at most 366 days'],
    });
    expect(parseDateRange({ from: ['2026-11-01', '2026-11-02'], to: 'soon' }, today)).toEqual({
      ok: false,
      from: '',
      to: 'soon',
      problems: ['To: "soon" is not a date (YYYY-MM-DD)', 'From: give one date'],
    });
  });

  it('knows real days from look-alikes', () => {
    expect(parseDay('2028-02-29')).toEqual(new Date('2028-02-29T00:00:00Z'));
    expect(parseDay('2026-02-29')).toBeNull();
    expect(parseDay('2026-1-05')).toBeNull();
  });
});
