/**
 * `no-reply.check`: the no-reply rule (seed edge case 3) for one FDR message, due `afterHours`
 * after it was sent. Enqueued, delayed, by `message.send` when the FDR template goes out, and by
 * the sweeper for a check MySQL (`whatsapp_no_reply_checks`) still holds as scheduled but whose
 * job Redis lost. The job id is the message's, so one message never gets two checks.
 */
import * as v from 'valibot';

import { defaultWorkerOptions, type QueueDefinition } from './definition.ts';

export const NoReplyCheckPayload = v.object({ outboxId: v.pipe(v.number(), v.integer()) });
export type NoReplyCheckPayload = v.InferOutput<typeof NoReplyCheckPayload>;

export const noReplyCheck = {
  name: 'no-reply.check',
  payload: NoReplyCheckPayload,
  jobId: (p: NoReplyCheckPayload) => `no-reply-${p.outboxId}`,
  // The WMS may be briefly down when the check is due: retry for about an hour and a half.
  options: () => ({
    attempts: 10,
    backoff: { type: 'exponential', delay: 5_000 },
    removeOnComplete: { age: 3_600, count: 1_000 },
  }),
  worker: defaultWorkerOptions,
} satisfies QueueDefinition<NoReplyCheckPayload>;
