/**
 * Delivery reports in the v2 and v3 formats, posted by the sandbox over real HTTP to an in-test
 * webhook: their shapes and ids (Gupshup's and WhatsApp's), self-serve sends reporting in v2
 * when the format is enterprise, and every DlrSpec variant (fail, batch, duplicate, reverse) in
 * each format. The enterprise format itself is covered by server.test.ts.
 */
import { request } from 'undici';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

import { type CallbackFormat, startSandbox, type Sandbox } from './server.ts';
import { type Received, type Receiver, startReceiver, waitUntil } from './test-receiver.ts';

const CUSTOMER = '919812345678';
const BUSINESS = '917834811114';
const fastDelays = { sent: 5, delivered: 10, read: 15 };

let sandbox: Sandbox;
let receiver: Receiver;

beforeAll(async () => {
  sandbox = await startSandbox({ port: 0, host: '127.0.0.1', waNumber: '918000011111' });
  receiver = await startReceiver();
});

afterEach(() => {
  sandbox.setCallback(null);
  sandbox.reset();
  receiver.received.length = 0;
});

afterAll(async () => {
  await sandbox.close();
  await receiver.close();
});

function useFormat(format: CallbackFormat, delaysMs: object = fastDelays) {
  sandbox.setCallback({ url: receiver.url, format, delaysMs });
}

/** An enterprise text send; resolves with the recorded send once answered. */
async function sendEnterprise() {
  const res = await request(sandbox.url, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      method: 'SendMessage',
      userid: 'u',
      password: 'p',
      send_to: CUSTOMER,
      msg_type: 'TEXT',
      msg: 'Hello',
      extra: 'k-1',
    }).toString(),
  });
  await res.body.dump();
  return sentRecord();
}

/** A self-serve text send through app `ShopCoNDR`. */
async function sendSelfServe() {
  const res = await request(`${sandbox.origin}/wa/api/v1/msg`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', apikey: 'k' },
    body: new URLSearchParams({
      channel: 'whatsapp',
      source: BUSINESS,
      destination: CUSTOMER,
      'src.name': 'ShopCoNDR',
      message: JSON.stringify({ type: 'text', text: 'Hello' }),
    }).toString(),
  });
  expect(res.statusCode).toBe(202);
  await res.body.dump();
  return sentRecord();
}

function sentRecord() {
  const send = sandbox.sends.at(-1);
  expect(send?.outcome).toBe('success');
  return { gsId: send?.messageId ?? '', wamid: send?.whatsappMessageId ?? '' };
}

interface V2Event {
  app: string;
  timestamp: number;
  version: number;
  type: string;
  payload: {
    id: string;
    gsId?: string;
    type: string;
    destination: string;
    payload: Record<string, unknown>;
  };
}

interface V3Body {
  object: string;
  gs_app_id: string;
  entry: {
    id: string;
    changes: {
      field: string;
      value: {
        messaging_product: string;
        metadata: { display_phone_number: string; phone_number_id: string };
        statuses: {
          id: string;
          gs_id: string;
          status: string;
          timestamp: string;
          recipient_id: string;
          errors?: { code: number | string; title: string }[];
        }[];
      };
    }[];
  }[];
}

function jsonOf<T>(req: Received): T {
  expect(req).toMatchObject({ method: 'POST', contentType: 'application/json' });
  expect(req.url.searchParams.get('token')).toBe('dev-webhook-token');
  return JSON.parse(req.body) as T;
}

const v2Types = () => receiver.received.map((req) => jsonOf<V2Event>(req).payload.type);
const v3Statuses = (req: Received) =>
  jsonOf<V3Body>(req).entry.flatMap((e) =>
    e.changes.flatMap((c) => c.value.statuses.map((s) => s.status)),
  );

describe('v2 delivery reports', () => {
  it('posts enqueued, sent, delivered, read as message-events with both ids', async () => {
    useFormat('v2');
    const before = Date.now();

    const { gsId, wamid } = await sendEnterprise();
    await waitUntil(() => sandbox.callbacks.length === 4);

    const events = receiver.received.map((req) => jsonOf<V2Event>(req));
    expect(events.map((e) => e.payload.type)).toEqual(['enqueued', 'sent', 'delivered', 'read']);
    expect(events[0]).toEqual({
      app: 'SandboxApp',
      timestamp: expect.any(Number),
      version: 2,
      type: 'message-event',
      payload: {
        id: gsId,
        type: 'enqueued',
        destination: CUSTOMER,
        payload: { whatsappMessageId: wamid, type: 'session' },
      },
    });
    for (const event of events.slice(1)) {
      expect(event.payload).toEqual({
        id: wamid,
        gsId,
        type: event.payload.type,
        destination: CUSTOMER,
        payload: { ts: Math.floor(event.timestamp / 1_000) },
      });
      expect(event.timestamp).toBeGreaterThanOrEqual(before);
    }
    expect(wamid).toMatch(/^wamid\.[A-Za-z0-9+/=]{20,}$/);
    expect(sandbox.callbacks.map((c) => c.label)).toEqual([
      `ENQUEUED ${gsId} (v2)`,
      `SENT ${gsId} (v2)`,
      `DELIVERED ${gsId} (v2)`,
      `READ ${gsId} (v2)`,
    ]);
    expect(sandbox.callbacks.some((c) => c.label.includes(CUSTOMER))).toBe(false);
  });

  it('reports a self-serve send in v2 when the format is enterprise, under its app', async () => {
    useFormat('enterprise');

    const { gsId } = await sendSelfServe();
    await waitUntil(() => sandbox.callbacks.length === 4);

    const events = receiver.received.map((req) => jsonOf<V2Event>(req));
    expect(events.map((e) => [e.app, e.payload.type])).toEqual([
      ['ShopCoNDR', 'enqueued'],
      ['ShopCoNDR', 'sent'],
      ['ShopCoNDR', 'delivered'],
      ['ShopCoNDR', 'read'],
    ]);
    expect(events[1]?.payload.gsId).toBe(gsId);
  });

  it('skips enqueued when its delay is null', async () => {
    useFormat('v2', { ...fastDelays, enqueued: null });

    await sendEnterprise();
    await waitUntil(() => sandbox.callbacks.length === 3);

    expect(v2Types()).toEqual(['sent', 'delivered', 'read']);
  });

  it('posts one failed event with code and reason for a fail spec', async () => {
    useFormat('v2');
    sandbox.nextDlr({ fail: { errorCode: '1002', cause: 'Number Does Not Exist On WhatsApp' } });

    const { gsId } = await sendEnterprise();
    await waitUntil(() => sandbox.callbacks.length === 1);
    // The next send's sequence shows nothing else was coming for the failed one.
    await sendEnterprise();
    await waitUntil(() => sandbox.callbacks.length === 5);

    expect(jsonOf<V2Event>(receiver.received[0]!).payload).toEqual({
      id: gsId,
      gsId,
      type: 'failed',
      destination: CUSTOMER,
      payload: { code: 1002, reason: 'Number Does Not Exist On WhatsApp' },
    });
  });

  it('posts a batch back to back, one event per POST, and reverses and duplicates', async () => {
    useFormat('v2');
    sandbox.nextDlr({ batch: true }, { reverse: true }, { duplicate: true });

    await sendEnterprise();
    await waitUntil(() => sandbox.callbacks.length === 4);
    expect(v2Types()).toEqual(['enqueued', 'sent', 'delivered', 'read']);
    receiver.received.length = 0;

    await sendEnterprise();
    await waitUntil(() => receiver.received.length === 4);
    expect(v2Types()).toEqual(['read', 'delivered', 'sent', 'enqueued']);
    receiver.received.length = 0;

    await sendEnterprise();
    await waitUntil(() => receiver.received.length === 8);
    expect(v2Types()).toEqual([
      'enqueued',
      'enqueued',
      'sent',
      'sent',
      'delivered',
      'delivered',
      'read',
      'read',
    ]);
  });
});

describe('v3 delivery reports', () => {
  it('posts Meta-shaped statuses with the WhatsApp id and gs_id, seconds as strings', async () => {
    useFormat('v3');

    const { gsId, wamid } = await sendEnterprise();
    await waitUntil(() => sandbox.callbacks.length === 3);

    const bodies = receiver.received.map((req) => jsonOf<V3Body>(req));
    expect(bodies[0]).toEqual({
      object: 'whatsapp_business_account',
      gs_app_id: expect.any(String),
      entry: [
        {
          id: expect.any(String),
          changes: [
            {
              field: 'messages',
              value: {
                messaging_product: 'whatsapp',
                metadata: {
                  display_phone_number: '918000011111',
                  phone_number_id: expect.any(String),
                },
                statuses: [
                  {
                    id: wamid,
                    gs_id: gsId,
                    status: 'sent',
                    timestamp: expect.stringMatching(/^\d{10}$/),
                    recipient_id: CUSTOMER,
                  },
                ],
              },
            },
          ],
        },
      ],
    });
    expect(bodies.map((b) => b.entry[0]?.changes[0]?.value.statuses[0]?.status)).toEqual([
      'sent',
      'delivered',
      'read',
    ]);
    expect(sandbox.callbacks.map((c) => c.label)).toEqual([
      `SENT ${gsId} (v3)`,
      `DELIVERED ${gsId} (v3)`,
      `READ ${gsId} (v3)`,
    ]);
  });

  it('names the self-serve source as the display number', async () => {
    useFormat('v3');

    await sendSelfServe();
    await waitUntil(() => sandbox.callbacks.length === 3);

    const body = jsonOf<V3Body>(receiver.received[0]!);
    expect(body.entry[0]?.changes[0]?.value.metadata.display_phone_number).toBe(BUSINESS);
  });

  it('carries a fail spec as errors[0]', async () => {
    useFormat('v3');
    sandbox.nextDlr({ fail: { errorCode: '131026', cause: 'Message undeliverable' } });

    const { gsId, wamid } = await sendEnterprise();
    await waitUntil(() => sandbox.callbacks.length === 1);

    const [status] = jsonOf<V3Body>(receiver.received[0]!).entry[0]!.changes[0]!.value.statuses;
    expect(status).toEqual({
      id: wamid,
      gs_id: gsId,
      status: 'failed',
      timestamp: expect.any(String),
      recipient_id: CUSTOMER,
      errors: [{ code: 131026, title: 'Message undeliverable' }],
    });
  });

  it('puts a batch in one POST of several statuses, reversed and duplicated if asked', async () => {
    useFormat('v3');
    sandbox.nextDlr({ batch: true }, { batch: true, reverse: true, duplicate: true });

    await sendEnterprise();
    await waitUntil(() => sandbox.callbacks.length === 1);
    await sendEnterprise();
    await waitUntil(() => sandbox.callbacks.length === 3);

    expect(receiver.received.map(v3Statuses)).toEqual([
      ['sent', 'delivered', 'read'],
      ['read', 'delivered', 'sent'],
      ['read', 'delivered', 'sent'],
    ]);
  });
});
