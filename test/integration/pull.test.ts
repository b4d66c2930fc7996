/**
 * The pull subscriber: an event arriving while MySQL is unavailable is nacked, not lost, and is
 * sent once a healthy subscriber takes it.
 */
import { Writable } from 'node:stream';

import { afterAll, describe, expect, it } from 'vitest';

import { saveAccountSettings } from '../../src/db/settings.ts';
import { createDeps, type Deps } from '../../src/deps.ts';
import { createLog } from '../../src/log.ts';
import { handleFdrMessage, startFdrSubscriber } from '../../src/pubsub/subscriber.ts';
import { startService, type Service } from '../../src/service.ts';
import { startSandbox, type Sandbox } from '../../src/sandbox/server.ts';
import { createTestEnv, waitFor } from '../helpers/env.ts';
import { fdrEvent } from '../helpers/fixtures.ts';

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
      await waitFor(() => sandbox!.sends.some((s) => s.params.msg_id === 'fdr-PULL-1-1'), {
        timeoutMs: 20_000,
        what: 'the redelivered event to be sent',
      });
    } finally {
      await healthy.close();
    }
    expect(sandbox.sends.filter((s) => s.params.msg_id === 'fdr-PULL-1-1')).toHaveLength(1);
  });
});
