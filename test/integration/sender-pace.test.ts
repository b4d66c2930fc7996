/**
 * Per-sender pacing: each sender account sends at most GUPSHUP_SENDER_MAX_PER_SECOND, and one
 * client's burst does not hold up another client's messages (the whole service's limit is far
 * above here, so only the pacing is under test).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { saveAccountSettings } from '../../src/db/settings.ts';
import { findDefaultTemplate, saveVerifiedTemplate } from '../../src/db/templates.ts';
import { startSandbox, type Sandbox } from '../../src/sandbox/server.ts';
import { startService, type Service } from '../../src/service.ts';
import { API_TOKEN, createTestEnv, waitFor } from '../helpers/env.ts';
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
});
