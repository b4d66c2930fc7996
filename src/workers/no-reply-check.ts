/**
 * `no-reply.check` (seed edge case 3): when the customer has not answered an FDR message within
 * the account's `noReply.afterHours` (12 by default), do what `noReply.then` says, once:
 *
 * - `remind`: send one reminder, the reason's template again (or `reminderTemplates[reason]`),
 *   to the same number through the same sender; replies to it belong to the same conversation.
 * - `reattempt`: ask the WMS for a reattempt on the customer's behalf: `ndrNotification` with
 *   `REATTEMPT` and `remarks: "no reply"`, the call the reply router makes for a reattempt.
 * - `nothing`: nothing (the rule was changed to it after the message went out).
 *
 * Only while it still applies: any reply from the customer, a newer failed-delivery attempt of
 * the shipment, or the order no longer being in failed delivery (asked of the WMS when the check
 * is due) cancels it. A reminder is subject to quiet hours: due inside them, the check waits
 * (delayed, nothing polled) until they end and looks again then.
 *
 * One delayed job per FDR message, job id `no-reply-<outboxId>`, created by `message.send` when
 * the message goes out; MySQL's `whatsapp_no_reply_checks` row is the record (the sweeper makes
 * the job again if Redis lost it). Only a `scheduled` row acts, and the reminder's outbox row
 * is written in the same transaction that marks the check done, so it acts at most once; the
 * WMS call carries `ndr-no-reply-<outboxId>` as Idempotency-Key, so a retry books nothing twice.
 */
import { DelayedError } from 'bullmq';

import { publishActivity, recordActivity } from '../activity.ts';
import { delayUntil, type Clock } from '../clock.ts';
import type { Config } from '../config.ts';
import type { Db } from '../db/client.ts';
import { insertActivity } from '../db/activity.ts';
import { findConversationByOutboxId } from '../db/conversations.ts';
import {
  customerReplied,
  finishNoReplyCheck,
  findNoReplyCheck,
  hasNewerAttempt,
  lockScheduledCheck,
  rescheduleNoReplyCheck,
  type CancelReason,
} from '../db/no-reply-checks.ts';
import { findInbox } from '../db/inbox.ts';
import { findOutbox, insertOutbox, type OutboxRow } from '../db/outbox.ts';
import { findTemplate } from '../db/templates.ts';
import { PermanentError, RetryableError } from '../errors.ts';
import { parseFdrEvent } from '../fdr/event.ts';
import { FDR_REASONS, type FdrReason } from '../fdr/reasons.ts';
import { templateContent } from '../fdr/message-content.ts';
import { extractVariables, renderTemplate } from '../fdr/render.ts';
import type { Log } from '../log.ts';
import type { EffectivePolicy } from '../policy.ts';
import { quietUntil } from '../quiet-hours.ts';
import { enqueue, type JobHandler, type Queues } from '../queues/index.ts';
import type { SettingsCache } from '../settings-cache.ts';
import { isFailedDelivery, type WmsClient } from '../wms/client.ts';
import { policyOf, recordDeferral } from './quiet-deferral.ts';

interface Deps {
  config: Config;
  db: Db;
  queues: Queues;
  settings: SettingsCache;
  /** Null when WMS_API_URL is not set: no check can confirm the order still waits, so none acts. */
  wms: WmsClient | null;
  clock: Clock;
  log: Log;
}

/** What the WMS is told when it reattempts for a customer who did not answer. */
export const NO_REPLY_REMARKS = 'no reply';

/** Delayed jobs may be promoted a little early. */
const EARLY_MS = 100;

export function processNoReplyCheck(deps: Deps): JobHandler<'no-reply.check'> {
  const { config, db, log, clock } = deps;
  return async ({ outboxId }, job, token) => {
    const check = await findNoReplyCheck(db, outboxId);
    if (!check) {
      throw new PermanentError(
        'ERR_CHECK_MISSING',
        `whatsapp_no_reply_checks has no row for outbox ${outboxId}`,
      );
    }
    if (check.status !== 'scheduled') {
      return { status: `already_${check.status}`, outcome: check.outcome };
    }
    const now = clock.now();
    const dueAt = check.dueAt.getTime();
    if (now < dueAt - EARLY_MS && token) {
      // Woken before its time (promoted, or made again by the sweeper): wait on.
      await job.moveToDelayed(Date.now() + delayUntil(clock, dueAt), token);
      throw new DelayedError();
    }
    const outbox = await findOutbox(db, outboxId);
    if (!outbox) {
      return cancel(deps, outboxId, 'message_missing');
    }
    const conversation = await findConversationByOutboxId(db, outboxId);
    if (conversation && (await customerReplied(db, conversation.id))) {
      return cancel(deps, outboxId, 'replied');
    }
    if (conversation?.closedAt) {
      return cancel(deps, outboxId, 'closed');
    }
    if (await hasNewerAttempt(db, outbox.shipmentId, outbox.inboxId)) {
      return cancel(deps, outboxId, 'newer_attempt');
    }
    const settings = await deps.settings.get(outbox.accountId);
    const policy = policyOf(config, settings);
    const action = policy.noReply.then;
    const hours = Math.round((now - (outbox.sentAt?.getTime() ?? now)) / 3_600_000);
    if (action === 'nothing') {
      await finishNoReplyCheck(db, outboxId, 'done', 'nothing');
      return { status: 'done', action };
    }
    if (action === 'remind') {
      const until = quietUntil(policy.quietHours, now);
      if (until !== null && token) {
        await rescheduleNoReplyCheck(db, outboxId, new Date(until));
        await recordDeferral(
          deps,
          { ...outbox, kind: 'fdr_reminder', id: outboxId },
          until,
          policy.quietHours!,
          now,
        );
        log.info(
          { outboxId, shipmentId: outbox.shipmentId, until: new Date(until).toISOString() },
          'no-reply reminder waits for the end of quiet hours',
        );
        await job.moveToDelayed(Date.now() + delayUntil(clock, until), token);
        throw new DelayedError();
      }
    }

    if (!deps.wms) {
      return cancel(deps, outboxId, 'wms_not_configured', outbox, {
        title:
          'No-reply follow-up not done: no WMS is configured (WMS_API_URL) to confirm the order still waits',
      });
    }
    const status = await deps.wms.getOrderStatus(outbox.shipmentId);
    if (!status.ok) {
      if (status.retryable) {
        throw new RetryableError(status.code, `WMS order status: ${status.reason}`);
      }
      return cancel(deps, outboxId, 'wms_refused', outbox, {
        title: `No-reply follow-up not done: the WMS refused the status request: ${status.reason}`,
        details: { code: status.code },
      });
    }
    if (!isFailedDelivery(status.value.status)) {
      return cancel(deps, outboxId, 'not_failed_delivery', outbox, {
        title: `No-reply follow-up cancelled: the order is ${status.value.status}, no longer in failed delivery`,
        details: { orderStatus: status.value.status },
      });
    }
    return action === 'remind'
      ? remind(deps, outbox, conversation?.id ?? null, policy, hours)
      : reattempt(deps, outbox, hours);
  };
}

/** Calls a check off (if it is still scheduled), saying why on the timeline when given. */
async function cancel(
  deps: Deps,
  outboxId: number,
  reason: CancelReason,
  outbox?: OutboxRow,
  entry?: { title: string; details?: Record<string, unknown> },
) {
  // The check's end and its timeline entry commit together, as in every outcome here.
  const activityId = await deps.db.transaction(async (tx) => {
    const cancelled = await finishNoReplyCheck(tx, outboxId, 'cancelled', reason);
    if (!cancelled || !outbox || !entry) {
      return null;
    }
    return insertActivity(tx, {
      key: `no-reply-${outboxId}`,
      shipmentId: outbox.shipmentId,
      accountId: outbox.accountId,
      kind: 'whatsapp_no_reply',
      title: entry.title,
      details: { outcome: 'cancelled', reason, outboxId, ...entry.details },
      occurredAt: new Date(deps.clock.now()),
    });
  });
  if (activityId !== null) {
    await publishActivity(deps.queues, activityId);
  }
  deps.log.info({ outboxId, reason }, 'no-reply check cancelled');
  return { status: 'cancelled', reason };
}

/** What the reminder says and how: the reason's own message again, or its reminder template. */
async function reminderMessage(
  deps: Deps,
  outbox: OutboxRow,
  policy: EffectivePolicy,
): Promise<
  | { ok: true; templateId: string | null; body: string; content: string | null }
  | { ok: false; reason: CancelReason; why: string }
> {
  const reason = (FDR_REASONS as readonly string[]).includes(outbox.reason ?? '')
    ? (outbox.reason as FdrReason)
    : null;
  const chosen = reason ? policy.reminderTemplates[reason] : undefined;
  if (!chosen || chosen === outbox.templateId) {
    return { ok: true, templateId: outbox.templateId, body: outbox.body, content: outbox.content };
  }
  const template = await findTemplate(deps.db, chosen);
  if (!template) {
    return { ok: false, reason: 'no_template', why: `reminder template ${chosen} is not known` };
  }
  const inbox = outbox.inboxId === null ? null : await findInbox(deps.db, outbox.inboxId);
  const parsed = inbox ? parseFdrEvent(JSON.parse(inbox.payload)) : null;
  if (!parsed?.ok) {
    return {
      ok: false,
      reason: 'render_failed',
      why: `reminder template ${chosen} cannot be rendered: the FDR event is not at hand`,
    };
  }
  const event = parsed.event;
  const settings = await deps.settings.get(outbox.accountId);
  const countryCode =
    event.response_data.shippingAddress?.countryCode ?? deps.config.DEFAULT_COUNTRY;
  const rendered = renderTemplate(
    template.body,
    template.mapping,
    extractVariables(event, settings, countryCode),
  );
  if (!rendered.ok) {
    return {
      ok: false,
      reason: 'render_failed',
      why: `reminder template ${chosen} cannot be rendered: ${rendered.reason}`,
    };
  }
  return { ok: true, templateId: template.id, ...templateContent(template, rendered) };
}

async function remind(
  deps: Deps,
  outbox: OutboxRow,
  conversationId: number | null,
  policy: EffectivePolicy,
  hours: number,
) {
  const message = await reminderMessage(deps, outbox, policy);
  if (!message.ok) {
    const cancelled = await finishNoReplyCheck(deps.db, outbox.id, 'cancelled', message.reason);
    if (cancelled) {
      await recordActivity(deps, {
        key: `no-reply-${outbox.id}`,
        shipmentId: outbox.shipmentId,
        accountId: outbox.accountId,
        kind: 'whatsapp_not_sent',
        title: `No-reply reminder not sent: ${message.why}`,
        details: { code: message.reason, reason: message.why, outboxId: outbox.id },
        occurredAt: new Date(deps.clock.now()),
      });
    }
    return { status: 'cancelled', reason: message.reason };
  }
  // The reminder's row, the check's end and its timeline entry commit together: a reply that
  // cancels the check either comes first (no reminder) or finds it done.
  const committed = await deps.db.transaction(async (tx) => {
    if (!(await lockScheduledCheck(tx, outbox.id))) {
      return null;
    }
    const { id } = await insertOutbox(tx, {
      idempotencyKey: `reminder-${outbox.id}`,
      kind: 'fdr_reminder',
      shipmentId: outbox.shipmentId,
      accountId: outbox.accountId,
      inboxId: outbox.inboxId,
      conversationId,
      reason: outbox.reason,
      connectionId: outbox.connectionId,
      templateId: message.templateId,
      toNumber: outbox.toNumber,
      customerName: outbox.customerName,
      body: message.body,
      content: message.content,
    });
    await finishNoReplyCheck(tx, outbox.id, 'done', 'remind');
    const activityId = await insertActivity(tx, {
      key: `no-reply-${outbox.id}`,
      shipmentId: outbox.shipmentId,
      accountId: outbox.accountId,
      kind: 'whatsapp_no_reply',
      title: `No reply from the customer in ${hours} h: sending a reminder`,
      details: { outcome: 'done', action: 'remind', outboxId: outbox.id, reminderOutboxId: id },
      occurredAt: new Date(deps.clock.now()),
    });
    return { reminderId: id, activityId };
  });
  if (committed === null) {
    return { status: 'nothing_to_do' };
  }
  const { reminderId } = committed;
  // Lost here, the sweeper sends the pending reminder and publishes its entry.
  await enqueue(deps.queues, 'message.send', { outboxId: reminderId });
  await publishActivity(deps.queues, committed.activityId);
  deps.log.info(
    { outboxId: outbox.id, reminderOutboxId: reminderId, shipmentId: outbox.shipmentId },
    'no reply: reminder queued',
  );
  return { status: 'done', action: 'remind', reminderOutboxId: reminderId };
}

async function reattempt(deps: Deps, outbox: OutboxRow, hours: number) {
  const result = await deps.wms!.notifyNdr(
    {
      shipmentId: outbox.shipmentId,
      accountId: outbox.accountId,
      action: 'REATTEMPT',
      remarks: NO_REPLY_REMARKS,
      // No reply asked for it: the FDR message that went unanswered stands for it.
      messageId: outbox.gupshupMessageId ?? `no-reply-${outbox.id}`,
    },
    `ndr-no-reply-${outbox.id}`,
  );
  if (!result.ok) {
    if (result.retryable) {
      throw new RetryableError(result.code, `WMS ndrNotification: ${result.reason}`);
    }
    return cancel(deps, outbox.id, 'wms_refused', outbox, {
      title: `No-reply follow-up not done: the WMS refused REATTEMPT: ${result.reason}`,
      details: { code: result.code },
    });
  }
  // The check's end and its timeline entry commit together: a crash between them cannot leave
  // a done check whose entry nobody will write.
  const activityId = await deps.db.transaction(async (tx) => {
    await finishNoReplyCheck(tx, outbox.id, 'done', 'reattempt');
    return insertActivity(tx, {
      key: `no-reply-${outbox.id}`,
      shipmentId: outbox.shipmentId,
      accountId: outbox.accountId,
      kind: 'whatsapp_no_reply',
      title: `No reply from the customer in ${hours} h: delivery reattempt requested`,
      details: {
        outcome: 'done',
        action: 'reattempt',
        wmsAction: 'REATTEMPT',
        remarks: NO_REPLY_REMARKS,
        outboxId: outbox.id,
      },
      occurredAt: new Date(deps.clock.now()),
    });
  });
  await publishActivity(deps.queues, activityId);
  deps.log.info(
    { outboxId: outbox.id, shipmentId: outbox.shipmentId },
    'no reply: reattempt requested',
  );
  return { status: 'done', action: 'reattempt' };
}

/**
 * Calls off the no-reply checks of some FDR messages (a reply came, a newer attempt did) and
 * removes their delayed jobs, best effort: a job that runs anyway finds its check cancelled.
 */
export async function cancelNoReplyChecks(
  deps: { db: Db; queues: Queues; log: Log },
  outboxIds: readonly number[],
  reason: CancelReason,
  alreadyCancelled = false,
): Promise<void> {
  for (const outboxId of outboxIds) {
    const cancelled =
      alreadyCancelled || (await finishNoReplyCheck(deps.db, outboxId, 'cancelled', reason));
    if (!cancelled) {
      continue;
    }
    const jobId = `no-reply-${outboxId}`;
    await deps.queues['no-reply.check']
      .remove(jobId)
      .catch((err: unknown) =>
        deps.log.debug(
          { outboxId, err: err instanceof Error ? err.message : String(err) },
          'no-reply job not removed; it will find its check cancelled',
        ),
      );
    deps.log.info({ outboxId, reason }, 'no-reply check cancelled');
  }
}
