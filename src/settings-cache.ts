/**
 * A short-lived in-process cache of account settings, read by `fdr.validate` for every event.
 * A change made through any replica's settings API is announced on a Redis channel, and every
 * replica drops its copy at once; the TTL only bounds staleness if an announcement is missed.
 */
import type { Redis } from 'ioredis';

import type { Db } from './db/client.ts';
import { getAccountSettings, type AccountSettings } from './db/settings.ts';
import type { Log } from './log.ts';

export interface SettingsCache {
  get(accountId: number): Promise<AccountSettings>;
  /** Drops the account here and on every other replica. */
  invalidate(accountId: number): Promise<void>;
  close(): Promise<void>;
}

export function settingsChannel(prefix: string): string {
  return `${prefix}:settings-changed`;
}

export async function createSettingsCache(opts: {
  db: Db;
  redis: Redis;
  prefix: string;
  ttlMs: number;
  log: Log;
}): Promise<SettingsCache> {
  const entries = new Map<number, { value: AccountSettings; expires: number }>();
  const channel = settingsChannel(opts.prefix);
  // A subscribed connection can do nothing else, so it is a dedicated duplicate.
  const subscriber = opts.redis.duplicate({ enableOfflineQueue: true, maxRetriesPerRequest: null });
  subscriber.on('error', (err: Error) =>
    opts.log.warn({ err: err.message }, 'settings channel error'),
  );
  subscriber.on('message', (_channel: string, message: string) => {
    entries.delete(Number(message));
  });
  await subscriber.subscribe(channel);

  return {
    async get(accountId) {
      const hit = entries.get(accountId);
      if (hit && hit.expires > Date.now()) {
        return hit.value;
      }
      const value = await getAccountSettings(opts.db, accountId);
      entries.set(accountId, { value, expires: Date.now() + opts.ttlMs });
      return value;
    },
    async invalidate(accountId) {
      entries.delete(accountId);
      await opts.redis.publish(channel, String(accountId));
    },
    async close() {
      entries.clear();
      subscriber.disconnect();
      await Promise.resolve();
    },
  };
}
