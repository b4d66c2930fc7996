import { describe, expect, it } from 'vitest';

import { reconcileDeadline } from './message-send.ts';

const config = { SEND_RECONCILE_MS: 60_000 };
const updatedAt = new Date('2026-11-25T10:00:00Z');
const now = updatedAt.getTime() + 1_000;
const row = (over: Partial<Parameters<typeof reconcileDeadline>[1]> = {}) => ({
  status: 'sending',
  attempts: 1,
  errorCode: null,
  updatedAt,
  ...over,
});

describe('reconcileDeadline', () => {
  it.each([['timeout'], ['network'], ['aborted'], ['bad_response'], [null]])(
    'waits after an attempt that ended with %s',
    (errorCode) => {
      expect(reconcileDeadline(config, row({ errorCode }), now)).toBe(updatedAt.getTime() + 60_000);
    },
  );

  it.each([['gupshup_100'], ['http_503'], ['http_429'], ['unreachable']])(
    'does not wait after a definite answer (%s)',
    (errorCode) => {
      expect(reconcileDeadline(config, row({ errorCode }), now)).toBeNull();
    },
  );

  it('does not wait for a first attempt, a pending row, once the window has passed, or when off', () => {
    expect(reconcileDeadline(config, row({ attempts: 0 }), now)).toBeNull();
    expect(reconcileDeadline(config, row({ status: 'pending' }), now)).toBeNull();
    expect(reconcileDeadline(config, row(), updatedAt.getTime() + 60_000)).toBeNull();
    expect(reconcileDeadline({ SEND_RECONCILE_MS: 0 }, row(), now)).toBeNull();
  });
});
