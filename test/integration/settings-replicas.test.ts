/**
 * Settings caches across replicas: two service processes share Redis and MySQL (same database and
 * queue prefix). A, in this test process, serves the API only; B, a child process started as an
 * operator would (the build `npm start` runs), takes the FDR events (subscriber and workers) and caches
 * settings for an hour. A change made through A is in effect
 * for B's next event at once, which only the invalidation announcement can explain; a change
 * written straight to MySQL, without one, is not, which shows B really does cache.
 */
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { fdrInbox } from '../../src/db/schema.ts';
import { saveAccountSettings } from '../../src/db/settings.ts';
import { startSandbox, type Sandbox } from '../../src/sandbox/server.ts';
import { startService, type Service } from '../../src/service.ts';
import { startServiceProcess, type ServiceProcess } from '../helpers/service-process.ts';
import { API_TOKEN, createTestEnv, waitFor } from '../helpers/env.ts';
import { fdrEvent } from '../helpers/fixtures.ts';

const ACCOUNT = 611;
const HOUR = 3_600_000;
/** Well under the cache TTL: only an invalidation can make B see a change this fast. */
const PROMPTLY = { timeoutMs: 8_000 };

const env = createTestEnv('replicas');
let sandbox: Sandbox;
let a: Service;
let b: ServiceProcess;

async function putSettingsThroughA(body: unknown) {
  const res = await fetch(`${a.url}/v1/accounts/${ACCOUNT}/whatsapp-settings`, {
    method: 'PUT',
    headers: { authorization: `Bearer ${API_TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  expect(res.status).toBe(200);
}

async function publishToB(shipmentId: string) {
  await a.deps.pubsub
    .topic(env.env.FDR_TOPIC!)
    .publishMessage({ json: fdrEvent({ shipmentId, accountId: ACCOUNT }) });
}

/** How B's fdr.validate settled the event: processed (sent) or skipped (and why). */
async function settled(shipmentId: string) {
  return waitFor(
    async () => {
      const [row] = await a.deps.db
        .select()
        .from(fdrInbox)
        .where(eq(fdrInbox.shipmentId, shipmentId));
      return row && row.status !== 'received' ? row : null;
    },
    { ...PROMPTLY, what: `event ${shipmentId} to be handled by B` },
  );
}

function sendsFor(shipmentId: string) {
  return sandbox.sends.filter((s) => s.params.msg_id?.startsWith(`fdr-${shipmentId}-`));
}

beforeAll(async () => {
  sandbox = await startSandbox({ port: 0 });
  const config = env.config({
    GUPSHUP_ENTERPRISE_URL: sandbox.url,
    SETTINGS_CACHE_TTL_MS: String(HOUR),
  });
  a = await startService(config, ['api']);
  b = await startServiceProcess({
    ...env.env,
    GUPSHUP_ENTERPRISE_URL: sandbox.url,
    SETTINGS_CACHE_TTL_MS: String(HOUR),
    LOG_LEVEL: 'warn',
  });
  expect(a.url).not.toBe(b.url);
});

afterAll(async () => {
  if (b && b.child.exitCode === null) {
    b.child.kill('SIGTERM');
    await b.exited;
  }
  await a?.close();
  await sandbox?.close();
  await env.dropDatabase();
});

describe('settings changed on one replica', () => {
  it("are in effect for the other replica's next event, with no wait for the TTL", async () => {
    // B handles an event while WhatsApp is off and caches "off" for an hour.
    await publishToB('REPL-0001');
    expect(await settled('REPL-0001')).toMatchObject({ status: 'skipped' });
    expect((await settled('REPL-0001')).reason).toContain('whatsapp_disabled');

    await putSettingsThroughA({ enabled: true });

    await publishToB('REPL-0002');
    expect(await settled('REPL-0002')).toMatchObject({ status: 'processed' });
    await waitFor(() => sendsFor('REPL-0002').length === 1, {
      ...PROMPTLY,
      what: 'the send through B',
    });
  });

  it('are not seen when written behind the API, so B really caches', async () => {
    await saveAccountSettings(a.deps.db, ACCOUNT, { enabled: false });
    await publishToB('REPL-0003');
    expect(await settled('REPL-0003')).toMatchObject({ status: 'processed' });
  });

  it('switch off through A just as promptly', async () => {
    await putSettingsThroughA({ enabled: false });
    await publishToB('REPL-0004');
    expect((await settled('REPL-0004')).reason).toContain('whatsapp_disabled');
    expect(sendsFor('REPL-0004')).toHaveLength(0);
  });
});
