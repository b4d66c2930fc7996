/**
 * The backbone end to end, on real Redis, MariaDB and the Pub/Sub emulator, with the Gupshup
 * sandbox in process: an FDR event published to the topic becomes exactly one SendMessage.
 */
import { Writable } from 'node:stream';

import type { Message, Subscription } from '@google-cloud/pubsub';
import { and, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { notificationOutbox, whatsappStatusLogs } from '../../src/db/schema.ts';
import { createLog } from '../../src/log.ts';
import { startService, type Service } from '../../src/service.ts';
import { startSandbox, type Sandbox } from '../../src/sandbox/server.ts';
import { API_TOKEN, createTestEnv, waitFor } from '../helpers/env.ts';
import { fdrEvent } from '../helpers/fixtures.ts';
import { keyOfSend, outboxOf } from '../helpers/outbox.ts';

const SHIPMENT = '4980116095129-90758';
const env = createTestEnv('backbone');
let sandbox: Sandbox;
let service: Service;
const logLines: Record<string, unknown>[] = [];
const activityMessages: Record<string, unknown>[] = [];
let activitySub: Subscription;

function api(path: string, init: RequestInit = {}) {
  return fetch(`${service.url}${path}`, {
    ...init,
    headers: {
      authorization: `Bearer ${API_TOKEN}`,
      'content-type': 'application/json',
      ...init.headers,
    },
  });
}

async function enable(accountId: number) {
  const res = await api(`/v1/accounts/${accountId}/whatsapp-settings`, {
    method: 'PUT',
    body: JSON.stringify({ enabled: true }),
  });
  expect(res.status).toBe(200);
}

async function publish(event: unknown) {
  await service.deps.pubsub.topic(env.env.FDR_TOPIC!).publishMessage({ json: event });
}

async function timeline(shipmentId: string) {
  const res = await api(`/v1/shipments/${encodeURIComponent(shipmentId)}/activity`);
  expect(res.status).toBe(200);
  return (
    (await res.json()) as {
      activity: { kind: string; title: string; details: Record<string, unknown> }[];
    }
  ).activity;
}

function sendsTo(shipmentPrefix: string) {
  return sandbox.sends.filter((s) => s.params.msg_id?.startsWith(`fdr-${shipmentPrefix}`));
}

beforeAll(async () => {
  sandbox = await startSandbox({ port: 0, host: '127.0.0.1' });
  const capture = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString('utf8').split('\n').filter(Boolean)) {
        logLines.push(JSON.parse(line) as Record<string, unknown>);
      }
      done();
    },
  });
  const config = env.config({ GUPSHUP_ENTERPRISE_URL: sandbox.url, LOG_LEVEL: 'info' });
  service = await startService(config, ['api', 'worker', 'subscriber'], {
    log: createLog('info', capture),
  });
  const [sub] = await service.deps.pubsub
    .topic(config.ACTIVITY_TOPIC)
    .createSubscription(`activity-watch-${env.id}`);
  activitySub = sub;
  activitySub.on('message', (m: Message) => {
    activityMessages.push(JSON.parse(m.data.toString('utf8')) as Record<string, unknown>);
    m.ack();
  });
});

afterAll(async () => {
  await activitySub?.close();
  await service?.close();
  await sandbox?.close();
  await env.dropDatabase();
});

describe('FDR event to WhatsApp message', () => {
  it('sends the OTP-cancellation template for the seed event once, and records it', async () => {
    await enable(379);
    await publish(fdrEvent());

    await waitFor(() => sendsTo(SHIPMENT).length === 1, {
      timeoutMs: 5_000,
      what: 'one SendMessage',
    });
    const send = sendsTo(SHIPMENT)[0]!;
    expect(send.params.method).toBe('SendMessage');
    expect(send.params.send_to).toBe('917891971009');
    expect(send.params.userid).toBe('2000000001');
    expect(send.params.isTemplate).toBe('true');
    expect(send.params.msg).toContain('Hello Aman!');
    expect(send.params.msg).toContain('order ID 4980116095129 having 1 items');
    expect(send.params.msg).toContain('requested to cancel this order');
    expect(send.params.msg).toContain('1 Advance Whey Protein with 20 Vitamins & Minerals');
    // The outbox row's correlation key: its idempotency key and a random part, in both fields.
    const outbox = await outboxOf(service.deps.db, SHIPMENT);
    expect(outbox?.correlationKey).toMatch(new RegExp(`^fdr-${SHIPMENT}-1\\.[\\w-]{22}$`));
    expect(send.params.msg_id).toBe(outbox!.correlationKey);
    expect(send.params.extra).toBe(outbox!.correlationKey);

    const { db } = service.deps;
    const logRow = await waitFor(async () => {
      const [row] = await db
        .select()
        .from(whatsappStatusLogs)
        .where(eq(whatsappStatusLogs.shipmentId, SHIPMENT));
      return row;
    });
    expect(logRow.messageId).toMatch(/^\d+-\d+$/);
    expect(logRow.status).toBe('SUBMITTED');

    const entries = await waitFor(async () => {
      const t = await timeline(SHIPMENT);
      return t.some((e) => e.kind === 'whatsapp_notified') ? t : null;
    });
    const notified = entries.find((e) => e.kind === 'whatsapp_notified')!;
    expect(notified.title).toBe('Eshopbox notified Aman Verma');
    expect(notified.details).toMatchObject({
      appName: 'eshopbox',
      fromNumber: '919319278973',
      toNumber: '7891971009',
      messageId: logRow.messageId,
    });
    expect(typeof notified.details.sentOn).toBe('string');

    const published = await waitFor(() =>
      activityMessages.find((m) => m.shipmentId === SHIPMENT && m.kind === 'whatsapp_notified'),
    );
    expect(published.title).toBe('Eshopbox notified Aman Verma');
  });

  it('sends once however often the same attempt is published', async () => {
    const shipment = 'DUP-0001';
    await publish(fdrEvent({ shipmentId: shipment }));
    await publish(fdrEvent({ shipmentId: shipment }));
    await publish(fdrEvent({ shipmentId: shipment }));
    await waitFor(
      () =>
        logLines.filter(
          (l) =>
            l.shipmentId === shipment &&
            (l.msg === 'FDR event recorded' || l.msg === 'FDR event redelivered'),
        ).length === 3,
      { what: 'three deliveries taken in' },
    );
    await waitFor(() => sendsTo(shipment).length >= 1);
    const [outbox] = await service.deps.db
      .select()
      .from(notificationOutbox)
      .where(eq(notificationOutbox.shipmentId, shipment));
    await waitFor(async () => {
      const [row] = await service.deps.db
        .select()
        .from(notificationOutbox)
        .where(eq(notificationOutbox.id, outbox!.id));
      return row?.status === 'sent';
    });
    expect(sendsTo(shipment)).toHaveLength(1);
    expect(
      logLines.filter((l) => l.shipmentId === shipment && l.msg === 'FDR event redelivered'),
    ).toHaveLength(2);
  });

  it('sends again for the next failed-delivery attempt', async () => {
    const shipment = 'ATT-0001';
    await publish(fdrEvent({ shipmentId: shipment, attempt: 1 }));
    await waitFor(() => sendsTo(shipment).length === 1);
    await publish(fdrEvent({ shipmentId: shipment, attempt: 2 }));
    await waitFor(() => sendsTo(shipment).length === 2);
    expect(sendsTo(shipment).map(keyOfSend).sort()).toEqual([
      `fdr-${shipment}-1`,
      `fdr-${shipment}-2`,
    ]);
    // The sandbox records a send as it answers; the status log row follows once the worker commits.
    await waitFor(
      async () => {
        const rows = await service.deps.db
          .select()
          .from(whatsappStatusLogs)
          .where(eq(whatsappStatusLogs.shipmentId, shipment));
        return rows.length === 2;
      },
      { what: 'two status log rows' },
    );
  });

  it('sends nothing for an account that never enabled WhatsApp, and says why', async () => {
    const shipment = 'OFF-0001';
    await publish(fdrEvent({ shipmentId: shipment, accountId: 4242 }));
    const entries = await waitFor(async () => {
      const t = await timeline(shipment);
      return t.length > 0 ? t : null;
    });
    expect(entries[0]!.kind).toBe('whatsapp_not_sent');
    expect(entries[0]!.details.code).toBe('whatsapp_disabled');
    expect(entries[0]!.title).toContain('not enabled');
    expect(sendsTo(shipment)).toHaveLength(0);
    const outbox = await service.deps.db
      .select()
      .from(notificationOutbox)
      .where(and(eq(notificationOutbox.shipmentId, shipment)));
    expect(outbox).toHaveLength(0);
  });
});
