/**
 * Sends whose outcome we never learned (Gupshup answered too late): the delivery report that
 * echoes the row's correlation key in `extra` proves Gupshup accepted the message, so the retry
 * records it instead of sending again. Without such a report, the retry waits SEND_RECONCILE_MS
 * and then sends — and a forged report naming only the guessable idempotency key is no such
 * report. Every attempt carries the same correlation key.
 */
import { eq } from 'drizzle-orm';
import { request } from 'undici';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';

import { listShipmentActivity } from '../../src/db/activity.ts';
import { webhookEvents, whatsappStatusLogs } from '../../src/db/schema.ts';
import { saveAccountSettings } from '../../src/db/settings.ts';
import { WEBHOOK_PATH } from '../../src/http/routes/gupshup-webhook.ts';
import { startSandbox, type Sandbox } from '../../src/sandbox/server.ts';
import { startService, type Service } from '../../src/service.ts';
import { eventKey } from '../../src/webhook/parse.ts';
import { createTestEnv, waitFor } from '../helpers/env.ts';
import { fdrEvent, readFixture } from '../helpers/fixtures.ts';
import { pushFdr } from '../helpers/push.ts';
import { isSendOf, outboxOf } from '../helpers/outbox.ts';

const TOKEN = 'reconcile-webhook-token';
const TIMEOUT_MS = 300;
const RECONCILE_MS = 3_000;
/** Longer than the client waits: the send goes out after the service gave up on it. */
const LATE_ANSWER_MS = 700;

const env = createTestEnv('reconcile');
let sandbox: Sandbox;
let service: Service;

function sendsOf(shipmentId: string) {
  return sandbox.sends.filter((s) => isSendOf(s, `fdr-${shipmentId}-1`));
}

const seedReport = (
  JSON.parse(readFixture<{ response: string }>('gupshup-dlr-sent.json').response) as Record<
    string,
    unknown
  >[]
)[0]!;

/** Posts one SENT report as Gupshup would, naming `externalId` and carrying `extra`. */
async function postSentReport(externalId: string, extra: string) {
  const report = { ...seedReport, externalId, extra, eventTs: Date.now() };
  const res = await request(`${service.url}${WEBHOOK_PATH}?token=${TOKEN}`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ response: JSON.stringify([report]) }).toString(),
  });
  expect(res.statusCode).toBe(200);
  await res.body.dump();
  const key = eventKey({
    kind: 'dlr',
    report: {
      source: 'enterprise',
      externalId,
      eventType: String(seedReport.eventType).toUpperCase(),
      cause: null,
      errorCode: null,
      destAddr: null,
      srcAddr: null,
      eventTs: null,
      extra: null,
    },
  });
  return waitFor(
    async () => {
      const [row] = await service.deps.db
        .select()
        .from(webhookEvents)
        .where(eq(webhookEvents.eventKey, key));
      return row && row.status !== 'received' ? row : null;
    },
    { what: `the report for ${externalId} to be handled` },
  );
}

async function sent(shipmentId: string) {
  return waitFor(
    async () => {
      const row = await outboxOf(service.deps.db, shipmentId);
      return row?.status === 'sent' ? row : null;
    },
    { what: `the message for ${shipmentId} to be recorded as sent` },
  );
}

beforeAll(async () => {
  sandbox = await startSandbox({ port: 0, host: '127.0.0.1' });
  service = await startService(
    env.config({
      GUPSHUP_ENTERPRISE_URL: sandbox.url,
      GUPSHUP_TIMEOUT_MS: String(TIMEOUT_MS),
      SEND_RECONCILE_MS: String(RECONCILE_MS),
      WEBHOOK_TOKEN: TOKEN,
    }),
    ['api', 'worker'],
  );
  await saveAccountSettings(service.deps.db, 379, { enabled: true });
});

beforeEach(() => sandbox.reset());

afterAll(async () => {
  await service?.close();
  await sandbox?.close();
  await env.dropDatabase();
});

describe('a send that timed out', () => {
  it('is recorded from the delivery report that names it, and not sent again', async () => {
    const shipment = 'RECON-DLR';
    sandbox.setCallback({
      url: `${service.url}/api/_ah/v1/message?token=${TOKEN}`,
      delaysMs: { sent: 50, delivered: null, read: null },
    });
    sandbox.failNext({ kind: 'delay', ms: LATE_ANSWER_MS });
    await pushFdr(service, fdrEvent({ shipmentId: shipment }), 'r');

    const row = await sent(shipment);
    const [only] = sendsOf(shipment);
    expect(sendsOf(shipment)).toHaveLength(1);
    expect(only!.outcome).toBe('success');
    expect(row.correlationKey).toMatch(/^fdr-RECON-DLR-1\.[\w-]{22}$/);
    expect(only!.params.extra).toBe(row.correlationKey);
    expect(only!.params.msg_id).toBe(row.correlationKey);
    expect(row.gupshupMessageId).toBe(only!.messageId);
    expect(row.attempts).toBe(1);
    // Recorded as soon as the report came, not at the end of the wait.
    expect(row.sentAt!.getTime() - only!.at.getTime()).toBeLessThan(RECONCILE_MS);

    // The report that was waiting for the send now applies, and the timeline has both steps.
    await waitFor(
      async () => {
        const [log] = await service.deps.db
          .select()
          .from(whatsappStatusLogs)
          .where(eq(whatsappStatusLogs.messageId, row.gupshupMessageId!));
        return log?.status === 'SENT';
      },
      { what: 'the SENT report to apply' },
    );
    const kinds = await waitFor(async () => {
      const k = (await listShipmentActivity(service.deps.db, shipment)).map((a) => a.kind);
      return k.length === 2 ? k : null;
    });
    expect(kinds).toEqual(['whatsapp_notified', 'whatsapp_status']);
    // Still one message, well after the retry would have sent a second.
    expect(sendsOf(shipment)).toHaveLength(1);
  });

  it('without a delivery report, is sent again only after SEND_RECONCILE_MS', async () => {
    const shipment = 'RECON-NONE';
    sandbox.setCallback(null);
    sandbox.failNext({ kind: 'delay', ms: LATE_ANSWER_MS });
    await pushFdr(service, fdrEvent({ shipmentId: shipment }), 'r');

    const row = await sent(shipment);
    const [first, second] = sendsOf(shipment);
    expect(sendsOf(shipment)).toHaveLength(2);
    expect(row.attempts).toBe(2);
    expect(row.gupshupMessageId).toBe(second!.messageId);
    // The retry waited for a report from the time the first attempt gave up (without the wait
    // it would have gone out MESSAGE_SEND_BACKOFF_MS after the timeout).
    expect(second!.at.getTime() - first!.at.getTime()).toBeGreaterThanOrEqual(RECONCILE_MS);
  });

  it('after a Gupshup error answer, is sent again without waiting', async () => {
    const shipment = 'RECON-ERR';
    sandbox.setCallback(null);
    sandbox.failNext({ kind: 'error', id: '100' });
    await pushFdr(service, fdrEvent({ shipmentId: shipment }), 'r');

    const row = await sent(shipment);
    const [first, second] = sendsOf(shipment);
    expect(sendsOf(shipment)).toHaveLength(2);
    expect(second!.at.getTime() - first!.at.getTime()).toBeLessThan(RECONCILE_MS);
    // The retry sends the very value the first attempt sent: the one stored with the row.
    for (const attempt of [first!, second!]) {
      expect(attempt.params.msg_id).toBe(row.correlationKey);
      expect(attempt.params.extra).toBe(row.correlationKey);
    }
  });

  it('is not reconciled by a forged report naming its guessable key: the retry waits, then sends', async () => {
    const shipment = 'RECON-FORGED';
    sandbox.setCallback(null);
    sandbox.failNext({ kind: 'delay', ms: LATE_ANSWER_MS });
    await pushFdr(service, fdrEvent({ shipmentId: shipment }), 'r');
    // The first attempt timed out: its outcome is unknown, so the retry waits for a report.
    const waiting = await waitFor(
      async () => {
        const row = await outboxOf(service.deps.db, shipment);
        return row?.status === 'sending' && row.errorCode === 'timeout' ? row : null;
      },
      { what: 'the first attempt to time out' },
    );
    const forged = await postSentReport('7777777777777777777-1', `fdr-${shipment}-1`);
    expect([forged.status, forged.note]).toEqual(['ignored', 'unknown message']);
    expect((await outboxOf(service.deps.db, shipment))?.gupshupMessageId).toBeNull();

    const row = await sent(shipment);
    const [first, second] = sendsOf(shipment);
    expect(sendsOf(shipment)).toHaveLength(2);
    expect(row.attempts).toBe(2);
    expect(row.gupshupMessageId).toBe(second!.messageId);
    expect(row.correlationKey).toBe(waiting.correlationKey);
    // Not promoted by the forged report: the retry waited out SEND_RECONCILE_MS.
    expect(second!.at.getTime() - first!.at.getTime()).toBeGreaterThanOrEqual(RECONCILE_MS);
    const forgedLog = await service.deps.db
      .select()
      .from(whatsappStatusLogs)
      .where(eq(whatsappStatusLogs.messageId, '7777777777777777777-1'));
    expect(forgedLog).toEqual([]);
    const kinds = (await listShipmentActivity(service.deps.db, shipment)).map((a) => a.kind);
    expect(kinds).toEqual(['whatsapp_notified']);
  });
});
