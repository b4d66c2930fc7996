/**
 * Quiet hours, end to end (issue 11, point 2), on a clock the test moves: an FDR arriving at
 * 22:30 IST for an account with the platform default (DEFAULT_QUIET_HOURS=21:00-09:00
 * Asia/Kolkata) waits as a delayed `message.send` job whose delay is exactly the time to 09:00
 * IST, the timeline says "scheduled for 09:00 IST", nothing goes out before (a promotion at 22:30
 * or 08:59 is deferred again), and at 09:00 it goes, taking its sender's turn. With
 * `quietHours: null` it goes at once; a follow-up answering the customer is never deferred.
 * Real Redis, MariaDB and emulator; the Gupshup sandbox and a fake WMS over real HTTP.
 */
import type { Job } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { listShipmentActivity } from '../../src/db/activity.ts';
import { saveAccountSettings } from '../../src/db/settings.ts';
import { startSandbox, type Sandbox } from '../../src/sandbox/server.ts';
import { startService, type Service } from '../../src/service.ts';
import { HOUR, istTime, manualClock } from '../helpers/clock.ts';
import { createTestEnv, waitFor } from '../helpers/env.ts';
import { startFakeWms, type FakeWms } from '../helpers/fake-wms.ts';
import { fdrEvent } from '../helpers/fixtures.ts';
import { isSendOf, outboxOf } from '../helpers/outbox.ts';
import { pushFdr } from '../helpers/push.ts';

const WEBHOOK_TOKEN = 'test-webhook-token';
const env = createTestEnv('quiethours');
const clock = manualClock(istTime('22:30'));
let sandbox: Sandbox;
let wms: FakeWms;
let service: Service;

const templateSends = (shipmentId: string, attempt = 1) =>
  sandbox.sends.filter(
    (s) => isSendOf(s, `fdr-${shipmentId}-${attempt}`) && s.outcome === 'success',
  );

async function timeline(shipmentId: string) {
  return listShipmentActivity(service.deps.db, shipmentId);
}

/** The FDR message's `message.send` job once it sits in `delayed`. */
async function delayedSend(shipmentId: string): Promise<Job> {
  const outbox = await waitFor(() => outboxOf(service.deps.db, shipmentId), {
    what: `the outbox row of ${shipmentId}`,
  });
  return waitFor(
    async () => {
      const job = await service.deps.queues['message.send'].getJob(`send-outbox-${outbox.id}`);
      return job && (await job.getState()) === 'delayed' ? job : null;
    },
    { what: `the delayed send of ${shipmentId}` },
  );
}

/** Promotes a delayed job and waits until a worker has taken it and it left `waiting`. */
async function promote(job: Job): Promise<void> {
  const before = job.attemptsStarted;
  await job.promote();
  await waitFor(
    async () => {
      const now = await service.deps.queues['message.send'].getJob(job.id!);
      const state = await now?.getState();
      return now && now.attemptsStarted > before && state !== 'waiting' && state !== 'active';
    },
    { what: `job ${job.id} to run` },
  );
}

beforeAll(async () => {
  sandbox = await startSandbox({ port: 0, host: '127.0.0.1' });
  wms = await startFakeWms();
  service = await startService(
    env.config({
      GUPSHUP_ENTERPRISE_URL: sandbox.url,
      WMS_API_URL: wms.url,
      WEBHOOK_TOKEN,
      REPLY_SETTLE_SECONDS: '0',
      DEFAULT_QUIET_HOURS: '21:00-09:00 Asia/Kolkata',
      // Two sends a second per sender: the morning's sends take turns 500 ms apart.
      GUPSHUP_SENDER_MAX_PER_SECOND: '2',
    }),
    ['api', 'worker'],
    { clock },
  );
  sandbox.setCallback({
    url: `${service.url}/api/_ah/v1/message?token=${WEBHOOK_TOKEN}`,
    delaysMs: { sent: 20, delivered: 40, read: -1 },
  });
  // 379 keeps the platform default; 380 switched quiet hours off.
  await saveAccountSettings(service.deps.db, 379, { enabled: true });
  await saveAccountSettings(service.deps.db, 380, { enabled: true, policy: { quietHours: null } });
});

afterAll(async () => {
  await service?.close();
  await wms?.close();
  await sandbox?.close();
  await env.dropDatabase();
});

describe('quiet hours', () => {
  it('holds an FDR arriving at 22:30 IST until 09:00 IST, says so, and sends it then, not before', async () => {
    clock.set(istTime('22:30'));
    const nineAm = istTime('09:00', clock.now() + 12 * HOUR);
    await pushFdr(service, fdrEvent({ shipmentId: 'QUIET-1', phone: '9811300001' }));

    const job = await delayedSend('QUIET-1');
    expect(job.delay).toBe(nineAm - clock.now());
    expect(job.delay).toBe(10.5 * HOUR);
    const entries = await timeline('QUIET-1');
    const scheduled = entries.filter((e) => e.kind === 'whatsapp_scheduled');
    expect(scheduled.map((e) => e.title)).toEqual([
      'WhatsApp message scheduled for 09:00 IST: quiet hours (21:00–09:00 Asia/Kolkata)',
    ]);
    expect(scheduled[0]!.details).toMatchObject({
      scheduledFor: new Date(nineAm).toISOString(),
      localTime: { time: '09:00', zone: 'IST' },
    });
    expect(templateSends('QUIET-1')).toHaveLength(0);

    // Woken early (at 22:30, then at 08:59): still quiet, so it goes back to wait.
    await promote(job);
    let again = await delayedSend('QUIET-1');
    expect(Math.abs(again.delay - 10.5 * HOUR)).toBeLessThan(5_000);
    clock.set(nineAm - 60_000);
    await promote(again);
    again = await delayedSend('QUIET-1');
    expect(Math.abs(again.delay - 60_000)).toBeLessThan(5_000);
    expect(templateSends('QUIET-1')).toHaveLength(0);
    expect((await outboxOf(service.deps.db, 'QUIET-1'))?.status).toBe('pending');

    clock.set(nineAm);
    await promote(again);
    const [sent] = await waitFor(
      () => (templateSends('QUIET-1').length ? templateSends('QUIET-1') : null),
      {
        what: 'the FDR message at 09:00',
      },
    );
    expect(sent!.params.send_to).toBe('919811300001');
    const notified = (await timeline('QUIET-1')).find((e) => e.kind === 'whatsapp_notified');
    expect(notified!.details).toMatchObject({ sentOn: new Date(nineAm).toISOString() });
    // One scheduled entry however often it was put back: each said the same 09:00.
    expect((await timeline('QUIET-1')).filter((e) => e.kind === 'whatsapp_scheduled')).toHaveLength(
      1,
    );
  });

  it('sends at once for an account that switched quiet hours off', async () => {
    clock.set(istTime('22:30'));
    await pushFdr(service, fdrEvent({ shipmentId: 'LOUD-1', phone: '9811300002', accountId: 380 }));
    await waitFor(() => templateSends('LOUD-1')[0], { what: 'the FDR message at 22:30' });
    expect((await timeline('LOUD-1')).some((e) => e.kind === 'whatsapp_scheduled')).toBe(false);
  });

  it("takes the sender's turns when the morning's messages wake together", async () => {
    clock.set(istTime('23:15'));
    const nineAm = istTime('09:00', clock.now() + 12 * HOUR);
    await pushFdr(service, fdrEvent({ shipmentId: 'PACE-1', phone: '9811300003' }));
    await pushFdr(service, fdrEvent({ shipmentId: 'PACE-2', phone: '9811300004' }));
    const jobs = [await delayedSend('PACE-1'), await delayedSend('PACE-2')];
    expect(jobs.map((j) => j.delay)).toEqual([nineAm - clock.now(), nineAm - clock.now()]);

    clock.set(nineAm);
    await Promise.all(jobs.map((j) => j.promote()));
    const sends = await waitFor(
      () => {
        const both = [...templateSends('PACE-1'), ...templateSends('PACE-2')];
        return both.length === 2 ? both : null;
      },
      { what: 'both morning messages' },
    );
    const gap = Math.abs(sends[0]!.at.getTime() - sends[1]!.at.getTime());
    expect(gap).toBeGreaterThanOrEqual(400);
  });

  it('never defers a reply to a customer who just wrote', async () => {
    const mobile = '919811300005';
    clock.set(istTime('20:00'));
    await pushFdr(service, fdrEvent({ shipmentId: 'AWAKE-1', phone: mobile.slice(2) }));
    await waitFor(() => templateSends('AWAKE-1')[0], { what: 'the FDR message at 20:00' });

    clock.set(istTime('23:00'));
    await sandbox.tap({ to: mobile, choice: 'Reattempt delivery' });
    await waitFor(() => wms.notifications.find((n) => n.body.shipmentId === 'AWAKE-1'), {
      what: 'the REATTEMPT',
    });
    const confirmation = await waitFor(
      () =>
        sandbox.sends.find(
          (s) =>
            s.params.send_to === mobile &&
            s.params.isTemplate !== 'true' &&
            s.outcome === 'success',
        ),
      { what: 'the confirmation at 23:00' },
    );
    expect(confirmation.params.msg).toContain('attempt the delivery again');
    expect((await timeline('AWAKE-1')).some((e) => e.kind === 'whatsapp_scheduled')).toBe(false);
  });
});
