/**
 * `wa-notify requeue <queue>`: moves matching failed jobs back to waiting (the design card's
 * "re-queuing failed sends"), each with its full retry budget again.
 *
 * `message.send` keeps its guarantee that a message is sent once: the worker never claims an
 * outbox row that is `sent` or `failed`, so the row of a failed send is put back to `pending`
 * first (only if it is `failed`; a concurrent change wins) and the job retried after. A row
 * already `sent` is skipped and reported, its job left in the failed set: requeueing it could
 * not send anything, and saying so is what the operator needs to know. Even if the check races
 * with a send, the worker's claim stays the last guard.
 *
 * The other queues' processors skip rows already handled, so their jobs are simply retried.
 */
import type { Job } from 'bullmq';
import * as v from 'valibot';

import type { Db } from '../db/client.ts';
import { findOutbox, reopenFailedOutbox } from '../db/outbox.ts';
import { messageSend, type QueueName, type Queues } from '../queues/index.ts';
import { jobRef, queueOf } from './failed-jobs.ts';
import { findJobShipments } from './job-shipments.ts';
import { renderTable } from './output.ts';

export type RequeueAction = 'requeued' | 'skipped' | 'would_requeue' | 'would_skip';

export interface RequeueOutcome {
  id: string;
  shipmentId: string | null;
  action: RequeueAction;
  /** Why a job was skipped, or what requeueing it involved. */
  note: string | null;
}

export interface RequeueResult {
  queue: QueueName;
  filter: string;
  dryRun: boolean;
  matched: number;
  requeued: number;
  skipped: number;
  jobs: RequeueOutcome[];
}

type Gate =
  { ok: true; note: string | null; resetOutboxId: number | null } | { ok: false; note: string };

/** Whether a failed `message.send` job may run again, judged by its outbox row. */
async function gateMessageSend(db: Db, job: Job<unknown>): Promise<Gate> {
  const parsed = v.safeParse(messageSend.payload, job.data);
  if (!parsed.success) {
    return { ok: true, note: 'job data is malformed; it will fail again', resetOutboxId: null };
  }
  const outbox = await findOutbox(db, parsed.output.outboxId);
  if (!outbox) {
    return { ok: false, note: `outbox row ${parsed.output.outboxId} does not exist` };
  }
  if (outbox.status === 'sent') {
    return {
      ok: false,
      note: `already sent (Gupshup id ${outbox.gupshupMessageId ?? 'unknown'}); not sent again`,
    };
  }
  return outbox.status === 'failed'
    ? { ok: true, note: 'outbox row failed → pending', resetOutboxId: outbox.id }
    : { ok: true, note: `outbox row is ${outbox.status}`, resetOutboxId: null };
}

/**
 * Moves the job from failed to waiting with its attempts reset. Between listing and now the job
 * may have been retried by someone else (then it is left alone) or removed by retention (then it
 * is added again under the same id, so a later duplicate add stays a no-op).
 */
async function retryJob(
  queues: Queues,
  name: QueueName,
  job: Job<unknown>,
): Promise<{ ok: true; note: string | null } | { ok: false; note: string }> {
  try {
    await job.retry('failed', { resetAttemptsMade: true, resetAttemptsStarted: true });
    return { ok: true, note: null };
  } catch {
    const queue = queueOf(queues, name);
    const state = await queue.getJobState(job.id ?? '');
    if (state !== 'unknown') {
      return { ok: false, note: `no longer failed (now ${state})` };
    }
    await queue.add(job.name, job.data, { ...job.opts, jobId: job.id });
    return { ok: true, note: 'job was gone from Redis; added again' };
  }
}

export async function requeueJobs(
  deps: { db: Db; queues: Queues },
  name: QueueName,
  jobs: readonly Job<unknown>[],
  opts: { dryRun: boolean; filter: string; onProgress?: (done: number) => void },
): Promise<RequeueResult> {
  const shipments = await findJobShipments(deps.db, name, jobs.map(jobRef));
  const outcomes: RequeueOutcome[] = [];
  for (const job of jobs) {
    const id = job.id ?? '';
    const shipmentId = shipments.get(id) ?? null;
    const gate: Gate =
      name === 'message.send'
        ? await gateMessageSend(deps.db, job)
        : { ok: true, note: null, resetOutboxId: null };
    if (!gate.ok) {
      outcomes.push({
        id,
        shipmentId,
        action: opts.dryRun ? 'would_skip' : 'skipped',
        note: gate.note,
      });
    } else if (opts.dryRun) {
      outcomes.push({ id, shipmentId, action: 'would_requeue', note: gate.note });
    } else {
      // The row first: a job retried before its row reopened would find it failed and stop.
      if (gate.resetOutboxId !== null) {
        await reopenFailedOutbox(deps.db, gate.resetOutboxId);
      }
      const retried = await retryJob(deps.queues, name, job);
      outcomes.push({
        id,
        shipmentId,
        action: retried.ok ? 'requeued' : 'skipped',
        note: retried.ok ? (retried.note ?? gate.note) : retried.note,
      });
    }
    opts.onProgress?.(outcomes.length);
  }
  const count = (...actions: RequeueAction[]) =>
    outcomes.filter((o) => actions.includes(o.action)).length;
  return {
    queue: name,
    filter: opts.filter,
    dryRun: opts.dryRun,
    matched: jobs.length,
    requeued: count('requeued', 'would_requeue'),
    skipped: count('skipped', 'would_skip'),
    jobs: outcomes,
  };
}

export function renderRequeue(result: RequeueResult): string {
  const { queue, filter, matched, requeued, skipped } = result;
  if (matched === 0) {
    return `No failed ${queue} jobs${filter}; nothing requeued.\n`;
  }
  const head = result.dryRun
    ? `Dry run: would requeue ${requeued} of ${matched} failed ${queue} job(s)${filter}, skip ${skipped}. Nothing was changed.`
    : `Requeued ${requeued} of ${matched} failed ${queue} job(s)${filter}; skipped ${skipped}.`;
  const shown = result.dryRun ? result.jobs : result.jobs.filter((j) => j.action === 'skipped');
  if (shown.length === 0) {
    return `${head}\n`;
  }
  const rows = shown.map((j) => [
    j.id,
    j.shipmentId ?? '-',
    j.action.replace('_', ' '),
    j.note ?? '',
  ]);
  return `${head}\n\n${renderTable(['JOB', 'SHIPMENT', 'ACTION', 'NOTE'], rows)}`;
}
