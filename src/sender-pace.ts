/**
 * Per-sender pacing of Gupshup sends, shared by every replica through Redis. BullMQ's
 * open-source limiter is per queue (GUPSHUP_MAX_PER_SECOND caps the whole service); this spaces
 * the sends of each sender account apart, at its connection's own limit (`maxPerSecond`, its
 * WhatsApp number's tier) or GUPSHUP_SENDER_MAX_PER_SECOND, so one client's burst waits for its
 * own account's turns instead of holding up everyone else's messages.
 *
 * Each send reserves the sender's next free slot (one atomic script, on Redis's clock, so replica
 * clocks do not matter). A slot in the future means the job is moved to `delayed` until then and
 * keeps its reservation in its data, so it is not charged twice.
 *
 * A sender Gupshup or Meta throttles (HTTP 429, v2 4001, Meta 130429) is slowed down for every
 * replica: its pace halves per throttle and recovers step by step (`slowDown`); `paces` feeds the
 * gauge `whatsapp_sender_pace_per_second{connection}`.
 */
import type { RedisClient } from './redis.ts';
import { sendersKeyPrefix } from './redis-keys.ts';
import { redisScript } from './redis-script.ts';

/**
 * A sender slowed down by HTTP 429 and its kin (src/gupshup/error-actions.ts `slow_sender`) keeps
 * `level` and `last` in a hash per connection: its interval is the configured one times
 * 2^level, where the level stored at the last throttle (`last`, ms on Redis's clock) drops by one
 * for every quiet period (PACE_QUIET_MS) since. So the pace halves per throttle, down to
 * 1/2^PACE_MAX_LEVEL of the configured rate, and comes back step by step once throttles stop.
 */
const LEVEL = `
local function level(key, now, quiet)
  local h = redis.call('HMGET', key, 'level', 'last')
  local stored = tonumber(h[1] or '0')
  local last = tonumber(h[2] or '0')
  if stored <= 0 then return 0, last end
  return math.max(0, stored - math.floor((now - last) / quiet)), last
end
`;

/**
 * Reserves max(now, next free) and moves the next free slot one (slowed) interval on, in
 * microseconds (a sender allowed 1,000/s is 1,000 µs apart, not rounded to whole milliseconds).
 * Returns the wait in ms, 0 when the slot is less than ARGV[5] µs away: a send that close to its
 * turn goes now (the slots still advance one interval per send, so the rate holds).
 */
const RESERVE = `${LEVEL}
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local nowUs = tonumber(t[1]) * 1000000 + tonumber(t[2])
local lvl = level(KEYS[2], now, tonumber(ARGV[2]))
local interval = tonumber(ARGV[1]) * math.pow(2, lvl)
local slot = math.max(nowUs, tonumber(redis.call('GET', KEYS[1]) or '0'))
redis.call('SET', KEYS[1], string.format('%.0f', slot + interval), 'PX',
  math.floor((slot - nowUs + interval) / 1000) + 1000)
redis.call('SADD', KEYS[3], ARGV[3])
redis.call('HSET', KEYS[4], ARGV[3], ARGV[4])
local wait = slot - nowUs
if wait < tonumber(ARGV[5]) then return 0 end
return math.ceil(wait / 1000)
`;
const runReserve = redisScript(RESERVE);

/**
 * One throttle: the level goes one up (at most ARGV[2]) unless the last rise was less than
 * ARGV[3] ms ago (the sends of one burst were all in flight at the old pace). Returns the level.
 */
const SLOW_DOWN = `${LEVEL}
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local quiet = tonumber(ARGV[1])
local lvl = level(KEYS[1], now, quiet)
local rose = tonumber(redis.call('HGET', KEYS[1], 'rose') or '0')
if now - rose >= tonumber(ARGV[3]) then
  lvl = math.min(tonumber(ARGV[2]), lvl + 1)
  rose = now
end
redis.call('HSET', KEYS[1], 'level', lvl, 'last', now, 'rose', rose)
redis.call('PEXPIRE', KEYS[1], quiet * (tonumber(ARGV[2]) + 1))
redis.call('SADD', KEYS[2], ARGV[4])
return lvl
`;
const runSlowDown = redisScript(SLOW_DOWN);

/** The current level and configured rate of each sender named in the set (Redis's clock). */
const LEVELS = `${LEVEL}
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local out = {}
for _, conn in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local lvl = level(ARGV[1] .. conn, now, tonumber(ARGV[2]))
  table.insert(out, conn)
  table.insert(out, lvl)
  table.insert(out, redis.call('HGET', KEYS[2], conn) or ARGV[3])
end
return out
`;
const runLevels = redisScript(LEVELS);

/** A quiet minute brings a slowed sender one step back. */
export const PACE_QUIET_MS = 60_000;
/** At most four halvings: 1/16 of the configured rate. */
export const PACE_MAX_LEVEL = 4;
/** Throttles closer together than this count as one (the sends of one burst). */
const PACE_DEBOUNCE_MS = 1_000;
/** A send this close to its turn goes now rather than through `delayed` (µs). */
const ON_TIME_US = 2_000;

export interface SenderPace {
  /**
   * Milliseconds until this send's slot for `sender` (0: now). `sender` is the account
   * (`<connection>:hsm`, `<connection>:two-way`); `connection` is whose slowdown applies;
   * `perSecond` is the connection's own limit (the configured default when absent).
   */
  reserve(sender: string, connection: string, perSecond?: number | null): Promise<number>;
  /** Halves the connection's pace (down to the floor); returns its new sends per second. */
  slowDown(connection: string): Promise<number>;
  /** Sends per second now allowed, per connection that has sent or been slowed. */
  paces(): Promise<Map<string, number>>;
}

export function createSenderPace(
  redis: RedisClient,
  queuePrefix: string,
  perSecond: number,
  opts: { quietMs?: number; debounceMs?: number } = {},
): SenderPace {
  // One hash tag for all of it: the scripts read a connection's keys and the set together.
  const prefix = sendersKeyPrefix(queuePrefix);
  const intervalUs = (rate: number) => Math.max(1, Math.round(1_000_000 / rate));
  const quietMs = Math.max(1, opts.quietMs ?? PACE_QUIET_MS);
  const debounceMs = Math.max(0, opts.debounceMs ?? PACE_DEBOUNCE_MS);
  const slowKey = (connection: string) => `${prefix}:sender-slow:${connection}`;
  const known = `${prefix}:sender-pace-connections`;
  const rates = `${prefix}:sender-pace-rates`;
  return {
    async reserve(sender, connection, ownRate) {
      const rate = ownRate && ownRate > 0 ? ownRate : perSecond;
      const wait = await runReserve(
        redis,
        4,
        `${prefix}:sender-pace:${sender}`,
        slowKey(connection),
        known,
        rates,
        intervalUs(rate),
        quietMs,
        connection,
        rate,
        ON_TIME_US,
      );
      return Number(wait);
    },
    async slowDown(connection) {
      const level = await runSlowDown(
        redis,
        2,
        slowKey(connection),
        known,
        quietMs,
        PACE_MAX_LEVEL,
        debounceMs,
        connection,
      );
      const rate = Number((await redis.hget(rates, connection)) ?? perSecond);
      return rate / 2 ** Number(level);
    },
    async paces() {
      const flat = (await runLevels(
        redis,
        2,
        known,
        rates,
        `${prefix}:sender-slow:`,
        quietMs,
        perSecond,
      )) as unknown[] | null;
      const out = new Map<string, number>();
      for (let i = 0; flat && i + 2 < flat.length; i += 3) {
        out.set(String(flat[i]), Number(flat[i + 2]) / 2 ** Number(flat[i + 1]));
      }
      return out;
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
