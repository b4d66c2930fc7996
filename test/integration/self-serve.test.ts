/**
 * A client on Gupshup's self-serve (v2) API, end to end: the connection stored through the API
 * with only an API key (ciphertext at rest), its template verified from the self-serve list, the
 * FDR template sent through `/wa/api/v1/template/msg` with header `apikey`, no Enterprise field
 * and a signed postback on each quick-reply button; its v2 message-events move the status; its
 * quick_reply tap books the action; the follow-up goes through `/wa/api/v1/msg`. Real Redis,
 * MariaDB and emulator; the Gupshup sandbox and a fake WMS over real HTTP.
 */
import { eq } from 'drizzle-orm';
import mysql from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { notificationOutbox, whatsappStatusLogs } from '../../src/db/schema.ts';
import { postbackKeys, readPostback } from '../../src/replies/postback.ts';
import { startSandbox, type RecordedSend, type Sandbox } from '../../src/sandbox/server.ts';
import { startService, type Service } from '../../src/service.ts';
import { API_TOKEN, createTestEnv, MYSQL_URL, waitFor } from '../helpers/env.ts';
import { startFakeWms } from '../helpers/fake-wms.ts';
import { fdrEvent } from '../helpers/fixtures.ts';
import { pushFdr } from '../helpers/push.ts';

const ACCOUNT = 601;
const API_KEY = 'self-serve-api-key-0123456789';
const APP_WA_NUMBER = '919800000006';
const REJECTED_ID = '992b7ece-3217-4134-a161-ebd6ffd91cd9';
const MAPPING = {
  '1': 'customerFirstName',
  '2': 'storeName',
  '3': 'uniqueOrderItemId',
  '4': 'noOfItemsInTheOrder',
  '5': 'quantityOfTheItem',
  '6': 'productTitle',
};
const WEBHOOK_TOKEN = 'test-webhook-token';
const KEY = Buffer.alloc(32, 7).toString('base64');

const env = createTestEnv('selfserve');
let sandbox: Sandbox;
let wms: Awaited<ReturnType<typeof startFakeWms>>;
let service: Service;
let connectionId: string;

async function call(method: string, path: string, body?: unknown) {
  const res = await fetch(`${service.url}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${API_TOKEN}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return {
    status: res.status,
    body: (await res.json().catch(() => null)) as Record<string, unknown>,
  };
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
  wms = await startFakeWms();
  service = await startService(
    env.config({
      GUPSHUP_ENTERPRISE_URL: sandbox.url,
      GUPSHUP_SELF_SERVE_URL: sandbox.origin,
      WMS_API_URL: wms.url,
      WEBHOOK_TOKEN,
      CREDENTIALS_KEY: KEY,
      REPLY_SETTLE_SECONDS: '0',
      POSTBACK_SECRET: 'self-serve-test-postback-secret',
    }),
    ['api', 'worker'],
  );
  sandbox.setCallback({
    url: `${service.url}/api/_ah/v1/message?token=${WEBHOOK_TOKEN}`,
    format: 'v2',
    delaysMs: { sent: 20, delivered: 40, read: 60 },
  });
});

afterAll(async () => {
  await service?.close();
  await wms?.close();
  await sandbox?.close();
  await env.dropDatabase();
});

describe('a self-serve connection', () => {
  it('is stored with only its API key, sealed', async () => {
    const created = await call('POST', `/v1/accounts/${ACCOUNT}/whatsapp-connections`, {
      api: 'self-serve',
      appName: 'berrylush',
      apiKey: API_KEY,
      waNumber: `+${APP_WA_NUMBER}`,
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ api: 'self-serve', appName: 'berrylush', usable: true });
    expect(JSON.stringify(created.body)).not.toContain(API_KEY);
    connectionId = created.body.id as string;

    const conn = await mysql.createConnection({ uri: `${MYSQL_URL}/${env.database}` });
    try {
      const [rows] = await conn.query<mysql.RowDataPacket[]>(
        'select * from whatsapp_sender_connections where account_id = ?',
        [ACCOUNT],
      );
      expect(rows).toHaveLength(1);
      const row = rows[0]!;
      expect(row.api).toBe('self-serve');
      expect(row.userid_enc).toBeNull();
      expect(row.password_enc).toBeNull();
      expect(String(row.api_key_enc)).toMatch(/^v1:/);
      expect(JSON.stringify(row)).not.toContain(API_KEY);
    } finally {
      await conn.end();
    }

    // Refusals name what is wrong for that kind of app.
    const missing = await call('POST', `/v1/accounts/${ACCOUNT}/whatsapp-connections`, {
      api: 'self-serve',
      appName: 'other',
      waNumber: '919800000007',
    });
    expect(missing.status).toBe(400);
    expect(missing.body.message).toContain('apiKey');
    const unknown = await call('POST', `/v1/accounts/${ACCOUNT}/whatsapp-connections`, {
      api: 'cloud',
      appName: 'other',
    });
    expect(unknown).toMatchObject({
      status: 400,
      body: { message: 'api: must be enterprise or self-serve' },
    });
  });

  it('sends its FDR template through /wa/api/v1/template/msg with signed postbacks, and its reports move the status', async () => {
    const verified = await call(
      'PUT',
      `/v1/accounts/${ACCOUNT}/whatsapp-templates/rejected_by_customer`,
      { templateId: REJECTED_ID, connectionId, variables: MAPPING },
    );
    expect(verified.status).toBe(200);
    const settings = await call('PUT', `/v1/accounts/${ACCOUNT}/whatsapp-settings`, {
      senderConnectionId: connectionId,
      reasons: { rejected_by_customer: true },
      templates: { rejected_by_customer: REJECTED_ID },
    });
    expect(settings.status).toBe(200);

    await pushFdr(service, rejectedEvent('SELF-1', '9811300001'));
    const send = await waitFor(
      () => sandbox.sends.find((s) => s.api === 'self-serve' && s.outcome === 'success'),
      { what: 'the self-serve template send' },
    );
    expect(send.path).toBe('/wa/api/v1/template/msg');
    expect(send.apiKey).toBe(API_KEY);
    expect(send.params).toMatchObject({
      channel: 'whatsapp',
      source: APP_WA_NUMBER,
      destination: '919811300001',
      'src.name': 'berrylush',
    });
    for (const field of ['userid', 'password', 'method', 'msg', 'msg_id', 'send_to']) {
      expect(send.params[field]).toBeUndefined();
    }
    const template = JSON.parse(send.params.template!) as { id: string; params: string[] };
    expect(template.id).toBe(REJECTED_ID);
    expect(template.params).toHaveLength(6);
    expect(template.params[0]).toBe('Aman');
    expect(template.params[2]).toBe('4980116095129');

    const [outbox] = await service.deps.db
      .select()
      .from(notificationOutbox)
      .where(eq(notificationOutbox.idempotencyKey, 'fdr-SELF-1-1'));
    const keys = postbackKeys(service.deps.config);
    expect(send.postbackTexts?.map((p) => [p.index, readPostback(keys, p.text)])).toEqual([
      [0, { kind: 'valid', postback: { conversation: outbox!.id, action: 'reattempt' } }],
      [1, { kind: 'valid', postback: { conversation: outbox!.id, action: 'cancel' } }],
      [2, { kind: 'valid', postback: { conversation: outbox!.id, action: 'concern' } }],
    ]);

    // v2 message-events (enqueued, sent, delivered, read) keyed by Gupshup's id.
    const status = await waitFor(async () => {
      const [row] = await service.deps.db
        .select()
        .from(whatsappStatusLogs)
        .where(eq(whatsappStatusLogs.messageId, send.messageId!));
      return row?.status === 'READ' ? row : null;
    });
    expect(status.shipmentId).toBe('SELF-1');
  });

  it('acts on the quick_reply tap of a template button, and confirms through /wa/api/v1/msg', async () => {
    const tapped = await sandbox.tap({ to: '919811300001', choice: 'Reattempt delivery' });
    expect(tapped.format).toBe('v2');
    expect(tapped.record.status).toBe(200);

    const booked = await waitFor(
      () => wms.notifications.find((n) => n.body.shipmentId === 'SELF-1'),
      {
        what: 'the REATTEMPT',
      },
    );
    expect(booked.body).toMatchObject({ action: 'REATTEMPT', accountId: ACCOUNT });

    const confirmation = await waitFor(
      (): RecordedSend | undefined =>
        sandbox.sends.find((s) => s.api === 'self-serve' && s.path === '/wa/api/v1/msg'),
      { what: 'the confirmation' },
    );
    expect(confirmation.apiKey).toBe(API_KEY);
    expect(confirmation.message).toMatchObject({
      type: 'quick_reply',
      content: { type: 'text', text: 'We will attempt the delivery again. Thank you!' },
    });
    expect(confirmation.interactive?.type).toBe('buttons');
  });
});
