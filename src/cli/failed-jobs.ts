/**
 * `wa-notify failed <queue>`: the failed set of one queue, filtered (filters.ts), newest failure
 * first, each job with its shipment, attempts and last error. `requeue` starts from the same list.
 */
import type { Job, Queue } from 'bullmq';

import type { Db } from '../db/client.ts';
import type { QueueName, Queues } from '../queues/index.ts';
import {
  describeFilter,
  errorCodeOf,
  matchesFailedJob,
  sinceCutoff,
  type FailedFilter,
} from './filters.ts';
import { findJobShipments } from './job-shipments.ts';
import { formatTime, isoTime, renderTable, truncate } from './output.ts';

/** Failed jobs are read from Redis this many at a time. */
const PAGE = 200;

/** The failed set of a queue, without the payload types (the CLI treats every queue alike). */
export function queueOf(queues: Queues, name: QueueName): Queue<unknown> {
  return queues[name] as unknown as Queue<unknown>;
}

/**
 * The failed jobs that match, newest failure first, at most `filter.limit`; `more` tells whether
 * the limit left matching jobs out.
 */
export async function findFailedJobs(
  queue: Queue<unknown>,
  filter: FailedFilter,
  now = Date.now(),
): Promise<{ jobs: Job<unknown>[]; more: boolean }> {
  const cutoff = sinceCutoff(filter, now);
  const limit = filter.limit ?? Number.POSITIVE_INFINITY;
  const jobs: Job<unknown>[] = [];
  for (let start = 0; ; start += PAGE) {
    const page = await queue.getFailed(start, start + PAGE - 1);
    for (const job of page) {
      if (job.id !== undefined && matchesFailedJob(job, filter, now)) {
        if (jobs.length >= limit) {
          return { jobs, more: true };
        }
        jobs.push(job);
      }
    }
    // The failed set is ordered by failure time: once a page reaches past --since, stop.
    const oldest = page.at(-1)?.finishedOn;
    if (page.length < PAGE || (cutoff !== null && oldest !== undefined && oldest < cutoff)) {
      return { jobs, more: false };
    }
  }
}

/** One failed job as `failed` shows it. */
export interface FailedJobView {
  id: string;
  shipmentId: string | null;
  attemptsMade: number;
  /** The attempts the job was allowed. */
  attempts: number;
  failedAt: string | null;
  code: string | null;
  lastError: string;
  /** The job's payload: row ids only, by design of the catalog. */
  data: unknown;
}

export interface FailedList {
  queue: QueueName;
  filter: string;
  count: number;
  /** More jobs matched than --limit let through. */
  more: boolean;
  jobs: FailedJobView[];
}

export async function listFailed(
  deps: { db: Db; queues: Queues },
  name: QueueName,
  filter: FailedFilter,
): Promise<FailedList> {
  const { jobs, more } = await findFailedJobs(queueOf(deps.queues, name), filter);
  const shipments = await findJobShipments(deps.db, name, jobs.map(jobRef));
  return {
    queue: name,
    filter: describeFilter(filter),
    count: jobs.length,
    more,
    jobs: jobs.map((job) => ({
      id: job.id ?? '',
      shipmentId: shipments.get(job.id ?? '') ?? null,
      attemptsMade: job.attemptsMade,
      attempts: Math.max(job.opts.attempts ?? 1, 1),
      failedAt: isoTime(job.finishedOn),
      code: errorCodeOf(job.failedReason),
      lastError: job.failedReason ?? '',
      data: job.data,
    })),
  };
}

export function jobRef(job: Job<unknown>): { id: string; data: unknown } {
  return { id: job.id ?? '', data: job.data };
}

export function renderFailed(list: FailedList): string {
  if (list.count === 0) {
    return `No failed ${list.queue} jobs${list.filter}.\n`;
  }
  const rows = list.jobs.map((job) => [
    job.id,
    job.shipmentId ?? '-',
    `${job.attemptsMade}/${job.attempts}`,
    formatTime(job.failedAt === null ? null : Date.parse(job.failedAt)),
    truncate(job.lastError, 100),
  ]);
  const head = `${list.count}${list.more ? '+' : ''} failed ${list.queue} job(s)${list.filter}`;
  const tail = list.more ? 'More jobs match: raise --limit or narrow the filters.\n' : '';
  return `${head}\n\n${renderTable(['JOB', 'SHIPMENT', 'ATTEMPTS', 'FAILED AT', 'LAST ERROR'], rows)}${tail}`;
}
