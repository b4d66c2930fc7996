/**
 * The no-reply rule, end to end (issue 11, point 3; seed edge case 3), on a clock the test
 * moves: an FDR message nobody answers gets exactly one reminder 12 h later (or, with `then:
 * "reattempt"`, exactly one REATTEMPT to the WMS with remarks "no reply"); a reply at hour 11, a
 * newer attempt or the order delivered meanwhile (the WMS says so when the check is due) cancels
 * it; a reminder due inside quiet hours waits for their end; and the sweeper makes a lost check's
 * job again. The delayed `no-reply.check` job is inspected (its delay is exactly 12 h on the
 * test's clock) and promoted, rather than waited for.
 * Real Redis, MariaDB and emulator; the Gupshup sandbox and a fake WMS over real HTTP.
 */
import type { Job } from 'bullmq';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { listShipmentActivity } from '../../src/db/activity.ts';
import { findNoReplyCheck } from '../../src/db/no-reply-checks.ts';
import { notificationOutbox, whatsappNoReplyChecks } from '../../src/db/schema.ts';
import { saveAccountSettings } from '../../src/db/settings.ts';
import { enqueue } from '../../src/queues/index.ts';
import { textReply } from '../../src/sandbox/replies.ts';
import { startSandbox, type Sandbox } from '../../src/sandbox/server.ts';
import { startService, type Service } from '../../src/service.ts';
import { sweepOnce } from '../../src/sweeper.ts';
import { HOUR, istTime, manualClock } from '../helpers/clock.ts';
import { createTestEnv, waitFor } from '../helpers/env.ts';
import { startFakeWms, type FakeWms } from '../helpers/fake-wms.ts';
import { fdrEvent } from '../helpers/fixtures.ts';
import { isSendOf } from '../helpers/outbox.ts';
import { pushFdr } from '../helpers/push.ts';

const WEBHOOK_TOKEN = 'test-webhook-token';
const WA_NUMBER = '919319278973';
const env = createTestEnv('noreply');
const clock = manualClock(istTime('11:00'));
let sandbox: Sandbox;
let wms: FakeWms;
let service: Service;

/** Accounts: 379 the defaults (remind after 12 h), 381 reattempt, 382 quiet hours. */
const REATTEMPT_ACCOUNT = 381;
const QUIET_ACCOUNT = 382;

const sendsOf = (key: string) =>
  sandbox.sends.filter((s) => isSendOf(s, key) && s.outcome === 'success');

/** Sends the shipment's FDR message; resolves with its outbox row once it is sent. */
async function notify(shipmentId: string, phone: string, accountId = 379, attempt = 1) {
  await pushFdr(service, fdrEvent({ shipmentId, phone, accountId, attempt }));
  await waitFor(() => sendsOf(`fdr-${shipmentId}-${attempt}`)[0], {
    what: `the FDR message of ${shipmentId}`,
  });
  return waitFor(
    async () => {
      const [row] = await service.deps.db
        .select()
        .from(notificationOutbox)
        .where(eq(notificationOutbox.idempotencyKey, `fdr-${shipmentId}-${attempt}`));
      return row?.status === 'sent' ? row : null;
    },
    { what: `the outbox row of ${shipmentId} marked sent` },
  );
}

async function checkJob(outboxId: number): Promise<Job | null> {
  return (await service.deps.queues['no-reply.check'].getJob(`no-reply-${outboxId}`)) ?? null;
}

async function delayedCheck(outboxId: number): Promise<Job> {
  return waitFor(
    async () => {
      const job = await checkJob(outboxId);
      return job && (await job.getState()) === 'delayed' ? job : null;
    },
    { what: `the delayed no-reply check of outbox ${outboxId}` },
  );
}

/** Waits until the check of `outboxId` is no longer scheduled; resolves with it. */
async function settledCheck(outboxId: number) {
  return waitFor(
    async () => {
      const check = await findNoReplyCheck(service.deps.db, outboxId);
      return check && check.status !== 'scheduled' ? check : null;
    },
    { what: `the no-reply check of outbox ${outboxId} to finish` },
  );
}

async function kinds(shipmentId: string): Promise<string[]> {
  return (await listShipmentActivity(service.deps.db, shipmentId)).map(
    (e) => `${e.kind}: ${e.title}`,
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
    }),
    ['api', 'worker'],
    { clock },
  );
  sandbox.setCallback({
    url: `${service.url}/api/_ah/v1/message?token=${WEBHOOK_TOKEN}`,
    delaysMs: { sent: 20, delivered: 40, read: -1 },
  });
  await saveAccountSettings(service.deps.db, 379, { enabled: true });
  await saveAccountSettings(service.deps.db, REATTEMPT_ACCOUNT, {
    enabled: true,
    policy: { noReply: { afterHours: 12, then: 'reattempt' } },
  });
  await saveAccountSettings(service.deps.db, QUIET_ACCOUNT, {
    enabled: true,
    policy: { quietHours: { start: '21:00', end: '09:00', timeZone: 'Asia/Kolkata' } },
  });
});

afterAll(async () => {
  await service?.close();
  await wms?.close();
  await sandbox?.close();
  await env.dropDatabase();
});

describe('no reply', () => {
  it('sends exactly one reminder 12 h after an unanswered FDR message, and not before', async () => {
    clock.set(istTime('11:00'));
    const sentAt = clock.now();
    const fdr = await notify('NR-REMIND-1', '9811400001');
    const check = await findNoReplyCheck(service.deps.db, fdr.id);
    expect(check).toMatchObject({ status: 'scheduled', shipmentId: 'NR-REMIND-1', accountId: 379 });
    expect(check!.dueAt.getTime()).toBe(sentAt + 12 * HOUR);
    const job = await delayedCheck(fdr.id);
    expect(job.delay).toBe(12 * HOUR);

    // Promoted at hour 6: not due, so it waits on; nothing is sent.
    clock.advance(6 * HOUR);
    await job.promote();
    const waiting = await waitFor(
      async () => {
        const j = await checkJob(fdr.id);
        if (!j || j.attemptsStarted === 0 || (await j.getState()) !== 'delayed') {
          return null;
        }
        // Read again: the copy above may predate the move back to delayed (and its new delay).
        return checkJob(fdr.id);
      },
      { what: 'the early check to wait again' },
    );
    expect(Math.abs(waiting.delay - 6 * HOUR)).toBeLessThan(5_000);
    expect(sendsOf('reminder-' + fdr.id)).toHaveLength(0);

    clock.advance(6 * HOUR);
    await waiting.promote();
    expect(await settledCheck(fdr.id)).toMatchObject({ status: 'done', outcome: 'remind' });
    const [reminder] = await waitFor(
      () => (sendsOf(`reminder-${fdr.id}`).length ? sendsOf(`reminder-${fdr.id}`) : null),
      { what: 'the reminder' },
    );
    // The reason's template again, to the same number.
    expect(reminder!.params).toMatchObject({ send_to: '919811400001', msg: fdr.body });
    const entries = await waitFor(async () => {
      const k = await kinds('NR-REMIND-1');
      return k.some((e) => e.startsWith('whatsapp_reminder')) ? k : null;
    });
    expect(entries).toContain(
      'whatsapp_no_reply: No reply from the customer in 12 h: sending a reminder',
    );
    expect(entries).toContain('whatsapp_reminder: Eshopbox reminded Aman Verma');

    // However often the check runs again, and whatever the sweeper finds, one reminder.
    await enqueue(service.deps.queues, 'no-reply.check', { outboxId: fdr.id });
    await sweepOnce(service.deps, 0);
    await new Promise((r) => setTimeout(r, 300));
    expect(sendsOf(`reminder-${fdr.id}`)).toHaveLength(1);
    // The reminder's own message schedules no check of its own.
    const [reminderRow] = await service.deps.db
      .select()
      .from(notificationOutbox)
      .where(eq(notificationOutbox.idempotencyKey, `reminder-${fdr.id}`));
    expect(reminderRow).toMatchObject({ kind: 'fdr_reminder', status: 'sent' });
    expect(await findNoReplyCheck(service.deps.db, reminderRow!.id)).toBeNull();
  });

  it('asks the WMS for exactly one reattempt with then: "reattempt"', async () => {
    clock.set(istTime('11:00'));
    const fdr = await notify('NR-REATTEMPT-1', '9811400002', REATTEMPT_ACCOUNT);
    const job = await delayedCheck(fdr.id);
    expect(job.delay).toBe(12 * HOUR);
    clock.advance(12 * HOUR);
    await job.promote();
    expect(await settledCheck(fdr.id)).toMatchObject({ status: 'done', outcome: 'reattempt' });
    const ours = () => wms.notifications.filter((n) => n.body.shipmentId === 'NR-REATTEMPT-1');
    expect(ours()).toHaveLength(1);
    expect(ours()[0]!.body).toMatchObject({
      action: 'REATTEMPT',
      remarks: 'no reply',
      accountId: REATTEMPT_ACCOUNT,
      source: 'whatsapp',
    });
    expect(ours()[0]!.key).toBe(`ndr-no-reply-${fdr.id}`);
    expect(await kinds('NR-REATTEMPT-1')).toContain(
      'whatsapp_no_reply: No reply from the customer in 12 h: delivery reattempt requested',
    );
    await enqueue(service.deps.queues, 'no-reply.check', { outboxId: fdr.id });
    await new Promise((r) => setTimeout(r, 300));
    expect(ours()).toHaveLength(1);
    expect(sendsOf(`reminder-${fdr.id}`)).toHaveLength(0);
  });

  it('is cancelled by a reply at hour 11', async () => {
    clock.set(istTime('11:00'));
    const mobile = '919811400003';
    const fdr = await notify('NR-REPLIED-1', mobile.slice(2));
    await delayedCheck(fdr.id);

    clock.advance(11 * HOUR);
    const record = await sandbox.simulateReply(
      textReply({ mobile, waNumber: WA_NUMBER, text: 'I will be home tomorrow' }),
      'form',
    );
    expect(record.status).toBe(200);
    expect(await settledCheck(fdr.id)).toMatchObject({ status: 'cancelled', outcome: 'replied' });
    // Its delayed job goes (removed just after the check is marked); one that ran anyway would
    // find the check cancelled.
    await waitFor(async () => (await checkJob(fdr.id)) === null || null, {
      what: "the cancelled check's job to be removed",
    });
    clock.advance(HOUR);
    await enqueue(service.deps.queues, 'no-reply.check', { outboxId: fdr.id });
    await new Promise((r) => setTimeout(r, 300));
    expect(sendsOf(`reminder-${fdr.id}`)).toHaveLength(0);
  });

  it('is cancelled when the WMS says the order left failed delivery', async () => {
    clock.set(istTime('11:00'));
    const fdr = await notify('NR-DELIVERED-1', '9811400004', REATTEMPT_ACCOUNT);
    const job = await delayedCheck(fdr.id);
    wms.setStatus('NR-DELIVERED-1', 'delivered');
    clock.advance(12 * HOUR);
    await job.promote();
    expect(await settledCheck(fdr.id)).toMatchObject({
      status: 'cancelled',
      outcome: 'not_failed_delivery',
    });
    expect(wms.notifications.filter((n) => n.body.shipmentId === 'NR-DELIVERED-1')).toHaveLength(0);
    expect(await kinds('NR-DELIVERED-1')).toContain(
      'whatsapp_no_reply: No-reply follow-up cancelled: the order is delivered, no longer in failed delivery',
    );
  });

  it('is cancelled by a newer failed-delivery attempt of the shipment', async () => {
    clock.set(istTime('11:00'));
    const first = await notify('NR-NEWER-1', '9811400005', 379, 1);
    await delayedCheck(first.id);
    clock.advance(3 * HOUR);
    const second = await notify('NR-NEWER-1', '9811400005', 379, 2);
    expect(await settledCheck(first.id)).toMatchObject({
      status: 'cancelled',
      outcome: 'newer_attempt',
    });
    expect(await findNoReplyCheck(service.deps.db, second.id)).toMatchObject({
      status: 'scheduled',
    });
  });

  it('holds a reminder due inside quiet hours until they end', async () => {
    // Sent at 10:00 IST: 12 h later is 22:00, inside 21:00-09:00; due at 09:00 the next day.
    clock.set(istTime('10:00'));
    const nineAm = istTime('09:00', clock.now() + 20 * HOUR);
    const fdr = await notify('NR-QUIET-1', '9811400006', QUIET_ACCOUNT);
    const check = await findNoReplyCheck(service.deps.db, fdr.id);
    expect(check!.dueAt.getTime()).toBe(nineAm);
    const job = await delayedCheck(fdr.id);
    expect(job.delay).toBe(23 * HOUR);

    // Run at 22:00 anyway (the account's quiet hours were switched on after the send, say):
    // it waits for 09:00 and the timeline says so.
    await service.deps.db
      .update(whatsappNoReplyChecks)
      .set({ dueAt: new Date(nineAm - 11 * HOUR) })
      .where(eq(whatsappNoReplyChecks.outboxId, fdr.id));
    clock.set(nineAm - 11 * HOUR);
    await job.promote();
    const again = await waitFor(
      async () => {
        const j = await checkJob(fdr.id);
        if (!j || j.attemptsStarted === 0 || (await j.getState()) !== 'delayed') {
          return null;
        }
        // Read again: the copy above may predate the move back to delayed (and its new delay).
        return checkJob(fdr.id);
      },
      { what: 'the check to wait for the morning' },
    );
    expect(Math.abs(again.delay - 11 * HOUR)).toBeLessThan(5_000);
    expect((await findNoReplyCheck(service.deps.db, fdr.id))!.dueAt.getTime()).toBe(nineAm);
    expect(await kinds('NR-QUIET-1')).toContain(
      'whatsapp_scheduled: Reminder scheduled for 09:00 IST: quiet hours (21:00–09:00 Asia/Kolkata)',
    );

    clock.set(nineAm);
    await again.promote();
    expect(await settledCheck(fdr.id)).toMatchObject({ status: 'done', outcome: 'remind' });
    await waitFor(() => sendsOf(`reminder-${fdr.id}`)[0], { what: 'the reminder at 09:00' });
  });

  it('has the sweeper make a lost check job again once it is due', async () => {
    clock.set(istTime('11:00'));
    const fdr = await notify('NR-LOST-1', '9811400007');
    const job = await delayedCheck(fdr.id);
    await job.remove();
    // Not due yet: the sweeper leaves it.
    await sweepOnce(service.deps, 0);
    expect(await checkJob(fdr.id)).toBeNull();

    clock.advance(12 * HOUR + 1_000);
    const swept = await sweepOnce(service.deps, 0);
    expect(swept.noReply).toBeGreaterThanOrEqual(1);
    expect(await settledCheck(fdr.id)).toMatchObject({ status: 'done', outcome: 'remind' });
    await waitFor(() => sendsOf(`reminder-${fdr.id}`)[0], { what: 'the reminder' });
  });
});
