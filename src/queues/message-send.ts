/**
 * `message.send`: one WhatsApp message, already recorded in `notification_outbox`. Enqueued by
 * `fdr.validate` (and later by reply handling and the sweeper); the job carries only the outbox
 * row id, never a phone number or a credential.
 */
import * as v from 'valibot';

import { defaultWorkerOptions, type QueueDefinition } from './definition.ts';

export const MessageSendPayload = v.object({ outboxId: v.pipe(v.number(), v.integer()) });
export type MessageSendPayload = v.InferOutput<typeof MessageSendPayload>;

export const messageSend = {
  name: 'message.send',
  payload: MessageSendPayload,
  jobId: (p: MessageSendPayload) => `send-outbox-${p.outboxId}`,
  options: (config) => ({
    attempts: config.MESSAGE_SEND_ATTEMPTS,
    backoff: { type: 'exponential', delay: config.MESSAGE_SEND_BACKOFF_MS },
    removeOnComplete: { age: 3_600, count: 5_000 },
  }),
  // Rate limited across all replicas (BullMQ's limiter lives in Redis) to GUPSHUP_MAX_PER_SECOND;
  // each sender account is paced on top of that (src/sender-pace.ts).
  worker: (config) => ({
    ...defaultWorkerOptions(config),
    limiter: { max: config.GUPSHUP_MAX_PER_SECOND, duration: 1_000 },
  }),
} satisfies QueueDefinition<MessageSendPayload>;
