/**
 * FDR ingress, shared by the Pub/Sub pull subscriber and the push endpoint. An event is taken in
 * only once it is recorded in `fdr_inbox` (MySQL) and its `fdr.validate` job is in Redis; any
 * error escapes to the caller, which then nacks (pull) or answers 503 (push) so Pub/Sub
 * redelivers. Events that are not FDRs are acknowledged and ignored, except the later statuses
 * of a shipment the service decided on (delivered, RTO, cancelled, out for delivery:
 * src/outcomes/status-event.ts), which are queued for `shipment.status`; those of other
 * shipments are acknowledged with nothing stored.
 *
 * An FDR event that no redelivery can fix — not JSON, or without a shipment id, attempt or
 * account id within bounds (src/fdr/event.ts) — is acknowledged too, once it is recorded: an
 * `fdr_inbox` row already `skipped` with reason `invalid_event: …`, as `fdr.validate` records an
 * event it cannot read, under a key of its own (a hash of the message), so a redelivery records
 * nothing twice. `whatsapp_fdr_events_total` counts every outcome.
 */
import { createHash } from 'node:crypto';

import type { Config } from '../config.ts';
import type { Db } from '../db/client.ts';
import { hasAttemptOutcome } from '../db/outcomes.ts';
import { inboxInserts, recordInvalidInboxEvent } from '../db/inbox.ts';
import { inGroup, type WriteBatcher } from '../db/write-batcher.ts';
import { readFdrHeader } from '../fdr/event.ts';
import type { Log } from '../log.ts';
import type { Metrics } from '../metrics.ts';
import { readStatusEvent, type StatusEvent } from '../outcomes/status-event.ts';
import { enqueue, type Queues } from '../queues/index.ts';
import type { ShipmentStatus } from '../queues/shipment-status.ts';

export type IngestResult =
  | { status: 'ignored'; reason: string }
  | { status: 'status'; shipmentId: string; shipmentStatus: ShipmentStatus }
  | { status: 'rejected'; reason: string }
  | { status: 'accepted'; inboxId: number; duplicate: boolean };

interface Deps {
  config: Pick<Config, 'OUTCOME_TIME_ZONE'>;
  db: Db;
  /** When given, the inbox insert commits with the concurrent messages' (group commit). */
  writes?: WriteBatcher;
  queues: Queues;
  metrics: Pick<Metrics, 'fdrEvents'>;
  log: Log;
}

/** `fdr_inbox.pubsub_message_id`'s length. Pub/Sub's ids are far shorter. */
const MAX_PUBSUB_MESSAGE_ID = 128;

export async function ingestFdrMessage(
  deps: Deps,
  data: Buffer,
  pubsubMessageId: string | null,
): Promise<IngestResult> {
  const { db, queues, metrics, log } = deps;
  // Information only: an id that does not fit its column is not kept rather than kept cut.
  const messageId =
    pubsubMessageId !== null && pubsubMessageId.length <= MAX_PUBSUB_MESSAGE_ID
      ? pubsubMessageId
      : null;
  let raw: unknown;
  try {
    raw = JSON.parse(data.toString('utf8'));
  } catch {
    return rejectInvalid(deps, data, messageId, 'message data is not JSON');
  }
  const header = readFdrHeader(raw);
  if (header.kind === 'not_fdr') {
    const statusEvent = readStatusEvent(raw, deps.config.OUTCOME_TIME_ZONE, new Date());
    if (statusEvent) {
      return ingestStatusEvent(deps, statusEvent, messageId);
    }
    metrics.fdrEvents.inc({ outcome: 'ignored' });
    return { status: 'ignored', reason: 'not a shipment failed_delivery event' };
  }
  if (header.kind === 'invalid') {
    return rejectInvalid(deps, data, messageId, header.reason);
  }
  const event = {
    shipmentId: header.shipmentId,
    attempt: header.attempt,
    accountId: header.accountId,
    pubsubMessageId: messageId,
    payload: JSON.stringify(raw),
  };
  // With the other messages of the moment: one multi-row insert, committed before the ack.
  const { created, ...row } = await inGroup(db, deps.writes, inboxInserts, event);
  // A redelivery of an event already validated changes nothing. One still waiting is enqueued
  // again: the job id makes that a no-op while the first job exists, and a repair if Redis lost it.
  if (created || row.status === 'received') {
    await enqueue(queues, 'fdr.validate', { inboxId: row.id });
  }
  metrics.fdrEvents.inc({ outcome: created ? 'accepted' : 'duplicate' });
  log.info(
    {
      pubsubMessageId: messageId,
      shipmentId: header.shipmentId,
      attempt: header.attempt,
      inboxId: row.id,
      duplicate: !created,
    },
    created ? 'FDR event recorded' : 'FDR event redelivered',
  );
  return { status: 'accepted', inboxId: row.id, duplicate: !created };
}

/**
 * A later status of a shipment: queued for `shipment.status` when the service decided on an
 * attempt of it, else acknowledged with nothing stored. The job id (shipment, status, time)
 * makes a redelivery a no-op.
 */
async function ingestStatusEvent(
  deps: Deps,
  event: StatusEvent,
  pubsubMessageId: string | null,
): Promise<IngestResult> {
  if (!(await hasAttemptOutcome(deps.db, event.shipmentId))) {
    deps.metrics.fdrEvents.inc({ outcome: 'status_ignored' });
    return { status: 'ignored', reason: `${event.status} of a shipment never decided on` };
  }
  await enqueue(deps.queues, 'shipment.status', {
    shipmentId: event.shipmentId,
    status: event.status,
    at: event.at.getTime(),
  });
  deps.metrics.fdrEvents.inc({ outcome: 'status' });
  deps.log.info(
    { pubsubMessageId, shipmentId: event.shipmentId, shipmentStatus: event.status },
    'shipment status event queued',
  );
  return { status: 'status', shipmentId: event.shipmentId, shipmentStatus: event.status };
}

/**
 * Records an FDR event no redelivery can fix, then lets the caller acknowledge it. The reason
 * names fields and what is wrong with them, never their values (src/fdr/event.ts).
 */
async function rejectInvalid(
  deps: Deps,
  data: Buffer,
  pubsubMessageId: string | null,
  reason: string,
): Promise<IngestResult> {
  const { id, created } = await recordInvalidInboxEvent(deps.db, {
    digest: createHash('sha256').update(data).digest('hex'),
    pubsubMessageId,
    payload: data.toString('utf8'),
    reason: `invalid_event: ${reason}`,
  });
  deps.metrics.fdrEvents.inc({ outcome: 'invalid' });
  deps.log.warn(
    { pubsubMessageId, inboxId: id, duplicate: !created, reason },
    'FDR event is invalid; recorded as skipped and acknowledged',
  );
  return { status: 'rejected', reason };
}
