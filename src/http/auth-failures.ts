/**
 * Brute-force brake for every credential the service checks (bearer tokens, the settings login,
 * Bull Board's basic auth): after AUTH_MAX_FAILURES failures from one client address within
 * AUTH_FAILURE_WINDOW_MINUTES, that address gets 429 with `Retry-After` until the window ends.
 * Counted in Redis, so every replica sees the same count. Only failures count: a busy client
 * with a good token is never slowed.
 *
 * If Redis cannot answer, the brake lets requests through (the credential check still runs):
 * locking everyone out because Redis is down would be worse than a few more guesses.
 */

import type { Log } from '../log.ts';
import type { RedisClient } from '../redis.ts';
import { redisScript } from '../redis-script.ts';

export interface AuthFailures {
  /** Seconds until `address` may try again; 0 when it may now. */
  retryAfter(address: string): Promise<number>;
  /** Counts one failed attempt from `address`. */
  record(address: string): Promise<void>;
}

/** INCR, and start the window with the first failure. */
const RECORD = `
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return n`;
const runRecord = redisScript(RECORD);

export function createAuthFailures(opts: {
  redis: RedisClient;
  prefix: string;
  max: number;
  windowMs: number;
  log: Log;
}): AuthFailures {
  const key = (address: string) => `${opts.prefix}:auth-failures:${address}`;
  const warnOnce = (() => {
    let warned = false;
    return (err: unknown) => {
      if (!warned) {
        warned = true;
        opts.log.warn(
          { err: err instanceof Error ? err.message : String(err) },
          'authentication failures cannot be counted (Redis); not braking',
        );
      }
    };
  })();
  return {
    async retryAfter(address) {
      try {
        const [count, ttl] = await Promise.all([
          opts.redis.get(key(address)),
          opts.redis.pttl(key(address)),
        ]);
        return Number(count ?? 0) >= opts.max && ttl > 0 ? Math.ceil(ttl / 1_000) : 0;
      } catch (err) {
        warnOnce(err);
        return 0;
      }
    },
    async record(address) {
      try {
        await runRecord(opts.redis, 1, key(address), String(opts.windowMs));
      } catch (err) {
        warnOnce(err);
      }
    },
  };
}
