/**
 * The outcomes funnel's acceptance: a month of events, generated (a small deterministic plan:
 * 60 failed deliveries over 30 days, two couriers, three reasons, one reason with WhatsApp off
 * for the not-messaged comparison, replies and later statuses) and driven through the real push
 * ingress, workers, Gupshup sandbox (sends, delivery reports, the customer's taps) and webhook.
 * The API then answers exactly the counts and rates the plan predicts, per reason, courier and
 * day; a courier that delivered on another date than the customer chose is flagged once, and
 * the account (which asks for it) apologises once.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { listShipmentActivity } from '../../src/db/activity.ts';
import { findAttemptOutcome } from '../../src/db/outcomes.ts';
import { notificationOutbox } from '../../src/db/schema.ts';
import { saveAccountSettings } from '../../src/db/settings.ts';
import type { Counts, FunnelRow } from '../../src/outcomes/funnel.ts';
import { startSandbox, type Sandbox } from '../../src/sandbox/server.ts';
import { startService, type Service } from '../../src/service.ts';
import { API_TOKEN, createTestEnv, waitFor } from '../helpers/env.ts';
import { startFakeWms, type FakeWms } from '../helpers/fake-wms.ts';
import { fdrEvent, statusEvent } from '../helpers/fixtures.ts';
import { isSendOf, outboxOf } from '../helpers/outbox.ts';

const WEBHOOK_TOKEN = 'test-webhook-token';
const ACCOUNT = 379;
const env = createTestEnv('outcomeacceptance');
let sandbox: Sandbox;
let wms: FakeWms;
let service: Service;

// ---------------------------------------------------------------------------------------------
// The plan

const REASONS = [
  { reason: 'customer_unavailable', ndrCode: 1 },
  // WhatsApp is off for this reason: its attempts are the not-messaged comparison.
  { reason: 'address_issue', ndrCode: 6 },
  { reason: 'rejected_by_customer', ndrCode: 2 },
] as const;
const COURIERS = ['Delhivery', 'Bluedart'] as const;
const LATER = ['delivered', 'delivered', 'rto_initiated', 'cancelled', null] as const;

interface Planned {
  shipmentId: string;
  phone: string;
  /** `YYYY-MM-DD` in November 2026; the failure at noon, Asia/Kolkata. */
  day: string;
  courier: string;
  reason: string;
  ndrCode: number;
  messaged: boolean;
  reattempt: boolean;
  later: (typeof LATER)[number];
}

/** 60 attempts, two a day: courier alternating, reason cycling, statuses cycling by five. */
function plan(): Planned[] {
  return Array.from({ length: 60 }, (_, i) => {
    const { reason, ndrCode } = REASONS[i % 3]!;
    const messaged = reason !== 'address_issue';
    return {
      shipmentId: `ACC-${i}`,
      phone: `98113${String(i).padStart(5, '0')}`,
      day: `2026-11-${String((i % 30) + 1).padStart(2, '0')}`,
      courier: COURIERS[i % 2]!,
      reason,
      ndrCode,
      messaged,
      reattempt: messaged && i % 4 === 0,
      later: LATER[i % 5]!,
    };
  });
}

/** What the funnel should say of one attempt. */
interface Expected {
  reason: string;
  courier: string;
  day: string;
  messaged: boolean;
  replied: boolean;
  outcome: 'open' | 'delivered' | 'failed_again' | 'rto' | 'cancelled';
  nextReason: string | null;
  notHonoured: boolean;
}

const OUTCOME_OF = {
  delivered: 'delivered',
  rto_initiated: 'rto',
  cancelled: 'cancelled',
} as const;

function expectedOf(p: Planned): Expected {
  return {
    reason: p.reason,
    courier: p.courier,
    day: p.day,
    messaged: p.messaged,
    replied: p.reattempt,
    outcome: p.later === null ? 'open' : OUTCOME_OF[p.later],
    nextReason: null,
    notHonoured: false,
  };
}

function countsOf(rows: Expected[]): Counts {
  const n = (f: (e: Expected) => boolean) => rows.filter(f).length;
  const m = rows.filter((e) => e.messaged);
  const nm = rows.filter((e) => !e.messaged);
  return {
    attempts: rows.length,
    messaged: m.length,
    // Every message of the plan is sent, delivered and read (the sandbox reports all three).
    sent: m.length,
    delivered: m.length,
    read: m.length,
    replied: n((e) => e.messaged && e.replied),
    actioned: n((e) => e.messaged && e.replied),
    rescued: n((e) => e.messaged && e.outcome === 'delivered'),
    failedAgain: n((e) => e.messaged && e.outcome === 'failed_again'),
    failedAgainSameReason: n(
      (e) => e.messaged && e.outcome === 'failed_again' && e.nextReason === e.reason,
    ),
    rto: n((e) => e.messaged && e.outcome === 'rto'),
    cancelled: n((e) => e.messaged && e.outcome === 'cancelled'),
    open: n((e) => e.messaged && e.outcome === 'open'),
    notHonoured: n((e) => e.messaged && e.notHonoured),
    notMessaged: nm.length,
    notMessagedDelivered: nm.filter((e) => e.outcome === 'delivered').length,
  };
}

const ratio = (part: number, whole: number) =>
  whole === 0 ? null : Math.round((part / whole) * 10_000) / 10_000;

function expectedRow(key: string | null, rows: Expected[]): FunnelRow {
  const c = countsOf(rows);
  const rescueRate = ratio(c.rescued, c.messaged);
  const notMessagedRate = ratio(c.notMessagedDelivered, c.notMessaged);
  return {
    key,
    counts: c,
    rates: {
      sent: ratio(c.sent, c.messaged),
      delivered: ratio(c.delivered, c.sent),
      read: ratio(c.read, c.delivered),
      replied: ratio(c.replied, c.delivered),
      actioned: ratio(c.actioned, c.replied),
      rescueRate,
    },
    notMessaged: {
      attempts: c.notMessaged,
      delivered: c.notMessagedDelivered,
      rescueRate: notMessagedRate,
    },
    lift:
      rescueRate === null || notMessagedRate === null
        ? null
        : Math.round((rescueRate - notMessagedRate) * 10_000) / 10_000,
  };
}

function expectedGroups(rows: Expected[], by: 'reason' | 'courier' | 'day'): FunnelRow[] {
  const keys = [...new Set(rows.map((e) => e[by]))].sort();
  return keys.map((key) =>
    expectedRow(
      key,
      rows.filter((e) => e[by] === key),
    ),
  );
}

// ---------------------------------------------------------------------------------------------
// Driving it

async function push(event: unknown, messageId?: string): Promise<void> {
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
}

function outcome(shipmentId: string, attempt = 1) {
  return findAttemptOutcome(service.deps.db, shipmentId, attempt);
}

function sessionSendsTo(number: string) {
  return sandbox.sends.filter(
    (s) => s.to === number && s.outcome === 'success' && s.params.isTemplate !== 'true',
  );
}

/** The failure, its message (sent, delivered, read) and, when planned, the customer's reattempt. */
async function playFailure(p: Planned): Promise<void> {
  await push(
    fdrEvent({
      shipmentId: p.shipmentId,
      phone: p.phone,
      accountId: ACCOUNT,
      ndrCode: p.ndrCode,
      courier: p.courier,
      failedAt: `${p.day} 12:00:00`,
    }),
  );
  if (!p.messaged) {
    await waitFor(() => outcome(p.shipmentId), { what: `the outcome of ${p.shipmentId}` });
    return;
  }
  await waitFor(async () => (await outcome(p.shipmentId))?.readAt, {
    what: `READ of ${p.shipmentId}`,
  });
  if (p.reattempt) {
    await waitFor(async () => (await outboxOf(service.deps.db, p.shipmentId))?.status === 'sent');
    await sandbox.tap({ to: `91${p.phone}`, choice: 'Reattempt delivery' });
    await waitFor(async () => (await outcome(p.shipmentId))?.action === 'reattempt', {
      what: `the reattempt of ${p.shipmentId}`,
    });
  }
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
    delaysMs: { sent: 5, delivered: 10, read: 15 },
  });
  await saveAccountSettings(service.deps.db, ACCOUNT, {
    enabled: true,
    reasons: { address_issue: false },
    policy: { apologyOnNotHonoured: true },
  });
}, 30_000);

afterAll(async () => {
  await service?.close();
  await wms?.close();
  await sandbox?.close();
  await env.dropDatabase();
});

describe('a month of failed deliveries', () => {
  const planned = plan();
  const expected = planned.map(expectedOf);

  it('is played through the ingress, workers, sandbox and webhook', async () => {
    for (const p of planned) {
      await playFailure(p);
    }

    // One more, whose courier does not honour the date its customer chose.
    const nh: Planned = {
      shipmentId: 'ACC-NH',
      phone: '9811399999',
      day: '2026-11-11',
      courier: 'Bluedart',
      reason: 'customer_unavailable',
      ndrCode: 1,
      messaged: true,
      reattempt: false,
      later: null,
    };
    await playFailure(nh);
    const mobile = `91${nh.phone}`;
    await waitFor(async () => (await outboxOf(service.deps.db, nh.shipmentId))?.status === 'sent');
    await sandbox.tap({ to: mobile, choice: 'Reattempt delivery' });
    await waitFor(() => sessionSendsTo(mobile)[0], { what: 'the confirmation' });
    await sandbox.tap({ to: mobile, choice: 'Choose a date' });
    await waitFor(() => sessionSendsTo(mobile)[1], { what: 'the dates' });
    await sandbox.tap({ to: mobile, choice: 2 });
    const chosen = await waitFor(
      async () => {
        const row = await outcome(nh.shipmentId);
        return row?.action === 'reschedule' ? row : null;
      },
      { what: 'the chosen date' },
    );
    // The courier comes the day after the chosen one (outside the month), and fails again.
    const dayAfter = new Date(Date.parse(`${chosen.chosenDate!}T00:00:00Z`) + 86_400_000);
    const again = fdrEvent({
      shipmentId: nh.shipmentId,
      phone: nh.phone,
      attempt: 2,
      accountId: ACCOUNT,
      ndrCode: 1,
      courier: nh.courier,
      failedAt: `${dayAfter.toISOString().slice(0, 10)} 15:00:00`,
    });
    await push(again, 'nh-2');
    await push(again, 'nh-2-redelivered');
    await waitFor(async () => (await outcome(nh.shipmentId))?.notHonoured, { what: 'the flag' });
    expected.push({
      ...expectedOf(nh),
      replied: true,
      outcome: 'failed_again',
      nextReason: 'customer_unavailable',
      notHonoured: true,
    });

    // The later statuses, each sent twice (a redelivery), the day after the failure.
    for (const p of planned.filter((q) => q.later !== null)) {
      const next = new Date(Date.parse(`${p.day}T00:00:00Z`) + 86_400_000).toISOString();
      const event = statusEvent(p.shipmentId, p.later!, `${next.slice(0, 10)} 10:00:00`);
      await push(event, `${p.shipmentId}-later`);
      await push(event, `${p.shipmentId}-later-again`);
    }
    // A status of a shipment the service never decided on is taken in without a trace.
    await push(statusEvent('ACC-UNKNOWN', 'delivered', '2026-11-20 10:00:00'));
    for (const [i, p] of planned.entries()) {
      await waitFor(async () => (await outcome(p.shipmentId))?.outcome === expected[i]!.outcome, {
        what: `the outcome of ${p.shipmentId}`,
      });
    }
  }, 120_000);

  async function funnel(groupBy: string) {
    const res = await service.app!.inject({
      method: 'GET',
      url: `/v1/accounts/${ACCOUNT}/whatsapp-outcomes?from=2026-11-01&to=2026-11-30&groupBy=${groupBy}`,
      headers: { authorization: `Bearer ${API_TOKEN}` },
    });
    expect(res.statusCode).toBe(200);
    return res.json<{ total: FunnelRow; groups: FunnelRow[] }>();
  }

  it.each(['reason', 'courier', 'day'] as const)(
    'answers the expected counts and rates per %s',
    async (groupBy) => {
      const body = await funnel(groupBy);
      expect(body.groups).toEqual(expectedGroups(expected, groupBy));
      expect(body.total).toEqual(expectedRow(null, expected));
    },
  );

  it('compares the rescue rate with the attempts not messaged', async () => {
    const { total, groups } = await funnel('reason');
    // 20 attempts of the reason with WhatsApp off; of those, every fifth pattern's two
    // deliveries: the plan's numbers, spelled out.
    expect(total.notMessaged).toEqual({ attempts: 20, delivered: 8, rescueRate: 0.4 });
    expect(total.counts.messaged).toBe(41);
    expect(total.counts.rescued).toBe(16);
    expect(total.rates.rescueRate).toBe(0.3902);
    expect(total.lift).toBe(-0.0098);
    expect(groups.find((g) => g.key === 'address_issue')!.counts.messaged).toBe(0);
  });

  it('flags the courier that ignored the chosen date once, and apologises once', async () => {
    const { groups } = await funnel('courier');
    expect(groups.find((g) => g.key === 'Bluedart')!.counts.notHonoured).toBe(1);
    expect(groups.find((g) => g.key === 'Delhivery')!.counts.notHonoured).toBe(0);
    const entries = (await listShipmentActivity(service.deps.db, 'ACC-NH')).filter(
      (a) => a.kind === 'whatsapp_not_honoured',
    );
    expect(entries).toHaveLength(1);
    expect(entries[0]!.details).toMatchObject({ why: 'other_date', courier: 'Bluedart' });
    const apologies = (await service.deps.db.select().from(notificationOutbox)).filter((r) =>
      r.idempotencyKey.startsWith('apology-'),
    );
    expect(apologies.map((r) => r.idempotencyKey)).toEqual(['apology-ACC-NH-1']);
    await waitFor(
      () => sessionSendsTo('919811399999').some((s) => s.params.msg?.includes('We are sorry')),
      { what: 'the apology at Gupshup' },
    );
    const { values } = await service.deps.metrics.notHonoured.get();
    expect(values.find((v) => v.labels.courier === 'Bluedart')?.value).toBe(1);
    // Its second attempt's own message went out as well (it is outside the month).
    expect(sandbox.sends.some((s) => isSendOf(s, 'fdr-ACC-NH-2'))).toBe(true);
  });
});
