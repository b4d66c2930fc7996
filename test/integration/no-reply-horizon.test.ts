/**
 * No-reply checks due further ahead than NO_REPLY_QUEUE_AHEAD_MS live in MySQL only: the send
 * queues no job for a check due in 12 h, the sweeper's feeder hands it to Redis once it has come
 * within the horizon (a delayed job due at its own time, once however often the feeder runs), and
 * the reminder then goes out as usual. On a clock the test moves; the sweeper's own timer never
 * fires here (SWEEP_INTERVAL_MS is an hour), the test runs the feeder.
 */
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { findNoReplyCheck } from '../../src/db/no-reply-checks.ts';
import { notificationOutbox } from '../../src/db/schema.ts';
import { saveAccountSettings } from '../../src/db/settings.ts';
import { startSandbox, type Sandbox } from '../../src/sandbox/server.ts';
import { startService, type Service } from '../../src/service.ts';
import { createCheckFeeder } from '../../src/sweeper.ts';
import { HOUR, istTime, manualClock } from '../helpers/clock.ts';
import { createTestEnv, waitFor } from '../helpers/env.ts';
import { startFakeWms, type FakeWms } from '../helpers/fake-wms.ts';
import { fdrEvent } from '../helpers/fixtures.ts';
import { isSendOf } from '../helpers/outbox.ts';
import { pushFdr } from '../helpers/push.ts';

const env = createTestEnv('noreplyahead');
const clock = manualClock(istTime('11:00'));
let sandbox: Sandbox;
let wms: FakeWms;
let service: Service;

const sendsOf = (key: string) =>
  sandbox.sends.filter((s) => isSendOf(s, key) && s.outcome === 'success');

async function notify(shipmentId: string, phone: string) {
  await pushFdr(service, fdrEvent({ shipmentId, phone }));
  return waitFor(
    async () => {
      const [row] = await service.deps.db
        .select()
        .from(notificationOutbox)
        .where(eq(notificationOutbox.idempotencyKey, `fdr-${shipmentId}-1`));
      return row?.status === 'sent' ? row : null;
    },
    { what: `the FDR message of ${shipmentId} sent` },
  );
}

const checkJob = async (outboxId: number) =>
  (await service.deps.queues['no-reply.check'].getJob(`no-reply-${outboxId}`)) ?? null;

beforeAll(async () => {
  sandbox = await startSandbox({ port: 0, host: '127.0.0.1' });
  wms = await startFakeWms();
  service = await startService(
    env.config({
      GUPSHUP_ENTERPRISE_URL: sandbox.url,
      WMS_API_URL: wms.url,
      SWEEP_INTERVAL_MS: String(HOUR),
      NO_REPLY_QUEUE_AHEAD_MS: String(HOUR),
    }),
    ['api', 'worker'],
    { clock },
  );
  await saveAccountSettings(service.deps.db, 379, { enabled: true });
});

afterAll(async () => {
  await service?.close();
  await wms?.close();
  await sandbox?.close();
  await env.dropDatabase();
});

describe('no-reply checks beyond the horizon', () => {
  it('are held in MySQL until they come within it, then queued once, due at their time', async () => {
    const sentAt = clock.now();
    const first = await notify('NR-AHEAD-1', '9811500001');
    // Sent an hour later: due an hour after the first.
    clock.advance(HOUR);
    const second = await notify('NR-AHEAD-2', '9811500002');
    expect((await findNoReplyCheck(service.deps.db, first.id))!.dueAt.getTime()).toBe(
      sentAt + 12 * HOUR,
    );
    // Due in 12 h: recorded, not queued.
    expect(await checkJob(first.id)).toBeNull();
    expect(await checkJob(second.id)).toBeNull();

    const feeder = createCheckFeeder(service.deps, HOUR);
    expect(await feeder.feed()).toBe(0);

    // 10.5 h after the first send: its check is due in 1.5 h, still beyond the horizon.
    clock.set(sentAt + 10.5 * HOUR);
    expect(await feeder.feed()).toBe(0);
    expect(await checkJob(first.id)).toBeNull();

    // 11.5 h: the first is due in 30 min, the second in 90 min.
    clock.set(sentAt + 11.5 * HOUR);
    expect(await feeder.feed()).toBe(1);
    const job = await checkJob(first.id);
    expect(await job!.getState()).toBe('delayed');
    expect(job!.delay).toBe(HOUR / 2);
    expect(await checkJob(second.id)).toBeNull();
    // A pass that finds nothing new reads on from where the last one stopped.
    expect(await feeder.feed()).toBe(0);

    // 12.5 h: the second has come within the horizon; the first is not queued again.
    clock.set(sentAt + 12.5 * HOUR);
    expect(await feeder.feed()).toBe(1);
    expect((await checkJob(second.id))!.delay).toBe(HOUR / 2);

    // The first runs as any check does: the reminder goes out, once.
    await job!.promote();
    await waitFor(() => sendsOf(`reminder-${first.id}`).length === 1 || null, {
      what: 'the reminder of the first message',
    });
    expect(await findNoReplyCheck(service.deps.db, first.id)).toMatchObject({
      status: 'done',
      outcome: 'remind',
    });
  });
});
