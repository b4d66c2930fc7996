import { MetricsTime, type JobsOptions, type WorkerOptions } from 'bullmq';
import type * as v from 'valibot';

import type { Config } from '../config.ts';

/**
 * How a queue's worker runs, as the queue's definition says: how many jobs at once, how long a
 * job's lock lasts, a rate limit. The connection and the key prefix are the process's, added by
 * the worker runner (src/workers/main.ts).
 */
export type QueueWorkerOptions = Pick<
  WorkerOptions,
  'concurrency' | 'lockDuration' | 'stalledInterval' | 'maxStalledCount' | 'metrics' | 'limiter'
>;

/** One queue of the catalog: its name, payload schema, job id, job and worker options. */
export interface QueueDefinition<P> {
  name: string;
  payload: v.GenericSchema<unknown, P>;
  /** Deterministic job id: never all digits, never containing ':'. */
  jobId(payload: P): string;
  options(config: Config): JobsOptions;
  worker(config: Config): QueueWorkerOptions;
}

/** The worker options every queue shares unless its definition says otherwise. */
export function defaultWorkerOptions(config: Config): QueueWorkerOptions {
  return {
    concurrency: config.WORKER_CONCURRENCY,
    // A job whose worker died is run again (every processor is idempotent), however often that
    // happens: a stall is not a failure of the work. The bound only stops a job that kills
    // every worker that runs it from looping for ever.
    lockDuration: config.JOB_LOCK_MS,
    stalledInterval: config.JOB_STALLED_INTERVAL_MS,
    maxStalledCount: config.JOB_MAX_STALLS,
    // BullMQ's own per-minute completed/failed counts, kept in Redis for two weeks: Bull Board
    // charts them, and they survive restarts of this process (Prometheus counters do not).
    metrics: { maxDataPoints: MetricsTime.TWO_WEEKS },
  };
}
