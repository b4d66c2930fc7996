/**
 * Each queue's retention in Redis, as the README's Retention table states it: completed jobs kept
 * briefly (by age and count, per queue), failed ones a week. Queues are made without connecting.
 */
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';

import { loadConfig } from '../../src/config.ts';
import { closeQueues, createQueues, QUEUE_NAMES } from '../../src/queues/index.ts';

const redis = new Redis({ lazyConnect: true, port: 1 });
const queues = createQueues(
  redis,
  loadConfig({ NODE_ENV: 'test', DATABASE_URL: 'mysql://root@127.0.0.1:3306/x' }),
);

afterAll(async () => {
  await closeQueues(queues).catch(() => undefined);
  redis.disconnect();
});

const EXPECTED = {
  'fdr.validate': { age: 3_600, count: 1_000 },
  'message.send': { age: 3_600, count: 5_000 },
  'dlr.process': { age: 600, count: 1_000 },
  'reply.route': { age: 3_600, count: 1_000 },
  'activity.emit': { age: 600, count: 100 },
  'no-reply.check': { age: 3_600, count: 1_000 },
  'shipment.status': { age: 600, count: 1_000 },
} as const;

describe('queue retention', () => {
  it.each(QUEUE_NAMES)('%s keeps completed jobs by age and count, failed ones a week', (name) => {
    const options = queues[name].defaultJobOptions;
    expect(options.removeOnComplete).toEqual(EXPECTED[name]);
    expect(options.removeOnFail).toEqual({ age: 7 * 24 * 3_600 });
  });
});
