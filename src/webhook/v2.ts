/**
 * Gupshup self-serve / partner callbacks in format v2 (facts §4.4, §8): one envelope
 * `{app, timestamp, version: 2, type, payload}` per post, as src/webhook/parse.ts hands it over.
 *
 * - `message-event` (enqueued, sent, delivered, read, failed, deleted, mismatch, …) → a delivery
 *   report keyed by Gupshup's id: `gsId` when given, else `id` (a late `failed` may carry only
 *   `gsId`; `enqueued` and `failed` carry Gupshup's id in `id`). At least one is required.
 * - `message` (the customer's text, media, location, quick reply, button or list reply) → an
 *   inbound message. The customer is `source` / `sender.phone`; when WhatsApp withholds the number
 *   (users with a username), Gupshup sends the business-scoped `sender.userId` instead.
 * - `user-event` (opted-in, opted-out, …) → a user event; `billing-event` → a billing event with
 *   whatever of `references` and `deductions` is readable (an unknown shape gives nulls).
 * - `template-event`, `account-event` and any other type → an ignored callback, with the reason.
 *
 * Only a `message` or `message-event` that cannot be read is refused; the others never are.
 */
import * as v from 'valibot';

import type {
  BillingEvent,
  DeliveryReport,
  InboundMessage,
  InboundType,
  UserEvent,
  WebhookEvent,
} from './events.ts';
import {
  blankInbound,
  Code,
  EpochMs,
  fail,
  Id,
  jsonInId,
  Label,
  LocationFields,
  locationOf,
  looksLikeUserId,
  LooseEpochMs,
  LoosePhone,
  MAX_CAPTION,
  MAX_REPLY_ID,
  MAX_SHORT,
  MAX_TEXT,
  MAX_URL,
  MEDIA_TYPES,
  objectish,
  optional,
  parseWith,
  Phone,
  postbackInId,
  readOrNull,
  replyId,
  replyOf,
  ReplyFields,
  Text,
  TypeName,
  UserId,
} from './fields.ts';

/** The events of one v2 envelope (always exactly one). */
export function v2Events(value: Record<string, unknown>): WebhookEvent[] {
  const envelope = parseWith(V2Envelope, value, '');
  const timestamp = v.parse(LooseEpochMs, envelope.timestamp);
  const app = readOrNull(Text(MAX_SHORT), envelope.app);
  switch (envelope.type) {
    case 'message-event': {
      const event = parseWith(V2MessageEvent, envelope.payload, 'payload.');
      return [{ kind: 'dlr', report: toReport(event, timestamp) }];
    }
    case 'message': {
      const message = parseWith(V2Message, envelope.payload, 'payload.');
      return [{ kind: 'inbound', message: toInbound(message, timestamp) }];
    }
    case 'user-event':
      return [{ kind: 'user', event: toUserEvent(envelope.payload, app, timestamp) }];
    case 'billing-event':
      return [{ kind: 'billing', event: toBillingEvent(envelope.payload, timestamp) }];
    default: {
      const type = v.parse(Label, envelope.type) ?? 'unnamed type';
      return [
        {
          kind: 'ignored',
          ignored: {
            source: 'v2',
            what: `v2 ${type}`,
            reason: IGNORED_REASONS[type] ?? 'not a callback type this service acts on',
            timestamp,
          },
        },
      ];
    }
  }
}

const IGNORED_REASONS: Readonly<Record<string, string>> = {
  'template-event': 'template changes are managed in Gupshup, not here',
  'account-event': 'account notices are for the Gupshup console, not acted on here',
  'platform-event': "Gupshup's connectivity check: the 200 is the answer",
};

/**
 * The envelope. Its timestamp and app name are information only: a callback is never refused
 * for them.
 */
const V2Envelope = v.looseObject({
  app: optional(v.unknown()),
  timestamp: optional(v.unknown()),
  version: optional(v.unknown()),
  type: TypeName,
  payload: v.unknown(),
});

// ---------------------------------------------------------------------------------------------
// message-event → delivery report

const V2MessageEvent = v.looseObject({
  id: optional(Id),
  gsId: optional(Id),
  type: v.pipe(v.string(), v.trim(), v.nonEmpty(), v.maxLength(32), v.toUpperCase()),
  destination: optional(v.unknown()),
  payload: optional(
    objectish({
      ts: optional(EpochMs),
      code: optional(Code),
      reason: optional(Text(MAX_SHORT)),
    }),
  ),
});

function toReport(
  event: v.InferOutput<typeof V2MessageEvent>,
  envelopeTs: number | null,
): DeliveryReport {
  const failed = event.type === 'FAILED';
  return {
    source: 'v2',
    // `id` is WhatsApp's id on sent/delivered/read; `gsId` is Gupshup's, the one we stored.
    externalId: event.gsId ?? event.id ?? fail('payload: id or gsId is required'),
    eventType: event.type,
    cause: failed ? (event.payload?.reason ?? null) : null,
    errorCode: failed ? (event.payload?.code ?? null) : null,
    destAddr: v.parse(LoosePhone, event.destination),
    srcAddr: null,
    eventTs: event.payload?.ts ?? envelopeTs,
    extra: null,
  };
}

// ---------------------------------------------------------------------------------------------
// message → inbound message

const V2_TYPES: Readonly<Record<string, InboundType>> = {
  text: 'text',
  image: 'image',
  file: 'document',
  audio: 'audio',
  video: 'video',
  sticker: 'sticker',
  contact: 'contacts',
  location: 'location',
  quick_reply: 'button',
  button_reply: 'interactive',
  list_reply: 'interactive',
};

const ContextFields = objectish({ id: optional(Id), gsId: optional(Id) });

const V2Message = v.looseObject({
  id: optional(Id),
  source: optional(v.unknown()),
  type: TypeName,
  payload: optional(v.record(v.string(), v.unknown())),
  sender: optional(
    v.looseObject({
      phone: optional(v.unknown()),
      name: optional(Text(MAX_SHORT)),
      userId: optional(UserId),
    }),
  ),
  userId: optional(UserId),
  context: optional(ContextFields),
});

const V2Text = v.looseObject({ text: optional(Text(MAX_TEXT)) });

/**
 * A quick-reply tap. Gupshup's documents disagree on its fields: a template button gives
 * `{text, type: "button", payload}`, a session quick reply `{title, id, reply}`, some add
 * `postbackText`. All are optional here; see `quickReplyOf` for how they are read.
 */
const V2QuickReply = v.looseObject({
  title: optional(Text(MAX_SHORT)),
  text: optional(Text(MAX_SHORT)),
  id: optional(v.union([v.string(), v.number()])),
  reply: optional(Text(MAX_SHORT)),
  postbackText: optional(Text(MAX_SHORT)),
  payload: optional(Text(MAX_REPLY_ID)),
  type: optional(v.string()),
});

const V2Media = v.looseObject({
  url: optional(Text(MAX_URL)),
  caption: optional(Text(MAX_CAPTION)),
  contentType: optional(Text(MAX_SHORT)),
});

function toInbound(
  message: v.InferOutput<typeof V2Message>,
  envelopeTs: number | null,
): InboundMessage {
  const type = V2_TYPES[message.type] ?? 'unknown';
  const body = message.payload ?? {};
  const base: InboundMessage = {
    ...blankInbound('v2', type),
    messageId: message.id ?? null,
    contextId: message.context?.id ?? null,
    contextGsId: message.context?.gsId ?? null,
    ...customerOf(message),
    name: message.sender?.name ?? null,
    timestamp: envelopeTs,
  };
  const at = 'payload.payload.';
  if (type === 'text') {
    return { ...base, text: parseWith(V2Text, body, at).text ?? null };
  }
  if (type === 'button') {
    return { ...base, ...quickReplyOf(parseWith(V2QuickReply, body, at)) };
  }
  if (type === 'interactive') {
    return { ...base, ...replyOf(parseWith(ReplyFields, body, at)) };
  }
  if (type === 'location') {
    return { ...base, location: locationOf(parseWith(LocationFields, body, at)) };
  }
  if (MEDIA_TYPES.has(type)) {
    const media = parseWith(V2Media, body, at);
    return {
      ...base,
      media: {
        id: null,
        mimeType: media.contentType ?? null,
        url: media.url ?? null,
        caption: media.caption ?? null,
      },
    };
  }
  return base;
}

/**
 * The customer: their number from `source` (else `sender.phone`), and the business-scoped user
 * id Gupshup adds (`sender.userId`). A value shaped like a user id is not read as a number. One
 * of the two is required.
 */
function customerOf(
  message: v.InferOutput<typeof V2Message>,
): Pick<InboundMessage, 'mobile' | 'userId'> {
  const userId = message.sender?.userId ?? message.userId ?? null;
  const candidates = [message.source, message.sender?.phone].filter(
    (value) => value !== undefined && value !== null && !looksLikeUserId(value),
  );
  const [first] = candidates;
  if (userId === null) {
    // No other way to know the customer: the number must be one (the seed's masked number,
    // `918x98xx21x4`, keeps its digits).
    return { mobile: parseWith(Phone, first, 'payload.source'), userId: null };
  }
  return { mobile: first === undefined ? null : readOrNull(Phone, first), userId };
}

/**
 * A quick reply's fields, read as the documents' variants allow:
 * - `buttonText` is `title`, else `text` (the label the customer tapped);
 * - `buttonPayload` is `payload`, else `id`;
 * - `postbackText` is `postbackText`; else, when `id` is Gupshup's JSON structure, the
 *   `postbackText` inside it; else `id` itself — unless it is only an id Gupshup generated (a
 *   UUID such as the message's `msgid`, maybe with the option's index after it), which says
 *   nothing about the choice.
 */
function quickReplyOf(
  quick: v.InferOutput<typeof V2QuickReply>,
): Pick<InboundMessage, 'buttonText' | 'buttonPayload' | 'postbackText'> {
  const id = replyId(quick.id);
  const postback =
    quick.postbackText ??
    (jsonInId(id) ? postbackInId(id) : id !== null && !isGeneratedId(id) ? id : null);
  return {
    buttonText: quick.title ?? quick.text ?? null,
    buttonPayload: quick.payload ?? id,
    postbackText: postback?.slice(0, MAX_SHORT) ?? null,
  };
}

const GENERATED_ID =
  /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}([ _:-]\d{1,2})?$/i;

function isGeneratedId(id: string): boolean {
  return GENERATED_ID.test(id.trim());
}

// ---------------------------------------------------------------------------------------------
// user-event, billing-event

const V2UserEvent = v.looseObject({
  type: optional(v.unknown()),
  phone: optional(v.unknown()),
});

function toUserEvent(payload: unknown, app: string | null, envelopeTs: number | null): UserEvent {
  const event = readOrNull(V2UserEvent, payload);
  return {
    source: 'v2',
    type: v.parse(Label, event?.type) ?? 'unknown',
    phone: v.parse(LoosePhone, event?.phone),
    app,
    timestamp: envelopeTs,
  };
}

/** `true`/`false` as a boolean or its text (Gupshup's documents show both). */
const Billable = v.union([
  v.boolean(),
  v.pipe(
    v.picklist(['true', 'false']),
    v.transform((s) => s === 'true'),
  ),
]);

const V2Billing = v.looseObject({
  references: optional(v.looseObject({ gsId: optional(v.unknown()), id: optional(v.unknown()) })),
  deductions: optional(
    v.looseObject({
      category: optional(v.unknown()),
      type: optional(v.unknown()),
      billable: optional(v.unknown()),
    }),
  ),
});

/**
 * What a billing event says, as far as it is readable: Gupshup's message id
 * (`references.gsId`, else `references.id`), the pricing category (`deductions.category` since
 * per-message pricing; before it, `deductions.type` held the conversation's category) and
 * `deductions.billable`.
 */
function toBillingEvent(payload: unknown, envelopeTs: number | null): BillingEvent {
  const billing = readOrNull(V2Billing, payload);
  const references = billing?.references;
  const deductions = billing?.deductions;
  return {
    source: 'v2',
    messageId: readOrNull(Id, references?.gsId) ?? readOrNull(Id, references?.id),
    category: v.parse(Label, deductions?.category) ?? v.parse(Label, deductions?.type),
    billable: readOrNull(Billable, deductions?.billable),
    timestamp: envelopeTs,
  };
}

/** True when `value` could be a v2 envelope (src/webhook/parse.ts dispatches on it). */
export function isV2Envelope(value: Record<string, unknown>): boolean {
  return (
    typeof value.type === 'string' && 'payload' in value && ('app' in value || 'version' in value)
  );
}
