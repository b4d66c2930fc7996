/**
 * Upgrading from the keys without hash tags (`<prefix>:<queue>:…`) to the tagged ones
 * (`<prefix>:{<queue>}:<queue>:…`, src/redis-keys.ts): the new workers never read the old keys,
 * and what was still waiting there is not lost, because the sweeper re-enqueues what MySQL says is
 * unfinished. Real Redis and MariaDB, the Gupshup sandbox.
 */
import { Queue } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { redisOptions } from '../../src/deps.ts';
import { saveAccountSettings } from '../../src/db/settings.ts';
import { queuePrefix } from '../../src/redis-keys.ts';
import { startSandbox, type Sandbox } from '../../src/sandbox/server.ts';
import { startService, type Service } from '../../src/service.ts';
import { createTestEnv, REDIS_URL, waitFor } from '../helpers/env.ts';
import { fdrEvent } from '../helpers/fixtures.ts';
import { isSendOf, outboxOf } from '../helpers/outbox.ts';
import { pushFdr } from '../helpers/push.ts';

const env = createTestEnv('keyupgrade');
const PREFIX = env.env.QUEUE_PREFIX!;
let sandbox: Sandbox;
const services: Service[] = [];

beforeAll(async () => {
  sandbox = await startSandbox({ port: 0, host: '127.0.0.1' });
});

afterAll(async () => {
  for (const service of services) {
    await service.close(5_000);
  }
  await sandbox?.close();
  await env.dropDatabase();
});

describe('after an upgrade to hash-tagged keys', () => {
  it('leaves the old keys alone and sends what waited there once, re-enqueued by the sweeper', async () => {
    const config = (overrides: Record<string, string> = {}) =>
      env.config({ GUPSHUP_ENTERPRISE_URL: sandbox.url, ...overrides });
    // The event was taken in before the upgrade: recorded in MySQL, its job in the old keys.
    const api = await startService(config(), ['api']);
    services.push(api);
    await saveAccountSettings(api.deps.db, 379, { enabled: true });
    await pushFdr(api, fdrEvent({ shipmentId: 'UPGRADE-1' }));
    const connection = { ...redisOptions(REDIS_URL), maxRetriesPerRequest: null };
    const tagged = new Queue('fdr.validate', {
      connection,
      prefix: queuePrefix(PREFIX, 'fdr.validate'),
    });
    const old = new Queue('fdr.validate', { connection, prefix: PREFIX });
    try {
      const [job] = await tagged.getJobs(['waiting']);
      expect(job?.data).toEqual({ inboxId: expect.any(Number) as number });
      await old.add('fdr.validate', job!.data, { jobId: job!.id });
      await tagged.obliterate({ force: true });
      expect(await old.getWaitingCount()).toBe(1);

      // The new version's workers, with the sweeper on.
      const worker = await startService(
        config({ SWEEP_INTERVAL_MS: '100', SWEEP_GRACE_MS: '0', DB_MIGRATE_ON_START: 'false' }),
        ['worker'],
      );
      services.push(worker);
      const row = await waitFor(
        async () => {
          const outbox = await outboxOf(api.deps.db, 'UPGRADE-1');
          return outbox?.status === 'sent' ? outbox : null;
        },
        { what: 'the message sent' },
      );
      expect(row.attempts).toBe(1);
      expect(
        sandbox.sends.filter((s) => isSendOf(s, 'fdr-UPGRADE-1-1') && s.outcome === 'success'),
      ).toHaveLength(1);
      // The old job is still there, untouched: abandoned, never run.
      expect(await old.getWaitingCount()).toBe(1);
    } finally {
      await old.obliterate({ force: true }).catch(() => undefined);
      await old.close();
      await tagged.close();
    }
  });
});
