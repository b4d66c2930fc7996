/**
 * Delivery report codes as data, and the forward-only status rule applied to
 * `whatsapp_status_logs.status`. Used by the `dlr.process` worker.
 *
 * The code table is the seed's (DESIGN.md "Delivery report codes"). Only 000, 025 and 026 are
 * confirmed outside the seed, so an unknown enterprise code is FAILED with `known: false`, and
 * the worker keeps the raw code and cause in `remarks`.
 *
 * Reports arrive duplicated and out of order (facts §2.5), so the status only moves forward:
 * SUBMITTED < SENT < DELIVERED < READ, and FAILED applies only while nothing at or beyond
 * DELIVERED has been seen. A DELIVERED or READ after FAILED still applies: WhatsApp can fail on
 * one device and deliver on another.
 */
import type { DeliveryReport } from '../webhook/events.ts';

export type DlrStatus = 'SENT' | 'DELIVERED' | 'READ' | 'FAILED';

export interface DlrCode {
  /** Three digits, leading zeros kept. */
  code: string;
  cause: string;
  status: DlrStatus;
}

/** The seed's table: errorCode → cause → status. */
export const DLR_CODES: readonly DlrCode[] = [
  { code: '000', cause: 'SUCCESS', status: 'DELIVERED' },
  { code: '025', cause: 'SENT', status: 'SENT' },
  { code: '026', cause: 'READ', status: 'READ' },
  { code: '020', cause: 'OTHER', status: 'FAILED' },
  { code: '003', cause: 'UNKNOWN_SUBSCRIBER', status: 'FAILED' },
  { code: '010', cause: 'DEFERRED', status: 'FAILED' },
  { code: '022', cause: 'BLOCKED_FOR_USER', status: 'FAILED' },
  { code: '101', cause: '24 Hour exceeded', status: 'FAILED' },
];

const BY_CODE = new Map(DLR_CODES.map((c) => [c.code, c]));

const EVENT_TYPES: ReadonlySet<string> = new Set<DlrStatus>([
  'SENT',
  'DELIVERED',
  'READ',
  'FAILED',
]);

/**
 * v2 and v3 event types that say nothing about delivery: `ENQUEUED` means Gupshup accepted the
 * message, which the SUBMITTED row already records; `DELETED` is the customer deleting it;
 * `MISMATCH` is a notice Gupshup lists beside enqueued and failed, about the message rather than
 * its delivery.
 */
const NON_STATUS_EVENT_TYPES: ReadonlySet<string> = new Set(['ENQUEUED', 'DELETED', 'MISMATCH']);

/**
 * The status a report stands for, or null when it stands for none (`ENQUEUED`, `DELETED`,
 * `MISMATCH` in v2 and v3).
 *
 * Enterprise reports map by `errorCode` first (the seed's table), then by `eventType`; an unknown
 * code, or no code and an unknown event type, is FAILED with `known: false`. v2 and v3 reports
 * map by `eventType` only: their codes (Gupshup's 1002, 4005, …; Meta's 131047, …) are other
 * numberings that are not ours to read as the enterprise table; they stay in the report (and in
 * `remarks`) as information.
 */
export function statusOf(report: DeliveryReport): { status: DlrStatus; known: boolean } | null {
  const eventType = report.eventType.toUpperCase();
  if (report.source === 'v2' || report.source === 'v3') {
    if (NON_STATUS_EVENT_TYPES.has(eventType)) {
      return null;
    }
    return EVENT_TYPES.has(eventType)
      ? { status: eventType as DlrStatus, known: true }
      : { status: 'FAILED', known: false };
  }
  if (report.errorCode !== null) {
    const entry = BY_CODE.get(report.errorCode);
    return entry ? { status: entry.status, known: true } : { status: 'FAILED', known: false };
  }
  return EVENT_TYPES.has(eventType)
    ? { status: eventType as DlrStatus, known: true }
    : { status: 'FAILED', known: false };
}

/** Rank of the forward-moving statuses; SUBMITTED is what `message.send` stores. */
const RANK = { SUBMITTED: 0, SENT: 1, DELIVERED: 2, READ: 3 } as const;

/** Rank of a stored status; anything unrecognised counts as not yet reported on. */
function rankOf(status: string): number {
  return (RANK as Readonly<Record<string, number>>)[status] ?? 0;
}

/**
 * The status the row moves to when `incoming` arrives while it is `current`, or null when
 * nothing changes (a duplicate, a late report, a FAILED after delivery).
 */
export function nextStatus(current: string, incoming: DlrStatus): DlrStatus | null {
  if (incoming === 'FAILED') {
    return current !== 'FAILED' && rankOf(current) < RANK.DELIVERED ? 'FAILED' : null;
  }
  if (current === 'FAILED') {
    // A late SENT is older news than the failure; a DELIVERED or READ proves the failure wrong.
    return rankOf(incoming) >= RANK.DELIVERED ? incoming : null;
  }
  return rankOf(incoming) > rankOf(current) ? incoming : null;
}
