/**
 * The self-serve (v2) send API of the sandbox over real HTTP: `/wa/api/v1/msg` (text, list,
 * quick reply) and `/wa/api/v1/template/msg` (with postback texts) answer 202 `submitted` and
 * record what they understood; a missing or unknown `apikey` answers 401, a malformed field 400
 * with a reason that never holds the number; `failNext` and `nextMessageIds` apply; the control
 * endpoint hides the API key.
 */
import { request } from 'undici';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

import { startSandbox, type Sandbox } from './server.ts';

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

const CUSTOMER = '919812345678';
const parties = {
  channel: 'whatsapp',
  source: '917834811114',
  destination: CUSTOMER,
  'src.name': 'ShopCoNDR',
};
/** fdr_address_issue: seven parameters, buttons [Update my address] | [Raise a concern]. */
const ADDRESS_TEMPLATE = '71baa9a9-a4f2-4e97-a6dd-c83747575157';
const addressParams = ['Asha', 'ShopCo', 'A1023', '2', '1', 'Red t-shirt', '4th Cross'];

const listMessage = {
  type: 'list',
  title: 'Delivery',
  body: 'When should we come again?',
  msgid: 'list-1',
  globalButtons: [{ type: 'text', title: 'Choose a date' }],
  items: [
    {
      title: 'Next days',
      options: [
        { type: 'text', title: '10 June 2023', description: 'Saturday', postbackText: 'd:10' },
        { type: 'text', title: '11 June 2023', postbackText: 'd:11' },
      ],
    },
  ],
};

const quickReply = {
  type: 'quick_reply',
  msgid: 'qr-1',
  content: { type: 'text', text: 'What should we do?', caption: 'ShopCo' },
  options: [
    { type: 'text', title: 'Re-attempt', postbackText: 'ndr:A1:reattempt' },
    { type: 'text', title: 'Cancel order' },
  ],
};

async function post(
  path: string,
  fields: Record<string, string>,
  apikey: string | null = 'test-key',
  target: Sandbox = sandbox,
) {
  const res = await request(`${target.origin}${path}`, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      ...(apikey === null ? {} : { apikey }),
    },
    body: new URLSearchParams(fields).toString(),
  });
  const text = await res.body.text();
  const isJson = String(res.headers['content-type']).startsWith('application/json');
  return { status: res.statusCode, json: isJson ? (JSON.parse(text) as unknown) : text };
}

const sendMessage = (message: unknown, extra: Record<string, string> = {}) =>
  post('/wa/api/v1/msg', { ...parties, message: JSON.stringify(message), ...extra });

const sendTemplate = (template: unknown, extra: Record<string, string> = {}) => {
  const { channel: _channel, ...rest } = parties;
  return post('/wa/api/v1/template/msg', { ...rest, template: JSON.stringify(template), ...extra });
};

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

describe('POST /wa/api/v1/msg', () => {
  it('answers 202 submitted with a UUID and records a text', async () => {
    const { status, json } = await sendMessage({ type: 'text', text: 'Hello Asha' });

    expect(status).toBe(202);
    expect(json).toEqual({ status: 'submitted', messageId: expect.stringMatching(UUID) });
    expect(sandbox.sends[0]).toEqual({
      at: expect.any(Date),
      api: 'self-serve',
      method: 'POST',
      path: '/wa/api/v1/msg',
      params: { ...parties, message: '{"type":"text","text":"Hello Asha"}' },
      apiKey: 'test-key',
      to: CUSTOMER,
      from: '917834811114',
      outcome: 'success',
      messageId: (json as { messageId: string }).messageId,
      whatsappMessageId: expect.stringMatching(/^wamid\./),
      message: { type: 'text', text: 'Hello Asha' },
    });
  });

  it('records a list as interactive content', async () => {
    const { status } = await sendMessage(listMessage);

    expect(status).toBe(202);
    expect(sandbox.sends[0]?.interactive).toEqual({
      type: 'list',
      body: 'When should we come again?',
      button: 'Choose a date',
      title: 'Delivery',
      msgid: 'list-1',
      sections: [
        {
          title: 'Next days',
          rows: [
            { title: '10 June 2023', description: 'Saturday', postbackText: 'd:10' },
            { title: '11 June 2023', postbackText: 'd:11' },
          ],
        },
      ],
    });
    expect(sandbox.sends[0]?.message?.type).toBe('list');
  });

  it('records a quick reply as buttons', async () => {
    await sendMessage(quickReply);

    expect(sandbox.sends[0]?.interactive).toEqual({
      type: 'buttons',
      body: 'What should we do?',
      caption: 'ShopCo',
      msgid: 'qr-1',
      buttons: [
        { title: 'Re-attempt', postbackText: 'ndr:A1:reattempt' },
        { title: 'Cancel order' },
      ],
    });
  });

  it.each([
    ['no channel', { channel: '' }, 'channel: is required'],
    ['another channel', { channel: 'sms' }, 'channel: must be whatsapp'],
    ['no source', { source: '' }, 'source: is required'],
    [
      'a destination with a +',
      { destination: `+${CUSTOMER}` },
      'destination: must be a phone number with country code, digits only',
    ],
    ['no src.name', { 'src.name': '' }, 'src.name: is required'],
    ['no message', { message: '' }, 'message: is required'],
    ['a message that is not JSON', { message: '{' }, 'message: must be valid JSON'],
    [
      'an image message',
      { message: '{"type":"image"}' },
      'message.type: the sandbox accepts message types text, list and quick_reply',
    ],
    ['an empty text', { message: '{"type":"text","text":" "}' }, 'message.text: must not be empty'],
  ])('answers 400 for %s', async (_what, change, message) => {
    const { status, json } = await post('/wa/api/v1/msg', {
      ...parties,
      message: '{"type":"text","text":"Hi"}',
      ...change,
    });

    expect(status).toBe(400);
    expect(json).toEqual({ status: 'error', message });
    expect(sandbox.sends[0]).toMatchObject({ outcome: 'error', httpStatus: 400, details: message });
  });

  it.each([
    [
      'eleven options',
      {
        ...listMessage,
        items: [
          {
            title: 'All',
            options: Array.from({ length: 11 }, (_, i) => ({ type: 'text', title: `D${i}` })),
          },
        ],
      },
      'message: a list holds at most 10 options in all',
    ],
    [
      'an option title over 24 characters',
      { ...listMessage, items: [{ options: [{ type: 'text', title: 'x'.repeat(25) }] }] },
      'message.items.0.options.0.title: must be at most 24 characters',
    ],
    [
      'a list button over 20 characters',
      { ...listMessage, globalButtons: [{ type: 'text', title: 'b'.repeat(21) }] },
      'message.globalButtons.0.title: must be at most 20 characters',
    ],
    [
      'four quick-reply options',
      {
        ...quickReply,
        options: ['A', 'B', 'C', 'D'].map((title) => ({ type: 'text', title })),
      },
      'message.options: must hold at most 3 options',
    ],
    [
      'a quick-reply title over 20 characters',
      { ...quickReply, options: [{ type: 'text', title: 't'.repeat(21) }] },
      'message.options.0.title: must be at most 20 characters',
    ],
    [
      'repeated postback texts',
      {
        ...quickReply,
        options: [
          { type: 'text', title: 'A', postbackText: 'same' },
          { type: 'text', title: 'B', postbackText: 'same' },
        ],
      },
      'message: option postbackTexts must be unique',
    ],
    [
      'a body over 1024 characters',
      { ...quickReply, content: { type: 'text', text: 'm'.repeat(1_025) } },
      'message.content.text: must be at most 1024 characters',
    ],
  ])('applies WhatsApp limits: 400 for %s', async (_what, message, reason) => {
    const { status, json } = await sendMessage(message);

    expect(status).toBe(400);
    expect(json).toEqual({ status: 'error', message: reason });
  });

  it('never puts the number in a reason', async () => {
    const { json } = await sendMessage({ type: 'text', text: Number(CUSTOMER) });

    expect(json).toEqual({ status: 'error', message: 'message.text: must be a string' });
    expect(JSON.stringify(json)).not.toContain(CUSTOMER);
  });
});

describe('POST /wa/api/v1/template/msg', () => {
  it('renders the template, records it and its postback texts', async () => {
    const postbackTexts = [
      { index: 0, text: 'ndr:A1:address' },
      { index: 1, text: 'ndr:A1:concern' },
    ];

    const { status, json } = await sendTemplate(
      { id: ADDRESS_TEMPLATE, params: addressParams },
      { postbackTexts: JSON.stringify(postbackTexts) },
    );

    expect(status).toBe(202);
    expect(json).toEqual({ status: 'submitted', messageId: expect.stringMatching(UUID) });
    const send = sandbox.sends[0];
    expect(send).toMatchObject({
      api: 'self-serve',
      path: '/wa/api/v1/template/msg',
      to: CUSTOMER,
      from: '917834811114',
      outcome: 'success',
      postbackTexts,
      template: {
        id: ADDRESS_TEMPLATE,
        name: 'fdr_address_issue',
        params: addressParams,
        buttons: ['Update my address', 'Raise a concern'],
      },
    });
    expect(send?.template?.body).toMatch(/^Hello Asha!\n\nYour ShopCo order with ID A1023,/);
    expect(send?.template?.body).toContain('- 1 Red t-shirt\n\nDelivery address:\n\n4th Cross');
    expect(send?.template?.body).not.toContain('{{');
    expect(send?.template?.body).not.toContain('[Update my address]');
  });

  it.each([
    ['no template', { template: '' }, 'template: is required'],
    ['a template that is not JSON', { template: 'x' }, 'template: must be valid JSON'],
    ['a template without an id', { template: '{"params":[]}' }, 'template.id: is required'],
    [
      'an unknown template id',
      { template: '{"id":"nope","params":[]}' },
      'template.id: no such template',
    ],
    [
      'too few parameters',
      { template: JSON.stringify({ id: ADDRESS_TEMPLATE, params: ['Asha'] }) },
      'template.params: the template takes 7 parameters, 1 were given',
    ],
    [
      'a postback index past the buttons',
      { postbackTexts: '[{"index":2,"text":"x"}]' },
      'postbackTexts: the template has 2 quick-reply buttons (index 0 to 1)',
    ],
    [
      'a postback index given twice',
      { postbackTexts: '[{"index":0,"text":"x"},{"index":0,"text":"y"}]' },
      'postbackTexts: must give each index once',
    ],
    [
      'a postback without text',
      { postbackTexts: '[{"index":0}]' },
      'postbackTexts.0.text: is required',
    ],
  ])('answers 400 for %s', async (_what, change, message) => {
    const { status, json } = await sendTemplate(
      { id: ADDRESS_TEMPLATE, params: addressParams },
      change,
    );

    expect(status).toBe(400);
    expect(json).toEqual({ status: 'error', message });
  });

  it('refuses postback texts for a template without buttons', async () => {
    const { json } = await sendTemplate(
      { id: '8f361040-b8e9-4fd6-84d0-394c347580ba', params: [] },
      { postbackTexts: '[{"index":0,"text":"x"}]' },
    );

    expect(json).toEqual({
      status: 'error',
      message: 'postbackTexts: the template has no quick-reply buttons',
    });
  });
});

describe('authentication, failures and ids', () => {
  it('answers 401 without an apikey, and records it', async () => {
    const { status, json } = await post('/wa/api/v1/msg', { ...parties }, null);

    expect(status).toBe(401);
    expect(json).toEqual({ status: 'error', message: 'Authentication Failed' });
    expect(sandbox.sends[0]).toMatchObject({ outcome: 'error', httpStatus: 401 });
    expect(sandbox.sends[0]?.apiKey).toBeUndefined();
  });

  it('accepts only the listed keys when apiKeys is given', async () => {
    const own = await startSandbox({ port: 0, host: '127.0.0.1', apiKeys: ['good-key'] });
    try {
      const message = JSON.stringify({ type: 'text', text: 'Hi' });
      const bad = await post('/wa/api/v1/msg', { ...parties, message }, 'bad-key', own);
      const good = await post('/wa/api/v1/msg', { ...parties, message }, 'good-key', own);

      expect(bad).toEqual({
        status: 401,
        json: { status: 'error', message: 'Authentication Failed' },
      });
      expect(good.status).toBe(202);
    } finally {
      await own.close();
    }
  });

  it('applies failNext: error as 400 with the details, http, then delay', async () => {
    sandbox.failNext(
      { kind: 'error', id: '1003', details: 'Wallet balance low' },
      { kind: 'error', id: '100' },
      { kind: 'http', status: 503 },
      { kind: 'delay', ms: 20 },
    );

    const answers = [];
    for (let i = 0; i < 4; i += 1) {
      answers.push(await sendMessage({ type: 'text', text: 'Hi' }));
    }

    expect(answers[0]).toEqual({
      status: 400,
      json: { status: 'error', message: 'Wallet balance low', code: 1003 },
    });
    expect(answers[1]).toEqual({
      status: 400,
      json: { status: 'error', message: 'Unknown exception, please retry later', code: 100 },
    });
    expect(answers[2]?.status).toBe(503);
    expect(answers[3]?.status).toBe(202);
    expect(sandbox.sends.map((s) => [s.outcome, s.errorId, s.httpStatus])).toEqual([
      ['error', '1003', 400],
      ['error', '100', 400],
      ['http_error', undefined, 503],
      ['success', undefined, undefined],
    ]);
  });

  it('answers the ids given to nextMessageIds', async () => {
    sandbox.nextMessageIds('7f3c1e2a-0000-4b1e-9a1d-1c2b3a4d5e6f');

    const { json } = await sendTemplate(
      { id: ADDRESS_TEMPLATE, params: addressParams },
      { postbackTexts: '[]' },
    );

    expect(json).toEqual({
      status: 'submitted',
      messageId: '7f3c1e2a-0000-4b1e-9a1d-1c2b3a4d5e6f',
    });
  });

  it('hides the API key in GET /_sandbox/sends, as it hides the password', async () => {
    await sendMessage({ type: 'text', text: 'Hi' }, { apikey: 'form-key' });

    const res = await request(`${sandbox.origin}/_sandbox/sends`);
    const listed = (await res.body.json()) as { apiKey?: string; params: Record<string, string> }[];

    expect(listed[0]?.apiKey).toBe('[redacted]');
    expect(listed[0]?.params.apikey).toBe('[redacted]');
    expect(JSON.stringify(listed)).not.toContain('test-key');
    expect(sandbox.sends[0]?.apiKey).toBe('test-key');
  });
});
