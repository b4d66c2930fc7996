/**
 * `message.send` against a misbehaving Gupshup: transient failures are retried until one send
 * succeeds; a permanent error fails at once, visibly, with its reason on the timeline.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';

import { listShipmentActivity } from '../../src/db/activity.ts';
import { saveAccountSettings } from '../../src/db/settings.ts';
import { startService, type Service } from '../../src/service.ts';
import { startSandbox, type Sandbox } from '../../src/sandbox/server.ts';
import { createTestEnv, waitFor } from '../helpers/env.ts';
import { pushFdr } from '../helpers/push.ts';
import { fdrEvent } from '../helpers/fixtures.ts';
import { isSendOf, outboxOf } from '../helpers/outbox.ts';

const env = createTestEnv('sendfail');
let sandbox: Sandbox;
let service: Service;

async function push(event: unknown) {
  await pushFdr(service, event, 'm');
}

function attemptsFor(shipmentId: string) {
  return sandbox.sends.filter((s) => isSendOf(s, `fdr-${shipmentId}-1`));
}

beforeAll(async () => {
  sandbox = await startSandbox({ port: 0, host: '127.0.0.1' });
  service = await startService(env.config({ GUPSHUP_ENTERPRISE_URL: sandbox.url }), [
    'api',
    'worker',
  ]);
  await saveAccountSettings(service.deps.db, 379, { enabled: true });
});

beforeEach(() => sandbox.reset());

afterAll(async () => {
  await service?.close();
  await sandbox?.close();
  await env.dropDatabase();
});

describe('Gupshup failures', () => {
  it.each([
    ['error 100', { kind: 'error', id: '100' } as const, 'RETRY-100'],
    ['HTTP 503', { kind: 'http', status: 503 } as const, 'RETRY-503'],
  ])('retries %s twice and then sends exactly once', async (_label, failure, shipment) => {
    sandbox.failNext(failure, failure);
    await push(fdrEvent({ shipmentId: shipment }));
    const row = await waitFor(async () => {
      const r = await outboxOf(service.deps.db, shipment);
      return r?.status === 'sent' ? r : null;
    });
    expect(row.attempts).toBe(3);
    expect(attemptsFor(shipment)).toHaveLength(3);
    expect(attemptsFor(shipment).filter((s) => s.outcome === 'success')).toHaveLength(1);
    const kinds = (await listShipmentActivity(service.deps.db, shipment)).map((a) => a.kind);
    expect(kinds).toEqual(['whatsapp_notified']);
  });

  it('fails error 105 at once, with the reason in the failed set and on the timeline', async () => {
    const shipment = 'PERM-105';
    sandbox.failNext({ kind: 'error', id: '105', details: 'The phone number is not valid' });
    await push(fdrEvent({ shipmentId: shipment }));
    const row = await waitFor(async () => {
      const r = await outboxOf(service.deps.db, shipment);
      return r?.status === 'failed' ? r : null;
    });
    expect(row.errorCode).toBe('gupshup_105');
    expect(row.attempts).toBe(1);
    expect(attemptsFor(shipment)).toHaveLength(1);

    const failed = await waitFor(async () => {
      const jobs = await service.deps.queues['message.send'].getFailed();
      return jobs.find((j) => j.data.outboxId === row.id);
    });
    expect(failed.failedReason).toContain('gupshup_105');
    expect(failed.failedReason).toContain('The phone number is not valid');
    expect(failed.attemptsMade).toBe(1);

    const activity = await waitFor(async () => {
      const a = await listShipmentActivity(service.deps.db, shipment);
      return a.length ? a : null;
    });
    expect(activity.map((a) => a.kind)).toEqual(['whatsapp_failed']);
    expect(activity[0]!.title).toContain('The phone number is not valid');
  });
});
