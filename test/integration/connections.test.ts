/**
 * A client's own Gupshup app, end to end on real Redis, MariaDB and the Pub/Sub emulator with the
 * sandbox in process: stored (credentials sealed in MySQL), listed without secrets (with the
 * integration engine's installed apps, or a warning when the engine is down), chosen through the
 * settings API, and used for the next FDR, also after CREDENTIALS_KEY is rotated.
 */
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';

import { fastify, type FastifyInstance } from 'fastify';
import mysql from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import {
  createCredentialCipher,
  credentialAad,
  keyIdOf,
  legacyCredentialAad,
  parseKey,
  type CredentialColumn,
} from '../../src/credentials.ts';
import { createLog } from '../../src/log.ts';
import { startSandbox, type Sandbox } from '../../src/sandbox/server.ts';
import { startService, type Service } from '../../src/service.ts';
import { API_TOKEN, createTestEnv, MYSQL_URL, waitFor } from '../helpers/env.ts';
import { fdrEvent, readFixture } from '../helpers/fixtures.ts';
import { outboxOf } from '../helpers/outbox.ts';

const ACCOUNT = 379;
const KEY_1 = randomBytes(32).toString('base64');
const KEY_2 = randomBytes(32).toString('hex');
const CLIENT_APP = {
  appName: 'berrylush',
  userid: '2000777001',
  password: 'client-Secret-pw-77',
  waNumber: '+919800000001',
  twoWayUserid: '2000777002',
  twoWayPassword: 'client-TwoWay-pw-78',
};
const SECRETS = [
  CLIENT_APP.userid,
  CLIENT_APP.password,
  CLIENT_APP.twoWayUserid,
  CLIENT_APP.twoWayPassword,
];
/** The client's OTP-cancellation template, approved on its own app (the seed event's reason). */
const OTP_TEMPLATE = {
  id: 'c3d1a3f4-1b7e-4c55-9d0e-0a6a8e2b1111',
  externalId: '555000111222333',
  elementName: 'berrylush_otp_cancellation',
  data: "Hello {{1}}!\n\nYour {{2}} order {{3}} couldn't be delivered as you asked to cancel it.\n\nItem(s): {{4}} {{5}}\n\nPlease choose your desired action | [Reattempt delivery] | [Cancel my order]",
  category: 'UTILITY',
  languageCode: 'en',
  status: 'APPROVED',
  templateType: 'TEXT',
};
const OTP_MAPPING = {
  '1': 'customerFirstName',
  '2': 'storeName',
  '3': 'uniqueOrderItemId',
  '4': 'quantityOfTheItem',
  '5': 'productTitle',
};

const env = createTestEnv('connections');
let sandbox: Sandbox;
let service: Service;
let engine: FastifyInstance;
let engineUrl: string;
let engineDown = false;
const engineRequests: unknown[] = [];
const logLines: string[] = [];
let connectionId: string;

function capture() {
  return new Writable({
    write(chunk: Buffer, _enc, done) {
      logLines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      done();
    },
  });
}

async function start(keys: Record<string, string>): Promise<Service> {
  const config = env.config({
    GUPSHUP_ENTERPRISE_URL: sandbox.url,
    GUPSHUP_TEMPLATE_LIST_URL: sandbox.url,
    GUPSHUP_SELF_SERVE_URL: sandbox.origin,
    INTEGRATION_ENGINE_URL: engineUrl,
    LOG_LEVEL: 'info',
    ...keys,
  });
  return startService(config, ['api', 'worker', 'subscriber'], {
    log: createLog('info', capture()),
  });
}

function api(path: string, init: RequestInit = {}) {
  return fetch(`${service.url}${path}`, {
    ...init,
    headers: {
      authorization: `Bearer ${API_TOKEN}`,
      // Fastify refuses an empty body declared as JSON, so only requests with a body say so.
      ...(init.body === undefined ? {} : { 'content-type': 'application/json' }),
      ...init.headers,
    },
  });
}

async function putSettings(body: unknown) {
  return api(`/v1/accounts/${ACCOUNT}/whatsapp-settings`, {
    method: 'PUT',
    body: JSON.stringify(body),
  });
}

async function publish(event: unknown) {
  await service.deps.pubsub.topic(env.env.FDR_TOPIC!).publishMessage({ json: event });
}

function sendsFor(shipmentId: string) {
  return sandbox.sends.filter((s) => s.params.msg_id?.startsWith(`fdr-${shipmentId}-`));
}

async function rawConnectionRows(): Promise<Record<string, unknown>[]> {
  const conn = await mysql.createConnection({ uri: `${MYSQL_URL}/${env.database}` });
  try {
    const [rows] = await conn.query('SELECT * FROM whatsapp_sender_connections ORDER BY id');
    return rows as Record<string, unknown>[];
  } finally {
    await conn.end();
  }
}

beforeAll(async () => {
  const fixture = readFixture<{ templates: unknown[] }>('gupshup-template-list.json');
  sandbox = await startSandbox({ port: 0, templates: [...fixture.templates, OTP_TEMPLATE] });
  // A fake integration engine speaking the contract in src/integration-engine.ts.
  engine = fastify();
  engine.post('/connection/start', async (request, reply) => {
    engineRequests.push(request.body);
    if (engineDown) {
      return reply.code(503).send({ error: 'down' });
    }
    return {
      connections: [
        { id: 482, appName: 'Berrylush', waNumber: '919800000001' },
        { id: '483', appName: 'berrylush-outlet', waNumber: '919800000002' },
      ],
    };
  });
  await engine.listen({ port: 0, host: '127.0.0.1' });
  engineUrl = `http://127.0.0.1:${(engine.server.address() as AddressInfo).port}`;
  service = await start({ CREDENTIALS_KEY: KEY_1 });
});

afterAll(async () => {
  await service?.close();
  await engine?.close();
  await sandbox?.close();
  await env.dropDatabase();
});

describe("a client's own Gupshup app", () => {
  it('is stored with its credentials sealed, and answered without them', async () => {
    const res = await api(`/v1/accounts/${ACCOUNT}/whatsapp-connections`, {
      method: 'POST',
      body: JSON.stringify(CLIENT_APP),
    });
    const text = await res.text();
    expect(res.status).toBe(201);
    for (const secret of SECRETS) {
      expect(text).not.toContain(secret);
    }
    const created = JSON.parse(text) as Record<string, unknown>;
    expect(created).toEqual({
      id: expect.stringMatching(/^\d+$/),
      appName: 'berrylush',
      waNumber: '919800000001',
      source: 'client',
      api: 'enterprise',
      isDefault: false,
      selected: false,
      usable: true,
      hasTwoWay: true,
      hasApiKey: false,
      maxPerSecond: null,
    });
    connectionId = created.id as string;

    // The raw row, read without the service's code: ciphertexts only, under KEY_1's id.
    const rows = await rawConnectionRows();
    expect(rows).toHaveLength(1);
    const row = rows[0]!;
    const rowText = JSON.stringify(row);
    for (const secret of SECRETS) {
      expect(rowText).not.toContain(secret);
    }
    const keyId = keyIdOf(parseKey(KEY_1));
    for (const column of [
      'userid_enc',
      'password_enc',
      'two_way_userid_enc',
      'two_way_password_enc',
    ]) {
      expect(String(row[column])).toMatch(new RegExp(`^v1:${keyId}:[\\w-]+:[\\w-]+:[\\w-]+$`));
    }
    expect(row.api_key_enc).toBeNull();
  });

  it('refuses a duplicate, a malformed body and deleting what is in use, with reasons', async () => {
    const dup = await api(`/v1/accounts/${ACCOUNT}/whatsapp-connections`, {
      method: 'POST',
      body: JSON.stringify(CLIENT_APP),
    });
    expect(dup.status).toBe(409);

    const bad = await api(`/v1/accounts/${ACCOUNT}/whatsapp-connections`, {
      method: 'POST',
      body: JSON.stringify({ ...CLIENT_APP, password: 12345678, x: 1 }),
    });
    expect(bad.status).toBe(400);
    const problem = (await bad.json()) as { message: string };
    expect(problem.message).toContain('password: password must be a string');
    expect(problem.message).toContain('x: Invalid key');
    expect(problem.message).not.toContain('12345678');

    const halfTwoWay = await api(`/v1/accounts/${ACCOUNT}/whatsapp-connections`, {
      method: 'POST',
      body: JSON.stringify({ ...CLIENT_APP, twoWayPassword: undefined }),
    });
    expect(halfTwoWay.status).toBe(400);
    expect(((await halfTwoWay.json()) as { message: string }).message).toContain(
      'twoWayUserid and twoWayPassword: give both or neither',
    );

    const other = await api(`/v1/accounts/${ACCOUNT}/whatsapp-connections`, {
      method: 'POST',
      body: JSON.stringify({ ...CLIENT_APP, appName: 'to-delete', waNumber: '919800000009' }),
    });
    expect(other.status).toBe(201);
    const { id: otherId } = (await other.json()) as { id: string };
    expect(
      (await api(`/v1/accounts/${ACCOUNT}/whatsapp-connections/default`, { method: 'DELETE' }))
        .status,
    ).toBe(400);
    expect(
      (await api(`/v1/accounts/${ACCOUNT}/whatsapp-connections/${otherId}`, { method: 'DELETE' }))
        .status,
    ).toBe(204);
    expect(
      (await api(`/v1/accounts/${ACCOUNT}/whatsapp-connections/${otherId}`, { method: 'DELETE' }))
        .status,
    ).toBe(404);
    expect(await rawConnectionRows()).toHaveLength(1);
  });

  it('takes its own rate limit, changed and cleared with PATCH; bad values are refused', async () => {
    const path = `/v1/accounts/${ACCOUNT}/whatsapp-connections/${connectionId}`;
    const patch = (target: string, body: unknown) =>
      api(target, { method: 'PATCH', body: JSON.stringify(body) });
    const set = await patch(path, { maxPerSecond: 50 });
    expect(set.status).toBe(200);
    expect(((await set.json()) as { maxPerSecond: number }).maxPerSecond).toBe(50);
    const list = (await (await api(`/v1/accounts/${ACCOUNT}/whatsapp-connections`)).json()) as {
      connections: { id: string; maxPerSecond: number | null }[];
    };
    expect(list.connections.find((c) => c.id === connectionId)?.maxPerSecond).toBe(50);
    for (const [body, reason] of [
      [{ maxPerSecond: 0 }, 'maxPerSecond must be at least 1'],
      [{ maxPerSecond: 1001 }, 'maxPerSecond must be at most 1000'],
      [{ maxPerSecond: 2.5 }, 'maxPerSecond must be a whole number'],
      [{ maxPerSecond: '5' }, 'maxPerSecond must be a number'],
      [{}, 'maxPerSecond'],
    ] as const) {
      const res = await patch(path, body);
      expect(res.status).toBe(400);
      expect(((await res.json()) as { message: string }).message).toContain(reason);
    }
    expect(
      (await patch(`/v1/accounts/${ACCOUNT}/whatsapp-connections/default`, { maxPerSecond: 5 }))
        .status,
    ).toBe(400);
    expect(
      (await patch(`/v1/accounts/${ACCOUNT}/whatsapp-connections/99999`, { maxPerSecond: 5 }))
        .status,
    ).toBe(404);
    expect(
      (
        await patch(`/v1/accounts/${ACCOUNT + 1}/whatsapp-connections/${connectionId}`, {
          maxPerSecond: 5,
        })
      ).status,
    ).toBe(404);
    const cleared = await patch(path, { maxPerSecond: null });
    expect(((await cleared.json()) as { maxPerSecond: number | null }).maxPerSecond).toBeNull();
  });

  it("is listed next to the default app and the engine's installed apps, without secrets", async () => {
    const res = await api(`/v1/accounts/${ACCOUNT}/whatsapp-connections`);
    const text = await res.text();
    expect(res.status).toBe(200);
    for (const secret of SECRETS) {
      expect(text).not.toContain(secret);
    }
    const list = JSON.parse(text) as { connections: Record<string, unknown>[]; warnings: string[] };
    expect(list.warnings).toEqual([]);
    expect(
      list.connections.map((c) => [c.id, c.source, c.isDefault, c.selected, c.usable]),
    ).toEqual([
      ['default', 'platform', true, true, true],
      [connectionId, 'client', false, false, true],
      // 482 is the stored berrylush app (same name and number), so it is listed once.
      ['ie-483', 'integration-engine', false, false, false],
    ]);
    expect(engineRequests.at(-1)).toEqual({ accountId: ACCOUNT, app: 'whatsapp-gupshup' });

    engineDown = true;
    try {
      const degraded = (await (
        await api(`/v1/accounts/${ACCOUNT}/whatsapp-connections`)
      ).json()) as { connections: { id: string }[]; warnings: string[] };
      expect(degraded.connections.map((c) => c.id)).toEqual(['default', connectionId]);
      expect(degraded.warnings).toHaveLength(1);
      expect(degraded.warnings[0]).toContain('integration engine answered HTTP 503');
    } finally {
      engineDown = false;
    }
  });

  it('is chosen through the settings API, and switched on only with a template of its own', async () => {
    // Platform default templates only go out through the default app.
    const refused = await putSettings({ senderConnectionId: connectionId, enabled: true });
    expect(refused.status).toBe(422);
    const { problems } = (await refused.json()) as { problems: string[] };
    expect(problems).toHaveLength(9);
    expect(problems[0]).toContain(
      'platform default template can only be sent through the default app',
    );

    const unknown = await putSettings({ senderConnectionId: '999999' });
    expect(unknown.status).toBe(400);
    const engineOnly = await putSettings({ senderConnectionId: 'ie-483' });
    expect(engineOnly.status).toBe(400);
    expect(((await engineOnly.json()) as { message: string }).message).toContain(
      'credentials are not stored here',
    );

    // One spelling per connection: a leading zero is the same id, an exponent is no id.
    const padded = await putSettings({ senderConnectionId: `00${connectionId}` });
    expect(await padded.json()).toMatchObject({ senderConnectionId: connectionId });
    const exponent = await putSettings({ senderConnectionId: '1e1' });
    expect(exponent.status).toBe(400);

    const chosen = await putSettings({ senderConnectionId: connectionId });
    expect(chosen.status).toBe(200);
    expect(await chosen.json()).toMatchObject({ senderConnectionId: connectionId, enabled: false });

    // Verified against the app's own (enterprise) list, read with its own credentials.
    const saved = await api(`/v1/accounts/${ACCOUNT}/whatsapp-templates/otp_cancellation`, {
      method: 'PUT',
      body: JSON.stringify({ templateId: OTP_TEMPLATE.externalId, variables: OTP_MAPPING }),
    });
    expect(saved.status).toBe(200);
    expect(await saved.json()).toMatchObject({
      ok: true,
      template: { id: OTP_TEMPLATE.externalId, connectionId, appName: 'berrylush' },
    });

    const on = await putSettings({ reasons: { otp_cancellation: true } });
    expect(on.status).toBe(200);
    expect(await on.json()).toMatchObject({
      enabled: true,
      senderConnectionId: connectionId,
      reasons: { otp_cancellation: true, customer_unreachable: false },
      templates: { otp_cancellation: OTP_TEMPLATE.externalId },
    });
    const inUse = await api(`/v1/accounts/${ACCOUNT}/whatsapp-connections/${connectionId}`, {
      method: 'DELETE',
    });
    expect(await inUse.json()).toMatchObject({ code: 'ERR_CONNECTION_IN_USE' });
    expect(inUse.status).toBe(409);
  });

  it("sends the next FDR with that app's userid and password, and logs neither", async () => {
    await publish(fdrEvent({ shipmentId: 'CONN-0001' }));
    await waitFor(() => sendsFor('CONN-0001').length === 1, { what: 'the send' });
    const send = sendsFor('CONN-0001')[0]!;
    expect(send.params.userid).toBe(CLIENT_APP.userid);
    expect(send.params.password).toBe(CLIENT_APP.password);
    expect(send.params.msg).toBe(
      "Hello Aman!\n\nYour vitaminplanet order 4980116095129 couldn't be delivered as you asked to cancel it.\n\nItem(s): 1 Advance Whey Protein with 20 Vitamins & Minerals\n\nPlease choose your desired action",
    );
    const outbox = await waitFor(async () => {
      const row = await outboxOf(service.deps.db, 'CONN-0001');
      return row?.status === 'sent' ? row : null;
    });
    expect(outbox.connectionId).toBe(connectionId);

    // Jobs carry ids only: nothing in this test's Redis keys holds a credential.
    const { redis } = service.deps;
    const keys = await redis.keys(`${env.env.QUEUE_PREFIX}:*`);
    for (const key of keys) {
      if ((await redis.type(key)) === 'hash') {
        const values = JSON.stringify(await redis.hgetall(key));
        for (const secret of SECRETS) {
          expect(values, key).not.toContain(secret);
        }
      }
    }
    const logs = logLines.join('\n');
    for (const secret of SECRETS) {
      expect(logs).not.toContain(secret);
    }
  });

  it('still opens credentials sealed before they were bound to the connection id', async () => {
    const cipher = createCredentialCipher(service.deps.config)!;
    const seal = (value: string, column: CredentialColumn) =>
      cipher.encrypt(value, legacyCredentialAad(ACCOUNT, column));
    const conn = await mysql.createConnection({ uri: `${MYSQL_URL}/${env.database}` });
    try {
      await conn.query(
        'update whatsapp_sender_connections set userid_enc = ?, password_enc = ? where id = ?',
        [seal(CLIENT_APP.userid, 'userid'), seal(CLIENT_APP.password, 'password'), connectionId],
      );
    } finally {
      await conn.end();
    }
    await publish(fdrEvent({ shipmentId: 'CONN-LEGACY' }));
    await waitFor(() => sendsFor('CONN-LEGACY').length === 1, { what: 'the send' });
    expect(sendsFor('CONN-LEGACY')[0]!.params.userid).toBe(CLIENT_APP.userid);

    // Put the current binding back for the rotation tests that follow.
    const current = (value: string, column: CredentialColumn) =>
      cipher.encrypt(value, credentialAad(ACCOUNT, Number(connectionId), column));
    const again = await mysql.createConnection({ uri: `${MYSQL_URL}/${env.database}` });
    try {
      await again.query(
        'update whatsapp_sender_connections set userid_enc = ?, password_enc = ? where id = ?',
        [
          current(CLIENT_APP.userid, 'userid'),
          current(CLIENT_APP.password, 'password'),
          connectionId,
        ],
      );
    } finally {
      await again.end();
    }
  });

  it('still sends after CREDENTIALS_KEY is rotated, with the old key as the previous one', async () => {
    await service.close();
    service = await start({ CREDENTIALS_KEY: KEY_2, CREDENTIALS_KEY_PREVIOUS: KEY_1 });
    await publish(fdrEvent({ shipmentId: 'CONN-0002' }));
    await waitFor(() => sendsFor('CONN-0002').length === 1, { what: 'the send after rotation' });
    const send = sendsFor('CONN-0002')[0]!;
    expect(send.params.userid).toBe(CLIENT_APP.userid);
    expect(send.params.password).toBe(CLIENT_APP.password);
  });

  it('fails for good, saying why, once the old key is gone too', async () => {
    await service.close();
    service = await start({ CREDENTIALS_KEY: KEY_2 });
    await publish(fdrEvent({ shipmentId: 'CONN-0003' }));
    const outbox = await waitFor(async () => {
      const row = await outboxOf(service.deps.db, 'CONN-0003');
      return row?.status === 'failed' ? row : null;
    });
    expect(outbox.errorCode).toBe('sender_credentials_unreadable');
    expect(outbox.lastError).toContain('cannot be decrypted');
    expect(outbox.lastError).toContain('CREDENTIALS_KEY_PREVIOUS');
    expect(sendsFor('CONN-0003')).toHaveLength(0);
  });
});
