/**
 * `wa-notify queues`, `pause` and `resume`: job counts per queue and state, and the queue-wide
 * pause flag (kept in Redis, so it stops every worker replica until resumed).
 */
import { QUEUE_NAMES, type QueueName, type Queues } from '../queues/index.ts';
import { queueOf } from './failed-jobs.ts';
import { renderTable } from './output.ts';

export interface QueueCounts {
  queue: QueueName;
  paused: boolean;
  /** Jobs ready to run (prioritised ones included). */
  waiting: number;
  active: number;
  delayed: number;
  failed: number;
  /** Completed jobs still kept (an hour, at most 10 000; MySQL is the durable record). */
  completed: number;
}

export async function countQueues(queues: Queues): Promise<QueueCounts[]> {
  return Promise.all(
    QUEUE_NAMES.map(async (name) => {
      const queue = queueOf(queues, name);
      const [counts, paused] = await Promise.all([
        queue.getJobCounts('waiting', 'prioritized', 'active', 'delayed', 'failed', 'completed'),
        queue.isPaused(),
      ]);
      return {
        queue: name,
        paused,
        waiting: (counts.waiting ?? 0) + (counts.prioritized ?? 0),
        active: counts.active ?? 0,
        delayed: counts.delayed ?? 0,
        failed: counts.failed ?? 0,
        completed: counts.completed ?? 0,
      };
    }),
  );
}

export function renderQueues(rows: QueueCounts[]): string {
  return renderTable(
    ['QUEUE', 'STATE', 'WAITING', 'ACTIVE', 'DELAYED', 'FAILED', 'COMPLETED'],
    rows.map((r) => [
      r.queue,
      r.paused ? 'paused' : 'running',
      String(r.waiting),
      String(r.active),
      String(r.delayed),
      String(r.failed),
      String(r.completed),
    ]),
  );
}

/** Pauses or resumes a queue; says whether that changed anything. */
export async function setPaused(
  queues: Queues,
  name: QueueName,
  paused: boolean,
): Promise<{ queue: QueueName; paused: boolean; changed: boolean }> {
  const queue = queueOf(queues, name);
  const was = await queue.isPaused();
  if (paused) {
    await queue.pause();
  } else {
    await queue.resume();
  }
  return { queue: name, paused, changed: was !== paused };
}
