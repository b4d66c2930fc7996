/**
 * Per-sender pacing: each sender account sends at most GUPSHUP_SENDER_MAX_PER_SECOND, and one
 * client's burst does not hold up another client's messages (the whole service's limit is far
 * above here, so only the pacing is under test).
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { saveAccountSettings } from '../../src/db/settings.ts';
import { findDefaultTemplate, saveVerifiedTemplate } from '../../src/db/templates.ts';
import { startSandbox, type Sandbox } from '../../src/sandbox/server.ts';
import { createSenderPace } from '../../src/sender-pace.ts';
import { startService, type Service } from '../../src/service.ts';
import { API_TOKEN, createTestEnv, REDIS_URL, waitFor } from '../helpers/env.ts';
import { fdrEvent } from '../helpers/fixtures.ts';
import { pushFdr } from '../helpers/push.ts';

const PER_SECOND = 4;
const INTERVAL_MS = 1_000 / PER_SECOND;
const BURSTING = 379;
const OTHER = 777;
const OTHER_APP = {
  appName: 'pace-client',
  userid: '2000777001',
  password: 'pace-test-client-pw',
  waNumber: '919800000077',
};

const env = createTestEnv('senderpace');
let sandbox: Sandbox;
let service: Service;
let otherConnection: string;

beforeAll(async () => {
  sandbox = await startSandbox({ port: 0, host: '127.0.0.1' });
  service = await startService(
    env.config({
      GUPSHUP_ENTERPRISE_URL: sandbox.url,
      GUPSHUP_MAX_PER_SECOND: '1000',
      GUPSHUP_SENDER_MAX_PER_SECOND: String(PER_SECOND),
      CREDENTIALS_KEY: Buffer.alloc(32, 9).toString('base64'),
    }),
    ['api', 'worker'],
  );
  const { db } = service.deps;
  await saveAccountSettings(db, BURSTING, { enabled: true });

  // The other client sends through its own Gupshup app, with its copy of the default template.
  const res = await fetch(`${service.url}/v1/accounts/${OTHER}/whatsapp-connections`, {
    method: 'POST',
    headers: { authorization: `Bearer ${API_TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify(OTHER_APP),
  });
  expect(res.status).toBe(201);
  const connectionId = ((await res.json()) as { id: string }).id;
  otherConnection = connectionId;
  const template = (await findDefaultTemplate(db, 'otp_cancellation'))!;
  await saveVerifiedTemplate(db, {
    accountId: OTHER,
    reason: 'otp_cancellation',
    connectionId,
    template: {
      id: 'pace-client-otp',
      name: 'pace_client_otp',
      body: template.body,
      buttons: template.buttons,
      status: 'APPROVED',
      category: 'UTILITY',
    },
    mapping: template.mapping,
  });
  await saveAccountSettings(db, OTHER, { enabled: true, senderConnectionId: connectionId });
});

afterAll(async () => {
  await service?.close();
  await sandbox?.close();
  await env.dropDatabase();
});

function sendTimes(prefix: string): number[] {
  return sandbox.sends
    .filter((s) => s.outcome === 'success' && s.params.msg_id?.startsWith(`fdr-${prefix}`))
    .map((s) => s.at.getTime())
    .sort((a, b) => a - b);
}

describe('per-sender pacing', () => {
  it("spaces one account's burst and lets another account's messages through meanwhile", async () => {
    const burst = Array.from({ length: 12 }, (_, i) => `PACE-A-${i}`);
    const others = ['PACE-B-0', 'PACE-B-1'];
    await Promise.all(
      burst.map((shipmentId) => pushFdr(service, fdrEvent({ shipmentId, accountId: BURSTING }))),
    );
    await Promise.all(
      others.map((shipmentId) => pushFdr(service, fdrEvent({ shipmentId, accountId: OTHER }))),
    );
    await waitFor(() => sendTimes('PACE-').length === burst.length + others.length, {
      timeoutMs: 20_000,
      what: 'every message to be sent',
    });

    const a = sendTimes('PACE-A-');
    const b = sendTimes('PACE-B-');
    // The burst went out one turn after the other: 12 sends take at least 11 intervals.
    expect(a.at(-1)! - a[0]!).toBeGreaterThanOrEqual((burst.length - 1) * INTERVAL_MS - 150);
    // The other account did not queue behind it: both its messages went out early in the burst
    // (behind one queue-wide limit of 4/s they would have come after all twelve).
    expect(b.at(-1)!).toBeLessThan(a[8]!);
    // And through its own app.
    const otherSends = sandbox.sends.filter((s) => s.params.msg_id?.startsWith('fdr-PACE-B-'));
    expect(otherSends.map((s) => s.params.userid)).toEqual([OTHER_APP.userid, OTHER_APP.userid]);
  });

  it("paces a connection at its own limit (maxPerSecond), not the platform's", async () => {
    const res = await fetch(
      `${service.url}/v1/accounts/${OTHER}/whatsapp-connections/${otherConnection}`,
      {
        method: 'PATCH',
        headers: { authorization: `Bearer ${API_TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify({ maxPerSecond: 2 }),
      },
    );
    expect(res.status).toBe(200);
    expect(((await res.json()) as { maxPerSecond: number }).maxPerSecond).toBe(2);
    const shipments = Array.from({ length: 5 }, (_, i) => `PACE-C-${i}`);
    await Promise.all(
      shipments.map((shipmentId) => pushFdr(service, fdrEvent({ shipmentId, accountId: OTHER }))),
    );
    await waitFor(() => sendTimes('PACE-C-').length === shipments.length, {
      timeoutMs: 20_000,
      what: 'the paced messages',
    });
    const c = sendTimes('PACE-C-');
    // Five sends at 2/s span four 500 ms intervals (at the platform's 4/s they would span 1 s).
    expect(c.at(-1)! - c[0]!).toBeGreaterThanOrEqual(4 * 500 - 150);
  });
});

describe('sender pace slots', () => {
  it('lets sends within 2 ms of their turn go now, and delays the rest by whole turns', async () => {
    const redis = new Redis(REDIS_URL);
    const prefix = `t-slots-${env.id}`;
    try {
      const pace = createSenderPace(redis, prefix, 100_000);
      // 100,000/s is 10 µs apart: fifty sends at once are all on time, none goes through delayed.
      const fast = await Promise.all(Array.from({ length: 50 }, () => pace.reserve('f:hsm', 'f')));
      expect(fast.every((w) => w === 0)).toBe(true);
      // A connection's own 10/s: the first now, then one turn (100 ms) apart. Asked together (one
      // connection, so Redis runs the three back to back) so a loaded machine's gaps between calls
      // do not eat into the waits.
      const slow = await Promise.all(
        Array.from({ length: 3 }, () => pace.reserve('s:hsm', 's', 10)),
      );
      expect(slow[0]).toBe(0);
      expect(slow[1]).toBeGreaterThan(90);
      expect(slow[1]).toBeLessThanOrEqual(100);
      expect(slow[2]).toBeGreaterThan(190);
      expect(slow[2]).toBeLessThanOrEqual(200);
      const paces = await pace.paces();
      expect(paces.get('f')).toBe(100_000);
      expect(paces.get('s')).toBe(10);
    } finally {
      const keys = await redis.keys(`${prefix}:*`);
      if (keys.length) {
        await redis.del(...keys);
      }
      redis.disconnect();
    }
  });
});
