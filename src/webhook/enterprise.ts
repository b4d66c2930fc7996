/**
 * Gupshup Enterprise Gateway callbacks (facts §2, §3), as src/webhook/parse.ts hands them over
 * once the transport is decoded:
 *
 * - Delivery reports: a list (the decoded form field `response`, a raw JSON array, or the
 *   `response` of a JSON object, as a JSON string or an array) of at most `maxEvents` reports.
 *   Each needs `externalId` and `eventType`; `errorCode` (or the SMS spelling `errCode`) is kept
 *   as a string with leading zeros; `eventTs` is epoch ms.
 * - Inbound messages: one object of fields (`mobile`, `waNumber`, `type`, `text`, `button`,
 *   `interactive`, media, `location`, `context`, …); every object-ish field may be an object or a
 *   JSON string holding one. `interactive` is Meta's shape (`button_reply`, `list_reply`, with a
 *   `postbackText` beside the id or inside a JSON id); `button`, a template quick-reply tap, is
 *   `{text, payload}` as an object or JSON string, or a bare string (the button's text).
 *
 * Pure: turns fields into events (src/webhook/events.ts) or a refusal.
 */
import * as v from 'valibot';

import type { DeliveryReport, InboundMessage, InboundType, WebhookEvent } from './events.ts';
import {
  blankInbound,
  Code,
  EpochMs,
  fail,
  Id,
  InteractiveFields,
  interactiveOf,
  LocationFields,
  locationOf,
  LoosePhone,
  MAX_SHORT,
  MAX_TEXT,
  MEDIA_TYPES,
  MediaFields,
  mediaOf,
  objectish,
  optional,
  parseWith,
  Phone,
  Text,
  TypeName,
} from './fields.ts';

/** Reports in `list`, in arrival order; `where` names the list in a refusal. */
export function enterpriseReports(
  list: unknown[],
  where: string,
  maxEvents: number,
): WebhookEvent[] {
  if (list.length > maxEvents) {
    return fail(`${list.length} delivery reports in one post; at most ${maxEvents} are accepted`);
  }
  return list.map((item, i) => ({
    kind: 'dlr',
    report: parseWith(EnterpriseReport, item, `${where}[${i}].`),
  }));
}

/** The reports of a `response` field: a JSON array, or a string holding one. */
export function enterpriseResponse(response: unknown, maxEvents: number): WebhookEvent[] {
  let list = response;
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
  return enterpriseReports(list, 'response', maxEvents);
}

/** One inbound message. */
export function enterpriseInbound(fields: Record<string, unknown>): WebhookEvent {
  return { kind: 'inbound', message: parseWith(EnterpriseInbound, fields, '') };
}

// ---------------------------------------------------------------------------------------------
// Delivery report (facts §2.2)

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
// Inbound message (facts §3.1)

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

const ContextFields = objectish({ id: optional(Id), gsId: optional(Id) });

/** A template quick-reply tap: `{text, payload}` — or, seen in the wild, just the text. */
const ButtonFields = v.union([
  objectish({ text: optional(Text(MAX_SHORT)), payload: optional(Text(MAX_SHORT)) }),
  v.pipe(
    v.string(),
    v.transform((text) => ({ text: text.slice(0, MAX_SHORT), payload: null })),
  ),
]);

const EnterpriseInbound = v.pipe(
  v.looseObject({
    mobile: Phone,
    waNumber: optional(v.unknown()),
    name: optional(Text(MAX_SHORT)),
    type: TypeName,
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
    return {
      ...blankInbound('enterprise', type),
      messageId: m.messageId ?? null,
      replyId: m.replyId ?? null,
      contextId: m.context?.id ?? null,
      contextGsId: m.context?.gsId ?? null,
      mobile: m.mobile,
      waNumber: v.parse(LoosePhone, m.waNumber),
      name: m.name ?? null,
      text: m.text ?? null,
      buttonText: m.button?.text ?? null,
      buttonPayload: m.button?.payload ?? null,
      ...interactiveOf(m.interactive),
      media: mediaOf(media),
      location: locationOf(m.location),
      timestamp: m.timestamp ?? null,
    };
  }),
);
