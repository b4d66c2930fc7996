import { describe, expect, it } from 'vitest';

import { CUSTOMER_WINDOW_MS, isWindowOpen } from './customer-window.ts';
import { keywordText, matchKeyword, normaliseKeyword } from './opt-out.ts';
import { DEFAULT_OPT_IN_KEYWORDS, DEFAULT_OPT_OUT_KEYWORDS } from './policy.ts';
import { parseCustomerNumber, senderNumberKey } from './suppression.ts';

const DEFAULTS = {
  optOutKeywords: DEFAULT_OPT_OUT_KEYWORDS,
  optInKeywords: DEFAULT_OPT_IN_KEYWORDS,
};

describe('opt-out and opt-in keywords', () => {
  it('match the whole message, whatever its case and spacing', () => {
    for (const text of [
      'STOP',
      'stop',
      ' Stop ',
      'stop\n',
      'STOP  ALL',
      'opt\tout',
      'Band  Karo',
    ]) {
      expect(matchKeyword(text, DEFAULTS), text).toBe('opt_out');
    }
    for (const text of ['START', ' start ']) {
      expect(matchKeyword(text, DEFAULTS), text).toBe('opt_in');
    }
  });

  it('never match a keyword inside a longer message', () => {
    for (const text of ['please stop', 'stop it', 'STOP!', "don't stop", 'start delivery', '']) {
      expect(matchKeyword(text, DEFAULTS), text).toBeNull();
    }
    expect(matchKeyword(null, DEFAULTS)).toBeNull();
    expect(matchKeyword('stop '.repeat(500), DEFAULTS)).toBeNull();
  });

  it('match Devanagari however it is composed, and full-width letters', () => {
    expect(matchKeyword('बंद', DEFAULTS)).toBe('opt_out');
    // "ड़" as one code point (U+095C) or as ड + nukta: the same keyword either way.
    const composed = { optOutKeywords: ['\u095C'], optInKeywords: [] };
    const decomposed = { optOutKeywords: ['\u0921\u093C'], optInKeywords: [] };
    expect(matchKeyword('\u0921\u093C', composed)).toBe('opt_out');
    expect(matchKeyword('\u095C', decomposed)).toBe('opt_out');
    expect(matchKeyword('ＳＴＯＰ', DEFAULTS)).toBe('opt_out');
    expect(matchKeyword('\u200BSTOP\uFEFF', DEFAULTS)).toBe('opt_out');
    expect(normaliseKeyword('  Band \u00A0 KARO ')).toBe('band karo');
  });

  it("use the account's own lists; a word in both opts out", () => {
    const policy = { optOutKeywords: ['Basta'], optInKeywords: ['Again', 'basta'] };
    expect(matchKeyword('STOP', policy)).toBeNull();
    expect(matchKeyword('basta', policy)).toBe('opt_out');
    expect(matchKeyword('again', policy)).toBe('opt_in');
  });

  it('read a text message or a tapped quick-reply button, nothing else', () => {
    expect(keywordText({ type: 'text', text: 'STOP', buttonText: null })).toBe('STOP');
    expect(keywordText({ type: 'button', text: null, buttonText: 'Stop' })).toBe('Stop');
    expect(keywordText({ type: 'image', text: 'STOP', buttonText: null })).toBeNull();
    expect(keywordText({ type: 'interactive', text: null, buttonText: null })).toBeNull();
  });
});

describe('the 24-hour window', () => {
  const now = new Date('2026-12-10T12:00:00Z');
  it('is open for 24 hours after the customer last wrote, and closed when they never did', () => {
    expect(isWindowOpen(new Date(now.getTime() - 60_000), now)).toBe(true);
    expect(isWindowOpen(new Date(now.getTime() - CUSTOMER_WINDOW_MS + 1), now)).toBe(true);
    expect(isWindowOpen(new Date(now.getTime() - CUSTOMER_WINDOW_MS), now)).toBe(false);
    expect(isWindowOpen(new Date(now.getTime() - 25 * 3_600_000), now)).toBe(false);
    expect(isWindowOpen(null, now)).toBe(false);
  });
});

describe('suppression keys', () => {
  it('are digits with the country code', () => {
    expect(parseCustomerNumber('919812345678', 'IN')).toBe('919812345678');
    expect(parseCustomerNumber('+91 98123 45678', 'IN')).toBe('919812345678');
    expect(parseCustomerNumber('9812345678', 'IN')).toBe('919812345678');
    expect(senderNumberKey('+91 93192 78973')).toBe('919319278973');
    expect(senderNumberKey('')).toBe('default');
    expect(senderNumberKey(undefined)).toBe('default');
  });

  it('refuse what is no phone number', () => {
    for (const raw of [
      'abc',
      '12',
      '98123',
      '9812345678x',
      '',
      '+91 98123 45678 ext 5',
      '1'.repeat(40),
    ]) {
      expect(parseCustomerNumber(raw, 'IN'), raw).toBeNull();
    }
  });
});
