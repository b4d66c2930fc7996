/**
 * Job data is parsed once, by the worker runner, against the queue's schema: on real Redis and
 * MySQL, a job of every queue whose data fails its schema fails at once and for good (one attempt,
 * `job data is invalid`), while a valid job of the same queue still runs.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { QUEUE_NAMES } from '../../src/queues/index.ts';
import { startService, type Service } from '../../src/service.ts';
import { createTestEnv, waitFor } from '../helpers/env.ts';

const env = createTestEnv('jobpayload');
let service: Service;

beforeAll(async () => {
  service = await startService(env.config(), ['worker']);
});

afterAll(async () => {
  await service?.close();
  await env.dropDatabase();
});

describe('a job whose data fails its queue schema', () => {
  it.each(QUEUE_NAMES)('%s: fails on its first attempt, not retried', async (name) => {
    const queue = service.deps.queues[name];
    // Added around the catalog's `enqueue`, which would refuse it: as a foreign producer might.
    const job = await queue.add(name, { outboxId: 'one' } as never, {
      jobId: `bad-${name}`,
      attempts: 5,
    });
    const failed = await waitFor(
      async () => {
        const state = await queue.getJobState(job.id!);
        return state === 'failed' ? queue.getJob(job.id!) : null;
      },
      { what: `${name} job to fail` },
    );
    expect(failed.failedReason).toContain(`${name} job data is invalid`);
    expect(failed.attemptsMade).toBe(1);
  });

  it('leaves valid jobs of the queue to their handler', async () => {
    // fdr.validate for an inbox row that does not exist: the handler itself fails it for good.
    const queue = service.deps.queues['fdr.validate'];
    const job = await queue.add(
      'fdr.validate',
      { inboxId: 987_654 },
      {
        jobId: 'fdr-inbox-987654',
      },
    );
    const failed = await waitFor(
      async () => ((await queue.getJobState(job.id!)) === 'failed' ? queue.getJob(job.id!) : null),
      { what: 'fdr.validate job to fail' },
    );
    expect(failed.failedReason).toContain('fdr_inbox row 987654 does not exist');
  });
});
