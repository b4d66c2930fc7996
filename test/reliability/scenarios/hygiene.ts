/**
 * Scenario 8, data hygiene after all of it: the captured output of every service process of the
 * run, and every key's value in the run's Redis (BullMQ's job data, return values, failure
 * reasons and logs included), are searched for the customers' numbers, names, addresses and
 * emails used in the run, and for the run's passwords and tokens. Nothing may be found.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

import { Redis } from 'ioredis';

import { SEED_PERSONAL_DATA } from '../../helpers/fixtures.ts';
import type { RunContext } from '../lib/context.ts';
import { check, type ScenarioResult } from '../lib/result.ts';
import { LOG_DIR, RUN_SECRETS, SECRETS } from '../lib/stack.ts';
import type { Customer } from '../lib/traffic.ts';

interface Finder {
  /** What of the run's personal data or secrets `text` contains (kinds, not the values). */
  find(text: string): string[];
  /** How many distinct values it looks for. */
  size: number;
}

export function makeFinder(customers: Customer[]): Finder {
  const phones = new Set(customers.map((c) => c.phone));
  const names = new Set(customers.map((c) => c.name));
  const addresses = new Set(customers.flatMap((c) => [c.address1, c.address2]));
  const emails = new Set(customers.map((c) => c.email));
  const secrets = [...Object.values(SECRETS), ...RUN_SECRETS].filter((s) => s.length >= 8);
  const phoneLike = /(?<!\d)(?:\+?91)?(\d{10})(?!\d)/g;
  const nameLike = /[A-Z][a-z]+ [A-Z][a-z]+[0-9a-z]{4}/g;
  const addressLike = /Flat [0-9a-z]{4}, Gulmohar Residency|Sector \d+ road near lake [0-9a-z]{4}/g;
  const emailLike = /cust\.[0-9a-z]{4}@mailbox\.example/g;
  return {
    size:
      phones.size +
      names.size +
      addresses.size +
      emails.size +
      secrets.length +
      SEED_PERSONAL_DATA.length,
    find(text) {
      const found = new Set<string>();
      for (const m of text.matchAll(phoneLike)) {
        if (phones.has(m[1]!)) {
          found.add('phone number');
        }
      }
      for (const m of text.matchAll(nameLike)) {
        if (names.has(m[0])) {
          found.add('name');
        }
      }
      for (const m of text.matchAll(addressLike)) {
        if (addresses.has(m[0])) {
          found.add('address');
        }
      }
      for (const m of text.matchAll(emailLike)) {
        if (emails.has(m[0])) {
          found.add('email');
        }
      }
      for (const secret of secrets) {
        if (text.includes(secret)) {
          found.add('secret');
        }
      }
      // The seed's customers, whose fixtures the hostile-input scenario sends (mutated).
      for (const value of SEED_PERSONAL_DATA) {
        if (text.includes(value)) {
          found.add('seed personal data');
        }
      }
      return [...found];
    },
  };
}

/** Every value held in Redis, key by key. */
async function* redisValues(url: string): AsyncGenerator<{ key: string; text: string }> {
  const redis = new Redis(url, { maxRetriesPerRequest: 3 });
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'COUNT', 1000);
      cursor = next;
      const types = await Promise.all(keys.map((k) => redis.type(k)));
      for (let i = 0; i < keys.length; i++) {
        const key = keys[i]!;
        let values: string[] = [];
        switch (types[i]) {
          case 'string':
            values = [(await redis.get(key)) ?? ''];
            break;
          case 'hash':
            values = Object.values(await redis.hgetall(key));
            break;
          case 'list':
            values = await redis.lrange(key, 0, -1);
            break;
          case 'set':
            values = await redis.smembers(key);
            break;
          case 'zset':
            values = await redis.zrange(key, '0', '-1');
            break;
          case 'stream':
            values = (await redis.xrange(key, '-', '+')).flatMap(([, fields]) => fields);
            break;
        }
        yield { key, text: `${key}\n${values.join('\n')}` };
      }
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}

export async function dataHygiene(ctx: RunContext, customers: Customer[]): Promise<ScenarioResult> {
  const started = Date.now();
  const finder = makeFinder(customers);
  const logLeaks: string[] = [];
  let logFiles = 0;
  let logLines = 0;
  for (const entry of readdirSync(LOG_DIR, { recursive: true, encoding: 'utf8' })) {
    if (!entry.endsWith('.log')) {
      continue;
    }
    logFiles++;
    const lines = readFileSync(join(LOG_DIR, entry), 'utf8').split('\n');
    logLines += lines.length;
    lines.forEach((line, i) => {
      const kinds = finder.find(line);
      if (kinds.length && logLeaks.length < 20) {
        // Where and what kind: never the value itself.
        logLeaks.push(`${entry}:${i + 1} (${kinds.join(', ')})`);
      }
    });
  }
  const redisLeaks: string[] = [];
  let keys = 0;
  for await (const { key, text } of redisValues(ctx.servers.redisUrl)) {
    keys++;
    const kinds = finder.find(text);
    if (kinds.length && redisLeaks.length < 20) {
      redisLeaks.push(`${key} (${kinds.join(', ')})`);
    }
  }
  return {
    scenario: 'data-hygiene',
    title: '8. Data hygiene',
    seconds: Math.round((Date.now() - started) / 1000),
    figures: {
      searchedFor: finder.size,
      logFiles,
      logLines,
      redisKeys: keys,
      foundInLogs: logLeaks.length,
      foundInRedis: redisLeaks.length,
    },
    checks: [
      check(
        'no personal data or secret in any log',
        logLeaks.length === 0,
        logLeaks.join('; ') || 0,
      ),
      check(
        'no personal data or secret in Redis',
        redisLeaks.length === 0,
        redisLeaks.join('; ') || 0,
      ),
      check(
        'the search covered something',
        logLines > 0 && keys > 0 && finder.size > 0,
        `${logLines} lines, ${keys} keys`,
      ),
    ],
  };
}
