import type { JobsOptions } from 'bullmq';
import type * as v from 'valibot';

import type { Config } from '../config.ts';

/** One queue of the catalog: its name, payload schema, job id and default job options. */
export interface QueueDefinition<P> {
  name: string;
  payload: v.GenericSchema<unknown, P>;
  /** Deterministic job id: never all digits, never containing ':'. */
  jobId(payload: P): string;
  options(config: Config): JobsOptions;
}
