/**
 * Turns one request to the Gupshup webhook (`/api/_ah/v1/message`, src/http/routes/gupshup-webhook.ts)
 * into normalised events (src/webhook/events.ts) — or a reason it is not one of the shapes
 * Gupshup is known to send (facts §2, §3, §4.4). The route stores each event and enqueues
 * `dlr.process` or `reply.route`; nothing here does I/O.
 *
 * Accepted, and nothing else:
 * - Enterprise delivery reports: a form field `response` holding a JSON array string (the seed's
 *   sample), a raw JSON array, `{"response": "<json string>"}` or `{"response": [...]}`; at most
 *   `maxEvents` reports per post. Each needs `externalId` and `eventType`; `errorCode` (or the SMS
 *   spelling `errCode`) is kept as a string with leading zeros; `eventTs` is epoch ms.
 * - Enterprise inbound messages as a JSON body, a form body or a GET query (`mobile`, `waNumber`,
 *   `type`, `text`, `button`, `interactive`, media, `location`, `context`, …); every object-ish
 *   field may be an object or a JSON string holding one.
 * - Self-serve v2 callbacks: `message-event` (a delivery report) and `message` (an inbound
 *   message). Other v2 types (user-event, billing-event, …) are acknowledged with no event.
 *
 * A GET with no fields (a URL check) is acknowledged with no event. Reasons never quote values:
 * they go back to the caller and into logs, and values can be phone numbers.
 */
import { createHash } from 'node:crypto';

import * as v from 'valibot';

import type { DeliveryReport, InboundMessage, InboundType, WebhookEvent } from './events.ts';

export interface WebhookRequest {
  /** The request's Content-Type header, parameters included. */
  contentType: string | undefined;
  /** The raw body; null for a GET, whose fields come from the query. */
  body: Buffer | null;
  /** The parsed query string; `token` (the webhook secret) is never read as a field. */
  query: Record<string, unknown>;
}

export type ParseResult = { ok: true; events: WebhookEvent[] } | { ok: false; reason: string };

/** Longest id we store (`whatsapp_status_logs.message_id` is varchar(128)). */
const MAX_ID = 128;
const MAX_TEXT = 4_096;
const MAX_SHORT = 256;
const MAX_URL = 2_048;
const MAX_CAPTION = 1_024;

class ParseFailure extends Error {}

function fail(reason: string): never {
  throw new ParseFailure(reason);
}

/** Parses one webhook request; never throws. */
export function parseWebhook(request: WebhookRequest, opts: { maxEvents: number }): ParseResult {
  try {
    return { ok: true, events: classify(decodeBody(request), opts.maxEvents) };
  } catch (err) {
    if (err instanceof ParseFailure) {
      return { ok: false, reason: err.message };
    }
    throw err;
  }
}

// ---------------------------------------------------------------------------------------------
// Transport: body bytes or query → one JSON-ish value

function decodeBody(request: WebhookRequest): unknown {
  const fields = queryFields(request.query);
  const text = request.body?.toString('utf8').trim() ?? '';
  if (text === '') {
    if (Object.keys(fields).length > 0) {
      return fields;
    }
    // A bare GET is a URL check; a POST without a body is a mistake.
    return request.body === null ? URL_CHECK : fail('the body is empty');
  }
  const mediaType = (request.contentType ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
  if (mediaType === 'application/x-www-form-urlencoded') {
    return formFields(text);
  }
  if (mediaType === 'application/json' || text.startsWith('{') || text.startsWith('[')) {
    try {
      return JSON.parse(text) as unknown;
    } catch {
      return fail('the body is not valid JSON');
    }
  }
  // text/plain (or no type) that is not JSON: Gupshup's form encoding under the wrong label.
  if (/^[\w.%-]+=/.test(text)) {
    return formFields(text);
  }
  return fail('the body is neither JSON nor a form');
}

/** A GET without fields: acknowledged, nothing to store. */
const URL_CHECK = Symbol('url check');

/**
 * First value of each key (repeated keys cannot come from Gupshup and are not merged), as own
 * properties only: a key such as `__proto__` stays a plain field.
 */
function formFields(text: string): Record<string, string> {
  const out = new Map<string, string>();
  for (const [key, value] of new URLSearchParams(text)) {
    if (!out.has(key)) {
      out.set(key, value);
    }
  }
  return Object.fromEntries(out);
}

function queryFields(query: Record<string, unknown>): Record<string, string> {
  const out = new Map<string, string>();
  for (const [key, raw] of Object.entries(query)) {
    const value: unknown = Array.isArray(raw) ? raw[0] : raw;
    if (key !== 'token' && typeof value === 'string') {
      out.set(key, value);
    }
  }
  return Object.fromEntries(out);
}

// ---------------------------------------------------------------------------------------------
// Shapes

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function classify(value: unknown, maxEvents: number): WebhookEvent[] {
  if (value === URL_CHECK) {
    return [];
  }
  if (Array.isArray(value)) {
    return parseReports(value, 'body', maxEvents);
  }
  if (!isRecord(value)) {
    return fail('the body must be a JSON object or array');
  }
  if ('response' in value) {
    let list = value.response;
    if (typeof list === 'string') {
      try {
        list = JSON.parse(list) as unknown;
      } catch {
        return fail('response is not valid JSON');
      }
    }
    if (!Array.isArray(list)) {
      return fail('response must hold a JSON array of delivery reports');
    }
    return parseReports(list, 'response', maxEvents);
  }
  if (
    typeof value.type === 'string' &&
    'payload' in value &&
    ('app' in value || 'version' in value)
  ) {
    return parseV2(value);
  }
  if ('mobile' in value) {
    return [{ kind: 'inbound', message: parseWith(EnterpriseInbound, value, '') }];
  }
  return fail('not a Gupshup delivery report, inbound message or v2 callback');
}

function parseReports(list: unknown[], where: string, maxEvents: number): WebhookEvent[] {
  if (list.length > maxEvents) {
    return fail(`${list.length} delivery reports in one post; at most ${maxEvents} are accepted`);
  }
  return list.map((item, i) => ({
    kind: 'dlr',
    report: parseWith(EnterpriseReport, item, `${where}[${i}].`),
  }));
}

function parseV2(value: Record<string, unknown>): WebhookEvent[] {
  const envelope = parseWith(V2Envelope, value, '');
  if (envelope.type === 'message-event') {
    const event = parseWith(V2MessageEvent, envelope.payload, 'payload.');
    return [{ kind: 'dlr', report: toV2Report(event, envelope.timestamp) }];
  }
  if (envelope.type === 'message') {
    const message = parseWith(V2Message, envelope.payload, 'payload.');
    return [{ kind: 'inbound', message: toV2Inbound(message, envelope.timestamp) }];
  }
  // user-event, template-event, account-event, billing-event…: acknowledged, nothing to do.
  return [];
}

function parseWith<S extends v.GenericSchema>(
  schema: S,
  input: unknown,
  prefix: string,
): v.InferOutput<S> {
  const result = v.safeParse(schema, input);
  if (result.success) {
    return result.output;
  }
  const [issue] = result.issues;
  const path = `${prefix}${v.getDotPath(issue) ?? ''}`.replace(/\.$/, '') || 'body';
  return fail(`${path}: ${describeIssue(issue)}`);
}

/**
 * What is wrong, without the value: valibot's default messages quote what they received, and
 * that can be a phone number. Our own messages (custom validations, transforms) never do.
 */
function describeIssue(issue: v.BaseIssue<unknown>): string {
  if (issue.received === 'undefined') {
    return 'is required';
  }
  if (issue.kind !== 'schema' && !issue.message.startsWith('Invalid ')) {
    return issue.message;
  }
  return issue.expected ? `expected ${issue.expected}` : 'is invalid';
}

// ---------------------------------------------------------------------------------------------
// Field schemas

const optional = <S extends v.GenericSchema>(schema: S) => v.optional(v.nullable(schema));

/** An id: a non-empty string (numbers are taken as their decimal text). */
const Id = v.pipe(
  v.union([v.string(), v.pipe(v.number(), v.integer())]),
  v.transform((id) => String(id).trim()),
  v.nonEmpty(),
  v.maxLength(MAX_ID),
);

/** Free text, cut to `max` characters (a long caption is no reason to drop a reply). */
const Text = (max: number) =>
  v.pipe(
    v.union([v.string(), v.number()]),
    v.transform((s) => String(s).slice(0, max)),
  );

/** An MSISDN: '+', spaces and other separators removed; 6 to 15 digits remain. */
const Phone = v.pipe(
  v.union([v.string(), v.pipe(v.number(), v.integer())]),
  v.transform((s) => String(s).replace(/\D/g, '')),
  v.regex(/^\d{6,15}$/, 'must be a phone number'),
);

/** A phone number that is only informational: anything unusable becomes null. */
const LoosePhone = v.pipe(
  v.unknown(),
  v.transform((s) => {
    const digits =
      typeof s === 'string' || typeof s === 'number' ? String(s).replace(/\D/g, '') : '';
    return /^\d{6,15}$/.test(digits) ? digits : null;
  }),
);

/**
 * Epoch milliseconds from a number or numeric string. Values below 1e11 can only be seconds
 * (1e11 ms is 1973; 1e11 s is the year 5138), so they are scaled up.
 */
const EpochMs = v.pipe(
  v.union([v.number(), v.pipe(v.string(), v.trim(), v.regex(/^\d+(\.\d+)?$/, 'must be numeric'))]),
  v.transform(Number),
  v.finite(),
  v.minValue(1),
  v.transform((n) => Math.round(n < 1e11 ? n * 1_000 : n)),
);

/** A delivery report code: three characters with leading zeros ("25" and 25 become "025"). */
const Code = v.pipe(
  v.union([v.string(), v.pipe(v.number(), v.integer(), v.minValue(0))]),
  v.transform((c) => String(c).trim()),
  v.maxLength(32),
  v.transform((c) => (c === '' ? null : /^\d{1,2}$/.test(c) ? c.padStart(3, '0') : c)),
);

/** An object, or a JSON string holding one (Gupshup sends both, facts §3.1). */
function objectish<const E extends v.ObjectEntries>(entries: E) {
  return v.pipe(
    v.union([v.string(), v.record(v.string(), v.unknown())]),
    v.rawTransform(({ dataset, addIssue, NEVER }): unknown => {
      const input = dataset.value;
      if (typeof input !== 'string') {
        return input;
      }
      try {
        return JSON.parse(input) as unknown;
      } catch {
        addIssue({ message: 'must be an object or a JSON string holding one' });
        return NEVER;
      }
    }),
    v.looseObject(entries),
  );
}

const Coordinate = (min: number, max: number) =>
  v.pipe(
    v.union([v.number(), v.pipe(v.string(), v.trim(), v.nonEmpty(), v.transform(Number))]),
    v.finite(),
    v.minValue(min),
    v.maxValue(max),
  );

const LocationFields = objectish({
  latitude: Coordinate(-90, 90),
  longitude: Coordinate(-180, 180),
  name: optional(Text(MAX_SHORT)),
  address: optional(Text(MAX_SHORT * 2)),
});

const MediaFields = objectish({
  mime_type: optional(Text(MAX_SHORT)),
  url: optional(Text(MAX_URL)),
  caption: optional(Text(MAX_CAPTION)),
});

const ReplyFields = v.looseObject({
  id: optional(v.union([v.string(), v.number()])),
  title: optional(Text(MAX_SHORT)),
  postbackText: optional(Text(MAX_SHORT)),
});

const InteractiveFields = objectish({
  type: optional(v.string()),
  button_reply: optional(ReplyFields),
  list_reply: optional(ReplyFields),
});

const ContextFields = objectish({ id: optional(Id), gsId: optional(Id) });

/** A template quick-reply tap: `{text, payload}` — or, seen in the wild, just the text. */
const ButtonFields = v.union([
  objectish({ text: optional(Text(MAX_SHORT)), payload: optional(Text(MAX_SHORT)) }),
  v.pipe(
    v.string(),
    v.transform((text) => ({ text: text.slice(0, MAX_SHORT), payload: null })),
  ),
]);

// ---------------------------------------------------------------------------------------------
// Enterprise delivery report (facts §2.2)

const EnterpriseReport = v.pipe(
  v.looseObject({
    externalId: Id,
    eventType: v.pipe(v.string(), v.trim(), v.nonEmpty(), v.maxLength(32), v.toUpperCase()),
    cause: optional(Text(MAX_SHORT)),
    errorCode: optional(Code),
    errCode: optional(Code),
    destAddr: optional(v.unknown()),
    srcAddr: optional(Text(MAX_SHORT)),
    eventTs: optional(EpochMs),
    extra: optional(Text(191)),
  }),
  v.transform((r): DeliveryReport => ({
    source: 'enterprise',
    externalId: r.externalId,
    eventType: r.eventType,
    cause: r.cause ?? null,
    errorCode: r.errorCode ?? r.errCode ?? null,
    destAddr: v.parse(LoosePhone, r.destAddr),
    srcAddr: r.srcAddr ?? null,
    eventTs: r.eventTs ?? null,
    extra: r.extra ?? null,
  })),
);

// ---------------------------------------------------------------------------------------------
// Enterprise inbound message (facts §3.1)

const ENTERPRISE_TYPES: Readonly<Record<string, InboundType>> = {
  text: 'text',
  button: 'button',
  interactive: 'interactive',
  image: 'image',
  document: 'document',
  location: 'location',
  audio: 'audio',
  video: 'video',
  voice: 'voice',
  contacts: 'contacts',
  contact: 'contacts',
  sticker: 'sticker',
};

const MEDIA_TYPES: ReadonlySet<InboundType> = new Set([
  'image',
  'document',
  'audio',
  'video',
  'voice',
  'sticker',
]);

const EnterpriseInbound = v.pipe(
  v.looseObject({
    mobile: Phone,
    waNumber: optional(v.unknown()),
    name: optional(Text(MAX_SHORT)),
    type: v.pipe(v.string(), v.trim(), v.nonEmpty(), v.maxLength(32), v.toLowerCase()),
    timestamp: optional(EpochMs),
    messageId: optional(Id),
    replyId: optional(Id),
    text: optional(Text(MAX_TEXT)),
    button: optional(ButtonFields),
    interactive: optional(InteractiveFields),
    context: optional(ContextFields),
    image: optional(MediaFields),
    document: optional(MediaFields),
    audio: optional(MediaFields),
    video: optional(MediaFields),
    voice: optional(MediaFields),
    sticker: optional(MediaFields),
    location: optional(LocationFields),
  }),
  v.transform((m): InboundMessage => {
    const type = ENTERPRISE_TYPES[m.type] ?? 'unknown';
    const media = MEDIA_TYPES.has(type) ? m[type as 'image'] : null;
    const reply = m.interactive?.button_reply ?? m.interactive?.list_reply ?? null;
    return {
      source: 'enterprise',
      messageId: m.messageId ?? null,
      replyId: m.replyId ?? null,
      contextId: m.context?.id ?? null,
      contextGsId: m.context?.gsId ?? null,
      mobile: m.mobile,
      userId: null,
      waNumber: v.parse(LoosePhone, m.waNumber),
      name: m.name ?? null,
      type,
      text: m.text ?? null,
      buttonText: m.button?.text ?? null,
      buttonPayload: m.button?.payload ?? null,
      ...interactiveOf(reply),
      media: media
        ? {
            mimeType: media.mime_type ?? null,
            url: media.url ?? null,
            caption: media.caption ?? null,
          }
        : null,
      location: locationOf(m.location),
      timestamp: m.timestamp ?? null,
    };
  }),
);

type Reply = v.InferOutput<typeof ReplyFields>;

/**
 * The id, title and postback text of an interactive reply. Our own interactive messages (and
 * Gupshup's list builder) put a JSON string in the reply id, e.g. `{"msgid":…,"postbackText":
 * "10 June 2023"}` in the seed's date reply; a `postbackText` field beside the id also counts.
 */
function interactiveOf(
  reply: Reply | null,
): Pick<InboundMessage, 'interactiveId' | 'interactiveTitle' | 'postbackText'> {
  if (!reply) {
    return { interactiveId: null, interactiveTitle: null, postbackText: null };
  }
  const id = reply.id === null || reply.id === undefined ? null : String(reply.id).slice(0, 1_024);
  return {
    interactiveId: id,
    interactiveTitle: reply.title ?? null,
    postbackText: reply.postbackText ?? postbackInId(id),
  };
}

function postbackInId(id: string | null): string | null {
  if (!id?.trimStart().startsWith('{')) {
    return null;
  }
  try {
    const parsed: unknown = JSON.parse(id);
    return isRecord(parsed) && typeof parsed.postbackText === 'string'
      ? parsed.postbackText.slice(0, MAX_SHORT)
      : null;
  } catch {
    return null;
  }
}

function locationOf(
  location: v.InferOutput<typeof LocationFields> | null | undefined,
): InboundMessage['location'] {
  return location
    ? {
        latitude: location.latitude,
        longitude: location.longitude,
        name: location.name ?? null,
        address: location.address ?? null,
      }
    : null;
}

// ---------------------------------------------------------------------------------------------
// Self-serve v2 callbacks (facts §4.4)

const V2Envelope = v.looseObject({
  app: optional(v.string()),
  timestamp: optional(EpochMs),
  version: optional(v.unknown()),
  type: v.string(),
  payload: v.record(v.string(), v.unknown()),
});

const V2MessageEvent = v.looseObject({
  id: Id,
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

function toV2Report(
  event: v.InferOutput<typeof V2MessageEvent>,
  envelopeTs: number | null | undefined,
): DeliveryReport {
  const failed = event.type === 'FAILED';
  return {
    source: 'v2',
    // `id` is WhatsApp's id on sent/delivered/read; `gsId` is Gupshup's, the one we stored.
    externalId: event.gsId ?? event.id,
    eventType: event.type,
    cause: failed ? (event.payload?.reason ?? null) : null,
    errorCode: failed ? (event.payload?.code ?? null) : null,
    destAddr: v.parse(LoosePhone, event.destination),
    srcAddr: null,
    eventTs: event.payload?.ts ?? envelopeTs ?? null,
    extra: null,
  };
}

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

const V2Message = v.looseObject({
  id: optional(Id),
  source: optional(v.unknown()),
  type: v.pipe(v.string(), v.trim(), v.nonEmpty(), v.maxLength(32), v.toLowerCase()),
  payload: optional(v.record(v.string(), v.unknown())),
  sender: optional(
    v.looseObject({ phone: optional(v.unknown()), name: optional(Text(MAX_SHORT)) }),
  ),
  context: optional(ContextFields),
});

const V2Text = v.looseObject({ text: optional(Text(MAX_TEXT)) });
const V2QuickReply = v.looseObject({
  text: optional(Text(MAX_SHORT)),
  payload: optional(Text(MAX_SHORT)),
});
const V2Media = v.looseObject({
  url: optional(Text(MAX_URL)),
  caption: optional(Text(MAX_CAPTION)),
  contentType: optional(Text(MAX_SHORT)),
});
const V2Location = v.looseObject({
  latitude: Coordinate(-90, 90),
  longitude: Coordinate(-180, 180),
  name: optional(Text(MAX_SHORT)),
  address: optional(Text(MAX_SHORT * 2)),
});

function toV2Inbound(
  message: v.InferOutput<typeof V2Message>,
  envelopeTs: number | null | undefined,
): InboundMessage {
  const mobile = parseWith(Phone, message.source ?? message.sender?.phone, 'payload.source');
  const type = V2_TYPES[message.type] ?? 'unknown';
  const body = message.payload ?? {};
  const base: InboundMessage = {
    source: 'v2',
    messageId: message.id ?? null,
    replyId: null,
    contextId: message.context?.id ?? null,
    contextGsId: message.context?.gsId ?? null,
    mobile,
    userId: null,
    waNumber: null,
    name: message.sender?.name ?? null,
    type,
    text: null,
    buttonText: null,
    buttonPayload: null,
    interactiveId: null,
    interactiveTitle: null,
    postbackText: null,
    media: null,
    location: null,
    timestamp: envelopeTs ?? null,
  };
  if (type === 'text') {
    return { ...base, text: parseWith(V2Text, body, 'payload.payload.').text ?? null };
  }
  if (type === 'button') {
    const quick = parseWith(V2QuickReply, body, 'payload.payload.');
    return { ...base, buttonText: quick.text ?? null, buttonPayload: quick.payload ?? null };
  }
  if (type === 'interactive') {
    return { ...base, ...interactiveOf(parseWith(ReplyFields, body, 'payload.payload.')) };
  }
  if (type === 'location') {
    return { ...base, location: locationOf(parseWith(V2Location, body, 'payload.payload.')) };
  }
  if (MEDIA_TYPES.has(type)) {
    const media = parseWith(V2Media, body, 'payload.payload.');
    return {
      ...base,
      media: {
        mimeType: media.contentType ?? null,
        url: media.url ?? null,
        caption: media.caption ?? null,
      },
    };
  }
  return base;
}

// ---------------------------------------------------------------------------------------------
// Event keys

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** JSON with object keys sorted at every level, so equal events serialise equally. */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) {
    return `[${value.map(canonicalJson).join(',')}]`;
  }
  if (isRecord(value)) {
    const keys = Object.keys(value)
      .filter((k) => value[k] !== undefined)
      .sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(value[k])}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/**
 * The durable dedupe key of an event (`webhook_events.event_key`, at most 191 characters): a
 * repeated callback maps to the same key and is stored once.
 * - A delivery report: sha256 of `dlr|externalId|eventType` — one row per message and event type,
 *   so a repeated or re-batched report changes nothing (facts §2.5).
 * - An inbound message: `in|<messageId>` when Gupshup gives one, else a sha256 of the normalised
 *   message (its timestamp included, so two equal texts sent at different times stay two).
 */
export function eventKey(event: WebhookEvent): string {
  if (event.kind === 'dlr') {
    return sha256(`dlr|${event.report.externalId}|${event.report.eventType}`);
  }
  if (event.kind !== 'inbound') {
    return `${event.kind}|sha256:${sha256(canonicalJson(event))}`;
  }
  const { messageId } = event.message;
  if (messageId !== null) {
    const key = `in|${messageId}`;
    return key.length <= 191 ? key : `in|sha256:${sha256(messageId)}`;
  }
  return `in|sha256:${sha256(canonicalJson(event.message))}`;
}
