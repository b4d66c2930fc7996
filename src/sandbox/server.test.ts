/**
 * The Gupshup sandbox over real HTTP: SendMessage validation and recording, the enterprise and
 * self-serve template lists, the control endpoints used when running it by hand, and the
 * callbacks it posts to a tiny in-test webhook (delivery reports in every variant, simulated
 * replies, retries when the webhook is down).
 */
import { readFile } from 'node:fs/promises';

import { type Dispatcher, request } from 'undici';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';

import {
  buttonReply,
  type DlrEvent,
  SandboxCallbackError,
  SandboxTemplatesError,
  startSandbox,
  type Sandbox,
} from './server.ts';
import { type Received, type Receiver, startReceiver, waitUntil } from './test-receiver.ts';

interface Envelope {
  response: { id: string; phone: string; details: string; status: string };
}
interface EnterpriseTemplate {
  id: string;
  name: string;
  category: string;
  language: string;
  type: string;
  body: string;
  button_type: string;
  quality_score: string;
  status: string;
  creation_time: number | null;
  updation_time: number | null;
}
interface EnterpriseList {
  data: EnterpriseTemplate[];
  meta: { total: number };
}

const validSend = {
  method: 'SendMessage',
  userid: '2000123456',
  password: 'secret',
  send_to: '919812345678',
  msg_type: 'HSM',
  msg: 'Hello',
  msg_id: 'k-1',
};

let sandbox: Sandbox;

beforeAll(async () => {
  sandbox = await startSandbox({ port: 0, host: '127.0.0.1' });
});

afterEach(() => {
  sandbox.reset();
});

afterAll(async () => {
  await sandbox.close();
});

async function readJson(path: string): Promise<unknown> {
  return JSON.parse(await readFile(new URL(path, import.meta.url), 'utf8')) as unknown;
}

/** POSTs a form to the Gateway endpoint (or GETs it as a query string) and returns the JSON. */
async function callGateway(
  params: Record<string, string>,
  httpMethod: 'GET' | 'POST' = 'POST',
  target: Sandbox = sandbox,
): Promise<{ status: number; json: unknown }> {
  const form = new URLSearchParams(params).toString();
  const res =
    httpMethod === 'GET'
      ? await request(`${target.url}?${form}`)
      : await request(target.url, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: form,
        });
  return readAnswer(res);
}

/** Injected HTTP failures answer in plain text; only JSON answers are parsed. */
async function readAnswer(
  res: Dispatcher.ResponseData,
): Promise<{ status: number; json: unknown }> {
  const text = await res.body.text();
  const isJson = String(res.headers['content-type']).startsWith('application/json');
  return { status: res.statusCode, json: isJson ? (JSON.parse(text) as unknown) : text };
}

async function postControl(path: string, body?: unknown) {
  const res = await request(`${sandbox.origin}${path}`, {
    method: 'POST',
    ...(body === undefined
      ? {}
      : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
  });
  return readAnswer(res);
}

describe('SendMessage', () => {
  it('accepts a GET query with any method casing and records it', async () => {
    const { json } = await callGateway({ ...validSend, method: 'SENDMESSAGE' }, 'GET');

    const { response } = json as Envelope;
    expect(response).toEqual({
      id: expect.stringMatching(/^\d{19}-\d{18}$/),
      phone: '919812345678',
      details: '',
      status: 'success',
    });
    expect(sandbox.sends).toHaveLength(1);
    expect(sandbox.sends[0]).toMatchObject({
      method: 'SENDMESSAGE',
      params: { ...validSend, method: 'SENDMESSAGE' },
      outcome: 'success',
      messageId: response.id,
    });
    expect(sandbox.sends[0]?.at).toBeInstanceOf(Date);
  });

  it.each(['userid', 'password', 'send_to', 'msg', 'msg_type'])(
    'refuses a request without %s with error 101 and records it',
    async (name) => {
      const params: Record<string, string> = { ...validSend };
      delete params[name];

      const { json } = await callGateway(params);

      expect(json).toEqual({
        response: { id: '101', phone: '', details: 'Required parameter missing', status: 'error' },
      });
      expect(sandbox.sends[0]).toMatchObject({ outcome: 'error', errorId: '101' });
    },
  );

  it.each(['98123', '+919812345678', '9198123456781234', 'abcdefghij'])(
    'refuses send_to %s with error 105',
    async (sendTo) => {
      const { json } = await callGateway({ ...validSend, send_to: sendTo });

      expect((json as Envelope).response).toMatchObject({
        id: '105',
        details: 'The phone number is not valid',
        status: 'error',
      });
    },
  );

  it('answers an unknown method with error 106 and records nothing', async () => {
    const { json } = await callGateway({ ...validSend, method: 'SendCarrierPigeon' });

    expect((json as Envelope).response).toMatchObject({ id: '106', status: 'error' });
    expect(sandbox.sends).toHaveLength(0);
  });

  it('answers and records a repeated msg_id with a new id each time', async () => {
    const first = await callGateway(validSend);
    const second = await callGateway(validSend);

    const ids = [first.json, second.json].map((j) => (j as Envelope).response.id);
    expect(ids[0]).not.toBe(ids[1]);
    expect(sandbox.sends.map((s) => s.params.msg_id)).toEqual(['k-1', 'k-1']);
  });

  it('consumes queued failures one per send, in order', async () => {
    sandbox.failNext(
      { kind: 'error', id: '123' },
      { kind: 'http', status: 502 },
      { kind: 'delay', ms: 20 },
    );

    const answers = [];
    for (let i = 0; i < 4; i += 1) {
      answers.push(await callGateway(validSend));
    }

    expect(answers[0]?.json).toEqual({
      response: { id: '123', phone: '', details: 'Insufficient credits', status: 'error' },
    });
    expect(answers[1]?.status).toBe(502);
    expect((answers[2]?.json as Envelope).response.status).toBe('success');
    expect((answers[3]?.json as Envelope).response.status).toBe('success');
    expect(sandbox.sends.map((s) => s.outcome)).toEqual([
      'error',
      'http_error',
      'success',
      'success',
    ]);
  });

  it("keeps a failure meant for one account for that account's next send", async () => {
    sandbox.failNext({ kind: 'error', id: '123', account: '2000999001' });
    const other = await callGateway(validSend);
    const mine = await callGateway({ ...validSend, userid: '2000999001' });
    expect((other.json as Envelope).response.status).toBe('success');
    expect((mine.json as Envelope).response).toMatchObject({ id: '123', status: 'error' });
    expect(sandbox.sends.map((s) => [s.params.userid, s.outcome])).toEqual([
      [validSend.userid, 'success'],
      ['2000999001', 'error'],
    ]);
  });

  it('ends a pending delay on close instead of hanging', async () => {
    const own = await startSandbox({ port: 0, host: '127.0.0.1' });
    own.failNext({ kind: 'delay', ms: 60_000 });
    const pending = callGateway(validSend, 'POST', own).catch((thrown: unknown) => thrown);
    await waitUntil(() => own.sends.length === 1);

    await own.close();
    await pending;

    expect(own.sends[0]?.outcome).toBe('dropped');
  });
});

describe('template lists', () => {
  it('keeps src/sandbox/templates.json in step with the test fixture', async () => {
    expect(await readJson('./templates.json')).toEqual(
      await readJson('../../test/fixtures/gupshup-template-list.json'),
    );
  });

  it('serves the enterprise get_whatsapp_hsm list built from the templates', async () => {
    const { json } = await callGateway(
      { method: 'get_whatsapp_hsm', userid: 'u', password: 'p' },
      'GET',
    );

    const list = json as EnterpriseList;
    expect(list.meta.total).toBe(5);
    expect(list.data.map((t) => t.name)).toEqual([
      'customer_unreacheable',
      'fdr_address_issue',
      'customer_unreacheable_final',
      'opt_out_message',
      'fdr_rejected_by_the_customer',
    ]);
    const address = list.data[1]!;
    expect(address).toMatchObject({
      id: '1329870350939574',
      category: 'UTILITY',
      language: 'en',
      type: 'TEXT',
      button_type: 'QUICK_REPLY',
      quality_score: 'UNKNOWN',
      status: 'APPROVED',
      creation_time: 1684235643166,
    });
    expect(address.body).toMatch(/^Hello \{\{1\}\}!/);
    expect(address.body.endsWith('Please choose your desired action')).toBe(true);
    expect(list.data[3]).toMatchObject({
      body: 'You will no longer receive messages',
      button_type: 'NONE',
    });
    expect(sandbox.sends).toHaveLength(0);
  });

  it('honours limit on the enterprise list', async () => {
    const { json } = await callGateway(
      { method: 'GET_WHATSAPP_HSM', userid: 'u', password: 'p', limit: '2' },
      'GET',
    );

    expect((json as EnterpriseList).data).toHaveLength(2);
    expect((json as EnterpriseList).meta.total).toBe(5);
  });

  it('refuses the enterprise list without credentials', async () => {
    const { json } = await callGateway({ method: 'get_whatsapp_hsm', userid: 'u' }, 'GET');

    expect((json as Envelope).response).toMatchObject({ id: '101', status: 'error' });
  });

  it('serves the self-serve list as stored, behind an apikey', async () => {
    const url = `${sandbox.origin}/sm/api/v1/template/list/eshopbox`;
    const withKey = await request(url, { headers: { apikey: 'any' } });
    const withoutKey = await request(url);

    expect(withKey.statusCode).toBe(200);
    expect(await withKey.body.json()).toEqual(await readJson('./templates.json'));
    expect(withoutKey.statusCode).toBe(401);
    expect(await withoutKey.body.json()).toEqual({
      status: 'error',
      message: 'Authentication Failed',
    });
  });

  it('serves configured templates on both lists', async () => {
    const template = {
      id: 'b1c2',
      elementName: 'fdr_custom',
      data: 'Hi {{1}}',
      category: 'UTILITY',
      languageCode: 'hi',
      status: 'APPROVED',
    };
    const own = await startSandbox({ port: 0, host: '127.0.0.1', templates: [template] });
    try {
      const enterprise = await callGateway(
        { method: 'get_whatsapp_hsm', userid: 'u', password: 'p' },
        'GET',
        own,
      );
      const selfServe = await request(`${own.origin}/sm/api/v1/template/list/x`, {
        headers: { apikey: 'k' },
      });

      expect((enterprise.json as EnterpriseList).data).toEqual([
        {
          id: 'b1c2',
          name: 'fdr_custom',
          category: 'UTILITY',
          language: 'hi',
          type: 'TEXT',
          body: 'Hi {{1}}',
          button_type: 'NONE',
          quality_score: 'UNKNOWN',
          status: 'APPROVED',
          creation_time: null,
          updation_time: null,
        },
      ]);
      expect(await selfServe.body.json()).toEqual({ status: 'success', templates: [template] });
    } finally {
      await own.close();
    }
  });

  it('refuses malformed templates at start', async () => {
    await expect(startSandbox({ templates: [{ elementName: 'x' }] })).rejects.toBeInstanceOf(
      SandboxTemplatesError,
    );
  });
});

describe('control endpoints', () => {
  it('lists recorded sends with the password hidden', async () => {
    await callGateway(validSend);

    const res = await request(`${sandbox.origin}/_sandbox/sends`);
    const sends = (await res.body.json()) as { params: Record<string, string> }[];

    expect(sends).toHaveLength(1);
    expect(sends[0]?.params).toEqual({ ...validSend, password: '[redacted]' });
    // The in-process record keeps the real value for assertions.
    expect(sandbox.sends[0]?.params.password).toBe('secret');
  });

  it('queues failures given as one spec or an array', async () => {
    expect((await postControl('/_sandbox/fail', { kind: 'error', id: '100' })).status).toBe(200);
    expect(
      (
        await postControl('/_sandbox/fail', [
          { kind: 'http', status: 429 },
          { kind: 'delay', ms: 0 },
        ])
      ).json,
    ).toEqual({ queued: 3 });

    const answers = [];
    for (let i = 0; i < 3; i += 1) {
      answers.push(await callGateway(validSend));
    }

    expect((answers[0]?.json as Envelope).response.id).toBe('100');
    expect(answers[1]?.status).toBe(429);
    expect((answers[2]?.json as Envelope).response.status).toBe('success');
  });

  it('rejects a malformed failure spec', async () => {
    const { status, json } = await postControl('/_sandbox/fail', { kind: 'http', status: 99 });

    expect(status).toBe(400);
    expect(json).toMatchObject({ code: 'ERR_SANDBOX_FAILURE_SPEC' });
  });

  it('forgets sends and queued failures on reset', async () => {
    await callGateway(validSend);
    sandbox.failNext({ kind: 'http', status: 500 });

    expect((await postControl('/_sandbox/reset')).status).toBe(204);
    expect(sandbox.sends).toHaveLength(0);
    const { status } = await callGateway(validSend);
    expect(status).toBe(200);
  });
});

/** A URL nothing listens on: a receiver started and closed again. */
async function deadUrl(): Promise<string> {
  const gone = await startReceiver();
  await gone.close();
  return gone.url;
}

/** The events of one report POST: form field `response` holding a JSON array string. */
function eventsOf(req: Received): DlrEvent[] {
  expect(req.method).toBe('POST');
  expect(req.contentType).toBe('application/x-www-form-urlencoded');
  const form = new URLSearchParams(req.body);
  expect([...form.keys()]).toEqual(['response']);
  const events: unknown = JSON.parse(form.get('response') ?? '');
  expect(Array.isArray(events)).toBe(true);
  return events as DlrEvent[];
}

function typesOf(received: Received[]): string[] {
  return received.map((req) =>
    eventsOf(req)
      .map((event) => event.eventType)
      .join(','),
  );
}

/** Sends one message through the Gateway and returns the id the sandbox answered. */
async function sendOne(target: Sandbox = sandbox, sendTo = '919812345678'): Promise<string> {
  const { json } = await callGateway({ ...validSend, send_to: sendTo }, 'POST', target);
  return (json as Envelope).response.id;
}

const fastDelays = { sent: 5, delivered: 10, read: 15 };

describe('delivery reports', () => {
  let receiver: Receiver;

  beforeAll(async () => {
    receiver = await startReceiver();
  });

  beforeEach(() => {
    sandbox.setCallback({ url: receiver.url, delaysMs: fastDelays });
  });

  afterEach(() => {
    sandbox.setCallback(null);
    sandbox.reset();
    receiver.received.length = 0;
  });

  afterAll(async () => {
    await receiver.close();
  });

  it("posts SENT, DELIVERED, READ in order, each shaped like the seed's report", async () => {
    const fixture = (await readJson('../../test/fixtures/gupshup-dlr-sent.json')) as {
      response: string;
    };
    const seedKeys = Object.keys((JSON.parse(fixture.response) as object[])[0] ?? {});
    const sentAt = Date.now();

    const id = await sendOne();
    await waitUntil(() => sandbox.callbacks.length === 3);

    const events = receiver.received.map((req) => {
      const batch = eventsOf(req);
      expect(batch).toHaveLength(1);
      return batch[0]!;
    });
    expect(events).toEqual([
      {
        srcAddr: 'TESTSM',
        channel: 'WHATSAPP',
        externalId: id,
        cause: 'SENT',
        errorCode: '025',
        destAddr: '919812345678',
        eventType: 'SENT',
        eventTs: expect.any(Number),
      },
      expect.objectContaining({
        externalId: id,
        eventType: 'DELIVERED',
        cause: 'SUCCESS',
        errorCode: '000',
      }),
      expect.objectContaining({
        externalId: id,
        eventType: 'READ',
        cause: 'READ',
        errorCode: '026',
      }),
    ]);
    for (const event of events) {
      expect(Object.keys(event)).toEqual(seedKeys);
      expect(event.eventTs).toBeGreaterThanOrEqual(sentAt);
      expect(event.eventTs).toBeLessThanOrEqual(Date.now());
    }
    const times = events.map((event) => event.eventTs);
    expect(times).toEqual([...times].sort((a, b) => a - b));
    // The token stays on the URL the service checks; nothing of the Gateway login is posted.
    expect(receiver.received[0]?.url.pathname).toBe('/api/_ah/v1/message');
    expect(receiver.received[0]?.url.searchParams.get('token')).toBe('dev-webhook-token');
    expect(sandbox.callbacks.map((c) => [c.kind, c.status, c.attempt])).toEqual([
      ['dlr', 202, 1],
      ['dlr', 202, 1],
      ['dlr', 202, 1],
    ]);
    expect(sandbox.callbacks.map((c) => c.body)).toEqual(receiver.received.map((r) => r.body));
    expect(sandbox.callbacks.some((c) => c.body.includes(validSend.password))).toBe(false);
  });

  it('posts one FAILED report instead, for the next send only', async () => {
    sandbox.nextDlr({ fail: { errorCode: '003', cause: 'UNKNOWN_SUBSCRIBER' } });

    const failed = await sendOne();
    await waitUntil(() => receiver.received.length === 1);
    const next = await sendOne();
    await waitUntil(() => receiver.received.length === 4);

    const events = receiver.received.flatMap(eventsOf);
    expect(events.filter((e) => e.externalId === failed)).toEqual([
      expect.objectContaining({
        eventType: 'FAILED',
        cause: 'UNKNOWN_SUBSCRIBER',
        errorCode: '003',
        destAddr: '919812345678',
      }),
    ]);
    expect(events.filter((e) => e.externalId === next).map((e) => e.eventType)).toEqual([
      'SENT',
      'DELIVERED',
      'READ',
    ]);
  });

  it('posts every report twice with duplicate', async () => {
    sandbox.nextDlr({ duplicate: true });

    await sendOne();
    await waitUntil(() => receiver.received.length === 6);

    expect(typesOf(receiver.received)).toEqual([
      'SENT',
      'SENT',
      'DELIVERED',
      'DELIVERED',
      'READ',
      'READ',
    ]);
    expect(receiver.received[0]?.body).toBe(receiver.received[1]?.body);
  });

  it('posts READ, DELIVERED, SENT with reverse, keeping their true event times', async () => {
    sandbox.nextDlr({ reverse: true });

    await sendOne();
    await waitUntil(() => receiver.received.length === 3);

    expect(typesOf(receiver.received)).toEqual(['READ', 'DELIVERED', 'SENT']);
    const times = receiver.received.map((req) => eventsOf(req)[0]?.eventTs ?? 0);
    expect(times).toEqual([...times].sort((a, b) => b - a));
  });

  it('posts all three reports in one POST with batch', async () => {
    sandbox.nextDlr({ batch: true });

    const id = await sendOne();
    await waitUntil(() => receiver.received.length === 1);
    // A second send with the normal sequence proves nothing else was coming for the first.
    await sendOne();
    await waitUntil(() => receiver.received.length === 4);

    const batch = eventsOf(receiver.received[0]!);
    expect(batch.map((e) => [e.externalId, e.eventType])).toEqual([
      [id, 'SENT'],
      [id, 'DELIVERED'],
      [id, 'READ'],
    ]);
  });

  it('answers and reports the ids given to nextMessageIds, then generated ones', async () => {
    sandbox.nextMessageIds('4921687316728868875', '4921687316728868876-376937873247896674');

    const ids = [await sendOne(), await sendOne(), await sendOne()];
    await waitUntil(() => receiver.received.length === 9);

    expect(ids.slice(0, 2)).toEqual([
      '4921687316728868875',
      '4921687316728868876-376937873247896674',
    ]);
    expect(ids[2]).toMatch(/^\d{19}-\d{18}$/);
    expect(sandbox.sends.map((s) => s.messageId)).toEqual(ids);
    const reported = new Set(receiver.received.flatMap(eventsOf).map((e) => e.externalId));
    expect(reported).toEqual(new Set(ids));
  });

  it('keeps queued ids and specs for successful sends only', async () => {
    sandbox.nextMessageIds('4921687316728868875');
    sandbox.nextDlr({ fail: { errorCode: '007', cause: 'BLOCKED' } });
    sandbox.failNext({ kind: 'error', id: '100' });

    const refused = await callGateway(validSend);
    const id = await sendOne();
    await waitUntil(() => receiver.received.length === 1);

    expect((refused.json as Envelope).response.status).toBe('error');
    expect(id).toBe('4921687316728868875');
    expect(eventsOf(receiver.received[0]!)[0]).toMatchObject({
      externalId: id,
      eventType: 'FAILED',
      errorCode: '007',
    });
  });

  it('posts nothing once the callback is removed, and refuses a malformed one', async () => {
    sandbox.setCallback(null);
    const silent = await sendOne();
    sandbox.setCallback({ url: receiver.url, delaysMs: { sent: 5, delivered: null, read: -1 } });
    const loud = await sendOne();
    sandbox.setCallback({ url: receiver.url, delaysMs: fastDelays });
    const last = await sendOne();
    await waitUntil(() => receiver.received.length === 4);

    const events = receiver.received.flatMap(eventsOf);
    expect(events.filter((e) => e.externalId === silent)).toEqual([]);
    expect(events.filter((e) => e.externalId === loud).map((e) => e.eventType)).toEqual(['SENT']);
    expect(events.filter((e) => e.externalId === last)).toHaveLength(3);
    expect(() => sandbox.setCallback({ url: 'not a url' })).toThrow(SandboxCallbackError);
    expect(() => sandbox.setCallback({ url: 'ftp://x/y' })).toThrow(SandboxCallbackError);
  });

  it('retries a report the webhook refused with 5xx, 200 ms apart, until it answers 2xx', async () => {
    receiver.answerNext(503, 500);
    sandbox.setCallback({ url: receiver.url, delaysMs: { sent: 5, delivered: null, read: null } });

    await sendOne();
    await waitUntil(() => sandbox.callbacks.length === 3);

    expect(sandbox.callbacks.map((c) => [c.status, c.attempt])).toEqual([
      [503, 1],
      [500, 2],
      [202, 3],
    ]);
    const gaps = sandbox.callbacks
      .slice(1)
      .map((c, i) => c.at.getTime() - (sandbox.callbacks[i]?.at.getTime() ?? 0));
    expect(Math.min(...gaps)).toBeGreaterThanOrEqual(190);
    expect(new Set(receiver.received.map((r) => r.body)).size).toBe(1);
  });

  it('records a refused connection with status 0 and retries it 3 times without crashing', async () => {
    sandbox.setCallback({
      url: await deadUrl(),
      delaysMs: { sent: 5, delivered: null, read: null },
    });

    await sendOne();
    await waitUntil(() => sandbox.callbacks.length === 4, 3_000);

    expect(sandbox.callbacks.map((c) => [c.kind, c.status, c.attempt])).toEqual([
      ['dlr', 0, 1],
      ['dlr', 0, 2],
      ['dlr', 0, 3],
      ['dlr', 0, 4],
    ]);
    // Still serving.
    expect((await callGateway(validSend)).status).toBe(200);
  });

  it('cancels reports not yet posted on reset', async () => {
    sandbox.setCallback({ url: receiver.url, delaysMs: { sent: 5, delivered: 20, read: null } });
    const cancelled = await sendOne();
    // The record lands once the webhook has answered, a moment after the receiver saw the post.
    await waitUntil(() => receiver.received.length === 1 && sandbox.callbacks.length === 1);

    sandbox.reset();
    expect(sandbox.callbacks).toEqual([]);
    // Its SENT comes well after the cancelled DELIVERED was due: if that were still coming, it
    // would be here by then.
    sandbox.setCallback({ url: receiver.url, delaysMs: { sent: 60, delivered: null, read: null } });
    const later = await sendOne();
    await waitUntil(() => receiver.received.length === 2 && sandbox.callbacks.length === 1);

    expect(receiver.received.flatMap(eventsOf).map((e) => [e.externalId, e.eventType])).toEqual([
      [cancelled, 'SENT'],
      [later, 'SENT'],
    ]);
    expect(sandbox.callbacks).toHaveLength(1);
  });

  it('starts with a callback from the options and cancels pending reports on close', async () => {
    const own = await startSandbox({
      port: 0,
      host: '127.0.0.1',
      callback: { url: receiver.url, delaysMs: { sent: 5, delivered: 60_000, read: 60_000 } },
    });
    await sendOne(own);
    await waitUntil(() => own.callbacks.length === 1);

    const started = Date.now();
    await own.close();

    expect(Date.now() - started).toBeLessThan(1_000);
    expect(own.callbacks.map((c) => c.label)).toEqual([
      expect.stringMatching(/^SENT \d{19}-\d{18}$/),
    ]);
  });
});

describe('simulated replies', () => {
  let receiver: Receiver;
  const seedReply = buttonReply({
    mobile: '919650186697',
    waNumber: '919319278973',
    replyId: '4921687316728868875',
    messageId: '376937873247896673',
    text: 'Select new delivery date',
  });

  beforeAll(async () => {
    receiver = await startReceiver();
  });

  beforeEach(() => {
    sandbox.setCallback({ url: receiver.url, delaysMs: fastDelays });
  });

  afterEach(() => {
    sandbox.setCallback(null);
    sandbox.reset();
    receiver.received.length = 0;
  });

  afterAll(async () => {
    await receiver.close();
  });

  it('POSTs a form body by default', async () => {
    const record = await sandbox.simulateReply(seedReply);

    expect(record).toMatchObject({ kind: 'reply', status: 202, attempt: 1, label: 'reply button' });
    const [req] = receiver.received;
    expect(req).toMatchObject({ method: 'POST', contentType: 'application/x-www-form-urlencoded' });
    expect(Object.fromEntries(new URLSearchParams(req?.body))).toEqual(seedReply);
    expect(JSON.parse(seedReply.button ?? '')).toEqual({ text: 'Select new delivery date' });
    expect(req?.url.searchParams.get('token')).toBe('dev-webhook-token');
  });

  it('POSTs JSON with as json', async () => {
    await sandbox.simulateReply(seedReply, 'json');

    const [req] = receiver.received;
    expect(req).toMatchObject({ method: 'POST', contentType: 'application/json' });
    expect(JSON.parse(req?.body ?? '')).toEqual(seedReply);
  });

  it('GETs a query string with as query, keeping the token', async () => {
    await sandbox.simulateReply(seedReply, 'query');

    const [req] = receiver.received;
    expect(req).toMatchObject({ method: 'GET', body: '' });
    expect(Object.fromEntries(req?.url.searchParams ?? [])).toEqual({
      token: 'dev-webhook-token',
      ...seedReply,
    });
  });

  it('is reachable through POST /_sandbox/reply', async () => {
    receiver.answerNext(401);

    const { status, json } = await postControl('/_sandbox/reply', { body: seedReply, as: 'json' });

    expect(status).toBe(200);
    // 401 is not 2xx, so it was retried once and then accepted.
    expect(json).toEqual({ status: 202, attempts: 2 });
    expect(sandbox.callbacks.map((c) => c.status)).toEqual([401, 202]);
    expect(receiver.received.map((r) => r.contentType)).toEqual([
      'application/json',
      'application/json',
    ]);
  });

  it('records a refused reply with status 0 after its retries', async () => {
    sandbox.setCallback({ url: await deadUrl() });

    const record = await sandbox.simulateReply(seedReply);

    expect(record).toMatchObject({ kind: 'reply', status: 0, attempt: 4 });
    expect(sandbox.callbacks.map((c) => c.status)).toEqual([0, 0, 0, 0]);
  });

  it('refuses to reply without a callback, in process and over HTTP', async () => {
    sandbox.setCallback(null);

    await expect(sandbox.simulateReply(seedReply)).rejects.toBeInstanceOf(SandboxCallbackError);
    const { status, json } = await postControl('/_sandbox/reply', { body: seedReply });
    expect(status).toBe(409);
    expect(json).toMatchObject({ code: 'ERR_SANDBOX_CALLBACK' });
    expect((await postControl('/_sandbox/reply', { body: { type: 1 } })).status).toBe(400);
  });
});

describe('callback control endpoints', () => {
  let receiver: Receiver;

  beforeAll(async () => {
    receiver = await startReceiver();
  });

  afterEach(() => {
    sandbox.setCallback(null);
    sandbox.reset();
    receiver.received.length = 0;
  });

  afterAll(async () => {
    await receiver.close();
  });

  it('sets the callback, queues specs and ids, and lists callbacks over HTTP', async () => {
    expect(
      (await postControl('/_sandbox/callback', { url: receiver.url, delaysMs: fastDelays })).status,
    ).toBe(204);
    expect(
      (await postControl('/_sandbox/message-ids', { ids: ['4921687316728868875'] })).json,
    ).toEqual({ queued: 1 });
    expect(
      (
        await postControl('/_sandbox/dlr', [
          { batch: true },
          { fail: { errorCode: '003', cause: 'UNKNOWN_SUBSCRIBER' } },
        ])
      ).json,
    ).toEqual({ queued: 2 });

    const first = await sendOne();
    const second = await sendOne();
    await waitUntil(() => receiver.received.length === 2 && sandbox.callbacks.length === 2);

    expect(first).toBe('4921687316728868875');
    const res = await request(`${sandbox.origin}/_sandbox/callbacks`);
    const listed = (await res.body.json()) as { kind: string; status: number; label: string }[];
    expect(listed.map((c) => [c.kind, c.status]).sort()).toEqual([
      ['dlr', 202],
      ['dlr', 202],
    ]);
    expect(listed.map((c) => c.label).sort()).toEqual([
      `FAILED ${second}`,
      `SENT,DELIVERED,READ ${first}`,
    ]);
  });

  it('removes the callback with DELETE and rejects malformed control bodies', async () => {
    sandbox.setCallback({ url: receiver.url, delaysMs: fastDelays });
    const removed = await request(`${sandbox.origin}/_sandbox/callback`, { method: 'DELETE' });
    expect(removed.statusCode).toBe(204);
    await removed.body.dump();
    await expect(sandbox.simulateReply({ type: 'text' })).rejects.toBeInstanceOf(
      SandboxCallbackError,
    );

    expect((await postControl('/_sandbox/callback', { url: 'nope' })).status).toBe(400);
    expect((await postControl('/_sandbox/dlr', { fail: { errorCode: 3 } })).json).toMatchObject({
      code: 'ERR_SANDBOX_DLR_SPEC',
    });
    expect((await postControl('/_sandbox/message-ids', { ids: [''] })).status).toBe(400);
  });
});
