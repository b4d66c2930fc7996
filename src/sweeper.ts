/**
 * The sweeper (role `worker`): MySQL is the record of what must still happen, Redis only carries
 * the work. Every SWEEP_INTERVAL_MS it re-enqueues inbox events, outbox messages, timeline
 * entries and Gupshup webhook events that have waited longer than SWEEP_GRACE_MS, which repairs
 * jobs Redis lost (a crash can drop its last second of writes). Deterministic job ids make a
 * re-add of a live job a no-op; a job whose id sits in the failed set while MySQL says its work
 * is unfinished (it stalled past JOB_MAX_STALLS, say) is retried, since a re-add could not.
 *
 * Work that waits on purpose is left alone until it is due: a message deferred for quiet hours
 * carries its due time as its outbox row's `updated_at`, and a no-reply check still scheduled
 * (`whatsapp_no_reply_checks`) gets its job made again only once its `due_at` has passed by
 * SWEEP_GRACE_MS (a re-add of its live delayed job would be a no-op anyway). Times are the
 * service clock's (src/clock.ts).
 *
 * No-reply checks due further ahead than NO_REPLY_QUEUE_AHEAD_MS are not in Redis at all: the
 * send records the check in MySQL only, and each sweep hands Redis the checks that have come
 * within that horizon, as delayed jobs due at their time (`createCheckFeeder`). So Redis holds
 * the next few minutes of checks, not twelve hours of every message sent.
 *
 * Each pass also flags the attempts whose customer's chosen delivery date ended with no
 * out-for-delivery on it (src/outcomes/chosen-dates.ts), in small batches.
 */
import { systemClock, type Clock } from './clock.ts';
import type { Db } from './db/client.ts';
import { listUnpublishedActivity } from './db/activity.ts';
import { listReceivedInbox } from './db/inbox.ts';
import {
  listDueNoReplyChecks,
  listScheduledChecksAfter,
  type CheckCursor,
} from './db/no-reply-checks.ts';
import { listUnfinishedOutbox } from './db/outbox.ts';
import { listReceivedWebhookEvents } from './db/webhook-events.ts';
import { safeErrorMessage } from './errors.ts';
import { sendApology, type ApologyDeps } from './outcomes/apology.ts';
import type { OutcomeDeps } from './outcomes/attempts.ts';
import { checkChosenDates } from './outcomes/chosen-dates.ts';
import type { Log } from './log.ts';
import { enqueue, type PayloadOf, type QueueName, type Queues } from './queues/index.ts';

const BATCH = 500;

/**
 * Enqueues the job for unfinished work; when its id is in the failed set (a re-add would be a
 * no-op), retries it instead. Returns whether a failed job was revived.
 */
async function ensureQueued<N extends QueueName>(
  queues: Queues,
  name: N,
  payload: PayloadOf<N>,
): Promise<boolean> {
  const id = await enqueue(queues, name, payload);
  const job = await queues[name].getJob(id);
  if (job && (await job.isFailed())) {
    await job.retry('failed', { resetAttemptsMade: true, resetAttemptsStarted: true });
    return true;
  }
  return false;
}

export async function sweepOnce(deps: { db: Db; queues: Queues; clock?: Clock }, graceMs: number) {
  const olderThan = new Date((deps.clock ?? systemClock).now() - graceMs);
  const [inbox, outbox, activity, webhook, noReply] = await Promise.all([
    listReceivedInbox(deps.db, olderThan, BATCH),
    listUnfinishedOutbox(deps.db, olderThan, BATCH),
    listUnpublishedActivity(deps.db, olderThan, BATCH),
    // Only reports, messages and opt-outs/opt-ins (user events) have a job; other user events,
    // billing and ignored events are stored already handled and are never queued.
    listReceivedWebhookEvents(deps.db, olderThan, BATCH, ['dlr', 'inbound', 'user']),
    listDueNoReplyChecks(deps.db, olderThan, BATCH),
  ]);
  let revived = 0;
  const ensure = async <N extends QueueName>(name: N, payload: PayloadOf<N>) => {
    revived += (await ensureQueued(deps.queues, name, payload)) ? 1 : 0;
  };
  for (const inboxId of inbox) {
    await ensure('fdr.validate', { inboxId });
  }
  for (const outboxId of outbox) {
    await ensure('message.send', { outboxId });
  }
  for (const activityId of activity) {
    await ensure('activity.emit', { activityId });
  }
  // Webhook events stored but never handled: their job was lost, or the webhook answered 503
  // after storing them (Redis down) and Gupshup's retry found them already stored.
  for (const { id, kind } of webhook) {
    if (kind === 'dlr') {
      await ensure('dlr.process', { webhookEventId: id });
    } else if (kind === 'inbound' || kind === 'user') {
      // A user event left `received` is an opt-out or opt-in (reply.route ignores any other).
      await ensure('reply.route', { webhookEventId: id });
    }
  }
  // Checks past their time whose job is gone: made again, to run now.
  for (const outboxId of noReply) {
    await ensure('no-reply.check', { outboxId });
  }
  return {
    revived,
    inbox: inbox.length,
    outbox: outbox.length,
    activity: activity.length,
    webhook: webhook.length,
    noReply: noReply.length,
  };
}

export interface CheckFeeder {
  /** Queues every scheduled check due within the horizon that it has not queued yet. */
  feed(): Promise<number>;
}

/**
 * Hands Redis the no-reply checks as they come within `aheadMs`: each as a delayed job due at its
 * own time. It walks the scheduled checks in due order from where its last pass stopped, so a
 * pass reads only the checks that entered the horizon since (a new process starts from the
 * earliest; re-adding a live job is a no-op). A check it never saw, because its row committed
 * after a pass had moved past its due time, is still made due by the sweep's grace rule.
 */
export function createCheckFeeder(
  deps: { db: Db; queues: Queues; clock?: Clock },
  aheadMs: number,
): CheckFeeder {
  let cursor: CheckCursor | null = null;
  return {
    async feed() {
      const now = (deps.clock ?? systemClock).now();
      const horizon = new Date(now + aheadMs);
      let queued = 0;
      for (;;) {
        const page = await listScheduledChecksAfter(deps.db, cursor, horizon, BATCH);
        for (const check of page) {
          await enqueue(
            deps.queues,
            'no-reply.check',
            { outboxId: check.outboxId },
            { delay: Math.max(0, check.dueAt.getTime() - now) },
          );
          cursor = check;
          queued++;
        }
        if (page.length < BATCH) {
          return queued;
        }
      }
    },
  };
}

export function startSweeper(
  deps: {
    db: Db;
    queues: Queues;
    log: Log;
    clock?: Clock;
    /** With these, each pass also runs the chosen-date check of the outcomes. */
    outcomes?: OutcomeDeps & ApologyDeps;
  },
  intervalMs: number,
  graceMs: number,
  noReplyAheadMs = 0,
): { stop(): void } {
  if (intervalMs === 0) {
    return { stop: () => undefined };
  }
  const feeder = noReplyAheadMs > 0 ? createCheckFeeder(deps, noReplyAheadMs) : null;
  let running = false;
  const timer = setInterval(() => {
    if (running) {
      return;
    }
    running = true;
    sweepOnce(deps, graceMs)
      .then(async (counts) => {
        if (counts.inbox + counts.outbox + counts.activity + counts.webhook + counts.noReply > 0) {
          deps.log.info(counts, 'sweeper re-enqueued unfinished work');
        }
        const fed = (await feeder?.feed()) ?? 0;
        if (fed > 0) {
          deps.log.debug({ checks: fed }, 'no-reply checks coming due handed to Redis');
        }
        const outcomes = deps.outcomes;
        if (outcomes) {
          const now = new Date((deps.clock ?? systemClock).now());
          const flagged = await checkChosenDates(outcomes, now, (row) =>
            sendApology(outcomes, row).then(() => undefined),
          );
          if (flagged > 0) {
            deps.log.info({ flagged }, 'chosen delivery dates ended without an attempt');
          }
        }
      })
      .catch((err: unknown) => deps.log.warn({ err: safeErrorMessage(err) }, 'sweep failed'))
      .finally(() => {
        running = false;
      });
  }, intervalMs);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}
