/**
 * Per-sender pacing of Gupshup sends, shared by every replica through Redis. BullMQ's
 * open-source limiter is per queue (GUPSHUP_MAX_PER_SECOND caps the whole service); this spaces
 * the sends of each sender account GUPSHUP_SENDER_MAX_PER_SECOND apart, so one client's burst
 * waits for its own account's turns instead of holding up everyone else's messages.
 *
 * Each send reserves the sender's next free slot (one atomic script, on Redis's clock, so replica
 * clocks do not matter). A slot in the future means the job is moved to `delayed` until then and
 * keeps its reservation in its data, so it is not charged twice.
 */
import type { Redis } from 'ioredis';

/** Reserves max(now, next free) and moves the next free slot one interval on. */
const RESERVE = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local interval = tonumber(ARGV[1])
local slot = math.max(now, tonumber(redis.call('GET', KEYS[1]) or '0'))
redis.call('SET', KEYS[1], slot + interval, 'PX', slot - now + interval + 1000)
return slot - now
`;

export interface SenderPace {
  /** Milliseconds until this send's slot for `sender` (0: now). */
  reserve(sender: string): Promise<number>;
}

export function createSenderPace(redis: Redis, prefix: string, perSecond: number): SenderPace {
  const interval = Math.max(1, Math.floor(1_000 / perSecond));
  return {
    async reserve(sender) {
      const wait = await redis.eval(RESERVE, 1, `${prefix}:sender-pace:${sender}`, interval);
      return Number(wait);
    },
  };
}

/** What a paced job keeps in its data: the slot it holds, and for which attempt. */
export interface PaceMark {
  paceAt?: number;
  paceAttempt?: number;
}

/** A reservation older than this is stale (the job was requeued or waited far too long). */
const STALE_AFTER_MS = 60_000;
/** Delayed jobs may be promoted a little early. */
const EARLY_MS = 100;

/** Does the job already hold a slot for this attempt that is due now? */
export function holdsSlot(mark: PaceMark, attemptsMade: number, now = Date.now()): boolean {
  return (
    mark.paceAttempt === attemptsMade &&
    typeof mark.paceAt === 'number' &&
    now >= mark.paceAt - EARLY_MS &&
    now - mark.paceAt < STALE_AFTER_MS
  );
}
