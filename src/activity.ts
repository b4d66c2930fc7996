/**
 * Records one step on a shipment's timeline and hands it to `activity.emit` for publishing.
 * The row is written first (keyed, so a retried step records nothing twice); the job carries
 * only an id, never the names and numbers the entry holds.
 *
 * Entries are published in batches, not a job each: a burst of entries makes one
 * `activity.emit` job, which publishes every unpublished entry it finds. A Redis flag says that
 * entries are waiting: each new entry sets it, and only the entry that found it clear adds a job
 * (keyed by that entry's id), delayed by ACTIVITY_PUBLISH_DELAY_MS so the rest of the burst
 * lands before it runs. The job clears the flag before its pass over the table, so an entry
 * stored before the clear is seen by that pass (it was committed before it set the flag) and one
 * stored after finds the flag clear and adds a job of its own. If the flag outlives its job
 * (Redis lost the job), the sweeper adds one for entries left unpublished.
 */
import { insertActivity, type ActivityEntry } from './db/activity.ts';
import type { Db } from './db/client.ts';
import { enqueue, queuesRedis, type Queues } from './queues/index.ts';

export async function recordActivity(
  deps: { db: Db; queues: Queues },
  entry: ActivityEntry,
): Promise<number> {
  const activityId = await insertActivity(deps.db, entry);
  await publishActivity(deps.queues, activityId);
  return activityId;
}

/** The flag saying entries are waiting for `activity.emit`. */
export function activityPendingKey(queues: Queues): string {
  return `${queues['activity.emit'].opts.prefix ?? 'bull'}:activity-pending`;
}

/**
 * Asks `activity.emit` to publish an entry already stored, e.g. one written inside a step's own
 * transaction: adds a job unless one is already due to run. If this is lost, the sweeper finds
 * the unpublished row and asks again.
 */
export async function publishActivity(queues: Queues, activityId: number): Promise<void> {
  const redis = queuesRedis(queues);
  const before = await redis.set(activityPendingKey(queues), '1', 'GET');
  if (before === null) {
    await enqueue(queues, 'activity.emit', { activityId });
  }
}
