/**
 * The sandbox's fault policy over real HTTP, on both send APIs: refusals by 5xx and 429 send
 * nothing and report nothing; `timeout` and `drop` accept the message (its reports reach the
 * webhook) while the client never hears, and say so in `fault`; a seed makes a run repeat
 * exactly; `failNext` specs go first; the control endpoint checks the policy; close() ends a
 * held answer instead of hanging. Also the picker itself: rates and weights over many draws.
 */
import { request } from 'undici';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

import { createFaultPicker, mulberry32 } from './faults.ts';
import { type FaultKind, SandboxOptionsError, startSandbox, type Sandbox } from './server.ts';
import { type Receiver, startReceiver, waitUntil } from './test-receiver.ts';

const validSend = {
  method: 'SendMessage',
  userid: '2000123456',
  password: 'secret',
  send_to: '919812345678',
  msg_type: 'TEXT',
  msg: 'Hello',
};

const parties = {
  source: '917834811114',
  destination: '919812345678',
  'src.name': 'ShopCoNDR',
};
/** fdr_address_issue: seven parameters. */
const ADDRESS_TEMPLATE = '71baa9a9-a4f2-4e97-a6dd-c83747575157';

type Api = 'enterprise' | 'self-serve /msg' | 'self-serve /template/msg';
const APIS: Api[] = ['enterprise', 'self-serve /msg', 'self-serve /template/msg'];

interface Answer {
  status: number;
  text: string;
}

let sandbox: Sandbox;
let receiver: Receiver;

beforeAll(async () => {
  sandbox = await startSandbox({ port: 0, host: '127.0.0.1' });
  receiver = await startReceiver();
});

afterEach(() => {
  sandbox.setFaults(null);
  sandbox.setCallback(null);
  sandbox.reset();
  receiver.received.length = 0;
});

afterAll(async () => {
  await sandbox.close();
  await receiver.close();
});

/** One send on the API; rejects when the client gives up (`timeoutMs`) or the socket dies. */
async function send(
  api: Api = 'enterprise',
  { target = sandbox, timeoutMs }: { target?: Sandbox; timeoutMs?: number } = {},
): Promise<Answer> {
  const { url, fields, headers } =
    api === 'enterprise'
      ? { url: target.url, fields: validSend, headers: {} }
      : api === 'self-serve /msg'
        ? {
            url: `${target.origin}/wa/api/v1/msg`,
            fields: {
              ...parties,
              channel: 'whatsapp',
              message: JSON.stringify({ type: 'text', text: 'Hello' }),
            },
            headers: { apikey: 'test-key' },
          }
        : {
            url: `${target.origin}/wa/api/v1/template/msg`,
            fields: {
              ...parties,
              template: JSON.stringify({
                id: ADDRESS_TEMPLATE,
                params: ['Asha', 'ShopCo', 'A1023', '2', '1', 'Red t-shirt', '4th Cross'],
              }),
            },
            headers: { apikey: 'test-key' },
          };
  const res = await request(url, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body: new URLSearchParams(fields).toString(),
    ...(timeoutMs === undefined ? {} : { signal: AbortSignal.timeout(timeoutMs) }),
  });
  return { status: res.statusCode, text: await res.body.text() };
}

/** What the sends of a run came to, for comparing runs. */
const summary = (target: Sandbox) =>
  target.sends.map((s) => `${s.fault ?? '-'}:${s.outcome}:${s.httpStatus ?? ''}`);

/** Whether a callback that names the message reached the webhook (any format). */
const reported = (messageId: string) =>
  receiver.received.some((req) => decodeURIComponent(req.body).includes(messageId));

const fastDelays = { sent: 5, delivered: 10, read: null };

describe('refusing faults', () => {
  it.each(APIS)('answers 5xx on %s: not accepted, nothing reported', async (api) => {
    sandbox.setCallback({ url: receiver.url, delaysMs: fastDelays });
    sandbox.setFaults({ rate: 1, mix: { http5xx: 1 } });

    const answers = [];
    for (let i = 0; i < 6; i += 1) {
      answers.push(await send(api));
    }

    for (const answer of answers) {
      expect([500, 502, 503]).toContain(answer.status);
    }
    expect(sandbox.sends.map((s) => s.httpStatus)).toEqual(answers.map((a) => a.status));
    for (const recorded of sandbox.sends) {
      expect(recorded).toMatchObject({ outcome: 'http_error', fault: 'http5xx' });
      expect(recorded.messageId).toBeUndefined();
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(receiver.received).toHaveLength(0);
  });

  it.each(APIS)('answers 429 on %s: not accepted, nothing reported', async (api) => {
    sandbox.setCallback({ url: receiver.url, delaysMs: fastDelays });
    sandbox.setFaults({ rate: 1, mix: { http429: 1 } });

    const { status } = await send(api);

    expect(status).toBe(429);
    expect(sandbox.sends[0]).toMatchObject({
      outcome: 'http_error',
      httpStatus: 429,
      fault: 'http429',
    });
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(receiver.received).toHaveLength(0);
  });
});

describe('accepting faults', () => {
  it.each(APIS)(
    'holds the answer on %s until the client gives up, yet the message goes out',
    async (api) => {
      sandbox.setCallback({ url: receiver.url, delaysMs: fastDelays });
      sandbox.setFaults({ rate: 1, mix: { timeout: 1 }, timeoutMs: 60_000 });

      const started = Date.now();
      await expect(send(api, { timeoutMs: 100 })).rejects.toThrow();

      expect(Date.now() - started).toBeLessThan(5_000);
      const recorded = sandbox.sends[0];
      expect(recorded).toMatchObject({ outcome: 'success', fault: 'timeout' });
      const messageId = recorded?.messageId ?? '';
      expect(messageId).not.toBe('');
      await waitUntil(() => reported(messageId));
    },
  );

  it('answers a patient client once the hold is over', async () => {
    sandbox.setFaults({ rate: 1, mix: { timeout: 1 }, timeoutMs: 80 });

    const started = Date.now();
    const { status, text } = await send();

    expect(Date.now() - started).toBeGreaterThanOrEqual(70);
    expect(status).toBe(200);
    expect(text).toContain(sandbox.sends[0]?.messageId ?? 'no id');
    expect(sandbox.sends[0]).toMatchObject({ outcome: 'success', fault: 'timeout' });
  });

  it('answers a held send at once on reset', async () => {
    sandbox.setFaults({ rate: 1, mix: { timeout: 1 }, timeoutMs: 60_000 });

    const pending = send('self-serve /msg');
    await waitUntil(() => sandbox.sends[0]?.outcome === 'success');
    sandbox.reset();

    expect((await pending).status).toBe(202);
  });

  it.each(APIS)(
    'drops the connection on %s without an answer, yet the message goes out',
    async (api) => {
      sandbox.setCallback({ url: receiver.url, delaysMs: fastDelays });
      sandbox.setFaults({ rate: 1, mix: { drop: 1 } });

      await expect(send(api)).rejects.toMatchObject({ code: 'UND_ERR_SOCKET' });

      const recorded = sandbox.sends[0];
      expect(recorded).toMatchObject({ outcome: 'success', fault: 'drop' });
      await waitUntil(() => reported(recorded?.messageId ?? 'no id'));
      // The sandbox stays up for the next connection.
      sandbox.setFaults(null);
      expect((await send(api)).status).toBeLessThan(300);
    },
  );

  it('leaves a refused send as refused, with no fault', async () => {
    sandbox.setFaults({ rate: 1, mix: { drop: 1 } });

    await expect(send()).rejects.toMatchObject({ code: 'UND_ERR_SOCKET' });
    const res = await request(sandbox.url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ ...validSend, send_to: '12' }).toString(),
    });

    expect(res.statusCode).toBe(200);
    expect(await res.body.text()).toContain('"id":"105"');
    expect(sandbox.sends[1]).toMatchObject({ outcome: 'error', errorId: '105' });
    expect(sandbox.sends[1]?.fault).toBeUndefined();
  });

  it('does not hang close() on a held answer', async () => {
    const own = await startSandbox({ port: 0, host: '127.0.0.1' });
    own.setFaults({ rate: 1, mix: { timeout: 1 } });
    const pending = send('enterprise', { target: own }).catch((thrown: unknown) => thrown);
    await waitUntil(() => own.sends.length === 1);

    const started = Date.now();
    await own.close();
    await pending;

    expect(Date.now() - started).toBeLessThan(2_000);
    expect(own.sends[0]).toMatchObject({ outcome: 'success', fault: 'timeout' });
  });
});

describe('the policy', () => {
  it('faults nothing at rate 0', async () => {
    sandbox.setFaults({ rate: 0, seed: 1 });

    for (let i = 0; i < 20; i += 1) {
      expect((await send(APIS[i % APIS.length])).status).toBeLessThan(300);
    }
    expect(sandbox.sends.every((s) => s.outcome === 'success' && s.fault === undefined)).toBe(true);
  });

  it('repeats a seeded run exactly', async () => {
    const policy = { rate: 0.3, seed: 20_240_601, timeoutMs: 0 };
    const runs: string[][] = [];
    for (let run = 0; run < 2; run += 1) {
      const own = await startSandbox({ port: 0, host: '127.0.0.1' });
      try {
        own.setFaults(policy);
        for (let i = 0; i < 200; i += 1) {
          await send(APIS[i % APIS.length], { target: own }).catch(() => null);
        }
        runs.push(summary(own));
      } finally {
        await own.close();
      }
    }

    expect(runs[1]).toEqual(runs[0]);
    const faulted = (runs[0] ?? []).filter((line) => !line.startsWith('-'));
    expect(faulted.length).toBeGreaterThanOrEqual(35);
    expect(faulted.length).toBeLessThanOrEqual(85);
    // The same draws as the picker alone makes from that seed.
    const picker = createFaultPicker(policy);
    const expected = Array.from({ length: 200 }, () => picker.next()?.kind ?? '-');
    expect((runs[0] ?? []).map((line) => line.split(':')[0])).toEqual(expected);
    for (const kind of ['http5xx', 'http429', 'timeout', 'drop']) {
      expect(expected).toContain(kind);
    }
  });

  it('draws the same from the same seed', () => {
    const first = createFaultPicker({ rate: 0.5, seed: 9 });
    const second = createFaultPicker({ rate: 0.5, seed: 9 });
    const draws = (picker: typeof first) => Array.from({ length: 50 }, () => picker.next());

    expect(draws(second)).toEqual(draws(first));
  });

  it('lets queued failNext specs go first, without drawing', async () => {
    sandbox.setFaults({ rate: 1, mix: { http429: 1 } });
    sandbox.failNext({ kind: 'error', id: '100' }, { kind: 'delay', ms: 0 });

    const answers = [await send(), await send(), await send('self-serve /msg')];

    expect(answers.map((a) => a.status)).toEqual([200, 200, 429]);
    expect(answers[0]?.text).toContain('"id":"100"');
    expect(sandbox.sends.map((s) => [s.outcome, s.fault])).toEqual([
      ['error', undefined],
      ['success', undefined],
      ['http_error', 'http429'],
    ]);
  });

  it('stays over reset until set to null', async () => {
    sandbox.setFaults({ rate: 1, mix: { http429: 1 } });
    sandbox.reset();
    expect((await send()).status).toBe(429);

    sandbox.setFaults(null);
    expect((await send()).status).toBe(200);
  });

  it('refuses a malformed policy in process', () => {
    expect(() => sandbox.setFaults({ rate: 2 })).toThrow(SandboxOptionsError);
    expect(() => sandbox.setFaults({ rate: 0.5, mix: { drop: 0 } })).toThrow(
      /at least one positive weight/,
    );
    expect(() => sandbox.setFaults({ rate: 0.5, mix: { timeout: Number.NaN } })).toThrow(
      SandboxOptionsError,
    );
  });
});

describe('the picker', () => {
  it('mulberry32 is deterministic and uniform enough', () => {
    const a = mulberry32(42);
    const b = mulberry32(42);
    const values = Array.from({ length: 10_000 }, () => a());

    expect(values.slice(0, 5)).toEqual(Array.from({ length: 5 }, () => b()));
    expect(values.every((x) => x >= 0 && x < 1)).toBe(true);
    const mean = values.reduce((sum, x) => sum + x, 0) / values.length;
    expect(mean).toBeGreaterThan(0.48);
    expect(mean).toBeLessThan(0.52);
  });

  it('faults about the rate, in the mix asked', () => {
    const picker = createFaultPicker({ rate: 0.3, mix: { http5xx: 3, drop: 1 }, seed: 5 });
    const counts: Record<string, number> = {};
    const statuses = new Set<number>();
    for (let i = 0; i < 10_000; i += 1) {
      const draw = picker.next();
      const key = draw?.kind ?? 'none';
      counts[key] = (counts[key] ?? 0) + 1;
      if (draw?.status !== undefined) {
        statuses.add(draw.status);
      }
    }

    const faulted = 10_000 - (counts.none ?? 0);
    expect(faulted).toBeGreaterThan(2_800);
    expect(faulted).toBeLessThan(3_200);
    expect(counts.http429).toBeUndefined();
    expect(counts.timeout).toBeUndefined();
    expect((counts.http5xx ?? 0) / (counts.drop ?? 1)).toBeGreaterThan(2.5);
    expect((counts.http5xx ?? 0) / (counts.drop ?? 1)).toBeLessThan(3.5);
    expect([...statuses].sort()).toEqual([500, 502, 503]);
  });

  it('holds for 15 s by default', () => {
    expect(createFaultPicker({ rate: 1 }).timeoutMs).toBe(15_000);
  });
});

describe('control endpoints', () => {
  async function postFaults(body: unknown) {
    const res = await request(`${sandbox.origin}/_sandbox/faults`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    return { status: res.statusCode, json: (await res.body.json()) as Record<string, unknown> };
  }

  it.each([
    [{ rate: 1.5 }, /rate: must be between 0 and 1/],
    [{ rate: -0.1 }, /rate: must be between 0 and 1/],
    [{}, /rate/],
    [{ rate: 0.5, mix: {} }, /mix: needs at least one positive weight/],
    [{ rate: 0.5, mix: { drop: 0, timeout: 0 } }, /at least one positive weight/],
    [{ rate: 0.5, mix: { http5xx: -1 } }, /mix\.http5xx: must be at least 0/],
    [{ rate: 0.5, mix: { http500: 1 } }, /mix\.http500/],
    [{ rate: 0.5, seed: 1.5 }, /seed: must be a whole number/],
    [{ rate: 0.5, timeoutMs: -1 }, /timeoutMs: must be at least 0/],
  ])('refuses %j with a reason', async (body, reason) => {
    const { status, json } = await postFaults(body);

    expect(status).toBe(400);
    expect(json.code).toBe('ERR_SANDBOX_FAULTS');
    expect(json.message).toMatch(reason);
  });

  it('sets the policy, answering it with the seed picked, and clears it', async () => {
    const { status, json } = await postFaults({ rate: 1, mix: { http429: 1 } });

    expect(status).toBe(200);
    expect(json).toEqual({
      rate: 1,
      mix: { http429: 1 },
      seed: expect.any(Number),
      timeoutMs: 15_000,
    });
    expect((await send()).status).toBe(429);

    const cleared = await request(`${sandbox.origin}/_sandbox/faults`, { method: 'DELETE' });
    expect(cleared.statusCode).toBe(204);
    await cleared.body.dump();
    expect((await send()).status).toBe(200);
  });

  it('shows the fault of each send', async () => {
    await postFaults({ rate: 1, mix: { http5xx: 1 }, seed: 3 });
    await send();

    const res = await request(`${sandbox.origin}/_sandbox/sends`);
    const sends = (await res.body.json()) as {
      fault?: FaultKind;
      params: Record<string, string>;
    }[];

    expect(sends[0]?.fault).toBe('http5xx');
    expect(sends[0]?.params.password).toBe('[redacted]');
  });
});
