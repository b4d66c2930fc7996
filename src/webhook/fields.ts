/**
 * What the three callback formats (src/webhook/enterprise.ts, v2.ts, v3.ts) share: the field
 * schemas (ids, text, phone numbers, times, object-ish fields), the parts of a message they read
 * alike (interactive replies, media, locations), and the one way a refusal is worded. Pure.
 *
 * Reasons never quote values: they go back to the caller and into logs, and values can be phone
 * numbers. `parseWith` names the field and says what is wrong with it in words of its own.
 *
 * Text is bounded before any pattern runs on it (src/match-limit.ts): free text is cut to its
 * schema's length first (`Text`), and a field read as one value (a phone number, a user id, a
 * label) is not matched at all when it is longer than a KiB.
 */
import * as v from 'valibot';

import { fieldToMatch } from '../match-limit.ts';

import type { CallbackFormat, InboundMessage, InboundType } from './events.ts';

/** Longest id we store (`whatsapp_status_logs.message_id` is varchar(128)). */
export const MAX_ID = 128;
export const MAX_TEXT = 4_096;
export const MAX_SHORT = 256;
export const MAX_URL = 2_048;
export const MAX_CAPTION = 1_024;
/** A reply's id can be Gupshup's JSON structure (the seed's date reply), longer than an id. */
export const MAX_REPLY_ID = 1_024;
/** Meta's business-scoped user ids: a country code, a dot, up to 128 letters and digits. */
const MAX_USER_ID = 160;

// ---------------------------------------------------------------------------------------------
// Refusals

export class ParseFailure extends Error {}

/** Refuses the whole request with `reason`, which must not quote any value. */
export function fail(reason: string): never {
  throw new ParseFailure(reason);
}

/** `schema`'s output for `input`, or a refusal naming the field (`prefix` + the issue's path). */
export function parseWith<S extends v.GenericSchema>(
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

/** `schema`'s output for `input`, or null: for fields that are information only. */
export function readOrNull<S extends v.GenericSchema>(
  schema: S,
  input: unknown,
): v.InferOutput<S> | null {
  const result = v.safeParse(schema, input);
  return result.success ? result.output : null;
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

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

// ---------------------------------------------------------------------------------------------
// Field schemas

export const optional = <S extends v.GenericSchema>(schema: S) => v.optional(v.nullable(schema));

/** An id: a non-empty string (numbers are taken as their decimal text). */
export const Id = v.pipe(
  v.union([v.string(), v.pipe(v.number(), v.integer())]),
  v.transform((id) => String(id).trim()),
  v.nonEmpty(),
  v.maxLength(MAX_ID),
);

/**
 * An id that is information only (a media id): anything unusable becomes null. Like the other
 * `Loose…` schemas, for `v.parse` on a field read as `unknown` (inside an object, a missing key
 * would skip it).
 */
export const LooseId = v.pipe(
  v.unknown(),
  v.transform((value) => readOrNull(Id, value)),
);

/** Meta's business-scoped user id (`US.13491208655302741918`), kept as given. */
export const UserId = v.pipe(
  v.string(),
  v.trim(),
  v.nonEmpty(),
  v.maxLength(MAX_USER_ID, 'is too long for a user id'),
);

/** Free text, cut to `max` characters (a long caption is no reason to drop a reply). */
export const Text = (max: number) =>
  v.pipe(
    v.union([v.string(), v.number()]),
    v.transform((s) => String(s).slice(0, max)),
  );

/** An event or message type as a provider names it: trimmed, lower-cased, short. */
export const TypeName = v.pipe(
  v.string(),
  v.trim(),
  v.nonEmpty(),
  v.maxLength(32),
  v.toLowerCase(),
);

/**
 * A provider's own name for something (a v2 callback type, a v3 field, a user-event type), safe
 * to put in a note: lower-case letters, digits and `_ . -`, else null. Never a phone number.
 */
export const Label = v.pipe(
  v.unknown(),
  v.transform((value) => {
    const text = typeof value === 'string' ? fieldToMatch(value) : null;
    const label = text?.trim().toLowerCase() ?? '';
    return /^[a-z][a-z0-9_.-]{0,47}$/.test(label) ? label : null;
  }),
);

/** An MSISDN: '+', spaces and other separators removed; 6 to 15 digits remain. */
export const Phone = v.pipe(
  v.union([v.string(), v.pipe(v.number(), v.integer())]),
  v.transform((s) => String(s).replace(/\D/g, '')),
  v.regex(/^\d{6,15}$/, 'must be a phone number'),
);

/**
 * A phone number that is only informational, or that may be absent: digits with the usual
 * separators (`+`, spaces, dashes, dots, brackets), else null. Letters make it null rather than
 * being dropped: a business-scoped user id such as `IN.1648738043044942` is not a number.
 */
export const LoosePhone = v.pipe(
  v.unknown(),
  v.transform((s) => {
    const given = typeof s === 'number' && Number.isInteger(s) ? String(s) : s;
    const text = typeof given === 'string' ? fieldToMatch(given) : null;
    if (text === null || !/^[\d\s+().-]+$/.test(text)) {
      return null;
    }
    const digits = text.replace(/\D/g, '');
    return /^\d{6,15}$/.test(digits) ? digits : null;
  }),
);

/** Does `value` have the form of a business-scoped user id (`CC.` then letters and digits)? */
export function looksLikeUserId(value: unknown): boolean {
  const text = typeof value === 'string' ? fieldToMatch(value) : null;
  return text !== null && /^[A-Z]{2}\.[A-Za-z0-9.]+$/.test(text.trim());
}

/** The years a callback's time is believed in: 2000 up to (not including) 2100, UTC. */
const EARLIEST_EPOCH_MS = Date.UTC(2000, 0, 1);
const LATEST_EPOCH_MS = Date.UTC(2100, 0, 1);

/**
 * `ms` when it is a time a callback can mean (2000–2099), else null. The parser applies it
 * (EpochMs); workers apply it again to events stored before it did.
 */
export function plausibleEpochMs(ms: number | null): number | null {
  return ms !== null && Number.isFinite(ms) && ms >= EARLIEST_EPOCH_MS && ms < LATEST_EPOCH_MS
    ? ms
    : null;
}

/**
 * Epoch milliseconds from a number or numeric string. Values below 1e11 can only be seconds
 * (1e11 ms is 1973; 1e11 s is the year 5138), so they are scaled up.
 *
 * A time outside 2000–2099 (1e20, the year 300000, 0, a negative number) is dropped: the result
 * is null, as for a callback that gives no time, and the worker uses the time the callback was
 * received. Such a time would break a worker later (no JavaScript Date, no MySQL DATETIME holds
 * it), and a callback that is otherwise fine is not refused for a silly clock: a 400 would have
 * Gupshup retry a report that can never be taken, and clamping to "now" would invent a time and
 * store it as Gupshup's. A value that is not a number at all is still malformed (400).
 */
export const EpochMs = v.pipe(
  v.union([v.number(), v.pipe(v.string(), v.trim(), v.regex(/^\d+(\.\d+)?$/, 'must be numeric'))]),
  v.transform(Number),
  v.transform((n) => plausibleEpochMs(Math.round(n < 1e11 ? n * 1_000 : n))),
);

/** A time that is information only (an envelope's): anything unusable becomes null. */
export const LooseEpochMs = v.pipe(
  v.unknown(),
  v.transform((value) => readOrNull(EpochMs, value)),
);

/** An enterprise report code: three characters with leading zeros ("25" and 25 become "025"). */
export const Code = v.pipe(
  v.union([v.string(), v.pipe(v.number(), v.integer(), v.minValue(0))]),
  v.transform((c) => String(c).trim()),
  v.maxLength(32),
  v.transform((c) => (c === '' ? null : /^\d{1,2}$/.test(c) ? c.padStart(3, '0') : c)),
);

/** Another numbering's code (Meta's 131047), kept as its text: no padding. */
export const ProviderCode = v.pipe(
  v.union([v.string(), v.pipe(v.number(), v.integer())]),
  v.transform((c) => String(c).trim()),
  v.maxLength(32),
  v.transform((c) => (c === '' ? null : c)),
);

/** An object, or a JSON string holding one (Gupshup sends both, facts §3.1). */
export function objectish<const E extends v.ObjectEntries>(entries: E) {
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

// ---------------------------------------------------------------------------------------------
// Message parts the formats share

/** A message with nothing in it yet: each format fills in what it carries. */
export function blankInbound(source: CallbackFormat, type: InboundType): InboundMessage {
  return {
    source,
    messageId: null,
    replyId: null,
    contextId: null,
    contextGsId: null,
    mobile: null,
    userId: null,
    waNumber: null,
    name: null,
    type,
    text: null,
    buttonText: null,
    buttonPayload: null,
    interactiveId: null,
    interactiveTitle: null,
    postbackText: null,
    media: null,
    location: null,
    timestamp: null,
  };
}

export const MEDIA_TYPES: ReadonlySet<InboundType> = new Set([
  'image',
  'document',
  'audio',
  'video',
  'voice',
  'sticker',
]);

export const LocationFields = objectish({
  latitude: Coordinate(-90, 90),
  longitude: Coordinate(-180, 180),
  name: optional(Text(MAX_SHORT)),
  address: optional(Text(MAX_SHORT * 2)),
});

export function locationOf(
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

/**
 * A media object as the enterprise gateway and Meta send it: `mime_type`, a `url` (enterprise,
 * sometimes v3) or `link`, an `id` (Meta's media id, fetched through Gupshup), a `caption`.
 */
export const MediaFields = objectish({
  id: optional(v.unknown()),
  mime_type: optional(Text(MAX_SHORT)),
  url: optional(Text(MAX_URL)),
  link: optional(Text(MAX_URL)),
  caption: optional(Text(MAX_CAPTION)),
});

export function mediaOf(
  media: v.InferOutput<typeof MediaFields> | null | undefined,
): InboundMessage['media'] {
  return media
    ? {
        id: v.parse(LooseId, media.id),
        mimeType: media.mime_type ?? null,
        url: media.url ?? media.link ?? null,
        caption: media.caption ?? null,
      }
    : null;
}

/** A reply row or button: `{id, title, postbackText?}` (Meta's, and Gupshup's v2 payload). */
export const ReplyFields = v.looseObject({
  id: optional(v.union([v.string(), v.number()])),
  title: optional(Text(MAX_SHORT)),
  postbackText: optional(Text(MAX_SHORT)),
});

type Reply = v.InferOutput<typeof ReplyFields>;

/**
 * Meta's `interactive` object (enterprise, as an object or a JSON string, and v3): a reply
 * button, a list row, or a WhatsApp Flow's answer (`nfm_reply`).
 */
export const InteractiveFields = objectish({
  type: optional(v.string()),
  button_reply: optional(ReplyFields),
  list_reply: optional(ReplyFields),
  nfm_reply: optional(
    v.looseObject({ name: optional(Text(MAX_SHORT)), body: optional(Text(MAX_SHORT)) }),
  ),
});

type InteractivePart = Pick<InboundMessage, 'interactiveId' | 'interactiveTitle' | 'postbackText'>;

const NO_INTERACTIVE: InteractivePart = {
  interactiveId: null,
  interactiveTitle: null,
  postbackText: null,
};

/**
 * The id, title and postback text of an interactive reply. A Flow's answer gives its `body`
 * ("Sent") as the title and nothing else: its `response_json` holds what the customer typed into
 * a form, which is neither kept nor acted on.
 */
export function interactiveOf(
  interactive: v.InferOutput<typeof InteractiveFields> | null | undefined,
): InteractivePart {
  if (!interactive) {
    return NO_INTERACTIVE;
  }
  const reply = interactive.button_reply ?? interactive.list_reply ?? null;
  if (reply) {
    return replyOf(reply);
  }
  if (interactive.nfm_reply) {
    return { ...NO_INTERACTIVE, interactiveTitle: interactive.nfm_reply.body ?? null };
  }
  return NO_INTERACTIVE;
}

/**
 * A reply's id, title and postback text. Our own interactive messages (and Gupshup's list
 * builder) can put a JSON string in the reply id, e.g. `{"msgid":…,"postbackText":"10 June
 * 2023"}` in the seed's date reply; a `postbackText` field beside the id wins over it.
 */
export function replyOf(reply: Reply | null): InteractivePart {
  if (!reply) {
    return NO_INTERACTIVE;
  }
  const id = replyId(reply.id);
  return {
    interactiveId: id,
    interactiveTitle: reply.title ?? null,
    postbackText: reply.postbackText ?? postbackInId(id),
  };
}

/** A reply id as text, cut to MAX_REPLY_ID; null when absent or empty. */
export function replyId(id: string | number | null | undefined): string | null {
  if (id === null || id === undefined) {
    return null;
  }
  const text = String(id).slice(0, MAX_REPLY_ID);
  return text.trim() === '' ? null : text;
}

/** The object a reply id holds when it is Gupshup's JSON structure, else null. */
export function jsonInId(id: string | null): Record<string, unknown> | null {
  if (!id?.trimStart().startsWith('{')) {
    return null;
  }
  try {
    const parsed: unknown = JSON.parse(id);
    return isRecord(parsed) ? parsed : null;
  } catch {
    return null;
  }
}

export function postbackInId(id: string | null): string | null {
  const postback = jsonInId(id)?.postbackText;
  return typeof postback === 'string' ? postback.slice(0, MAX_SHORT) : null;
}
