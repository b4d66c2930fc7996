/** The spec's own payloads, and variants built from them for tests. */
import { readFileSync } from 'node:fs';

export function readFixture<T = unknown>(name: string): T {
  return JSON.parse(readFileSync(new URL(`../fixtures/${name}`, import.meta.url), 'utf8')) as T;
}

type Json = Record<string, unknown>;

/**
 * The seed FDR event, optionally for another shipment, attempt, account or number, another
 * ClickPost NDR code (the reason: 5 customer unreachable, 6 address issue, 2 refused, 14 OTP
 * cancellation), courier or failure time (the WMS's local `YYYY-MM-DD HH:MM:SS`).
 */
export function fdrEvent(
  changes: {
    shipmentId?: string;
    attempt?: number;
    accountId?: number;
    phone?: string;
    ndrCode?: number;
    courier?: string;
    failedAt?: string;
  } = {},
): Json {
  const event = readFixture<Json>('fdr-event.json');
  const data = event.response_data as Json;
  if (changes.ndrCode !== undefined) {
    const track = (data.track_payload as Json).clickPostTrackData as Json;
    const additional = track.additional as Json;
    additional.ndr_status_code = changes.ndrCode;
    additional.ndr_status_description = null;
  }
  if (changes.courier !== undefined) {
    data.courierName = changes.courier;
  }
  if (changes.failedAt !== undefined) {
    data.status_updated_at = changes.failedAt;
    (data.status_log as Json).failed_delivery = changes.failedAt;
  }
  if (changes.shipmentId) {
    data.externalShipmentID = changes.shipmentId;
  }
  if (changes.attempt !== undefined) {
    (data.status_log_count as Json).failed_delivery = changes.attempt;
  }
  if (changes.phone) {
    data.customerContactNumber = changes.phone;
    (data.shippingAddress as Json).contactPhone = changes.phone;
  }
  if (changes.accountId !== undefined) {
    data.account_id = changes.accountId;
  }
  return event;
}

/** Personal data of the fixtures, which no log line may contain. */
export const SEED_PERSONAL_DATA = [
  '7891971009',
  '917891971009',
  '9650186697',
  '919650186697',
  'Sadafal kunj',
  'Arjun club road',
  'Aman Verma',
  'Amitv12330@gmail.com',
  // The customer's WhatsApp profile name in the seed's replies.
  'Lakshay',
];

/**
 * A later status event of a shipment (delivered, rto_initiated, cancelled, out_for_delivery, …)
 * in the FDR event's shape: `eventSubType` and `response_data.status` say it, its time is the
 * WMS's local `YYYY-MM-DD HH:MM:SS` in `status_updated_at` and `status_log[status]`.
 */
export function statusEvent(shipmentId: string, status: string, at: string): Json {
  const event = readFixture<Json>('fdr-event.json');
  event.eventSubType = status;
  const data = event.response_data as Json;
  data.externalShipmentID = shipmentId;
  data.status = status;
  data.status_updated_at = at;
  data.status_log = { ...(data.status_log as Json), [status]: at };
  return event;
}
