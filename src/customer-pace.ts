/**
 * Per-customer spacing after Meta's 131056 ("too many messages to this user"): once a customer
 * has been refused for it, messages to that customer from that sender go at least PAIR_GAP_MS
 * apart for as long as they keep coming (the key lapses after a quiet gap). Shared by every
 * replica through Redis, on Redis's clock. Keys name the pair by a hash, never by the number.
 */
import { createHash } from 'node:crypto';

import { PAIR_GAP_MS } from './gupshup/error-actions.ts';
import type { RedisClient } from './redis.ts';
import { redisScript } from './redis-script.ts';

const NOW = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
`;

/**
 * Refused: this message's turn is at least one gap from now (or the next free turn, if later);
 * the key holds the turn after it.
 */
const HOLD = `${NOW}
local gap = tonumber(ARGV[1])
local slot = math.max(now + gap, tonumber(redis.call('GET', KEYS[1]) or '0'))
redis.call('SET', KEYS[1], slot + gap, 'PX', slot - now + gap + 1000)
return slot - now
`;
const runHold = redisScript(HOLD);

/** A send's turn: none needed without a key; else the next free one, moved one gap on. */
const TURN = `${NOW}
local v = redis.call('GET', KEYS[1])
if not v then return 0 end
local gap = tonumber(ARGV[1])
local slot = math.max(now, tonumber(v))
if slot - now <= tonumber(ARGV[2]) then slot = now end
redis.call('SET', KEYS[1], slot + gap, 'PX', slot - now + gap + 1000)
return slot - now
`;
const runTurn = redisScript(TURN);

/** A delayed job may be promoted this early; it keeps its turn. */
const EARLY_MS = 100;

/** What a job spaced for its customer keeps in its data: its turn, for which attempt. */
export interface CustomerMark {
  customerAt?: number;
  customerAttempt?: number;
  /** How many times a 131056 held it. */
  customerHolds?: number;
}

/** Does the job already hold its customer turn for this attempt? */
export function holdsCustomerTurn(mark: CustomerMark, attemptsMade: number, now = Date.now()) {
  return (
    mark.customerAttempt === attemptsMade &&
    typeof mark.customerAt === 'number' &&
    now >= mark.customerAt - EARLY_MS &&
    now - mark.customerAt < 60_000
  );
}

export interface CustomerPace {
  /** After a 131056: ms this message must wait (at least one gap). */
  hold(connection: string, customer: string): Promise<number>;
  /** Before a send: ms until this customer's turn (0 for a customer not being spaced). */
  turn(connection: string, customer: string): Promise<number>;
}

export function createCustomerPace(
  redis: RedisClient,
  prefix: string,
  gapMs = PAIR_GAP_MS,
): CustomerPace {
  const key = (connection: string, customer: string) =>
    `${prefix}:customer-pace:${createHash('sha256')
      .update(`${connection}\n${customer.replace(/\D/g, '')}`)
      .digest('base64url')
      .slice(0, 22)}`;
  return {
    async hold(connection, customer) {
      return Number(await runHold(redis, 1, key(connection, customer), gapMs));
    },
    async turn(connection, customer) {
      return Number(await runTurn(redis, 1, key(connection, customer), gapMs, EARLY_MS));
    },
  };
}
