/**
 * The pull subscriber: an event arriving while MySQL is unavailable is nacked, not lost, and is
 * sent once a healthy subscriber takes it. An event no redelivery can fix (a shipment id longer
 * than its column) is acknowledged, recorded as invalid and counted, and never comes back.
 */
import { Writable } from 'node:stream';

import { eq } from 'drizzle-orm';
import { afterAll, describe, expect, it } from 'vitest';

import { fdrInbox } from '../../src/db/schema.ts';
import { saveAccountSettings } from '../../src/db/settings.ts';
import { createDeps, type Deps } from '../../src/deps.ts';
import { createLog } from '../../src/log.ts';
import { fdrValidate } from '../../src/queues/fdr-validate.ts';
import { handleFdrMessage, startFdrSubscriber } from '../../src/pubsub/subscriber.ts';
import { startService, type Service } from '../../src/service.ts';
import { startSandbox, type Sandbox } from '../../src/sandbox/server.ts';
import { createTestEnv, EMULATOR_HOST, PROJECT_ID, waitFor } from '../helpers/env.ts';
import { fdrEvent } from '../helpers/fixtures.ts';
import { isSendOf } from '../helpers/outbox.ts';
import { parsePrometheus } from '../helpers/prometheus.ts';

const env = createTestEnv('pull');
let sandbox: Sandbox | undefined;
let service: Service | undefined;
let broken: Deps | undefined;

afterAll(async () => {
  await service?.close();
  await broken?.close();
  await sandbox?.close();
  await env.dropDatabase();
});

function brokenDeps(lines: Record<string, unknown>[]) {
  const capture = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString().split('\n').filter(Boolean)) {
        lines.push(JSON.parse(line) as Record<string, unknown>);
      }
      done();
    },
  });
  const config = env.config({ DATABASE_URL: 'mysql://root@127.0.0.1:1/nowhere' });
  return createDeps(config, createLog('info', capture));
}

/** Messages the subscription would deliver now (none once every one is acknowledged). */
async function pullNow(): Promise<unknown[]> {
  const res = await fetch(
    `http://${EMULATOR_HOST}/v1/projects/${PROJECT_ID}/subscriptions/${env.env.FDR_SUBSCRIPTION!}:pull`,
    {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ maxMessages: 10, returnImmediately: true }),
    },
  );
  expect(res.status).toBe(200);
  const body = (await res.json()) as { receivedMessages?: unknown[] };
  return body.receivedMessages ?? [];
}

describe('Pub/Sub pull ingress', () => {
  it('nacks, and never acks, a message it could not record', async () => {
    const lines: Record<string, unknown>[] = [];
    const deps = brokenDeps(lines);
    const calls: string[] = [];
    try {
      await handleFdrMessage(deps, {
        id: 'm-1',
        data: Buffer.from(JSON.stringify(fdrEvent())),
        ack: () => calls.push('ack'),
        nack: () => calls.push('nack'),
      });
    } finally {
      await deps.close();
    }
    expect(calls).toEqual(['nack']);
    expect(lines.some((l) => l.msg === 'FDR ingest failed; nacked for redelivery')).toBe(true);
  });

  it('acks what is not an FDR event without recording it', async () => {
    const deps = brokenDeps([]);
    const calls: string[] = [];
    try {
      await handleFdrMessage(deps, {
        id: 'm-2',
        data: Buffer.from(JSON.stringify({ resource: 'order', eventSubType: 'created' })),
        ack: () => calls.push('ack'),
        nack: () => calls.push('nack'),
      });
    } finally {
      await deps.close();
    }
    expect(calls).toEqual(['ack']);
  });

  it('redelivers a nacked event to a healthy subscriber, which sends it once', async () => {
    sandbox = await startSandbox({ port: 0, host: '127.0.0.1' });
    const lines: Record<string, unknown>[] = [];
    broken = brokenDeps(lines);
    const brokenSubscriber = await startFdrSubscriber(broken);
    await broken.pubsub
      .topic(env.env.FDR_TOPIC!)
      .publishMessage({ json: fdrEvent({ shipmentId: 'PULL-1' }) });
    await waitFor(() => lines.some((l) => l.msg === 'FDR ingest failed; nacked for redelivery'), {
      what: 'the broken subscriber to nack',
    });
    await brokenSubscriber.close();

    service = await startService(env.config({ GUPSHUP_ENTERPRISE_URL: sandbox.url }), ['worker']);
    await saveAccountSettings(service.deps.db, 379, { enabled: true });
    const healthy = await startFdrSubscriber(service.deps);
    try {
      await waitFor(() => sandbox!.sends.some((s) => isSendOf(s, 'fdr-PULL-1-1')), {
        timeoutMs: 20_000,
        what: 'the redelivered event to be sent',
      });
    } finally {
      await healthy.close();
    }
    expect(sandbox.sends.filter((s) => isSendOf(s, 'fdr-PULL-1-1'))).toHaveLength(1);
  });

  it('acks an FDR event whose shipment id is too long, records and counts it, and never gets it again', async () => {
    sandbox ??= await startSandbox({ port: 0, host: '127.0.0.1' });
    service ??= await startService(env.config({ GUPSHUP_ENTERPRISE_URL: sandbox.url }), ['worker']);
    const longId = `PULL-LONG-${'9'.repeat(290)}`;
    const subscriber = await startFdrSubscriber(service.deps);
    try {
      await service.deps.pubsub
        .topic(env.env.FDR_TOPIC!)
        .publishMessage({ json: fdrEvent({ shipmentId: longId }) });
      const row = await waitFor(
        async () => {
          const rows = await service!.deps.db
            .select()
            .from(fdrInbox)
            .where(eq(fdrInbox.status, 'skipped'));
          return rows.find((r) => r.reason?.includes('externalShipmentID'));
        },
        { timeoutMs: 20_000, what: 'the invalid event to be recorded' },
      );
      expect(row.reason).toBe(
        'invalid_event: response_data.externalShipmentID: must be at most 64 characters',
      );
      expect(row.eventKey).toMatch(/^invalid\|sha256:[0-9a-f]{64}$/);
      expect(row.shipmentId).toBe('');
      expect(JSON.parse(row.payload)).toMatchObject({
        response_data: { externalShipmentID: longId },
      });
    } finally {
      // Closing flushes acknowledgements: what is still unacknowledged goes back to Pub/Sub.
      await subscriber.close();
    }
    expect(await pullNow()).toEqual([]);
    const metrics = parsePrometheus(await service.deps.metrics.registry.metrics());
    expect(metrics.value('whatsapp_fdr_events_total', { outcome: 'invalid' })).toBe(1);
    // Recorded once, and no job will ever process it.
    const rows = await service.deps.db.select().from(fdrInbox).where(eq(fdrInbox.attempt, 0));
    expect(rows).toHaveLength(1);
    expect(
      await service.deps.queues['fdr.validate'].getJob(fdrValidate.jobId({ inboxId: rows[0]!.id })),
    ).toBeUndefined();
  });
});
