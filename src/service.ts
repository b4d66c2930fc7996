/**
 * startService(config, roles): takes the shared clients from `createDeps` (src/deps.ts) and
 * starts the chosen roles in this process: `api` (HTTP), `worker` (queue workers and the
 * sweeper), `subscriber` (Pub/Sub pull). `close(timeoutMs)` stops taking work first, lets work
 * in flight finish (up to the deadline), then closes the clients.
 */
import { once } from 'node:events';

import type { FastifyInstance } from 'fastify';

import type { Clock } from './clock.ts';
import { relaxations, type Config, type Role } from './config.ts';
import { createCredentialCipher } from './credentials.ts';
import { prepareDatabase } from './db/migrate.ts';
import { createDeps, type Deps } from './deps.ts';
import { safeErrorMessage } from './errors.ts';
import { buildApp, type AppExtras } from './http/app.ts';
import { createLog, logSecrets, type Log } from './log.ts';
import { createActivityPublisher } from './pubsub/activity.ts';
import { startFdrSubscriber, type FdrSubscriber } from './pubsub/subscriber.ts';
import { ensureTopic } from './pubsub/topics.ts';
import { createSettingsCache } from './settings-cache.ts';
import { startRetention } from './retention.ts';
import { startSweeper } from './sweeper.ts';
import { settlesWithin, withTimeout } from './timeout.ts';
import { startWorkers, type Workers } from './workers/main.ts';

export interface Service {
  deps: Deps;
  app: FastifyInstance | null;
  /** The address the API listens on, when the `api` role runs. */
  url: string | null;
  workers: Workers | null;
  subscriber: FdrSubscriber | null;
  /**
   * Stops taking work (HTTP, Pub/Sub pull, the sweeper, workers fetching jobs), lets jobs in
   * flight finish, then closes Redis, MySQL and Pub/Sub. With `timeoutMs`, jobs still running at
   * the deadline are abandoned to the stalled-job checker (see `Workers.close`) and the clients
   * get a short grace each, so the whole close takes about `timeoutMs` at most.
   */
  close(timeoutMs?: number): Promise<void>;
}

/** What each client gets to close once the deadline has passed (a pool may hold a dead send). */
const CLIENT_CLOSE_GRACE_MS = 1_000;

export interface ServiceOptions {
  log?: Log;
  /** The wall clock for quiet hours and the no-reply rule; real time unless a test moves its own. */
  clock?: Clock;
  pushVerifier?: AppExtras['pushVerifier'];
}

export async function startService(
  config: Config,
  roles: readonly Role[],
  options: ServiceOptions = {},
): Promise<Service> {
  const log = options.log ?? createLog(config.LOG_LEVEL, undefined, logSecrets(config));
  if (config.DB_MIGRATE_ON_START) {
    await prepareDatabase(config.DATABASE_URL, log);
  }
  const deps = createDeps(config, log, options.clock);
  await warnOnEvictionPolicy(deps);
  const settings = await createSettingsCache({
    db: deps.db,
    redis: deps.redis,
    prefix: config.QUEUE_PREFIX,
    ttlMs: config.SETTINGS_CACHE_TTL_MS,
    log,
    metrics: deps.metrics,
  });
  let app: FastifyInstance | null = null;
  let url: string | null = null;
  let workers: Workers | null = null;
  let subscriber: FdrSubscriber | null = null;
  let sweeper: { stop(): void } | null = null;
  let retention: { stop(): void } | null = null;

  if (roles.includes('worker')) {
    if (config.PUBSUB_EMULATOR_HOST) {
      await ensureTopic(deps.pubsub, config.ACTIVITY_TOPIC);
    }
    const publisher = createActivityPublisher(deps.pubsub, config.ACTIVITY_TOPIC);
    const cipher = createCredentialCipher(config);
    workers = startWorkers(deps, {
      settings,
      publisher,
      decrypt: cipher?.decrypt ?? null,
    });
    sweeper = startSweeper(
      { ...deps, outcomes: { ...deps, settings } },
      config.SWEEP_INTERVAL_MS,
      config.SWEEP_GRACE_MS,
      config.NO_REPLY_QUEUE_AHEAD_MS,
    );
    retention = startRetention(
      { ...deps, prefix: config.QUEUE_PREFIX },
      {
        days: config.RETENTION_DAYS,
        personalDataDays: config.PERSONAL_DATA_RETENTION_DAYS,
        intervalMs: config.RETENTION_INTERVAL_MS,
        batch: config.RETENTION_BATCH,
        maxBatches: 100,
        pauseMs: 50,
      },
    );
  }
  if (roles.includes('subscriber')) {
    subscriber = await startFdrSubscriber(deps);
  }
  if (roles.includes('api')) {
    app = await buildApp(deps, {
      settings,
      pushVerifier: options.pushVerifier,
      subscription: subscriber?.subscription ?? null,
    });
    url = await app.listen({ port: config.PORT, host: config.HOST });
  }
  const relaxed = relaxations(config);
  if (relaxed.length > 0) {
    log.warn(
      { nodeEnv: config.NODE_ENV, relaxations: relaxed },
      `NODE_ENV=${config.NODE_ENV} is not production: it ${relaxed.join('; ')}`,
    );
  }
  log.info({ roles }, 'service started');

  return {
    deps,
    app,
    url,
    workers,
    subscriber,
    async close(timeoutMs) {
      const started = Date.now();
      const deadline = timeoutMs === undefined ? Infinity : started + timeoutMs;
      const left = () => Math.max(deadline - Date.now(), 0);
      // Stop taking work everywhere at once, so the workers get the whole budget: what HTTP
      // requests and Pub/Sub messages in flight still enqueue waits in Redis for the next run.
      sweeper?.stop();
      retention?.stop();
      log.info({ timeoutMs: timeoutMs ?? null }, 'service stopping');
      const draining = workers?.close(timeoutMs) ?? Promise.resolve({ abandoned: [] });
      const intake = Promise.all([app?.close(), subscriber?.close()]).catch((err: unknown) =>
        log.error({ err: safeErrorMessage(err) }, 'stopping HTTP or the subscriber failed'),
      );
      if (!(await settlesWithin(intake, left()))) {
        log.warn('HTTP or the Pub/Sub subscriber did not stop by the shutdown deadline');
      }
      log.debug('HTTP and the subscriber stopped; waiting for the workers');
      const { abandoned } = await draining;
      log.debug({ abandoned: abandoned.length }, 'workers stopped; closing the clients');
      // Each client closes in parallel and is waited for at most a short grace past the
      // deadline: after a forced close the Gupshup pool may still hold a send nobody awaits.
      const grace = () => Math.max(left(), CLIENT_CLOSE_GRACE_MS);
      const clients = [settings.close(), deps.close()].map((c) =>
        c.catch((err: unknown) =>
          log.error({ err: safeErrorMessage(err) }, 'closing a client failed'),
        ),
      );
      const closed = await Promise.all(clients.map((c) => settlesWithin(c, grace())));
      log.info(
        {
          ms: Date.now() - started,
          abandonedJobs: abandoned.length,
          clientsClosed: closed.every(Boolean),
        },
        'service stopped',
      );
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
      deps.redis.status === 'ready'
        ? 'could not read Redis maxmemory-policy (CONFIG GET refused); make sure it is "noeviction"'
        : 'Redis is not reachable yet: starting anyway (/readyz says so until it is); could not check that maxmemory-policy is "noeviction"',
    );
  }
}
