/**
 * startService(config, roles): builds the shared clients and starts the chosen roles in this
 * process: `api` (HTTP), `worker` (queue workers and the sweeper), `subscriber` (Pub/Sub pull).
 * `close()` stops taking work first, lets work in flight finish, then closes the clients.
 */
import { once } from 'node:events';

import type { FastifyInstance } from 'fastify';

import type { Config, Role } from './config.ts';
import { prepareDatabase } from './db/migrate.ts';
import { createDeps, type Deps } from './deps.ts';
import { createGupshupClient } from './gupshup/enterprise.ts';
import { buildApp, type AppExtras } from './http/app.ts';
import { createLog, type Log } from './log.ts';
import { createActivityPublisher } from './pubsub/activity.ts';
import { startFdrSubscriber, type FdrSubscriber } from './pubsub/subscriber.ts';
import { ensureTopic } from './pubsub/topics.ts';
import { createSettingsCache } from './settings-cache.ts';
import { startSweeper } from './sweeper.ts';
import { withTimeout } from './timeout.ts';
import { startWorkers, type Workers } from './workers/main.ts';
import { createWmsClient } from './wms/client.ts';

export interface Service {
  deps: Deps;
  app: FastifyInstance | null;
  /** The address the API listens on, when the `api` role runs. */
  url: string | null;
  workers: Workers | null;
  subscriber: FdrSubscriber | null;
  close(): Promise<void>;
}

export interface ServiceOptions {
  log?: Log;
  pushVerifier?: AppExtras['pushVerifier'];
}

export async function startService(
  config: Config,
  roles: readonly Role[],
  options: ServiceOptions = {},
): Promise<Service> {
  const log = options.log ?? createLog(config.LOG_LEVEL);
  if (config.DB_MIGRATE_ON_START) {
    await prepareDatabase(config.DATABASE_URL, log);
  }
  const deps = createDeps(config, log);
  await warnOnEvictionPolicy(deps);
  const settings = await createSettingsCache({
    db: deps.db,
    redis: deps.redis,
    prefix: config.QUEUE_PREFIX,
    ttlMs: config.SETTINGS_CACHE_TTL_MS,
    log,
  });
  const gupshup = createGupshupClient({
    baseUrl: config.GUPSHUP_ENTERPRISE_URL,
    timeoutMs: config.GUPSHUP_TIMEOUT_MS,
    templateMsgType: config.GUPSHUP_TEMPLATE_MSG_TYPE,
  });

  const wms = config.WMS_API_URL
    ? createWmsClient({
        baseUrl: config.WMS_API_URL,
        timeoutMs: config.WMS_TIMEOUT_MS,
        token: config.WMS_API_TOKEN,
      })
    : null;

  let app: FastifyInstance | null = null;
  let url: string | null = null;
  let workers: Workers | null = null;
  let subscriber: FdrSubscriber | null = null;
  let sweeper: { stop(): void } | null = null;

  if (roles.includes('worker')) {
    if (config.PUBSUB_EMULATOR_HOST) {
      await ensureTopic(deps.pubsub, config.ACTIVITY_TOPIC);
    }
    const publisher = createActivityPublisher(deps.pubsub, config.ACTIVITY_TOPIC);
    workers = startWorkers(deps, { gupshup, settings, publisher, decrypt: null, wms });
    sweeper = startSweeper(deps, config.SWEEP_INTERVAL_MS, config.SWEEP_GRACE_MS);
  }
  if (roles.includes('subscriber')) {
    subscriber = await startFdrSubscriber(deps);
  }
  if (roles.includes('api')) {
    app = await buildApp(deps, { settings, pushVerifier: options.pushVerifier });
    url = await app.listen({ port: config.PORT, host: config.HOST });
  }
  log.info({ roles }, 'service started');

  return {
    deps,
    app,
    url,
    workers,
    subscriber,
    async close() {
      await app?.close();
      await subscriber?.close();
      sweeper?.stop();
      await workers?.close();
      await settings.close();
      await gupshup.close();
      await wms?.close();
      await deps.close();
    },
  };
}

/** BullMQ needs `noeviction`: an evicted job key is a lost or corrupted job. */
async function warnOnEvictionPolicy(deps: Deps): Promise<void> {
  try {
    // The producer connection does not queue commands while connecting: wait for it first.
    if (deps.redis.status !== 'ready') {
      await withTimeout(once(deps.redis, 'ready'), 5_000, 'Redis connection');
    }
    const reply = await deps.redis.config('GET', 'maxmemory-policy');
    const policy = reply[1];
    if (policy && policy !== 'noeviction') {
      deps.log.warn(
        { policy },
        `IMPORTANT: Redis maxmemory-policy is "${policy}"; it must be "noeviction" or queued jobs can be lost`,
      );
    }
  } catch {
    deps.log.warn(
      'could not read Redis maxmemory-policy (CONFIG GET refused); make sure it is "noeviction"',
    );
  }
}
