/**
 * Provider error codes as data (src/gupshup/error-actions.ts), end to end against real Redis,
 * MariaDB and the sandbox: Enterprise 123 pauses that sender only and `wa-notify sender resume`
 * (or a successful probe) sends the waiting messages once each; HTTP 429 slows that sender's
 * measured pace and not another's; failed reports with 1002 / 003 suppress the number
 * (`not_on_whatsapp`, 30 days); 131047 and Enterprise 101 are recorded as `window_closed`, not
 * retried; a template error flags the template (and the settings page shows it).
 */
import { and, eq } from 'drizzle-orm';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';

import { runCli, type CliIo } from '../../src/cli/program.ts';
import { listShipmentActivity } from '../../src/db/activity.ts';
import {
  whatsappStatusLogs,
  whatsappSuppressions,
  whatsappTemplates,
} from '../../src/db/schema.ts';
import { saveAccountSettings } from '../../src/db/settings.ts';
import { findDefaultTemplate, saveVerifiedTemplate } from '../../src/db/templates.ts';
import { WEBHOOK_PATH } from '../../src/http/routes/gupshup-webhook.ts';
import { startSandbox, type CallbackFormat, type Sandbox } from '../../src/sandbox/server.ts';
import { createSenderPace } from '../../src/sender-pace.ts';
import { startService, type Service } from '../../src/service.ts';
import { API_TOKEN, createTestEnv, REDIS_URL, waitFor } from '../helpers/env.ts';
import { fdrEvent } from '../helpers/fixtures.ts';
import { isSendOf, outboxOf } from '../helpers/outbox.ts';
import { parsePrometheus } from '../helpers/prometheus.ts';
import { pushFdr } from '../helpers/push.ts';
import { messageSend } from '../../src/queues/message-send.ts';

const WEBHOOK_TOKEN = 'provider-errors-webhook-token';
const PER_SECOND = 8;
const DEFAULT_USERID = '2000000001';
const OTHER = 812;
const PAUSED = 379;
const OTHER_APP = {
  appName: 'errors-client',
  userid: '2000812001',
  password: 'errors-test-client-pw',
  waNumber: '919800000812',
};

function sendsOf(sandbox: Sandbox, shipmentId: string, outcome?: string) {
  return sandbox.sends.filter(
    (s) => isSendOf(s, `fdr-${shipmentId}-1`) && (!outcome || s.outcome === outcome),
  );
}

async function metrics(service: Service) {
  return parsePrometheus(await (await fetch(`${service.url}/metrics`)).text());
}

function fakeIo() {
  let out = '';
  let err = '';
  const io: CliIo = {
    out: (t) => (out += t),
    err: (t) => (err += t),
    interactive: false,
    stdoutIsTTY: false,
    confirm: () => Promise.resolve(false),
  };
  return { io, out: () => out, err: () => err };
}

/** Gives account OTHER its own Enterprise app and its copy of the default template. */
async function addOtherClient(service: Service): Promise<string> {
  const { db } = service.deps;
  const res = await fetch(`${service.url}/v1/accounts/${OTHER}/whatsapp-connections`, {
    method: 'POST',
    headers: { authorization: `Bearer ${API_TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify(OTHER_APP),
  });
  expect(res.status).toBe(201);
  const connectionId = ((await res.json()) as { id: string }).id;
  const template = (await findDefaultTemplate(db, 'otp_cancellation'))!;
  await saveVerifiedTemplate(db, {
    accountId: OTHER,
    reason: 'otp_cancellation',
    connectionId,
    template: {
      id: 'errors-client-otp',
      name: 'errors_client_otp',
      body: template.body,
      buttons: template.buttons,
      status: 'APPROVED',
      category: 'UTILITY',
    },
    mapping: template.mapping,
  });
  await saveAccountSettings(db, OTHER, { enabled: true, senderConnectionId: connectionId });
  return connectionId;
}

describe('paused senders (probe far away: resumed by the CLI)', () => {
  const env = createTestEnv('errpause');
  let sandbox: Sandbox;
  let service: Service;
  let otherConnection: string;

  beforeAll(async () => {
    sandbox = await startSandbox({ port: 0, host: '127.0.0.1' });
    service = await startService(
      env.config({
        GUPSHUP_ENTERPRISE_URL: sandbox.url,
        CREDENTIALS_KEY: Buffer.alloc(32, 7).toString('base64'),
        SENDER_PAUSE_PROBE_MS: '600000',
      }),
      ['api', 'worker'],
    );
    await saveAccountSettings(service.deps.db, PAUSED, { enabled: true });
    otherConnection = await addOtherClient(service);
  });

  afterAll(async () => {
    await service?.close();
    await sandbox?.close();
    await env.dropDatabase();
  });

  it("Enterprise 123 pauses that sender only: its messages wait, another account's go, nothing fails; resume sends each once", async () => {
    sandbox.failNext({ kind: 'error', id: '123', account: DEFAULT_USERID });
    await pushFdr(service, fdrEvent({ shipmentId: 'PAUSE-A-0', accountId: PAUSED }), 'm');
    await waitFor(() => sendsOf(sandbox, 'PAUSE-A-0', 'error').length === 1, {
      what: 'the first send to be refused with 123',
    });
    const held = ['PAUSE-A-1', 'PAUSE-A-2'];
    const others = ['PAUSE-B-0', 'PAUSE-B-1'];
    for (const shipmentId of held) {
      await pushFdr(service, fdrEvent({ shipmentId, accountId: PAUSED }), 'm');
    }
    for (const shipmentId of others) {
      await pushFdr(service, fdrEvent({ shipmentId, accountId: OTHER }), 'm');
    }
    // The other account's messages go out through its own app meanwhile.
    for (const shipmentId of others) {
      await waitFor(async () => (await outboxOf(service.deps.db, shipmentId))?.status === 'sent', {
        what: `${shipmentId} to be sent`,
      });
    }
    // The paused sender's: waiting as delayed jobs, not sent, not failed.
    const { db, queues } = service.deps;
    for (const shipmentId of ['PAUSE-A-0', ...held]) {
      const row = await waitFor(
        async () => {
          const r = await outboxOf(db, shipmentId);
          const job =
            r && (await queues['message.send'].getJob(messageSend.jobId({ outboxId: r.id })));
          return r && job && (await job.isDelayed()) ? r : null;
        },
        { what: `${shipmentId} to wait as a delayed job` },
      );
      expect(row.status).not.toBe('failed');
      expect(sendsOf(sandbox, shipmentId, 'success')).toHaveLength(0);
    }
    expect(await queues['message.send'].getFailedCount()).toBe(0);
    // Only one send went to Gupshup for the paused sender: the one refused.
    expect(sandbox.sends.filter((s) => s.params.userid === DEFAULT_USERID)).toHaveLength(1);

    const paused = await metrics(service);
    expect(paused.value('whatsapp_sender_paused', { connection: 'default' })).toBe(1);
    expect(paused.value('whatsapp_sender_paused', { connection: otherConnection })).toBe(0);

    // The timeline says why, on the message that hit it and on those that wait.
    for (const shipmentId of ['PAUSE-A-0', ...held]) {
      const entries = await waitFor(async () => {
        const all = await listShipmentActivity(db, shipmentId);
        return all.some((a) => a.kind === 'whatsapp_sender_paused') ? all : null;
      });
      const entry = entries.find((a) => a.kind === 'whatsapp_sender_paused')!;
      expect(entry.title).toContain('insufficient credits (gupshup_123)');
    }

    const list = fakeIo();
    expect(await runCli(['sender', 'list', '--json'], list.io, env.env)).toBe(0);
    const listed = (JSON.parse(list.out()) as { senders: Record<string, unknown>[] }).senders;
    expect(listed.find((s) => s.connection === 'default')).toMatchObject({
      paused: true,
      code: 'gupshup_123',
      waiting: 3,
    });
    expect(listed.find((s) => s.connection === otherConnection)).toMatchObject({ paused: false });

    const resume = fakeIo();
    expect(await runCli(['sender', 'resume', 'default', '--json'], resume.io, env.env)).toBe(0);
    expect(JSON.parse(resume.out())).toMatchObject({ wasPaused: true, woken: 3 });

    for (const shipmentId of ['PAUSE-A-0', ...held]) {
      await waitFor(async () => (await outboxOf(db, shipmentId))?.status === 'sent', {
        what: `${shipmentId} to be sent after the resume`,
      });
    }
    for (const shipmentId of ['PAUSE-A-0', ...held, ...others]) {
      expect(sendsOf(sandbox, shipmentId, 'success')).toHaveLength(1);
    }
    expect(await queues['message.send'].getFailedCount()).toBe(0);
    const after = await metrics(service);
    expect(after.value('whatsapp_sender_paused', { connection: 'default' })).toBe(0);
  });

  it('Enterprise 175 stays a permanent failure with its raw code, in the failed set', async () => {
    sandbox.failNext({ kind: 'error', id: '175' });
    await pushFdr(service, fdrEvent({ shipmentId: 'RAW-175', accountId: PAUSED }), 'm');
    const row = await waitFor(async () => {
      const r = await outboxOf(service.deps.db, 'RAW-175');
      return r?.status === 'failed' ? r : null;
    });
    expect(row).toMatchObject({ errorCode: 'gupshup_175', attempts: 1 });
    const failed = await waitFor(async () =>
      (await service.deps.queues['message.send'].getFailed()).find(
        (j) => j.data.outboxId === row.id,
      ),
    );
    expect(failed.failedReason).toMatch(/^gupshup_175: /);
    expect(
      (await metrics(service)).value('whatsapp_sender_paused', { connection: 'default' }),
    ).toBe(0);
  });
});

describe('paused senders (resumed by a probe)', () => {
  const env = createTestEnv('errprobe');
  let sandbox: Sandbox;
  let service: Service;

  beforeAll(async () => {
    sandbox = await startSandbox({ port: 0, host: '127.0.0.1' });
    service = await startService(
      env.config({ GUPSHUP_ENTERPRISE_URL: sandbox.url, SENDER_PAUSE_PROBE_MS: '1500' }),
      ['api', 'worker'],
    );
    await saveAccountSettings(service.deps.db, PAUSED, { enabled: true });
  });

  afterAll(async () => {
    await service?.close();
    await sandbox?.close();
    await env.dropDatabase();
  });

  it('lets one send through per SENDER_PAUSE_PROBE_MS; a refused probe keeps it paused, a good one resumes it', async () => {
    // The first send and the first probe are refused (credentials); the second probe goes.
    sandbox.failNext({ kind: 'error', id: '102' }, { kind: 'error', id: '102' });
    const shipments = ['PROBE-0', 'PROBE-1', 'PROBE-2'];
    await pushFdr(service, fdrEvent({ shipmentId: shipments[0]!, accountId: PAUSED }), 'm');
    await waitFor(() => sandbox.sends.length === 1);
    const pausedAt = Date.now();
    for (const shipmentId of shipments.slice(1)) {
      await pushFdr(service, fdrEvent({ shipmentId, accountId: PAUSED }), 'm');
    }
    for (const shipmentId of shipments) {
      await waitFor(async () => (await outboxOf(service.deps.db, shipmentId))?.status === 'sent', {
        timeoutMs: 15_000,
        what: `${shipmentId} to be sent once a probe succeeds`,
      });
    }
    const refused = sandbox.sends.filter((s) => s.outcome === 'error');
    expect(refused).toHaveLength(2);
    // The probes came one probe interval apart, not at once.
    const [first, probe] = refused.map((s) => s.at.getTime());
    expect(probe! - first!).toBeGreaterThanOrEqual(1_400);
    expect(sandbox.sends.filter((s) => s.outcome === 'success')[0]!.at.getTime()).toBeGreaterThan(
      pausedAt + 2_800,
    );
    for (const shipmentId of shipments) {
      expect(sendsOf(sandbox, shipmentId, 'success')).toHaveLength(1);
    }
    expect(await service.deps.queues['message.send'].getFailedCount()).toBe(0);
  });
});

describe('throttles, numbers, windows and templates', () => {
  const env = createTestEnv('errtable');
  let sandbox: Sandbox;
  let service: Service;
  let otherConnection: string;

  beforeAll(async () => {
    sandbox = await startSandbox({ port: 0, host: '127.0.0.1' });
    service = await startService(
      env.config({
        GUPSHUP_ENTERPRISE_URL: sandbox.url,
        GUPSHUP_MAX_PER_SECOND: '1000',
        GUPSHUP_SENDER_MAX_PER_SECOND: String(PER_SECOND),
        CREDENTIALS_KEY: Buffer.alloc(32, 8).toString('base64'),
        WEBHOOK_TOKEN,
      }),
      ['api', 'worker'],
    );
    await saveAccountSettings(service.deps.db, PAUSED, { enabled: true });
    otherConnection = await addOtherClient(service);
  });

  beforeEach(() => sandbox.reset());

  afterAll(async () => {
    await service?.close();
    await sandbox?.close();
    await env.dropDatabase();
  });

  function sendTimes(prefix: string): number[] {
    return sandbox.sends
      .filter((s) => s.outcome === 'success' && s.params.msg_id?.startsWith(`fdr-${prefix}`))
      .map((s) => s.at.getTime())
      .sort((a, b) => a - b);
  }

  it('HTTP 429 halves the measured pace of that sender and not of another', async () => {
    sandbox.failNext({ kind: 'http', status: 429, account: DEFAULT_USERID });
    await pushFdr(service, fdrEvent({ shipmentId: 'SLOW-0', accountId: PAUSED }), 'm');
    await waitFor(async () => (await outboxOf(service.deps.db, 'SLOW-0'))?.status === 'sent');
    const gauge = await metrics(service);
    expect(gauge.value('whatsapp_sender_pace_per_second', { connection: 'default' })).toBe(
      PER_SECOND / 2,
    );

    const count = 6;
    const a = Array.from({ length: count }, (_, i) => `SLOW-A-${i}`);
    const b = Array.from({ length: count }, (_, i) => `SLOW-B-${i}`);
    await Promise.all([
      ...a.map((shipmentId) => pushFdr(service, fdrEvent({ shipmentId, accountId: PAUSED }), 'm')),
      ...b.map((shipmentId) => pushFdr(service, fdrEvent({ shipmentId, accountId: OTHER }), 'm')),
    ]);
    await waitFor(
      () => sendTimes('SLOW-A-').length === count && sendTimes('SLOW-B-').length === count,
      {
        timeoutMs: 20_000,
        what: 'every message to be sent',
      },
    );
    const spanA = sendTimes('SLOW-A-').at(-1)! - sendTimes('SLOW-A-')[0]!;
    const spanB = sendTimes('SLOW-B-').at(-1)! - sendTimes('SLOW-B-')[0]!;
    const halved = 1_000 / (PER_SECOND / 2);
    // The throttled sender went at half its rate: six sends take at least five slowed intervals.
    expect(spanA).toBeGreaterThanOrEqual((count - 1) * halved - 150);
    // The other at its own, full rate.
    expect(spanB).toBeLessThan((count - 1) * halved - 150);
    const after = await metrics(service);
    expect(after.value('whatsapp_sender_pace_per_second', { connection: otherConnection })).toBe(
      PER_SECOND,
    );
  });

  async function sendWithFailedReport(
    shipmentId: string,
    format: CallbackFormat,
    fail: { errorCode: string; cause: string },
    phone?: string,
  ) {
    sandbox.setCallback({
      url: `${service.url}${WEBHOOK_PATH}?token=${WEBHOOK_TOKEN}`,
      format,
      delaysMs: { sent: 50, delivered: null, read: null },
    });
    sandbox.nextDlr({ fail });
    await pushFdr(
      service,
      fdrEvent({ shipmentId, accountId: PAUSED, ...(phone ? { phone } : {}) }),
      'm',
    );
    const row = await waitFor(async () => {
      const r = await outboxOf(service.deps.db, shipmentId);
      return r?.status === 'sent' ? r : null;
    });
    await waitFor(
      async () => {
        const [log] = await service.deps.db
          .select()
          .from(whatsappStatusLogs)
          .where(eq(whatsappStatusLogs.id, row.statusLogId!));
        return log?.status === 'FAILED';
      },
      { what: `the ${fail.errorCode} report to fail ${shipmentId}` },
    );
    return row;
  }

  async function suppressionOf(customerNumber: string) {
    return service.deps.db
      .select()
      .from(whatsappSuppressions)
      .where(
        and(
          eq(whatsappSuppressions.senderNumber, '919319278973'),
          eq(whatsappSuppressions.customerNumber, customerNumber),
        ),
      );
  }

  it.each([
    [
      'v2 1002',
      'v2',
      { errorCode: '1002', cause: 'Number Does Not Exist On WhatsApp' },
      '9811000001',
    ],
    [
      'Enterprise report 003',
      'enterprise',
      { errorCode: '003', cause: 'UNKNOWN_SUBSCRIBER' },
      '9811000002',
    ],
  ] as const)(
    'a %s report marks the number not_on_whatsapp for that sender for 30 days',
    async (label, format, fail, phone) => {
      const shipmentId = `NOWA-${format}`;
      await sendWithFailedReport(shipmentId, format, fail, phone);
      const rows = await waitFor(
        async () => {
          const r = await suppressionOf(`91${phone}`);
          return r.length ? r : null;
        },
        { what: `the suppression after ${label}` },
      );
      expect(rows).toHaveLength(1);
      expect(rows[0]).toMatchObject({
        reason: 'not_on_whatsapp',
        source: 'report',
        accountId: PAUSED,
      });
      const days = (rows[0]!.expiresAt!.getTime() - Date.now()) / 86_400_000;
      expect(days).toBeGreaterThan(29.9);
      expect(days).toBeLessThanOrEqual(30);
    },
  );

  it.each([
    ['Meta 131047 (v3)', 'v3', { errorCode: '131047', cause: 'Re-engagement message' }],
    ['Enterprise report 101', 'enterprise', { errorCode: '101', cause: '24 Hour exceeded' }],
  ] as const)('%s is recorded as window_closed and not retried', async (_label, format, fail) => {
    const shipmentId = `WINDOW-${format}`;
    await sendWithFailedReport(shipmentId, format, fail);
    const entry = await waitFor(async () =>
      (await listShipmentActivity(service.deps.db, shipmentId)).find(
        (a) => a.kind === 'whatsapp_status' && a.details.status === 'FAILED',
      ),
    );
    expect(entry.details.failure).toBe('window_closed');
    expect(entry.title).toContain("the customer's 24-hour window is closed");
    const [log] = await service.deps.db
      .select()
      .from(whatsappStatusLogs)
      .where(eq(whatsappStatusLogs.shipmentId, shipmentId));
    expect(JSON.parse(log!.remarks!)).toContainEqual(
      expect.objectContaining({ errorCode: fail.errorCode, failure: 'window_closed' }),
    );
    // Nothing goes out again for it: its send job is done, the report's job too, one send made.
    const row = (await outboxOf(service.deps.db, shipmentId))!;
    expect(row.status).toBe('sent');
    await waitFor(async () => {
      const job = await service.deps.queues['message.send'].getJob(
        messageSend.jobId({ outboxId: row.id }),
      );
      return job && (await job.isCompleted());
    });
    expect(await service.deps.queues['message.send'].getDelayedCount()).toBe(0);
    expect(sendsOf(sandbox, shipmentId)).toHaveLength(1);
  });

  it('a template error (v2 4005) flags the template, and the settings page shows it', async () => {
    const row = await sendWithFailedReport('TEMPLATE-4005', 'v2', {
      errorCode: '4005',
      cause: 'Template paused',
    });
    const [template] = await waitFor(async () => {
      const t = await service.deps.db
        .select()
        .from(whatsappTemplates)
        .where(eq(whatsappTemplates.id, row.templateId!));
      return t[0]?.refusedCode ? t : null;
    });
    expect(template).toMatchObject({ refusedCode: 'v2_4005', refusedReason: 'template paused' });
    const page = await fetch(`${service.url}/settings/${PAUSED}`, {
      headers: { authorization: `Bearer ${API_TOKEN}` },
    });
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('Gupshup refused this template');
  });

  it('a Meta 131050 report suppresses the number as opted out, until lifted', async () => {
    await sendWithFailedReport(
      'OPTOUT-131050',
      'v3',
      { errorCode: '131050', cause: 'User stopped marketing messages' },
      '9811000003',
    );
    const [row] = await waitFor(async () => {
      const r = await suppressionOf('919811000003');
      return r.length ? r : null;
    });
    expect(row).toMatchObject({ reason: 'opted_out', source: 'send_error', expiresAt: null });
  });

  it('a v2 1003 report (wallet) pauses the sender; the CLI resumes it', async () => {
    await sendWithFailedReport('WALLET-1003', 'v2', {
      errorCode: '1003',
      cause: 'Wallet balance low',
    });
    await waitFor(
      async () =>
        (await metrics(service)).value('whatsapp_sender_paused', { connection: 'default' }) === 1,
      { what: 'the sender to be paused' },
    );
    // Another account's sender is not.
    expect(
      (await metrics(service)).value('whatsapp_sender_paused', { connection: otherConnection }),
    ).toBe(0);
    const resume = fakeIo();
    expect(await runCli(['sender', 'resume', 'default'], resume.io, env.env)).toBe(0);
    expect(resume.out()).toContain('Sender default resumed');
    expect(
      (await metrics(service)).value('whatsapp_sender_paused', { connection: 'default' }),
    ).toBe(0);
  });
});

describe('sender pace recovery', () => {
  it('halves per throttle down to 1/16, and recovers one step per quiet period', async () => {
    const { Redis } = await import('ioredis');
    const redis = new Redis(REDIS_URL);
    const prefix = `t-pace-${Date.now()}`;
    try {
      const pace = createSenderPace(redis, prefix, 16, { quietMs: 400, debounceMs: 0 });
      await pace.reserve('a:hsm', 'a');
      await pace.reserve('b:hsm', 'b');
      expect(await pace.slowDown('a')).toBe(8);
      expect(await pace.slowDown('a')).toBe(4);
      for (let i = 0; i < 5; i += 1) {
        await pace.slowDown('a');
      }
      expect((await pace.paces()).get('a')).toBe(1);
      expect((await pace.paces()).get('b')).toBe(16);
      await waitFor(async () => (await pace.paces()).get('a') === 2, { what: 'one step back' });
      await waitFor(async () => (await pace.paces()).get('a') === 16, {
        what: 'the full rate back',
        timeoutMs: 5_000,
      });
    } finally {
      const keys = await redis.keys(`${prefix}:*`);
      if (keys.length) {
        await redis.del(...keys);
      }
      redis.disconnect();
    }
  });
});

describe("a self-serve sender's refusals, answered to the send", () => {
  const env = createTestEnv('errsync');
  const ACCOUNT = 613;
  const API_KEY = 'errors-self-serve-key-0123456789';
  const APP_NUMBER = '919800000613';
  const TEMPLATE_ID = '992b7ece-3217-4134-a161-ebd6ffd91cd9';
  let sandbox: Sandbox;
  let service: Service;

  async function call(method: string, path: string, body: unknown) {
    const res = await fetch(`${service.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${API_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    expect(res.status).toBeLessThan(300);
    return (await res.json()) as Record<string, unknown>;
  }

  /** The seed's event as a "rejected by the customer" failure for this account. */
  function rejectedEvent(shipmentId: string, phone: string) {
    const event = fdrEvent({ shipmentId, phone, accountId: ACCOUNT });
    const track = (
      event.response_data as {
        track_payload: { clickPostTrackData: { additional: Record<string, unknown> } };
      }
    ).track_payload.clickPostTrackData.additional;
    track.ndr_status_code = 2;
    track.ndr_status_description = 'Rejected by Customer';
    return event;
  }

  beforeAll(async () => {
    sandbox = await startSandbox({ port: 0, host: '127.0.0.1', apiKeys: [API_KEY] });
    service = await startService(
      env.config({
        GUPSHUP_ENTERPRISE_URL: sandbox.url,
        GUPSHUP_SELF_SERVE_URL: sandbox.origin,
        CREDENTIALS_KEY: Buffer.alloc(32, 6).toString('base64'),
      }),
      ['api', 'worker'],
    );
    const created = await call('POST', `/v1/accounts/${ACCOUNT}/whatsapp-connections`, {
      api: 'self-serve',
      appName: 'errorsapp',
      apiKey: API_KEY,
      waNumber: `+${APP_NUMBER}`,
    });
    const connectionId = created.id as string;
    await call('PUT', `/v1/accounts/${ACCOUNT}/whatsapp-templates/rejected_by_customer`, {
      templateId: TEMPLATE_ID,
      connectionId,
      variables: {
        '1': 'customerFirstName',
        '2': 'storeName',
        '3': 'uniqueOrderItemId',
        '4': 'noOfItemsInTheOrder',
        '5': 'quantityOfTheItem',
        '6': 'productTitle',
      },
    });
    await call('PUT', `/v1/accounts/${ACCOUNT}/whatsapp-settings`, {
      senderConnectionId: connectionId,
      reasons: { rejected_by_customer: true },
      templates: { rejected_by_customer: TEMPLATE_ID },
    });
  });

  beforeEach(() => sandbox.reset());

  afterAll(async () => {
    await service?.close();
    await sandbox?.close();
    await env.dropDatabase();
  });

  async function failedRow(shipmentId: string) {
    return waitFor(
      async () => {
        const r = await outboxOf(service.deps.db, shipmentId);
        return r?.status === 'failed' ? r : null;
      },
      { what: `${shipmentId} to fail` },
    );
  }

  async function suppressionsOf(customerNumber: string) {
    return service.deps.db
      .select()
      .from(whatsappSuppressions)
      .where(
        and(
          eq(whatsappSuppressions.senderNumber, APP_NUMBER),
          eq(whatsappSuppressions.customerNumber, customerNumber),
        ),
      );
  }

  it.each([
    ['1002', 'not_on_whatsapp', '9811400001'],
    ['1012', 'opted_out', '9811400002'],
  ] as const)(
    'v2 %s fails the message at once and suppresses the number (%s)',
    async (code, reason, phone) => {
      sandbox.failNext({ kind: 'error', id: code });
      const shipmentId = `SYNC-${code}`;
      await pushFdr(service, rejectedEvent(shipmentId, phone), 'm');
      const row = await failedRow(shipmentId);
      expect(row).toMatchObject({ errorCode: reason, attempts: 1 });
      expect(row.lastError).toContain(`v2_${code}`);
      expect(sandbox.sends).toHaveLength(1);
      const [suppression] = await suppressionsOf(`91${phone}`);
      expect(suppression).toMatchObject({ reason, source: 'send_error', accountId: ACCOUNT });
      if (reason === 'not_on_whatsapp') {
        const days = (suppression!.expiresAt!.getTime() - Date.now()) / 86_400_000;
        expect(days).toBeGreaterThan(29.9);
      } else {
        expect(suppression!.expiresAt).toBeNull();
      }
      const failed = (await listShipmentActivity(service.deps.db, shipmentId)).find(
        (a) => a.kind === 'whatsapp_failed',
      );
      expect(failed?.details).toMatchObject({ code: `v2_${code}`, failure: reason });

      // The next FDR for that number is not sent, and its timeline says why.
      const next = `${shipmentId}-NEXT`;
      await pushFdr(service, rejectedEvent(next, phone), 'm');
      const skipped = await waitFor(
        async () =>
          (await listShipmentActivity(service.deps.db, next)).find(
            (a) => a.kind === 'whatsapp_not_sent',
          ),
        { what: 'the next FDR for the number to be skipped' },
      );
      expect(skipped.details).toMatchObject({ code: reason });
      expect(sandbox.sends).toHaveLength(1);
    },
  );

  it('v2 470 is recorded as window_closed, not retried', async () => {
    sandbox.failNext({ kind: 'error', id: '470' });
    const row = await (async () => {
      await pushFdr(service, rejectedEvent('SYNC-470', '9811400003'), 'm');
      return failedRow('SYNC-470');
    })();
    expect(row).toMatchObject({ errorCode: 'window_closed', attempts: 1 });
    expect(sandbox.sends).toHaveLength(1);
    const failed = await waitFor(async () =>
      (await listShipmentActivity(service.deps.db, 'SYNC-470')).find(
        (a) => a.kind === 'whatsapp_failed',
      ),
    );
    expect(failed.title).toContain("the customer's 24-hour window is closed");
  });

  it('v2 4005 fails the message and flags the template', async () => {
    sandbox.failNext({ kind: 'error', id: '4005', details: 'Template is paused' });
    await pushFdr(service, rejectedEvent('SYNC-4005', '9811400004'), 'm');
    const row = await failedRow('SYNC-4005');
    expect(row).toMatchObject({ errorCode: 'template_refused', attempts: 1 });
    const [template] = await service.deps.db
      .select()
      .from(whatsappTemplates)
      .where(eq(whatsappTemplates.id, TEMPLATE_ID));
    expect(template).toMatchObject({ refusedCode: 'v2_4005', refusedReason: 'template paused' });
  });

  it('Meta 131056 holds the message at least 6 s, then sends it once', async () => {
    sandbox.failNext({ kind: 'error', id: '131056' });
    await pushFdr(service, rejectedEvent('SYNC-131056', '9811400005'), 'm');
    const row = await waitFor(
      async () => {
        const r = await outboxOf(service.deps.db, 'SYNC-131056');
        return r?.status === 'sent' ? r : null;
      },
      { timeoutMs: 15_000, what: 'the held message to be sent' },
    );
    const [refused, sent] = sandbox.sends;
    expect(refused?.outcome).toBe('error');
    expect(sent?.outcome).toBe('success');
    expect(sent!.at.getTime() - refused!.at.getTime()).toBeGreaterThanOrEqual(5_900);
    expect(sandbox.sends).toHaveLength(2);
    // The hold used no attempt: the job completed on its first.
    const job = await waitFor(async () => {
      const j = await service.deps.queues['message.send'].getJob(
        messageSend.jobId({ outboxId: row.id }),
      );
      return j && (await j.isCompleted()) ? j : null;
    });
    expect(job.attemptsMade).toBe(1);
  });
});
