/**
 * `fdr.validate`: one FDR event, already recorded in `fdr_inbox`. Enqueued by the Pub/Sub
 * ingress (pull or push) and by the sweeper; the job carries only the inbox row id.
 */
import * as v from 'valibot';

import { defaultWorkerOptions, type QueueDefinition } from './definition.ts';

export const FdrValidatePayload = v.object({ inboxId: v.pipe(v.number(), v.integer()) });
export type FdrValidatePayload = v.InferOutput<typeof FdrValidatePayload>;

export const fdrValidate = {
  name: 'fdr.validate',
  payload: FdrValidatePayload,
  jobId: (p: FdrValidatePayload) => `fdr-inbox-${p.inboxId}`,
  options: () => ({
    attempts: 8,
    backoff: { type: 'exponential', delay: 1_000 },
    removeOnComplete: { age: 3_600, count: 1_000 },
  }),
  worker: defaultWorkerOptions,
} satisfies QueueDefinition<FdrValidatePayload>;
