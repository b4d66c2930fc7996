/**
 * Starts one BullMQ worker per queue of the catalog (role `worker`). Refuses to start unless
 * every queue has exactly one handler. Each worker runs with its queue definition's options
 * (src/queues/*.ts: concurrency, locks, the `message.send` rate limit); each job's data is parsed
 * once here against the queue's schema, and the handler gets the typed payload (a job whose data
 * fails the schema fails for good, `ERR_JOB_PAYLOAD`). Sender accounts are paced to
 * GUPSHUP_SENDER_MAX_PER_SECOND (src/sender-pace.ts) on top of the queue's limiter.
 */
import { Worker, type Processor, type WorkerOptions } from 'bullmq';

import type { CredentialCipher } from '../credentials.ts';
import type { Deps } from '../deps.ts';
import { safeErrorMessage } from '../errors.ts';
import { throttledLog, withLogContext } from '../log.ts';
import { observeJobs } from '../metrics.ts';
import type { ActivityPublisher } from '../pubsub/activity.ts';
import {
  CATALOG,
  parsePayload,
  QUEUE_NAMES,
  type JobHandler,
  type QueueName,
} from '../queues/index.ts';
import { createCustomerPace } from '../customer-pace.ts';
import { createSenderPace } from '../sender-pace.ts';
import { createSenderPause } from '../sender-pause.ts';
import { queuePrefix } from '../redis-keys.ts';
import type { SettingsCache } from '../settings-cache.ts';
import { settlesWithin } from '../timeout.ts';
import { processActivityEmit } from './activity-emit.ts';
import { processDlrProcess } from './dlr-process.ts';
import { processFdrValidate } from './fdr-validate.ts';
import { processMessageSend } from './message-send.ts';
import { processNoReplyCheck } from './no-reply-check.ts';
import { processShipmentStatus } from './shipment-status.ts';
import { processReplyRoute } from './reply-route.ts';

/** What the workers need beyond the clients of `Deps` (Gupshup and the WMS come from there). */
export interface WorkerExtras {
  settings: SettingsCache;
  publisher: ActivityPublisher;
  decrypt: CredentialCipher['decrypt'] | null;
}

export interface Workers {
  workers: Worker[];
  /**
   * Stops fetching jobs and lets the active ones finish. With `timeoutMs`, jobs still running
   * after it are abandoned: the workers are force-closed, the jobs keep their `active` entry
   * until their lock expires, and the stalled-job checker of the next worker to run puts them
   * back in `wait` (nothing is lost, no attempt is used). Resolves with the abandoned job ids.
   */
  close(timeoutMs?: number): Promise<{ abandoned: string[] }>;
}

/** Each queue's handler. */
export type Handlers = { [N in QueueName]: JobHandler<N> };

export function buildHandlers(deps: Deps, extras: WorkerExtras): Handlers {
  const { config, db, queues, log, clock } = deps;
  const { settings } = extras;
  const pace = createSenderPace(
    deps.redis,
    config.QUEUE_PREFIX,
    config.GUPSHUP_SENDER_MAX_PER_SECOND,
  );
  const pause = createSenderPause(deps.redis, config.QUEUE_PREFIX, config.SENDER_PAUSE_PROBE_MS);
  const customers = createCustomerPace(deps.redis, config.QUEUE_PREFIX);
  return {
    'fdr.validate': processFdrValidate({
      config,
      db,
      queues,
      settings,
      clock,
      metrics: deps.metrics,
      log,
      writes: deps.writes,
    }),
    'message.send': processMessageSend({
      config,
      db,
      queues,
      gupshup: deps.gupshup,
      decrypt: extras.decrypt,
      pace,
      pause,
      customers,
      settings,
      clock,
      metrics: deps.metrics,
      log,
      writes: deps.writes,
    }),
    'dlr.process': processDlrProcess({
      config,
      db,
      queues,
      pace,
      pause,
      customers,
      metrics: deps.metrics,
      log,
      writes: deps.writes,
    }),
    'reply.route': processReplyRoute({
      config,
      db,
      queues,
      wms: deps.wms,
      settings,
      clock,
      metrics: deps.metrics,
      log,
    }),
    'activity.emit': processActivityEmit({ db, queues, publisher: extras.publisher, log }),
    'no-reply.check': processNoReplyCheck({
      config,
      db,
      queues,
      settings,
      wms: deps.wms,
      clock,
      log,
    }),
    'shipment.status': processShipmentStatus({ db, queues, metrics: deps.metrics, log }),
  };
}

export function startWorkers(
  deps: Deps,
  extras: WorkerExtras,
  only: QueueName[] = QUEUE_NAMES,
): Workers {
  const handlers = buildHandlers(deps, extras);
  const missing = QUEUE_NAMES.filter((name) => typeof handlers[name] !== 'function');
  if (missing.length > 0) {
    throw new Error(`no handler for queue(s): ${missing.join(', ')}`);
  }
  const { config, log } = deps;
  // Jobs whose processor is running in this process, by id.
  const running = new Set<string>();
  // While Redis is down every worker reports each reconnect attempt.
  const workerError = throttledLog(log, 'error');
  const workers = only.map((name) => {
    const options: WorkerOptions = {
      connection: deps.workerConnection,
      prefix: queuePrefix(config.QUEUE_PREFIX, name),
      ...CATALOG[name].worker(config),
    };
    const processor = withPayload(name, handlers);
    const worker = new Worker(
      name,
      runJob(running, name, withSafeErrors(observeJobs(deps.metrics, name, processor))),
      options,
    );
    worker.on('failed', (job, err) => {
      log.warn(
        { queue: name, jobId: job?.id, attemptsMade: job?.attemptsMade, err: err.message },
        'job failed',
      );
    });
    worker.on('error', (err) =>
      workerError({ queue: name, err: safeErrorMessage(err) }, 'worker error'),
    );
    return worker;
  });
  log.info({ queues: only }, 'workers started');
  return {
    workers,
    async close(timeoutMs) {
      // pause() waits for the active jobs without closing: BullMQ memoises close(), so a
      // close(true) after a close() that is still waiting would not force anything.
      const drained = Promise.all(workers.map((w) => w.pause()));
      const finished = await settlesWithin(drained, timeoutMs ?? Infinity);
      const abandoned = finished ? [] : [...running];
      if (!finished) {
        log.warn(
          { jobIds: abandoned, timeoutMs },
          'shutdown deadline passed: jobs left active for the stalled-job checker to requeue',
        );
      }
      await Promise.all(workers.map((w) => w.close(!finished)));
      return { abandoned };
    },
  };
}

/**
 * The queue's handler behind the one parse of the job's data against the queue's schema: data
 * that fails it throws a PermanentError (`ERR_JOB_PAYLOAD`), so the job fails at once, visibly.
 */
function withPayload<N extends QueueName>(name: N, handlers: Handlers): Processor {
  const handler: JobHandler<N> = handlers[name];
  return async (job, token, signal) => handler(parsePayload(name, job.data), job, token, signal);
}

/**
 * Runs each job with its queue and id on every line it logs, and keeps it in `running` while it
 * runs (what a forced close abandons).
 */
function runJob(running: Set<string>, queue: string, processor: Processor): Processor {
  return async (job, token, signal) => {
    const jobId = job.id ?? '';
    running.add(jobId);
    try {
      return await withLogContext({ queue, jobId }, async () => {
        return (await processor(job, token, signal)) as unknown;
      });
    } finally {
      running.delete(jobId);
    }
  };
}

/**
 * A failed job keeps its error message in Redis (and Bull Board shows it): strip what a driver
 * error may quote (SQL parameters holding names and numbers) before BullMQ stores it. The error
 * keeps its class, so permanent failures stay permanent.
 */
function withSafeErrors(processor: Processor): Processor {
  return async (job, token, signal) => {
    try {
      return (await processor(job, token, signal)) as unknown;
    } catch (err) {
      if (err instanceof Error) {
        err.message = safeErrorMessage(err);
        err.stack = `${err.name}: ${err.message}`;
      }
      throw err;
    }
  };
}
