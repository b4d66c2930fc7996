import * as v from 'valibot';
import { describe, expect, it } from 'vitest';

import {
  DEFAULT_NO_REPLY,
  DEFAULT_OPT_OUT_KEYWORDS,
  effectivePolicy,
  mergePolicy,
  parseQuietHoursSetting,
  parseStoredPolicy,
  PolicySchema,
} from './policy.ts';

const IST = { start: '21:00', end: '09:00', timeZone: 'Asia/Kolkata' };

describe('the conversation policy', () => {
  it('reads DEFAULT_QUIET_HOURS, or off', () => {
    expect(parseQuietHoursSetting('21:00-09:00 Asia/Kolkata')).toEqual(IST);
    expect(parseQuietHoursSetting(' OFF ')).toBeNull();
    expect(parseQuietHoursSetting('21:00-09:00 Mars/Olympus')).toMatch(/IANA zone/);
    expect(parseQuietHoursSetting('9pm-9am Asia/Kolkata')).toMatch(/HH:MM/);
  });

  it('accepts quiet hours with a real zone only, and null to switch them off', () => {
    expect(v.safeParse(PolicySchema, { quietHours: IST }).success).toBe(true);
    expect(v.safeParse(PolicySchema, { quietHours: null }).success).toBe(true);
    const bad = v.safeParse(PolicySchema, { quietHours: { ...IST, timeZone: 'Asia/Kolkatta' } });
    expect(bad.success).toBe(false);
    expect(v.safeParse(PolicySchema, { quietHours: { ...IST, start: '24:00' } }).success).toBe(
      false,
    );
    expect(v.safeParse(PolicySchema, { quietHours: { ...IST, end: '21:00' } }).success).toBe(false);
    expect(v.safeParse(PolicySchema, { noReply: { afterHours: 0, then: 'remind' } }).success).toBe(
      false,
    );
    expect(v.safeParse(PolicySchema, { surprise: 1 }).success).toBe(false);
  });

  it('resolves defaults key by key: absent takes the platform default, null quiet hours are off', () => {
    expect(effectivePolicy({}, { quietHours: IST })).toEqual({
      quietHours: IST,
      noReply: DEFAULT_NO_REPLY,
      optOutKeywords: DEFAULT_OPT_OUT_KEYWORDS,
      optInKeywords: ['START'],
      reminderTemplates: {},
      optOutTemplateId: null,
      apologyOnNotHonoured: false,
    });
    expect(effectivePolicy({ quietHours: null }, { quietHours: IST }).quietHours).toBeNull();
  });

  it('reads what MySQL holds leniently: a key that no longer validates falls back alone', () => {
    const stored = JSON.stringify({
      quietHours: { ...IST, timeZone: 'Gone/Zone' },
      noReply: { afterHours: 6, then: 'reattempt' },
    });
    expect(parseStoredPolicy(stored)).toEqual({ noReply: { afterHours: 6, then: 'reattempt' } });
    expect(parseStoredPolicy('not json')).toEqual({});
    expect(parseStoredPolicy('[1]')).toEqual({});
    expect(parseStoredPolicy(null)).toEqual({});
  });

  it('merges a change key by key', () => {
    const merged = mergePolicy(
      { quietHours: IST, optOutKeywords: ['STOP'] },
      { quietHours: null, noReply: { afterHours: 3, then: 'nothing' } },
    );
    expect(merged).toEqual({
      quietHours: null,
      optOutKeywords: ['STOP'],
      noReply: { afterHours: 3, then: 'nothing' },
    });
  });
});
