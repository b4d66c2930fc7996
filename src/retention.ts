/**
 * Retention of the tables that grow with traffic (role `worker`). After RETENTION_DAYS:
 * - `webhook_events`: callbacks already handled (processed, ignored or failed) are deleted;
 * - `fdr_inbox`: events already validated (processed, skipped or failed) are deleted;
 * - `whatsapp_status_logs`: the report history in `remarks` (Gupshup's raw reports, with the
 *   customer's number) is cleared; the row and its status stay, as the spec's table.
 * Work still waiting (`received`) is never touched, whatever its age.
 *
 * After PERSONAL_DATA_RETENTION_DAYS the personal data of customers' answers is erased, the rows
 * kept (so counts and the outcome funnel do not change):
 * - `whatsapp_replies.summary` (what the customer tapped or typed) is set to NULL;
 * - `whatsapp_reply_evidence.raw_body` and `.detail` are set to NULL and `erased_at` is set; the
 *   hash, ids, choice and times stay. The evidence outlives RETENTION_DAYS: it is a copy of the
 *   body, not a reference to the `webhook_events` row that goes then.
 *
 * Always in small batches (RETENTION_BATCH rows a statement, a pause between statements), never
 * one big delete that would hold locks and swell the undo log; a run stops after
 * RETENTION_MAX_BATCHES statements per table and the next run goes on. One replica at a time runs
 * it: each run takes a Redis lock for its interval.
 */
import type { Db } from './db/client.ts';
import { eraseReplySummariesBefore } from './db/conversations.ts';
import { deleteFinishedInboxBefore } from './db/inbox.ts';
import { eraseEvidenceBefore } from './db/reply-evidence.ts';
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

/** What one erasure run of personal data cleared. */
export interface Erased {
  replySummaries: number;
  evidence: number;
}

/** Erases the personal data of replies and their evidence older than `cutoff` (rows stay). */
export async function erasePersonalData(
  db: Db,
  cutoff: Date,
  opts: RetentionOptions,
): Promise<Erased> {
  const replySummaries = await inBatches(
    () => eraseReplySummariesBefore(db, cutoff, opts.batch),
    opts,
  );
  const evidence = await inBatches(() => eraseEvidenceBefore(db, cutoff, opts.batch), opts);
  return { replySummaries, evidence };
}

export interface RetentionSchedule extends RetentionOptions {
  days: number;
  /** PERSONAL_DATA_RETENTION_DAYS. */
  personalDataDays: number;
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
    const personalCutoff = new Date(now.getTime() - schedule.personalDataDays * 86_400_000);
    const erased = await erasePersonalData(deps.db, personalCutoff, schedule);
    if (erased.replySummaries + erased.evidence > 0) {
      deps.log.info({ ...erased, cutoff: personalCutoff }, 'retention erased personal data');
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
