/**
 * Gupshup callbacks in format v3: Meta's WhatsApp Cloud API webhook passed through (facts §4.4,
 * §8), `{object: "whatsapp_business_account", gs_app_id?, entry: [{id, changes: [{field,
 * value}]}]}`, as src/webhook/parse.ts hands it over. Entries and changes may be batched; each
 * item becomes one event, at most V3_MAX_EVENTS a post.
 *
 * - `field: "messages"`, `value.statuses[]` (enqueued, sent, delivered, read, failed) → delivery
 *   reports keyed by Gupshup's `gs_id`, else Meta's `id`; the first error's code and title become
 *   `errorCode` and `cause`; `biz_opaque_callback_data` is our correlation string.
 * - `field: "messages"`, `value.messages[]` → inbound messages of every type (text, media,
 *   location, contacts, reaction, template `button` taps, `interactive` button/list replies and
 *   Flow answers). The customer is `from` or `contacts[].wa_id`; when WhatsApp withholds the
 *   number (users with a username) only the business-scoped user id is given (`from_user_id`,
 *   `user_id`, `contacts[].user_id`). A message with neither is refused. A message from our own
 *   number (`metadata.display_phone_number`) is an echo, ignored.
 * - Echo fields (`smb_message_echoes`, `message_echoes`) and every other field → ignored
 *   callbacks with the reason.
 *
 * Pure: turns the body into events (src/webhook/events.ts) or a refusal.
 */
import * as v from 'valibot';

import type { DeliveryReport, InboundMessage, InboundType, WebhookEvent } from './events.ts';
import {
  blankInbound,
  EpochMs,
  fail,
  Id,
  InteractiveFields,
  interactiveOf,
  Label,
  LocationFields,
  locationOf,
  LooseEpochMs,
  LoosePhone,
  MAX_REPLY_ID,
  MAX_SHORT,
  MAX_TEXT,
  MediaFields,
  mediaOf,
  optional,
  parseWith,
  ProviderCode,
  Text,
  TypeName,
  UserId,
} from './fields.ts';

/** Events accepted in one v3 post (Meta batches; this is far above what it sends at once). */
export const V3_MAX_EVENTS = 500;

/** True when `value` has the v3 shape's markers (src/webhook/parse.ts dispatches on it). */
export function isV3Body(value: Record<string, unknown>): boolean {
  return 'entry' in value && ('object' in value || 'gs_app_id' in value);
}

/** The events of one v3 post, in the order of its entries, changes and items. */
export function v3Events(value: Record<string, unknown>): WebhookEvent[] {
  const body = parseWith(V3Body, value, '');
  const changes = body.entry.flatMap((entry, i) =>
    (entry.changes ?? []).map((change, j) => ({ change, at: `entry[${i}].changes[${j}].` })),
  );
  const count = changes.reduce((sum, { change }) => sum + itemCount(change), 0);
  if (count > V3_MAX_EVENTS) {
    return fail(`${count} events in one v3 post; at most ${V3_MAX_EVENTS} are accepted`);
  }
  return changes.flatMap(({ change, at }) => changeEvents(change, at));
}

const V3Change = v.looseObject({ field: optional(v.unknown()), value: optional(v.unknown()) });

type Change = v.InferOutput<typeof V3Change>;

const V3Body = v.looseObject({
  object: optional(v.literal('whatsapp_business_account')),
  entry: v.array(v.looseObject({ changes: optional(v.array(V3Change)) })),
});

/** Fields on which WhatsApp echoes messages the business sent (from the app or the API). */
const ECHO_FIELDS: ReadonlySet<string> = new Set(['smb_message_echoes', 'message_echoes']);

function ignored(what: string, reason: string, timestamp: number | null = null): WebhookEvent {
  return { kind: 'ignored', ignored: { source: 'v3', what, reason, timestamp } };
}

function lengthOf(value: unknown): number {
  return Array.isArray(value) ? value.length : 0;
}

/** How many events a change gives: one per status, message or echo, at least one. */
function itemCount(change: Change): number {
  const value = change.value as Record<string, unknown> | null | undefined;
  const field = v.parse(Label, change.field);
  if (field === 'messages') {
    const items =
      lengthOf(value?.statuses) + lengthOf(value?.messages) + (lengthOf(value?.errors) ? 1 : 0);
    return Math.max(items, 1);
  }
  if (field !== null && ECHO_FIELDS.has(field)) {
    return Math.max(lengthOf(value?.message_echoes), 1);
  }
  return 1;
}

function changeEvents(change: Change, at: string): WebhookEvent[] {
  const field = v.parse(Label, change.field);
  if (field === 'messages') {
    return messagesChange(change.value, `${at}value.`);
  }
  if (field !== null && ECHO_FIELDS.has(field)) {
    const value = change.value as Record<string, unknown> | null | undefined;
    const echoes: unknown[] = Array.isArray(value?.message_echoes) ? value.message_echoes : [null];
    return echoes.map((echo) =>
      ignored(
        'v3 message echo',
        'our own message, echoed back',
        v.parse(LooseEpochMs, (echo as { timestamp?: unknown } | null)?.timestamp),
      ),
    );
  }
  return [
    ignored(
      `v3 field ${field ?? '(unnamed)'}`,
      (field !== null ? IGNORED_REASONS[field] : undefined) ?? 'not a field this service acts on',
    ),
  ];
}

const TEMPLATE_REASON = 'template changes are managed in Gupshup, not here';
const ACCOUNT_REASON = 'account notices are for the Gupshup console, not acted on here';

const IGNORED_REASONS: Readonly<Record<string, string>> = {
  message_template_status_update: TEMPLATE_REASON,
  message_template_quality_update: TEMPLATE_REASON,
  message_template_components_update: TEMPLATE_REASON,
  template_category_update: TEMPLATE_REASON,
  account_update: ACCOUNT_REASON,
  account_alerts: ACCOUNT_REASON,
  account_review_update: ACCOUNT_REASON,
  business_capability_update: ACCOUNT_REASON,
  phone_number_name_update: ACCOUNT_REASON,
  phone_number_quality_update: ACCOUNT_REASON,
  'platform-event': "Gupshup's connectivity check: the 200 is the answer",
};

// ---------------------------------------------------------------------------------------------
// field "messages"

const V3Contact = v.looseObject({
  wa_id: optional(v.unknown()),
  user_id: optional(UserId),
  profile: optional(v.looseObject({ name: optional(Text(MAX_SHORT)) })),
});

type Contact = v.InferOutput<typeof V3Contact>;

const V3MessagesValue = v.looseObject({
  metadata: optional(v.looseObject({ display_phone_number: optional(v.unknown()) })),
  contacts: optional(v.array(V3Contact)),
  statuses: optional(v.array(v.unknown())),
  messages: optional(v.array(v.unknown())),
  errors: optional(v.array(v.unknown())),
});

function messagesChange(input: unknown, at: string): WebhookEvent[] {
  const value = parseWith(V3MessagesValue, input, at);
  const ownNumber = v.parse(LoosePhone, value.metadata?.display_phone_number);
  const events: WebhookEvent[] = [
    ...(value.statuses ?? []).map((status, k): WebhookEvent => ({
      kind: 'dlr',
      report: toReport(parseWith(V3Status, status, `${at}statuses[${k}].`), ownNumber),
    })),
    ...(value.messages ?? []).map((message, k) =>
      messageEvent(
        parseWith(V3Message, message, `${at}messages[${k}].`),
        `${at}messages[${k}]`,
        value.contacts ?? [],
        ownNumber,
      ),
    ),
  ];
  if (value.errors?.length) {
    events.push(ignored('v3 error notice', 'a platform error about the app, not one message'));
  }
  return events.length > 0
    ? events
    : [ignored('v3 messages change', 'holds neither statuses nor messages')];
}

// ---------------------------------------------------------------------------------------------
// statuses → delivery reports

const V3Status = v.pipe(
  v.looseObject({
    id: optional(Id),
    gs_id: optional(Id),
    gsId: optional(Id),
    status: v.pipe(v.string(), v.trim(), v.nonEmpty(), v.maxLength(32), v.toUpperCase()),
    timestamp: optional(EpochMs),
    recipient_id: optional(v.unknown()),
    biz_opaque_callback_data: optional(Text(191)),
    errors: optional(
      v.array(
        v.looseObject({
          code: optional(ProviderCode),
          title: optional(Text(MAX_SHORT)),
          message: optional(Text(MAX_SHORT)),
        }),
      ),
    ),
  }),
  v.check((s) => Boolean(s.gs_id ?? s.gsId ?? s.id), 'id or gs_id is required'),
);

function toReport(
  status: v.InferOutput<typeof V3Status>,
  ownNumber: string | null,
): DeliveryReport {
  const [error] = status.errors ?? [];
  return {
    source: 'v3',
    externalId: status.gs_id ?? status.gsId ?? status.id ?? fail('a status without an id'),
    eventType: status.status,
    cause: error?.title ?? error?.message ?? null,
    errorCode: error?.code ?? null,
    destAddr: v.parse(LoosePhone, status.recipient_id),
    srcAddr: ownNumber,
    eventTs: status.timestamp ?? null,
    extra: status.biz_opaque_callback_data ?? null,
  };
}

// ---------------------------------------------------------------------------------------------
// messages → inbound messages

const V3_TYPES: Readonly<Record<string, InboundType>> = {
  text: 'text',
  image: 'image',
  document: 'document',
  audio: 'audio',
  video: 'video',
  sticker: 'sticker',
  location: 'location',
  contacts: 'contacts',
  reaction: 'reaction',
  button: 'button',
  interactive: 'interactive',
};

const V3Message = v.looseObject({
  id: optional(Id),
  from: optional(v.unknown()),
  from_user_id: optional(UserId),
  user_id: optional(UserId),
  timestamp: optional(EpochMs),
  type: optional(TypeName),
  text: optional(v.looseObject({ body: optional(Text(MAX_TEXT)) })),
  image: optional(MediaFields),
  document: optional(MediaFields),
  audio: optional(MediaFields),
  video: optional(MediaFields),
  sticker: optional(MediaFields),
  location: optional(LocationFields),
  reaction: optional(v.looseObject({ message_id: optional(Id), emoji: optional(Text(MAX_SHORT)) })),
  button: optional(
    v.looseObject({ payload: optional(Text(MAX_REPLY_ID)), text: optional(Text(MAX_SHORT)) }),
  ),
  interactive: optional(InteractiveFields),
  context: optional(v.looseObject({ id: optional(Id), gs_id: optional(Id), gsId: optional(Id) })),
});

type Message = v.InferOutput<typeof V3Message>;

function messageEvent(
  message: Message,
  at: string,
  contacts: Contact[],
  ownNumber: string | null,
): WebhookEvent {
  const from = v.parse(LoosePhone, message.from);
  if (from !== null && from === ownNumber) {
    return ignored(
      'v3 message echo',
      'sent from our own number, echoed back',
      message.timestamp ?? null,
    );
  }
  const contact = contactOf(message, from, contacts);
  const mobile = from ?? v.parse(LoosePhone, contact?.wa_id);
  const userId = message.from_user_id ?? message.user_id ?? contact?.user_id ?? null;
  if (mobile === null && userId === null) {
    return fail(`${at}: neither a phone number (from, contacts[].wa_id) nor a user id is given`);
  }
  return { kind: 'inbound', message: toInbound(message, { mobile, userId, contact, ownNumber }) };
}

/** The contact entry that describes this message's sender (the only one, usually). */
function contactOf(message: Message, from: string | null, contacts: Contact[]): Contact | null {
  const userId = message.from_user_id ?? message.user_id ?? null;
  const match = contacts.find(
    (c) =>
      (from !== null && v.parse(LoosePhone, c.wa_id) === from) ||
      (userId !== null && c.user_id === userId),
  );
  return match ?? (contacts.length === 1 ? (contacts[0] ?? null) : null);
}

function toInbound(
  message: Message,
  who: {
    mobile: string | null;
    userId: string | null;
    contact: Contact | null;
    ownNumber: string | null;
  },
): InboundMessage {
  const given = V3_TYPES[message.type ?? ''] ?? 'unknown';
  // A voice note is an audio message with `voice: true`.
  const type = given === 'audio' && message.audio?.voice === true ? 'voice' : given;
  const base: InboundMessage = {
    ...blankInbound('v3', type),
    messageId: message.id ?? null,
    contextId: message.context?.id ?? null,
    contextGsId: message.context?.gs_id ?? message.context?.gsId ?? null,
    mobile: who.mobile,
    userId: who.userId,
    waNumber: who.ownNumber,
    name: who.contact?.profile?.name ?? null,
    timestamp: message.timestamp ?? null,
  };
  switch (given) {
    case 'text':
      return { ...base, text: message.text?.body ?? null };
    case 'image':
    case 'document':
    case 'audio':
    case 'video':
    case 'sticker':
      return { ...base, media: mediaOf(message[given]) };
    case 'location':
      return { ...base, location: locationOf(message.location) };
    case 'reaction':
      // The message reacted to is the one the reaction answers; an empty emoji removes one.
      return {
        ...base,
        contextId: base.contextId ?? message.reaction?.message_id ?? null,
        text: message.reaction?.emoji || null,
      };
    case 'button':
      return {
        ...base,
        buttonText: message.button?.text ?? null,
        buttonPayload: message.button?.payload ?? null,
      };
    case 'interactive':
      return { ...base, ...interactiveOf(message.interactive) };
    default:
      // contacts (a third party's card: not kept), order, system, unsupported, …
      return base;
  }
}
