import { describe, expect, it } from 'vitest';

import { holdsCustomerTurn } from './customer-pace.ts';

describe('holdsCustomerTurn', () => {
  const customerAt = 5_000_000;

  it('holds the turn reserved for this attempt once it is due', () => {
    expect(holdsCustomerTurn({ customerAt, customerAttempt: 1 }, 1, customerAt)).toBe(true);
    expect(holdsCustomerTurn({ customerAt, customerAttempt: 1 }, 1, customerAt - 50)).toBe(true);
  });

  it('holds nothing before its turn, for another attempt, when stale, or without a mark', () => {
    expect(holdsCustomerTurn({ customerAt, customerAttempt: 1 }, 1, customerAt - 500)).toBe(false);
    expect(holdsCustomerTurn({ customerAt, customerAttempt: 0 }, 1, customerAt)).toBe(false);
    expect(holdsCustomerTurn({ customerAt, customerAttempt: 1 }, 1, customerAt + 60_000)).toBe(
      false,
    );
    expect(holdsCustomerTurn({}, 0, customerAt)).toBe(false);
  });
});
