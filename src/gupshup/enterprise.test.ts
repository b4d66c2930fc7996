/**
 * The Enterprise client against an in-process Gupshup sandbox on a random port: the exact form it
 * posts for templates and session texts, and how each kind of answer (success, Gupshup error, HTTP
 * failure, timeout, abort, unreachable host, garbage) becomes a SendResult.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

import { startSandbox, type Sandbox } from '../sandbox/server.ts';
import { createEnterpriseAdapter, type EnterpriseAdapter } from './enterprise.ts';
import type { SendResult, SessionSend } from './types.ts';

// Characters that form encoding must escape, so a naive body builder would fail the field check.
const creds = { userid: '2000123456', password: 'pa&ss=word+1' };
const msg = {
  to: '919812345678',
  text: 'Hi Asha, order #A1023 could not be delivered (reason: address issue).\nReply 1 & we retry.',
  correlationKey: 'send-outbox-42',
  templateId: 'tpl-1',
  params: [],
  postbacks: [],
};

/** A session text as the adapter takes it. */
function asText(m: { to: string; text: string; correlationKey: string }): SessionSend {
  return { to: m.to, correlationKey: m.correlationKey, content: { type: 'text', text: m.text } };
}

let sandbox: Sandbox;
let client: EnterpriseAdapter;

beforeAll(async () => {
  sandbox = await startSandbox({ port: 0, host: '127.0.0.1' });
  client = createEnterpriseAdapter({
    baseUrl: sandbox.url,
    timeoutMs: 2_000,
    templateMsgType: 'HSM',
  });
});

afterEach(() => {
  sandbox.reset();
});

afterAll(async () => {
  await client.close();
  await sandbox.close();
});

/** Polls instead of sleeping: resolves as soon as `condition` holds, fails after `timeoutMs`. */
async function waitUntil(condition: () => boolean, timeoutMs = 2_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) {
      throw new Error('condition not met in time');
    }
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

function failure(result: SendResult) {
  if (result.ok) {
    throw new Error(`expected a failure, got success ${result.messageId}`);
  }
  return result;
}

describe('sendTemplate', () => {
  it('posts the SendMessage form and returns the Gupshup message id', async () => {
    const result = await client.sendTemplate(creds, msg);

    expect(result).toEqual({ ok: true, messageId: expect.any(String), httpStatus: 200 });
    expect(sandbox.sends).toHaveLength(1);
    const send = sandbox.sends[0]!;
    expect(send.params).toEqual({
      method: 'SendMessage',
      userid: '2000123456',
      password: 'pa&ss=word+1',
      auth_scheme: 'plain',
      v: '1.1',
      format: 'json',
      send_to: '919812345678',
      msg_type: 'HSM',
      isTemplate: 'true',
      msg: msg.text,
      msg_id: 'send-outbox-42',
      extra: 'send-outbox-42',
    });
    expect(send).toMatchObject({ outcome: 'success', messageId: result.ok && result.messageId });
    expect(result.ok && result.messageId).toMatch(/^\d{19}-\d{18}$/);
  });

  it('uses the configured msg_type and strips a leading + from the number', async () => {
    const textClient = createEnterpriseAdapter({
      baseUrl: sandbox.url,
      timeoutMs: 2_000,
      templateMsgType: 'DATA_TEXT',
    });
    try {
      const result = await textClient.sendTemplate(creds, { ...msg, to: '+919812345678' });
      expect(result.ok).toBe(true);
      expect(sandbox.sends[0]?.params).toMatchObject({
        msg_type: 'DATA_TEXT',
        send_to: '919812345678',
      });
    } finally {
      await textClient.close();
    }
  });

  it('treats Gupshup error 100 as retryable', async () => {
    sandbox.failNext({ kind: 'error', id: '100' });

    const result = failure(await client.sendTemplate(creds, msg));

    expect(result).toMatchObject({ retryable: true, code: 'gupshup_100', httpStatus: 200 });
  });

  it('treats an invalid number (error 105) as permanent, without echoing the number', async () => {
    const result = failure(await client.sendTemplate(creds, { ...msg, to: '98123' }));

    expect(result).toEqual({
      ok: false,
      retryable: false,
      code: 'gupshup_105',
      reason: 'The phone number is not valid',
      httpStatus: 200,
    });
    expect(sandbox.sends[0]).toMatchObject({ outcome: 'error', errorId: '105' });
  });

  it('treats other Gupshup error ids as permanent and keeps the password out of the reason', async () => {
    sandbox.failNext({
      kind: 'error',
      id: '102',
      details: 'Authentication failed for 919812345678',
    });

    const result = failure(await client.sendTemplate(creds, msg));

    expect(result).toMatchObject({ retryable: false, code: 'gupshup_102' });
    expect(result.reason).not.toContain('919812345678');
    expect(result.reason).not.toContain(creds.password);
  });

  it.each([503, 500, 429, 408])('treats HTTP %i as retryable', async (status) => {
    sandbox.failNext({ kind: 'http', status });

    const result = failure(await client.sendTemplate(creds, msg));

    expect(result).toMatchObject({ retryable: true, code: `http_${status}`, httpStatus: status });
  });

  it.each([400, 401, 404])('treats HTTP %i as permanent', async (status) => {
    sandbox.failNext({ kind: 'http', status });

    const result = failure(await client.sendTemplate(creds, msg));

    expect(result).toMatchObject({ retryable: false, code: `http_${status}`, httpStatus: status });
  });

  it('treats an unreadable 200 body as a retryable bad_response', async () => {
    // The sandbox answers an injected HTTP failure with a plain-text body.
    sandbox.failNext({ kind: 'http', status: 200 });

    const result = failure(await client.sendTemplate(creds, msg));

    expect(result).toMatchObject({ retryable: true, code: 'bad_response', httpStatus: 200 });
  });

  it('keeps working after failures (bodies are consumed, connections reused)', async () => {
    sandbox.failNext(
      { kind: 'http', status: 503 },
      { kind: 'http', status: 400 },
      { kind: 'error', id: '100' },
    );

    const results = [];
    for (let i = 0; i < 4; i += 1) {
      results.push(await client.sendTemplate(creds, msg));
    }

    expect(results.map((r) => (r.ok ? 'ok' : r.code))).toEqual([
      'http_503',
      'http_400',
      'gupshup_100',
      'ok',
    ]);
  });

  it('gives up with a retryable timeout when Gupshup is slower than timeoutMs', async () => {
    const quickClient = createEnterpriseAdapter({
      baseUrl: sandbox.url,
      timeoutMs: 200,
      templateMsgType: 'HSM',
    });
    sandbox.failNext({ kind: 'delay', ms: 30_000 });
    try {
      const started = Date.now();
      const result = failure(await quickClient.sendTemplate(creds, msg));

      expect(result).toMatchObject({ retryable: true, code: 'timeout' });
      expect(Date.now() - started).toBeLessThan(1_500);
    } finally {
      await quickClient.close();
    }
  });

  it('stops a request in flight when the signal aborts', async () => {
    sandbox.failNext({ kind: 'delay', ms: 30_000 });
    const controller = new AbortController();

    const pending = client.sendTemplate(creds, msg, controller.signal);
    await waitUntil(() => sandbox.sends.length === 1);
    const abortedAt = Date.now();
    controller.abort();
    const result = failure(await pending);

    expect(result).toMatchObject({ retryable: true, code: 'aborted' });
    // Ignoring the signal would only end the request at the 2 s client timeout.
    expect(Date.now() - abortedAt).toBeLessThan(1_000);
  });

  it('sends nothing when the signal is already aborted', async () => {
    const result = failure(await client.sendTemplate(creds, msg, AbortSignal.abort()));
    await client.sendTemplate(creds, { ...msg, correlationKey: 'after-abort' });

    expect(result.code).toBe('aborted');
    expect(sandbox.sends.map((s) => s.params.msg_id)).toEqual(['after-abort']);
  });

  it('reports an unreachable Gupshup as a retryable failure that sent nothing', async () => {
    const gone = await startSandbox({ port: 0, host: '127.0.0.1' });
    await gone.close();
    const deadClient = createEnterpriseAdapter({
      baseUrl: gone.url,
      timeoutMs: 2_000,
      templateMsgType: 'HSM',
    });
    try {
      const result = failure(await deadClient.sendTemplate(creds, msg));

      expect(result).toMatchObject({ retryable: true, code: 'unreachable' });
      expect(result.httpStatus).toBeUndefined();
    } finally {
      await deadClient.close();
    }
  });
});

describe('sendSession: text', () => {
  const text = { to: '+919812345678', text: 'Reply 1, 2 or 3 & we act.', correlationKey: 'k-7' };

  it('posts a DATA_TEXT SendMessage without isTemplate or data_encoding for ASCII text', async () => {
    const result = await client.sendSession(creds, asText(text));

    expect(result).toEqual({ ok: true, messageId: expect.any(String), httpStatus: 200 });
    expect(sandbox.sends[0]?.params).toEqual({
      method: 'SendMessage',
      userid: '2000123456',
      password: 'pa&ss=word+1',
      auth_scheme: 'plain',
      v: '1.1',
      format: 'json',
      send_to: '919812345678',
      msg_type: 'DATA_TEXT',
      msg: text.text,
      msg_id: 'k-7',
      extra: 'k-7',
    });
  });

  it.each([
    ['an emoji', 'Thanks! 👍'],
    ['Devanagari', 'धन्यवाद, हम कल फिर आएंगे'],
    ['a Latin-1 letter', 'Café closed'],
  ])('adds data_encoding=Unicode_text for %s', async (_label, body) => {
    const result = await client.sendSession(creds, asText({ ...text, text: body }));

    expect(result.ok).toBe(true);
    expect(sandbox.sends[0]?.params).toMatchObject({
      msg_type: 'DATA_TEXT',
      data_encoding: 'Unicode_text',
      msg: body,
    });
    expect(sandbox.sends[0]?.params.isTemplate).toBeUndefined();
  });

  it('keeps newlines and tabs as plain ASCII', async () => {
    await client.sendSession(
      creds,
      asText({ ...text, text: '1. Reattempt\n2. Reschedule\t(6 days)' }),
    );

    expect(sandbox.sends[0]?.params.data_encoding).toBeUndefined();
  });

  it('classifies failures exactly like template sends', async () => {
    sandbox.failNext(
      { kind: 'error', id: '100' },
      { kind: 'http', status: 503 },
      { kind: 'http', status: 401 },
    );

    const results = [];
    for (let i = 0; i < 3; i += 1) {
      results.push(failure(await client.sendSession(creds, asText(text))));
    }
    results.push(failure(await client.sendSession(creds, asText({ ...text, to: '98123' }))));

    expect(results.map((r) => [r.code, r.retryable])).toEqual([
      ['gupshup_100', true],
      ['http_503', true],
      ['http_401', false],
      ['gupshup_105', false],
    ]);
  });

  it('honours the abort signal', async () => {
    const result = failure(await client.sendSession(creds, asText(text), AbortSignal.abort()));

    expect(result.code).toBe('aborted');
    expect(sandbox.sends).toHaveLength(0);
  });
});

describe('sendSession: interactive', () => {
  const base = { to: '919812345678', correlationKey: 'reply-7-date_choices' };
  const list: SessionSend = {
    ...base,
    content: {
      type: 'list',
      body: 'Please choose a new delivery date from the list.',
      button: 'Choose a date',
      section: 'Delivery dates',
      rows: [
        { id: 'wn1.2s.d20230614.AAAAAAAAAAAAAAAA', title: 'Wed, 14 June 2023' },
        { id: 'wn1.2s.d20230615.BBBBBBBBBBBBBBBB', title: 'Thu, 15 June 2023', description: 'x' },
      ],
    },
  };

  it('posts a list as interactive_type=list with the sections in action', async () => {
    const result = await client.sendSession(creds, list);

    expect(result.ok).toBe(true);
    const params = sandbox.sends[0]!.params;
    expect(params).toMatchObject({
      method: 'SendMessage',
      msg_type: 'TEXT',
      interactive_type: 'list',
      msg: 'Please choose a new delivery date from the list.',
      send_to: '919812345678',
      msg_id: base.correlationKey,
      extra: base.correlationKey,
    });
    expect(JSON.parse(params.action!)).toEqual({
      button: 'Choose a date',
      sections: [
        {
          title: 'Delivery dates',
          rows: [
            { id: 'wn1.2s.d20230614.AAAAAAAAAAAAAAAA', title: 'Wed, 14 June 2023' },
            {
              id: 'wn1.2s.d20230615.BBBBBBBBBBBBBBBB',
              title: 'Thu, 15 June 2023',
              description: 'x',
            },
          ],
        },
      ],
    });
    expect(params.isTemplate).toBeUndefined();
  });

  it('posts reply buttons as interactive_type=dr_button', async () => {
    const result = await client.sendSession(creds, {
      ...base,
      content: {
        type: 'buttons',
        body: 'Your delivery is rescheduled to 14 June 2023. Thank you!',
        buttons: [
          { id: 'wn1.2s.n.CCCCCCCCCCCCCCCC', title: 'Change date' },
          { id: 'wn1.2s.q.DDDDDDDDDDDDDDDD', title: 'Talk to us' },
        ],
      },
    });

    expect(result.ok).toBe(true);
    const params = sandbox.sends[0]!.params;
    expect(params).toMatchObject({ msg_type: 'TEXT', interactive_type: 'dr_button' });
    expect(JSON.parse(params.action!)).toEqual({
      buttons: [
        { type: 'reply', reply: { id: 'wn1.2s.n.CCCCCCCCCCCCCCCC', title: 'Change date' } },
        { type: 'reply', reply: { id: 'wn1.2s.q.DDDDDDDDDDDDDDDD', title: 'Talk to us' } },
      ],
    });
  });

  it('reports a refused interactive send as interactive_unsupported, but not an error about the number', async () => {
    sandbox.failNext(
      { kind: 'error', id: '106', details: 'Interactive messages are not supported' },
      { kind: 'error', id: '105' },
    );

    const refused = failure(await client.sendSession(creds, list));
    const badNumber = failure(await client.sendSession(creds, list));

    expect(refused).toMatchObject({ code: 'interactive_unsupported', retryable: false });
    expect(refused.reason).toContain('gupshup_106');
    expect(badNumber.code).toBe('gupshup_105');
  });

  it('takes only the configured ids as "not supported" when given a list', async () => {
    const strict = createEnterpriseAdapter({
      baseUrl: sandbox.url,
      timeoutMs: 2_000,
      templateMsgType: 'HSM',
      interactiveUnsupported: new Set(['171']),
    });
    try {
      sandbox.failNext({ kind: 'error', id: '106' }, { kind: 'error', id: '171' });
      expect(failure(await strict.sendSession(creds, list)).code).toBe('gupshup_106');
      expect(failure(await strict.sendSession(creds, list)).code).toBe('interactive_unsupported');
    } finally {
      await strict.close();
    }
  });

  it('never reports a text send as interactive_unsupported', async () => {
    sandbox.failNext({ kind: 'error', id: '106' });

    const result = failure(await client.sendSession(creds, asText({ ...base, text: 'hello' })));

    expect(result.code).toBe('gupshup_106');
  });

  it('has no call-to-action URL button', async () => {
    await expect(
      client.sendSession(creds, {
        ...base,
        content: { type: 'cta_url', body: 'b', displayText: 'Open', url: 'https://x.test' },
      }),
    ).rejects.toThrow(TypeError);
  });
});
