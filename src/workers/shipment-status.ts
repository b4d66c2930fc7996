/**
 * `shipment.status`: applies a later status event of a shipment to its latest failed-delivery
 * attempt's outcome (`whatsapp_attempt_outcomes`). Enqueued by the Pub/Sub ingress
 * (src/pubsub/ingest.ts) only for shipments that have an outcome row; enqueues nothing but the
 * timeline entry's `activity.emit`.
 *
 * - `delivered` closes the attempt as delivered (a rescue, when it was messaged), `rto_initiated`
 *   and `rto_delivered` as rto, `cancelled` as cancelled: only an attempt still open is closed,
 *   so an older event arriving after a later one, or the same event again, changes nothing. The
 *   outcome goes on the timeline (`whatsapp_outcome`) and is counted in
 *   `whatsapp_outcomes_total{stage}` (`shipment_delivered`, `rto`, `cancelled`).
 * - `out_for_delivery` keeps the latest out-for-delivery time after the failure, which the
 *   chosen-date check reads (src/outcomes/chosen-dates.ts).
 *
 * An event from before the attempt failed speaks of an earlier attempt and changes nothing.
 */
import { recordActivity } from '../activity.ts';
import {
  closeAttemptOutcome,
  findLatestAttemptOutcome,
  markOutForDelivery,
  type FinalOutcome,
} from '../db/outcomes.ts';
import { reachStage, type OutcomeDeps, type OutcomeStage } from '../outcomes/attempts.ts';
import type { JobHandler } from '../queues/index.ts';
import type { ShipmentStatus } from '../queues/shipment-status.ts';

type Closing = Exclude<ShipmentStatus, 'out_for_delivery'>;

const OUTCOME_OF: Record<Closing, { outcome: FinalOutcome; stage: OutcomeStage }> = {
  delivered: { outcome: 'delivered', stage: 'shipment_delivered' },
  rto_initiated: { outcome: 'rto', stage: 'rto' },
  rto_delivered: { outcome: 'rto', stage: 'rto' },
  cancelled: { outcome: 'cancelled', stage: 'cancelled' },
};

const TITLES: Record<FinalOutcome, string> = {
  delivered: 'Delivered after the failed delivery',
  failed_again: 'Delivery failed again',
  rto: 'Returned to origin after the failed delivery',
  cancelled: 'Cancelled after the failed delivery',
};

export function processShipmentStatus(
  deps: Omit<OutcomeDeps, 'config'>,
): JobHandler<'shipment.status'> {
  const { db, log } = deps;
  return async ({ shipmentId, status, at }) => {
    const row = await findLatestAttemptOutcome(db, shipmentId);
    if (!row) {
      return { status: 'no_attempt' };
    }
    const time = new Date(at);
    if (time < row.failedAt) {
      return { status: 'before_attempt', attempt: row.attempt };
    }
    if (status === 'out_for_delivery') {
      const moved = await markOutForDelivery(db, shipmentId, row.attempt, time);
      return { status: moved ? 'out_for_delivery' : 'unchanged', attempt: row.attempt };
    }
    const { outcome, stage } = OUTCOME_OF[status];
    const closed = await reachStage(
      deps,
      stage,
      closeAttemptOutcome(db, shipmentId, row.attempt, { outcome, status, at: time }),
    );
    if (!closed) {
      return { status: 'unchanged', attempt: row.attempt, outcome: row.outcome };
    }
    await recordActivity(deps, {
      key: `outcome-${shipmentId}-${row.attempt}`,
      shipmentId,
      accountId: row.accountId,
      kind: 'whatsapp_outcome',
      title: `${TITLES[outcome]} (attempt ${row.attempt})`,
      details: { attempt: row.attempt, outcome, status, messaged: row.messaged === 1 },
      occurredAt: time,
    });
    log.info({ shipmentId, attempt: row.attempt, outcome, status }, 'attempt outcome recorded');
    return { status: 'closed', attempt: row.attempt, outcome };
  };
}
