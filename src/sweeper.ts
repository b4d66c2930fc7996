/**
 * The sweeper (role `worker`): MySQL is the record of what must still happen, Redis only carries
 * the work. Every SWEEP_INTERVAL_MS it re-enqueues inbox events, outbox messages, timeline
 * entries and Gupshup webhook events that have waited longer than SWEEP_GRACE_MS, which repairs
 * jobs Redis lost (a crash can drop its last second of writes). Deterministic job ids make a
 * re-add of a live job a no-op.
 */
import type { Db } from './db/client.ts';
import { listUnpublishedActivity } from './db/activity.ts';
import { listReceivedInbox } from './db/inbox.ts';
import { listUnfinishedOutbox } from './db/outbox.ts';
import { listReceivedWebhookEvents } from './db/webhook-events.ts';
import { safeErrorMessage } from './errors.ts';
import type { Log } from './log.ts';
import { enqueue, type Queues } from './queues/index.ts';

const BATCH = 500;

export async function sweepOnce(deps: { db: Db; queues: Queues }, graceMs: number) {
  const olderThan = new Date(Date.now() - graceMs);
  const [inbox, outbox, activity, webhook] = await Promise.all([
    listReceivedInbox(deps.db, olderThan, BATCH),
    listUnfinishedOutbox(deps.db, olderThan, BATCH),
    listUnpublishedActivity(deps.db, olderThan, BATCH),
    // Only reports and messages have a job; user, billing and ignored events are stored
    // already handled and are never queued.
    listReceivedWebhookEvents(deps.db, olderThan, BATCH, ['dlr', 'inbound']),
  ]);
  for (const inboxId of inbox) {
    await enqueue(deps.queues, 'fdr.validate', { inboxId });
  }
  for (const outboxId of outbox) {
    await enqueue(deps.queues, 'message.send', { outboxId });
  }
  for (const activityId of activity) {
    await enqueue(deps.queues, 'activity.emit', { activityId });
  }
  // Webhook events stored but never handled: their job was lost, or the webhook answered 503
  // after storing them (Redis down) and Gupshup's retry found them already stored.
  for (const { id, kind } of webhook) {
    if (kind === 'dlr') {
      await enqueue(deps.queues, 'dlr.process', { webhookEventId: id });
    } else if (kind === 'inbound') {
      await enqueue(deps.queues, 'reply.route', { webhookEventId: id });
    }
  }
  return {
    inbox: inbox.length,
    outbox: outbox.length,
    activity: activity.length,
    webhook: webhook.length,
  };
}

export function startSweeper(
  deps: { db: Db; queues: Queues; log: Log },
  intervalMs: number,
  graceMs: number,
): { stop(): void } {
  if (intervalMs === 0) {
    return { stop: () => undefined };
  }
  let running = false;
  const timer = setInterval(() => {
    if (running) {
      return;
    }
    running = true;
    sweepOnce(deps, graceMs)
      .then((counts) => {
        if (counts.inbox + counts.outbox + counts.activity + counts.webhook > 0) {
          deps.log.info(counts, 'sweeper re-enqueued unfinished work');
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
