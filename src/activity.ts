/**
 * Records one step on a shipment's timeline and hands it to `activity.emit` for publishing.
 * The row is written first (keyed, so a retried step records nothing twice); the job carries
 * only its id, never the names and numbers the entry holds.
 */
import { insertActivity, type ActivityEntry } from './db/activity.ts';
import type { Db } from './db/client.ts';
import { enqueue, type Queues } from './queues/index.ts';

export async function recordActivity(
  deps: { db: Db; queues: Queues },
  entry: ActivityEntry,
): Promise<number> {
  const activityId = await insertActivity(deps.db, entry);
  await publishActivity(deps.queues, activityId);
  return activityId;
}

/**
 * Asks `activity.emit` to publish an entry already stored, e.g. one written inside a step's own
 * transaction. If this is lost, the sweeper finds the unpublished row and asks again.
 */
export async function publishActivity(queues: Queues, activityId: number): Promise<void> {
  await enqueue(queues, 'activity.emit', { activityId });
}
