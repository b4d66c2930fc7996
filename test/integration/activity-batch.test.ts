/**
 * Timeline publishing in batches, on real MySQL, Redis and the Pub/Sub emulator: a burst of
 * entries recorded at once (some while a publishing job already runs) is published whole, each
 * entry once, by far fewer `activity.emit` jobs than entries; an entry left unpublished with a
 * stale flag is published by the sweeper's job.
 */
import type { Message, Subscription } from '@google-cloud/pubsub';
import { eq, isNull, like, and } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { activityPendingKey, recordActivity } from '../../src/activity.ts';
import { insertActivity } from '../../src/db/activity.ts';
import { shipmentActivity } from '../../src/db/schema.ts';
import { queuesRedis } from '../../src/queues/index.ts';
import { startService, type Service } from '../../src/service.ts';
import { sweepOnce } from '../../src/sweeper.ts';
import { createTestEnv, waitFor } from '../helpers/env.ts';

const env = createTestEnv('activitybatch');
let service: Service;
let sub: Subscription;
const published: number[] = [];

beforeAll(async () => {
  const config = env.config();
  service = await startService(config, ['worker']);
  const [subscription] = await service.deps.pubsub
    .topic(config.ACTIVITY_TOPIC)
    .createSubscription(`activity-batch-${env.id}`);
  sub = subscription;
  sub.on('message', (m: Message) => {
    published.push((JSON.parse(m.data.toString('utf8')) as { id: number }).id);
    m.ack();
  });
});

afterAll(async () => {
  await sub?.close();
  await service?.close();
  await env.dropDatabase();
});

const entry = (shipmentId: string, i: number) => ({
  key: `${shipmentId}-${i}`,
  shipmentId,
  accountId: 379,
  kind: 'test_entry',
  title: `entry ${i}`,
  details: { i },
  occurredAt: new Date(),
});

async function unpublished(prefix: string): Promise<number> {
  const rows = await service.deps.db
    .select({ id: shipmentActivity.id })
    .from(shipmentActivity)
    .where(
      and(like(shipmentActivity.shipmentId, `${prefix}%`), isNull(shipmentActivity.publishedAt)),
    );
  return rows.length;
}

describe('activity.emit in batches', () => {
  it('publishes a burst whole, each entry once, with far fewer jobs than entries', async () => {
    const ids: number[] = [];
    // Three waves, the later ones landing while the first wave's job may still be running.
    for (let wave = 0; wave < 3; wave++) {
      ids.push(
        ...(await Promise.all(
          Array.from({ length: 100 }, (_v, i) =>
            recordActivity(service.deps, entry(`BATCH-${wave}`, i)),
          ),
        )),
      );
    }
    await waitFor(async () => (await unpublished('BATCH-')) === 0, {
      timeoutMs: 20_000,
      what: 'every entry to be published',
    });
    await waitFor(() => ids.every((id) => published.includes(id)), {
      timeoutMs: 20_000,
      what: 'every entry on the topic',
    });
    for (const id of ids) {
      expect(published.filter((p) => p === id)).toHaveLength(1);
    }
    const jobs = await service.deps.queues['activity.emit'].getJobCounts(
      'completed',
      'failed',
      'active',
      'waiting',
      'delayed',
    );
    const total = Object.values(jobs).reduce((a, b) => a + b, 0);
    expect(jobs.failed).toBe(0);
    expect(total).toBeGreaterThan(0);
    expect(total).toBeLessThan(30);
  });

  it('publishes an entry whose job was lost, once the sweeper finds it (the flag notwithstanding)', async () => {
    // No job of the first test may still be running: it would publish these entries too.
    await waitFor(async () => {
      const counts = await service.deps.queues['activity.emit'].getJobCounts(
        'active',
        'waiting',
        'delayed',
      );
      return Object.values(counts).every((n) => n === 0);
    });
    const redis = queuesRedis(service.deps.queues);
    // As if Redis lost the job but kept the flag: the entry is stored, nothing will run.
    await redis.set(activityPendingKey(service.deps.queues), '1');
    const id = await insertActivity(service.deps.db, entry('LOST-', 0));
    await recordActivity(service.deps, entry('LOST-', 1));
    expect(await unpublished('LOST-')).toBe(2);
    await sweepOnce(service.deps, 0);
    await waitFor(async () => (await unpublished('LOST-')) === 0, {
      what: "the sweeper's job to publish them",
    });
    const [row] = await service.deps.db
      .select()
      .from(shipmentActivity)
      .where(eq(shipmentActivity.id, id));
    expect(row!.publishedAt).not.toBeNull();
  });
});
