/** `dlr.process`: one Gupshup delivery report, enqueued by the Gupshup webhook. */
import * as v from 'valibot';

import { defaultWorkerOptions, type QueueDefinition } from './definition.ts';

export const DlrProcessPayload = v.object({ webhookEventId: v.pipe(v.number(), v.integer()) });
export type DlrProcessPayload = v.InferOutput<typeof DlrProcessPayload>;

export const dlrProcess = {
  name: 'dlr.process',
  payload: DlrProcessPayload,
  jobId: (p: DlrProcessPayload) => `dlr-event-${p.webhookEventId}`,
  options: () => ({
    attempts: 8,
    backoff: { type: 'exponential', delay: 1_000 },
    removeOnComplete: { age: 600, count: 1_000 },
  }),
  worker: defaultWorkerOptions,
} satisfies QueueDefinition<DlrProcessPayload>;
