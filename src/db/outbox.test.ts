/** The correlation key a message is sent and reported under: its key plus a random part. */
import { describe, expect, it } from 'vitest';

import { correlationOf, newCorrelationKey } from './outbox.ts';

describe('newCorrelationKey', () => {
  it('is the idempotency key, a dot and 22 random base64url characters', () => {
    const key = newCorrelationKey('fdr-4980116095129-90758-1');
    expect(key).toMatch(/^fdr-4980116095129-90758-1\.[A-Za-z0-9_-]{22}$/);
  });

  it('is drawn afresh each time: the key part alone never predicts it', () => {
    const keys = new Set(Array.from({ length: 1_000 }, () => newCorrelationKey('fdr-S-1')));
    expect(keys.size).toBe(1_000);
  });

  it('keeps the key part readable when the key holds dots (the random part has none)', () => {
    const key = newCorrelationKey('fdr-AWB.1.2-1');
    expect(key.slice(0, key.lastIndexOf('.'))).toBe('fdr-AWB.1.2-1');
  });

  it('fits the column (and what a report keeps of `extra`) for the longest shipment id', () => {
    expect(newCorrelationKey(`fdr-${'S'.repeat(64)}-2147483647`).length).toBeLessThanOrEqual(191);
    expect(() => newCorrelationKey('k'.repeat(170))).toThrow(/too long/);
  });
});

describe('correlationOf', () => {
  it("is the row's stored correlation key, the same for every attempt", () => {
    const row = { idempotencyKey: 'fdr-S-1', correlationKey: 'fdr-S-1.AAAAAAAAAAAAAAAAAAAAAA' };
    expect(correlationOf(row)).toBe('fdr-S-1.AAAAAAAAAAAAAAAAAAAAAA');
    expect(correlationOf(row)).toBe(correlationOf({ ...row }));
  });

  it('is the idempotency key for a row written before correlation keys existed', () => {
    expect(correlationOf({ idempotencyKey: 'fdr-S-1', correlationKey: null })).toBe('fdr-S-1');
  });
});
