/**
 * `fdr.validate`: turns one recorded FDR event (an `fdr_inbox` row) into at most one WhatsApp
 * message. Enqueued by the Pub/Sub ingress; enqueues `message.send` for the outbox row it writes,
 * or records on the timeline why no message goes out (WhatsApp off, unknown reason, no template,
 * invalid phone number, the number suppressed for the account's sender — opted out, or not on
 * WhatsApp —, …), counted in `whatsapp_not_sent_total{reason}`.
 *
 * Inside the account's quiet hours (src/workers/quiet-deferral.ts) the `message.send` job is
 * queued delayed until they end, and the timeline says for when. A newer attempt of a shipment
 * cancels the no-reply checks of its earlier ones.
 *
 * Every attempt of an account is recorded once in `whatsapp_attempt_outcomes` (messaged, or not
 * and why), the start of its outcome (src/outcomes/attempts.ts); a newer attempt closes the
 * earlier one as failed again.
 *
 * Idempotency: the outbox key is the shipment and failed-delivery attempt, so however often the
 * event arrives or this job runs, one attempt yields one message. That key is guessable, so what
 * goes to Gupshup and comes back in reports is the row's correlation key (src/db/outbox.ts).
 */

import { recordActivity } from '../activity.ts';
import { delayUntil, type Clock } from '../clock.ts';
import type { Config } from '../config.ts';
import type { Db } from '../db/client.ts';
import {
  insertAttemptOutcome,
  insertAttemptOutcomes,
  type NewAttemptOutcome,
} from '../db/outcomes.ts';
import { findInbox, markInbox, markInboxes, type InboxRow } from '../db/inbox.ts';
import { cancelEarlierAttemptChecks } from '../db/no-reply-checks.ts';
import {
  findUnfinishedOutboxByKey,
  insertOutbox,
  insertOutboxes,
  type NewOutbox,
} from '../db/outbox.ts';
import { findSuppression } from '../db/suppressions.ts';
import { PermanentError } from '../errors.ts';
import { parseFdrEvent } from '../fdr/event.ts';
import { normalizePhone } from '../fdr/phone.ts';
import { decideReason } from '../fdr/reason.ts';
import { FDR_REASON_LABELS, type FdrReason } from '../fdr/reasons.ts';
import { templateContent } from '../fdr/message-content.ts';
import { extractVariables, renderTemplate } from '../fdr/render.ts';
import { inGroup, type WriteBatcher, type WriteGroup } from '../db/write-batcher.ts';
import type { Log } from '../log.ts';
import type { Metrics } from '../metrics.ts';
import { sendApology } from '../outcomes/apology.ts';
import {
  closeEarlierAttempts,
  courierOf,
  failedAtOf,
  recordAttempt,
} from '../outcomes/attempts.ts';
import { quietUntil } from '../quiet-hours.ts';
import { enqueue, type JobHandler, type Queues } from '../queues/index.ts';
import type { SettingsCache } from '../settings-cache.ts';
import { senderNumberOf, SUPPRESSION_TEXT } from '../suppression.ts';
import { cancelNoReplyChecks } from './no-reply-check.ts';
import { policyOf, recordDeferral } from './quiet-deferral.ts';

export type SkipCode =
  | 'invalid_event'
  | 'attempt_limit'
  | 'no_account'
  | 'unknown_reason'
  | 'whatsapp_disabled'
  | 'no_template'
  | 'invalid_phone'
  | 'opted_out'
  | 'not_on_whatsapp'
  | 'missing_variable'
  | 'unmapped_placeholder'
  | 'too_long';

interface Deps {
  config: Config;
  db: Db;
  queues: Queues;
  settings: SettingsCache;
  clock: Clock;
  metrics: Pick<Metrics, 'notSent' | 'outcomes' | 'notHonoured'>;
  log: Log;
  /** Group commit of the decision's writes (src/db/write-batcher.ts); absent, its own transaction. */
  writes?: WriteBatcher;
}

export function processFdrValidate(deps: Deps): JobHandler<'fdr.validate'> {
  const { config, db, queues, log } = deps;
  return async ({ inboxId }) => {
    const inbox = await findInbox(db, inboxId);
    if (!inbox) {
      throw new PermanentError('ERR_INBOX_MISSING', `fdr_inbox row ${inboxId} does not exist`);
    }
    if (inbox.status !== 'received') {
      if (inbox.status === 'processed') {
        await requeueUnsent(deps, inbox);
      }
      return { status: 'duplicate', inboxStatus: inbox.status };
    }
    const raw: unknown = JSON.parse(inbox.payload);
    // The attempt's outcome row: the decided reason once there is one (src/outcomes/attempts.ts).
    let decided: FdrReason | null = null;
    const skip = async (code: SkipCode, reason: string) => {
      await recordOutcome(deps, inbox, raw, decided, code);
      return skipEvent(deps, inbox, code, reason);
    };
    // A newer failed-delivery attempt makes the no-reply rule of earlier ones moot, whether or
    // not this one gets a message.
    await cancelNoReplyChecks(
      deps,
      await cancelEarlierAttemptChecks(db, inbox.shipmentId, inbox.attempt),
      'newer_attempt',
      true,
    );

    const parsed = parseFdrEvent(raw);
    if (!parsed.ok) {
      return skip('invalid_event', `the FDR event is invalid: ${parsed.reason}`);
    }
    const event = parsed.event;
    if (inbox.attempt > config.MAX_FDR_ATTEMPTS) {
      return skip(
        'attempt_limit',
        `failed-delivery attempt ${inbox.attempt} is beyond the limit of ${config.MAX_FDR_ATTEMPTS}`,
      );
    }
    if (inbox.accountId === null) {
      return skip('no_account', 'the event names no account_id');
    }
    const decision = decideReason(event);
    if (!decision) {
      return skip(
        'unknown_reason',
        'the failed-delivery reason could not be decided from the NDR code or remarks',
      );
    }
    const { reason } = decision;
    decided = reason;
    const settings = await deps.settings.get(inbox.accountId);
    const reasonSetting = settings.reasons[reason];
    if (!reasonSetting.enabled) {
      return skip(
        'whatsapp_disabled',
        `WhatsApp is not enabled for ${FDR_REASON_LABELS[reason]} on account ${inbox.accountId}`,
      );
    }
    const template = reasonSetting.templateId
      ? await deps.settings.template(reasonSetting.templateId)
      : await deps.settings.defaultTemplate(reason);
    if (!template) {
      return skip(
        'no_template',
        `no template is available for ${FDR_REASON_LABELS[reason]} (template ${reasonSetting.templateId ?? 'default'})`,
      );
    }
    const rawPhone =
      event.response_data.customerContactNumber ??
      event.response_data.shippingAddress?.contactPhone;
    const countryCode = event.response_data.shippingAddress?.countryCode ?? config.DEFAULT_COUNTRY;
    const to = normalizePhone(rawPhone, countryCode);
    if (!to) {
      return skip('invalid_phone', 'the customer phone number is missing or invalid');
    }
    const senderNumber = await senderNumberOf(config, db, settings.senderConnectionId);
    const suppressed = senderNumber
      ? await findSuppression(db, senderNumber, to, new Date(deps.clock.now()))
      : null;
    if (suppressed) {
      const why = suppressed.reason === 'not_on_whatsapp' ? 'not_on_whatsapp' : 'opted_out';
      return skip(why, SUPPRESSION_TEXT[why]);
    }
    const values = extractVariables(event, settings, countryCode);
    const rendered = renderTemplate(template.body, template.mapping, values);
    if (!rendered.ok) {
      return skip(rendered.code, `template ${template.id} cannot be rendered: ${rendered.reason}`);
    }

    const message: NewOutbox = {
      idempotencyKey: `fdr-${inbox.shipmentId}-${inbox.attempt}`,
      kind: 'fdr_template',
      shipmentId: inbox.shipmentId,
      accountId: inbox.accountId,
      inboxId: inbox.id,
      reason,
      connectionId: settings.senderConnectionId,
      templateId: template.id,
      toNumber: to,
      customerName: displayName(
        event.response_data.shippingAddress?.customerName ?? event.response_data.customerName,
      ),
      ...templateContent(template, rendered),
    };
    // The message, its attempt's outcome and the inbox row marked processed, committed together
    // (and with the other jobs' of the moment). Marked before the send is queued: if the process
    // dies in between, the sweeper queues the waiting message (src/sweeper.ts).
    const outcome = outcomeRowOf(deps, inbox, raw, reason, {
      messaged: true,
      templateId: template.id,
    });
    const { outboxId, created } = await inGroup(db, deps.writes, decisions, {
      inboxId: inbox.id,
      message,
      outcome,
    });
    if (outcome) {
      await closeEarlierAttempts(deps, { ...outcome, outboxId }, (flagged) =>
        sendApology(deps, flagged).then(() => undefined),
      );
    }
    // Inside the account's quiet hours the send waits, delayed, until they end.
    const { quietHours } = policyOf(config, settings);
    const now = deps.clock.now();
    const until = quietUntil(quietHours, now);
    if (until !== null && quietHours) {
      await recordDeferral(
        deps,
        {
          id: outboxId,
          shipmentId: inbox.shipmentId,
          accountId: inbox.accountId,
          kind: 'fdr_template',
        },
        until,
        quietHours,
        now,
      );
    }
    await enqueue(
      queues,
      'message.send',
      { outboxId },
      until === null ? {} : { delay: delayUntil(deps.clock, until) },
    );
    log.info(
      {
        inboxId,
        outboxId,
        shipmentId: inbox.shipmentId,
        attempt: inbox.attempt,
        reason,
        templateId: template.id,
        created,
        ...(until === null ? {} : { scheduledFor: new Date(until).toISOString() }),
      },
      until === null ? 'FDR message queued' : 'FDR message scheduled for the end of quiet hours',
    );
    return {
      status: until === null ? 'queued' : 'scheduled',
      outboxId,
      reason,
      ...(until === null ? {} : { scheduledFor: until }),
    };
  };
}

/**
 * A run after the decision was committed (the process died before the send was queued, and the
 * job ran again): queues the message's send if it is still unfinished. The job id makes this a
 * no-op while the send's job exists.
 */
async function requeueUnsent(deps: Deps, inbox: InboxRow): Promise<void> {
  const message = await findUnfinishedOutboxByKey(
    deps.db,
    `fdr-${inbox.shipmentId}-${inbox.attempt}`,
  );
  if (message !== null) {
    await enqueue(deps.queues, 'message.send', { outboxId: message });
  }
}

/** What `fdr.validate` writes for an event that gets a message (`decisions`). */
interface Decision {
  inboxId: number;
  message: NewOutbox;
  /** The attempt's outcome row, its outbox id to be filled in; null without an account. */
  outcome: Omit<NewAttemptOutcome, 'outboxId'> | null;
}

/**
 * The writes of an event that gets a message, in one transaction: the outbox row, the attempt's
 * outcome row naming it, and the inbox row marked processed. A batch's decisions go together
 * (src/db/write-batcher.ts), each table's rows as one multi-row statement; a key that exists
 * already (a job run again after a crash) rolls the batch back, and each is then written alone,
 * finding the row there.
 */
const decisions: WriteGroup<Decision, { outboxId: number; created: boolean }> = {
  async many(tx, items) {
    const ids = await insertOutboxes(
      tx,
      items.map((d) => d.message),
    );
    await insertAttemptOutcomes(
      tx,
      items.flatMap((d, i) => (d.outcome ? [{ ...d.outcome, outboxId: ids[i]! }] : [])),
    );
    await markInboxes(
      tx,
      items.map((d) => d.inboxId),
      'processed',
      null,
    );
    return ids.map((outboxId) => ({ outboxId, created: true }));
  },
  async one(tx, d) {
    const { id: outboxId, created } = await insertOutbox(tx, d.message);
    if (d.outcome) {
      await insertAttemptOutcome(tx, { ...d.outcome, outboxId });
    }
    await markInbox(tx, d.inboxId, 'processed', null);
    return { outboxId, created };
  },
};

/**
 * The attempt's row in `whatsapp_attempt_outcomes` for an event that gets no message (inserted
 * once; a re-run finds it there), which also closes the shipment's earlier open attempt as
 * failed again. An event without an account id has no row: it belongs to no account's funnel.
 */
async function recordOutcome(
  deps: Deps,
  inbox: InboxRow,
  raw: unknown,
  reason: FdrReason | null,
  code: SkipCode,
): Promise<void> {
  const row = outcomeRowOf(deps, inbox, raw, reason, { messaged: false, code });
  if (row) {
    await recordAttempt(deps, { ...row, outboxId: null }, (flagged) =>
      sendApology(deps, flagged).then(() => undefined),
    );
  }
}

/**
 * The attempt's outcome row, its outbox id left to the caller (an event that gets a message has
 * none yet); null for an event without an account id.
 */
function outcomeRowOf(
  deps: Deps,
  inbox: InboxRow,
  raw: unknown,
  reason: FdrReason | null,
  decision: { messaged: true; templateId: string } | { messaged: false; code: SkipCode },
): Omit<NewAttemptOutcome, 'outboxId'> | null {
  if (inbox.accountId === null) {
    return null;
  }
  return {
    shipmentId: inbox.shipmentId,
    attempt: inbox.attempt,
    accountId: inbox.accountId,
    reason,
    courier: courierOf(raw),
    templateId: decision.messaged ? decision.templateId : null,
    messaged: decision.messaged,
    notMessagedCode: decision.messaged ? null : decision.code,
    failedAt: failedAtOf(raw, deps.config.OUTCOME_TIME_ZONE, inbox.createdAt),
  };
}

/** `notification_outbox.customer_name`'s length. */
const MAX_CUSTOMER_NAME = 255;

/**
 * The customer's name as the timeline shows it ("… notified Aman Verma"): only ever displayed, so
 * an absurdly long one is cut to its column here rather than refused (the database, in strict
 * mode, would refuse it).
 */
function displayName(name: string | null | undefined): string | null {
  return name === null || name === undefined
    ? null
    : Array.from(name).slice(0, MAX_CUSTOMER_NAME).join('');
}

async function skipEvent(deps: Deps, inbox: InboxRow, code: SkipCode, reason: string) {
  await recordActivity(deps, {
    key: `fdr-skipped-${inbox.id}`,
    shipmentId: inbox.shipmentId,
    accountId: inbox.accountId,
    kind: 'whatsapp_not_sent',
    title: `WhatsApp notification not sent: ${reason}`,
    details: { code, reason, attempt: inbox.attempt },
    occurredAt: new Date(),
  });
  await markInbox(deps.db, inbox.id, 'skipped', `${code}: ${reason}`);
  deps.metrics.notSent.inc({ reason: code });
  deps.log.info(
    { inboxId: inbox.id, shipmentId: inbox.shipmentId, attempt: inbox.attempt, code },
    'FDR event skipped',
  );
  return { status: 'skipped', code };
}
