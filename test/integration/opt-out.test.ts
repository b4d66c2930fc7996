/**
 * Opt-out, opt-in and the 24-hour window, end to end (issue 11, points 1 and 4): "STOP" gets one
 * confirmation however often its callback comes, suppresses the number for our sender and is no
 * reply intent; the next FDR is not sent and the timeline says `opted_out`; "START" (or writing
 * again) lifts it; a v2 `opted-out` user-event suppresses too; a follow-up due after the window
 * closed is not sent and the timeline says `window_closed`. Also the suppression API (admin and
 * account tokens, 4xx for a bad number and another account's token) and the settings page's
 * count. Real Redis, MariaDB and emulator; the Gupshup sandbox and a fake WMS over real HTTP.
 */
import { and, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { listShipmentActivity } from '../../src/db/activity.ts';
import { createApiToken } from '../../src/db/api-tokens.ts';
import { findNoReplyCheck } from '../../src/db/no-reply-checks.ts';
import { insertOutbox } from '../../src/db/outbox.ts';
import {
  notificationOutbox,
  whatsappConversations,
  whatsappCustomerWindows,
  whatsappTemplates,
} from '../../src/db/schema.ts';
import { saveAccountSettings } from '../../src/db/settings.ts';
import { findSuppression, liftSuppressionSetBefore, suppress } from '../../src/db/suppressions.ts';
import { enqueue } from '../../src/queues/index.ts';
import { textReply } from '../../src/sandbox/replies.ts';
import { startSandbox, type RecordedSend, type Sandbox } from '../../src/sandbox/server.ts';
import { startService, type Service } from '../../src/service.ts';
import { API_TOKEN, createTestEnv, waitFor } from '../helpers/env.ts';
import { startFakeWms } from '../helpers/fake-wms.ts';
import { fdrEvent, readFixture } from '../helpers/fixtures.ts';
import { isSendOf, keyOfSend } from '../helpers/outbox.ts';
import { parsePrometheus } from '../helpers/prometheus.ts';
import { pushFdr } from '../helpers/push.ts';

const WEBHOOK_TOKEN = 'test-webhook-token';
/** The platform app's number (GUPSHUP_DEFAULT_WA_NUMBER in the test environment). */
const SENDER = '919319278973';
const OWN = 379;
const OTHER = 501;
/** An account confirming opt-outs with the seed's `opt_out_message` template. */
const WITH_TEMPLATE = 380;
const OPT_OUT_TEMPLATE = '8f361040-b8e9-4fd6-84d0-394c347580ba';
const env = createTestEnv('optout');
let sandbox: Sandbox;
let wms: Awaited<ReturnType<typeof startFakeWms>>;
let service: Service;
let ownToken: string;
let otherToken: string;

/** Sends the FDR message of `shipmentId` (attempt 1) and waits until it is recorded as sent. */
async function notify(
  shipmentId: string,
  phone: string,
  opts: { accountId?: number; gupshupId?: string } = {},
) {
  if (opts.gupshupId) {
    sandbox.nextMessageIds(opts.gupshupId);
  }
  await pushFdr(service, fdrEvent({ shipmentId, phone, accountId: opts.accountId }));
  await waitFor(async () => (await outboxRows(`fdr-${shipmentId}-1`))[0]?.status === 'sent', {
    what: `the FDR message for ${shipmentId}`,
  });
}

async function outboxRows(idempotencyKey: string) {
  return service.deps.db
    .select()
    .from(notificationOutbox)
    .where(eq(notificationOutbox.idempotencyKey, idempotencyKey));
}

function confirmationsTo(number: string): RecordedSend[] {
  return sandbox.sends.filter(
    (s) =>
      s.params.send_to === number &&
      keyOfSend(s).endsWith('-opt_out_confirmation') &&
      s.outcome === 'success',
  );
}

async function post(body: Record<string, string>, as: 'form' | 'json' = 'form') {
  const record = await sandbox.simulateReply(body, as);
  expect(record.status).toBe(200);
}

async function postV2(body: unknown) {
  const res = await service.app!.inject({
    method: 'POST',
    url: `/api/_ah/v1/message?token=${WEBHOOK_TOKEN}`,
    headers: { 'content-type': 'application/json' },
    payload: JSON.stringify(body),
  });
  expect(res.statusCode).toBe(200);
}

async function entries(shipmentId: string) {
  return listShipmentActivity(service.deps.db, shipmentId);
}

async function entry(shipmentId: string, kind: string, what = `${kind} of ${shipmentId}`) {
  return waitFor(async () => (await entries(shipmentId)).find((e) => e.kind === kind), { what });
}

function suppressionOf(customer: string) {
  return findSuppression(service.deps.db, SENDER, customer);
}

async function metric(name: string, labels: Record<string, string>): Promise<number> {
  const res = await service.app!.inject({ url: '/metrics' });
  return parsePrometheus(res.body).value(name, labels);
}

function api(
  method: 'GET' | 'POST' | 'DELETE',
  url: string,
  token: string,
  payload?: Record<string, unknown>,
) {
  return service.app!.inject({
    method,
    url,
    headers: {
      authorization: `Bearer ${token}`,
      ...(payload ? { 'content-type': 'application/json' } : {}),
    },
    ...(payload ? { payload: JSON.stringify(payload) } : {}),
  });
}

beforeAll(async () => {
  sandbox = await startSandbox({ port: 0, host: '127.0.0.1' });
  wms = await startFakeWms();
  service = await startService(
    env.config({
      GUPSHUP_ENTERPRISE_URL: sandbox.url,
      WMS_API_URL: wms.url,
      WEBHOOK_TOKEN,
      // Long enough for a test to close the window between a tap and its follow-up.
      REPLY_SETTLE_SECONDS: '2',
      PUBLIC_BASE_URL: 'https://wa.example.test',
    }),
    ['api', 'worker'],
  );
  sandbox.setCallback({
    url: `${service.url}/api/_ah/v1/message?token=${WEBHOOK_TOKEN}`,
    delaysMs: { sent: 20, delivered: 40, read: -1 },
  });
  const { db } = service.deps;
  await saveAccountSettings(db, OWN, { enabled: true });
  await saveAccountSettings(db, WITH_TEMPLATE, {
    enabled: true,
    policy: { optOutTemplateId: OPT_OUT_TEMPLATE },
  });
  // The seed's opt-out template, as verifying it with Gupshup would have stored it.
  await db.insert(whatsappTemplates).values({
    id: OPT_OUT_TEMPLATE,
    name: 'opt_out_message',
    body: 'You will no longer receive messages',
    buttons: '[]',
    category: 'MARKETING',
  });
  ownToken = (await createApiToken(db, OWN, 'opt-out test')).token;
  otherToken = (await createApiToken(db, OTHER, 'another account')).token;
});

afterAll(async () => {
  await service?.close();
  await wms?.close();
  await sandbox?.close();
  await env.dropDatabase();
});

describe('opt-out and opt-in', () => {
  const mobile = '919811300001';
  const shipment = 'OPT-1';

  it('confirms a STOP exactly once (its callback posted twice), suppresses the number and asks the WMS for nothing', async () => {
    await notify(shipment, mobile.slice(2));
    const stop = textReply({ mobile, waNumber: SENDER, text: 'STOP', messageId: 'opt-stop-1' });
    await post(stop);
    await post(stop);

    const confirmation = await waitFor(() => confirmationsTo(mobile)[0], {
      what: 'the opt-out confirmation',
    });
    expect(confirmation.params).toMatchObject({
      msg: 'You will no longer receive WhatsApp messages from us. To get them again, reply START.',
    });
    expect(confirmation.params.msg_type).not.toBe('HSM');
    await entry(shipment, 'whatsapp_follow_up', 'the confirmation on the timeline');
    // The second post was the same event: one row, one confirmation, whatever the timing.
    const rows = await service.deps.db
      .select()
      .from(notificationOutbox)
      .where(
        and(
          eq(notificationOutbox.shipmentId, shipment),
          eq(notificationOutbox.reason, 'opt_out_confirmation'),
        ),
      );
    expect(rows).toHaveLength(1);
    expect(confirmationsTo(mobile)).toHaveLength(1);

    expect(await suppressionOf(mobile)).toMatchObject({
      reason: 'opted_out',
      source: 'keyword',
      accountId: OWN,
    });
    const timeline = await entries(shipment);
    expect(timeline.find((e) => e.kind === 'whatsapp_reply')).toMatchObject({
      title: 'Customer replied: STOP',
      details: { intent: 'opt_out', action: 'none' },
    });
    expect(timeline.find((e) => e.kind === 'whatsapp_opted_out')?.title).toContain(
      'Customer opted out of WhatsApp messages',
    );
    // Not a reply intent: nothing asked of the WMS, nothing scheduled.
    expect(wms.notifications.filter((n) => n.body.shipmentId === shipment)).toHaveLength(0);
    expect(timeline.some((e) => e.kind === 'whatsapp_action')).toBe(false);
    // But an answer all the same: no reminder will follow.
    const [template] = await outboxRows(`fdr-${shipment}-1`);
    expect(await findNoReplyCheck(service.deps.db, template!.id)).toMatchObject({
      status: 'cancelled',
      outcome: 'replied',
    });
  });

  it('does not send the next FDR to the number, and says opted_out on the timeline', async () => {
    const before = await metric('whatsapp_not_sent_total', { reason: 'opted_out' });
    await pushFdr(service, fdrEvent({ shipmentId: shipment, phone: mobile.slice(2), attempt: 2 }));
    const skipped = await entry(shipment, 'whatsapp_not_sent');
    expect(skipped.details).toMatchObject({ code: 'opted_out', attempt: 2 });
    expect(skipped.title).toBe(
      'WhatsApp notification not sent: the customer opted out of WhatsApp messages from this number',
    );
    expect(sandbox.sends.filter((s) => isSendOf(s, `fdr-${shipment}-2`))).toHaveLength(0);
    // Counted once the entry is written: wait for the count as well.
    await waitFor(
      async () => (await metric('whatsapp_not_sent_total', { reason: 'opted_out' })) === before + 1,
      { what: 'whatsapp_not_sent_total{reason="opted_out"} to count it' },
    );
  });

  it('lifts the opt-out on START: the next FDR is sent', async () => {
    await post(textReply({ mobile, waNumber: SENDER, text: ' start ', messageId: 'opt-start-1' }));
    await waitFor(async () => (await suppressionOf(mobile)) === null, {
      what: 'the opt-out lifted',
    });
    await entry(shipment, 'whatsapp_opted_in');
    expect(confirmationsTo(mobile)).toHaveLength(1);

    await pushFdr(service, fdrEvent({ shipmentId: shipment, phone: mobile.slice(2), attempt: 3 }));
    await waitFor(
      () => sandbox.sends.find((s) => isSendOf(s, `fdr-${shipment}-3`) && s.outcome === 'success'),
      { what: 'the third FDR message' },
    );
  });

  it("lifts an opt-out when the customer writes again, and confirms with the account's template", async () => {
    const number = '919811300002';
    const ship = 'OPT-TEMPLATE-1';
    await notify(ship, number.slice(2), { accountId: WITH_TEMPLATE });
    // Case, inner spaces and another of the default keywords.
    await post(
      textReply({ mobile: number, waNumber: SENDER, text: 'stop   all', messageId: 'opt-stop-2' }),
    );
    const confirmation = await waitFor(() => confirmationsTo(number)[0], {
      what: 'the template confirmation',
    });
    expect(confirmation.params).toMatchObject({
      msg_type: 'HSM',
      msg: 'You will no longer receive messages',
    });
    expect(await suppressionOf(number)).toMatchObject({
      reason: 'opted_out',
      accountId: WITH_TEMPLATE,
    });

    await post(
      textReply({
        mobile: number,
        waNumber: SENDER,
        text: 'Hello, when is my order coming?',
        messageId: 'opt-hello-2',
      }),
    );
    await waitFor(async () => (await suppressionOf(number)) === null, {
      what: 'the opt-out lifted',
    });
    const lifted = await entry(ship, 'whatsapp_opted_in');
    expect(lifted.details).toMatchObject({ source: 'message' });
  });

  it('takes a Devanagari keyword, and a keyword after the conversation is closed', async () => {
    const number = '919811300003';
    const ship = 'OPT-HINDI-1';
    await notify(ship, number.slice(2));
    // The conversation closed (the order left failed delivery): a keyword still binds to it.
    await service.deps.db
      .update(whatsappConversations)
      .set({ closedAt: new Date() })
      .where(eq(whatsappConversations.shipmentId, ship));
    await post(
      textReply({ mobile: number, waNumber: SENDER, text: 'बंद', messageId: 'opt-band-3' }),
    );
    await waitFor(async () => (await suppressionOf(number))?.reason === 'opted_out', {
      what: 'the Devanagari opt-out',
    });
    await waitFor(() => confirmationsTo(number).length === 1, { what: 'its confirmation' });
  });

  it('suppresses on a v2 opted-out user-event, and lifts on opted-in', async () => {
    const number = '919811300004';
    const ship = 'OPT-V2-1';
    await notify(ship, number.slice(2));
    const userEvent = (type: string, timestamp: number) => ({
      app: 'ShopCoNDR',
      timestamp,
      version: 2,
      type: 'user-event',
      payload: { phone: number, type },
    });
    await postV2(userEvent('opted-out', Date.now()));
    await waitFor(async () => (await suppressionOf(number))?.source === 'user_event', {
      what: 'the opt-out from the user-event',
    });
    expect((await entry(ship, 'whatsapp_opted_out')).details).toMatchObject({
      source: 'user_event',
    });
    // WhatsApp confirmed it to the customer itself: nothing sent.
    expect(confirmationsTo(number)).toHaveLength(0);

    await pushFdr(service, fdrEvent({ shipmentId: ship, phone: number.slice(2), attempt: 2 }));
    expect((await entry(ship, 'whatsapp_not_sent')).details).toMatchObject({ code: 'opted_out' });

    await postV2(userEvent('opted-in', Date.now() + 1_000));
    await waitFor(async () => (await suppressionOf(number)) === null, { what: 'the opt-in' });
  });

  it('does not send a message queued before the number opted out: the send finishes it as not sent', async () => {
    const { db } = service.deps;
    const number = '919811300006';
    // Validated and queued while the number could still be messaged...
    const { id } = await insertOutbox(db, {
      idempotencyKey: 'fdr-OPT-LATE-1-1',
      kind: 'fdr_template',
      shipmentId: 'OPT-LATE-1',
      accountId: OWN,
      reason: 'customer_unreachable',
      connectionId: 'default',
      templateId: null,
      toNumber: number,
      body: 'Your order could not be delivered',
    });
    // ...then opted out before its send ran.
    await suppress(db, {
      senderNumber: SENDER,
      customerNumber: number,
      reason: 'opted_out',
      source: 'keyword',
    });
    await enqueue(service.deps.queues, 'message.send', { outboxId: id });
    await waitFor(async () => (await outboxRows('fdr-OPT-LATE-1-1'))[0]?.status === 'failed', {
      what: 'the message finished as not sent',
    });
    expect((await outboxRows('fdr-OPT-LATE-1-1'))[0]).toMatchObject({
      errorCode: 'opted_out',
      attempts: 0,
    });
    expect((await entry('OPT-LATE-1', 'whatsapp_not_sent')).details).toMatchObject({
      code: 'opted_out',
    });
    expect(sandbox.sends.filter((s) => s.params.send_to === number)).toHaveLength(0);
  });

  it('does not send to a number that is not on WhatsApp, and says so', async () => {
    const number = '919811300005';
    const res = await api('POST', `/v1/accounts/${OWN}/whatsapp-suppressions`, API_TOKEN, {
      customerNumber: number,
      reason: 'not_on_whatsapp',
      expiresAt: new Date(Date.now() + 86_400_000).toISOString(),
    });
    expect(res.statusCode).toBe(201);
    await pushFdr(service, fdrEvent({ shipmentId: 'OPT-NOWA-1', phone: number.slice(2) }));
    const skipped = await entry('OPT-NOWA-1', 'whatsapp_not_sent');
    expect(skipped.details).toMatchObject({ code: 'not_on_whatsapp' });
  });
});

describe('the order of an opt-out and what lifts it', () => {
  it('is the order the service received them in; a late renewal does not move it back', async () => {
    const { db } = service.deps;
    const customer = '919811300030';
    const t = Date.parse('2026-11-01T10:00:00.000Z');
    const at = (seconds: number) => new Date(t + seconds * 1_000);
    const input = {
      senderNumber: SENDER,
      customerNumber: customer,
      reason: 'opted_out',
      source: 'keyword',
      accountId: OWN,
    } as const;
    await suppress(db, { ...input, at: at(10) });
    // A repeat of an older opt-out, processed late: the opt-out still dates from 10 s.
    expect(await suppress(db, { ...input, at: at(5) })).toBe(false);
    // A message received before the opt-out lifts nothing, however late it is processed.
    expect(await liftSuppressionSetBefore(db, SENDER, customer, 'opted_out', at(8))).toBe(false);
    expect(await suppressionOf(customer)).not.toBeNull();
    expect(await liftSuppressionSetBefore(db, SENDER, customer, 'opted_out', at(11))).toBe(true);
    expect(await suppressionOf(customer)).toBeNull();
  });
});

describe('the 24-hour window', () => {
  it('does not send a follow-up due after the window closed, and the timeline says so', async () => {
    // The seed's own conversation: the template, then the customer taps "Select new delivery
    // date" (test/fixtures/gupshup-inbound-button.json, as it is).
    const shipment = '4980116095129-90758';
    const mobile = '919650186697';
    await notify(shipment, '9650186697', { gupshupId: '4921687316728868875' });
    await post(readFixture<Record<string, string>>('gupshup-inbound-button.json'));

    // The tap opened the window; the date list is due after the settle window. Close the window
    // before then, as if the follow-up were due 25 hours after the customer last wrote.
    const window = and(
      eq(whatsappCustomerWindows.senderNumber, SENDER),
      eq(whatsappCustomerWindows.customerNumber, mobile),
    );
    await waitFor(
      async () =>
        (await service.deps.db.select().from(whatsappCustomerWindows).where(window)).length === 1,
      { what: 'the window opened by the tap' },
    );
    await service.deps.db
      .update(whatsappCustomerWindows)
      .set({ lastInboundAt: new Date(Date.now() - 25 * 3_600_000) })
      .where(window);

    const notSent = await entry(shipment, 'whatsapp_not_sent', 'the follow-up not sent');
    expect(notSent.details).toMatchObject({ code: 'window_closed', purpose: 'date_choices' });
    expect(notSent.title).toMatch(
      /^WhatsApp follow-up \(delivery date choices\) not sent: the customer last wrote 25 hours ago/,
    );
    expect(
      sandbox.sends.filter((s) => s.params.send_to === mobile && s.params.msg_type !== 'HSM'),
    ).toHaveLength(0);
    const [row] = await service.deps.db
      .select()
      .from(notificationOutbox)
      .where(
        and(
          eq(notificationOutbox.shipmentId, shipment),
          eq(notificationOutbox.reason, 'date_choices'),
        ),
      );
    expect(row).toMatchObject({ status: 'failed', errorCode: 'window_closed', attempts: 0 });
    await waitFor(
      async () => (await metric('whatsapp_not_sent_total', { reason: 'window_closed' })) === 1,
      { what: 'whatsapp_not_sent_total{reason="window_closed"} to count it' },
    );
  });
});

describe('the suppression API', () => {
  const base = `/v1/accounts/${OWN}/whatsapp-suppressions`;

  it('adds, lists and removes with the account token and the admin token', async () => {
    const added = await api('POST', base, ownToken, { customerNumber: '+91 98113 00009' });
    expect(added.statusCode).toBe(201);
    expect(added.json()).toMatchObject({
      customerNumber: '919811300009',
      senderNumber: SENDER,
      reason: 'opted_out',
      source: 'api',
      accountId: OWN,
      expiresAt: null,
    });
    expect((await api('POST', base, API_TOKEN, { customerNumber: '9811300009' })).statusCode).toBe(
      200,
    );

    const listed = await api('GET', `${base}?reason=opted_out`, ownToken);
    expect(listed.statusCode).toBe(200);
    const body = listed.json<{ total: number; suppressions: Array<{ customerNumber: string }> }>();
    expect(body.suppressions.map((s) => s.customerNumber)).toContain('919811300009');
    expect(body.total).toBe(body.suppressions.length);

    expect((await api('DELETE', `${base}/919811300009`, ownToken)).json()).toEqual({
      accountId: OWN,
      removed: 1,
    });
    expect((await api('DELETE', `${base}/919811300009`, API_TOKEN)).statusCode).toBe(404);
    expect(await suppressionOf('919811300009')).toBeNull();
  });

  it('refuses a bad number with 400 and the reason', async () => {
    for (const customerNumber of ['12345', 'not-a-number', '']) {
      const res = await api('POST', base, ownToken, { customerNumber });
      expect(res.statusCode, customerNumber).toBe(400);
      expect(res.json()).toMatchObject({ code: 'ERR_VALIDATION' });
      expect(res.json<{ message: string }>().message).toContain('customerNumber');
    }
    expect(
      (await api('POST', base, ownToken, { customerNumber: '9811300010', reason: 'bored' }))
        .statusCode,
    ).toBe(400);
    expect((await api('DELETE', `${base}/abc`, ownToken)).statusCode).toBe(400);
    expect((await api('GET', `${base}?limit=0`, ownToken)).statusCode).toBe(400);
  });

  it("answers another account's token with 404, and changes nothing", async () => {
    await api('POST', base, ownToken, { customerNumber: '919811300011' });
    for (const res of [
      await api('GET', base, otherToken),
      await api('POST', base, otherToken, { customerNumber: '919811300012' }),
      await api('DELETE', `${base}/919811300011`, otherToken),
    ]) {
      expect(res.statusCode).toBe(404);
    }
    expect(await suppressionOf('919811300011')).not.toBeNull();
    expect(await suppressionOf('919811300012')).toBeNull();
  });

  it("shows the account's suppression count on the settings page", async () => {
    const total = (await api('GET', base, API_TOKEN)).json<{ total: number }>().total;
    expect(total).toBeGreaterThan(0);
    const page = await service.app!.inject({
      url: `/settings/${OWN}`,
      headers: { authorization: `Bearer ${API_TOKEN}` },
    });
    expect(page.statusCode).toBe(200);
    expect(page.body).toMatch(
      new RegExp(`Suppressed numbers \\(opted out or not on WhatsApp\\):\\s*${total}\\b`),
    );
  });
});
