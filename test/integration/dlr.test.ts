/**
 * Delivery reports end to end against real MySQL, Redis and the Pub/Sub emulator: the seed's FDR
 * event goes out through the sandbox, then reports for that message are posted to the webhook
 * (real HTTP) and `dlr.process` moves `whatsapp_status_logs` forward only, keeps the reports in
 * `remarks` and puts each real change on the shipment's timeline.
 */
import { eq } from 'drizzle-orm';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { listShipmentActivity } from '../../src/db/activity.ts';
import { notificationOutbox, webhookEvents, whatsappStatusLogs } from '../../src/db/schema.ts';
import { saveAccountSettings } from '../../src/db/settings.ts';
import { WEBHOOK_PATH } from '../../src/http/routes/gupshup-webhook.ts';
import { startSandbox, type Sandbox } from '../../src/sandbox/server.ts';
import { startService, type Service } from '../../src/service.ts';
import type { WebhookEvent } from '../../src/webhook/events.ts';
import { eventKey } from '../../src/webhook/parse.ts';
import { createTestEnv, waitFor } from '../helpers/env.ts';
import { pushFdr } from '../helpers/push.ts';
import { fdrEvent, readFixture } from '../helpers/fixtures.ts';
import { isSendOf } from '../helpers/outbox.ts';

const env = createTestEnv('dlr');
const TOKEN = 'dlr-test-webhook-token';
const SEED_SHIPMENT = '4980116095129-90758';
let sandbox: Sandbox;
let service: Service;

const seedReport = (
  JSON.parse(readFixture<{ response: string }>('gupshup-dlr-sent.json').response) as Record<
    string,
    unknown
  >[]
)[0]!;

const CODES = {
  SENT: { errorCode: '025', cause: 'SENT' },
  DELIVERED: { errorCode: '000', cause: 'SUCCESS' },
  READ: { errorCode: '026', cause: 'READ' },
} as const;

/** The seed's report for `externalId`, as another event type at another time. */
function report(
  externalId: string,
  eventType: string,
  eventTs: number,
  patch: Record<string, unknown> = {},
) {
  const codes = CODES[eventType as keyof typeof CODES] ?? {};
  return { ...seedReport, externalId, eventType, eventTs, ...codes, ...patch };
}

/** Posts reports the way Gupshup does: a form field `response` holding a JSON array. */
async function postReports(...reports: Record<string, unknown>[]) {
  const res = await request(`${service.url}${WEBHOOK_PATH}?token=${TOKEN}`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ response: JSON.stringify(reports) }).toString(),
  });
  expect(res.statusCode).toBe(200);
  expect(await res.body.text()).toBe('');
}

/** A v3 (Meta-format) status for our message `gsId`, as test/fixtures/webhook/ has them. */
function v3Status(
  gsId: string,
  status: string,
  seconds: number,
  patch: Record<string, unknown> = {},
) {
  return {
    gs_id: gsId,
    id: `wamid.HBgM${gsId.replace(/\D/g, '').slice(0, 20)}`,
    status,
    timestamp: String(seconds),
    recipient_id: '919650186697',
    ...patch,
  };
}

/** Posts statuses as Gupshup's v3 callback: Meta's webhook body, as JSON. */
async function postV3(...statuses: Record<string, unknown>[]) {
  const body = readFixture<{ entry: { changes: { value: Record<string, unknown> }[] }[] }>(
    'webhook/v3-status-sent.json',
  );
  body.entry[0]!.changes[0]!.value.statuses = statuses;
  const res = await request(`${service.url}${WEBHOOK_PATH}?token=${TOKEN}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  expect(res.statusCode).toBe(200);
  await res.body.dump();
}

function keyOf(externalId: string, eventType: string): string {
  const event: WebhookEvent = {
    kind: 'dlr',
    report: {
      source: 'enterprise',
      externalId,
      eventType,
      cause: null,
      errorCode: null,
      destAddr: null,
      srcAddr: null,
      eventTs: null,
      extra: null,
    },
  };
  return eventKey(event);
}

/** Waits until the stored event for (externalId, eventType) is handled; returns its row. */
async function handled(externalId: string, eventType: string) {
  return waitFor(
    async () => {
      const [row] = await service.deps.db
        .select()
        .from(webhookEvents)
        .where(eq(webhookEvents.eventKey, keyOf(externalId, eventType)));
      return row && row.status !== 'received' ? row : null;
    },
    { what: `${eventType} for ${externalId} to be handled` },
  );
}

async function statusLog(messageId: string) {
  const [row] = await service.deps.db
    .select()
    .from(whatsappStatusLogs)
    .where(eq(whatsappStatusLogs.messageId, messageId));
  return row!;
}

function remarksOf(row: { remarks: string | null }): Record<string, unknown>[] {
  return JSON.parse(row.remarks ?? '[]') as Record<string, unknown>[];
}

/** Sends the seed FDR event (optionally for another shipment) and returns the sent outbox row. */
async function sendFdr(shipmentId = SEED_SHIPMENT) {
  await pushFdr(service, fdrEvent({ shipmentId }), `push-${shipmentId}`);
  return waitFor(
    async () => {
      const [row] = await service.deps.db
        .select()
        .from(notificationOutbox)
        .where(eq(notificationOutbox.shipmentId, shipmentId));
      return row?.status === 'sent' && row.gupshupMessageId && row.sentAt ? row : null;
    },
    { what: `the FDR message for ${shipmentId} to be sent` },
  );
}

async function timeline(shipmentId: string, count: number) {
  return waitFor(
    async () => {
      const entries = await listShipmentActivity(service.deps.db, shipmentId);
      return entries.length >= count ? entries : null;
    },
    { what: `${count} timeline entries for ${shipmentId}` },
  );
}

beforeAll(async () => {
  sandbox = await startSandbox({ port: 0, host: '127.0.0.1' });
  service = await startService(
    env.config({ GUPSHUP_ENTERPRISE_URL: sandbox.url, WEBHOOK_TOKEN: TOKEN }),
    ['api', 'worker'],
  );
  await saveAccountSettings(service.deps.db, 379, { enabled: true });
});

afterAll(async () => {
  await service?.close();
  await sandbox?.close();
  await env.dropDatabase();
});

describe('delivery reports for the seed message', () => {
  it('SENT, READ, a late DELIVERED, READ again: ends READ at the READ time, three timeline entries', async () => {
    const outbox = await sendFdr();
    const id = outbox.gupshupMessageId!;
    const sentAt = outbox.sentAt!.getTime();
    expect((await statusLog(id)).status).toBe('SUBMITTED');

    // The seed's own SENT report, for the id the sandbox answered.
    await postReports({ ...seedReport, externalId: id, eventTs: sentAt + 1_000 });
    await handled(id, 'SENT');
    expect(await statusLog(id)).toMatchObject({
      status: 'SENT',
      externalUpdatedAt: new Date(sentAt + 1_000),
    });

    await postReports(report(id, 'READ', sentAt + 5_000));
    await handled(id, 'READ');
    await postReports(report(id, 'DELIVERED', sentAt + 3_000));
    expect((await handled(id, 'DELIVERED')).note).toBe('stays READ');
    await postReports(report(id, 'READ', sentAt + 5_000));

    const row = await statusLog(id);
    expect(row.status).toBe('READ');
    expect(row.externalUpdatedAt).toEqual(new Date(sentAt + 5_000));
    expect(remarksOf(row).map((r) => [r.eventType, r.errorCode, r.applied])).toEqual([
      ['SENT', '025', true],
      ['READ', '026', true],
      ['DELIVERED', '000', false],
    ]);

    const readEvents = await service.deps.db
      .select()
      .from(webhookEvents)
      .where(eq(webhookEvents.eventKey, keyOf(id, 'READ')));
    expect(readEvents).toHaveLength(1);

    const entries = await timeline(SEED_SHIPMENT, 3);
    expect(entries.map((e) => [e.kind, e.details.status])).toEqual([
      ['whatsapp_notified', undefined],
      ['whatsapp_status', 'SENT'],
      ['whatsapp_status', 'READ'],
    ]);
    const [notified, sent, read] = entries;
    expect(sent!.title).toBe('WhatsApp message sent');
    expect(read!.title).toBe('WhatsApp message read by the customer');
    // The seed's data points: app name, from, to, sent on, status, time; read time.
    const common = {
      appName: notified!.details.appName,
      fromNumber: notified!.details.fromNumber,
      toNumber: notified!.details.toNumber,
      sentOn: outbox.sentAt!.toISOString(),
    };
    expect(common).toEqual({
      appName: 'eshopbox',
      fromNumber: '919319278973',
      toNumber: '7891971009',
      sentOn: new Date(sentAt).toISOString(),
    });
    expect(sent!.details).toMatchObject({
      ...common,
      status: 'SENT',
      time: new Date(sentAt + 1_000).toISOString(),
    });
    expect(sent!.details).not.toHaveProperty('readTime');
    expect(read!.details).toMatchObject({
      ...common,
      status: 'READ',
      time: new Date(sentAt + 5_000).toISOString(),
      readTime: new Date(sentAt + 5_000).toISOString(),
    });
    // Each entry is published to the activity topic.
    await waitFor(async () => {
      const all = await listShipmentActivity(service.deps.db, SEED_SHIPMENT);
      return all.every((e) => e.publishedAt !== null);
    });
    expect(await listShipmentActivity(service.deps.db, SEED_SHIPMENT)).toHaveLength(3);
  });

  it('ignores a FAILED after DELIVERED, in one batch as in separate posts', async () => {
    const outbox = await sendFdr('DLR-FAIL-LATE');
    const id = outbox.gupshupMessageId!;
    const at = outbox.sentAt!.getTime();
    await postReports(report(id, 'DELIVERED', at + 2_000), report(id, 'SENT', at + 1_000));
    await handled(id, 'DELIVERED');
    await handled(id, 'SENT');
    await postReports(
      report(id, 'FAILED', at + 4_000, { errorCode: '003', cause: 'UNKNOWN_SUBSCRIBER' }),
    );
    await handled(id, 'FAILED');
    const row = await statusLog(id);
    expect(row.status).toBe('DELIVERED');
    expect(row.externalUpdatedAt).toEqual(new Date(at + 2_000));
    const entries = await timeline('DLR-FAIL-LATE', 2);
    expect(entries.map((e) => e.details.status ?? e.kind)).not.toContain('FAILED');
    expect(
      entries.filter((e) => e.kind === 'whatsapp_status').map((e) => e.details.status),
    ).toEqual(expect.arrayContaining(['DELIVERED']));
  });

  it('turns an unknown code into FAILED and keeps the raw code and cause in remarks', async () => {
    const outbox = await sendFdr('DLR-UNKNOWN-CODE');
    const id = outbox.gupshupMessageId!;
    const at = outbox.sentAt!.getTime();
    await postReports(
      report(id, 'UNDELIVERABLE', at + 1_000, { errorCode: '777', cause: 'SOMETHING_NEW' }),
    );
    expect((await handled(id, 'UNDELIVERABLE')).status).toBe('processed');
    const row = await statusLog(id);
    expect(row.status).toBe('FAILED');
    expect(remarksOf(row)).toEqual([
      expect.objectContaining({
        eventType: 'UNDELIVERABLE',
        errorCode: '777',
        cause: 'SOMETHING_NEW',
        mapped: 'FAILED',
        known: false,
        applied: true,
      }),
    ]);
    const entries = await timeline('DLR-UNKNOWN-CODE', 2);
    const failed = entries.find((e) => e.details.status === 'FAILED');
    expect(failed?.title).toBe('WhatsApp message failed: SOMETHING_NEW, code 777');
    expect(failed?.details).toMatchObject({ errorCode: '777', cause: 'SOMETHING_NEW' });

    // A DELIVERED after the failure proves it wrong (WhatsApp multi-device).
    await postReports(report(id, 'DELIVERED', at + 2_000));
    await handled(id, 'DELIVERED');
    expect((await statusLog(id)).status).toBe('DELIVERED');
  });

  it('finds the message by the first half of its id, and by its correlation key echoed in extra', async () => {
    const outbox = await sendFdr('DLR-OTHER-KEYS');
    const id = outbox.gupshupMessageId!;
    const at = outbox.sentAt!.getTime();
    const firstHalf = id.split('-')[0]!;
    await postReports(report(firstHalf, 'SENT', at + 1_000));
    await handled(firstHalf, 'SENT');
    expect((await statusLog(id)).status).toBe('SENT');
    expect(outbox.correlationKey).toMatch(/^fdr-DLR-OTHER-KEYS-1\.[\w-]{22}$/);
    await postReports(
      report('9999999999999999999-1', 'DELIVERED', at + 2_000, { extra: outbox.correlationKey }),
    );
    expect((await handled('9999999999999999999-1', 'DELIVERED')).status).toBe('processed');
    expect((await statusLog(id)).status).toBe('DELIVERED');
  });

  it('ignores a forged report naming the guessable key, or any part of the correlation key', async () => {
    const outbox = await sendFdr('DLR-FORGED');
    const id = outbox.gupshupMessageId!;
    const at = outbox.sentAt!.getTime();
    const key = outbox.correlationKey!;
    const forged = [
      ['8888888888888888881-1', outbox.idempotencyKey],
      ['8888888888888888882-1', key.slice(0, -1)],
      ['8888888888888888883-1', `${key}x`],
      ['8888888888888888884-1', key.toUpperCase()],
    ] as const;
    for (const [externalId, extra] of forged) {
      await postReports(report(externalId, 'READ', at + 1_000, { extra }));
    }
    for (const [externalId] of forged) {
      const event = await handled(externalId, 'READ');
      expect([event.status, event.note]).toEqual(['ignored', 'unknown message']);
    }
    const row = await statusLog(id);
    expect(row.status).toBe('SUBMITTED');
    expect(remarksOf(row)).toEqual([]);
    expect((await listShipmentActivity(service.deps.db, 'DLR-FORGED')).map((e) => e.kind)).toEqual([
      'whatsapp_notified',
    ]);
    const [after] = await service.deps.db
      .select()
      .from(notificationOutbox)
      .where(eq(notificationOutbox.id, outbox.id));
    expect(after).toMatchObject({ gupshupMessageId: id, correlationKey: key });
  });

  it('never matches a row written before correlation keys by extra', async () => {
    const outbox = await sendFdr('DLR-LEGACY');
    // As a row from before the migration: no correlation key.
    await service.deps.db
      .update(notificationOutbox)
      .set({ correlationKey: null })
      .where(eq(notificationOutbox.id, outbox.id));
    await postReports(
      report('8888888888888888885-1', 'READ', outbox.sentAt!.getTime() + 1_000, {
        extra: outbox.idempotencyKey,
      }),
    );
    const event = await handled('8888888888888888885-1', 'READ');
    expect([event.status, event.note]).toEqual(['ignored', 'unknown message']);
    expect((await statusLog(outbox.gupshupMessageId!)).status).toBe('SUBMITTED');
    // Reports naming its Gupshup id still apply.
    await postReports(report(outbox.gupshupMessageId!, 'READ', outbox.sentAt!.getTime() + 2_000));
    await handled(outbox.gupshupMessageId!, 'READ');
    expect((await statusLog(outbox.gupshupMessageId!)).status).toBe('READ');
  });

  it('takes reports with an absurd eventTs, dated when received, and fails no job', async () => {
    const outbox = await sendFdr('DLR-ABSURD-TS');
    const id = outbox.gupshupMessageId!;
    const postedAt = Date.now();
    // 1e20 ms and the year 300000: neither a JavaScript Date nor a MySQL DATETIME holds them.
    await postReports(report(id, 'SENT', 1e20));
    const sent = await handled(id, 'SENT');
    await postReports(report(id, 'READ', Date.UTC(300_000, 0, 1)));
    const read = await handled(id, 'READ');
    expect([sent.status, read.status]).toEqual(['processed', 'processed']);
    const row = await statusLog(id);
    expect(row.status).toBe('READ');
    // The report's time is dropped; it is dated when the service received it.
    expect(row.externalUpdatedAt!.getTime()).toBe(read.createdAt.getTime());
    expect(row.externalUpdatedAt!.getTime()).toBeGreaterThanOrEqual(postedAt - 1_000);
    expect(remarksOf(row).map((r) => r.eventTs)).toEqual([null, null]);
    const statuses = (await timeline('DLR-ABSURD-TS', 3)).filter(
      (e) => e.kind === 'whatsapp_status',
    );
    for (const entry of statuses) {
      expect(new Date(entry.details.time as string).getUTCFullYear()).toBe(
        new Date().getUTCFullYear(),
      );
    }
    expect(await service.deps.queues['dlr.process'].getFailedCount()).toBe(0);
  });

  it('waits for a send still committing when its report overtakes it', async () => {
    const id = '4921687316728868875-100000000000000001';
    sandbox.nextMessageIds(id);
    // Gupshup answers the send late; its report arrives before the answer does.
    sandbox.failNext({ kind: 'delay', ms: 1_500 });
    await service.app!.inject({
      method: 'POST',
      url: '/pubsub/push',
      payload: {
        message: {
          data: Buffer.from(JSON.stringify(fdrEvent({ shipmentId: 'DLR-RACE' }))).toString(
            'base64',
          ),
          messageId: 'push-race',
        },
      },
    });
    await waitFor(() => sandbox.sends.some((s) => isSendOf(s, 'fdr-DLR-RACE-1')));
    await postReports(report(id, 'SENT', Date.now(), { destAddr: '917891971009' }));
    const event = await handled(id, 'SENT');
    expect(event.status).toBe('processed');
    expect((await statusLog(id)).status).toBe('SENT');
  });

  it('takes the reports the sandbox posts back, duplicated, and a failure code', async () => {
    sandbox.setCallback({
      url: `${service.url}${WEBHOOK_PATH}?token=${TOKEN}`,
      delaysMs: { sent: 100, delivered: 400, read: 700 },
    });
    try {
      sandbox.nextDlr(
        { duplicate: true },
        { fail: { errorCode: '022', cause: 'BLOCKED_FOR_USER' } },
      );
      const delivered = await sendFdr('DLR-SANDBOX');
      const blocked = await sendFdr('DLR-SANDBOX-FAIL');
      await waitFor(async () => (await statusLog(delivered.gupshupMessageId!)).status === 'READ', {
        what: 'the sandbox reports to bring the message to READ',
      });
      await waitFor(async () => (await statusLog(blocked.gupshupMessageId!)).status === 'FAILED', {
        what: 'the sandbox failure report',
      });
      // Six posts for the first message (each report twice) and one for the second, all taken.
      await waitFor(() => sandbox.callbacks.filter((c) => c.kind === 'dlr').length >= 7);
      expect(sandbox.callbacks.filter((c) => c.status !== 200)).toEqual([]);

      // The timeline entry of a status follows the status row's commit: wait for READ's.
      const statuses = await waitFor(
        async () => {
          const list = (await timeline('DLR-SANDBOX', 2))
            .filter((e) => e.kind === 'whatsapp_status')
            .map((e) => e.details.status);
          return list.includes('READ') ? list : null;
        },
        { what: 'the READ entry on the timeline' },
      );
      // Each status at most once, in order, ending READ (reports are 300 ms apart, so normally
      // all three; a slow worker may find an earlier one overtaken).
      expect(new Set(statuses).size).toBe(statuses.length);
      expect(statuses.at(-1)).toBe('READ');
      expect(['SENT', 'DELIVERED', 'READ'].filter((s) => statuses.includes(s))).toEqual(statuses);

      const failed = (await timeline('DLR-SANDBOX-FAIL', 2)).find(
        (e) => e.details.status === 'FAILED',
      );
      expect(failed?.title).toBe('WhatsApp message failed: BLOCKED_FOR_USER, code 022');
    } finally {
      sandbox.setCallback(null);
    }
  });

  it("applies v3 (Meta-format) statuses by gs_id; ENQUEUED moves nothing; Meta's code is kept", async () => {
    const outbox = await sendFdr('DLR-V3');
    const id = outbox.gupshupMessageId!;
    const at = Math.floor(outbox.sentAt!.getTime() / 1_000) + 1;
    await postV3(v3Status(id, 'enqueued', at), v3Status(id, 'sent', at + 1));
    expect((await handled(id, 'ENQUEUED')).note).toBe('ENQUEUED is not a delivery status');
    await handled(id, 'SENT');
    expect((await statusLog(id)).status).toBe('SENT');
    await postV3(
      v3Status(id, 'failed', at + 2, {
        errors: [{ code: 131026, title: 'Message undeliverable' }],
      }),
    );
    expect((await handled(id, 'FAILED')).status).toBe('processed');
    const row = await statusLog(id);
    expect(row.status).toBe('FAILED');
    expect(row.externalUpdatedAt).toEqual(new Date((at + 2) * 1_000));
    expect(remarksOf(row)).toEqual([
      expect.objectContaining({
        source: 'v3',
        eventType: 'ENQUEUED',
        mapped: null,
        applied: false,
      }),
      expect.objectContaining({ source: 'v3', eventType: 'SENT', mapped: 'SENT', applied: true }),
      expect.objectContaining({
        source: 'v3',
        eventType: 'FAILED',
        errorCode: '131026',
        cause: 'Message undeliverable',
        mapped: 'FAILED',
        known: true,
        applied: true,
      }),
    ]);
    const entries = await timeline('DLR-V3', 3);
    const failed = entries.find((e) => e.details.status === 'FAILED');
    expect(failed?.title).toBe('WhatsApp message failed: Message undeliverable, code 131026');
  });

  it('stores a report for an unknown message and marks it ignored', async () => {
    const unknown = '1111111111111111111-222222222222222222';
    await postReports(report(unknown, 'SENT', Date.now(), { destAddr: '919000000001' }));
    const row = await handled(unknown, 'SENT');
    expect(row).toMatchObject({ status: 'ignored', note: 'unknown message' });
    const logs = await service.deps.db
      .select()
      .from(whatsappStatusLogs)
      .where(eq(whatsappStatusLogs.messageId, unknown));
    expect(logs).toHaveLength(0);
  });
});
