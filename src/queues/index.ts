/**
 * The queue catalog: every producer and consumer imports queue names and payload schemas from
 * here, so no queue name is ever a bare string elsewhere. Each queue's definition (src/queues/*.ts)
 * also owns its job options (attempts, backoff, retention) and its worker's options (concurrency,
 * locks, the `message.send` rate limit), which the worker runner (src/workers/main.ts) applies.
 */
import { Queue, type ConnectionOptions, type Job, type JobsOptions } from 'bullmq';
import { Cluster, Redis } from 'ioredis';
import * as v from 'valibot';

import type { Config } from '../config.ts';
import { PermanentError } from '../errors.ts';
import { queuePrefix } from '../redis-keys.ts';
import type { RedisClient } from '../redis.ts';
import { withTimeout } from '../timeout.ts';
import { activityEmit } from './activity-emit.ts';
import type { QueueDefinition } from './definition.ts';
import { dlrProcess } from './dlr-process.ts';
import { fdrValidate } from './fdr-validate.ts';
import { messageSend } from './message-send.ts';
import { noReplyCheck } from './no-reply-check.ts';
import { replyRoute } from './reply-route.ts';
import { shipmentStatus } from './shipment-status.ts';

export {
  activityEmit,
  dlrProcess,
  fdrValidate,
  messageSend,
  noReplyCheck,
  replyRoute,
  shipmentStatus,
};
export type { QueueDefinition };

export const CATALOG = {
  'fdr.validate': fdrValidate,
  'message.send': messageSend,
  'dlr.process': dlrProcess,
  'reply.route': replyRoute,
  'activity.emit': activityEmit,
  'no-reply.check': noReplyCheck,
  'shipment.status': shipmentStatus,
} as const;

export type QueueName = keyof typeof CATALOG;
export const QUEUE_NAMES = Object.keys(CATALOG) as QueueName[];
export type PayloadOf<N extends QueueName> = v.InferOutput<(typeof CATALOG)[N]['payload']>;

/**
 * What a queue's worker runs for each job: the payload already parsed against the queue's schema
 * (once, by the worker runner, src/workers/main.ts; a payload that fails it fails the job for
 * good), and the job itself for what BullMQ offers beyond it (delaying, attempts, the data a
 * handler keeps with the job between runs).
 */
export type JobHandler<N extends QueueName> = (
  payload: PayloadOf<N>,
  job: Job<unknown>,
  token: string | undefined,
  signal: AbortSignal | undefined,
) => Promise<unknown>;

const ENQUEUE_TIMEOUT_MS = 3_000;

export type Queues = { [N in QueueName]: Queue<PayloadOf<N>> };

/**
 * Completed jobs are kept briefly, for inspection in Bull Board (MySQL holds the durable record):
 * each queue's definition says how long and how many (README, Retention); failed ones stay a
 * week, for `wa-notify requeue`. These are the defaults a definition does not override.
 */
const RETENTION: JobsOptions = {
  removeOnComplete: { age: 3_600, count: 1_000 },
  removeOnFail: { age: 7 * 24 * 3_600 },
};

/** The Redis connection each set of queues was made on, for the few commands beside BullMQ's. */
const connections = new WeakMap<Queues, RedisClient>();

/** The Redis client `queues` share (createQueues must have been given one). */
export function queuesRedis(queues: Queues): RedisClient {
  const redis = connections.get(queues);
  if (!redis) {
    throw new Error('these queues were not made on a shared Redis connection');
  }
  return redis;
}

export function createQueues(
  connection: ConnectionOptions,
  config: Config,
  onError: (queue: QueueName, err: Error) => void = () => undefined,
): Queues {
  const make = <N extends QueueName>(name: N) => {
    const queue = new Queue<PayloadOf<N>>(name, {
      connection,
      // Each queue's keys in one cluster slot of their own (src/redis-keys.ts).
      prefix: queuePrefix(config.QUEUE_PREFIX, name),
      defaultJobOptions: { ...RETENTION, ...CATALOG[name].options(config) },
    });
    queue.on('error', (err) => onError(name, err));
    return queue;
  };
  const queues: Queues = {
    'fdr.validate': make('fdr.validate'),
    'message.send': make('message.send'),
    'dlr.process': make('dlr.process'),
    'reply.route': make('reply.route'),
    'activity.emit': make('activity.emit'),
    'no-reply.check': make('no-reply.check'),
    'shipment.status': make('shipment.status'),
  };
  if (connection instanceof Redis || connection instanceof Cluster) {
    connections.set(queues, connection);
  }
  return queues;
}

/**
 * Adds one job, validated against the queue's schema, with its deterministic job id (adding an
 * id that is still in the queue is a no-op).
 */
export async function enqueue<N extends QueueName>(
  queues: Queues,
  name: N,
  payload: PayloadOf<N>,
  options: JobsOptions = {},
): Promise<string> {
  const def = CATALOG[name] as unknown as QueueDefinition<PayloadOf<N>>;
  const data = v.parse(def.payload, payload);
  const queue = queues[name] as unknown as Queue<PayloadOf<N>>;
  // BullMQ waits for a connection that is down; callers (ingress above all) must fail fast
  // instead, so that Pub/Sub redelivers and HTTP callers get an answer.
  const job = await withTimeout(
    queue.add(name as never, data as never, { jobId: def.jobId(data), ...options }),
    ENQUEUE_TIMEOUT_MS,
    `enqueue on ${name}`,
  );
  return job.id ?? def.jobId(data);
}

export async function closeQueues(queues: Queues): Promise<void> {
  await Promise.all(Object.values(queues).map((q) => q.close()));
}

/**
 * Validates a job's data against its queue schema; a malformed job fails at once, visibly (the
 * worker runner calls it before every handler).
 */
export function parsePayload<N extends QueueName>(name: N, data: unknown): PayloadOf<N> {
  const result = v.safeParse(CATALOG[name].payload, data);
  if (!result.success) {
    throw new PermanentError(
      'ERR_JOB_PAYLOAD',
      `${name} job data is invalid: ${result.issues.map((i) => i.message).join('; ')}`,
    );
  }
  return result.output;
}
