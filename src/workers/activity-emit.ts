/**
 * `activity.emit`: publishes stored timeline entries to ACTIVITY_TOPIC and marks them published,
 * a batch per pass, while passes come back full (src/activity.ts says when a job is added and why
 * none is missed). Publishing twice is possible if the process dies between publish and mark;
 * consumers dedupe on the entry's `id`.
 */

import { activityPendingKey } from '../activity.ts';
import type { Db } from '../db/client.ts';
import { publishUnpublishedActivity } from '../db/activity.ts';
import type { Log } from '../log.ts';
import type { ActivityPublisher } from '../pubsub/activity.ts';
import { queuesRedis, type JobHandler, type Queues } from '../queues/index.ts';

/** Entries per pass (one transaction, one batch of Pub/Sub publishes). */
const BATCH = 500;

export function processActivityEmit(deps: {
  db: Db;
  queues: Queues;
  publisher: ActivityPublisher;
  log: Log;
}): JobHandler<'activity.emit'> {
  return async ({ activityId }) => {
    const redis = queuesRedis(deps.queues);
    const pending = activityPendingKey(deps.queues);
    let published = 0;
    for (;;) {
      // Cleared before the pass: an entry stored after this finds it clear and adds a job of
      // its own, so the job need not look again for entries that come while it runs.
      await redis.del(pending);
      const n = await publishUnpublishedActivity(deps.db, BATCH, async (rows) => {
        await Promise.all(rows.map((row) => deps.publisher.publish(row)));
      });
      published += n;
      if (n < BATCH) {
        break;
      }
    }
    deps.log.debug({ activityId, published }, 'activity published');
    return { status: 'published', published };
  };
}
