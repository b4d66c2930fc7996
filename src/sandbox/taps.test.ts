/**
 * Customer replies built from what the sandbox sent, over real HTTP to an in-test webhook: taps
 * on interactive lists and buttons (both APIs) and on template quick replies, in the
 * enterprise, v2 and v3 formats, each echoing exactly the ids it was sent (row id, button id,
 * postback text, Gupshup and WhatsApp ids); a v3 customer without a phone number; free texts;
 * which send a tap answers; what cannot be tapped; and the control endpoints.
 */
import { readFile } from 'node:fs/promises';

import { request } from 'undici';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';

import { parseWebhook } from '../webhook/parse.ts';
import {
  type CallbackFormat,
  SandboxCallbackError,
  SandboxTapError,
  startSandbox,
  type Sandbox,
} from './server.ts';
import { type Received, type Receiver, startReceiver, waitUntil } from './test-receiver.ts';

const CUSTOMER = '919812345678';
const BUSINESS = '917834811114';
const WA_NUMBER = '919319278973';
const ADDRESS_TEMPLATE = '71baa9a9-a4f2-4e97-a6dd-c83747575157';
const addressParams = ['Asha', 'ShopCo', 'A1023', '2', '1', 'Red t-shirt', '4th Cross'];

let sandbox: Sandbox;
let receiver: Receiver;

beforeAll(async () => {
  sandbox = await startSandbox({ port: 0, host: '127.0.0.1' });
  receiver = await startReceiver();
});

beforeEach(() => {
  // Reports off: only replies reach the webhook.
  useFormat('enterprise');
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

function useFormat(format: CallbackFormat) {
  sandbox.setCallback({
    url: receiver.url,
    format,
    delaysMs: { enqueued: null, sent: null, delivered: null, read: null },
  });
}

// ---------------------------------------------------------------------------------------------
// Sends

const gateway = {
  method: 'SendMessage',
  userid: 'u',
  password: 'p',
  send_to: CUSTOMER,
  msg_type: 'TEXT',
};

const listAction = {
  button: 'Choose a date',
  sections: [
    {
      title: 'Next days',
      rows: [
        { id: 'ndr:A1:date:2023-06-10', title: '10 June 2023', description: 'Saturday' },
        { id: 'ndr:A1:date:2023-06-11', title: '11 June 2023' },
      ],
    },
  ],
};

const buttonsAction = {
  buttons: [
    { type: 'reply', reply: { id: 'ndr:A1:reattempt', title: 'Re-attempt' } },
    { type: 'reply', reply: { id: 'ndr:A1:cancel', title: 'Cancel order' } },
  ],
};

async function enterprise(params: Record<string, string>) {
  const res = await request(sandbox.url, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ ...gateway, ...params }).toString(),
  });
  await res.body.dump();
  return lastSend();
}

const enterpriseList = () =>
  enterprise({ interactive_type: 'list', action: JSON.stringify(listAction), msg: 'When?' });
const enterpriseButtons = () =>
  enterprise({ interactive_type: 'dr_button', action: JSON.stringify(buttonsAction), msg: 'Now?' });

async function enterpriseTemplate() {
  const list = JSON.parse(await readFile(new URL('./templates.json', import.meta.url), 'utf8')) as {
    templates: { id: string; data: string }[];
  };
  const data = list.templates.find((t) => t.id === ADDRESS_TEMPLATE)?.data ?? '';
  const body = data
    .replace(/\s*\|\s*\[.*$/s, '')
    .replace(/\{\{(\d+)\}\}/g, (_all, n: string) => addressParams[Number(n) - 1] ?? '');
  return enterprise({ msg_type: 'HSM', isTemplate: 'true', msg: body });
}

async function selfServe(path: string, fields: Record<string, string>) {
  const res = await request(`${sandbox.origin}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', apikey: 'k' },
    body: new URLSearchParams({
      channel: 'whatsapp',
      source: BUSINESS,
      destination: CUSTOMER,
      'src.name': 'ShopCoNDR',
      ...fields,
    }).toString(),
  });
  expect(res.statusCode).toBe(202);
  await res.body.dump();
  return lastSend();
}

const selfServeList = () =>
  selfServe('/wa/api/v1/msg', {
    message: JSON.stringify({
      type: 'list',
      body: 'When?',
      globalButtons: [{ type: 'text', title: 'Choose a date' }],
      items: [
        {
          title: 'Next days',
          options: [
            { type: 'text', title: '10 June 2023', description: 'Sat', postbackText: 'd:10' },
            { type: 'text', title: '11 June 2023', postbackText: 'd:11' },
          ],
        },
      ],
    }),
  });

const selfServeButtons = () =>
  selfServe('/wa/api/v1/msg', {
    message: JSON.stringify({
      type: 'quick_reply',
      content: { type: 'text', text: 'Now?' },
      options: [
        { type: 'text', title: 'Re-attempt', postbackText: 'ndr:A1:reattempt' },
        { type: 'text', title: 'Cancel order' },
      ],
    }),
  });

const selfServeTemplate = (postbackTexts?: { index: number; text: string }[]) =>
  selfServe('/wa/api/v1/template/msg', {
    template: JSON.stringify({ id: ADDRESS_TEMPLATE, params: addressParams }),
    ...(postbackTexts ? { postbackTexts: JSON.stringify(postbackTexts) } : {}),
  });

function lastSend() {
  const send = sandbox.sends.at(-1);
  expect(send?.outcome).toBe('success');
  return { gsId: send?.messageId ?? '', wamid: send?.whatsappMessageId ?? '' };
}

// ---------------------------------------------------------------------------------------------
// What the webhook got

function lastReceived(): Received {
  const req = receiver.received.at(-1);
  expect(req).toBeDefined();
  return req!;
}

function formOf(req: Received): Record<string, string> {
  expect(req).toMatchObject({ method: 'POST', contentType: 'application/x-www-form-urlencoded' });
  return Object.fromEntries(new URLSearchParams(req.body));
}

function jsonOf(req: Received): Record<string, unknown> {
  expect(req).toMatchObject({ method: 'POST', contentType: 'application/json' });
  return JSON.parse(req.body) as Record<string, unknown>;
}

interface V2Message {
  app: string;
  version: number;
  type: string;
  payload: {
    id: string;
    source: string;
    type: string;
    payload: Record<string, unknown>;
    sender: Record<string, string>;
    context?: { id: string; gsId: string };
  };
}

interface V3Value {
  metadata: { display_phone_number: string };
  contacts: Record<string, unknown>[];
  messages: Record<string, unknown>[];
}

function v3ValueOf(req: Received): V3Value {
  const body = jsonOf(req) as { object: string; entry: { changes: { value: V3Value }[] }[] };
  expect(body.object).toBe('whatsapp_business_account');
  const value = body.entry[0]?.changes[0]?.value;
  expect(value).toBeDefined();
  return value!;
}

function parsed(req: Received) {
  const result = parseWebhook(
    { contentType: req.contentType, body: Buffer.from(req.body), query: {} },
    { maxEvents: 20 },
  );
  expect(result.ok).toBe(true);
  const [event] = result.ok ? result.events : [];
  expect(event?.kind).toBe('inbound');
  return event?.kind === 'inbound' ? event.message : null;
}

// ---------------------------------------------------------------------------------------------

describe('enterprise taps', () => {
  it('taps a list row by number, echoing its id and naming our message', async () => {
    const { gsId, wamid } = await enterpriseList();

    const result = await sandbox.tap({ to: CUSTOMER, choice: 1 });

    expect(result).toMatchObject({
      format: 'enterprise',
      messageId: gsId,
      record: { status: 202 },
    });
    const form = formOf(lastReceived());
    expect(form).toEqual({
      mobile: CUSTOMER,
      type: 'interactive',
      interactive: JSON.stringify({
        type: 'list_reply',
        list_reply: {
          id: 'ndr:A1:date:2023-06-10',
          title: '10 June 2023',
          description: 'Saturday',
        },
      }),
      context: JSON.stringify({ from: WA_NUMBER, id: wamid }),
      timestamp: expect.stringMatching(/^\d{13}$/),
      waNumber: WA_NUMBER,
      replyId: gsId.split('-')[0],
      messageId: expect.any(String),
      name: 'Sandbox Customer',
    });
    expect(sandbox.callbacks.at(-1)?.label).toBe('reply interactive');
    // The service's own parser reads it back.
    expect(parsed(lastReceived())).toMatchObject({
      mobile: CUSTOMER,
      replyId: gsId.split('-')[0],
      contextId: wamid,
      type: 'interactive',
      interactiveId: 'ndr:A1:date:2023-06-10',
      interactiveTitle: '10 June 2023',
    });
  });

  it('taps a reply button by title, in any case', async () => {
    await enterpriseButtons();

    const result = await sandbox.tap({ to: `+${CUSTOMER}`, choice: 'cancel ORDER', name: 'Asha' });

    expect(result.choice).toEqual({
      offer: 'buttons',
      index: 1,
      title: 'Cancel order',
      id: 'ndr:A1:cancel',
    });
    const form = formOf(lastReceived());
    expect(JSON.parse(form.interactive ?? '')).toEqual({
      type: 'button_reply',
      button_reply: { id: 'ndr:A1:cancel', title: 'Cancel order' },
    });
    expect(form.name).toBe('Asha');
  });

  it("taps a template's quick-reply button, known from the template list", async () => {
    const { gsId, wamid } = await enterpriseTemplate();
    expect(sandbox.sends[0]?.template).toMatchObject({
      id: '1329870350939574',
      name: 'fdr_address_issue',
      params: addressParams,
      buttons: ['Update my address', 'Raise a concern'],
    });

    await sandbox.tap({ to: CUSTOMER, choice: 'Raise a concern' });

    const form = formOf(lastReceived());
    expect(form).toMatchObject({
      mobile: CUSTOMER,
      type: 'button',
      button: JSON.stringify({ text: 'Raise a concern' }),
      context: JSON.stringify({ from: WA_NUMBER, id: wamid }),
      replyId: gsId.split('-')[0],
      waNumber: WA_NUMBER,
    });
    expect(parsed(lastReceived())).toMatchObject({ type: 'button', buttonText: 'Raise a concern' });
  });

  it('sends a JSON body when asked', async () => {
    await enterpriseButtons();

    await sandbox.tap({ to: CUSTOMER, choice: 1, as: 'json' });

    expect(jsonOf(lastReceived())).toMatchObject({ type: 'interactive', mobile: CUSTOMER });
  });
});

describe('v2 taps', () => {
  it('taps a self-serve list option, echoing its postback text and both ids', async () => {
    const { gsId, wamid } = await selfServeList();

    const result = await sandbox.tap({ to: CUSTOMER, choice: 1, name: 'Asha' });

    expect(result.format).toBe('v2');
    const body = jsonOf(lastReceived()) as unknown as V2Message;
    expect(body).toEqual({
      app: 'ShopCoNDR',
      timestamp: expect.any(Number),
      version: 2,
      type: 'message',
      payload: {
        id: expect.any(String),
        source: CUSTOMER,
        type: 'list_reply',
        payload: {
          title: '10 June 2023',
          id: 'd:10',
          reply: '10 June 2023 1',
          postbackText: 'd:10',
          description: 'Sat',
        },
        sender: { phone: CUSTOMER, name: 'Asha', country_code: '91', dial_code: '9812345678' },
        context: { id: wamid, gsId },
      },
    });
    expect(sandbox.callbacks.at(-1)?.label).toBe('tap list_reply (v2)');
    expect(parsed(lastReceived())).toMatchObject({
      source: 'v2',
      mobile: CUSTOMER,
      contextId: wamid,
      contextGsId: gsId,
      interactiveId: 'd:10',
      postbackText: 'd:10',
    });
  });

  it('taps an enterprise list row in v2 when the callback format says so', async () => {
    useFormat('v2');
    const { gsId } = await enterpriseList();

    await sandbox.tap({ to: CUSTOMER, choice: 2 });

    const body = jsonOf(lastReceived()) as unknown as V2Message;
    expect(body.app).toBe('SandboxApp');
    expect(body.payload.payload).toEqual({
      title: '11 June 2023',
      id: 'ndr:A1:date:2023-06-11',
      reply: '11 June 2023 2',
      postbackText: 'ndr:A1:date:2023-06-11',
    });
    expect(body.payload.context?.gsId).toBe(gsId);
  });

  it('taps quick-reply options: the postback text as id, or a generated one', async () => {
    await selfServeButtons();

    await sandbox.tap({ to: CUSTOMER, choice: 're-attempt' });
    const first = jsonOf(lastReceived()) as unknown as V2Message;
    await sandbox.tap({ to: CUSTOMER, choice: 2 });
    const second = jsonOf(lastReceived()) as unknown as V2Message;

    expect(first.payload.type).toBe('button_reply');
    expect(first.payload.payload).toEqual({
      title: 'Re-attempt',
      id: 'ndr:A1:reattempt',
      reply: 'Re-attempt 1',
    });
    expect(second.payload.payload).toEqual({
      title: 'Cancel order',
      id: 'button-2',
      reply: 'Cancel order 2',
    });
  });

  it("taps a template's button, bringing its postback text back as the id", async () => {
    const { gsId, wamid } = await selfServeTemplate([{ index: 1, text: 'ndr:A1:concern:sig' }]);

    await sandbox.tap({ to: CUSTOMER, choice: 'Raise a concern' });
    const tapped = jsonOf(lastReceived()) as unknown as V2Message;
    await sandbox.tap({ to: CUSTOMER, choice: 1 });
    const other = jsonOf(lastReceived()) as unknown as V2Message;

    expect(tapped.payload).toMatchObject({
      type: 'quick_reply',
      payload: { title: 'Raise a concern', id: 'ndr:A1:concern:sig', reply: 'Raise a concern 2' },
      context: { id: wamid, gsId },
    });
    expect(other.payload.payload).toEqual({
      title: 'Update my address',
      id: 'button-1',
      reply: 'Update my address 1',
    });
  });
});

describe('v3 taps', () => {
  beforeEach(() => {
    useFormat('v3');
  });

  it('taps an enterprise button in Meta shape, with the context ids', async () => {
    const { gsId, wamid } = await enterpriseButtons();

    const result = await sandbox.tap({ to: CUSTOMER, choice: 1, name: 'Asha' });

    expect(result.format).toBe('v3');
    const value = v3ValueOf(lastReceived());
    expect(value.metadata.display_phone_number).toBe(WA_NUMBER);
    expect(value.contacts).toEqual([{ profile: { name: 'Asha' }, wa_id: CUSTOMER }]);
    expect(value.messages).toEqual([
      {
        from: CUSTOMER,
        id: expect.stringMatching(/^wamid\./),
        timestamp: expect.stringMatching(/^\d{10}$/),
        type: 'interactive',
        interactive: {
          type: 'button_reply',
          button_reply: { id: 'ndr:A1:reattempt', title: 'Re-attempt' },
        },
        context: { from: WA_NUMBER, id: wamid, gs_id: gsId },
      },
    ]);
  });

  it('taps a self-serve list option with its postback text as the row id', async () => {
    await selfServeList();

    await sandbox.tap({ to: CUSTOMER, choice: '10 june 2023' });

    const [message] = v3ValueOf(lastReceived()).messages;
    expect(message?.interactive).toEqual({
      type: 'list_reply',
      list_reply: { id: 'd:10', title: '10 June 2023', description: 'Sat' },
    });
    expect(v3ValueOf(lastReceived()).metadata.display_phone_number).toBe(BUSINESS);
  });

  it("taps a template's button: payload is the postback text, or the title without one", async () => {
    const { gsId, wamid } = await selfServeTemplate([{ index: 0, text: 'ndr:A1:address:sig' }]);

    await sandbox.tap({ to: CUSTOMER, choice: 1 });
    const [withPostback] = v3ValueOf(lastReceived()).messages;
    await sandbox.tap({ to: CUSTOMER, choice: 2 });
    const [withoutPostback] = v3ValueOf(lastReceived()).messages;

    expect(withPostback).toMatchObject({
      type: 'button',
      button: { payload: 'ndr:A1:address:sig', text: 'Update my address' },
      context: { from: BUSINESS, id: wamid, gs_id: gsId },
    });
    expect(withoutPostback?.button).toEqual({
      payload: 'Raise a concern',
      text: 'Raise a concern',
    });
  });

  it('drops the number everywhere with withoutPhone, giving a business-scoped id', async () => {
    await selfServeTemplate([{ index: 0, text: 'ndr:A1:address:sig' }]);

    await sandbox.tap({ to: CUSTOMER, choice: 1, withoutPhone: true });
    const first = v3ValueOf(lastReceived());
    await sandbox.text({ to: CUSTOMER, text: 'call me', withoutPhone: true });
    const second = v3ValueOf(lastReceived());

    const [message] = first.messages;
    expect(message).not.toHaveProperty('from');
    expect(message?.from_user_id).toMatch(/^IN\.[0-9a-f]{16}$/);
    expect(first.contacts).toEqual([
      { profile: { name: 'Sandbox Customer' }, user_id: message?.from_user_id },
    ]);
    expect(message?.button).toEqual({ payload: 'ndr:A1:address:sig', text: 'Update my address' });
    // The same customer keeps the same id.
    expect(second.messages[0]?.from_user_id).toBe(message?.from_user_id);
    for (const req of receiver.received) {
      expect(req.body).not.toContain(CUSTOMER);
    }
    expect(sandbox.callbacks.at(-2)?.label).toBe('tap button (v3) without phone');
  });
});

describe('free texts', () => {
  it('posts a text in each format, quoting nothing', async () => {
    await enterpriseButtons();
    await sandbox.text({ to: CUSTOMER, text: 'deliver after 6pm' });
    const enterpriseText = formOf(lastReceived());
    useFormat('v2');
    await sandbox.text({ to: CUSTOMER, text: 'deliver after 6pm' });
    const v2 = jsonOf(lastReceived()) as unknown as V2Message;
    useFormat('v3');
    const result = await sandbox.text({ to: CUSTOMER, text: 'deliver after 6pm' });
    const v3 = v3ValueOf(lastReceived());

    expect(enterpriseText).toMatchObject({
      mobile: CUSTOMER,
      type: 'text',
      text: 'deliver after 6pm',
      waNumber: WA_NUMBER,
    });
    expect(enterpriseText.replyId).toBeUndefined();
    expect(v2.payload).toMatchObject({ type: 'text', payload: { text: 'deliver after 6pm' } });
    expect(v2.payload.context).toBeUndefined();
    expect(result.format).toBe('v3');
    expect(v3.messages[0]).toMatchObject({
      from: CUSTOMER,
      type: 'text',
      text: { body: 'deliver after 6pm' },
    });
    expect(v3.messages[0]).not.toHaveProperty('context');
  });

  it('answers a self-serve customer in v2 and from its source number', async () => {
    await selfServeButtons();

    const result = await sandbox.text({ to: CUSTOMER, text: 'hello' });

    expect(result.format).toBe('v2');
    expect((jsonOf(lastReceived()) as unknown as V2Message).app).toBe('ShopCoNDR');
  });

  it('texts a customer nobody messaged, from the enterprise number', async () => {
    await sandbox.text({ to: '919000000001', text: 'hi' });

    expect(formOf(lastReceived())).toMatchObject({ mobile: '919000000001', waNumber: WA_NUMBER });
  });
});

describe('which message a tap answers', () => {
  it('answers the newest send that offered choices, skipping texts and refused sends', async () => {
    await enterpriseList();
    const { gsId } = await enterpriseButtons();
    await enterprise({ msg: 'A plain text' });
    await request(sandbox.url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        ...gateway,
        interactive_type: 'list',
        action: '{"button":"x"}',
        msg: 'refused',
      }).toString(),
    }).then((res) => res.body.dump());

    const result = await sandbox.tap({ to: CUSTOMER, choice: 1 });

    expect(result.messageId).toBe(gsId);
    expect(result.choice.id).toBe('ndr:A1:reattempt');
  });

  it('refuses what cannot be played', async () => {
    await expect(sandbox.tap({ to: CUSTOMER, choice: 1 })).rejects.toBeInstanceOf(SandboxTapError);
    await enterprise({ msg: 'A plain text' });
    await expect(sandbox.tap({ to: CUSTOMER, choice: 1 })).rejects.toBeInstanceOf(SandboxTapError);
    await enterprise({ msg_type: 'HSM', isTemplate: 'true', msg: 'A template nobody approved' });
    await expect(sandbox.tap({ to: CUSTOMER, choice: 1 })).rejects.toThrow(
      "1 template sends matched none of the sandbox's templates",
    );
    expect(sandbox.sends.at(-1)?.template).toBeUndefined();

    await enterpriseButtons();
    await expect(sandbox.tap({ to: CUSTOMER, choice: 3 })).rejects.toThrow(
      'no choice 3; offered: 1 "Re-attempt", 2 "Cancel order"',
    );
    await expect(sandbox.tap({ to: CUSTOMER, choice: 'Maybe' })).rejects.toThrow(SandboxTapError);
    await expect(sandbox.tap({ to: CUSTOMER, choice: 1, withoutPhone: true })).rejects.toThrow(
      'withoutPhone needs the v3 format (this reply is enterprise)',
    );

    await selfServeButtons();
    await expect(sandbox.tap({ to: CUSTOMER, choice: 1, format: 'enterprise' })).rejects.toThrow(
      SandboxTapError,
    );

    sandbox.setCallback(null);
    await expect(sandbox.tap({ to: CUSTOMER, choice: 1 })).rejects.toBeInstanceOf(
      SandboxCallbackError,
    );
    await expect(sandbox.text({ to: CUSTOMER, text: 'x' })).rejects.toBeInstanceOf(
      SandboxCallbackError,
    );
    expect(receiver.received).toEqual([]);
  });

  it('takes a per-tap format over the callback one', async () => {
    await enterpriseButtons();

    const result = await sandbox.tap({ to: CUSTOMER, choice: 1, format: 'v3' });

    expect(result.format).toBe('v3');
    expect(v3ValueOf(lastReceived()).messages[0]?.type).toBe('interactive');
  });
});

describe('POST /_sandbox/tap and /_sandbox/text', () => {
  async function control(path: string, body: unknown) {
    const res = await request(`${sandbox.origin}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    return { status: res.statusCode, json: (await res.body.json()) as Record<string, unknown> };
  }

  it('taps and texts over HTTP', async () => {
    const { gsId } = await enterpriseList();

    const tapped = await control('/_sandbox/tap', { to: CUSTOMER, choice: '11 June 2023' });
    const texted = await control('/_sandbox/text', { to: CUSTOMER, text: 'thanks', format: 'v2' });

    expect(tapped).toEqual({
      status: 200,
      json: {
        status: 202,
        attempts: 1,
        format: 'enterprise',
        messageId: gsId,
        choice: { offer: 'list', index: 1, title: '11 June 2023', id: 'ndr:A1:date:2023-06-11' },
      },
    });
    expect(texted).toEqual({ status: 200, json: { status: 202, attempts: 1, format: 'v2' } });
    expect(receiver.received).toHaveLength(2);
  });

  it('answers 409 when there is nothing to tap and 400 for a malformed body', async () => {
    const nothing = await control('/_sandbox/tap', { to: CUSTOMER, choice: 1 });
    const malformed = await control('/_sandbox/tap', { to: CUSTOMER, choice: 0 });
    const noText = await control('/_sandbox/text', { to: CUSTOMER });

    expect(nothing).toEqual({
      status: 409,
      json: {
        code: 'ERR_SANDBOX_TAP',
        message: 'no successful send to that number offered anything to tap',
      },
    });
    expect(malformed.status).toBe(400);
    expect(malformed.json.code).toBe('ERR_SANDBOX_TAP');
    expect(noText.status).toBe(400);
  });

  it('retries a refused tap like any callback', async () => {
    await enterpriseButtons();
    receiver.answerNext(503);

    const { json } = await control('/_sandbox/tap', { to: CUSTOMER, choice: 2 });

    expect(json).toMatchObject({ status: 202, attempts: 2 });
    await waitUntil(() => sandbox.callbacks.length === 2);
    expect(sandbox.callbacks.map((c) => c.status)).toEqual([503, 202]);
  });
});
