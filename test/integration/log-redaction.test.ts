/**
 * No personal data or credential in the logs: the whole seed scenario (FDR in, template out,
 * delivery reports back through the webhook, the customer's button and date, the WMS action)
 * runs at LOG_LEVEL=debug with every role, the logger built as src/main.ts builds it, and the
 * captured lines are searched for the fixtures' phone numbers, address, names and email and for
 * every secret the service was configured with. Then the seed's customer opts out (STOP, its
 * confirmation) and the suppression API lifts it, by a path that holds the number.
 */
import { Writable } from 'node:stream';

import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { notificationOutbox } from '../../src/db/schema.ts';
import { WEBHOOK_PATH } from '../../src/http/routes/gupshup-webhook.ts';
import { createLog, logSecrets } from '../../src/log.ts';
import { textReply } from '../../src/sandbox/replies.ts';
import { startSandbox, type Sandbox } from '../../src/sandbox/server.ts';
import { startService, type Service } from '../../src/service.ts';
import { API_TOKEN, createTestEnv, waitFor } from '../helpers/env.ts';
import { startFakeWms, type FakeWms } from '../helpers/fake-wms.ts';
import { fdrEvent } from '../helpers/fixtures.ts';
import { pushFdr } from '../helpers/push.ts';
import { runSeedScenario, SEED_PERSONAL_DATA, SEED_SHIPMENT } from '../helpers/seed-scenario.ts';

const env = createTestEnv('logredaction');
const WEBHOOK_TOKEN = 'log-test-webhook-token';
const WMS_TOKEN = 'log-test-wms-token';
const ADMIN_PASSWORD = 'log-test-admin-password';
const GUPSHUP_PASSWORD = env.env.GUPSHUP_DEFAULT_PASSWORD!;

const lines: string[] = [];
const capture = new Writable({
  write(chunk: Buffer, _encoding, done) {
    lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
    done();
  },
});

let sandbox: Sandbox;
let wms: FakeWms;
let service: Service;

beforeAll(async () => {
  sandbox = await startSandbox({ port: 0, host: '127.0.0.1' });
  wms = await startFakeWms({ token: WMS_TOKEN });
  const config = env.config({
    LOG_LEVEL: 'debug',
    GUPSHUP_ENTERPRISE_URL: sandbox.url,
    WMS_API_URL: wms.url,
    WMS_API_TOKEN: WMS_TOKEN,
    WEBHOOK_TOKEN,
    ADMIN_USER: 'ops',
    ADMIN_PASSWORD,
    REPLY_SETTLE_SECONDS: '1',
    PUBLIC_BASE_URL: 'https://wa.example.test',
  });
  const log = createLog(config.LOG_LEVEL, capture, logSecrets(config));
  service = await startService(config, ['api', 'worker', 'subscriber'], { log });
});

afterAll(async () => {
  await service?.close();
  await wms?.close();
  await sandbox?.close();
  await env.dropDatabase();
});

describe('logs', () => {
  it('carry ids but no phone number, address, name, email or credential through the seed scenario', async () => {
    await runSeedScenario({ service, sandbox, wms, webhookToken: WEBHOOK_TOKEN });

    // The paths that tend to leak: a refusal quoting the number, a malformed webhook body
    // holding one, a webhook call with a wrong token, an admin login with a wrong password.
    sandbox.failNext({
      kind: 'error',
      id: '105',
      details: 'The phone number 917891971009 is not valid',
    });
    await pushFdr(service, fdrEvent({ shipmentId: 'REFUSED-1' }), 'refused-1');
    await waitFor(() => lines.some((l) => l.includes('WhatsApp message failed for good')), {
      what: 'the refused send to be logged',
    });
    const malformed = await service.app!.inject({
      method: 'POST',
      url: `${WEBHOOK_PATH}?token=${WEBHOOK_TOKEN}`,
      headers: { 'content-type': 'application/json' },
      payload: '{"mobile":"919650186697","name":"Lakshay","type":',
    });
    expect(malformed.statusCode).toBe(400);
    const wrongToken = await service.app!.inject({
      method: 'POST',
      url: `${WEBHOOK_PATH}?token=not-${WEBHOOK_TOKEN}`,
      payload: { mobile: '919650186697' },
    });
    expect(wrongToken.statusCode).toBe(401);
    const wrongLogin = await service.app!.inject({
      url: '/admin/queues',
      headers: { authorization: `Basic ${Buffer.from('ops:guess').toString('base64')}` },
    });
    expect(wrongLogin.statusCode).toBe(401);
    // Requests that carry credentials, for the request logs to have something to leak.
    const basic = Buffer.from(`ops:${ADMIN_PASSWORD}`).toString('base64');
    await service.app!.inject({
      url: '/admin/queues/api/queues',
      headers: { authorization: `Basic ${basic}` },
    });
    await service.app!.inject({ url: '/metrics' });
    // The seed's customer opts out, is confirmed, and an operator lifts it through the API,
    // whose DELETE path holds the number.
    await sandbox.simulateReply(
      textReply({ mobile: '919650186697', waNumber: '919319278973', text: 'STOP' }),
      'form',
    );
    await waitFor(() => lines.some((l) => l.includes('customer opted out')), {
      what: 'the opt-out to be logged',
    });
    await waitFor(
      async () => {
        const [row] = await service.deps.db
          .select({ status: notificationOutbox.status })
          .from(notificationOutbox)
          .where(eq(notificationOutbox.reason, 'opt_out_confirmation'));
        return row?.status === 'sent';
      },
      { what: 'the opt-out confirmation to be sent' },
    );
    const lifted = await service.app!.inject({
      method: 'DELETE',
      url: '/v1/accounts/379/whatsapp-suppressions/919650186697',
      headers: { authorization: `Bearer ${API_TOKEN}` },
    });
    expect(lifted.statusCode).toBe(200);
    await service.close();

    // One JSON object per line, and the scenario did get logged, ids intact.
    const entries = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(entries.length).toBeGreaterThan(20);
    expect(
      entries.some((e) => e.shipmentId === SEED_SHIPMENT && e.msg === 'WhatsApp message sent'),
    ).toBe(true);
    expect(entries.some((e) => e.msg === 'delivery report processed')).toBe(true);
    // One line per request, with its id and path.
    expect(
      entries.some(
        (e) => e.msg === 'request done' && e.path === '/pubsub/push' && typeof e.reqId === 'string',
      ),
    ).toBe(true);
    // Worker lines carry their job (src/workers/main.ts runs each job in a log context).
    expect(
      entries.some(
        (e) => e.msg === 'WhatsApp message sent' && e.queue === 'message.send' && e.jobId,
      ),
    ).toBe(true);

    const text = lines.join('\n').toLowerCase();
    const forbidden = [
      ...SEED_PERSONAL_DATA,
      GUPSHUP_PASSWORD,
      WEBHOOK_TOKEN,
      WMS_TOKEN,
      ADMIN_PASSWORD,
      API_TOKEN,
    ];
    const found = forbidden.filter((needle) => text.includes(needle.toLowerCase()));
    const leaks = found.map((needle) => ({
      needle,
      lines: lines.filter((l) => l.toLowerCase().includes(needle.toLowerCase())).slice(0, 3),
    }));
    expect(leaks).toEqual([]);
  });
});
