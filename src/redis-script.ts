/**
 * A Lua script run by its SHA1 (EVALSHA): the script's text crosses the wire only when the Redis
 * node has not seen it yet (NOSCRIPT: then EVAL, which also loads it there), instead of with
 * every call. On a cluster each node loads it on its first call.
 */
import { createHash } from 'node:crypto';

import type { RedisClient } from './redis.ts';

export type RedisScript = (
  redis: RedisClient,
  numKeys: number,
  ...args: (string | number)[]
) => Promise<unknown>;

export function redisScript(source: string): RedisScript {
  const sha = createHash('sha1').update(source).digest('hex');
  return async (redis, numKeys, ...args) => {
    try {
      return await redis.evalsha(sha, numKeys, ...args);
    } catch (err) {
      if (err instanceof Error && err.message.startsWith('NOSCRIPT')) {
        return redis.eval(source, numKeys, ...args);
      }
      throw err;
    }
  };
}
