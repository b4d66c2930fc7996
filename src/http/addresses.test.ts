import { describe, expect, it } from 'vitest';

import { addressMatcher, isCidr } from './addresses.ts';

describe('client addresses', () => {
  it('reads addresses and CIDR networks of both families, and nothing else', () => {
    for (const good of ['203.0.113.7', '203.0.113.0/24', '0.0.0.0/0', '2001:db8::/32', '::1']) {
      expect(isCidr(good), good).toBe(true);
    }
    for (const bad of [
      '203.0.113.0/33',
      '2001:db8::/129',
      'gupshup.io',
      '10.0.0.0/8/1',
      '',
      '1.2.3/8',
    ]) {
      expect(isCidr(bad), bad).toBe(false);
    }
  });

  it('matches addresses inside the networks, IPv4-mapped IPv6 as IPv4', () => {
    const allowed = addressMatcher(['203.0.113.0/24', '198.51.100.7', '2001:db8::/32']);
    expect(allowed('203.0.113.200')).toBe(true);
    expect(allowed('::ffff:203.0.113.5')).toBe(true);
    expect(allowed('198.51.100.7')).toBe(true);
    expect(allowed('198.51.100.8')).toBe(false);
    expect(allowed('2001:db8:1::5')).toBe(true);
    expect(allowed('2001:db9::5')).toBe(false);
    expect(allowed('not an address')).toBe(false);
  });
});
