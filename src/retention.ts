/**
 * Retention of the tables that grow with traffic (role `worker`). After RETENTION_DAYS:
 * - `webhook_events`: callbacks already handled (processed, ignored or failed) are deleted;
 * - `fdr_inbox`: events already validated (processed, skipped or failed) are deleted;
 * - `whatsapp_status_logs`: the report history in `remarks` (Gupshup's raw reports, with the
 *   customer's number) is cleared; the row and its status stay, as the spec's table.
 * Work still waiting (`received`) is never touched, whatever its age.
 *
 * Always in small batches (RETENTION_BATCH rows a statement, a pause between statements), never
 * one big delete that would hold locks and swell the undo log; a run stops after
 * RETENTION_MAX_BATCHES statements per table and the next run goes on. One replica at a time runs
 * it: each run takes a Redis lock for its interval.
 */
import type { Db } from './db/client.ts';
import { deleteFinishedInboxBefore } from './db/inbox.ts';
import { clearStatusLogRemarksBefore } from './db/status-logs.ts';
import { deleteHandledWebhookEventsBefore } from './db/webhook-events.ts';
import { safeErrorMessage } from './errors.ts';
import type { Log } from './log.ts';
import type { RedisClient } from './redis.ts';

export interface RetentionOptions {
  /** Rows per statement. */
  batch: number;
  /** Statements per table in one run at most. */
  maxBatches: number;
  /** Pause between statements (ms). */
  pauseMs: number;
}

export interface Purged {
  webhookEvents: number;
  inbox: number;
  statusRemarks: number;
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Runs `statement` (returning rows affected) until it affects fewer than a batch. */
async function inBatches(
  statement: () => Promise<number>,
  opts: RetentionOptions,
): Promise<number> {
  let total = 0;
  for (let i = 0; i < opts.maxBatches; i++) {
    const affected = await statement();
    total += affected;
    if (affected < opts.batch) {
      break;
    }
    await pause(opts.pauseMs);
  }
  return total;
}

/** One retention run for rows created before `cutoff`. */
export async function purgeExpired(db: Db, cutoff: Date, opts: RetentionOptions): Promise<Purged> {
  const webhook = await inBatches(
    () => deleteHandledWebhookEventsBefore(db, cutoff, opts.batch),
    opts,
  );
  const inbox = await inBatches(() => deleteFinishedInboxBefore(db, cutoff, opts.batch), opts);
  const remarks = await inBatches(() => clearStatusLogRemarksBefore(db, cutoff, opts.batch), opts);
  return { webhookEvents: webhook, inbox, statusRemarks: remarks };
}

export interface RetentionSchedule extends RetentionOptions {
  days: number;
  intervalMs: number;
}

/**
 * Every `intervalMs`, the replica that takes the run's lock purges what is older than `days`.
 * `intervalMs` 0 switches retention off.
 */
export function startRetention(
  deps: { db: Db; redis: RedisClient; log: Log; prefix: string; now?: () => Date },
  schedule: RetentionSchedule,
): { stop(): void } {
  if (schedule.intervalMs === 0) {
    return { stop: () => undefined };
  }
  const lockKey = `${deps.prefix}:retention-lock`;
  let running = false;
  const run = async () => {
    const taken = await deps.redis.set(lockKey, '1', 'PX', schedule.intervalMs, 'NX');
    if (taken !== 'OK') {
      return;
    }
    const now = deps.now?.() ?? new Date();
    const cutoff = new Date(now.getTime() - schedule.days * 86_400_000);
    const purged = await purgeExpired(deps.db, cutoff, schedule);
    if (purged.webhookEvents + purged.inbox + purged.statusRemarks > 0) {
      deps.log.info({ ...purged, cutoff }, 'retention purged expired rows');
    }
  };
  const tick = () => {
    if (running) {
      return;
    }
    running = true;
    run()
      .catch((err: unknown) => deps.log.warn({ err: safeErrorMessage(err) }, 'retention failed'))
      .finally(() => {
        running = false;
      });
  };
  // A first run soon after start, then one per interval.
  const first = setTimeout(tick, Math.min(60_000, schedule.intervalMs));
  const timer = setInterval(tick, schedule.intervalMs);
  first.unref();
  timer.unref();
  return {
    stop: () => {
      clearTimeout(first);
      clearInterval(timer);
    },
  };
}
