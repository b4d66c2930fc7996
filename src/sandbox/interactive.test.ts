/**
 * Enterprise interactive session messages against the sandbox over real HTTP: lists and reply
 * buttons are accepted and recorded as parsed content, WhatsApp's limits are enforced with
 * Gupshup's error envelope, and an account without interactive messages refuses them (option,
 * handle and control endpoint), while plain texts still go out.
 */
import { request } from 'undici';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

import { SandboxOptionsError, startSandbox, type Sandbox } from './server.ts';

interface Envelope {
  response: { id: string; phone: string; details: string; status: string };
}

let sandbox: Sandbox;

beforeAll(async () => {
  sandbox = await startSandbox({ port: 0, host: '127.0.0.1' });
});

afterEach(() => {
  sandbox.reset();
  sandbox.setInteractive({ supported: true });
});

afterAll(async () => {
  await sandbox.close();
});

const session = {
  method: 'SendMessage',
  userid: '2000123456',
  password: 'secret',
  v: '1.1',
  format: 'json',
  auth_scheme: 'plain',
  send_to: '919812345678',
  msg_type: 'TEXT',
  msg_id: 'k-1',
  extra: 'k-1',
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

function listSend(action: unknown = listAction, msg = 'When should we come again?') {
  return { ...session, interactive_type: 'list', action: JSON.stringify(action), msg };
}

function buttonsSend(action: unknown = buttonsAction, msg = 'What should we do?') {
  return { ...session, interactive_type: 'dr_button', action: JSON.stringify(action), msg };
}

async function send(params: Record<string, string>, target: Sandbox = sandbox) {
  const res = await request(target.url, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(params).toString(),
  });
  return (await res.body.json()) as Envelope;
}

function rows(count: number, title = (i: number) => `Row ${i}`) {
  return Array.from({ length: count }, (_, i) => ({ id: `r${i}`, title: title(i) }));
}

describe('interactive sends', () => {
  it('accepts a list and records what it offered', async () => {
    const { response } = await send(listSend());

    expect(response.status).toBe('success');
    expect(sandbox.sends[0]).toMatchObject({
      api: 'enterprise',
      outcome: 'success',
      messageId: response.id,
      whatsappMessageId: expect.stringMatching(/^wamid\./),
      interactive: {
        type: 'list',
        body: 'When should we come again?',
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
      },
    });
    expect(sandbox.sends[0]?.params.msg_id).toBe('k-1');
  });

  it('accepts reply buttons and records them', async () => {
    const { response } = await send(buttonsSend());

    expect(response.status).toBe('success');
    expect(sandbox.sends[0]?.interactive).toEqual({
      type: 'buttons',
      body: 'What should we do?',
      buttons: [
        { id: 'ndr:A1:reattempt', title: 'Re-attempt' },
        { id: 'ndr:A1:cancel', title: 'Cancel order' },
      ],
    });
  });

  it('counts characters, not UTF-16 units, against the limits', async () => {
    const emoji = '📦'.repeat(20);
    const { response } = await send(
      buttonsSend({ buttons: [{ type: 'reply', reply: { id: 'x', title: emoji } }] }),
    );

    expect(response.status).toBe('success');
  });

  it.each([
    [
      'eleven rows in all',
      listSend({
        ...listAction,
        sections: [
          { title: 'A', rows: rows(6) },
          { title: 'B', rows: rows(5).map((r) => ({ ...r, id: `b${r.id}` })) },
        ],
      }),
      'action: a list holds at most 10 rows in all',
    ],
    [
      'a row title over 24 characters',
      listSend({ ...listAction, sections: [{ rows: rows(1, () => 'x'.repeat(25)) }] }),
      'action.sections.0.rows.0.title: must be at most 24 characters',
    ],
    [
      'a row id over 200 characters',
      listSend({ ...listAction, sections: [{ rows: [{ id: 'i'.repeat(201), title: 'T' }] }] }),
      'action.sections.0.rows.0.id: must be at most 200 characters',
    ],
    [
      'a description over 72 characters',
      listSend({
        ...listAction,
        sections: [{ rows: [{ id: 'i', title: 'T', description: 'd'.repeat(73) }] }],
      }),
      'action.sections.0.rows.0.description: must be at most 72 characters',
    ],
    [
      'a menu button over 20 characters',
      listSend({ ...listAction, button: 'b'.repeat(21) }),
      'action.button: must be at most 20 characters',
    ],
    [
      'a section title over 24 characters',
      listSend({ ...listAction, sections: [{ title: 's'.repeat(25), rows: rows(1) }] }),
      'action.sections.0.title: must be at most 24 characters',
    ],
    [
      'repeated row ids',
      listSend({ ...listAction, sections: [{ rows: [...rows(1), ...rows(1)] }] }),
      'action: row ids must be unique',
    ],
    [
      'a list without a menu button',
      listSend({ sections: listAction.sections }),
      'action.button: is required',
    ],
    [
      'four reply buttons',
      buttonsSend({
        buttons: rows(4).map((r) => ({ type: 'reply', reply: r })),
      }),
      'action.buttons: must hold at most 3 buttons',
    ],
    [
      'no reply button',
      buttonsSend({ buttons: [] }),
      'action.buttons: must hold at least one button',
    ],
    [
      'a button title over 20 characters',
      buttonsSend({ buttons: [{ type: 'reply', reply: { id: 'a', title: 't'.repeat(21) } }] }),
      'action.buttons.0.reply.title: must be at most 20 characters',
    ],
    [
      'a button id over 256 characters',
      buttonsSend({ buttons: [{ type: 'reply', reply: { id: 'a'.repeat(257), title: 'T' } }] }),
      'action.buttons.0.reply.id: must be at most 256 characters',
    ],
    [
      'repeated button ids',
      buttonsSend({
        buttons: [
          { type: 'reply', reply: { id: 'a', title: 'One' } },
          { type: 'reply', reply: { id: 'a', title: 'Two' } },
        ],
      }),
      'action: button ids must be unique',
    ],
    [
      'a body over 1024 characters',
      buttonsSend(buttonsAction, 'm'.repeat(1_025)),
      'msg: must be at most 1024 characters',
    ],
    [
      'an action that is not JSON',
      { ...session, interactive_type: 'list', action: '{not json', msg: 'Body' },
      'action: must be valid JSON',
    ],
    [
      'an unknown interactive_type',
      { ...session, interactive_type: 'carousel', action: '{}', msg: 'Body' },
      'interactive_type must be list or dr_button',
    ],
    [
      'an action without interactive_type',
      { ...session, action: JSON.stringify(buttonsAction), msg: 'Body' },
      'interactive_type is required with action',
    ],
  ])('refuses %s with an error envelope', async (_what, params, details) => {
    const { response } = await send(params);

    expect(response).toEqual({ id: '101', phone: '', details, status: 'error' });
    expect(sandbox.sends[0]).toMatchObject({ outcome: 'error', errorId: '101', details });
    expect(sandbox.sends[0]?.interactive).toBeUndefined();
  });

  it('never quotes the value in a refusal', async () => {
    const number = '919812345678';
    const { response } = await send(
      buttonsSend({ buttons: [{ type: 'reply', reply: { id: number, title: 42 } }] }),
    );

    expect(response.status).toBe('error');
    expect(response.details).not.toContain(number);
    expect(response.details).toBe('action.buttons.0.reply.title: must be a string');
  });
});

describe('an account without interactive messages', () => {
  it('refuses lists and buttons with error 106 once switched off, and sends texts', async () => {
    sandbox.setInteractive({ supported: false });

    const list = await send(listSend());
    const buttons = await send(buttonsSend());
    const text = await send({ ...session, msg: 'Reply 1 to re-attempt' });

    const refusal = {
      id: '106',
      phone: '',
      details: 'Interactive messages are not supported for this account',
      status: 'error',
    };
    expect(list.response).toEqual(refusal);
    expect(buttons.response).toEqual(refusal);
    expect(text.response.status).toBe('success');
    expect(sandbox.sends.map((s) => s.outcome)).toEqual(['error', 'error', 'success']);
  });

  it('refuses with the id and details configured, and accepts again when switched on', async () => {
    sandbox.setInteractive({ supported: false, errorId: '171', details: 'Action not allowed' });
    const refused = await send(buttonsSend());
    sandbox.reset();
    const stillRefused = await send(buttonsSend());
    sandbox.setInteractive({ supported: true });
    const accepted = await send(buttonsSend());

    expect(refused.response).toMatchObject({ id: '171', details: 'Action not allowed' });
    // A setting, like the callback: reset leaves it.
    expect(stillRefused.response.id).toBe('171');
    expect(accepted.response.status).toBe('success');
  });

  it('is switched by POST /_sandbox/interactive', async () => {
    const post = (body: unknown) =>
      request(`${sandbox.origin}/_sandbox/interactive`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });

    const off = await post({ supported: false, errorId: '106' });
    await off.body.dump();
    const refused = await send(listSend());
    const bad = await post({ supported: 'no' });
    const on = await post({ supported: true });
    await on.body.dump();
    const accepted = await send(listSend());

    expect(off.statusCode).toBe(204);
    expect(refused.response.id).toBe('106');
    expect(bad.statusCode).toBe(400);
    expect(await bad.body.json()).toMatchObject({ code: 'ERR_SANDBOX_INTERACTIVE' });
    expect(on.statusCode).toBe(204);
    expect(accepted.response.status).toBe('success');
  });

  it('starts switched off from the options, and refuses a malformed setting', async () => {
    const own = await startSandbox({
      port: 0,
      host: '127.0.0.1',
      interactive: { supported: false, errorId: '175' },
    });
    try {
      const { response } = await send(buttonsSend(), own);
      expect(response).toMatchObject({
        id: '175',
        details: 'Interactive messages are not supported for this account',
      });
      expect(() => own.setInteractive({ supported: false, errorId: 'abc' })).toThrow(
        SandboxOptionsError,
      );
    } finally {
      await own.close();
    }
  });
});
