/**
 * `reply.route`: turns a customer's WhatsApp reply into an action on the order. Enqueued by the
 * Gupshup webhook (stage `receive`) and by itself (stage `act`, delayed by the settle window).
 *
 * receive: bind the reply to a conversation — by the signed postback of the row or button tapped
 *   (src/replies/postback.ts), else by the message it names (reply or context id), and only last
 *   by the customer's number (the newest open FDR conversation) — read what it means, and put it
 *   on the timeline. What it asks for comes from the rule table (src/replies/rules.ts). A reply
 *   asking for an action becomes the conversation's latest actionable reply and is scheduled for
 *   `act` after REPLY_SETTLE_SECONDS, so of several taps only the last one counts. A tap whose
 *   postback fails its check is treated as free text: never acted on, and said so. A message
 *   that binds to nothing is counted and dropped, its stored body scrubbed.
 * act: if a later actionable reply arrived, this one is superseded. Otherwise read the order's
 *   status from the WMS: no longer in failed delivery → the standard reply, no action; else do it
 *   (ndrNotification, date list, portal link, concern prompt) and confirm in one short message
 *   whose reply buttons offer the next step (src/replies/messages.ts).
 *
 * Opt-out and opt-in (src/suppression.ts): a message from the customer opens their 24-hour window
 *   (src/customer-window.ts). A message that is one of the account's opt-out keywords suppresses
 *   the number for the conversation's sender number, is confirmed once (the account's opt-out
 *   template, else a short text) and is never read as a reply intent; an opt-in keyword, or any
 *   other message the customer sends later, lifts the opt-out. A keyword from a number whose
 *   conversations are closed or old still counts (bound to its newest one). A v2 `user-event`
 *   `opted-out` / `opted-in` (stage `receive` too) does the same without a confirmation.
 *
 * Outcomes: the customer's first reply bound to a conversation is its attempt's `replied`, and
 *   the first action taken on an answer its `actioned` (with the date chosen, for a reschedule;
 *   a later action replaces it), src/outcomes/attempts.ts.
 *
 * Idempotency: the WMS call carries `ndr-reply-<replyId>` as Idempotency-Key; follow-up messages
 * are outbox rows keyed by reply and purpose, so a retried job books and sends nothing twice.
 */
import { DelayedError } from 'bullmq';

import { recordActivity } from '../activity.ts';
import type { Clock } from '../clock.ts';
import type { Config } from '../config.ts';
import type { Db } from '../db/client.ts';
import { findConnectionIdsByAppName } from '../db/connections.ts';
import {
  findConversation,
  findConversationByMessageId,
  findConversationByOutboxId,
  findReplyByEvent,
  insertReply,
  lastConversationForNumber,
  latestConversationForNumber,
  markLatestActionable,
  markReply,
  updateConversation,
  type ConversationRow,
  type ReplyRow,
} from '../db/conversations.ts';
import { recordCustomerMessage } from '../db/customer-windows.ts';
import { markOutcomeActioned, markOutcomeReplied } from '../db/outcomes.ts';
import { anySendInFlight, insertOutbox } from '../db/outbox.ts';
import { DEFAULT_CONNECTION_ID } from '../db/settings.ts';
import { findTemplate } from '../db/templates.ts';
import { findWebhookEvent, markWebhookEvent, scrubWebhookEvent } from '../db/webhook-events.ts';
import { PermanentError, RetryableError } from '../errors.ts';
import { trackedLink } from '../links.ts';
import type { Log } from '../log.ts';
import type { Metrics } from '../metrics.ts';
import { keywordText, matchKeyword, type KeywordMatch } from '../opt-out.ts';
import { reachStage } from '../outcomes/attempts.ts';
import type { EffectivePolicy } from '../policy.ts';
import { enqueue, type JobHandler, type Queues } from '../queues/index.ts';
import { encodeContent } from '../outbox-content.ts';
import { recordReplyEvidence } from '../reply-evidence.ts';
import { formatDateChoice, nextDeliveryDates } from '../replies/dates.ts';
import {
  concernPrompt,
  confirmation,
  dateChoices,
  invalidDate,
  optOutConfirmation,
  portalLink,
  standardReply,
  type FollowUp,
  type SignChoice,
} from '../replies/messages.ts';
import { postbackKeys, signPostback, type PostbackReading } from '../replies/postback.ts';
import { intentLabel, readReply, summarise } from '../replies/read.ts';
import {
  checkSender,
  decide,
  isActionable,
  type BoundBy,
  type ConversationState,
  type Request,
} from '../replies/rules.ts';
import type { SettingsCache } from '../settings-cache.ts';
import { optIn, optOut, senderNumberOf, type OptChangeContext } from '../suppression.ts';
import type { InboundMessage, UserEvent } from '../webhook/events.ts';
import { plausibleEpochMs } from '../webhook/fields.ts';
import { isFailedDelivery, type WmsClient } from '../wms/client.ts';
import { cancelNoReplyChecks } from './no-reply-check.ts';
import { policyOf } from './quiet-deferral.ts';

interface Deps {
  config: Config;
  db: Db;
  queues: Queues;
  wms: WmsClient | null;
  settings: Pick<SettingsCache, 'get'>;
  /** The clock `message.send` judges the 24-hour window by (src/clock.ts). */
  clock: Clock;
  metrics: Metrics;
  log: Log;
}

export function processReplyRoute(deps: Deps): JobHandler<'reply.route'> {
  return async (payload, job, token) => {
    return payload.stage === 'act'
      ? act(deps, payload.webhookEventId)
      : receive(deps, payload.webhookEventId, async () => {
          if (!token) {
            return false;
          }
          await job.moveToDelayed(Date.now() + BIND_RECHECK_MS, token);
          return true;
        });
  };
}

/** How often an unbound reply looks again while a send it may answer is being committed. */
const BIND_RECHECK_MS = 250;

/**
 * Whether a reply that binds to nothing may answer a send still being committed: the customer
 * can answer a message the moment Gupshup delivers it, before `message.send` has stored its id.
 * True while, within 2 × GUPSHUP_TIMEOUT_MS of the reply's arrival, a send to the reply's number
 * is in flight, or (for a reply naming one of our messages by id) any send is.
 */
async function mayAnswerSendInFlight(
  deps: Deps,
  message: InboundMessage,
  receivedAt: Date,
): Promise<boolean> {
  if (Date.now() - receivedAt.getTime() > deps.config.GUPSHUP_TIMEOUT_MS * 2) {
    return false;
  }
  const namesMessage = Boolean(message.replyId ?? message.contextGsId ?? message.contextId);
  if (!namesMessage && message.mobile === null) {
    return false;
  }
  return anySendInFlight(deps.db, namesMessage ? null : message.mobile);
}

async function receive(deps: Deps, webhookEventId: number, lookAgain: () => Promise<boolean>) {
  const { db, config, log } = deps;
  const found = await findWebhookEvent(db, webhookEventId);
  if (!found) {
    throw new PermanentError('ERR_EVENT_MISSING', `webhook event ${webhookEventId} does not exist`);
  }
  if (found.row.status !== 'received') {
    return { status: 'duplicate', eventStatus: found.row.status };
  }
  if (found.event.kind === 'user') {
    return receiveUserEvent(deps, webhookEventId, found.event.event, found.row.createdAt);
  }
  if (found.event.kind !== 'inbound') {
    throw new PermanentError(
      'ERR_EVENT_KIND',
      `webhook event ${webhookEventId} is not an inbound message`,
    );
  }
  const message = found.event.message;
  // The message's own time, else (none given, or none a clock could mean) now.
  const receivedAt = new Date(plausibleEpochMs(message.timestamp) ?? Date.now());
  const read = readReply(postbackKeys(config), message, receivedAt);
  let bound = await bindConversation(deps, message, read.postback);
  if (!bound) {
    if ((await mayAnswerSendInFlight(deps, message, found.row.createdAt)) && (await lookAgain())) {
      throw new DelayedError();
    }
    // The send may have committed between the two reads: its conversation is there now.
    bound = await bindConversation(deps, message, read.postback);
  }
  // An opt-out (or opt-in) counts even after the conversations it could answer are closed.
  bound ??= await bindKeyword(deps, message);
  if (!bound) {
    deps.metrics.unknownSenderReplies.inc();
    await scrubWebhookEvent(db, webhookEventId, 'unknown sender');
    log.info({ webhookEventId }, 'reply that binds to no conversation; ignored');
    return { status: 'unknown_sender' };
  }
  const { conversation, by } = bound;
  const sender = checkSender(conversation, message, by);
  if (sender === 'learn_user_id' && message.userId) {
    await updateConversation(db, conversation.id, { customerUserId: message.userId });
  }
  if (sender !== 'other') {
    const keyword = await applyCustomerMessage(deps, {
      webhookEventId,
      message,
      conversation,
      by,
      receivedAt,
      arrivedAt: found.row.createdAt,
    });
    if (keyword) {
      return keyword;
    }
  }

  const request: Request =
    sender === 'other'
      ? {
          kind: 'refused',
          code: 'other_sender',
          reason: "the reply names this conversation but does not come from its customer's number",
        }
      : decide(stateOf(conversation), read.meaning, ruleOptions(config, receivedAt));
  const actionable = isActionable(request);
  const reply = await insertReply(db, {
    webhookEventId,
    conversationId: conversation.id,
    shipmentId: conversation.shipmentId,
    type: message.type,
    intent: intentLabel(read.meaning, message),
    summary: summarise(message),
    receivedAt,
    state: actionable ? 'pending' : 'logged',
  });
  await recordReplyEvidence(deps, { reply, conversation, message, meaning: read.meaning, request });
  if (sender !== 'other') {
    // The customer answered: the no-reply rule of this conversation's message is moot.
    await cancelNoReplyChecks(deps, [conversation.outboxId], 'replied');
    await reachStage(
      deps,
      'replied',
      markOutcomeReplied(db, conversation.shipmentId, conversation.outboxId, receivedAt),
    );
  }
  await recordActivity(deps, {
    key: `reply-${reply.id}`,
    shipmentId: conversation.shipmentId,
    accountId: conversation.accountId,
    kind: 'whatsapp_reply',
    title: `Customer replied: ${reply.summary ?? message.type}`,
    details: {
      type: message.type,
      intent: reply.intent,
      receivedAt: receivedAt.toISOString(),
      boundBy: by,
      ...(actionable ? {} : { action: 'none' }),
      ...(message.media?.url ? { mediaUrl: message.media.url } : {}),
      ...(message.location ? { location: message.location } : {}),
    },
    occurredAt: receivedAt,
  });
  if (request.kind === 'refused') {
    await markWebhookEvent(db, webhookEventId, 'processed', request.code);
    if (request.code === 'other_sender') {
      deps.metrics.forgedReplies.inc({ boundBy: by });
      log.warn(
        { webhookEventId, conversationId: conversation.id, boundBy: by },
        'reply names a conversation of another customer; recorded, not acted on',
      );
    }
    return decline(
      deps,
      reply,
      conversation,
      request.code,
      request.code === 'invalid_postback'
        ? `${request.reason}; the reply is treated as free text`
        : request.reason,
    );
  }
  if (actionable) {
    await markLatestActionable(db, conversation.id, reply.id);
    await enqueue(
      deps.queues,
      'reply.route',
      { webhookEventId, stage: 'act' },
      { delay: config.REPLY_SETTLE_SECONDS * 1_000 },
    );
  }
  deps.metrics.replies.inc({ type: message.type, outcome: actionable ? 'pending' : 'logged' });
  await markWebhookEvent(db, webhookEventId, 'processed', null);
  log.info(
    {
      webhookEventId,
      replyId: reply.id,
      conversationId: conversation.id,
      shipmentId: conversation.shipmentId,
      intent: reply.intent,
      boundBy: by,
      actionable,
    },
    'reply received',
  );
  return { status: actionable ? 'scheduled' : 'logged', replyId: reply.id };
}

async function act(deps: Deps, webhookEventId: number) {
  const { db, config, log } = deps;
  const reply = await findReplyByEvent(db, webhookEventId);
  if (!reply || reply.state !== 'pending') {
    return { status: 'nothing_to_do' };
  }
  const conversation = await findConversation(db, reply.conversationId);
  if (!conversation) {
    throw new PermanentError(
      'ERR_CONVERSATION_MISSING',
      `conversation ${reply.conversationId} does not exist`,
    );
  }
  if (conversation.lastActionableReplyId !== reply.id) {
    await markReply(db, reply.id, 'superseded', null);
    log.info(
      { replyId: reply.id, shipmentId: reply.shipmentId },
      'reply superseded by a later one',
    );
    return { status: 'superseded' };
  }
  const found = await findWebhookEvent(db, webhookEventId);
  if (found?.event.kind !== 'inbound') {
    throw new PermanentError('ERR_EVENT_MISSING', `webhook event ${webhookEventId} is gone`);
  }
  // Read again in the light of the conversation as it is now (another reply may have changed
  // what it awaits within the settle window).
  const read = readReply(postbackKeys(config), found.event.message, reply.receivedAt);
  const request = decide(
    stateOf(conversation),
    read.meaning,
    ruleOptions(config, reply.receivedAt),
  );
  if (!isActionable(request)) {
    await markReply(db, reply.id, 'logged', null);
    return { status: 'logged' };
  }

  if (!deps.wms) {
    return decline(
      deps,
      reply,
      conversation,
      'wms_not_configured',
      'no WMS is configured (WMS_API_URL), so no action can be taken',
    );
  }
  const status = await deps.wms.getOrderStatus(conversation.shipmentId);
  if (!status.ok) {
    if (status.retryable) {
      throw new RetryableError(status.code, `WMS order status: ${status.reason}`);
    }
    return decline(
      deps,
      reply,
      conversation,
      status.code,
      `the WMS refused the status request: ${status.reason}`,
    );
  }
  if (!isFailedDelivery(status.value.status)) {
    await sendFollowUp(deps, conversation, reply, standardReply(status.value.status));
    await updateConversation(db, conversation.id, { awaiting: null, closedAt: new Date() });
    return decline(
      deps,
      reply,
      conversation,
      'not_failed_delivery',
      `the order is ${status.value.status}, no longer in failed delivery`,
    );
  }

  const sign = signerFor(config, conversation);
  switch (request.kind) {
    case 'ndr':
      return bookNdr(deps, reply, conversation, request);
    case 'offer_dates': {
      const dates = offerableDates(config, reply.receivedAt);
      await updateConversation(db, conversation.id, {
        awaiting: 'date',
        offeredDates: JSON.stringify(dates),
      });
      await sendFollowUp(deps, conversation, reply, dateChoices(sign, dates));
      return done(
        deps,
        reply,
        conversation,
        'offered_dates',
        `Offered delivery dates: ${dates.map(formatDateChoice).join(', ')}`,
      );
    }
    case 'portal_link': {
      const followUp = portalLink(request.why, trackedLink(config, conversation.shipmentId));
      await sendFollowUp(deps, conversation, reply, followUp);
      const what =
        request.why === 'update_address'
          ? 'update your delivery address'
          : 'add an alternate contact number';
      return done(
        deps,
        reply,
        conversation,
        request.why,
        `Sent the customer portal link to ${what}`,
      );
    }
    case 'ask_concern':
      await updateConversation(db, conversation.id, { awaiting: 'concern' });
      await sendFollowUp(deps, conversation, reply, concernPrompt());
      return done(
        deps,
        reply,
        conversation,
        'asked_concern',
        'Asked the customer to describe the concern',
      );
    case 'invalid_date': {
      const dates = offerableDates(config, reply.receivedAt);
      await updateConversation(db, conversation.id, {
        awaiting: 'date',
        offeredDates: JSON.stringify(dates),
      });
      await sendFollowUp(deps, conversation, reply, invalidDate(sign, request.date, dates));
      return decline(
        deps,
        reply,
        conversation,
        'invalid_date',
        `the chosen date ${request.date} is outside the courier's window`,
      );
    }
  }
}

function stateOf(conversation: ConversationRow): ConversationState {
  const { awaiting } = conversation;
  return {
    awaiting: awaiting === 'date' || awaiting === 'concern' ? awaiting : null,
    offeredDates: offeredDates(conversation),
  };
}

function ruleOptions(config: Config, at: Date) {
  return { at, horizonDays: config.DATE_CHOICE_HORIZON_DAYS };
}

function offerableDates(config: Config, from: Date): string[] {
  return nextDeliveryDates(from, {
    count: config.DATE_CHOICE_COUNT,
    horizonDays: config.DATE_CHOICE_HORIZON_DAYS,
    skipSundays: config.DATE_CHOICE_SKIP_SUNDAYS,
  });
}

/** Signs this conversation's choices: its key is its FDR template message's outbox id. */
function signerFor(config: Config, conversation: ConversationRow): SignChoice {
  const keys = postbackKeys(config);
  return (choice) => signPostback(keys, { ...choice, conversation: conversation.outboxId });
}

async function bookNdr(
  deps: Deps,
  reply: ReplyRow,
  conversation: ConversationRow,
  request: Extract<Request, { kind: 'ndr' }>,
) {
  const result = await deps.wms!.notifyNdr(
    {
      shipmentId: conversation.shipmentId,
      accountId: conversation.accountId,
      action: request.action,
      ...(request.deliveryDate ? { deliveryDate: request.deliveryDate } : {}),
      ...(request.remarks ? { remarks: request.remarks } : {}),
      messageId: String(reply.webhookEventId),
    },
    `ndr-reply-${reply.id}`,
  );
  if (!result.ok) {
    if (result.retryable) {
      throw new RetryableError(result.code, `WMS ndrNotification: ${result.reason}`);
    }
    return decline(
      deps,
      reply,
      conversation,
      result.code,
      `the WMS refused ${request.action}: ${result.reason}`,
    );
  }
  await updateConversation(deps.db, conversation.id, { awaiting: null });
  const date = request.deliveryDate ? formatDateChoice(request.deliveryDate) : '';
  const summary = {
    REATTEMPT: 'Delivery reattempt requested',
    CANCEL: 'Order cancellation requested',
    RESCHEDULE: `Delivery rescheduled to ${date}`,
    RAISE_CONCERN: 'Concern raised',
  }[request.action];
  await sendFollowUp(
    deps,
    conversation,
    reply,
    confirmation(signerFor(deps.config, conversation), request.action, request.deliveryDate),
  );
  return done(deps, reply, conversation, request.action, summary, {
    wmsAction: request.action,
    ...(request.deliveryDate ? { deliveryDate: request.deliveryDate } : {}),
  });
}

/**
 * Queues a follow-up: an outbox row with the text version as its body and the interactive form
 * as its content; `message.send` picks what the connection can send.
 */
async function sendFollowUp(
  deps: Deps,
  conversation: ConversationRow,
  reply: ReplyRow,
  followUp: FollowUp,
): Promise<void> {
  const { id: outboxId } = await insertOutbox(deps.db, {
    idempotencyKey: `reply-${reply.id}-${followUp.purpose}`,
    kind: 'session_text',
    shipmentId: conversation.shipmentId,
    accountId: conversation.accountId,
    conversationId: conversation.id,
    reason: followUp.purpose,
    connectionId: conversation.connectionId,
    toNumber: conversation.customerNumber,
    body: followUp.text,
    content: followUp.interactive
      ? encodeContent({ kind: 'session', content: followUp.interactive })
      : null,
  });
  await enqueue(deps.queues, 'message.send', { outboxId });
}

/**
 * The actions an answer can become, as the attempt's outcome names them; the steps in between
 * (dates offered, a concern asked for) are not actions on the order.
 */
const OUTCOME_ACTIONS: Partial<Record<string, string>> = {
  REATTEMPT: 'reattempt',
  RESCHEDULE: 'reschedule',
  CANCEL: 'cancel',
  RAISE_CONCERN: 'raise_concern',
  update_address: 'update_address',
  alternate_number: 'alternate_number',
};

async function done(
  deps: Deps,
  reply: ReplyRow,
  conversation: ConversationRow,
  action: string,
  title: string,
  details: Record<string, unknown> = {},
) {
  await markReply(deps.db, reply.id, 'acted', action);
  const outcomeAction = OUTCOME_ACTIONS[action];
  if (outcomeAction) {
    await reachStage(
      deps,
      'actioned',
      markOutcomeActioned(deps.db, conversation.shipmentId, conversation.outboxId, {
        action: outcomeAction,
        at: new Date(),
        chosenDate: typeof details.deliveryDate === 'string' ? details.deliveryDate : null,
      }),
    );
  }
  await recordActivity(deps, {
    key: `reply-action-${reply.id}`,
    shipmentId: conversation.shipmentId,
    accountId: conversation.accountId,
    kind: 'whatsapp_action',
    title,
    details: { action, replyId: reply.id, ...details },
    occurredAt: new Date(),
  });
  deps.metrics.replies.inc({ type: reply.type, outcome: action });
  deps.log.info(
    { replyId: reply.id, shipmentId: conversation.shipmentId, action },
    'reply acted on',
  );
  return { status: 'acted', action };
}

async function decline(
  deps: Deps,
  reply: ReplyRow,
  conversation: ConversationRow,
  code: string,
  reason: string,
) {
  await markReply(deps.db, reply.id, 'declined', code);
  await recordActivity(deps, {
    key: `reply-action-${reply.id}`,
    shipmentId: conversation.shipmentId,
    accountId: conversation.accountId,
    kind: 'whatsapp_no_action',
    title: `No action taken: ${reason}`,
    details: { code, reason, replyId: reply.id },
    occurredAt: new Date(),
  });
  deps.metrics.replies.inc({ type: reply.type, outcome: `declined_${code}` });
  deps.log.info(
    { replyId: reply.id, shipmentId: conversation.shipmentId, code },
    'reply not acted on',
  );
  return { status: 'declined', code };
}

/**
 * The conversation a reply belongs to: named by its valid signed postback first (no phone number
 * needed), then by the message it answers (Enterprise `replyId`, v2/v3 context ids), and only last
 * by the customer's number (their newest open FDR conversation within CONVERSATION_MAX_AGE_DAYS).
 */
async function bindConversation(
  deps: Deps,
  message: InboundMessage,
  postback: PostbackReading,
): Promise<{ conversation: ConversationRow; by: BoundBy } | null> {
  if (postback.kind === 'valid') {
    const byPostback = await findConversationByOutboxId(deps.db, postback.postback.conversation);
    if (byPostback) {
      return { conversation: byPostback, by: 'postback' };
    }
  }
  const ids: Array<[string | null, BoundBy]> = [
    [message.replyId, 'reply_id'],
    [message.contextGsId, 'context_id'],
    [message.contextId, 'context_id'],
  ];
  for (const [id, by] of ids) {
    if (id) {
      const byId = await findConversationByMessageId(deps.db, id);
      if (byId) {
        return { conversation: byId, by };
      }
    }
  }
  if (message.mobile === null) {
    return null;
  }
  const since = new Date(Date.now() - deps.config.CONVERSATION_MAX_AGE_DAYS * 86_400_000);
  const byNumber = await latestConversationForNumber(deps.db, message.mobile, since);
  return byNumber ? { conversation: byNumber, by: 'number' } : null;
}

function offeredDates(conversation: ConversationRow): string[] {
  return conversation.offeredDates ? (JSON.parse(conversation.offeredDates) as string[]) : [];
}

// ---------------------------------------------------------------------------------------------
// Opt-out, opt-in and the customer's window

/** The account's conversation policy, defaults resolved. */
async function accountPolicy(deps: Deps, accountId: number): Promise<EffectivePolicy> {
  return policyOf(deps.config, await deps.settings.get(accountId));
}

/**
 * A message no open conversation takes: when it is an opt-out or opt-in keyword of the account
 * of the customer's newest conversation (of any age, closed or not), it belongs to that one.
 */
async function bindKeyword(
  deps: Deps,
  message: InboundMessage,
): Promise<{ conversation: ConversationRow; by: BoundBy } | null> {
  const words = keywordText(message);
  if (message.mobile === null || words === null) {
    return null;
  }
  const conversation = await lastConversationForNumber(deps.db, message.mobile);
  if (!conversation) {
    return null;
  }
  const keyword = matchKeyword(words, await accountPolicy(deps, conversation.accountId));
  return keyword ? { conversation, by: 'number' } : null;
}

/**
 * What every message from the conversation's customer does before it is read as a reply: it
 * opens their window for the conversation's sender number, and an opt-out or opt-in keyword is
 * handled here (the result the job returns); any other message lifts an earlier opt-out and
 * goes on to be read (null).
 */
async function applyCustomerMessage(
  deps: Deps,
  input: {
    webhookEventId: number;
    message: InboundMessage;
    conversation: ConversationRow;
    by: BoundBy;
    receivedAt: Date;
    /** When the service received the message: the window and the opt-out order use our clock. */
    arrivedAt: Date;
  },
): Promise<{ status: KeywordMatch; replyId: number } | null> {
  const { db } = deps;
  const { webhookEventId, message, conversation, receivedAt, arrivedAt } = input;
  const senderNumber = await senderNumberOf(deps.config, db, conversation.connectionId);
  if (senderNumber === null) {
    // The conversation's connection was deleted: no number to keep a window or opt-out for.
    return null;
  }
  const customerNumber = conversation.customerNumber;
  // When it arrived, on the clock the window is judged by (the same instant in production).
  const wroteAt = deps.clock.now() - Math.max(0, Date.now() - arrivedAt.getTime());
  await recordCustomerMessage(db, senderNumber, customerNumber, new Date(wroteAt));
  const policy = await accountPolicy(deps, conversation.accountId);
  const keyword = matchKeyword(keywordText(message), policy);
  const change = {
    senderNumber,
    customerNumber,
    accountId: conversation.accountId,
    shipmentId: conversation.shipmentId,
    occurredAt: receivedAt,
    arrivedAt,
  };
  if (keyword === null) {
    await optIn(deps, {
      ...change,
      key: `event-${webhookEventId}`,
      how: 'wrote again',
      source: 'message',
    });
    return null;
  }

  // A keyword is the customer's reply (on the timeline like any other), never a reply intent.
  const reply = await insertReply(db, {
    webhookEventId,
    conversationId: conversation.id,
    shipmentId: conversation.shipmentId,
    type: message.type,
    intent: keyword,
    summary: summarise(message),
    receivedAt,
    state: 'logged',
  });
  await recordReplyEvidence(deps, { reply, conversation, message });
  // An answer like any other: the no-reply rule of the conversation's message is moot.
  await cancelNoReplyChecks(deps, [conversation.outboxId], 'replied');
  await recordActivity(deps, {
    key: `reply-${reply.id}`,
    shipmentId: conversation.shipmentId,
    accountId: conversation.accountId,
    kind: 'whatsapp_reply',
    title: `Customer replied: ${reply.summary ?? message.type}`,
    details: {
      type: message.type,
      intent: keyword,
      receivedAt: receivedAt.toISOString(),
      boundBy: input.by,
      action: 'none',
    },
    occurredAt: receivedAt,
  });
  const ctx: OptChangeContext = {
    ...change,
    key: `reply-${reply.id}`,
    how: keyword === 'opt_out' ? 'an opt-out keyword' : 'an opt-in keyword',
    source: 'keyword',
  };
  if (keyword === 'opt_out') {
    await optOut(deps, ctx);
    await sendOptOutConfirmation(deps, conversation, reply, policy);
  } else {
    await optIn(deps, ctx);
  }
  deps.metrics.replies.inc({ type: message.type, outcome: keyword });
  await markWebhookEvent(db, webhookEventId, 'processed', keyword);
  deps.log.info(
    { webhookEventId, replyId: reply.id, conversationId: conversation.id, keyword },
    'opt-out or opt-in keyword received',
  );
  return { status: keyword, replyId: reply.id };
}

/**
 * The one confirmation of an opt-out message (keyed by its reply, so a repeated callback or a
 * retried job sends nothing more): the account's opt-out template when the service knows it
 * and it has no placeholders to fill, else a short text.
 */
async function sendOptOutConfirmation(
  deps: Deps,
  conversation: ConversationRow,
  reply: ReplyRow,
  policy: EffectivePolicy,
): Promise<void> {
  const template = policy.optOutTemplateId
    ? await findTemplate(deps.db, policy.optOutTemplateId)
    : null;
  if (!template || /\{\{\s*\d+\s*\}\}/.test(template.body)) {
    if (policy.optOutTemplateId) {
      deps.log.warn(
        { accountId: conversation.accountId, templateId: policy.optOutTemplateId },
        template
          ? 'the opt-out template has placeholders; confirming with a text instead'
          : 'the opt-out template is not known here (verify it first); confirming with a text instead',
      );
    }
    return sendFollowUp(deps, conversation, reply, optOutConfirmation(policy.optInKeywords[0]));
  }
  const purpose = 'opt_out_confirmation';
  const { id: outboxId } = await insertOutbox(deps.db, {
    idempotencyKey: `reply-${reply.id}-${purpose}`,
    kind: 'template',
    shipmentId: conversation.shipmentId,
    accountId: conversation.accountId,
    conversationId: conversation.id,
    reason: purpose,
    connectionId: conversation.connectionId,
    templateId: template.id,
    toNumber: conversation.customerNumber,
    body: template.body,
    content: encodeContent({ kind: 'template', params: [], buttons: [] }),
  });
  await enqueue(deps.queues, 'message.send', { outboxId });
}

/**
 * A v2 `user-event` `opted-out` or `opted-in` (the webhook queues no other): the customer opted
 * out or in through WhatsApp itself. The sender is the app the event names (the platform app,
 * or the one stored connection of that name); the account and timeline are those of the
 * customer's newest conversation on it. No confirmation: WhatsApp has shown the customer one.
 */
async function receiveUserEvent(
  deps: Deps,
  webhookEventId: number,
  event: UserEvent,
  arrivedAt: Date,
) {
  const { db, config } = deps;
  const change = event.type === 'opted-out' || event.type === 'opted-in' ? event.type : null;
  const ignore = async (note: string) => {
    await markWebhookEvent(db, webhookEventId, 'ignored', note);
    return { status: 'ignored', note };
  };
  if (change === null) {
    return ignore(`user-event ${event.type}: no action`);
  }
  if (event.phone === null) {
    return ignore(`user-event ${change} without a phone number`);
  }
  const app = await connectionOfApp(deps, event.app);
  const conversation = await lastConversationForNumber(db, event.phone, app ?? undefined);
  const connectionId = app ?? conversation?.connectionId ?? null;
  const senderNumber =
    connectionId === null ? null : await senderNumberOf(config, db, connectionId);
  if (senderNumber === null) {
    return ignore(`user-event ${change}: neither its app nor a conversation names our sender`);
  }
  const ctx: OptChangeContext = {
    senderNumber,
    customerNumber: event.phone,
    accountId: conversation?.accountId ?? null,
    shipmentId: conversation?.shipmentId ?? null,
    key: `event-${webhookEventId}`,
    how: 'in WhatsApp',
    source: 'user_event',
    occurredAt: new Date(plausibleEpochMs(event.timestamp) ?? arrivedAt.getTime()),
    arrivedAt,
  };
  const changed = change === 'opted-out' ? await optOut(deps, ctx) : await optIn(deps, ctx);
  await markWebhookEvent(db, webhookEventId, 'processed', `user-event ${change}`);
  return { status: change, changed };
}

/** The sender connection a v2 app name is: the platform app, or the one stored connection so named. */
async function connectionOfApp(deps: Deps, app: string | null): Promise<string | null> {
  if (app === null) {
    return null;
  }
  if (app.trim().toLowerCase() === deps.config.GUPSHUP_DEFAULT_APP_NAME.trim().toLowerCase()) {
    return DEFAULT_CONNECTION_ID;
  }
  const ids = await findConnectionIdsByAppName(deps.db, app.trim());
  return ids.length === 1 ? String(ids[0]) : null;
}
