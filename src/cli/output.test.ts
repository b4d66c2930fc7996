import { describe, expect, it } from 'vitest';

import { createNumberScrubber, maskNumber, renderTable, sanitize, truncate } from './output.ts';

describe('maskNumber', () => {
  it('keeps the country code and last four digits', () => {
    expect(maskNumber('917891971009')).toBe('91******1009');
    expect(maskNumber('+91 78919 71009')).toBe('91******1009');
    expect(maskNumber('7891971009')).toBe('78****1009');
  });

  it('hides short numbers entirely', () => {
    expect(maskNumber('12345')).toBe('*****');
  });
});

describe('createNumberScrubber', () => {
  const scrub = createNumberScrubber(['917891971009']);

  it('masks the number in full and in its national form', () => {
    expect(scrub('sent to 917891971009')).toBe('sent to 91******1009');
    expect(scrub('toNumber 7891971009')).toBe('toNumber 78****1009');
  });

  it('leaves other digit runs (shipment and message ids) alone', () => {
    expect(scrub('shipment 4980116095129-90758')).toBe('shipment 4980116095129-90758');
  });
});

describe('sanitize', () => {
  it('masks number fields, hides addresses and credentials, scrubs known numbers', () => {
    const scrub = createNumberScrubber(['917891971009']);
    const out = sanitize(
      {
        toNumber: '7891971009',
        fromNumber: '919319278973',
        address: 'Sadafal kunj',
        password: 'sandbox-secret-pw',
        note: 'customer 917891971009 replied',
        nested: [{ mobile: 917891971009, messageId: '4921687316728868875-376937873247896673' }],
      },
      scrub,
    );
    expect(out).toEqual({
      toNumber: '78****1009',
      fromNumber: '91******8973',
      address: '[hidden]',
      password: '[hidden]',
      note: 'customer 91******1009 replied',
      nested: [{ mobile: '91******1009', messageId: '4921687316728868875-376937873247896673' }],
    });
  });
});

describe('renderTable', () => {
  it('aligns columns', () => {
    expect(
      renderTable(
        ['A', 'LONGER'],
        [
          ['xyz', '1'],
          ['x', '22'],
        ],
      ),
    ).toBe('A    LONGER\nxyz  1\nx    22\n');
  });

  it('truncates long cells visibly', () => {
    expect(truncate('abcdefghij', 5)).toBe('abcd…');
    expect(truncate('a\n  b', 10)).toBe('a b');
  });
});
