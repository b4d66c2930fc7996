/** Phone numbers for Gupshup's `send_to` and for display. */
import { parsePhoneNumberFromString } from 'libphonenumber-js';
import { describe, expect, it } from 'vitest';

import fixture from '../../test/fixtures/fdr-event.json' with { type: 'json' };
import { nationalNumber, normalizePhone } from './phone.ts';

describe('normalizePhone', () => {
  it('passes the seed number with isValid(), not only isPossible()', () => {
    // Why the module can insist on isValid(): the default metadata accepts the seed's number.
    expect(
      parsePhoneNumberFromString(fixture.response_data.customerContactNumber, 'IN')?.isValid(),
    ).toBe(true);
    expect(normalizePhone(fixture.response_data.customerContactNumber)).toBe('917891971009');
  });

  it.each([
    ['7891971009', '917891971009'],
    ['+91 78919 71009', '917891971009'],
    ['+917891971009', '917891971009'],
    ['917891971009', '917891971009'],
    ['91-7891971009', '917891971009'],
    ['07891971009', '917891971009'],
    ['0917891971009', '917891971009'],
    ['00917891971009', '917891971009'],
    ['(+91) 96501 86697', '919650186697'],
    [' 9711166382 ', '919711166382'],
  ])('normalises %j to %s', (raw, expected) => {
    expect(normalizePhone(raw)).toBe(expected);
  });

  it.each([[null], [undefined], [''], ['   '], ['12345'], ['abcdefghij'], ['789197100912345']])(
    'refuses %j',
    (raw) => {
      expect(normalizePhone(raw)).toBeNull();
    },
  );

  it('reads national numbers in the given country', () => {
    expect(normalizePhone('(415) 555-2671', 'US')).toBe('14155552671');
    expect(normalizePhone('(415) 555-2671', 'us')).toBe('14155552671');
  });

  it('keeps an international number whatever the default country', () => {
    expect(normalizePhone('+1 415 555 2671', 'IN')).toBe('14155552671');
  });

  it('reads an unknown or empty country as India', () => {
    expect(normalizePhone('7891971009', '')).toBe('917891971009');
    expect(normalizePhone('7891971009', 'INDIA')).toBe('917891971009');
  });
});

describe('nationalNumber', () => {
  it.each([
    ['7891971009', '7891971009'],
    ['+91 78919 71009', '7891971009'],
    ['0917891971009', '7891971009'],
  ])('shows %j as %s', (raw, expected) => {
    expect(nationalNumber(raw, 'IN')).toBe(expected);
  });

  it('is null for a number that is not valid', () => {
    expect(nationalNumber('12345', 'IN')).toBeNull();
  });
});
