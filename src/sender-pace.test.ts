import { describe, expect, it } from 'vitest';

import { holdsSlot } from './sender-pace.ts';

describe('holdsSlot', () => {
  const paceAt = 1_000_000;

  it('holds the slot reserved for this attempt once it is due', () => {
    expect(holdsSlot({ paceAt, paceAttempt: 2 }, 2, paceAt)).toBe(true);
    expect(holdsSlot({ paceAt, paceAttempt: 2 }, 2, paceAt - 50)).toBe(true);
    expect(holdsSlot({ paceAt, paceAttempt: 2 }, 2, paceAt + 5_000)).toBe(true);
  });

  it('holds nothing before its turn, for another attempt, when stale, or without a mark', () => {
    expect(holdsSlot({ paceAt, paceAttempt: 2 }, 2, paceAt - 500)).toBe(false);
    expect(holdsSlot({ paceAt, paceAttempt: 1 }, 2, paceAt)).toBe(false);
    expect(holdsSlot({ paceAt, paceAttempt: 2 }, 2, paceAt + 60_000)).toBe(false);
    expect(holdsSlot({}, 0, paceAt)).toBe(false);
  });
});
