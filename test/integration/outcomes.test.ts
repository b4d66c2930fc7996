/**
 * The outcome of each failed-delivery attempt, end to end on real Redis, MariaDB and emulator,
 * with the Gupshup sandbox and a fake WMS over HTTP: the row `fdr.validate` records (once, however
 * often the event comes), the stages its message and its customer reach, the later status events
 * taken in through the ingress (and those acknowledged with nothing stored), out-of-order and
 * repeated events, and a newer attempt closing the earlier one.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { listShipmentActivity } from '../../src/db/activity.ts';
import { createApiToken } from '../../src/db/api-tokens.ts';
import {
  findAttemptOutcome,
  insertAttemptOutcome,
  markOutcomeActioned,
  markOutForDelivery,
} from '../../src/db/outcomes.ts';
import { checkChosenDates } from '../../src/outcomes/chosen-dates.ts';
import { notificationOutbox, whatsappAttemptOutcomes } from '../../src/db/schema.ts';
import { saveAccountSettings } from '../../src/db/settings.ts';
import { startSandbox, type Sandbox } from '../../src/sandbox/server.ts';
import { startService, type Service } from '../../src/service.ts';
import { API_TOKEN, createTestEnv, waitFor } from '../helpers/env.ts';
import { startFakeWms, type FakeWms } from '../helpers/fake-wms.ts';
import { fdrEvent, statusEvent } from '../helpers/fixtures.ts';
import { isSendOf, outboxOf } from '../helpers/outbox.ts';

const WEBHOOK_TOKEN = 'test-webhook-token';
const env = createTestEnv('outcomes');
let sandbox: Sandbox;
let wms: FakeWms;
let service: Service;

/** Pushes an event as a Pub/Sub push subscription would; returns `x-ingest-status`. */
async function push(event: unknown, messageId?: string): Promise<string> {
  const res = await service.app!.inject({
    method: 'POST',
    url: '/pubsub/push',
    payload: {
      message: {
        data: Buffer.from(JSON.stringify(event)).toString('base64'),
        ...(messageId ? { messageId } : {}),
      },
    },
  });
  expect(res.statusCode).toBe(204);
  return String(res.headers['x-ingest-status']);
}

function outcome(shipmentId: string, attempt = 1) {
  return findAttemptOutcome(service.deps.db, shipmentId, attempt);
}

async function stageCount(stage: string): Promise<number> {
  const { values } = await service.deps.metrics.outcomes.get();
  return values.find((v) => v.labels.stage === stage)?.value ?? 0;
}

async function rowsOf(shipmentId: string) {
  const rows = await service.deps.db.select().from(whatsappAttemptOutcomes);
  return rows.filter((r) => r.shipmentId === shipmentId);
}

/** Sends the FDR message of `shipmentId` and waits until its READ is applied to its outcome. */
async function notifiedAndRead(
  shipmentId: string,
  phone: string,
  attempt = 1,
  more: Parameters<typeof fdrEvent>[0] = {},
) {
  await push(fdrEvent({ shipmentId, phone, attempt, ...more }));
  const send = await waitFor(
    () =>
      sandbox.sends.find(
        (s) => isSendOf(s, `fdr-${shipmentId}-${attempt}`) && s.outcome === 'success',
      ),
    { what: `the FDR message of ${shipmentId}` },
  );
  await waitFor(async () => (await outcome(shipmentId, attempt))?.readAt, {
    what: `READ of ${shipmentId} on its outcome`,
  });
  return send;
}

function button(mobile: string, text: string, replyId: string) {
  return {
    mobile,
    type: 'button',
    button: JSON.stringify({ text }),
    timestamp: String(Date.now()),
    waNumber: '919319278973',
    name: 'Customer',
    replyId,
    messageId: `${Math.floor(Math.random() * 1e15)}`,
  };
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
  );
  sandbox.setCallback({
    url: `${service.url}/api/_ah/v1/message?token=${WEBHOOK_TOKEN}`,
    delaysMs: { sent: 10, delivered: 20, read: 30 },
  });
  await saveAccountSettings(service.deps.db, 379, { enabled: true });
  // Account 381 asks for the apology when a courier did not honour its customer's choice.
  await saveAccountSettings(service.deps.db, 381, {
    enabled: true,
    policy: { apologyOnNotHonoured: true },
  });
});

afterAll(async () => {
  await service?.close();
  await wms?.close();
  await sandbox?.close();
  await env.dropDatabase();
});

describe('attempt outcomes', () => {
  it('records a messaged attempt once, with its stages, however often the event comes', async () => {
    const sentBefore = await stageCount('sent');
    await notifiedAndRead('OUT-1', '9811200001');
    // The same event again (a redelivery): no second row, no stage counted twice.
    await push(fdrEvent({ shipmentId: 'OUT-1', phone: '9811200001' }), 'again');
    const row = await outcome('OUT-1');
    const outbox = await outboxOf(service.deps.db, 'OUT-1');
    expect(row).toMatchObject({
      accountId: 379,
      messaged: 1,
      outboxId: outbox!.id,
      templateId: outbox!.templateId,
      reason: 'otp_cancellation',
      courier: 'Delhivery',
      notMessagedCode: null,
      outcome: 'open',
    });
    // The WMS's local time, read in Asia/Kolkata: 16:06:16 IST is 10:36:16 UTC.
    expect(row!.failedAt.toISOString()).toBe('2023-06-08T10:36:16.000Z');
    expect(row!.sentAt).not.toBeNull();
    expect(row!.deliveredAt).not.toBeNull();
    expect(await rowsOf('OUT-1')).toHaveLength(1);
    expect((await stageCount('sent')) - sentBefore).toBe(1);
  });

  it('records an attempt not messaged with its skip code and reason', async () => {
    expect(await push(fdrEvent({ shipmentId: 'OUT-OFF-1', accountId: 380 }))).toBe('accepted');
    const row = await waitFor(() => outcome('OUT-OFF-1'), { what: 'the outcome row' });
    expect(row).toMatchObject({
      accountId: 380,
      messaged: 0,
      notMessagedCode: 'whatsapp_disabled',
      reason: 'otp_cancellation',
      outboxId: null,
      sentAt: null,
    });
  });

  it('records the reply and the action, with the chosen date', async () => {
    const send = await notifiedAndRead('OUT-2', '9811200002');
    const actionedBefore = await stageCount('actioned');
    const record = await sandbox.simulateReply(
      button('919811200002', 'Reattempt delivery', send.messageId!.split('-')[0]!),
      'json',
    );
    expect(record.status).toBe(200);
    const row = await waitFor(
      async () => ((await outcome('OUT-2'))?.action ? outcome('OUT-2') : null),
      {
        what: 'the action on the outcome',
      },
    );
    expect(row).toMatchObject({ action: 'reattempt', chosenDate: null });
    expect(row.repliedAt).not.toBeNull();
    expect(row.actionAt).not.toBeNull();
    expect((await stageCount('actioned')) - actionedBefore).toBe(1);
  });

  it('closes the attempt on a later status, only from open, and puts it on the timeline', async () => {
    await notifiedAndRead('OUT-3', '9811200003');
    const before = await stageCount('shipment_delivered');
    expect(await push(statusEvent('OUT-3', 'out_for_delivery', '2023-06-09 09:30:00'))).toBe(
      'status',
    );
    await waitFor(async () => (await outcome('OUT-3'))?.outForDeliveryAt, {
      what: 'out for delivery',
    });
    expect((await outcome('OUT-3'))!.outForDeliveryAt!.toISOString()).toBe(
      '2023-06-09T04:00:00.000Z',
    );
    await push(statusEvent('OUT-3', 'delivered', '2023-06-09 14:00:00'), 'd1');
    await push(statusEvent('OUT-3', 'delivered', '2023-06-09 14:00:00'), 'd2');
    // An older event arriving after it must not overwrite the outcome.
    await push(statusEvent('OUT-3', 'rto_initiated', '2023-06-09 10:00:00'));
    await waitFor(async () => (await outcome('OUT-3'))?.outcome === 'delivered', {
      what: 'delivered',
    });
    const rto = await waitFor(
      () =>
        service.deps.queues['shipment.status'].getJob(
          `status-OUT-3-rto_initiated-${Date.parse('2023-06-09T04:30:00Z')}`,
        ),
      { what: 'the rto job' },
    );
    await waitFor(async () => (await rto.getState()) === 'completed', { what: 'rto applied' });
    const row = await outcome('OUT-3');
    expect(row).toMatchObject({ outcome: 'delivered', outcomeStatus: 'delivered' });
    expect(row!.outcomeAt!.toISOString()).toBe('2023-06-09T08:30:00.000Z');
    expect((await stageCount('shipment_delivered')) - before).toBe(1);
    // The entry follows the outcome's update (the job that made it records it next).
    const outcomeEntries = async () =>
      (await listShipmentActivity(service.deps.db, 'OUT-3')).filter(
        (a) => a.kind === 'whatsapp_outcome',
      );
    await waitFor(async () => (await outcomeEntries()).length > 0, { what: 'the outcome entry' });
    // Both delivered events' jobs and the older rto have finished: one entry, not one per event.
    await waitFor(
      async () => {
        const counts = await service.deps.queues['shipment.status'].getJobCounts(
          'active',
          'waiting',
        );
        return (counts.active ?? 0) + (counts.waiting ?? 0) === 0;
      },
      { what: 'the status jobs to finish' },
    );
    expect(await outcomeEntries()).toHaveLength(1);
  });

  it('acknowledges status events of shipments never decided on, storing nothing', async () => {
    const before = await service.deps.queues['shipment.status'].getJobCounts();
    expect(await push(statusEvent('NEVER-SEEN-1', 'delivered', '2023-06-09 14:00:00'))).toBe(
      'ignored',
    );
    // Statuses the outcomes do not take are ignored too, for known shipments as well.
    expect(await push(statusEvent('OUT-1', 'intransit', '2023-06-09 14:00:00'))).toBe('ignored');
    expect(await rowsOf('NEVER-SEEN-1')).toHaveLength(0);
    expect(await service.deps.queues['shipment.status'].getJobCounts()).toEqual(before);
  });

  it('closes the earlier attempt as failed again when the shipment fails again', async () => {
    await notifiedAndRead('OUT-4', '9811200004');
    const before = await stageCount('failed_again');
    await notifiedAndRead('OUT-4', '9811200004', 2);
    await push(fdrEvent({ shipmentId: 'OUT-4', phone: '9811200004', attempt: 2 }), 'again');
    expect(await outcome('OUT-4', 1)).toMatchObject({
      outcome: 'failed_again',
      outcomeStatus: 'failed_delivery',
      nextReason: 'otp_cancellation',
      notHonoured: null,
    });
    expect(await outcome('OUT-4', 2)).toMatchObject({ outcome: 'open', messaged: 1 });
    expect((await stageCount('failed_again')) - before).toBe(1);
    // A delivery now closes the latest attempt only.
    await push(statusEvent('OUT-4', 'delivered', '2023-06-10 12:00:00'));
    await waitFor(async () => (await outcome('OUT-4', 2))?.outcome === 'delivered');
    expect((await outcome('OUT-4', 1))!.outcome).toBe('failed_again');
  });
});

describe('GET /v1/accounts/:accountId/whatsapp-outcomes', () => {
  async function get(url: string, token: string) {
    const res = await service.app!.inject({
      method: 'GET',
      url,
      headers: { authorization: `Bearer ${token}` },
    });
    return { status: res.statusCode, body: res.json<Record<string, unknown>>() };
  }
  const PERIOD = 'from=2023-06-01&to=2023-06-30';

  it("serves the account's funnel to its own token and to the admin", async () => {
    const { token } = await createApiToken(service.deps.db, 379, 'outcomes');
    const own = await get(`/v1/accounts/379/whatsapp-outcomes?${PERIOD}&groupBy=courier`, token);
    expect(own.status).toBe(200);
    expect(own.body).toMatchObject({
      accountId: 379,
      from: '2023-06-01T00:00:00.000Z',
      to: '2023-07-01T00:00:00.000Z',
      groupBy: 'courier',
    });
    const groups = own.body.groups as { key: string; counts: { messaged: number } }[];
    expect(groups.map((g) => g.key)).toEqual(['Delhivery']);
    expect(groups[0]!.counts.messaged).toBeGreaterThan(0);
    const admin = await get(
      `/v1/accounts/379/whatsapp-outcomes?${PERIOD}&groupBy=courier`,
      API_TOKEN,
    );
    expect(admin.body).toEqual(own.body);
    // Every account: the admin's only; account 380's attempt (WhatsApp off) counts there.
    const all = await get(`/v1/accounts/all/whatsapp-outcomes?${PERIOD}`, API_TOKEN);
    expect(all.status).toBe(200);
    const total = all.body.total as { counts: { attempts: number; notMessaged: number } };
    expect(total.counts.notMessaged).toBe(1);
    expect(total.counts.attempts).toBeGreaterThan(groups[0]!.counts.messaged);
  });

  it("answers 404 for another account's or all accounts' funnel to an account token", async () => {
    const { token } = await createApiToken(service.deps.db, 379, 'outcomes-other');
    expect((await get('/v1/accounts/380/whatsapp-outcomes', token)).status).toBe(404);
    expect((await get('/v1/accounts/all/whatsapp-outcomes', token)).status).toBe(404);
  });

  it.each([
    ['groupBy=colour', /groupBy/],
    ['from=last-week', /from/],
    ['from=2023-06-30&to=2023-06-01', /before/],
    ['from=2021-01-01&to=2023-01-01', /366 days/],
  ])('answers 400 with a reason for %s', async (query, reason) => {
    const res = await get(`/v1/accounts/379/whatsapp-outcomes?${query}`, API_TOKEN);
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ code: 'ERR_VALIDATION' });
    expect(String(res.body.message)).toMatch(reason);
  });

  it('answers 400 for an account id that is neither a number nor all', async () => {
    expect((await get('/v1/accounts/abc/whatsapp-outcomes', API_TOKEN)).status).toBe(400);
  });
});

describe('not honoured', () => {
  async function notHonouredCount(courier: string): Promise<number> {
    const { values } = await service.deps.metrics.notHonoured.get();
    return values.find((v) => v.labels.courier === courier)?.value ?? 0;
  }
  function sessionSendsTo(number: string) {
    return sandbox.sends.filter(
      (s) => s.to === number && s.outcome === 'success' && s.params.isTemplate !== 'true',
    );
  }
  async function outboxRow(key: string) {
    const rows = await service.deps.db.select().from(notificationOutbox);
    return rows.find((r) => r.idempotencyKey === key) ?? null;
  }
  /** The WMS's local time at noon of `date` (YYYY-MM-DD) plus `days`. */
  function noonOf(date: string, days = 0): string {
    const d = new Date(Date.parse(`${date}T12:00:00Z`) + days * 86_400_000);
    return `${d.toISOString().slice(0, 10)} 12:00:00`;
  }

  it('flags a reschedule attempted on another date once, and apologises once when asked to', async () => {
    const mobile = '919811200011';
    await notifiedAndRead('NH-1', mobile.slice(2), 1, { accountId: 381, courier: 'Bluedart' });
    await sandbox.tap({ to: mobile, choice: 'Reattempt delivery' });
    await waitFor(() => sessionSendsTo(mobile)[0], { what: 'the confirmation' });
    await sandbox.tap({ to: mobile, choice: 'Choose a date' });
    await waitFor(() => sessionSendsTo(mobile)[1], { what: 'the dates' });
    await sandbox.tap({ to: mobile, choice: 1 });
    const chosen = await waitFor(
      async () => {
        const row = await outcome('NH-1');
        return row?.action === 'reschedule' ? row : null;
      },
      { what: 'the reschedule on the outcome' },
    );
    expect(chosen.chosenDate).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    const before = await notHonouredCount('Bluedart');

    // The courier comes a day later than the date chosen, and fails (customer unreachable).
    const second = {
      shipmentId: 'NH-1',
      phone: mobile.slice(2),
      attempt: 2,
      accountId: 381,
      courier: 'Bluedart',
      ndrCode: 5,
      failedAt: noonOf(chosen.chosenDate!, 1),
    };
    await push(fdrEvent(second));
    const flagged = await waitFor(
      async () => {
        const row = await outcome('NH-1');
        return row?.notHonoured ? row : null;
      },
      { what: 'the flag' },
    );
    expect(flagged).toMatchObject({
      notHonoured: 'other_date',
      outcome: 'failed_again',
      nextReason: 'customer_unreachable',
    });
    const apology = await waitFor(
      async () => {
        const row = await outboxRow('apology-NH-1-1');
        return row?.status === 'sent' ? row : null;
      },
      { what: 'the apology sent' },
    );
    expect(apology.body).toContain('We are sorry');
    expect(
      sessionSendsTo(mobile).filter((s) => s.params.msg?.includes('We are sorry')),
    ).toHaveLength(1);
    // The second attempt's own message went out too; its validation running again (the same
    // event redelivered) flags nothing twice.
    await waitFor(() => sandbox.sends.find((s) => isSendOf(s, 'fdr-NH-1-2')));
    await push(fdrEvent(second), 'redelivered');
    const timeline = await listShipmentActivity(service.deps.db, 'NH-1');
    const entries = timeline.filter((a) => a.kind === 'whatsapp_not_honoured');
    expect(entries).toHaveLength(1);
    expect(entries[0]!.title).toContain('Bluedart');
    expect(entries[0]!.details).toMatchObject({ why: 'other_date', courier: 'Bluedart' });
    expect((await notHonouredCount('Bluedart')) - before).toBe(1);
  });

  it('flags a reattempt answered by a refusal, with no apology when the account did not ask', async () => {
    const mobile = '919811200012';
    await notifiedAndRead('NH-2', mobile.slice(2));
    await sandbox.tap({ to: mobile, choice: 'Reattempt delivery' });
    await waitFor(async () => (await outcome('NH-2'))?.action === 'reattempt', {
      what: 'the reattempt on the outcome',
    });
    await notifiedAndRead('NH-2', mobile.slice(2), 2, { ndrCode: 2 });
    const row = await waitFor(
      async () => {
        const r = await outcome('NH-2');
        return r?.notHonoured ? r : null;
      },
      { what: 'the flag' },
    );
    expect(row).toMatchObject({
      notHonoured: 'contradicting_reason',
      nextReason: 'rejected_by_customer',
    });
    expect(await outboxRow('apology-NH-2-1')).toBeNull();
  });

  it('flags a chosen date that ended with no out-for-delivery on it, once', async () => {
    const { db, config, queues, metrics, log } = service.deps;
    const deps = { db, config, queues, metrics, log };
    const attempt = (shipmentId: string) =>
      insertAttemptOutcome(db, {
        shipmentId,
        attempt: 1,
        accountId: 379,
        reason: 'customer_unreachable',
        courier: 'Ekart',
        templateId: null,
        outboxId: 9_000_000 + Number(shipmentId.slice(-1)),
        messaged: true,
        notMessagedCode: null,
        failedAt: new Date('2026-11-28T06:00:00Z'),
      });
    const choose = (shipmentId: string, date: string) =>
      markOutcomeActioned(db, shipmentId, 9_000_000 + Number(shipmentId.slice(-1)), {
        action: 'reschedule',
        at: new Date('2026-11-28T08:00:00Z'),
        chosenDate: date,
      });
    for (const id of ['END-1', 'END-2', 'END-3']) {
      await attempt(id);
    }
    await choose('END-1', '2026-11-30'); // nobody came
    await choose('END-2', '2026-11-30'); // out for delivery that day (IST), not yet delivered
    await choose('END-3', '2026-12-01'); // the date has not ended yet
    await markOutForDelivery(db, 'END-2', 1, new Date('2026-11-30T03:00:00Z'));
    // 1 December, 00:30 IST: 30 November has ended in the business time zone.
    const now = new Date('2026-11-30T19:00:00Z');
    expect(await checkChosenDates(deps, now)).toBe(1);
    expect(await checkChosenDates(deps, now)).toBe(0);
    expect((await outcome('END-1'))!.notHonoured).toBe('no_out_for_delivery');
    expect((await outcome('END-2'))!.notHonoured).toBeNull();
    expect((await outcome('END-3'))!.notHonoured).toBeNull();
    // Still 30 November in IST (23:00): nothing has ended.
    expect(await checkChosenDates(deps, new Date('2026-11-30T17:30:00Z'))).toBe(0);
    const entries = (await listShipmentActivity(db, 'END-1')).filter(
      (a) => a.kind === 'whatsapp_not_honoured',
    );
    expect(entries).toHaveLength(1);
    expect(entries[0]!.title).toContain('Ekart');
  });
});
