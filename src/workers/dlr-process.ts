/**
 * `dlr.process`: applies one Gupshup delivery report, already stored in `webhook_events`, to the
 * message it names. Enqueued by the Gupshup webhook (src/http/routes/gupshup-webhook.ts) and by
 * the sweeper for events whose job was lost. Each real status change of an FDR template message
 * goes on the shipment's timeline (`recordActivity`, which enqueues `activity.emit`): the seed's
 * second and third entries (SENT, READ), and DELIVERED and FAILED alike.
 *
 * The message is found by Gupshup id (`whatsapp_status_logs.message_id` = `externalId`, or one
 * half of a `<digits>-<digits>` id), else by the outbox row's correlation key echoed in `extra`
 * — the whole value, random part included: the idempotency key alone is guessable from the
 * shipment id, and a forged report naming it must change nothing. The status
 * moves forward only (src/dlr/codes.ts) under a row lock, so duplicate and out-of-order reports
 * change nothing; `remarks` keeps the reports received (bounded), which also makes a retried job
 * a no-op. A report for a message we do not know is kept and marked ignored.
 *
 * An FDR template's DELIVERED and READ also move its attempt's outcome (src/outcomes/attempts.ts).
 *
 * Reports come in any of Gupshup's formats (src/webhook/events.ts): Enterprise reports map by the
 * seed's code table, v2 and v3 (Meta-format) reports by event type, their own codes (Gupshup's
 * 1002…, Meta's 131047…) kept in the report and `remarks`. ENQUEUED, DELETED and
 * MISMATCH stand for no status: they are kept in `remarks` and move nothing.
 *
 * A report that fails a message with a code of the provider error table
 * (src/gupshup/error-actions.ts) also does what its row says (src/workers/send-errors.ts
 * `actOnFailedReport`): the number suppressed (003 UNKNOWN_SUBSCRIBER, v2 1002, opt-outs), the
 * sender paused or slowed, the customer spaced (131056), the template flagged; its failure reason
 * (`window_closed`, …) goes on the timeline, for follow-ups too. Nothing is sent again.
 */
import { DelayedError } from 'bullmq';

import { recordActivity } from '../activity.ts';
import type { Config } from '../config.ts';
import type { Db } from '../db/client.ts';
import { findConnectionDisplay } from '../db/connections.ts';
import { DEFAULT_CONNECTION_ID } from '../db/settings.ts';
import {
  findOutboxBySend,
  findStatusLogIdByCorrelationKey,
  lastSendingAttemptAt,
  noteAcceptedSend,
  noteAcceptedSendByNumber,
  type OutboxRow,
} from '../db/outbox.ts';
import {
  lockStatusLog,
  newestStatusLogIdByFirstHalf,
  newestStatusLogIdByMessageId,
  updateStatusLogReports,
} from '../db/status-logs.ts';
import { markOutcomeDelivered, markOutcomeRead } from '../db/outcomes.ts';
import { findWebhookEvent, markWebhookEvent } from '../db/webhook-events.ts';
import { nextStatus, statusOf, type DlrStatus } from '../dlr/codes.ts';
import type { CustomerPace } from '../customer-pace.ts';
import { FAILURE_TITLES, failureReason, reportErrorRule } from '../gupshup/error-actions.ts';
import type { SenderPace } from '../sender-pace.ts';
import type { SenderPause } from '../sender-pause.ts';
import { actOnFailedReport } from './send-errors.ts';
import { PermanentError, RetryableError } from '../errors.ts';
import { nationalNumber } from '../fdr/phone.ts';
import { inTransaction, type WriteBatcher } from '../db/write-batcher.ts';
import type { Log } from '../log.ts';
import type { Metrics } from '../metrics.ts';
import { reachStage } from '../outcomes/attempts.ts';
import type { JobHandler, Queues } from '../queues/index.ts';
import { messageSend } from '../queues/message-send.ts';
import type { DeliveryReport } from '../webhook/events.ts';
import { plausibleEpochMs } from '../webhook/fields.ts';

interface Deps {
  config: Config;
  db: Db;
  queues: Queues;
  metrics: Pick<Metrics, 'deliveryReports' | 'deliveryStatuses' | 'outcomes'>;
  log: Log;
  pace?: SenderPace | null;
  pause?: SenderPause | null;
  customers?: CustomerPace | null;
  /** Group commit of each report's update (src/db/write-batcher.ts); absent, its own transaction. */
  writes?: WriteBatcher;
}

export function processDlrProcess(deps: Deps): JobHandler<'dlr.process'> {
  const { db, log } = deps;
  const { GUPSHUP_TIMEOUT_MS, SEND_RECONCILE_MS } = deps.config;
  // A report for a send still in flight is looked at again every `step` (not with the queue's
  // exponential backoff, which would overshoot the send's own reconcile wait) while that send's
  // last attempt is recent enough to be still answering, or waiting for this report.
  const inFlightStepMs = Math.min(1_000, Math.max(100, Math.floor(GUPSHUP_TIMEOUT_MS / 4)));
  const inFlightWaitMs = GUPSHUP_TIMEOUT_MS * 2 + SEND_RECONCILE_MS;
  return async ({ webhookEventId }, job, token) => {
    const found = await findWebhookEvent(db, webhookEventId);
    if (!found) {
      throw new PermanentError(
        'ERR_WEBHOOK_EVENT_MISSING',
        `webhook event ${webhookEventId} does not exist`,
      );
    }
    if (found.row.status !== 'received') {
      return { status: `already_${found.row.status}` };
    }
    if (found.event.kind !== 'dlr') {
      await markEvent(deps, webhookEventId, 'failed', 'not a delivery report');
      throw new PermanentError(
        'ERR_WEBHOOK_EVENT_KIND',
        `webhook event ${webhookEventId} is not a delivery report`,
      );
    }
    const { report } = found.event;
    let statusLogId = await findStatusLogId(db, report);
    if (statusLogId === null) {
      // The correlation key in `extra` names a send still unfinished: Gupshup accepted an attempt
      // whose answer was lost (a timeout, a cut-off process). Keep its id so the send's next
      // attempt records it instead of sending the message a second time.
      // Without any key (the seed's own sample has none), the customer's number can still name
      // the one send whose attempt ended without an answer (strict rule: noteAcceptedSendByNumber).
      // A report whose `extra` names no row of ours is not ours to attribute at all.
      const byKey = report.extra
        ? await noteAcceptedSend(db, report.extra, report.externalId)
        : null;
      const accepted =
        byKey ??
        (report.extra === null && report.destAddr
          ? await noteAcceptedSendByNumber(
              db,
              report.destAddr,
              report.externalId,
              report.eventTs,
              new Date(Date.now() - deps.config.GUPSHUP_TIMEOUT_MS),
            )
          : null);
      if (accepted !== null) {
        log.warn(
          {
            webhookEventId,
            externalId: report.externalId,
            outboxId: accepted,
            by: byKey !== null ? 'correlation_key' : 'number',
          },
          'delivery report names an unfinished send: Gupshup accepted it',
        );
        await wakeSend(deps.queues, accepted);
      }
      // Gupshup can report before `message.send` has committed the id it returned, or before
      // the attempt it answered is known to be cut off (a worker killed mid-send): while such a
      // send is in flight, look again shortly rather than drop the report.
      const inFlightSince = await sendInFlight(db, report);
      if (inFlightSince !== null && Date.now() - inFlightSince.getTime() < inFlightWaitMs) {
        if (token) {
          await job.moveToDelayed(Date.now() + inFlightStepMs, token);
          throw new DelayedError();
        }
        throw new RetryableError(
          'ERR_DLR_UNMATCHED',
          `no message ${report.externalId} yet; a send is in flight`,
        );
      }
      // No send in flight: either none was, or it committed (status row and outbox mark at once)
      // since the first look. A second look tells them apart.
      statusLogId = await findStatusLogId(db, report);
    }
    if (statusLogId === null) {
      await markEvent(deps, webhookEventId, 'ignored', 'unknown message');
      deps.metrics.deliveryReports.inc({ outcome: 'ignored' });
      log.info(
        { webhookEventId, externalId: report.externalId },
        'delivery report for an unknown message ignored',
      );
      return { status: 'ignored' };
    }

    const receivedAt = found.row.createdAt;
    const outcome = await applyReport(
      db,
      deps.writes,
      statusLogId,
      webhookEventId,
      report,
      receivedAt,
    );
    if (outcome.transition) {
      const outbox = await findOutboxOf(db, statusLogId, outcome.messageId);
      const failure =
        outbox && outcome.transition === 'FAILED' ? await actOnFailure(deps, outbox, report) : null;
      // Follow-up session messages change status silently, unless the table names why they
      // failed; the FDR notice has a timeline.
      if (outbox && (outbox.kind === 'fdr_template' || failure !== null)) {
        await recordTransition(
          deps,
          outbox,
          statusLogId,
          outcome.transition,
          report,
          receivedAt,
          failure,
        );
      }
      if (outbox?.kind === 'fdr_template') {
        await recordOutcomeStage(deps, outbox, outcome.transition, eventTime(report, receivedAt));
      }
    }
    await markEvent(deps, webhookEventId, 'processed', outcome.note);
    deps.metrics.deliveryReports.inc({ outcome: outcome.transition ? 'applied' : 'unchanged' });
    if (outcome.transition) {
      deps.metrics.deliveryStatuses.inc({ status: outcome.transition });
    }
    log.info(
      {
        webhookEventId,
        statusLogId,
        externalId: report.externalId,
        eventType: report.eventType,
        transition: outcome.transition,
      },
      'delivery report processed',
    );
    return {
      status: outcome.transition ? 'applied' : 'unchanged',
      statusLogId,
      transition: outcome.transition,
    };
  };
}

/**
 * The event's mark, with the concurrent jobs' writes when there is a write batcher (one commit,
 * one log flush, for all of them), else on its own.
 */
function markEvent(
  deps: Deps,
  id: number,
  status: 'processed' | 'ignored' | 'failed',
  note: string | null,
): Promise<void> {
  return deps.writes
    ? deps.writes.run((tx) => markWebhookEvent(tx, id, status, note))
    : markWebhookEvent(deps.db, id, status, note);
}

/**
 * A send waiting out SEND_RECONCILE_MS for this very report need not wait any longer: its job is
 * moved from `delayed` to `wait`, to record the message now. Anything else (no such job, not
 * delayed any more) leaves it as it is.
 */
async function wakeSend(queues: Queues, outboxId: number): Promise<void> {
  const job = await queues['message.send'].getJob(messageSend.jobId({ outboxId }));
  if (job && (await job.isDelayed())) {
    await job.promote().catch(() => undefined);
  }
}

// ---------------------------------------------------------------------------------------------
// Finding the message

async function findStatusLogId(db: Db, report: DeliveryReport): Promise<number | null> {
  const id = report.externalId;
  const exact = await newestStatusLogIdByMessageId(db, id);
  if (exact !== null) {
    return exact;
  }
  // The enterprise id is `<19 digits>-<18 digits>`; a report or our row may hold only the first
  // half (the seed's reply names `replyId` 4921687316728868875 for 4921687316728868875-3769…).
  const half = /^(\d+)-\d+$/.exec(id)?.[1];
  const partial = /^\d+$/.test(id)
    ? await newestStatusLogIdByFirstHalf(db, id)
    : half
      ? await newestStatusLogIdByMessageId(db, half)
      : null;
  if (partial !== null) {
    return partial;
  }
  if (report.extra) {
    // The whole correlation key or nothing (a row without one is never matched by `extra`).
    return findStatusLogIdByCorrelationKey(db, report.extra);
  }
  return null;
}

/** Is a send that this report could belong to between Gupshup's answer and our commit? */
/** When the last attempt of an unfinished send this report may belong to began, or null. */
function sendInFlight(db: Db, report: DeliveryReport): Promise<Date | null> {
  return lastSendingAttemptAt(
    db,
    report.extra
      ? { correlationKey: report.extra }
      : report.destAddr
        ? { toNumber: report.destAddr }
        : null,
  );
}

async function findOutboxOf(
  db: Db,
  statusLogId: number,
  messageId: string | null,
): Promise<OutboxRow | null> {
  if (messageId === null) {
    return null;
  }
  return findOutboxBySend(db, statusLogId, messageId);
}

// ---------------------------------------------------------------------------------------------
// Applying the report

/** One report as kept in `remarks`: the normalised report plus what it did. */
interface Remark extends Partial<DeliveryReport> {
  webhookEventId?: number;
  receivedAt?: string;
  /** The status the report stands for (null: none, e.g. v2 or v3 ENQUEUED). */
  mapped?: DlrStatus | null;
  /** False for a code not in the seed's table (mapped to FAILED). */
  known?: boolean | null;
  /** Whether it moved the status. */
  applied?: boolean;
  /** The failure reason the provider error table gives its code (`window_closed`, …). */
  failure?: string;
}

const MAX_REMARKS = 20;
const MAX_REMARKS_BYTES = 16_000;

function readRemarks(text: string | null): Remark[] {
  if (!text) {
    return [];
  }
  try {
    const parsed: unknown = JSON.parse(text);
    if (Array.isArray(parsed)) {
      return parsed.filter((r): r is Remark => typeof r === 'object' && r !== null);
    }
  } catch {
    // Not ours: kept below as the first entry rather than overwritten.
  }
  return [{ cause: text.slice(0, 2_000) }];
}

/** The newest entries that fit: at most MAX_REMARKS, at most MAX_REMARKS_BYTES of JSON. */
function writeRemarks(remarks: Remark[]): string {
  const kept = remarks.slice(-MAX_REMARKS);
  let text = JSON.stringify(kept);
  while (kept.length > 1 && Buffer.byteLength(text) > MAX_REMARKS_BYTES) {
    kept.shift();
    text = JSON.stringify(kept);
  }
  return text;
}

interface Outcome {
  transition: DlrStatus | null;
  messageId: string | null;
  note: string;
}

/**
 * In one transaction, with the status row locked: decides the new status, appends the report
 * to `remarks` and updates the row. A report already in `remarks` (a retried job) returns what it
 * did the first time, so the caller can still record a timeline entry a crash prevented.
 */
async function applyReport(
  db: Db,
  writes: WriteBatcher | undefined,
  statusLogId: number,
  webhookEventId: number,
  report: DeliveryReport,
  receivedAt: Date,
): Promise<Outcome> {
  return inTransaction(db, writes, async (tx) => {
    const row = await lockStatusLog(tx, statusLogId);
    if (!row) {
      return { transition: null, messageId: null, note: 'status log row is gone' };
    }
    const remarks = readRemarks(row.remarks);
    const retried = remarks.find((r) => r.webhookEventId === webhookEventId);
    if (retried) {
      return {
        transition: retried.applied ? (retried.mapped ?? null) : null,
        messageId: row.messageId,
        note: 'retried',
      };
    }
    if (remarks.some((r) => r.eventType === report.eventType && r.errorCode === report.errorCode)) {
      return { transition: null, messageId: row.messageId, note: 'duplicate' };
    }
    const mapped = statusOf(report);
    const next = mapped ? nextStatus(row.status, mapped.status) : null;
    const rule =
      mapped?.status === 'FAILED' ? reportErrorRule(report.source, report.errorCode) : null;
    const failure = rule ? failureReason(rule.action) : null;
    const entry: Remark = {
      ...report,
      webhookEventId,
      receivedAt: receivedAt.toISOString(),
      mapped: mapped?.status ?? null,
      known: mapped?.known ?? null,
      applied: next !== null,
      ...(failure ? { failure } : {}),
    };
    await updateStatusLogReports(tx, row.id, {
      remarks: writeRemarks([...remarks, entry]),
      ...(next ? { status: next, externalUpdatedAt: eventTime(report, receivedAt) } : {}),
    });
    const note = next
      ? `${row.status} → ${next}${mapped?.known === false ? ' (unknown code)' : ''}`
      : mapped
        ? `stays ${row.status}`
        : `${report.eventType} is not a delivery status`;
    return { transition: next, messageId: row.messageId, note };
  });
}

/** The report's own time, else (none given, or none a clock could mean) when it was received. */
function eventTime(report: DeliveryReport, receivedAt: Date): Date {
  const ms = plausibleEpochMs(report.eventTs);
  return ms !== null ? new Date(ms) : receivedAt;
}

/** A failed report's code, acted on (the provider error table); its failure reason, if any. */
async function actOnFailure(
  deps: Deps,
  outbox: OutboxRow,
  report: DeliveryReport,
): Promise<string | null> {
  const rule = reportErrorRule(report.source, report.errorCode);
  if (!rule || rule.action === 'fail' || rule.action === 'retry') {
    return null;
  }
  const sender = await senderDisplay(deps, outbox);
  const failure = await actOnFailedReport(
    {
      config: deps.config,
      db: deps.db,
      queues: deps.queues,
      pace: deps.pace ?? null,
      pause: deps.pause ?? null,
      customers: deps.customers ?? null,
      log: deps.log,
    },
    outbox,
    { connectionId: outbox.connectionId, ...sender },
    rule,
  );
  deps.log.warn(
    { outboxId: outbox.id, code: report.errorCode, source: report.source, action: rule.action },
    'delivery report failed the message with a code the error table acts on',
  );
  return failure;
}

// ---------------------------------------------------------------------------------------------
// The timeline

/**
 * The attempt's outcome reaches `delivered`, or `read` (which implies delivered: a customer may
 * read before Gupshup's DELIVERED report arrives, or it never does); each once.
 */
async function recordOutcomeStage(
  deps: Deps,
  outbox: OutboxRow,
  status: DlrStatus,
  at: Date,
): Promise<void> {
  if (status !== 'DELIVERED' && status !== 'READ') {
    return;
  }
  await reachStage(
    deps,
    'delivered',
    markOutcomeDelivered(deps.db, outbox.shipmentId, outbox.id, at),
  );
  if (status === 'READ') {
    await reachStage(deps, 'read', markOutcomeRead(deps.db, outbox.shipmentId, outbox.id, at));
  }
}

const TITLES: Record<DlrStatus, string> = {
  SENT: 'WhatsApp message sent',
  DELIVERED: 'WhatsApp message delivered',
  READ: 'WhatsApp message read by the customer',
  FAILED: 'WhatsApp message failed',
};

async function recordTransition(
  deps: Deps,
  outbox: OutboxRow,
  statusLogId: number,
  status: DlrStatus,
  report: DeliveryReport,
  receivedAt: Date,
  failureReason: string | null = null,
): Promise<void> {
  const { config } = deps;
  const sender = await senderDisplay(deps, outbox);
  const time = eventTime(report, receivedAt);
  const failure = [
    failureReason && FAILURE_TITLES[failureReason],
    report.cause,
    report.errorCode && `code ${report.errorCode}`,
  ]
    .filter(Boolean)
    .join(', ');
  await recordActivity(deps, {
    key: `dlr-${statusLogId}-${status}`,
    shipmentId: outbox.shipmentId,
    accountId: outbox.accountId,
    kind: 'whatsapp_status',
    title:
      status === 'FAILED' ? `${TITLES.FAILED}: ${failure || 'no reason given'}` : TITLES[status],
    details: {
      appName: sender.appName,
      fromNumber: sender.waNumber,
      toNumber: nationalNumber(outbox.toNumber, config.DEFAULT_COUNTRY) ?? outbox.toNumber,
      sentOn: outbox.sentAt?.toISOString() ?? null,
      status,
      time: time.toISOString(),
      ...(status === 'READ' ? { readTime: time.toISOString() } : {}),
      ...(status === 'FAILED' ? { errorCode: report.errorCode, cause: report.cause } : {}),
      ...(failureReason ? { failure: failureReason } : {}),
      messageId: outbox.gupshupMessageId,
    },
    // A report cannot come before the send it reports on; Gupshup's clock is not ours, so the
    // entry is kept after "notified" on the timeline even when the clocks disagree.
    occurredAt: outbox.sentAt && time < outbox.sentAt ? outbox.sentAt : time,
  });
}

/** The sender's app name and number for the timeline (no credentials needed or read). */
async function senderDisplay(
  deps: Deps,
  outbox: OutboxRow,
): Promise<{ appName: string; waNumber: string }> {
  if (outbox.connectionId === DEFAULT_CONNECTION_ID) {
    return {
      appName: deps.config.GUPSHUP_DEFAULT_APP_NAME,
      waNumber: deps.config.GUPSHUP_DEFAULT_WA_NUMBER ?? '',
    };
  }
  const id = Number(outbox.connectionId);
  const row = Number.isInteger(id)
    ? await findConnectionDisplay(deps.db, outbox.accountId, id)
    : null;
  return row ?? { appName: outbox.connectionId, waNumber: '' };
}
