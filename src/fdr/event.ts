/**
 * The FDR event as the WMS publishes it (product spec, step 9): a `shipment` resource with
 * `eventSubType: 'failed_delivery'` and the shipment under `response_data`.
 *
 * Two readers:
 * - `readFdrHeader` takes only what ingestion needs to record the event (shipment id, attempt,
 *   account) and tells "not an FDR" apart from "an FDR we cannot key".
 * - `parseFdrEvent` validates the fields the service reads to decide the reason and fill the
 *   template variables. It is lenient on purpose: unknown keys pass, nulls and missing optional
 *   fields are accepted, and numbers may arrive as numeric strings (the WMS sends both).
 *
 * Both bound what becomes a key or a column: the shipment id (SHIPMENT_ID: at most 64 of a small
 * set of characters), the account id and the attempt (within MySQL's INT). An event outside those
 * bounds is invalid — acknowledged and recorded as such, never stored cut to fit.
 */
import * as v from 'valibot';

/**
 * A decimal number, optionally signed, with an optional fraction. Written so that no two parts
 * can match the same digits (`\d+\.?\d*` could, and backtracked quadratically on a long run of
 * digits followed by anything else).
 */
const NUMERIC = /^[-+]?(?:\d+(?:\.\d*)?|\.\d+)$/;
/** Longer numeric text than this is no number the WMS sends; it is refused before matching. */
const MAX_NUMERIC_TEXT = 64;

/** MySQL's INT (`account_id`, `attempt`), signed. */
const INT_MIN = -2_147_483_648;
const INT_MAX = 2_147_483_647;

/** A number, or a string holding one. An empty string counts as absent (the WMS sends ''). */
const NumberLike = v.nullish(
  v.union([
    v.pipe(v.number(), v.finite()),
    v.pipe(
      v.string(),
      v.trim(),
      v.transform((s) =>
        s === '' ? null : s.length <= MAX_NUMERIC_TEXT && NUMERIC.test(s) ? Number(s) : NaN,
      ),
      // Checked after the transform: valibot reports a union branch's own message only when the
      // branch ends in a validation, so "x" reads "must be a number", not "Expected number | string".
      v.check((n) => !Number.isNaN(n), 'must be a number'),
    ),
  ]),
);

/** Ids and phone numbers: strings, though a JSON encoder may have turned them into numbers. */
const TextLike = v.nullish(
  v.union([
    v.string(),
    v.pipe(
      v.number(),
      v.transform((n) => String(n)),
    ),
  ]),
);

const Text = v.nullish(v.string());

/**
 * An object that the WMS (PHP) may send as `[]` when it is empty, as it does for `request_data`,
 * `custom` and `shippingInfo` in the seed. An empty array reads as null.
 */
function objectOrEmptyArray<const TEntries extends v.ObjectEntries>(entries: TEntries) {
  // A pipe rather than a union, so that an issue inside the object keeps its own path and message.
  return v.nullish(
    v.pipe(
      v.unknown(),
      v.transform((input) => (Array.isArray(input) && input.length === 0 ? null : input)),
      // valibot's object schemas take arrays as objects; a non-empty array is not one here.
      v.check((input) => !Array.isArray(input), 'must be an object'),
      v.nullable(v.looseObject(entries)),
    ),
  );
}

const AccountId = v.pipe(
  NumberLike,
  v.check((n) => n == null || Number.isSafeInteger(n), 'must be a whole number'),
  v.check((n) => n == null || (n >= INT_MIN && n <= INT_MAX), 'is out of range for an account id'),
);

/** Longest shipment id: every `shipment_id` column is varchar(64). */
export const MAX_SHIPMENT_ID = 64;

/**
 * What a shipment id may hold: 1 to 64 ASCII letters, digits and `_ . # / -` — the set the
 * shipment API (`GET /v1/shipments/:shipmentId/activity`) already takes, so every shipment taken
 * in can be looked up. The id becomes part of keys (`<shipment>#<attempt>` in the inbox,
 * `fdr-<shipment>-<attempt>` in the outbox, timeline keys), URLs (the tracked link) and log
 * lines; none of these characters needs quoting in a log line or a key, and none is `:` (which
 * BullMQ job ids must not hold), a space, a quote, `%` or a control character.
 */
export const SHIPMENT_ID = /^[A-Za-z0-9_.#/-]{1,64}$/;

const ShipmentId = v.pipe(
  v.string('must be a string'),
  v.trim(),
  v.nonEmpty('must not be empty'),
  v.maxLength(MAX_SHIPMENT_ID, `must be at most ${MAX_SHIPMENT_ID} characters`),
  // Only the length is reported for an over-long id, whatever it holds.
  v.check(
    (id) => id.length > MAX_SHIPMENT_ID || SHIPMENT_ID.test(id),
    'must hold only letters, digits and _ . # / -',
  ),
);

/** `status_log_count.failed_delivery`: how many times delivery has failed, this one included. */
const AttemptCount = v.pipe(
  NumberLike,
  v.check(
    (n) => n == null || (Number.isInteger(n) && n >= 1 && n <= INT_MAX),
    `must be a whole number from 1 to ${INT_MAX}`,
  ),
);

/** Just enough of the event to record it in `fdr_inbox`. */
export const FdrEventHeader = v.looseObject({
  resource: v.literal('shipment'),
  eventSubType: v.literal('failed_delivery'),
  accountId: v.fallback(AccountId, null),
  response_data: v.looseObject({
    externalShipmentID: ShipmentId,
    // An unreadable account id is not a reason to drop the event: validation looks it up again.
    account_id: v.fallback(AccountId, null),
    status_log_count: objectOrEmptyArray({ failed_delivery: AttemptCount }),
  }),
});
export type FdrEventHeader = v.InferOutput<typeof FdrEventHeader>;

export type FdrHeaderResult =
  | { kind: 'not_fdr' }
  | { kind: 'invalid'; reason: string }
  | { kind: 'fdr'; shipmentId: string; attempt: number; accountId: number | null };

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** At most this many failing paths are named: an event with thousands of bad items is one reason. */
const MAX_ISSUES_NAMED = 10;

/**
 * Lists the failing paths with their messages, e.g. `response_data.items.0.quantity: must be …`,
 * the first MAX_ISSUES_NAMED of them and how many more (the reason goes into a bounded column).
 */
function describeIssues(issues: readonly v.BaseIssue<unknown>[]): string {
  const named = issues
    .slice(0, MAX_ISSUES_NAMED)
    .map((issue) => `${v.getDotPath(issue) ?? '(event)'}: ${issue.message}`);
  const more = issues.length - named.length;
  return [...named, ...(more > 0 ? [`and ${more} more`] : [])].join('; ');
}

/**
 * Classifies a decoded Pub/Sub message. Other shipment events share the topic, so anything that
 * is not a shipment `failed_delivery` is `not_fdr` (acknowledged and ignored); an FDR without a
 * usable shipment id or attempt count is `invalid`, because no redelivery can fix it.
 */
export function readFdrHeader(raw: unknown): FdrHeaderResult {
  if (!isRecord(raw) || raw.resource !== 'shipment' || raw.eventSubType !== 'failed_delivery') {
    return { kind: 'not_fdr' };
  }
  const parsed = v.safeParse(FdrEventHeader, raw);
  if (!parsed.success) {
    return { kind: 'invalid', reason: describeIssues(parsed.issues) };
  }
  const data = parsed.output.response_data;
  return {
    kind: 'fdr',
    shipmentId: data.externalShipmentID,
    // The first failure may come before the WMS counts it; a missing count means attempt 1.
    attempt: data.status_log_count?.failed_delivery ?? 1,
    // The envelope's own `accountId` is null in the seed; it is only a fallback.
    accountId: data.account_id ?? parsed.output.accountId ?? null,
  };
}

const Item = v.looseObject({
  productName: Text,
  quantity: NumberLike,
  invoiceTotal: NumberLike,
  lineItemTotal: NumberLike,
  customerPrice: NumberLike,
});
export type FdrItem = v.InferOutput<typeof Item>;

const ShippingAddress = objectOrEmptyArray({
  customerName: Text,
  addressLine1: Text,
  addressLine2: Text,
  city: Text,
  state: Text,
  postalCode: TextLike,
  countryCode: Text,
  contactPhone: TextLike,
});

const ClickPostTrackData = objectOrEmptyArray({
  remark: Text,
  additional: objectOrEmptyArray({
    // Kept as sent: `reasonFromNdrCode` reads numbers and numeric strings alike.
    ndr_status_code: v.nullish(v.union([v.number(), v.string()])),
    ndr_status_description: Text,
    latest_status: objectOrEmptyArray({ remark: Text }),
  }),
});

/** The fields of an FDR event the service reads, in the seed's shape and key names. */
export const FdrEvent = v.looseObject({
  resource: v.literal('shipment'),
  eventSubType: v.literal('failed_delivery'),
  accountSlug: Text,
  account_slug: Text,
  accountId: AccountId,
  response_data: v.looseObject({
    account_id: AccountId,
    account_slug: Text,
    customerOrderNumber: TextLike,
    vendorOrderNumber: TextLike,
    externalShipmentID: ShipmentId,
    customerName: Text,
    customerContactNumber: TextLike,
    remarks: Text,
    paymentType: Text,
    isCOD: v.nullish(v.union([v.string(), v.number(), v.boolean()])),
    shippingAddress: ShippingAddress,
    items: v.nullish(v.array(Item), []),
    status_log_count: objectOrEmptyArray({ failed_delivery: AttemptCount }),
    track_payload: objectOrEmptyArray({ clickPostTrackData: ClickPostTrackData }),
  }),
});
export type FdrEvent = v.InferOutput<typeof FdrEvent>;

export type ParseFdrEventResult = { ok: true; event: FdrEvent } | { ok: false; reason: string };

/** Validates a whole FDR event; on failure the reason names every failing path. */
export function parseFdrEvent(raw: unknown): ParseFdrEventResult {
  const parsed = v.safeParse(FdrEvent, raw);
  if (!parsed.success) {
    return { ok: false, reason: describeIssues(parsed.issues) };
  }
  return { ok: true, event: parsed.output };
}
