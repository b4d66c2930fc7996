/**
 * `message.send`: sends one outbox message through Gupshup, with the API its connection uses
 * (src/gupshup/client.ts: Enterprise gateway or self-serve v2). Enqueued by `fdr.validate` (the
 * FDR template), by `reply.route` (follow-ups) and by the sweeper for rows whose job was lost. On
 * success it stores the Gupshup id in `whatsapp_status_logs` and the outbox, and records
 * "<platform> notified <customer>" (or the follow-up) on the timeline. A refused send does what
 * the provider error table says (src/gupshup/error-actions.ts, carried out by
 * src/workers/send-errors.ts): transient failures (Gupshup error 100, HTTP 5xx, timeouts) are
 * retried with backoff, a throttle (HTTP 429, …) also slows the sender down, a paused sender's
 * messages wait (src/sender-pause.ts), and anything else fails the job at once, with its reason
 * on the timeline.
 *
 * A template's quick-reply buttons carry signed postbacks where the API sends them (self-serve).
 * An interactive follow-up (list, reply buttons) goes out natively where the connection can send
 * it, else as its text version: when Gupshup refuses the interactive parameters, the refusal is
 * remembered for the connection (`whatsapp_connection_features`, INTERACTIVE_RECHECK_HOURS),
 * counted, said on the timeline, and the text version goes out in the same attempt.
 *
 * The FDR template and its no-reply reminder (`fdr_reminder`) are held while the account's quiet
 * hours last (src/workers/quiet-deferral.ts): the job goes back to `delayed` until they end, and
 * when it wakes it takes its sender's turn like any send. Follow-ups are never held. When the FDR
 * template is accepted, its no-reply check is recorded with it and queued, delayed until due
 * (src/workers/no-reply-check.ts).
 *
 * Before anything goes out, the conversation policy is checked again at send time: nothing goes to
 * a number suppressed for the sender (opted out, or not on WhatsApp; the opt-out confirmation
 * itself excepted), and a session (free-form) message goes only while the customer's 24-hour
 * window is open (src/customer-window.ts). A message held back is finished as not sent: its
 * outbox row `failed` with the reason as code, `whatsapp_not_sent` on the timeline, counted in
 * `whatsapp_not_sent_total{reason}`. The window is judged by the injectable clock (src/clock.ts).
 *
 * Nothing is sent twice once its outcome is known: a sent or failed outbox row cannot be claimed
 * again. The row's correlation key (its idempotency key and a random part, drawn once when the
 * row was written) travels in `msg_id` and `extra`, the same on every attempt. When an attempt's
 * outcome is not known (no answer in time, a process stopped mid-send), Gupshup may have accepted
 * it: the retry waits up to SEND_RECONCILE_MS for a delivery report naming that whole value
 * (`dlr.process` keeps its id on the row) and then records the message as sent instead of
 * sending it again.
 */
import { DelayedError, type Job } from 'bullmq';

import { publishActivity } from '../activity.ts';
import { delayUntil, type Clock } from '../clock.ts';
import type { Config } from '../config.ts';
import { insertActivities, insertActivity, type ActivityEntry } from '../db/activity.ts';
import type { CredentialCipher } from '../credentials.ts';
import type { Db, Tx } from '../db/client.ts';
import {
  AMBIGUOUS_SEND_FAILURES,
  claimOutbox,
  correlationOf,
  findOutbox,
  lockUnfinishedOutbox,
  markFdrMessageSent,
  markFdrMessagesSent,
  type FdrMessageMark,
  markOutboxError,
  markOutboxSent,
  type OutboxRow,
  type UnlessSuppressed,
} from '../db/outbox.ts';
import { findInteractiveRefusal, recordInteractiveRefusal } from '../db/connection-features.ts';
import { findConversation, openConversation, openConversations } from '../db/conversations.ts';
import { scheduleNoReplyCheck, scheduleNoReplyChecks } from '../db/no-reply-checks.ts';
import { lastCustomerMessageAt } from '../db/customer-windows.ts';
import { insertStatusLog, insertStatusLogs } from '../db/status-logs.ts';
import { reportsPendingBetween } from '../db/webhook-events.ts';
import { DEFAULT_CONNECTION_ID } from '../db/settings.ts';
import { findSuppression } from '../db/suppressions.ts';
import { CUSTOMER_WINDOW_MS, isWindowOpen } from '../customer-window.ts';
import { PermanentError, RetryableError } from '../errors.ts';
import { nationalNumber } from '../fdr/phone.ts';
import {
  INTERACTIVE_UNSUPPORTED,
  type GupshupClient,
  type SendResult,
  type SessionContent,
} from '../gupshup/types.ts';
import { inGroup, type WriteBatcher, type WriteGroup } from '../db/write-batcher.ts';
import type { Log } from '../log.ts';
import type { Metrics } from '../metrics.ts';
import { decodeContent } from '../outbox-content.ts';
import { quietUntil } from '../quiet-hours.ts';
import { enqueue, type JobHandler, type Queues } from '../queues/index.ts';
import { FOLLOW_UP_LABELS, type FollowUpPurpose } from '../replies/messages.ts';
import { postbackKeys, signPostback } from '../replies/postback.ts';
import { holdsSlot, type PaceMark, type SenderPace } from '../sender-pace.ts';
import { resolveSender, type Sender } from '../senders.ts';
import type { SettingsCache } from '../settings-cache.ts';
import { BUSINESS_INITIATED_KINDS, policyOf, recordDeferral } from './quiet-deferral.ts';
import { holdsCustomerTurn, type CustomerMark, type CustomerPace } from '../customer-pace.ts';
import { resumeSender, type SenderPause } from '../sender-pause.ts';
import { actOnSendError, recordHeld } from './send-errors.ts';
import { senderNumberKey, SUPPRESSION_TEXT } from '../suppression.ts';

/** Status of a message Gupshup accepted but has not reported on yet (below SENT). */
export const SUBMITTED = 'SUBMITTED';

interface Deps {
  config: Config;
  db: Db;
  queues: Queues;
  gupshup: GupshupClient;
  decrypt: CredentialCipher['decrypt'] | null;
  /** Per-sender pacing; null sends as fast as the queue's limiter allows. */
  pace: SenderPace | null;
  /** The account's conversation policy: quiet hours, the no-reply rule. */
  settings: SettingsCache;
  clock: Clock;
  /** Paused senders (src/sender-pause.ts); null never pauses. */
  pause: SenderPause | null;
  /** Per-customer spacing after Meta's 131056; null never spaces. */
  customers: CustomerPace | null;
  metrics: Pick<Metrics, 'sends' | 'interactiveFallbacks' | 'notSent' | 'outcomes'>;
  log: Log;
  /** Group commit of the send's record (src/db/write-batcher.ts); absent, its own transaction. */
  writes?: WriteBatcher;
}

/**
 * Templates: the FDR notice (`fdr_template`, which opens the conversation), its no-reply
 * reminder (`fdr_reminder`) and any other template (`template`: the opt-out confirmation).
 * Follow-ups (`session_text`) go out as session messages.
 */
function isTemplateKind(kind: string): boolean {
  return kind === 'fdr_template' || kind === 'fdr_reminder' || kind === 'template';
}

function sendKind(outbox: OutboxRow): string {
  return isTemplateKind(outbox.kind) ? 'template' : 'session';
}

export function processMessageSend(deps: Deps): JobHandler<'message.send'> {
  const { config, db, log } = deps;
  return async ({ outboxId }, job, token, signal) => {
    const outbox = await findOutbox(db, outboxId);
    if (!outbox) {
      throw new PermanentError(
        'ERR_OUTBOX_MISSING',
        `notification_outbox row ${outboxId} does not exist`,
      );
    }
    if (outbox.status === 'sent' || outbox.status === 'failed') {
      return { status: `already_${outbox.status}` };
    }
    const lookup = await resolveSender(
      config,
      db,
      outbox.accountId,
      outbox.connectionId,
      deps.decrypt,
    );
    if (!lookup.ok) {
      await failForGood(deps, outbox, lookup.code, lookup.reason);
      throw new PermanentError(lookup.code, `${lookup.code}: ${lookup.reason}`);
    }
    const { sender } = lookup;
    const kept = keptAnswer(job.data);
    if (kept) {
      // An earlier run of this job had Gupshup's answer in hand and kept it here before MySQL
      // refused the commit: finish that commit; sending again would reach the customer twice.
      const committed = await commitSent(deps, outbox, sender, kept);
      deps.metrics.sends.inc({ kind: sendKind(outbox), result: 'recovered', code: 'none' });
      log.warn(
        { outboxId, shipmentId: outbox.shipmentId, messageId: kept, committed },
        "Gupshup's answer of an earlier run was kept with the job; recorded now, not sent again",
      );
      return { status: 'recovered', messageId: kept };
    }
    if (outbox.gupshupMessageId) {
      // A delivery report named this unfinished message: Gupshup accepted an earlier attempt
      // whose answer was lost. Record it as sent; sending again would reach the customer twice.
      await commitSent(deps, outbox, sender, outbox.gupshupMessageId);
      deps.metrics.sends.inc({ kind: sendKind(outbox), result: 'reconciled', code: 'none' });
      log.warn(
        { outboxId, shipmentId: outbox.shipmentId, messageId: outbox.gupshupMessageId },
        'earlier send attempt was accepted by Gupshup (a delivery report names it); not sending again',
      );
      return { status: 'reconciled', messageId: outbox.gupshupMessageId };
    }
    if (token && (await deferForQuietHours(deps, job, token, outbox))) {
      throw new DelayedError();
    }
    const isTemplate = isTemplateKind(outbox.kind);
    // Templates go through the HSM account; follow-ups through the two-way account.
    const senderKey = `${sender.connectionId}:${isTemplate ? 'hsm' : 'two-way'}`;
    const waitUntil = reconcileDeadline(config, outbox);
    if (waitUntil !== null && token) {
      // The last attempt may have reached Gupshup (no answer, or one we could not read). Give its
      // delivery report time to arrive before risking a second message.
      log.info(
        { outboxId, shipmentId: outbox.shipmentId, lastCode: outbox.errorCode ?? 'cut_off' },
        'earlier send attempt has no known outcome; waiting for its delivery report',
      );
      await job.moveToDelayed(waitUntil, token);
      throw new DelayedError();
    }
    if (token && (await reportsStillPending(deps, outbox))) {
      // The wait is over, but reports that came while it ran are still queued (a backlog after
      // a restart, or under load): its own may be among them. Look again shortly, up to a bound.
      log.info(
        { outboxId, shipmentId: outbox.shipmentId },
        'reports received since the earlier attempt are still being processed; waiting for them',
      );
      await job.moveToDelayed(Date.now() + RECONCILE_RECHECK_MS, token);
      throw new DelayedError();
    }
    const held = await heldByPolicy(deps, outbox, sender);
    if (held) {
      return notSent(deps, outbox, held.code, held.reason);
    }
    const paused = await awaitSenderPause(deps, job, token, outbox, sender);
    if (paused === 'held') {
      throw new DelayedError();
    }
    if (await awaitSenderSlot(deps, job, token, senderKey, sender)) {
      throw new DelayedError();
    }
    if (await awaitCustomerTurn(deps, job, token, outbox, sender)) {
      throw new DelayedError();
    }
    // The claim is also the last look at the opt-out list: a suppression in force for the
    // pair (the opt-out confirmation itself excepted) leaves the row unclaimed.
    const unless: UnlessSuppressed | null =
      outbox.reason === 'opt_out_confirmation'
        ? null
        : {
            senderNumber: senderNumberKey(sender.waNumber),
            customerNumber: outbox.toNumber,
            now: new Date(deps.clock.now()),
          };
    if (!(await claimOutbox(db, outboxId, unless))) {
      const suppressed =
        unless && (await findSuppression(db, unless.senderNumber, outbox.toNumber, unless.now));
      if (suppressed) {
        const code = suppressed.reason === 'not_on_whatsapp' ? 'not_on_whatsapp' : 'opted_out';
        return notSent(deps, outbox, code, SUPPRESSION_TEXT[code]);
      }
      return { status: 'not_claimable' };
    }
    const sent = isTemplate
      ? { result: await sendTemplate(deps, outbox, sender, signal), how: null }
      : await sendSession(deps, outbox, sender, signal);
    const { result } = sent;

    if (result.ok) {
      // The answer goes with the job (Redis) before MySQL: if the commit fails, the retry finds
      // it there and records the message instead of sending it again.
      await keepAnswer(job, result.messageId).catch((err: unknown) =>
        log.warn(
          { outboxId, err: err instanceof Error ? err.message : String(err) },
          "Gupshup's answer could not be kept with the job; committing it directly",
        ),
      );
      const committed = await commitSent(deps, outbox, sender, result.messageId, sent.how);
      deps.metrics.sends.inc({ kind: sendKind(outbox), result: 'sent', code: 'none' });
      if (paused === 'probe' && deps.pause) {
        await endPause(deps, sender);
      }
      log.info(
        {
          outboxId,
          shipmentId: outbox.shipmentId,
          messageId: result.messageId,
          attempt: job.attemptsMade + 1,
          committed,
        },
        'WhatsApp message sent',
      );
      return { status: 'sent', messageId: result.messageId };
    }

    const failure = `${result.code}: ${result.reason}`;
    const mark = job.data as CustomerMark;
    const verdict = await actOnSendError(deps, outbox, sender, result, mark.customerHolds ?? 0);
    if (verdict.kind === 'fail') {
      await failForGood(deps, outbox, verdict.code, verdict.reason, result.code);
      throw new PermanentError(verdict.code, `${verdict.code}: ${verdict.reason}`);
    }
    if (verdict.kind === 'hold' && token) {
      // Not this message's fault: it waits as a delayed job without using an attempt.
      await markOutboxError(db, outboxId, 'sending', result.code, result.reason);
      deps.metrics.sends.inc({ kind: sendKind(outbox), result: 'held', code: result.code });
      if (verdict.pausedSince !== undefined && deps.pause) {
        await holdForPause(deps.pause, job, token, sender, config.SENDER_PAUSE_PROBE_MS);
      } else {
        const customerAt = Date.now() + verdict.waitMs;
        const next: CustomerMark = {
          customerAt,
          customerAttempt: job.attemptsMade,
          customerHolds: (mark.customerHolds ?? 0) + 1,
        };
        await job.updateData({ ...(job.data as object), ...next });
        await job.moveToDelayed(customerAt, token);
      }
      log.warn(
        { outboxId, shipmentId: outbox.shipmentId, code: result.code, action: verdict.action },
        'WhatsApp send refused; the message waits',
      );
      throw new DelayedError();
    }
    const lastAttempt = job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
    if (lastAttempt) {
      await failForGood(
        deps,
        outbox,
        result.code,
        `${result.reason} (after ${job.attemptsMade + 1} attempts)`,
      );
    } else {
      await markOutboxError(db, outboxId, 'sending', result.code, result.reason);
      deps.metrics.sends.inc({ kind: sendKind(outbox), result: 'retrying', code: result.code });
    }
    log.warn(
      {
        outboxId,
        shipmentId: outbox.shipmentId,
        code: result.code,
        attempt: job.attemptsMade + 1,
        lastAttempt,
      },
      'WhatsApp send failed; will retry unless this was the last attempt',
    );
    throw new RetryableError(result.code, failure);
  };
}

/** Gupshup's id for this job's message, kept in the job's data once answered (see keepAnswer). */
function keptAnswer(data: unknown): string | null {
  const value = (data as { acceptedMessageId?: unknown } | null)?.acceptedMessageId;
  return typeof value === 'string' && value !== '' ? value : null;
}

async function keepAnswer(job: Job, messageId: string): Promise<void> {
  await job.updateData({ ...(job.data as object), acceptedMessageId: messageId });
}

/** How a follow-up went out: natively, or as its text version and why. */
interface SessionHow {
  format: SessionContent['type'];
  /** Set when an interactive follow-up went out as text because the connection cannot send it. */
  fallback: 'refused' | 'remembered' | null;
}

/**
 * The FDR template, through the connection's API: the rendered text (Enterprise), or the template
 * id and its placeholder values with a signed postback per quick-reply button (self-serve). The
 * postbacks name the conversation by this outbox row's id, the key its conversation will have
 * (a reminder's, by the FDR message it reminds of: replies to it belong to that conversation).
 */
async function sendTemplate(
  deps: Deps,
  outbox: OutboxRow,
  sender: Sender,
  signal: AbortSignal | undefined,
): Promise<SendResult> {
  const stored = decodeContent(outbox.content);
  const template = stored?.kind === 'template' ? stored : null;
  if (sender.account.api === 'self-serve' && (!template || !outbox.templateId)) {
    return {
      ok: false,
      retryable: false,
      code: 'template_params_missing',
      reason: 'the message has no template id and parameters, which the self-serve API needs',
    };
  }
  const keys = postbackKeys(deps.config);
  const conversation = await conversationKeyOf(deps, outbox);
  return deps.gupshup.sendTemplate(
    sender.account,
    {
      to: outbox.toNumber,
      correlationKey: correlationOf(outbox),
      text: outbox.body,
      templateId: outbox.templateId ?? '',
      params: template?.params ?? [],
      postbacks: (template?.buttons ?? []).map((action) =>
        action ? signPostback(keys, { conversation, action }) : null,
      ),
    },
    signal,
  );
}

/** The key a template's postbacks name its conversation by: its FDR message's outbox id. */
async function conversationKeyOf(deps: Deps, outbox: OutboxRow): Promise<number> {
  if (outbox.kind !== 'fdr_reminder' || outbox.conversationId === null) {
    return outbox.id;
  }
  return (await findConversation(deps.db, outbox.conversationId))?.outboxId ?? outbox.id;
}

/**
 * Quiet hours (src/workers/quiet-deferral.ts): a message the business starts that would go out
 * inside the account's quiet hours is moved to `delayed` until they end, with its timeline
 * entry. Returns true when it was. Follow-ups are never deferred: the customer just wrote.
 */
async function deferForQuietHours(
  deps: Deps,
  job: Job,
  token: string,
  outbox: OutboxRow,
): Promise<boolean> {
  if (!BUSINESS_INITIATED_KINDS.includes(outbox.kind)) {
    return false;
  }
  const policy = policyOf(deps.config, await deps.settings.get(outbox.accountId));
  const now = deps.clock.now();
  const until = quietUntil(policy.quietHours, now);
  if (until === null || !policy.quietHours) {
    return false;
  }
  await recordDeferral(deps, outbox, until, policy.quietHours, now);
  deps.log.info(
    { outboxId: outbox.id, shipmentId: outbox.shipmentId, until: new Date(until).toISOString() },
    'inside quiet hours: the message waits until they end',
  );
  await job.moveToDelayed(Date.now() + delayUntil(deps.clock, until), token);
  return true;
}

/**
 * When the no-reply check of an FDR message just sent is due (src/workers/no-reply-check.ts):
 * `noReply.afterHours` from now, and for a reminder not inside quiet hours; null when the
 * account's rule is to do nothing.
 */
async function noReplyDue(deps: Deps, outbox: OutboxRow, sentAt: number): Promise<number | null> {
  if (outbox.kind !== 'fdr_template') {
    return null;
  }
  const { noReply, quietHours } = policyOf(deps.config, await deps.settings.get(outbox.accountId));
  if (noReply.then === 'nothing') {
    return null;
  }
  const due = sentAt + noReply.afterHours * 3_600_000;
  return noReply.then === 'remind' ? (quietUntil(quietHours, due) ?? due) : due;
}

/**
 * A follow-up: its interactive content where the connection can send it, else its text version
 * (`body`). Gupshup refusing the interactive parameters is remembered for the connection, and the
 * text version goes out at once: the refused request sent nothing.
 */
async function sendSession(
  deps: Deps,
  outbox: OutboxRow,
  sender: Sender,
  signal: AbortSignal | undefined,
): Promise<{ result: SendResult; how: SessionHow }> {
  const { config, db, gupshup, log } = deps;
  const to = { to: outbox.toNumber, correlationKey: correlationOf(outbox) };
  const asText = async (fallback: SessionHow['fallback']) => ({
    result: await gupshup.sendSession(
      sender.account,
      { ...to, content: { type: 'text', text: outbox.body } },
      signal,
    ),
    how: { format: 'text' as const, fallback },
  });
  const stored = decodeContent(outbox.content);
  const interactive = stored?.kind === 'session' ? stored.content : null;
  if (!interactive || !gupshup.supports(sender.account, interactive.type)) {
    return asText(null);
  }
  const refused = await findInteractiveRefusal(db, sender.connectionId);
  const recheckMs = config.INTERACTIVE_RECHECK_HOURS * 3_600_000;
  if (refused && (recheckMs === 0 || Date.now() - refused.at.getTime() < recheckMs)) {
    deps.metrics.interactiveFallbacks.inc({ reason: 'remembered' });
    return asText('remembered');
  }
  const result = await gupshup.sendSession(sender.account, { ...to, content: interactive }, signal);
  if (!result.ok && result.code === INTERACTIVE_UNSUPPORTED) {
    await recordInteractiveRefusal(db, sender.connectionId, result.reason);
    deps.metrics.interactiveFallbacks.inc({ reason: 'refused' });
    log.warn(
      { outboxId: outbox.id, connectionId: sender.connectionId, reason: result.reason },
      'Gupshup refused interactive messages for this connection; sending the text version, and text from now on',
    );
    return asText('refused');
  }
  return { result, how: { format: interactive.type, fallback: null } };
}

/**
 * Takes this send's turn on its sender account (src/sender-pace.ts). Returns true when the turn
 * is in the future and the job was moved to `delayed` until then, holding it.
 */
async function awaitSenderSlot(
  deps: Deps,
  job: Job,
  token: string | undefined,
  senderKey: string,
  sender: Pick<Sender, 'connectionId' | 'maxPerSecond'>,
): Promise<boolean> {
  if (!deps.pace || !token || holdsSlot(job.data as PaceMark, job.attemptsMade)) {
    return false;
  }
  const wait = await deps.pace.reserve(senderKey, sender.connectionId, sender.maxPerSecond);
  if (wait <= 0) {
    return false;
  }
  const paceAt = Date.now() + wait;
  const mark: PaceMark = { paceAt, paceAttempt: job.attemptsMade };
  await job.updateData({ ...(job.data as object), ...mark });
  await job.moveToDelayed(paceAt, token);
  return true;
}

/** What a job that went through a paused sender as its probe keeps: that pause's start. */
interface ProbeMark {
  pauseProbe?: number;
}

/**
 * Checks the sender's pause (src/sender-pause.ts): `go` when it is not paused; `probe` when it
 * is and this send is the one let through to see whether it works again; `held` when the job was
 * moved to `delayed` until the next probe time (and remembered, so a resume wakes it).
 */
async function awaitSenderPause(
  deps: Deps,
  job: Job,
  token: string | undefined,
  outbox: OutboxRow,
  sender: Sender,
): Promise<'go' | 'probe' | 'held'> {
  if (!deps.pause || !token) {
    return 'go';
  }
  const state = await deps.pause.check(sender.connectionId);
  if (state.kind === 'go') {
    return 'go';
  }
  if (state.kind === 'probe') {
    const mark: ProbeMark = { pauseProbe: state.since };
    await job.updateData({ ...(job.data as object), ...mark });
    deps.log.info(
      { outboxId: outbox.id, connectionId: sender.connectionId },
      'paused sender: this send is its probe',
    );
    return 'probe';
  }
  if ((job.data as ProbeMark).pauseProbe === state.since) {
    // The probe, back from waiting for its sender's turn.
    return 'probe';
  }
  await recordHeld(deps, outbox, sender, { since: state.since, reason: state.reason });
  await holdForPause(deps.pause, job, token, sender, state.waitMs);
  return 'held';
}

async function holdForPause(
  pause: SenderPause,
  job: Job,
  token: string,
  sender: Sender,
  waitMs: number,
): Promise<void> {
  const { pauseProbe: _dropped, ...data } = job.data as ProbeMark & Record<string, unknown>;
  await job.updateData(data);
  await pause.hold(sender.connectionId, job.id ?? '');
  await job.moveToDelayed(Date.now() + Math.max(waitMs, 1_000), token);
}

/** The probe went through: the sender is resumed and the messages that waited on it wake. */
async function endPause(deps: Deps, sender: Sender): Promise<void> {
  const { wasPaused, woken } = await resumeSender(
    deps.pause!,
    deps.queues['message.send'],
    sender.connectionId,
  );
  if (wasPaused) {
    deps.log.warn(
      { connectionId: sender.connectionId, appName: sender.appName, woken },
      'WhatsApp sender resumed: a probe send succeeded',
    );
  }
}

/**
 * Spaces messages to a customer Meta said gets too many (131056; src/customer-pace.ts). Returns
 * true when the job was moved to `delayed` until its turn.
 */
async function awaitCustomerTurn(
  deps: Deps,
  job: Job,
  token: string | undefined,
  outbox: OutboxRow,
  sender: Sender,
): Promise<boolean> {
  const mark = job.data as CustomerMark;
  if (!deps.customers || !token || holdsCustomerTurn(mark, job.attemptsMade)) {
    return false;
  }
  const wait = await deps.customers.turn(sender.connectionId, outbox.toNumber);
  if (wait <= 0) {
    return false;
  }
  const customerAt = Date.now() + wait;
  const next: CustomerMark = { customerAt, customerAttempt: job.attemptsMade };
  await job.updateData({ ...(job.data as object), ...next });
  await job.moveToDelayed(customerAt, token);
  return true;
}

/**
 * Failures after which Gupshup may still have accepted the message: no answer in time, a broken
 * connection, an answer we could not read, or an attempt cut off (a row left `sending` with no
 * code). An HTTP status, a Gupshup error id or no connection at all (`unreachable`) is a
 * definite "not sent".
 */
const AMBIGUOUS_FAILURES = AMBIGUOUS_SEND_FAILURES;

/** How often a send past its reconcile wait looks again while reports are still queued. */
const RECONCILE_RECHECK_MS = 500;
/** The longest a send waits in all for a report backlog to clear: 10 × SEND_RECONCILE_MS, at least 10 min. */
const reconcileBacklogCapMs = (reconcileMs: number) => Math.max(reconcileMs * 10, 600_000);

/**
 * After the reconcile wait of an attempt with no known outcome: whether delivery reports that
 * arrived while its report was awaited (from GUPSHUP_TIMEOUT_MS before the attempt to the end of
 * its wait) are still queued, so its own may be among them. Later reports do not count: under
 * steady traffic there are always some. Bounded by `reconcileBacklogCapMs`.
 */
async function reportsStillPending(deps: Deps, outbox: OutboxRow): Promise<boolean> {
  const { config } = deps;
  const ambiguous =
    config.SEND_RECONCILE_MS > 0 &&
    outbox.status === 'sending' &&
    outbox.attempts > 0 &&
    (outbox.errorCode === null || AMBIGUOUS_FAILURES.has(outbox.errorCode));
  const attemptAt = outbox.updatedAt.getTime();
  if (!ambiguous || Date.now() > attemptAt + reconcileBacklogCapMs(config.SEND_RECONCILE_MS)) {
    return false;
  }
  return reportsPendingBetween(
    deps.db,
    new Date(attemptAt - config.GUPSHUP_TIMEOUT_MS),
    new Date(attemptAt + config.SEND_RECONCILE_MS),
  );
}

/**
 * When the previous attempt's outcome is unknown and it is recent, the time to wait until
 * before sending again (SEND_RECONCILE_MS after it); otherwise null.
 */
export function reconcileDeadline(
  config: Pick<Config, 'SEND_RECONCILE_MS'>,
  outbox: Pick<OutboxRow, 'status' | 'attempts' | 'errorCode' | 'updatedAt'>,
  now = Date.now(),
): number | null {
  if (config.SEND_RECONCILE_MS === 0 || outbox.status !== 'sending' || outbox.attempts === 0) {
    return null;
  }
  if (outbox.errorCode !== null && !AMBIGUOUS_FAILURES.has(outbox.errorCode)) {
    return null;
  }
  const until = outbox.updatedAt.getTime() + config.SEND_RECONCILE_MS;
  return until > now ? until : null;
}

/**
 * Whether the send hands Redis its no-reply check now: when it is due within
 * NO_REPLY_QUEUE_AHEAD_MS, or when no sweeper runs to hand it over later (src/sweeper.ts).
 */
function queueCheckNow(deps: Deps, dueAt: number): boolean {
  const { SWEEP_INTERVAL_MS, NO_REPLY_QUEUE_AHEAD_MS } = deps.config;
  return (
    SWEEP_INTERVAL_MS === 0 ||
    NO_REPLY_QUEUE_AHEAD_MS === 0 ||
    dueAt - deps.clock.now() <= NO_REPLY_QUEUE_AHEAD_MS
  );
}

/** Thrown inside a commit to roll it back: another attempt finished the row first. */
class AlreadyFinished extends Error {}

/** What a send accepted by Gupshup records, in one transaction (`sentRecords`). */
interface SentRecord {
  outbox: OutboxRow;
  messageId: string;
  sentAt: Date;
  /** When its no-reply check is due; null when it has none. */
  noReplyAt: number | null;
  entry: ActivityEntry;
}

const statusLogOf = (r: SentRecord) => ({
  shipmentId: r.outbox.shipmentId,
  status: SUBMITTED,
  messageId: r.messageId,
});

const conversationOf = ({ outbox }: SentRecord) => ({
  outboxId: outbox.id,
  shipmentId: outbox.shipmentId,
  accountId: outbox.accountId,
  customerNumber: outbox.toNumber,
  connectionId: outbox.connectionId,
});

const checkOf = ({ outbox }: SentRecord, dueAt: number) => ({
  outboxId: outbox.id,
  shipmentId: outbox.shipmentId,
  accountId: outbox.accountId,
  dueAt: new Date(dueAt),
});

const markOf = (r: SentRecord): FdrMessageMark => ({
  outbox: r.outbox,
  gupshupMessageId: r.messageId,
  sentAt: r.sentAt,
});

/**
 * Marks the message sent (and an FDR message's attempt outcome, its first acceptance only);
 * throws AlreadyFinished, rolling the record back, when another attempt finished it first.
 */
async function markSent(tx: Tx, r: SentRecord): Promise<boolean> {
  const marked =
    r.outbox.kind === 'fdr_template'
      ? await markFdrMessageSent(tx, r.outbox, r.messageId, r.sentAt)
      : {
          finished: await markOutboxSent(tx, r.outbox.id, r.messageId, r.sentAt),
          outcomeSent: false,
        };
  if (!marked.finished) {
    throw new AlreadyFinished();
  }
  return marked.outcomeSent;
}

/**
 * The record of a send: its status log row, the outbox row marked sent, for an FDR message the
 * conversation replies bind to and its no-reply check, and the timeline entry, all in one
 * transaction, so nobody sees a sent message without its entry and a crash cannot lose one. A
 * batch's sends go together (src/db/write-batcher.ts): each table's rows as one multi-row insert,
 * the FDR messages' marks as one statement, other messages' one by one. Any surprise (a row
 * finished meanwhile, a conversation already open after a crash) rolls the batch back, and each
 * send is then recorded alone.
 */
const sentRecords: WriteGroup<SentRecord, { activityId: number; outcomeSent: boolean }> = {
  async many(tx, records) {
    await insertStatusLogs(tx, records.map(statusLogOf));
    const notices = records.filter((r) => r.outbox.kind === 'fdr_template');
    if (!(await markFdrMessagesSent(tx, notices.map(markOf)))) {
      throw new Error('a message or its outcome was not open: the sends are recorded one by one');
    }
    // The other messages (reminders, follow-ups) have no outcome: marked one by one.
    const outcomes: boolean[] = [];
    for (const r of records) {
      outcomes.push(r.outbox.kind === 'fdr_template' ? true : await markSent(tx, r));
    }
    await openConversations(tx, notices.map(conversationOf));
    await scheduleNoReplyChecks(
      tx,
      notices.flatMap((r) => (r.noReplyAt === null ? [] : [checkOf(r, r.noReplyAt)])),
    );
    const ids = await insertActivities(
      tx,
      records.map((r) => r.entry),
    );
    return records.map((_r, i) => ({ activityId: ids[i]!, outcomeSent: outcomes[i]! }));
  },
  async one(tx, r) {
    await insertStatusLog(tx, statusLogOf(r));
    const outcomeSent = await markSent(tx, r);
    if (r.outbox.kind === 'fdr_template') {
      await openConversation(tx, conversationOf(r));
      if (r.noReplyAt !== null) {
        await scheduleNoReplyCheck(tx, checkOf(r, r.noReplyAt));
      }
    }
    return { activityId: await insertActivity(tx, r.entry), outcomeSent };
  },
};

/**
 * Records a message Gupshup accepted (`sentRecords`), then queues its no-reply check when due
 * soon and asks for its timeline entry to be published (the sweeper re-publishes an entry whose
 * job was lost). Returns false, changing nothing, when the row was already finished by someone
 * else.
 */
async function commitSent(
  deps: Deps,
  outbox: OutboxRow,
  sender: Sender,
  messageId: string,
  how: SessionHow | null = null,
): Promise<boolean> {
  const { config } = deps;
  const isReminder = outbox.kind === 'fdr_reminder';
  // The FDR notice is "notified"; any other template (the opt-out confirmation) is a follow-up.
  const isNotice = outbox.kind === 'fdr_template';
  const sentAt = new Date(deps.clock.now());
  const noReplyAt = await noReplyDue(deps, outbox, sentAt.getTime());
  const who = sender.connectionId === DEFAULT_CONNECTION_ID ? config.PLATFORM_NAME : sender.appName;
  const customer = outbox.customerName ?? 'the customer';
  const entry: ActivityEntry = {
    key: `notified-${outbox.id}`,
    shipmentId: outbox.shipmentId,
    accountId: outbox.accountId,
    kind: isReminder ? 'whatsapp_reminder' : isNotice ? 'whatsapp_notified' : 'whatsapp_follow_up',
    title: isReminder
      ? `${who} reminded ${customer}`
      : isNotice
        ? `${who} notified ${customer}`
        : `${who} replied to the customer: ${followUpLabel(outbox.reason)}${fallbackNote(how)}`,
    details: {
      appName: sender.appName,
      fromNumber: sender.waNumber,
      toNumber: nationalNumber(outbox.toNumber, config.DEFAULT_COUNTRY) ?? outbox.toNumber,
      sentOn: sentAt.toISOString(),
      messageId,
      reason: outbox.reason,
      templateId: outbox.templateId,
      api: sender.account.api,
      ...(how ? { format: how.format, ...(how.fallback ? { fallback: how.fallback } : {}) } : {}),
    },
    occurredAt: sentAt,
  };
  // Group-committed with the other sends of the moment, as multi-row statements: resolves once
  // durable.
  const recorded = await inGroup(deps.db, deps.writes, sentRecords, {
    outbox,
    messageId,
    sentAt,
    noReplyAt,
    entry,
  }).catch((err: unknown) => {
    if (err instanceof AlreadyFinished) {
      return null;
    }
    throw err;
  });
  if (recorded === null) {
    return false;
  }
  const { activityId, outcomeSent } = recorded;
  if (outcomeSent) {
    deps.metrics.outcomes.inc({ stage: 'sent' });
  }
  if (noReplyAt !== null && queueCheckNow(deps, noReplyAt)) {
    await enqueue(
      deps.queues,
      'no-reply.check',
      { outboxId: outbox.id },
      { delay: delayUntil(deps.clock, noReplyAt) },
    ).catch((err: unknown) =>
      // MySQL holds the check: the sweeper makes its job once it is due.
      deps.log.warn(
        { outboxId: outbox.id, err: err instanceof Error ? err.message : String(err) },
        'no-reply check not queued; the sweeper will queue it when due',
      ),
    );
  }
  await publishActivity(deps.queues, activityId);
  return true;
}

async function failForGood(
  deps: Deps,
  outbox: OutboxRow,
  code: string,
  reason: string,
  /** The provider's code, when `code` is the failure reason the table gave it. */
  raw: string = code,
): Promise<void> {
  // As with a send, the final state and its timeline entry commit together.
  const activityId = await deps.db.transaction(async (tx) => {
    await markOutboxError(tx, outbox.id, 'failed', code, reason);
    return insertActivity(tx, {
      key: `send-failed-${outbox.id}`,
      shipmentId: outbox.shipmentId,
      accountId: outbox.accountId,
      kind: 'whatsapp_failed',
      title: `WhatsApp notification failed: ${reason}`,
      details: {
        code: raw,
        reason,
        templateId: outbox.templateId,
        ...(raw === code ? {} : { failure: code }),
      },
      occurredAt: new Date(),
    });
  });
  deps.metrics.sends.inc({ kind: sendKind(outbox), result: 'failed', code: raw });
  await publishActivity(deps.queues, activityId);
  deps.log.warn(
    { outboxId: outbox.id, shipmentId: outbox.shipmentId, code },
    'WhatsApp message failed for good',
  );
}

/**
 * Why the conversation policy holds this message back now, or null: a session message is outside
 * the customer's 24-hour window. There is no template for a follow-up, so a follow-up outside
 * the window is not sent at all. (A number suppressed for the sender is found by the claim.)
 */
async function heldByPolicy(
  deps: Deps,
  outbox: OutboxRow,
  sender: Sender,
): Promise<{ code: string; reason: string } | null> {
  // The opt-out list is looked at by the claim itself (just before the send).
  if (outbox.kind !== 'session_text') {
    return null;
  }
  const senderNumber = senderNumberKey(sender.waNumber);
  const now = new Date(deps.clock.now());
  const lastWrote = await lastCustomerMessageAt(deps.db, senderNumber, outbox.toNumber);
  if (isWindowOpen(lastWrote, now)) {
    return null;
  }
  const hours = CUSTOMER_WINDOW_MS / 3_600_000;
  return {
    code: 'window_closed',
    reason: lastWrote
      ? `the customer last wrote ${Math.floor((now.getTime() - lastWrote.getTime()) / 3_600_000)} hours ago, and a message that is not a template may only go within ${hours} hours of that`
      : `the customer has not written to this number within ${hours} hours, and a message that is not a template may only go then`,
  };
}

/**
 * Finishes a message the policy holds back: the row `failed` with the reason as its code (never
 * claimed again) and `whatsapp_not_sent` on the timeline, in one transaction.
 */
async function notSent(deps: Deps, outbox: OutboxRow, code: string, reason: string) {
  const what =
    outbox.kind === 'fdr_template'
      ? 'WhatsApp notification'
      : `WhatsApp follow-up (${followUpLabel(outbox.reason)})`;
  const activityId = await deps.db.transaction(async (tx) => {
    if (!(await lockUnfinishedOutbox(tx, outbox.id))) {
      return null;
    }
    await markOutboxError(tx, outbox.id, 'failed', code, `not sent: ${reason}`);
    return insertActivity(tx, {
      key: `not-sent-${outbox.id}`,
      shipmentId: outbox.shipmentId,
      accountId: outbox.accountId,
      kind: 'whatsapp_not_sent',
      title: `${what} not sent: ${reason}`,
      details: { code, reason, purpose: outbox.reason, templateId: outbox.templateId },
      occurredAt: new Date(),
    });
  });
  if (activityId === null) {
    return { status: 'not_claimable' };
  }
  deps.metrics.notSent.inc({ reason: code });
  await publishActivity(deps.queues, activityId);
  deps.log.info(
    { outboxId: outbox.id, shipmentId: outbox.shipmentId, code },
    'WhatsApp message not sent: held back by the conversation policy',
  );
  return { status: 'not_sent', code };
}

function followUpLabel(purpose: string | null): string {
  return (purpose && FOLLOW_UP_LABELS[purpose as FollowUpPurpose]) || 'follow-up message';
}

function fallbackNote(how: SessionHow | null): string {
  return how?.fallback
    ? ' (as numbered text: this connection cannot send interactive messages)'
    : '';
}
