/**
 * `activity.emit`: publishes one stored timeline entry to ACTIVITY_TOPIC and marks it published.
 * Enqueued by every step that records activity (and by the sweeper for entries whose job was
 * lost). Publishing twice is possible if the process dies between publish and mark; consumers
 * dedupe on the entry's `id`.
 */
import type { Processor } from 'bullmq';

import type { Db } from '../db/client.ts';
import { findActivity, markActivityPublished } from '../db/activity.ts';
import type { Log } from '../log.ts';
import type { ActivityPublisher } from '../pubsub/activity.ts';
import { parsePayload } from '../queues/index.ts';

export function processActivityEmit(deps: {
  db: Db;
  publisher: ActivityPublisher;
  log: Log;
}): Processor {
  return async (job) => {
    const { activityId } = parsePayload('activity.emit', job.data);
    const row = await findActivity(deps.db, activityId);
    if (!row) {
      return { status: 'missing' };
    }
    if (row.publishedAt) {
      return { status: 'already_published' };
    }
    const pubsubMessageId = await deps.publisher.publish(row);
    await markActivityPublished(deps.db, activityId);
    deps.log.debug(
      { activityId, shipmentId: row.shipmentId, kind: row.kind, pubsubMessageId },
      'activity published',
    );
    return { status: 'published', pubsubMessageId };
  };
}
