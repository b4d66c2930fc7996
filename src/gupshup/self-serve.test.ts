/**
 * The self-serve (v2) adapter against a small in-process stand-in for api.gupshup.io: the exact
 * form and headers it posts for templates (with postbacks) and for text, list and reply-button
 * session messages, and how each answer (submitted, error JSON, 401, 5xx, garbage, no answer)
 * becomes a SendResult.
 */
import type { AddressInfo } from 'node:net';

import { fastify, type FastifyInstance } from 'fastify';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

import { createSelfServeAdapter, parseAnswer, type SelfServeAccount } from './self-serve.ts';
import type { SendResult, TemplateSend } from './types.ts';

interface Received {
  path: string;
  apikey: string | undefined;
  contentType: string | undefined;
  form: Record<string, string>;
}

let server: FastifyInstance;
let received: Received[] = [];
let answers: Array<{ status: number; body: string }> = [];
let baseUrl: string;

const account: SelfServeAccount = {
  api: 'self-serve',
  apiKey: 'key-&-secret',
  appName: 'ShopCoNDR',
  waNumber: '+917834811114',
};

beforeAll(async () => {
  server = fastify();
  server.addContentTypeParser(
    'application/x-www-form-urlencoded',
    { parseAs: 'string' },
    (_req, body, done) => done(null, Object.fromEntries(new URLSearchParams(String(body)))),
  );
  server.post('/*', async (request, reply) => {
    received.push({
      path: request.url,
      apikey: request.headers.apikey as string | undefined,
      contentType: request.headers['content-type'],
      form: request.body as Record<string, string>,
    });
    const answer = answers.shift() ?? {
      status: 202,
      body: JSON.stringify({
        status: 'submitted',
        messageId: 'ee4a68a0-1203-4c85-8dc3-49d0b3226a35',
      }),
    };
    return reply.code(answer.status).type('application/json').send(answer.body);
  });
  await server.listen({ port: 0, host: '127.0.0.1' });
  baseUrl = `http://127.0.0.1:${(server.server.address() as AddressInfo).port}`;
});

afterEach(() => {
  received = [];
  answers = [];
});

afterAll(async () => {
  await server.close();
});

const template: TemplateSend = {
  to: '+919812345678',
  correlationKey: 'fdr-S1-1',
  text: 'Hello Asha! …',
  templateId: '992b7ece-3217-4134-a161-ebd6ffd91cd9',
  params: ['Asha', 'Vitamin Planet', 'A1023'],
  postbacks: ['wn1.1.r.AAAAAAAAAAAAAAAA', null, 'wn1.1.q.BBBBBBBBBBBBBBBB'],
};

function adapter() {
  return createSelfServeAdapter({ baseUrl, timeoutMs: 2_000 });
}

describe('self-serve templates', () => {
  it('posts /wa/api/v1/template/msg with apikey, the template id and params, and the postbacks by index', async () => {
    const client = adapter();
    try {
      const result = await client.sendTemplate(account, template);
      expect(result).toEqual({
        ok: true,
        messageId: 'ee4a68a0-1203-4c85-8dc3-49d0b3226a35',
        httpStatus: 202,
      });
    } finally {
      await client.close();
    }
    const [req] = received;
    expect(req).toMatchObject({
      path: '/wa/api/v1/template/msg',
      apikey: 'key-&-secret',
      contentType: 'application/x-www-form-urlencoded',
    });
    expect(req!.form).toEqual({
      channel: 'whatsapp',
      source: '917834811114',
      destination: '919812345678',
      'src.name': 'ShopCoNDR',
      template: JSON.stringify({ id: template.templateId, params: template.params }),
      postbackTexts: JSON.stringify([
        { index: 0, text: 'wn1.1.r.AAAAAAAAAAAAAAAA' },
        { index: 2, text: 'wn1.1.q.BBBBBBBBBBBBBBBB' },
      ]),
    });
    // No Enterprise field leaks into a self-serve request.
    expect(Object.keys(req!.form)).not.toContain('userid');
    expect(Object.keys(req!.form)).not.toContain('password');
  });

  it('leaves postbackTexts out when no button has one', async () => {
    const client = adapter();
    try {
      await client.sendTemplate(account, { ...template, postbacks: [null] });
    } finally {
      await client.close();
    }
    expect(received[0]!.form.postbackTexts).toBeUndefined();
  });
});

describe('self-serve session messages', () => {
  const base = { to: '919812345678', correlationKey: 'reply-9-date_choices' };

  async function sent(
    content: Parameters<ReturnType<typeof adapter>['sendSession']>[1]['content'],
  ) {
    const client = adapter();
    try {
      expect((await client.sendSession(account, { ...base, content })).ok).toBe(true);
    } finally {
      await client.close();
    }
    expect(received[0]!.path).toBe('/wa/api/v1/msg');
    return JSON.parse(received[0]!.form.message!) as Record<string, unknown>;
  }

  it('sends text', async () => {
    expect(await sent({ type: 'text', text: 'Thank you' })).toEqual({
      type: 'text',
      text: 'Thank you',
    });
    expect(received[0]!.form).toMatchObject({ channel: 'whatsapp', 'src.name': 'ShopCoNDR' });
  });

  it('sends a list, each row carrying its id as postbackText', async () => {
    expect(
      await sent({
        type: 'list',
        body: 'Please choose a new delivery date from the list.',
        button: 'Choose a date',
        section: 'Delivery dates',
        rows: [{ id: 'wn1.1.d20230614.AAAAAAAAAAAAAAAA', title: 'Wed, 14 June 2023' }],
      }),
    ).toEqual({
      type: 'list',
      title: 'Delivery dates',
      body: 'Please choose a new delivery date from the list.',
      msgid: base.correlationKey,
      globalButtons: [{ type: 'text', title: 'Choose a date' }],
      items: [
        {
          title: 'Delivery dates',
          options: [
            {
              type: 'text',
              title: 'Wed, 14 June 2023',
              postbackText: 'wn1.1.d20230614.AAAAAAAAAAAAAAAA',
            },
          ],
        },
      ],
    });
  });

  it('sends reply buttons as a quick_reply', async () => {
    expect(
      await sent({
        type: 'buttons',
        body: 'Rescheduled.',
        buttons: [{ id: 'wn1.1.n.AAAAAAAAAAAAAAAA', title: 'Change date' }],
      }),
    ).toEqual({
      type: 'quick_reply',
      msgid: base.correlationKey,
      content: { type: 'text', text: 'Rescheduled.' },
      options: [{ type: 'text', title: 'Change date', postbackText: 'wn1.1.n.AAAAAAAAAAAAAAAA' }],
    });
  });
});

describe('self-serve answers', () => {
  it("reads a refusal's Gupshup or Meta code, so the error table can act on it", () => {
    expect(
      parseAnswer(400, '{"status":"error","message":"Not on WhatsApp","code":1002}'),
    ).toMatchObject({
      ok: false,
      retryable: false,
      code: 'v2_1002',
    });
    expect(
      parseAnswer(200, '{"status":"error","message":"Wallet low","code":"1003"}'),
    ).toMatchObject({
      ok: false,
      code: 'v2_1003',
    });
    expect(
      parseAnswer(429, '{"status":"error","message":"Rate limited","code":4001}'),
    ).toMatchObject({
      ok: false,
      retryable: true,
      code: 'v2_4001',
    });
    expect(parseAnswer(400, '{"status":"error","code":131047}')).toMatchObject({
      code: 'meta_131047',
    });
    // A server error stays one; a code that is not a number is not read.
    expect(parseAnswer(503, '{"status":"error","code":1002}')).toMatchObject({
      code: 'http_503',
      retryable: true,
    });
    expect(parseAnswer(400, '{"status":"error","code":"x1"}')).toMatchObject({ code: 'http_400' });
  });

  const fail = (result: SendResult) => {
    if (result.ok) {
      throw new Error('expected a failure');
    }
    return result;
  };

  it('reads submitted, error JSON, authentication, server errors and garbage', () => {
    expect(parseAnswer(202, '{"status":"submitted","messageId":"m-1"}')).toMatchObject({
      ok: true,
      messageId: 'm-1',
    });
    expect(fail(parseAnswer(401, '{"status":"error","message":"Authentication Failed"}'))).toEqual({
      ok: false,
      retryable: false,
      code: 'http_401',
      reason: 'Gupshup answered HTTP 401: Authentication Failed',
      httpStatus: 401,
    });
    expect(
      fail(parseAnswer(200, '{"status":"error","reason":"Invalid Destination"}')),
    ).toMatchObject({
      retryable: false,
      code: 'gupshup_error',
      reason: 'Invalid Destination',
    });
    expect(
      fail(parseAnswer(400, '{"status":"error","message":"to 919812345678 bad"}')).reason,
    ).toBe('Gupshup answered HTTP 400: to [number] bad');
    expect(fail(parseAnswer(503, '<html>busy</html>'))).toMatchObject({
      retryable: true,
      code: 'http_503',
    });
    expect(fail(parseAnswer(429, ''))).toMatchObject({ retryable: true, code: 'http_429' });
    expect(fail(parseAnswer(202, 'not json'))).toMatchObject({
      retryable: true,
      code: 'bad_response',
    });
    expect(fail(parseAnswer(202, '{"status":"submitted"}'))).toMatchObject({
      code: 'bad_response',
    });
  });

  it('reports an unreachable API as a retryable failure that sent nothing', async () => {
    const client = createSelfServeAdapter({ baseUrl: 'http://127.0.0.1:1', timeoutMs: 1_000 });
    try {
      expect(fail(await client.sendTemplate(account, template))).toMatchObject({
        retryable: true,
        code: 'unreachable',
      });
    } finally {
      await client.close();
    }
  });

  it('passes a non-2xx answer from the stand-in on as a failure', async () => {
    answers.push({ status: 500, body: '{"status":"error","message":"Internal"}' });
    const client = adapter();
    try {
      expect(fail(await client.sendTemplate(account, template))).toMatchObject({
        code: 'http_500',
        retryable: true,
      });
    } finally {
      await client.close();
    }
  });
});
