/**
 * `activity.emit`: publish one timeline entry (already stored in `shipment_activity` by the step
 * that happened) to the activity topic. Enqueued by every worker that records activity.
 */
import * as v from 'valibot';

import { defaultWorkerOptions, type QueueDefinition } from './definition.ts';

export const ActivityEmitPayload = v.object({ activityId: v.pipe(v.number(), v.integer()) });
export type ActivityEmitPayload = v.InferOutput<typeof ActivityEmitPayload>;

export const activityEmit = {
  name: 'activity.emit',
  payload: ActivityEmitPayload,
  jobId: (p: ActivityEmitPayload) => `activity-${p.activityId}`,
  options: () => ({
    attempts: 10,
    backoff: { type: 'exponential', delay: 1_000 },
    removeOnComplete: { age: 600, count: 100 },
  }),
  worker: defaultWorkerOptions,
} satisfies QueueDefinition<ActivityEmitPayload>;
