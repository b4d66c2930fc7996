/**
 * createDeps(config): every long-lived client of the process, built here and nowhere else — the
 * MySQL pool, Redis (through the factories of src/redis.ts), the queues, Pub/Sub, and the
 * outbound HTTP clients (Gupshup sends and template lists, the WMS, the integration engine; each
 * its own undici pool, src/outbound.ts) — plus the logger and metrics. The service, its roles and
 * the CLI (src/cli/context.ts) all take their clients from here; `close()` closes them all.
 */
import { PubSub } from '@google-cloud/pubsub';
import type { ConnectionOptions } from 'bullmq';

import { systemClock, type Clock } from './clock.ts';
import type { Config } from './config.ts';
import { createDb, type Db, type DbHandle } from './db/client.ts';
import { createWriteBatcher, type WriteBatcher } from './db/write-batcher.ts';
import { createGupshupClient } from './gupshup/client.ts';
import { createTemplateListClient, type TemplateListClient } from './gupshup/templates.ts';
import type { GupshupClient } from './gupshup/types.ts';
import {
  createIntegrationEngineClient,
  type IntegrationEngineClient,
} from './integration-engine.ts';
import { createLog, throttledLog, type Log } from './log.ts';
import {
  createMetrics,
  instrumentGupshup,
  instrumentWms,
  type Metrics,
  type SenderStates,
} from './metrics.ts';
import { closeQueues, createQueues, type Queues } from './queues/index.ts';
import {
  closeWorkerConnection,
  createRedisClient,
  workerConnectionOptions,
  type RedisClient,
} from './redis.ts';
import { createSenderPace } from './sender-pace.ts';
import { createSenderPause } from './sender-pause.ts';
import { createWmsClient, type WmsClient } from './wms/client.ts';

export interface Deps {
  config: Config;
  log: Log;
  db: Db;
  dbHandle: DbHandle;
  /**
   * Producer connection (one server, or the cluster of REDIS_CLUSTER_NODES): fails fast while
   * Redis is down instead of queueing commands.
   */
  redis: RedisClient;
  /** What BullMQ workers connect with (blocking, retry forever; src/redis.ts). */
  workerConnection: ConnectionOptions;
  queues: Queues;
  pubsub: PubSub;
  metrics: Metrics;
  /** Group commit of concurrent durable writes (src/db/write-batcher.ts). */
  writes: WriteBatcher;
  /** The wall clock quiet hours and the no-reply rule are judged by (src/clock.ts). */
  clock: Clock;
  /** Sends through Gupshup (Enterprise and self-serve APIs), timed into /metrics. */
  gupshup: GupshupClient;
  /** The WMS, timed into /metrics; null when WMS_API_URL is not set (replies not acted on). */
  wms: WmsClient | null;
  /** Reads clients' template lists from Gupshup, to verify templates. */
  templateLists: TemplateListClient;
  /** Lists a client's Gupshup apps; null when INTEGRATION_ENGINE_URL is not set. */
  integrationEngine: IntegrationEngineClient | null;
  close(): Promise<void>;
}

export { redisOptions } from './redis.ts';

export function createPubSub(config: Config): PubSub {
  return new PubSub({
    projectId: config.PUBSUB_PROJECT_ID,
    ...(config.PUBSUB_EMULATOR_HOST
      ? { apiEndpoint: config.PUBSUB_EMULATOR_HOST, emulatorMode: true }
      : {}),
  });
}

/** The per-sender gauges' source: pace and pause state in Redis, shared by every replica. */
function senderStates(redis: RedisClient, config: Config): SenderStates {
  const pace = createSenderPace(redis, config.QUEUE_PREFIX, config.GUPSHUP_SENDER_MAX_PER_SECOND);
  const pause = createSenderPause(redis, config.QUEUE_PREFIX, config.SENDER_PAUSE_PROBE_MS);
  return {
    paces: () => pace.paces(),
    paused: async () => (await pause.list()).map((p) => p.connection),
  };
}

export function createDeps(
  config: Config,
  log: Log = createLog(config.LOG_LEVEL),
  clock: Clock = systemClock,
): Deps {
  const dbHandle = createDb(config.DATABASE_URL);
  const redis = createRedisClient(config);
  const warn = throttledLog(log);
  redis.on('error', (err: Error) => warn({ err: err.message }, 'redis connection error'));
  const workerConnection = workerConnectionOptions(config);
  const queues = createQueues(redis, config, (queue, err) =>
    warn({ queue, err: err.message }, 'queue connection error'),
  );
  const pubsub = createPubSub(config);
  const writes = createWriteBatcher(dbHandle.db);
  const metrics = createMetrics(queues, senderStates(redis, config));
  const http = createHttpClients(config, metrics);
  return {
    config,
    log,
    db: dbHandle.db,
    dbHandle,
    redis,
    workerConnection,
    queues,
    pubsub,
    metrics,
    writes,
    clock,
    ...http,
    async close() {
      // The HTTP pools close alongside: one may wait for a request nobody awaits any more (after
      // a forced shutdown), which must not keep Redis and MySQL open.
      const pools = Promise.all([
        http.gupshup.close(),
        http.wms?.close(),
        http.templateLists.close(),
        http.integrationEngine?.close(),
      ]);
      pools.catch(() => undefined);
      await writes.close();
      await closeQueues(queues);
      await pubsub.close().catch(() => undefined);
      redis.disconnect();
      closeWorkerConnection(workerConnection);
      await dbHandle.close();
      await pools;
    },
  };
}

type HttpClients = Pick<Deps, 'gupshup' | 'wms' | 'templateLists' | 'integrationEngine'>;

/** The outbound HTTP clients; the Gupshup and WMS ones timed into /metrics where created. */
function createHttpClients(config: Config, metrics: Metrics): HttpClients {
  return {
    gupshup: instrumentGupshup(
      createGupshupClient({
        enterpriseUrl: config.GUPSHUP_ENTERPRISE_URL,
        selfServeUrl: config.GUPSHUP_SELF_SERVE_URL,
        timeoutMs: config.GUPSHUP_TIMEOUT_MS,
        templateMsgType: config.GUPSHUP_TEMPLATE_MSG_TYPE,
        interactiveUnsupported:
          config.GUPSHUP_INTERACTIVE_UNSUPPORTED_CODES === 'all'
            ? 'all'
            : new Set(config.GUPSHUP_INTERACTIVE_UNSUPPORTED_CODES),
      }),
      metrics,
    ),
    wms: config.WMS_API_URL
      ? instrumentWms(
          createWmsClient({
            baseUrl: config.WMS_API_URL,
            timeoutMs: config.WMS_TIMEOUT_MS,
            token: config.WMS_API_TOKEN,
          }),
          metrics,
        )
      : null,
    templateLists: createTemplateListClient({
      enterpriseUrl: config.GUPSHUP_TEMPLATE_LIST_URL,
      selfServeUrl: config.GUPSHUP_SELF_SERVE_URL,
      timeoutMs: config.GUPSHUP_TIMEOUT_MS,
    }),
    integrationEngine: config.INTEGRATION_ENGINE_URL
      ? createIntegrationEngineClient({ baseUrl: config.INTEGRATION_ENGINE_URL })
      : null,
  };
}
