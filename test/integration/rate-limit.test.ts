/**
 * GUPSHUP_MAX_PER_SECOND bounds sends across the whole `message.send` queue (BullMQ's limiter
 * lives in Redis, so it holds across replicas too).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { saveAccountSettings } from '../../src/db/settings.ts';
import { startService, type Service } from '../../src/service.ts';
import { startSandbox, type Sandbox } from '../../src/sandbox/server.ts';
import { createTestEnv, waitFor } from '../helpers/env.ts';
import { pushFdr } from '../helpers/push.ts';
import { fdrEvent } from '../helpers/fixtures.ts';

const env = createTestEnv('ratelimit');
let sandbox: Sandbox;
let service: Service;

beforeAll(async () => {
  sandbox = await startSandbox({ port: 0, host: '127.0.0.1' });
  service = await startService(
    env.config({ GUPSHUP_ENTERPRISE_URL: sandbox.url, GUPSHUP_MAX_PER_SECOND: '2' }),
    ['api', 'worker'],
  );
  await saveAccountSettings(service.deps.db, 379, { enabled: true });
});

afterAll(async () => {
  await service?.close();
  await sandbox?.close();
  await env.dropDatabase();
});

describe('message.send rate limit', () => {
  it('never sends more than GUPSHUP_MAX_PER_SECOND in any one second', async () => {
    for (let i = 0; i < 6; i++) {
      await pushFdr(service, fdrEvent({ shipmentId: `RL-${i}` }));
    }
    await waitFor(() => sandbox.sends.length === 6, { timeoutMs: 15_000, what: 'six sends' });
    const times = sandbox.sends.map((s) => s.at.getTime()).sort((a, b) => a - b);
    // Six sends at two per second need three limiter windows, so the last starts at least two
    // seconds after the first. The sandbox sees each request a little after its job started (the
    // worker reads MySQL first), so allow half a second of that skew. Unlimited, all six arrive
    // within a few hundred milliseconds.
    expect(times[5]! - times[0]!).toBeGreaterThanOrEqual(1_500);
    expect(times[4]! - times[1]!).toBeGreaterThanOrEqual(500);
  });
});
