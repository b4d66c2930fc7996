/**
 * FDR ingress, shared by the Pub/Sub pull subscriber and the push endpoint. An event is taken in
 * only once it is recorded in `fdr_inbox` (MySQL) and its `fdr.validate` job is in Redis; any
 * error escapes to the caller, which then nacks (pull) or answers 503 (push) so Pub/Sub
 * redelivers. Events that are not FDRs, or that no redelivery could fix, are acknowledged.
 */
import type { Db } from '../db/client.ts';
import { recordInboxEvent } from '../db/inbox.ts';
import { readFdrHeader } from '../fdr/event.ts';
import type { Log } from '../log.ts';
import { enqueue, type Queues } from '../queues/index.ts';

export type IngestResult =
  | { status: 'ignored'; reason: string }
  | { status: 'rejected'; reason: string }
  | { status: 'accepted'; inboxId: number; duplicate: boolean };

export async function ingestFdrMessage(
  deps: { db: Db; queues: Queues; log: Log },
  data: Buffer,
  pubsubMessageId: string | null,
): Promise<IngestResult> {
  const { db, queues, log } = deps;
  let raw: unknown;
  try {
    raw = JSON.parse(data.toString('utf8'));
  } catch {
    log.warn({ pubsubMessageId }, 'pubsub message is not JSON; acknowledged and dropped');
    return { status: 'rejected', reason: 'message data is not JSON' };
  }
  const header = readFdrHeader(raw);
  if (header.kind === 'not_fdr') {
    return { status: 'ignored', reason: 'not a shipment failed_delivery event' };
  }
  if (header.kind === 'invalid') {
    log.warn(
      { pubsubMessageId, reason: header.reason },
      'FDR event without a usable shipment key; acknowledged and dropped',
    );
    return { status: 'rejected', reason: header.reason };
  }
  const { row, created } = await recordInboxEvent(db, {
    shipmentId: header.shipmentId,
    attempt: header.attempt,
    accountId: header.accountId,
    pubsubMessageId,
    payload: JSON.stringify(raw),
  });
  // A redelivery of an event already validated changes nothing. One still waiting is enqueued
  // again: the job id makes that a no-op while the first job exists, and a repair if Redis lost it.
  if (created || row.status === 'received') {
    await enqueue(queues, 'fdr.validate', { inboxId: row.id });
  }
  log.info(
    {
      pubsubMessageId,
      shipmentId: header.shipmentId,
      attempt: header.attempt,
      inboxId: row.id,
      duplicate: !created,
    },
    created ? 'FDR event recorded' : 'FDR event redelivered',
  );
  return { status: 'accepted', inboxId: row.id, duplicate: !created };
}
