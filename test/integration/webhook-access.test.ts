/**
 * Who may post to the Gupshup webhook: with WEBHOOK_ALLOWED_CIDRS only those addresses, judged
 * by the caller's address or, behind TRUST_PROXY, the address the trusted proxy forwards; the
 * token is still required, and may come in a header instead of the URL.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { startService, type Service } from '../../src/service.ts';
import { createTestEnv } from '../helpers/env.ts';

const WEBHOOK_TOKEN = 'test-webhook-token';
const env = createTestEnv('webhookaccess');
let proxied: Service;
let direct: Service;

const REPORT = {
  response: JSON.stringify([
    { externalId: '4921687316728868875-1', eventType: 'SENT', errorCode: '025', cause: 'SENT' },
  ]),
};

function post(
  service: Service,
  opts: { from: string; forwardedFor?: string; token?: 'header' | 'query' | 'none' },
) {
  const token = opts.token ?? 'header';
  return service.app!.inject({
    method: 'POST',
    url: `/api/_ah/v1/message${token === 'query' ? `?token=${WEBHOOK_TOKEN}` : ''}`,
    remoteAddress: opts.from,
    headers: {
      'content-type': 'application/json',
      ...(token === 'header' ? { 'x-webhook-token': WEBHOOK_TOKEN } : {}),
      ...(opts.forwardedFor ? { 'x-forwarded-for': opts.forwardedFor } : {}),
    },
    payload: REPORT,
  });
}

beforeAll(async () => {
  const common = { WEBHOOK_TOKEN, WEBHOOK_ALLOWED_CIDRS: '203.0.113.0/24, 2001:db8::/32' };
  proxied = await startService(env.config({ ...common, TRUST_PROXY: '10.0.0.0/8' }), ['api']);
  direct = await startService(env.config({ ...common, DB_MIGRATE_ON_START: 'false' }), ['api']);
});

afterAll(async () => {
  await proxied?.close(5_000);
  await direct?.close(5_000);
  await env.dropDatabase();
});

describe('the webhook by address', () => {
  it('takes an allowed caller with the token in a header or the URL', async () => {
    expect((await post(direct, { from: '203.0.113.9' })).statusCode).toBe(200);
    expect((await post(direct, { from: '2001:db8::9', token: 'query' })).statusCode).toBe(200);
    expect((await post(direct, { from: '203.0.113.9', token: 'none' })).statusCode).toBe(401);
  });

  it('refuses any other address with 403, before the token is looked at', async () => {
    const res = await post(direct, { from: '198.51.100.4' });
    expect(res.statusCode).toBe(403);
    expect(res.json()).toEqual({
      code: 'ERR_FORBIDDEN',
      message: 'this address may not post to the webhook',
    });
    expect((await post(direct, { from: '198.51.100.4', token: 'none' })).statusCode).toBe(403);
  });

  it('believes a forwarded address only from a trusted proxy', async () => {
    // Without TRUST_PROXY the header is anyone's to write.
    expect(
      (await post(direct, { from: '198.51.100.4', forwardedFor: '203.0.113.9' })).statusCode,
    ).toBe(403);
    expect(
      (await post(proxied, { from: '10.1.2.3', forwardedFor: '203.0.113.9' })).statusCode,
    ).toBe(200);
    expect(
      (await post(proxied, { from: '10.1.2.3', forwardedFor: '198.51.100.4' })).statusCode,
    ).toBe(403);
    expect(
      (await post(proxied, { from: '198.51.100.4', forwardedFor: '203.0.113.9' })).statusCode,
    ).toBe(403);
  });
});
