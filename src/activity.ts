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
  await enqueue(deps.queues, 'activity.emit', { activityId });
  return activityId;
}
