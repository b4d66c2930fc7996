/**
 * createDeps(config): the few long-lived clients every role shares (MySQL pool, Redis, queues,
 * Pub/Sub, logger), built once per process and closed in reverse order.
 */
import { PubSub } from '@google-cloud/pubsub';
import type { ConnectionOptions } from 'bullmq';

import { systemClock, type Clock } from './clock.ts';
import type { Config } from './config.ts';
import { createDb, type Db, type DbHandle } from './db/client.ts';
import { createWriteBatcher, type WriteBatcher } from './db/write-batcher.ts';
import { createLog, throttledLog, type Log } from './log.ts';
import { createMetrics, type Metrics, type SenderStates } from './metrics.ts';
import { closeQueues, createQueues, type Queues } from './queues/index.ts';
import {
  closeWorkerConnection,
  createRedisClient,
  workerConnectionOptions,
  type RedisClient,
} from './redis.ts';
import { createSenderPace } from './sender-pace.ts';
import { createSenderPause } from './sender-pause.ts';

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
  return {
    config,
    log,
    db: dbHandle.db,
    dbHandle,
    redis,
    workerConnection,
    queues,
    pubsub,
    metrics: createMetrics(queues, senderStates(redis, config)),
    writes,
    clock,
    async close() {
      await writes.close();
      await closeQueues(queues);
      await pubsub.close().catch(() => undefined);
      redis.disconnect();
      closeWorkerConnection(workerConnection);
      await dbHandle.close();
    },
  };
}
