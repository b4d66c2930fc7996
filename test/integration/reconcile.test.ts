/**
 * Sends whose outcome we never learned (Gupshup answered too late): the delivery report that
 * echoes our key in `extra` proves Gupshup accepted the message, so the retry records it instead
 * of sending again. Without such a report, the retry waits SEND_RECONCILE_MS and then sends.
 */
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';

import { listShipmentActivity } from '../../src/db/activity.ts';
import { whatsappStatusLogs } from '../../src/db/schema.ts';
import { saveAccountSettings } from '../../src/db/settings.ts';
import { startSandbox, type Sandbox } from '../../src/sandbox/server.ts';
import { startService, type Service } from '../../src/service.ts';
import { createTestEnv, waitFor } from '../helpers/env.ts';
import { fdrEvent } from '../helpers/fixtures.ts';
import { pushFdr } from '../helpers/push.ts';
import { outboxOf } from '../helpers/outbox.ts';

const TOKEN = 'reconcile-webhook-token';
const TIMEOUT_MS = 300;
const RECONCILE_MS = 3_000;
/** Longer than the client waits: the send goes out after the service gave up on it. */
const LATE_ANSWER_MS = 700;

const env = createTestEnv('reconcile');
let sandbox: Sandbox;
let service: Service;

function sendsOf(shipmentId: string) {
  return sandbox.sends.filter((s) => s.params.msg_id === `fdr-${shipmentId}-1`);
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
    expect(only!.params.extra).toBe(row.idempotencyKey);
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

    await sent(shipment);
    const [first, second] = sendsOf(shipment);
    expect(sendsOf(shipment)).toHaveLength(2);
    expect(second!.at.getTime() - first!.at.getTime()).toBeLessThan(RECONCILE_MS);
  });
});
