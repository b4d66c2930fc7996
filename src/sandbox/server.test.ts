/**
 * The Gupshup sandbox over real HTTP: SendMessage validation and recording, the enterprise and
 * self-serve template lists, and the control endpoints used when running it by hand.
 */
import { readFile } from 'node:fs/promises';

import { type Dispatcher, request } from 'undici';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

import { SandboxTemplatesError, startSandbox, type Sandbox } from './server.ts';

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

async function waitUntil(condition: () => boolean, timeoutMs = 2_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) {
      throw new Error('condition not met in time');
    }
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
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
