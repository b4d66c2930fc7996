/**
 * Provider error actions carried out (the table is src/gupshup/error-actions.ts):
 * - `actOnSendError`, for `message.send`: a refused send. The side effects (a slower pace, a
 *   paused sender, a suppression, a flagged template) happen here; the worker is told whether to
 *   retry the job, hold it as a delayed job (no attempt used), or fail the message, and with
 *   which code and reason.
 * - `actOnFailedReport`, for `dlr.process`: a FAILED delivery report whose code has a row (the
 *   message is already sent, so nothing is retried or held; the sender, the number or the
 *   template is acted on, and the failure reason is returned for the record).
 */
import { publishActivity } from '../activity.ts';
import type { Config } from '../config.ts';
import type { CustomerPace } from '../customer-pace.ts';
import { insertActivity } from '../db/activity.ts';
import type { Db } from '../db/client.ts';
import type { OutboxRow } from '../db/outbox.ts';
import { suppress } from '../db/suppressions.ts';
import { flagRefusedTemplate } from '../db/templates.ts';
import {
  FAILURE_TITLES,
  failureReason,
  sendErrorRule,
  UNDELIVERABLE_DAYS,
  type ErrorAction,
  type ErrorRule,
} from '../gupshup/error-actions.ts';
import type { Log } from '../log.ts';
import type { Queues } from '../queues/index.ts';
import type { SenderPace } from '../sender-pace.ts';
import type { SenderPause } from '../sender-pause.ts';
import type { Sender } from '../senders.ts';
import { senderNumberKey } from '../suppression.ts';

export interface SendErrorDeps {
  config: Pick<Config, 'DEFAULT_COUNTRY'>;
  db: Db;
  queues: Queues;
  pace: SenderPace | null;
  pause: SenderPause | null;
  customers: CustomerPace | null;
  log: Log;
}

/** How many times one message is held for its customer (131056) before it is simply retried. */
export const MAX_CUSTOMER_HOLDS = 5;

export type SendErrorVerdict =
  /** Try again with the queue's backoff, as before. */
  | { kind: 'retry'; action: ErrorAction }
  /** Hold the job as delayed for `waitMs` (no attempt used); `pausedSince` for a paused sender. */
  | { kind: 'hold'; action: ErrorAction; waitMs: number; pausedSince?: number }
  /** Fail for good: `code` goes on the row (the failure reason, or the raw code). */
  | { kind: 'fail'; action: ErrorAction; code: string; reason: string };

export interface FailedSend {
  code: string;
  reason: string;
}

/** Digits only: how suppressions name numbers. */
export function digits(number: string): string {
  return number.replace(/\D/g, '');
}

export async function actOnSendError(
  deps: SendErrorDeps,
  outbox: OutboxRow,
  sender: Sender,
  failed: FailedSend,
  customerHolds: number,
): Promise<SendErrorVerdict> {
  const rule = sendErrorRule(failed.code);
  const { action } = rule;
  const raw = `${failed.code}: ${failed.reason}`;
  switch (action) {
    case 'retry':
      return { kind: 'retry', action };
    case 'slow_sender': {
      if (deps.pace) {
        const perSecond = await deps.pace.slowDown(sender.connectionId);
        deps.log.warn(
          { connectionId: sender.connectionId, code: failed.code, perSecond },
          'Gupshup throttled this sender; its pace is lowered',
        );
      }
      return { kind: 'retry', action };
    }
    case 'delay_customer': {
      if (!deps.customers || customerHolds >= MAX_CUSTOMER_HOLDS) {
        return { kind: 'retry', action };
      }
      const waitMs = await deps.customers.hold(sender.connectionId, outbox.toNumber);
      return { kind: 'hold', action, waitMs };
    }
    case 'pause_sender': {
      if (!deps.pause) {
        return { kind: 'fail', action, code: failed.code, reason: failed.reason };
      }
      const why = rule.meaning ?? failed.reason;
      const { started, since } = await deps.pause.pause(sender.connectionId, {
        code: failed.code,
        reason: `${why} (${failed.code})`,
      });
      if (started) {
        deps.log.error(
          { connectionId: sender.connectionId, appName: sender.appName, code: failed.code, why },
          'WhatsApp sender paused: its messages wait until it is resumed (wa-notify sender resume) or a probe succeeds',
        );
      }
      await recordHeld(deps, outbox, sender, { since, reason: `${why} (${failed.code})` });
      return { kind: 'hold', action, waitMs: -1, pausedSince: since };
    }
    case 'not_on_whatsapp':
    case 'opted_out': {
      const expiresAt =
        action === 'not_on_whatsapp'
          ? new Date(Date.now() + UNDELIVERABLE_DAYS * 86_400_000)
          : null;
      await suppress(deps.db, {
        senderNumber: senderNumberKey(sender.waNumber),
        customerNumber: digits(outbox.toNumber),
        reason: action,
        source: 'send_error',
        accountId: outbox.accountId,
        expiresAt,
      });
      return failWith(action, raw);
    }
    case 'template_refused':
      if (outbox.templateId) {
        await flagRefusedTemplate(deps.db, outbox.templateId, {
          code: failed.code,
          reason: rule.meaning ?? failed.reason,
        });
        deps.log.warn(
          { templateId: outbox.templateId, code: failed.code },
          'template refused by Gupshup; flagged on the settings page',
        );
      }
      return failWith(action, raw);
    case 'window_closed':
    case 'frequency_capped':
      return failWith(action, raw);
    case 'fail':
      return { kind: 'fail', action, code: failed.code, reason: failed.reason };
  }
}

function failWith(action: ErrorAction, raw: string): SendErrorVerdict {
  const reason = failureReason(action) ?? action;
  return {
    kind: 'fail',
    action,
    code: reason,
    reason: `${FAILURE_TITLES[reason] ?? reason} (${raw})`,
  };
}

/**
 * One timeline entry per message and pause: "waiting, the sender is paused, and why". The
 * message that paused the sender gets it too.
 */
export async function recordHeld(
  deps: Pick<SendErrorDeps, 'db' | 'queues'>,
  outbox: OutboxRow,
  sender: Sender,
  pause: { since: number; reason: string },
): Promise<void> {
  const activityId = await insertActivity(deps.db, {
    key: `sender-paused-${outbox.id}-${pause.since}`,
    shipmentId: outbox.shipmentId,
    accountId: outbox.accountId,
    kind: 'whatsapp_sender_paused',
    title: `WhatsApp message waiting: sending through ${sender.appName} is paused: ${pause.reason}`,
    details: {
      connectionId: sender.connectionId,
      appName: sender.appName,
      reason: pause.reason,
      pausedSince: new Date(pause.since).toISOString(),
    },
    occurredAt: new Date(),
  });
  await publishActivity(deps.queues, activityId);
}

/** The side effects of a failed delivery report's code; returns the failure reason, if any. */
export async function actOnFailedReport(
  deps: SendErrorDeps,
  outbox: OutboxRow,
  sender: { connectionId: string; appName: string; waNumber: string },
  rule: ErrorRule,
): Promise<string | null> {
  const code = `${rule.source ?? 'report'}_${rule.code}`;
  switch (rule.action) {
    case 'slow_sender':
      await deps.pace?.slowDown(sender.connectionId);
      break;
    case 'delay_customer':
      await deps.customers?.hold(sender.connectionId, outbox.toNumber);
      break;
    case 'pause_sender':
      if (deps.pause) {
        const { started } = await deps.pause.pause(sender.connectionId, {
          code,
          reason: `${rule.meaning ?? 'refused'} (${code})`,
        });
        if (started) {
          deps.log.error(
            { connectionId: sender.connectionId, appName: sender.appName, code, why: rule.meaning },
            'WhatsApp sender paused by a delivery report: its messages wait until it is resumed (wa-notify sender resume) or a probe succeeds',
          );
        }
      }
      break;
    case 'not_on_whatsapp':
    case 'opted_out':
      await suppress(deps.db, {
        senderNumber: senderNumberKey(sender.waNumber),
        customerNumber: digits(outbox.toNumber),
        reason: rule.action,
        // An opt-out is a refusal of our message wherever it is said; a number Gupshup reports
        // as unknown is the report's finding.
        source: rule.action === 'opted_out' ? 'send_error' : 'report',
        accountId: outbox.accountId,
        expiresAt:
          rule.action === 'not_on_whatsapp'
            ? new Date(Date.now() + UNDELIVERABLE_DAYS * 86_400_000)
            : null,
      });
      break;
    case 'template_refused':
      if (outbox.templateId) {
        await flagRefusedTemplate(deps.db, outbox.templateId, {
          code,
          reason: rule.meaning ?? 'refused',
        });
      }
      break;
    default:
      break;
  }
  return failureReason(rule.action);
}
