import { createHmac } from 'node:crypto';

import { describe, expect, it } from 'vitest';

import { findPostback, readPostback, signPostback, type PostbackKeys } from './postback.ts';

const keys: PostbackKeys = { current: 'postback-secret-for-tests' };

describe('signed postbacks', () => {
  it('round-trips every action, with the date for date choices', () => {
    const cases = [
      { conversation: 1, action: 'reattempt' },
      { conversation: 77, action: 'reschedule' },
      { conversation: 123456789, action: 'date', date: '2023-06-14' },
      { conversation: 5, action: 'cancel' },
      { conversation: 5, action: 'concern' },
      { conversation: 5, action: 'update_address' },
      { conversation: 5, action: 'alternate_number' },
    ] as const;
    for (const postback of cases) {
      const token = signPostback(keys, postback);
      expect(token.length).toBeLessThanOrEqual(64);
      expect(token).toMatch(/^wn1\.[0-9a-z]+\.[a-z](\d{8})?\.[A-Za-z0-9_-]{16}$/);
      expect(readPostback(keys, token)).toEqual({ kind: 'valid', postback });
    }
  });

  it('refuses a token with any one character changed', () => {
    const token = signPostback(keys, { conversation: 42, action: 'date', date: '2023-06-14' });
    for (let i = 0; i < token.length; i += 1) {
      const c = token[i]!;
      const swapped = c === 'a' ? 'b' : c === '1' ? '2' : c === '.' ? '-' : 'a';
      const tampered = `${token.slice(0, i)}${swapped}${token.slice(i + 1)}`;
      if (tampered === token) {
        continue;
      }
      const reading = readPostback(keys, tampered);
      // A change in the prefix makes it no token at all; anywhere else it is a bad token.
      expect(reading.kind, `position ${i}`).not.toBe('valid');
    }
  });

  it('refuses a token signed under another secret, and accepts the previous secret in a rotation', () => {
    const old = signPostback({ current: 'old-secret' }, { conversation: 9, action: 'cancel' });
    expect(readPostback(keys, old)).toEqual({
      kind: 'invalid',
      reason: 'the choice token signature does not match',
    });
    expect(readPostback({ ...keys, previous: 'old-secret' }, old)).toMatchObject({
      kind: 'valid',
      postback: { conversation: 9, action: 'cancel' },
    });
  });

  it('tells text that is no token from a malformed token', () => {
    expect(readPostback(keys, '10 June 2023')).toEqual({ kind: 'none' });
    expect(readPostback(keys, null)).toEqual({ kind: 'none' });
    expect(readPostback(keys, 'wn1.zz')).toMatchObject({ kind: 'invalid' });
    expect(readPostback(keys, `wn1.2s.x.${'A'.repeat(16)}`)).toMatchObject({ kind: 'invalid' });
  });

  it('refuses a well-signed token whose action and value disagree', () => {
    const signed = (body: string) =>
      `${body}.${createHmac('sha256', keys.current).update(body).digest().subarray(0, 12).toString('base64url')}`;
    expect(readPostback(keys, signed('wn1.3.z'))).toEqual({
      kind: 'invalid',
      reason: 'the choice token names no known action',
    });
    expect(readPostback(keys, signed('wn1.3.c20230614')).kind).toBe('invalid');
    expect(readPostback(keys, signed('wn1.3.d')).kind).toBe('invalid');
    expect(readPostback(keys, signed('wn1.0.r')).kind).toBe('invalid');
    expect(readPostback(keys, signed('wn1.3.r'))).toMatchObject({ kind: 'valid' });
  });

  it('finds the valid token among the fields of a reply, and reports a bad one otherwise', () => {
    const good = signPostback(keys, { conversation: 4, action: 'reattempt' });
    expect(findPostback(keys, [null, 'Reattempt delivery', good])).toMatchObject({ kind: 'valid' });
    expect(findPostback(keys, [`${good.slice(0, -1)}x`, 'Reattempt delivery'])).toMatchObject({
      kind: 'invalid',
    });
    expect(findPostback(keys, ['Reattempt delivery', undefined])).toEqual({ kind: 'none' });
  });

  it('refuses to sign a date choice without a date', () => {
    expect(() => signPostback(keys, { conversation: 1, action: 'date' })).toThrow(RangeError);
    expect(() => signPostback(keys, { conversation: 0, action: 'cancel' })).toThrow(RangeError);
  });
});
