/**
 * What became of each failed-delivery attempt (`whatsapp_attempt_outcomes`, written through
 * src/db/outcomes.ts): `fdr.validate` records the attempt (messaged or not, and why), the workers
 * that see its message move it through the stages (sent, delivered, read, replied, actioned), and
 * the shipment's later events close it (src/workers/shipment-status.ts, or a newer failed
 * attempt here). Each stage and outcome is counted in `whatsapp_outcomes_total{stage}` by the
 * one job whose conditional update made it, so a retry counts nothing twice.
 *
 * Not honoured: when the customer asked for a reattempt or chose a date and the courier then
 * failed again with a reason that contradicts it (the customer "refused", an OTP cancellation),
 * or failed again on another date than the one chosen, the earlier attempt is flagged once,
 * with a `whatsapp_not_honoured` timeline entry naming the courier and why, counted in
 * `whatsapp_not_honoured_total{courier}`, and the account may send one apology
 * (src/outcomes/apology.ts). The end-of-date rule (no out-for-delivery on the chosen date) is
 * src/outcomes/chosen-dates.ts.
 *
 * Times: the WMS writes its status times as `YYYY-MM-DD HH:MM:SS` local time; they are read in
 * OUTCOME_TIME_ZONE (a time with an explicit offset or `Z` is taken as it says), and the dates
 * compared with a chosen date are that zone's.
 */
import { recordActivity } from '../activity.ts';
import type { Config } from '../config.ts';
import type { Db } from '../db/client.ts';
import {
  closeAttemptOutcome,
  flagNotHonoured,
  insertAttemptOutcome,
  listEarlierAttempts,
  type AttemptOutcomeRow,
  type NewAttemptOutcome,
  type NotHonoured,
} from '../db/outcomes.ts';
import type { Log } from '../log.ts';
import type { Metrics } from '../metrics.ts';
import { instantOfWallTime, localTime } from '../quiet-hours.ts';
import type { Queues } from '../queues/index.ts';

export interface OutcomeDeps {
  config: Pick<Config, 'OUTCOME_TIME_ZONE'>;
  db: Db;
  queues: Queues;
  metrics: Pick<Metrics, 'outcomes' | 'notHonoured'>;
  log: Log;
}

/**
 * The stages of `whatsapp_outcomes_total`: the message's and the answer's, then the attempt's
 * outcome (`shipment_delivered`, since `delivered` is the message's delivery report).
 */
export type OutcomeStage =
  | 'sent'
  | 'delivered'
  | 'read'
  | 'replied'
  | 'actioned'
  | 'shipment_delivered'
  | 'failed_again'
  | 'rto'
  | 'cancelled';

/** Counts `stage` when `update` was the one to reach it; returns whether it was. */
export async function reachStage(
  deps: { metrics: Pick<Metrics, 'outcomes'> },
  stage: OutcomeStage,
  update: Promise<boolean>,
): Promise<boolean> {
  const reached = await update;
  if (reached) {
    deps.metrics.outcomes.inc({ stage });
  }
  return reached;
}

/** `courier` column's length. */
const MAX_COURIER = 64;

const WMS_LOCAL_TIME =
  /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,3})\d*)?)?$/;
const WITH_OFFSET = /(?:Z|[+-]\d{2}:?\d{2})$/i;

/**
 * A status time of the WMS as an instant: `YYYY-MM-DD HH:MM:SS` in `zone`, or an ISO time with
 * its own offset; null for anything else.
 */
export function readWmsTime(value: unknown, zone: string): Date | null {
  if (typeof value !== 'string') {
    return null;
  }
  const text = value.trim();
  if (WITH_OFFSET.test(text)) {
    const ms = Date.parse(text);
    return Number.isNaN(ms) ? null : new Date(ms);
  }
  const m = WMS_LOCAL_TIME.exec(text);
  if (!m) {
    return null;
  }
  const [, y, mo, d, h, mi, s, frac] = m;
  const wall = Date.UTC(
    Number(y),
    Number(mo) - 1,
    Number(d),
    Number(h),
    Number(mi),
    Number(s ?? 0),
    Number((frac ?? '0').padEnd(3, '0')),
  );
  const back = new Date(wall);
  if (back.getUTCDate() !== Number(d) || back.getUTCMonth() !== Number(mo) - 1) {
    return null;
  }
  return new Date(instantOfWallTime(wall, zone));
}

function record(value: unknown): Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : {};
}

/** The shipment part of a `shipment` event (`response_data`), as loose fields. */
export function shipmentData(raw: unknown): Record<string, unknown> {
  return record(record(raw).response_data);
}

/**
 * When delivery failed: the event's `status_updated_at`, else `status_log.failed_delivery`, else
 * `now` (when the service took it in).
 */
export function failedAtOf(raw: unknown, zone: string, now: Date): Date {
  const data = shipmentData(raw);
  return (
    readWmsTime(data.status_updated_at, zone) ??
    readWmsTime(record(data.status_log).failed_delivery, zone) ??
    now
  );
}

/** The event's `courierName`, cut to its column; null when absent. */
export function courierOf(raw: unknown): string | null {
  const name = shipmentData(raw).courierName;
  if (typeof name !== 'string' || name.trim() === '') {
    return null;
  }
  return Array.from(name.trim()).slice(0, MAX_COURIER).join('');
}

/** The date of instant `at` in the business time zone, `YYYY-MM-DD`. */
export function businessDate(at: Date, zone: string): string {
  return localTime(at.getTime(), zone).date;
}

/** The answers a courier can fail to honour: the customer asked for another attempt. */
const HONOURABLE_ACTIONS = new Set(['reattempt', 'reschedule']);

/** Failure reasons that say the customer did not want the delivery they had just asked for. */
const CONTRADICTING_REASONS = new Set(['rejected_by_customer', 'otp_cancellation']);

/**
 * Whether a new failed delivery (its reason, its time) shows the courier did not honour what the
 * customer asked for in the earlier attempt `row`; the contradicting reason first.
 */
export function notHonouredByFailure(
  row: Pick<AttemptOutcomeRow, 'action' | 'chosenDate'>,
  failure: { reason: string | null; at: Date },
  zone: string,
): NotHonoured | null {
  if (row.action === null || !HONOURABLE_ACTIONS.has(row.action)) {
    return null;
  }
  if (failure.reason !== null && CONTRADICTING_REASONS.has(failure.reason)) {
    return 'contradicting_reason';
  }
  if (row.chosenDate !== null && businessDate(failure.at, zone) !== row.chosenDate) {
    return 'other_date';
  }
  return null;
}

const NOT_HONOURED_TEXT: Record<NotHonoured, string> = {
  other_date: 'attempted delivery on another date than the one the customer chose',
  no_out_for_delivery: 'did not take the shipment out for delivery on the date the customer chose',
  contradicting_reason: "reported a failure reason that contradicts the customer's answer",
};

/**
 * Flags `row` not honoured, once: the timeline entry, the metric and the apology go with the
 * job whose update made the flag.
 */
export async function flagAttempt(
  deps: OutcomeDeps,
  row: AttemptOutcomeRow,
  why: NotHonoured,
  detail: Record<string, unknown>,
  onFlagged: (row: AttemptOutcomeRow) => Promise<void> = async () => undefined,
): Promise<boolean> {
  const at = new Date();
  if (!(await flagNotHonoured(deps.db, row.shipmentId, row.attempt, why, at))) {
    return false;
  }
  const courier = row.courier ?? 'The courier';
  await recordActivity(deps, {
    key: `not-honoured-${row.shipmentId}-${row.attempt}`,
    shipmentId: row.shipmentId,
    accountId: row.accountId,
    kind: 'whatsapp_not_honoured',
    title: `${courier} did not honour the customer's choice: ${NOT_HONOURED_TEXT[why]}`,
    details: {
      why,
      courier: row.courier,
      attempt: row.attempt,
      action: row.action,
      chosenDate: row.chosenDate,
      ...detail,
    },
    occurredAt: at,
  });
  deps.metrics.notHonoured.inc({ courier: row.courier ?? 'unknown' });
  deps.log.info(
    { shipmentId: row.shipmentId, attempt: row.attempt, why, courier: row.courier },
    "courier did not honour the customer's choice",
  );
  await onFlagged(row);
  return true;
}

/**
 * Records an attempt `fdr.validate` decided on (once), and closes the shipment's earlier open
 * attempts as failed again. The attempt just before this one is checked against what its
 * customer had asked for, even when a run that crashed had already closed it: the flag itself
 * is set once.
 */
export async function recordAttempt(
  deps: OutcomeDeps,
  attempt: NewAttemptOutcome,
  onFlagged?: (row: AttemptOutcomeRow) => Promise<void>,
): Promise<void> {
  await insertAttemptOutcome(deps.db, attempt);
  await closeEarlierAttempts(deps, attempt, onFlagged);
}

/**
 * `recordAttempt` after its row is stored (by the caller, with the attempt's message): closes
 * the shipment's earlier open attempts and checks the one just before.
 */
export async function closeEarlierAttempts(
  deps: OutcomeDeps,
  attempt: NewAttemptOutcome,
  onFlagged?: (row: AttemptOutcomeRow) => Promise<void>,
): Promise<void> {
  const earlier = await listEarlierAttempts(deps.db, attempt.shipmentId, attempt.attempt);
  for (const row of earlier) {
    if (row.outcome !== 'open') {
      continue;
    }
    const closed = await reachStage(
      deps,
      'failed_again',
      closeAttemptOutcome(deps.db, row.shipmentId, row.attempt, {
        outcome: 'failed_again',
        status: 'failed_delivery',
        at: attempt.failedAt,
        nextReason: attempt.reason,
      }),
    );
    if (closed) {
      row.outcome = 'failed_again';
    }
  }
  const previous = earlier.at(-1);
  if (!previous || previous.outcome !== 'failed_again' || previous.notHonoured !== null) {
    return;
  }
  const why = notHonouredByFailure(
    previous,
    { reason: attempt.reason, at: attempt.failedAt },
    deps.config.OUTCOME_TIME_ZONE,
  );
  if (why) {
    await flagAttempt(
      deps,
      previous,
      why,
      { nextAttempt: attempt.attempt, nextReason: attempt.reason },
      onFlagged,
    );
  }
}
