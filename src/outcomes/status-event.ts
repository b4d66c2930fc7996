/**
 * The later status events of a shipment that the outcomes take in: the FDR feed's `shipment`
 * event shape with `eventSubType` (or, failing that, `response_data.status`) one of
 * SHIPMENT_STATUSES. Its time is `status_log.out_for_delivery` for an out-for-delivery (else
 * `status_updated_at`), `status_updated_at` for the others (else their `status_log` entry), read
 * in OUTCOME_TIME_ZONE (src/outcomes/attempts.ts `readWmsTime`), else when it was taken in.
 */
import { SHIPMENT_ID } from '../fdr/event.ts';
import { SHIPMENT_STATUSES, type ShipmentStatus } from '../queues/shipment-status.ts';
import { readWmsTime, shipmentData } from './attempts.ts';

export interface StatusEvent {
  shipmentId: string;
  status: ShipmentStatus;
  at: Date;
}

function isShipmentStatus(value: unknown): value is ShipmentStatus {
  return typeof value === 'string' && (SHIPMENT_STATUSES as readonly string[]).includes(value);
}

function field(value: unknown, key: string): unknown {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)[key]
    : undefined;
}

/**
 * The status event `raw` stands for, or null when it is none the outcomes take in (another
 * resource or status, or a shipment id no shipment of ours can have).
 */
export function readStatusEvent(raw: unknown, zone: string, now: Date): StatusEvent | null {
  if (field(raw, 'resource') !== 'shipment') {
    return null;
  }
  const data = shipmentData(raw);
  const subType = field(raw, 'eventSubType');
  const status = isShipmentStatus(subType) ? subType : data.status;
  if (!isShipmentStatus(status)) {
    return null;
  }
  const shipmentId =
    typeof data.externalShipmentID === 'string' ? data.externalShipmentID.trim() : '';
  if (!SHIPMENT_ID.test(shipmentId)) {
    return null;
  }
  const logged = readWmsTime(field(data.status_log, status), zone);
  const updated = readWmsTime(data.status_updated_at, zone);
  const at = (status === 'out_for_delivery' ? (logged ?? updated) : (updated ?? logged)) ?? now;
  return { shipmentId, status, at };
}
