/** Secret comparison: the same answer whether the secret is hashed per call or once ahead. */
import { describe, expect, it } from 'vitest';

import { secretMatcher, secretsEqual } from './auth.ts';

describe('secretMatcher', () => {
  const isToken = secretMatcher('webhook-secret-token');

  it('takes the secret itself and nothing else', () => {
    expect(isToken('webhook-secret-token')).toBe(true);
    for (const other of [
      'webhook-secret-tokeN',
      'webhook-secret-token ',
      'webhook',
      '',
      'x'.repeat(500),
    ]) {
      expect(isToken(other)).toBe(false);
      expect(secretsEqual(other, 'webhook-secret-token')).toBe(false);
    }
  });
});
