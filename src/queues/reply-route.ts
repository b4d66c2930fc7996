/** `reply.route`: one inbound customer message, enqueued by the Gupshup webhook. */
import * as v from 'valibot';

import type { QueueDefinition } from './definition.ts';

export const ReplyRoutePayload = v.object({ webhookEventId: v.pipe(v.number(), v.integer()) });
export type ReplyRoutePayload = v.InferOutput<typeof ReplyRoutePayload>;

export const replyRoute = {
  name: 'reply.route',
  payload: ReplyRoutePayload,
  jobId: (p: ReplyRoutePayload) => `reply-event-${p.webhookEventId}`,
  options: () => ({ attempts: 8, backoff: { type: 'exponential', delay: 1_000 } }),
} satisfies QueueDefinition<ReplyRoutePayload>;
