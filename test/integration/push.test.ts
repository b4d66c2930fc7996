/**
 * The push face of ingress: same results as the pull subscriber for the same envelope, OIDC
 * verification when an audience is configured, and 503 (so Pub/Sub redelivers) when MySQL or
 * Redis cannot take the event. An event no redelivery can fix is answered 204, recorded as
 * invalid and counted: any other answer would have Pub/Sub push it for ever.
 */
import { eq } from 'drizzle-orm';
import { createLocalJWKSet, exportJWK, generateKeyPair, SignJWT, type JWK } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { fdrInbox } from '../../src/db/schema.ts';
import { saveAccountSettings } from '../../src/db/settings.ts';
import { createDeps } from '../../src/deps.ts';
import { buildApp } from '../../src/http/app.ts';
import { createPushVerifier } from '../../src/http/routes/pubsub-push.ts';
import { createLog } from '../../src/log.ts';
import { fdrValidate } from '../../src/queues/fdr-validate.ts';
import { createSettingsCache } from '../../src/settings-cache.ts';
import { startService, type Service } from '../../src/service.ts';
import { sweepOnce } from '../../src/sweeper.ts';
import { startSandbox, type Sandbox } from '../../src/sandbox/server.ts';
import { createTestEnv, waitFor } from '../helpers/env.ts';
import { fdrEvent } from '../helpers/fixtures.ts';
import { isSendOf } from '../helpers/outbox.ts';
import { parsePrometheus } from '../helpers/prometheus.ts';

const env = createTestEnv('push');
const AUDIENCE = 'https://wa.example.test/pubsub/push';
const SERVICE_ACCOUNT = 'pusher@project.iam.gserviceaccount.com';
let sandbox: Sandbox;
let service: Service;
let privateKey: Awaited<ReturnType<typeof generateKeyPair>>['privateKey'];
let jwk: JWK;

function envelope(event: unknown, messageId = 'push-1') {
  return {
    message: {
      data: Buffer.from(JSON.stringify(event)).toString('base64'),
      messageId,
      attributes: {},
      publishTime: new Date().toISOString(),
    },
    subscription: 'projects/local-project/subscriptions/push',
  };
}

async function token(claims: Record<string, unknown> = {}, audience = AUDIENCE, expiresIn = '5m') {
  return new SignJWT({ email: SERVICE_ACCOUNT, email_verified: true, ...claims })
    .setProtectedHeader({ alg: 'RS256', kid: 'test-key' })
    .setIssuer('https://accounts.google.com')
    .setAudience(audience)
    .setIssuedAt()
    .setExpirationTime(expiresIn)
    .sign(privateKey);
}

function post(payload: unknown, bearer?: string) {
  return service.app!.inject({
    method: 'POST',
    url: '/pubsub/push',
    payload: payload as Record<string, unknown>,
    headers: bearer ? { authorization: `Bearer ${bearer}` } : {},
  });
}

beforeAll(async () => {
  const pair = await generateKeyPair('RS256');
  privateKey = pair.privateKey;
  jwk = { ...(await exportJWK(pair.publicKey)), kid: 'test-key', alg: 'RS256' };
  sandbox = await startSandbox({ port: 0, host: '127.0.0.1' });
  const config = env.config({
    GUPSHUP_ENTERPRISE_URL: sandbox.url,
    PUBSUB_PUSH_AUDIENCE: AUDIENCE,
    PUBSUB_PUSH_SERVICE_ACCOUNT: SERVICE_ACCOUNT,
  });
  service = await startService(config, ['api', 'worker'], {
    pushVerifier: createPushVerifier(config, createLocalJWKSet({ keys: [jwk] })),
  });
  await saveAccountSettings(service.deps.db, 379, { enabled: true });
});

afterAll(async () => {
  await service?.close();
  await sandbox?.close();
  await env.dropDatabase();
});

describe('POST /pubsub/push', () => {
  it('takes the seed event in and sends once; a redelivery is acknowledged and sends nothing', async () => {
    const jwt = await token();
    const first = await post(envelope(fdrEvent()), jwt);
    expect(first.statusCode).toBe(204);
    expect(first.headers['x-ingest-status']).toBe('accepted');
    await waitFor(() => sandbox.sends.length === 1);
    expect(sandbox.sends[0]!.params.send_to).toBe('917891971009');
    expect(sandbox.sends[0]!.params.msg).toContain('Hello Aman!');

    const again = await post(envelope(fdrEvent(), 'push-2'), jwt);
    expect(again.statusCode).toBe(204);
    const rows = await service.deps.db
      .select()
      .from(fdrInbox)
      .where(eq(fdrInbox.shipmentId, '4980116095129-90758'));
    expect(rows).toHaveLength(1);
    expect(rows[0]!.pubsubMessageId).toBe('push-1');
    await waitFor(async () => (await service.deps.queues['message.send'].getCompletedCount()) >= 1);
    expect(sandbox.sends).toHaveLength(1);
  });

  it('acknowledges events that are not FDRs without recording them', async () => {
    const event = { ...fdrEvent({ shipmentId: 'NOT-FDR-1' }), eventSubType: 'delivered' };
    const res = await post(envelope(event), await token());
    expect(res.statusCode).toBe(204);
    expect(res.headers['x-ingest-status']).toBe('ignored');
    const rows = await service.deps.db
      .select()
      .from(fdrInbox)
      .where(eq(fdrInbox.shipmentId, 'NOT-FDR-1'));
    expect(rows).toHaveLength(0);
  });

  it('answers 204 to an FDR event whose shipment id is too long, records it as invalid and counts it', async () => {
    const invalid = async () =>
      parsePrometheus(await service.deps.metrics.registry.metrics()).value(
        'whatsapp_fdr_events_total',
        { outcome: 'invalid' },
      );
    const before = await invalid();
    const event = fdrEvent({ shipmentId: `PUSH-LONG-${'7'.repeat(290)}` });
    const res = await post(envelope(event, 'push-long-1'), await token());
    expect(res.statusCode).toBe(204);
    expect(res.headers['x-ingest-status']).toBe('rejected');
    const rows = await service.deps.db
      .select()
      .from(fdrInbox)
      .where(eq(fdrInbox.pubsubMessageId, 'push-long-1'));
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({
      status: 'skipped',
      shipmentId: '',
      attempt: 0,
      reason: 'invalid_event: response_data.externalShipmentID: must be at most 64 characters',
    });
    expect(await invalid()).toBe(before + 1);

    // Were Pub/Sub to push it again, it is taken the same way and recorded once.
    const again = await post(envelope(event, 'push-long-2'), await token());
    expect(again.statusCode).toBe(204);
    expect(again.headers['x-ingest-status']).toBe('rejected');
    const all = await service.deps.db.select().from(fdrInbox).where(eq(fdrInbox.attempt, 0));
    expect(all.map((r) => r.pubsubMessageId)).toEqual(['push-long-1']);
    expect(
      await service.deps.queues['fdr.validate'].getJob(fdrValidate.jobId({ inboxId: rows[0]!.id })),
    ).toBeUndefined();
  });

  it('answers 204 to an FDR event whose shipment id has characters outside the set', async () => {
    const res = await post(
      envelope(fdrEvent({ shipmentId: 'PUSH BAD:1' }), 'push-chars-1'),
      await token(),
    );
    expect(res.statusCode).toBe(204);
    expect(res.headers['x-ingest-status']).toBe('rejected');
    const [row] = await service.deps.db
      .select()
      .from(fdrInbox)
      .where(eq(fdrInbox.pubsubMessageId, 'push-chars-1'));
    expect(row?.reason).toBe(
      'invalid_event: response_data.externalShipmentID: must hold only letters, digits and _ . # / -',
    );
  });

  it('rejects a malformed envelope with 400 and a reason', async () => {
    const res = await post({ nope: true }, await token());
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({ code: 'ERR_VALIDATION' });
  });

  it.each([
    ['no token', async () => undefined],
    ['a wrong audience', async () => token({}, 'https://elsewhere.test')],
    ['another service account', async () => token({ email: 'intruder@example.com' })],
    ['an unverified email', async () => token({ email_verified: false })],
    ['an expired token', async () => token({}, AUDIENCE, '-1m')],
    [
      'a token signed by another key',
      async () => {
        const other = await generateKeyPair('RS256');
        return new SignJWT({ email: SERVICE_ACCOUNT, email_verified: true })
          .setProtectedHeader({ alg: 'RS256', kid: 'test-key' })
          .setIssuer('https://accounts.google.com')
          .setAudience(AUDIENCE)
          .setExpirationTime('5m')
          .sign(other.privateKey);
      },
    ],
  ])('answers 401 to %s', async (_label, makeToken) => {
    const res = await post(envelope(fdrEvent({ shipmentId: 'AUTH-1' })), await makeToken());
    expect(res.statusCode).toBe(401);
    const rows = await service.deps.db
      .select()
      .from(fdrInbox)
      .where(eq(fdrInbox.shipmentId, 'AUTH-1'));
    expect(rows).toHaveLength(0);
  });

  it('takes only RS256, even from a key set that holds another kind of key', async () => {
    const ec = await generateKeyPair('ES256');
    const ecJwk = { ...(await exportJWK(ec.publicKey)), kid: 'ec-key', alg: 'ES256' };
    const verifier = createPushVerifier(
      service.deps.config,
      createLocalJWKSet({ keys: [jwk, ecJwk] }),
    )!;
    const es256 = await new SignJWT({ email: SERVICE_ACCOUNT, email_verified: true })
      .setProtectedHeader({ alg: 'ES256', kid: 'ec-key' })
      .setIssuer('https://accounts.google.com')
      .setAudience(AUDIENCE)
      .setExpirationTime('5m')
      .sign(ec.privateKey);
    await expect(verifier.verify(es256)).rejects.toThrow();
    await expect(verifier.verify(await token())).resolves.toBeUndefined();
  });

  it('answers 503 when MySQL is unreachable, so Pub/Sub redelivers', async () => {
    const config = env.config({
      DATABASE_URL: 'mysql://root@127.0.0.1:1/nowhere',
      GUPSHUP_ENTERPRISE_URL: sandbox.url,
    });
    const deps = createDeps(config, createLog('silent'));
    const settings = await createSettingsCache({
      db: deps.db,
      redis: deps.redis,
      prefix: config.QUEUE_PREFIX,
      ttlMs: 0,
      log: deps.log,
    });
    const app = await buildApp(deps, { settings, pushVerifier: null });
    try {
      const res = await app.inject({
        method: 'POST',
        url: '/pubsub/push',
        payload: envelope(fdrEvent({ shipmentId: 'DOWN-1' })),
      });
      expect(res.statusCode).toBe(503);
      expect(res.json()).toMatchObject({ code: 'ERR_UNAVAILABLE' });
    } finally {
      await app.close();
      await settings.close();
      await deps.close();
    }
  });

  it('answers 503 when Redis is unreachable, and the event waits in MySQL for the sweeper', async () => {
    const config = env.config({
      REDIS_URL: 'redis://127.0.0.1:1',
      GUPSHUP_ENTERPRISE_URL: sandbox.url,
    });
    const deps = createDeps(config, createLog('silent'));
    const app = await buildApp(deps, {
      settings: {
        get: () => Promise.reject(new Error('unused')),
        template: () => Promise.reject(new Error('unused')),
        defaultTemplate: () => Promise.reject(new Error('unused')),
        invalidate: () => Promise.resolve(),
        close: () => Promise.resolve(),
      },
      pushVerifier: null,
    });
    try {
      const res = await app.inject({
        method: 'POST',
        url: '/pubsub/push',
        payload: envelope(fdrEvent({ shipmentId: 'DOWN-2' })),
      });
      expect(res.statusCode).toBe(503);
      const rows = await service.deps.db
        .select()
        .from(fdrInbox)
        .where(eq(fdrInbox.shipmentId, 'DOWN-2'));
      expect(rows).toHaveLength(1);
      expect(rows[0]!.status).toBe('received');
      // Once Redis is back, the sweeper finds the waiting event and it goes out.
      await sweepOnce(service.deps, 0);
      await waitFor(() => sandbox.sends.some((s) => isSendOf(s, 'fdr-DOWN-2-1')));
    } finally {
      await app.close();
      await deps.close();
    }
  });
});
