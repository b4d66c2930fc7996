/**
 * Starts one BullMQ worker per queue of the catalog (role `worker`). Refuses to start unless
 * every queue has exactly one processor. `message.send` is rate limited across all replicas
 * (BullMQ's limiter lives in Redis) to GUPSHUP_MAX_PER_SECOND.
 */
import { Worker, type Processor, type WorkerOptions } from 'bullmq';

import type { Deps } from '../deps.ts';
import { safeErrorMessage } from '../errors.ts';
import type { GupshupClient } from '../gupshup/enterprise.ts';
import type { ActivityPublisher } from '../pubsub/activity.ts';
import { QUEUE_NAMES, type QueueName } from '../queues/index.ts';
import type { SettingsCache } from '../settings-cache.ts';
import type { WmsClient } from '../wms/client.ts';
import { processActivityEmit } from './activity-emit.ts';
import { processDlrProcess } from './dlr-process.ts';
import { processFdrValidate } from './fdr-validate.ts';
import { processMessageSend } from './message-send.ts';
import { processReplyRoute } from './reply-route.ts';

export interface WorkerExtras {
  gupshup: GupshupClient;
  settings: SettingsCache;
  publisher: ActivityPublisher;
  decrypt: ((ciphertext: string) => string) | null;
  /** Null when WMS_API_URL is not set: replies are then recorded but not acted on. */
  wms: WmsClient | null;
}

export interface Workers {
  workers: Worker[];
  close(): Promise<void>;
}

export function buildProcessors(deps: Deps, extras: WorkerExtras): Record<QueueName, Processor> {
  const { config, db, queues, log } = deps;
  return {
    'fdr.validate': processFdrValidate({ config, db, queues, settings: extras.settings, log }),
    'message.send': processMessageSend({
      config,
      db,
      queues,
      gupshup: extras.gupshup,
      decrypt: extras.decrypt,
      log,
    }),
    'dlr.process': processDlrProcess({ config, db, queues, log }),
    'reply.route': processReplyRoute({
      config,
      db,
      queues,
      wms: extras.wms,
      metrics: deps.metrics,
      log,
    }),
    'activity.emit': processActivityEmit({ db, publisher: extras.publisher, log }),
  };
}

export function startWorkers(
  deps: Deps,
  extras: WorkerExtras,
  only: QueueName[] = QUEUE_NAMES,
): Workers {
  const processors = buildProcessors(deps, extras);
  const missing = QUEUE_NAMES.filter((name) => typeof processors[name] !== 'function');
  if (missing.length > 0) {
    throw new Error(`no processor for queue(s): ${missing.join(', ')}`);
  }
  const { config, log } = deps;
  const workers = only.map((name) => {
    const options: WorkerOptions = {
      connection: deps.workerConnection,
      prefix: config.QUEUE_PREFIX,
      concurrency: config.WORKER_CONCURRENCY,
      ...(name === 'message.send'
        ? { limiter: { max: config.GUPSHUP_MAX_PER_SECOND, duration: 1_000 } }
        : {}),
    };
    const worker = new Worker(name, withSafeErrors(processors[name]), options);
    worker.on('failed', (job, err) => {
      log.warn(
        { queue: name, jobId: job?.id, attemptsMade: job?.attemptsMade, err: err.message },
        'job failed',
      );
    });
    worker.on('error', (err) =>
      log.error({ queue: name, err: safeErrorMessage(err) }, 'worker error'),
    );
    return worker;
  });
  log.info({ queues: only }, 'workers started');
  return {
    workers,
    async close() {
      await Promise.all(workers.map((w) => w.close()));
    },
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
