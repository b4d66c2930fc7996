/**
 * Decides which of the nine FDR reasons an event is about. The courier aggregator's (ClickPost)
 * `ndr_status_code` decides first; free text (the NDR description, then the remarks) is the
 * fallback. An event whose reason stays undecided gets no message: a wrong-reason WhatsApp to a
 * customer is worse than none.
 *
 * The texts are the courier's, of any length: each is cut to its first KiB before any pattern
 * runs on it (src/match-limit.ts), and no pattern here can backtrack over a run of text more
 * than once (no two adjacent quantifiers that match the same characters).
 */
import { cutForSearch } from '../match-limit.ts';
import type { FdrEvent } from './event.ts';
import type { FdrReason } from './reasons.ts';

/**
 * ClickPost `ndr_status_code` → reason. Codes missing here are deliberately unmapped:
 * 0 Unknown Exception, 4 No Attempt, 9 Order Already Cancelled, 11 Shipment Seized By Customer,
 * 13 Shipment Misrouted by Logistics Partner.
 */
const NDR_CODE_REASONS: ReadonlyMap<number, FdrReason> = new Map([
  [1, 'customer_unavailable'],
  [2, 'rejected_by_customer'],
  [3, 'delivery_rescheduled'],
  [5, 'customer_unreachable'],
  [6, 'address_issue'],
  [7, 'payment_issue'],
  [8, 'oda'],
  [10, 'oda'], // Self Collect: the customer must fetch the parcel, closest to "not serviceable".
  [12, 'open_delivery'],
  [14, 'otp_cancellation'],
]);

/**
 * Codes that say the failure was not the customer's doing (courier did not attempt, order already
 * cancelled, seized, misrouted). For these, the remark text must not overrule ClickPost.
 */
const NON_CUSTOMER_NDR_CODES: ReadonlySet<number> = new Set([4, 9, 11, 13]);

/** Longer code text than this is no ClickPost code; it is not matched at all. */
const MAX_CODE_TEXT = 16;

function readNdrCode(code: number | string | null | undefined): number | null {
  if (typeof code === 'number') {
    return Number.isInteger(code) ? code : null;
  }
  if (typeof code === 'string' && code.length <= MAX_CODE_TEXT && /^\s*\d+\s*$/.test(code)) {
    return Number(code);
  }
  return null;
}

/** Maps a ClickPost `ndr_status_code` (number or numeric string) to a reason, or null. */
export function reasonFromNdrCode(code: number | string | null | undefined): FdrReason | null {
  const n = readNdrCode(code);
  return n === null ? null : (NDR_CODE_REASONS.get(n) ?? null);
}

/**
 * Keyword rules, tried in order; the first match wins. The order matters:
 * - OTP cancellation first: "code verified cancellation" contains "cod", which must not read as
 *   cash on delivery, and "OTP-based cancellation" must not fall through to anything else.
 * - Then texts that are not an FDR reason at all (OTP mismatch, not attempted, misrouted,
 *   seized, an order already cancelled): null, before "OTP … unavailable" reads as the customer.
 * - Open delivery and ODA before "refused" and "address": "refused open delivery" is about open
 *   delivery, "out of delivery area" and "self collect" are about the area, not the address.
 * - "address" and payment words are the most generic, so they come last.
 *
 * Separators are `[\s-]*` or `[\s-]+` between words, never two such runs side by side: "otp",
 * a run of spaces and no "cancel" would otherwise be tried at every split of the run (quadratic
 * in its length). The optional word sits inside the group with its own separator instead.
 */
export const TEXT_RULES: readonly { pattern: RegExp; reason: FdrReason | null }[] = [
  {
    pattern: /\b(?:otp|code)[\s-]*(?:(?:verified|based)[\s-]*)?cancel|verified[\s-]+cancel/,
    reason: 'otp_cancellation',
  },
  {
    pattern:
      /\botp\b|not[\s-]+attempted|no[\s-]+attempt|misrout|seized|already[\s-]+cancel|order[\s-]+cancelled/,
    reason: null,
  },
  { pattern: /open[\s-]+delivery/, reason: 'open_delivery' },
  {
    pattern:
      /out[\s-]+of[\s-]+delivery[\s-]+area|\boda\b|self[\s-]+collect|\b(non|not)[\s-]*serviceable/,
    reason: 'oda',
  },
  {
    pattern: /unreachable|not[\s-]+reachable|switched[\s-]+off|not[\s-]+answering/,
    reason: 'customer_unreachable',
  },
  {
    pattern: /unavailable|not[\s-]+available|door[\s-]+locked/,
    reason: 'customer_unavailable',
  },
  {
    pattern: /refus|reject|does[\s-]*n[o']t[\s-]+want/,
    reason: 'rejected_by_customer',
  },
  { pattern: /reschedul|future[\s-]+delivery/, reason: 'delivery_rescheduled' },
  {
    pattern: /address|shifted|incomplete|wrong[\s-]+pin[\s-]*code/,
    reason: 'address_issue',
  },
  { pattern: /payment|cash[\s-]+not[\s-]+ready|\bcod\b/, reason: 'payment_issue' },
];

/**
 * Reads a reason from a courier's free text (NDR description or remark), or null. Only the first
 * KiB is read: the text is cut before matching.
 */
export function reasonFromText(text: string): FdrReason | null {
  const lower = cutForSearch(text).toLowerCase();
  for (const rule of TEXT_RULES) {
    if (rule.pattern.test(lower)) {
      return rule.reason;
    }
  }
  return null;
}

export type DecidedReason = { reason: FdrReason; source: 'ndr_code' | 'text' };

/**
 * The event's reason: ClickPost's code first, then its description, then the remarks (latest
 * status, track data, shipment). A code that says the customer was not at fault (4, 9, 11, 13)
 * ends the search with null: a remark cannot overrule it.
 */
export function decideReason(event: FdrEvent): DecidedReason | null {
  const data = event.response_data;
  const track = data.track_payload?.clickPostTrackData;
  const additional = track?.additional;

  const fromCode = reasonFromNdrCode(additional?.ndr_status_code);
  if (fromCode) {
    return { reason: fromCode, source: 'ndr_code' };
  }
  const code = readNdrCode(additional?.ndr_status_code);
  if (code !== null && NON_CUSTOMER_NDR_CODES.has(code)) {
    return null;
  }

  const texts = [
    additional?.ndr_status_description,
    additional?.latest_status?.remark,
    track?.remark,
    data.remarks,
  ];
  for (const text of texts) {
    const reason = text ? reasonFromText(text) : null;
    if (reason) {
      return { reason, source: 'text' };
    }
  }
  return null;
}
