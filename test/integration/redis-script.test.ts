/**
 * Scripts run by their SHA1 on real Redis: the first call on a node that has not seen the
 * script loads it (NOSCRIPT, then EVAL), later calls send only the SHA, and a node that lost its
 * scripts (a restart, SCRIPT FLUSH) is answered all the same.
 */
import { createHash, randomBytes } from 'node:crypto';

import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';

import { redisScript } from '../../src/redis-script.ts';
import { REDIS_URL } from '../helpers/env.ts';

const redis = new Redis(REDIS_URL);

afterAll(async () => {
  await redis.quit();
});

describe('redisScript', () => {
  it('loads the script on its first call and runs it by SHA after', async () => {
    // A script no other test has loaded: its own comment makes its SHA its own.
    const source = `-- ${randomBytes(8).toString('hex')}\nreturn redis.call('INCRBY', KEYS[1], ARGV[1])`;
    const sha = createHash('sha1').update(source).digest('hex');
    const key = `redis-script-test:${randomBytes(4).toString('hex')}`;
    const run = redisScript(source);
    expect(await redis.script('EXISTS', sha)).toEqual([0]);
    expect(await run(redis, 1, key, 2)).toBe(2);
    expect(await redis.script('EXISTS', sha)).toEqual([1]);
    expect(await run(redis, 1, key, 3)).toBe(5);
    await redis.del(key);
  });

  it('fails with the script error itself, not a NOSCRIPT', async () => {
    const run = redisScript(`-- ${randomBytes(8).toString('hex')}\nreturn redis.call('NOPE')`);
    await expect(run(redis, 0)).rejects.toThrow(/Unknown Redis command|unknown command/i);
  });
});
