/**
 * `reply.route`: one inbound customer message. Stage `receive` is enqueued by the Gupshup
 * webhook; stage `act` by `reply.route` itself, delayed by the settle window.
 */
import * as v from 'valibot';

import { defaultWorkerOptions, type QueueDefinition } from './definition.ts';

export const ReplyRoutePayload = v.object({
  webhookEventId: v.pipe(v.number(), v.integer()),
  stage: v.optional(v.picklist(['receive', 'act'])),
});
export type ReplyRoutePayload = v.InferOutput<typeof ReplyRoutePayload>;

export const replyRoute = {
  name: 'reply.route',
  payload: ReplyRoutePayload,
  jobId: (p: ReplyRoutePayload) =>
    p.stage === 'act' ? `reply-act-${p.webhookEventId}` : `reply-event-${p.webhookEventId}`,
  options: () => ({
    attempts: 8,
    backoff: { type: 'exponential', delay: 1_000 },
    removeOnComplete: { age: 3_600, count: 1_000 },
  }),
  worker: defaultWorkerOptions,
} satisfies QueueDefinition<ReplyRoutePayload>;
