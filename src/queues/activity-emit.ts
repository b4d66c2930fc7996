/**
 * `activity.emit`: publish the timeline entries stored in `shipment_activity` (by the steps that
 * happened) to the activity topic. Enqueued by the first entry of a burst (src/activity.ts),
 * delayed by ACTIVITY_PUBLISH_DELAY_MS so that one pass publishes the whole burst.
 */
import * as v from 'valibot';

import { defaultWorkerOptions, type QueueDefinition } from './definition.ts';

export const ActivityEmitPayload = v.object({ activityId: v.pipe(v.number(), v.integer()) });
export type ActivityEmitPayload = v.InferOutput<typeof ActivityEmitPayload>;

export const activityEmit = {
  name: 'activity.emit',
  payload: ActivityEmitPayload,
  jobId: (p: ActivityEmitPayload) => `activity-${p.activityId}`,
  options: (config) => ({
    delay: config.ACTIVITY_PUBLISH_DELAY_MS,
    attempts: 10,
    backoff: { type: 'exponential', delay: 1_000 },
    removeOnComplete: { age: 600, count: 100 },
  }),
  worker: defaultWorkerOptions,
} satisfies QueueDefinition<ActivityEmitPayload>;
