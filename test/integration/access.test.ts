/**
 * Who may call what: every route the service registers, called with no credentials, a wrong
 * credential, another account's token, the account's own token and the admin token, answers as
 * its class in src/http/access.ts says (the README's route table is checked against the same
 * classes). Also: repeated failures from one address get 429 with Retry-After, across replicas;
 * a settings-page session of an account token ends when the token is revoked.
 */
import { createLocalJWKSet, exportJWK, generateKeyPair } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { createApiToken, revokeApiToken } from '../../src/db/api-tokens.ts';
import { fdrInbox } from '../../src/db/schema.ts';
import { accessOf, type Access } from '../../src/http/access.ts';
import { registeredRoutes } from '../../src/http/openapi.ts';
import { createPushVerifier } from '../../src/http/routes/pubsub-push.ts';
import { startService, type Service } from '../../src/service.ts';
import { API_TOKEN, createTestEnv } from '../helpers/env.ts';

const OWN = 379;
const OTHER = 501;
const SHIPMENT = 'ACCESS-1';
const ADMIN_PASSWORD = 'access-test-admin-password';
const env = createTestEnv('access');
let service: Service;
let braked: Service;
let ownToken: string;
let otherToken: string;
let ownTokenId: number;

type Credential = 'none' | 'wrong' | 'other' | 'own' | 'admin';
const CREDENTIALS: readonly Credential[] = ['none', 'wrong', 'other', 'own', 'admin'];

function headersFor(credential: Credential): Record<string, string> {
  switch (credential) {
    case 'none':
      return {};
    case 'wrong':
      return { authorization: 'Bearer wat_not-a-token-of-anyone' };
    case 'other':
      return { authorization: `Bearer ${otherToken}` };
    case 'own':
      return { authorization: `Bearer ${ownToken}` };
    case 'admin':
      return { authorization: `Bearer ${API_TOKEN}` };
  }
}

/** A concrete URL for a route pattern: the own account, its shipment, harmless other values. */
function concrete(url: string): string {
  return url
    .replace(':accountId', String(OWN))
    .replace(':shipmentId', SHIPMENT)
    .replace(':connectionId', '1')
    .replace(':reason', 'address_issue')
    .replace(':queueName', 'message.send')
    .replace(':queueStatus', 'failed')
    .replace(/:\w+/g, 'x')
    .replace('*', 'x');
}

interface Answer {
  status: number;
  code: string | undefined;
  message: string | undefined;
}

async function call(app: Service, method: string, url: string, credential: Credential) {
  const res = await app.app!.inject({
    method: method as 'GET',
    url: concrete(url),
    headers: {
      accept: 'application/json',
      ...headersFor(credential),
      ...(method === 'GET' ? {} : { 'content-type': 'application/json' }),
    },
    ...(method === 'GET' ? {} : { payload: '{}' }),
  });
  let body: { code?: string; message?: string } = {};
  try {
    body = res.json();
  } catch {
    // Not JSON (a page, a redirect, a file).
  }
  return { status: res.statusCode, code: body.code, message: body.message } satisfies Answer;
}

/** The 404 that means "not yours", as opposed to a route's own 404 (no such connection …). */
const notYours = (a: Answer) =>
  a.status === 404 && /^no such (account|shipment)$/.test(a.message ?? '');
const refused = (a: Answer) => a.status === 401;
const admitted = (a: Answer) => ![401, 403, 429].includes(a.status) && !notYours(a);

const EXPECTED: Record<Access, Record<Credential, (a: Answer) => boolean>> = {
  public: { none: admitted, wrong: admitted, other: admitted, own: admitted, admin: admitted },
  'signed-link': {
    none: (a) => a.status === 404,
    wrong: (a) => a.status === 404,
    other: (a) => a.status === 404,
    own: (a) => a.status === 404,
    admin: (a) => a.status === 404,
  },
  account: { none: refused, wrong: refused, other: notYours, own: admitted, admin: admitted },
  'any-token': { none: refused, wrong: refused, other: admitted, own: admitted, admin: admitted },
  'settings-account': {
    none: refused,
    wrong: refused,
    // The page itself answers an HTML 404 page; its JSON calls the "no such account" 404.
    other: (a) => notYours(a) || a.status === 404,
    own: admitted,
    admin: admitted,
  },
  'settings-any': {
    none: refused,
    wrong: refused,
    other: admitted,
    own: admitted,
    admin: admitted,
  },
  webhook: { none: refused, wrong: refused, other: refused, own: refused, admin: refused },
  push: { none: refused, wrong: refused, other: refused, own: refused, admin: refused },
  'admin-basic': { none: refused, wrong: refused, other: refused, own: refused, admin: refused },
};

beforeAll(async () => {
  const pair = await generateKeyPair('RS256');
  const jwk = { ...(await exportJWK(pair.publicKey)), kid: 'k', alg: 'RS256' };
  const config = env.config({
    ADMIN_USER: 'ops',
    ADMIN_PASSWORD,
    WEBHOOK_TOKEN: 'access-test-webhook-token',
    PUBSUB_PUSH_AUDIENCE: 'https://wa.example.test/pubsub/push',
    PUBSUB_PUSH_SERVICE_ACCOUNT: 'pusher@project.iam.gserviceaccount.com',
    // The matrix makes many wrong calls on purpose: no brake here (it is tested below).
    AUTH_MAX_FAILURES: '100000',
  });
  service = await startService(config, ['api'], {
    pushVerifier: createPushVerifier(config, createLocalJWKSet({ keys: [jwk] })),
  });
  braked = await startService(
    env.config({
      DB_MIGRATE_ON_START: 'false',
      ADMIN_USER: 'ops',
      ADMIN_PASSWORD,
      AUTH_MAX_FAILURES: '3',
      QUEUE_PREFIX: `t-${env.id}-brake`,
    }),
    ['api'],
  );
  const db = service.deps.db;
  ({ token: ownToken, id: ownTokenId } = await createApiToken(db, OWN, 'matrix'));
  ({ token: otherToken } = await createApiToken(db, OTHER, 'matrix'));
  await db.insert(fdrInbox).values({
    eventKey: `${SHIPMENT}#1`,
    shipmentId: SHIPMENT,
    attempt: 1,
    accountId: OWN,
    payload: '{}',
    status: 'processed',
  });
});

afterAll(async () => {
  await service?.close(5_000);
  await braked?.close(5_000);
  await env.dropDatabase();
});

describe('every route × every credential', () => {
  it('answers as the route class says', async () => {
    const routes = registeredRoutes(service.app!).filter((r) => r.method !== 'HEAD');
    expect(routes.length).toBeGreaterThan(20);
    const wrong: string[] = [];
    for (const { method, url } of routes) {
      const access = accessOf(method, url);
      for (const credential of CREDENTIALS) {
        const answer = await call(service, method, url, credential);
        if (!EXPECTED[access][credential](answer)) {
          wrong.push(`${method} ${url} (${access}) with ${credential}: ${JSON.stringify(answer)}`);
        }
      }
    }
    expect(wrong).toEqual([]);
  });

  it('takes Bull Board basic auth, and nothing else there', async () => {
    const basic = `Basic ${Buffer.from(`ops:${ADMIN_PASSWORD}`).toString('base64')}`;
    const res = await service.app!.inject({
      url: '/admin/queues',
      headers: { authorization: basic },
    });
    expect(res.statusCode).toBe(200);
  });
});

describe('the brute-force brake', () => {
  const login = (address: string, password: string) =>
    braked.app!.inject({
      method: 'POST',
      url: '/settings/login',
      remoteAddress: address,
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        cookie: 'wa_settings_login=c',
      },
      payload: new URLSearchParams({ password, csrf: 'c' }).toString(),
    });

  it('answers 429 with Retry-After after AUTH_MAX_FAILURES failures from one address, whatever is tried next', async () => {
    const attacker = '198.51.100.20';
    for (let i = 0; i < 3; i += 1) {
      expect((await login(attacker, `guess-${i}`)).statusCode).toBe(401);
    }
    const blocked = await login(attacker, API_TOKEN);
    expect(blocked.statusCode).toBe(429);
    expect(Number(blocked.headers['retry-after'])).toBeGreaterThan(800);
    // Every credential check of that address is braked, the right token too.
    const api = await braked.app!.inject({
      url: `/v1/accounts/${OWN}/whatsapp-settings`,
      remoteAddress: attacker,
      headers: { authorization: `Bearer ${API_TOKEN}` },
    });
    expect(api.statusCode).toBe(429);
    const board = await braked.app!.inject({
      url: '/admin/queues',
      remoteAddress: attacker,
      headers: {
        authorization: `Basic ${Buffer.from(`ops:${ADMIN_PASSWORD}`).toString('base64')}`,
      },
    });
    expect(board.statusCode).toBe(429);
    // Another address is not.
    expect((await login('198.51.100.21', API_TOKEN)).statusCode).toBe(303);
  });

  it('counts failures in Redis, so another replica brakes the same address', async () => {
    const attacker = '198.51.100.30';
    for (let i = 0; i < 3; i += 1) {
      await braked.app!.inject({
        url: `/v1/accounts/${OWN}/whatsapp-settings`,
        remoteAddress: attacker,
        headers: { authorization: 'Bearer wat_guess' },
      });
    }
    const other = await startService(
      env.config({
        DB_MIGRATE_ON_START: 'false',
        AUTH_MAX_FAILURES: '3',
        QUEUE_PREFIX: `t-${env.id}-brake`,
      }),
      ['api'],
    );
    try {
      const res = await other.app!.inject({
        url: `/v1/accounts/${OWN}/whatsapp-settings`,
        remoteAddress: attacker,
        headers: { authorization: `Bearer ${API_TOKEN}` },
      });
      expect(res.statusCode).toBe(429);
    } finally {
      await other.close(5_000);
    }
  });
});

describe('account tokens on the settings page', () => {
  it('log in to their own page only, and their sessions end when the token is revoked', async () => {
    const { token, id } = await createApiToken(service.deps.db, OWN, 'page');
    const loggedIn = await service.app!.inject({
      method: 'POST',
      url: '/settings/login',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        cookie: 'wa_settings_login=c',
      },
      payload: new URLSearchParams({
        password: token,
        csrf: 'c',
        next: `/settings/${OTHER}`,
      }).toString(),
    });
    expect(loggedIn.statusCode).toBe(303);
    // Not the other account's page it asked for: its own.
    expect(loggedIn.headers.location).toBe(`/settings/${OWN}`);
    const session = String([loggedIn.headers['set-cookie']].flat()[0]).split(';')[0]!;
    const page = (accountId: number) =>
      service.app!.inject({ url: `/settings/${accountId}`, headers: { cookie: session } });
    expect((await page(OWN)).statusCode).toBe(200);
    expect((await page(OTHER)).statusCode).toBe(404);

    expect(await revokeApiToken(service.deps.db, id)).toBe(true);
    const after = await service.app!.inject({
      url: `/settings/${OWN}`,
      headers: { cookie: session, accept: 'text/html' },
    });
    expect(after.statusCode).toBe(303);
    expect(after.headers.location).toContain('/settings/login');
    // The token itself is refused too.
    const api = await service.app!.inject({
      url: `/v1/accounts/${OWN}/whatsapp-settings`,
      headers: { authorization: `Bearer ${token}` },
    });
    expect(api.statusCode).toBe(401);
    expect(ownTokenId).not.toBe(id);
  });
});
