/**
 * `shipment.status`: a later status event of a shipment the service decided on (delivered, RTO,
 * cancelled, out for delivery), enqueued by the Pub/Sub ingress (src/pubsub/ingest.ts) for
 * `src/workers/shipment-status.ts` to apply to the shipment's latest attempt. The job carries the
 * shipment id, the status and its time only; its id is made of the three, so a redelivered event
 * adds nothing.
 */
import * as v from 'valibot';

import { SHIPMENT_ID } from '../fdr/event.ts';
import { defaultWorkerOptions, type QueueDefinition } from './definition.ts';

/** The shipment statuses taken in after a failed delivery. */
export const SHIPMENT_STATUSES = [
  'delivered',
  'rto_initiated',
  'rto_delivered',
  'cancelled',
  'out_for_delivery',
] as const;
export type ShipmentStatus = (typeof SHIPMENT_STATUSES)[number];

export const ShipmentStatusPayload = v.object({
  shipmentId: v.pipe(v.string(), v.regex(SHIPMENT_ID)),
  status: v.picklist(SHIPMENT_STATUSES),
  /** When the status was reached, epoch ms. */
  at: v.pipe(v.number(), v.integer(), v.minValue(0)),
});
export type ShipmentStatusPayload = v.InferOutput<typeof ShipmentStatusPayload>;

export const shipmentStatus = {
  name: 'shipment.status',
  payload: ShipmentStatusPayload,
  jobId: (p: ShipmentStatusPayload) => `status-${p.shipmentId}-${p.status}-${p.at}`,
  options: () => ({
    attempts: 8,
    backoff: { type: 'exponential', delay: 1_000 },
    removeOnComplete: { age: 600, count: 1_000 },
  }),
  worker: defaultWorkerOptions,
} satisfies QueueDefinition<ShipmentStatusPayload>;
