/**
 * The shipment behind a job. Jobs carry only row ids (never phone numbers), so the shipment id
 * comes from MySQL: the outbox row (`message.send`, `no-reply.check`), the inbox row (`fdr.validate`), the timeline
 * entry (`activity.emit`), the reply bound to the webhook event (`reply.route`) or the status row
 * the delivery report names (`dlr.process`). A `shipment.status` job names its shipment itself.
 */
import * as v from 'valibot';

import { activityShipments } from '../db/activity.ts';
import type { Db } from '../db/client.ts';
import { replyShipments } from '../db/conversations.ts';
import { inboxShipments } from '../db/inbox.ts';
import { outboxShipments, shipmentsByCorrelationKey } from '../db/outbox.ts';
import { shipmentsByMessageId } from '../db/status-logs.ts';
import { findWebhookEventPayloads } from '../db/webhook-events.ts';
import { CATALOG, type QueueName } from '../queues/index.ts';
import type { WebhookEvent } from '../webhook/events.ts';

/** The part of a job this module reads. */
export interface JobRef {
  id: string;
  data: unknown;
}

/** The row id a job's payload names, per job id (jobs with malformed data are left out). */
function rowIds(name: QueueName, jobs: readonly JobRef[]): Map<string, number> {
  const ids = new Map<string, number>();
  for (const job of jobs) {
    const parsed = v.safeParse(CATALOG[name].payload, job.data);
    if (!parsed.success) {
      continue;
    }
    const payload: Record<string, unknown> = parsed.output;
    const id = payload.outboxId ?? payload.inboxId ?? payload.activityId ?? payload.webhookEventId;
    if (typeof id === 'number') {
      ids.set(job.id, id);
    }
  }
  return ids;
}

/** Shipment id per job id; a job whose shipment cannot be found is absent from the map. */
export async function findJobShipments(
  db: Db,
  name: QueueName,
  jobs: readonly JobRef[],
): Promise<Map<string, string>> {
  if (name === 'shipment.status') {
    return ownShipments(name, jobs);
  }
  const ids = rowIds(name, jobs);
  const wanted = [...new Set(ids.values())];
  if (wanted.length === 0) {
    return new Map();
  }
  const byRow = await shipmentsByRowId(db, name, wanted);
  const out = new Map<string, string>();
  for (const [jobId, rowId] of ids) {
    const shipmentId = byRow.get(rowId);
    if (shipmentId !== undefined) {
      out.set(jobId, shipmentId);
    }
  }
  return out;
}

/** Jobs whose payload carries the shipment id. */
function ownShipments(name: QueueName, jobs: readonly JobRef[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const job of jobs) {
    const parsed = v.safeParse(CATALOG[name].payload, job.data);
    const shipmentId: unknown = parsed.success
      ? (parsed.output as Record<string, unknown>).shipmentId
      : undefined;
    if (typeof shipmentId === 'string') {
      out.set(job.id, shipmentId);
    }
  }
  return out;
}

async function shipmentsByRowId(
  db: Db,
  name: QueueName,
  ids: number[],
): Promise<Map<number, string>> {
  const toMap = (rows: { id: number; shipmentId: string }[]) =>
    new Map(rows.map((r) => [r.id, r.shipmentId]));
  switch (name) {
    case 'message.send':
    case 'no-reply.check':
      return toMap(await outboxShipments(db, ids));
    case 'fdr.validate':
      return toMap(await inboxShipments(db, ids));
    case 'activity.emit':
      return toMap(await activityShipments(db, ids));
    case 'reply.route':
      return toMap(await replyShipments(db, ids));
    case 'dlr.process':
      return reportShipments(db, ids);
    case 'shipment.status':
      return new Map();
  }
}

/**
 * A delivery report names our message by Gupshup id (`externalId`) or by the outbox row's
 * correlation key (`extra`); either leads to the shipment. Only the exact forms are tried here: this is a
 * listing aid, not the worker's full matching.
 */
async function reportShipments(db: Db, eventIds: number[]): Promise<Map<number, string>> {
  const events = await findWebhookEventPayloads(db, eventIds);
  const reports = new Map<number, { externalId: string; extra: string | null }>();
  for (const row of events) {
    try {
      const event = JSON.parse(row.payload) as WebhookEvent;
      if (event.kind === 'dlr') {
        reports.set(row.id, { externalId: event.report.externalId, extra: event.report.extra });
      }
    } catch {
      // A payload that is not JSON has no shipment to show; the job's own error says why.
    }
  }
  const externalIds = [...reports.values()].map((r) => r.externalId);
  const keys = [...reports.values()].flatMap((r) => (r.extra ? [r.extra] : []));
  const byMessageId = await shipmentsByMessageId(db, externalIds);
  const byKey = await shipmentsByCorrelationKey(db, keys);
  const out = new Map<number, string>();
  for (const [eventId, report] of reports) {
    const shipmentId =
      byMessageId.get(report.externalId) ?? (report.extra ? byKey.get(report.extra) : undefined);
    if (shipmentId !== undefined) {
      out.set(eventId, shipmentId);
    }
  }
  return out;
}
