/**
 * A short-lived in-process cache of account settings and of the templates they name, read by
 * `fdr.validate` for every event. A change made through any replica's settings or template API
 * is announced on a Redis channel, and every replica drops its copy at once (the account's
 * settings, and every template: a template is shared by the accounts that chose it); the TTL only
 * bounds staleness if an announcement is missed.
 */
import type { Db } from './db/client.ts';
import { getAccountSettings, type AccountSettings } from './db/settings.ts';
import { findDefaultTemplate, findTemplate, type StoredTemplate } from './db/templates.ts';
import { safeErrorMessage } from './errors.ts';
import { throttledLog, type Log } from './log.ts';
import type { FdrReason } from './fdr/reasons.ts';
import type { Metrics } from './metrics.ts';
import { duplicateForSubscriber, type RedisClient } from './redis.ts';

export interface SettingsCache {
  get(accountId: number): Promise<AccountSettings>;
  /** A template by id, or the platform default of a reason (`default:<reason>`); null: none. */
  template(id: string): Promise<StoredTemplate | null>;
  defaultTemplate(reason: FdrReason): Promise<StoredTemplate | null>;
  /** Drops the account (and every template) here and on every other replica. */
  invalidate(accountId: number): Promise<void>;
  close(): Promise<void>;
}

export function settingsChannel(prefix: string): string {
  return `${prefix}:settings-changed`;
}

export async function createSettingsCache(opts: {
  db: Db;
  redis: RedisClient;
  prefix: string;
  ttlMs: number;
  log: Log;
  /** Counts hits and misses when given. */
  metrics?: Pick<Metrics, 'settingsCache'>;
}): Promise<SettingsCache> {
  const entries = new Map<number, { value: AccountSettings; expires: number }>();
  const templates = new Map<string, { value: StoredTemplate | null; expires: number }>();
  // Counts invalidations: a read that began before one may hold the old settings, and caching it
  // would undo the invalidation until the TTL ran out.
  let invalidations = 0;
  const channel = settingsChannel(opts.prefix);
  // A subscribed connection can do nothing else, so it is a dedicated duplicate.
  // On a cluster, PUBLISH reaches the subscribers of every node.
  const subscriber = duplicateForSubscriber(opts.redis);
  const warn = throttledLog(opts.log);
  subscriber.on('error', (err: Error) => warn({ err: err.message }, 'settings channel error'));
  // Announcements made while the channel was down are lost: forget everything on (re)connect.
  subscriber.on('ready', () => {
    invalidations += 1;
    entries.clear();
    templates.clear();
  });
  subscriber.on('message', (_channel: string, message: string) => {
    invalidations += 1;
    entries.delete(Number(message));
    templates.clear();
  });
  // Nothing is cached until the channel listens, so no announcement can be missed. Not awaited:
  // with Redis down the service still starts (and /readyz says why it is not ready).
  let listening = false;
  subscriber.subscribe(channel).then(
    () => {
      listening = true;
      invalidations += 1;
      entries.clear();
      templates.clear();
    },
    (err: unknown) =>
      opts.log.error({ err: safeErrorMessage(err) }, 'settings channel could not subscribe'),
  );

  const cachedTemplate = async (
    key: string,
    read: () => Promise<StoredTemplate | null>,
  ): Promise<StoredTemplate | null> => {
    const hit = templates.get(key);
    if (hit && hit.expires > Date.now()) {
      return hit.value;
    }
    const seen = invalidations;
    const value = await read();
    if (listening && seen === invalidations) {
      templates.set(key, { value, expires: Date.now() + opts.ttlMs });
    }
    return value;
  };

  return {
    template: (id) => cachedTemplate(id, () => findTemplate(opts.db, id)),
    defaultTemplate: (reason) =>
      cachedTemplate(`default:${reason}`, () => findDefaultTemplate(opts.db, reason)),
    async get(accountId) {
      const hit = entries.get(accountId);
      if (hit && hit.expires > Date.now()) {
        opts.metrics?.settingsCache.inc({ result: 'hit' });
        return hit.value;
      }
      opts.metrics?.settingsCache.inc({ result: 'miss' });
      const seen = invalidations;
      const value = await getAccountSettings(opts.db, accountId);
      if (listening && seen === invalidations) {
        entries.set(accountId, { value, expires: Date.now() + opts.ttlMs });
      }
      return value;
    },
    async invalidate(accountId) {
      invalidations += 1;
      entries.delete(accountId);
      templates.clear();
      await opts.redis.publish(channel, String(accountId));
    },
    async close() {
      entries.clear();
      templates.clear();
      subscriber.disconnect();
      await Promise.resolve();
    },
  };
}
