/**
 * `reply.route`: turns a customer's WhatsApp reply into an action on the order. Enqueued by the
 * Gupshup webhook (stage `receive`) and by itself (stage `act`, delayed by the settle window).
 *
 * receive: bind the reply to a conversation (the message it names, else the customer's newest
 *   FDR message), classify it, put it on the timeline. A reply asking for an action becomes the
 *   conversation's latest actionable reply and is scheduled for `act` after REPLY_SETTLE_SECONDS,
 *   so of several taps only the last one counts. A message from a number we never wrote to is
 *   counted and dropped, its stored body scrubbed.
 * act: if a later actionable reply arrived, this one is superseded. Otherwise read the order's
 *   status from the WMS: no longer in failed delivery → the standard reply, no action; else do it
 *   (ndrNotification, date choices, portal link, concern prompt) and confirm in one short message.
 *
 * Idempotency: the WMS call carries `ndr-reply-<replyId>` as Idempotency-Key; follow-up messages
 * are outbox rows keyed by reply and purpose, so a retried job books and sends nothing twice.
 */
import type { Processor } from 'bullmq';

import { recordActivity } from '../activity.ts';
import type { Config } from '../config.ts';
import type { Db } from '../db/client.ts';
import {
  findConversation,
  findConversationByMessageId,
  findReplyByEvent,
  insertReply,
  latestConversationForNumber,
  markLatestActionable,
  markReply,
  updateConversation,
  type ConversationRow,
  type ReplyRow,
} from '../db/conversations.ts';
import { insertOutbox } from '../db/outbox.ts';
import { findWebhookEvent, markWebhookEvent, scrubWebhookEvent } from '../db/webhook-events.ts';
import { PermanentError, RetryableError } from '../errors.ts';
import { trackedLink } from '../links.ts';
import type { Log } from '../log.ts';
import type { Metrics } from '../metrics.ts';
import { enqueue, parsePayload, type Queues } from '../queues/index.ts';
import { formatDateChoice, isWithinHorizon, nextDeliveryDates } from '../replies/dates.ts';
import { classifyReply, type Intent } from '../replies/intent.ts';
import type { InboundMessage } from '../webhook/events.ts';
import { isFailedDelivery, type NdrAction, type WmsClient } from '../wms/client.ts';

interface Deps {
  config: Config;
  db: Db;
  queues: Queues;
  wms: WmsClient | null;
  metrics: Metrics;
  log: Log;
}

/** What a reply asks for, once read in the light of what the conversation awaits. */
type Request =
  | { kind: 'ndr'; action: NdrAction; deliveryDate?: string; remarks?: string }
  | { kind: 'offer_dates' }
  | { kind: 'portal_link'; why: 'update_address' | 'alternate_number' }
  | { kind: 'ask_concern' }
  | { kind: 'invalid_date'; date: string }
  | { kind: 'none'; note: string };

const MEDIA_LABELS: Record<string, string> = {
  image: 'an image',
  document: 'a document',
  location: 'a location',
  audio: 'an audio message',
  voice: 'a voice message',
  video: 'a video',
  contacts: 'a contact card',
  sticker: 'a sticker',
};

const MEDIA_TYPES = new Set([
  'image',
  'document',
  'location',
  'audio',
  'video',
  'voice',
  'contacts',
  'sticker',
]);

export function processReplyRoute(deps: Deps): Processor {
  return async (job) => {
    const payload = parsePayload('reply.route', job.data);
    return payload.stage === 'act'
      ? act(deps, payload.webhookEventId)
      : receive(deps, payload.webhookEventId);
  };
}

async function receive(deps: Deps, webhookEventId: number) {
  const { db, config, log } = deps;
  const found = await findWebhookEvent(db, webhookEventId);
  if (!found) {
    throw new PermanentError('ERR_EVENT_MISSING', `webhook event ${webhookEventId} does not exist`);
  }
  if (found.row.status !== 'received') {
    return { status: 'duplicate', eventStatus: found.row.status };
  }
  if (found.event.kind !== 'inbound') {
    throw new PermanentError(
      'ERR_EVENT_KIND',
      `webhook event ${webhookEventId} is not an inbound message`,
    );
  }
  const message = found.event.message;
  const conversation = await bindConversation(deps, message);
  if (!conversation) {
    deps.metrics.unknownSenderReplies.inc();
    await scrubWebhookEvent(db, webhookEventId, 'unknown sender');
    log.info({ webhookEventId }, 'reply from a number we never messaged; ignored');
    return { status: 'unknown_sender' };
  }

  const receivedAt = new Date(message.timestamp ?? Date.now());
  const intent = MEDIA_TYPES.has(message.type)
    ? null
    : classifyReply(
        {
          buttonText: message.buttonText,
          buttonPayload: message.buttonPayload,
          interactiveTitle: message.interactiveTitle,
          postbackText: message.postbackText,
          text: message.text,
        },
        receivedAt,
      );
  const request = intent ? interpret(intent, conversation, receivedAt, config) : null;
  const actionable = request !== null && request.kind !== 'none';
  const reply = await insertReply(db, {
    webhookEventId,
    conversationId: conversation.id,
    shipmentId: conversation.shipmentId,
    type: message.type,
    intent: intent?.kind ?? message.type,
    summary: summarise(message),
    receivedAt,
    state: actionable ? 'pending' : 'logged',
  });
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
      ...(actionable ? {} : { action: 'none' }),
      ...(message.media?.url ? { mediaUrl: message.media.url } : {}),
      ...(message.location ? { location: message.location } : {}),
    },
    occurredAt: receivedAt,
  });
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
  const message = found.event.message;
  const intent = classifyReply(
    {
      buttonText: message.buttonText,
      buttonPayload: message.buttonPayload,
      interactiveTitle: message.interactiveTitle,
      postbackText: message.postbackText,
      text: message.text,
    },
    reply.receivedAt,
  );
  const request = interpret(intent, conversation, reply.receivedAt, config);
  if (request.kind === 'none') {
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
    await sendFollowUp(
      deps,
      conversation,
      reply,
      'standard_reply',
      standardReply(status.value.status),
    );
    await updateConversation(db, conversation.id, { awaiting: null, closedAt: new Date() });
    return decline(
      deps,
      reply,
      conversation,
      'not_failed_delivery',
      `the order is ${status.value.status}, no longer in failed delivery`,
    );
  }

  switch (request.kind) {
    case 'ndr':
      return bookNdr(deps, reply, conversation, request);
    case 'offer_dates': {
      const dates = nextDeliveryDates(reply.receivedAt, {
        count: config.DATE_CHOICE_COUNT,
        horizonDays: config.DATE_CHOICE_HORIZON_DAYS,
        skipSundays: config.DATE_CHOICE_SKIP_SUNDAYS,
      });
      await updateConversation(db, conversation.id, {
        awaiting: 'date',
        offeredDates: JSON.stringify(dates),
      });
      await sendFollowUp(deps, conversation, reply, 'date_choices', dateChoicesText(dates));
      return done(
        deps,
        reply,
        conversation,
        'offered_dates',
        `Offered delivery dates: ${dates.map(formatDateChoice).join(', ')}`,
      );
    }
    case 'portal_link': {
      const link = trackedLink(config, conversation.shipmentId);
      const what =
        request.why === 'update_address'
          ? 'update your delivery address'
          : 'add an alternate contact number';
      await sendFollowUp(deps, conversation, reply, 'portal_link', `Please ${what} here: ${link}`);
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
      await sendFollowUp(
        deps,
        conversation,
        reply,
        'concern_prompt',
        'Please tell us your concern in one message and we will get back to you.',
      );
      return done(
        deps,
        reply,
        conversation,
        'asked_concern',
        'Asked the customer to describe the concern',
      );
    case 'invalid_date':
      await sendFollowUp(
        deps,
        conversation,
        reply,
        'invalid_choice',
        `Sorry, ${request.date} is not a date we can deliver on. ${dateChoicesText(offeredDates(conversation))}`,
      );
      return decline(
        deps,
        reply,
        conversation,
        'invalid_date',
        `the chosen date ${request.date} is outside the courier's window`,
      );
  }
}

/** Reads an intent in the light of what the conversation awaits. */
function interpret(
  intent: Intent,
  conversation: ConversationRow,
  at: Date,
  config: Config,
): Request {
  switch (intent.kind) {
    case 'reattempt':
      return { kind: 'ndr', action: 'REATTEMPT' };
    case 'cancel':
      return { kind: 'ndr', action: 'CANCEL' };
    case 'reschedule':
      return { kind: 'offer_dates' };
    case 'update_address':
    case 'alternate_number':
      return { kind: 'portal_link', why: intent.kind };
    case 'raise_concern':
      return { kind: 'ask_concern' };
    case 'date':
      return isWithinHorizon(intent.date, at, config.DATE_CHOICE_HORIZON_DAYS)
        ? { kind: 'ndr', action: 'RESCHEDULE', deliveryDate: intent.date }
        : { kind: 'invalid_date', date: intent.date };
    case 'choice': {
      const date =
        conversation.awaiting === 'date' ? offeredDates(conversation)[intent.index - 1] : undefined;
      return date
        ? { kind: 'ndr', action: 'RESCHEDULE', deliveryDate: date }
        : { kind: 'none', note: 'a number that chooses nothing' };
    }
    case 'text':
      return conversation.awaiting === 'concern'
        ? { kind: 'ndr', action: 'RAISE_CONCERN', remarks: intent.text }
        : { kind: 'none', note: 'free text' };
  }
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
  const { confirmation, summary } = {
    REATTEMPT: {
      confirmation: 'We will attempt the delivery again. Thank you!',
      summary: 'Delivery reattempt requested',
    },
    CANCEL: {
      confirmation: 'Your order will be cancelled as requested.',
      summary: 'Order cancellation requested',
    },
    RESCHEDULE: {
      confirmation: `Your delivery is rescheduled to ${date}. Thank you!`,
      summary: `Delivery rescheduled to ${date}`,
    },
    RAISE_CONCERN: {
      confirmation: 'Thank you. Your concern is recorded and our team will contact you.',
      summary: 'Concern raised',
    },
  }[request.action];
  await sendFollowUp(deps, conversation, reply, 'confirmation', confirmation);
  return done(deps, reply, conversation, request.action, summary, {
    wmsAction: request.action,
    ...(request.deliveryDate ? { deliveryDate: request.deliveryDate } : {}),
  });
}

async function sendFollowUp(
  deps: Deps,
  conversation: ConversationRow,
  reply: ReplyRow,
  purpose: string,
  text: string,
): Promise<void> {
  const { id: outboxId } = await insertOutbox(deps.db, {
    idempotencyKey: `reply-${reply.id}-${purpose}`,
    kind: 'session_text',
    shipmentId: conversation.shipmentId,
    accountId: conversation.accountId,
    conversationId: conversation.id,
    reason: purpose,
    connectionId: conversation.connectionId,
    toNumber: conversation.customerNumber,
    body: text,
  });
  await enqueue(deps.queues, 'message.send', { outboxId });
}

async function done(
  deps: Deps,
  reply: ReplyRow,
  conversation: ConversationRow,
  action: string,
  title: string,
  details: Record<string, unknown> = {},
) {
  await markReply(deps.db, reply.id, 'acted', action);
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

async function bindConversation(
  deps: Deps,
  message: InboundMessage,
): Promise<ConversationRow | null> {
  for (const id of [message.replyId, message.contextGsId]) {
    if (id) {
      const byId = await findConversationByMessageId(deps.db, id);
      if (byId) {
        return byId;
      }
    }
  }
  if (message.mobile === null) {
    return null;
  }
  const since = new Date(Date.now() - deps.config.CONVERSATION_MAX_AGE_DAYS * 86_400_000);
  return latestConversationForNumber(deps.db, message.mobile, since);
}

function offeredDates(conversation: ConversationRow): string[] {
  return conversation.offeredDates ? (JSON.parse(conversation.offeredDates) as string[]) : [];
}

function dateChoicesText(dates: string[]): string {
  const lines = dates.map((d, i) => `${i + 1}. ${formatDateChoice(d)}`);
  const numbers = dates.map((_d, i) => String(i + 1));
  const last = numbers.pop();
  const choose = numbers.length ? `${numbers.join(', ')} or ${last}` : last;
  return `Please choose a new delivery date:\n${lines.join('\n')}\nReply with ${choose}.`;
}

function standardReply(status: string): string {
  return `Thank you for your reply. Your order is now ${status.replace(/_/g, ' ')}, so no action is needed. For any help, please contact the store.`;
}

function summarise(message: InboundMessage): string {
  const text =
    message.buttonText ??
    message.interactiveTitle ??
    message.postbackText ??
    message.text ??
    (MEDIA_LABELS[message.type] ?? `a ${message.type} message`) +
      (message.media?.caption ? ` (${message.media.caption})` : '');
  return text.replace(/\s+/g, ' ').trim().slice(0, 500);
}
