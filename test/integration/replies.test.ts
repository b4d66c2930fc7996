/**
 * Customer replies end to end: the seed's conversation (a button, then a date) becomes exactly
 * one WMS reschedule; an order no longer in failed delivery gets the standard reply and no action;
 * of two taps within the settle window only the last counts; media and free text are logged
 * only; a stranger's message is dropped and counted. Real Redis, MariaDB and emulator; the Gupshup
 * sandbox and a fake WMS over real HTTP.
 */
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { listShipmentActivity } from '../../src/db/activity.ts';
import {
  notificationOutbox,
  webhookEvents,
  whatsappConversations,
  whatsappReplies,
} from '../../src/db/schema.ts';
import { saveAccountSettings } from '../../src/db/settings.ts';
import { startService, type Service } from '../../src/service.ts';
import { startSandbox, type Sandbox } from '../../src/sandbox/server.ts';
import { createTestEnv, waitFor } from '../helpers/env.ts';
import { startFakeWms } from '../helpers/fake-wms.ts';
import { pushFdr } from '../helpers/push.ts';
import { fdrEvent, readFixture } from '../helpers/fixtures.ts';
import { isSendOf, outboxOf } from '../helpers/outbox.ts';

const WEBHOOK_TOKEN = 'test-webhook-token';
const env = createTestEnv('replies');
let sandbox: Sandbox;
let wms: Awaited<ReturnType<typeof startFakeWms>>;
let service: Service;

async function push(event: unknown) {
  await pushFdr(service, event);
}

/** The sandbox posts the customer's message to the service's webhook, as Gupshup would. */
async function webhook(body: Record<string, unknown>, as: 'json' | 'form' = 'json') {
  const record = await sandbox.simulateReply(body as Record<string, string>, as);
  expect(record.status).toBe(200);
}

/** Sends the FDR message for `shipmentId` to `phone` and waits until it is out. */
async function notify(shipmentId: string, phone: string, gupshupId?: string) {
  if (gupshupId) {
    sandbox.nextMessageIds(gupshupId);
  }
  await push(fdrEvent({ shipmentId, phone }));
  const send = await waitFor(
    () => sandbox.sends.find((s) => isSendOf(s, `fdr-${shipmentId}-1`) && s.outcome === 'success'),
    {
      what: `the FDR message for ${shipmentId}`,
    },
  );
  // The sandbox records a send as it answers; the conversation replies bind to is committed
  // just after. A customer cannot answer sooner, so neither does the test.
  await waitFor(async () => (await outboxOf(service.deps.db, shipmentId))?.status === 'sent', {
    what: `the FDR message for ${shipmentId} to be recorded as sent`,
  });
  return send;
}

/** Enterprise replies name our message by the first half of the id SendMessage returned. */
function replyIdOf(messageId: string | undefined): string {
  return messageId!.split('-')[0]!;
}

function button(mobile: string, text: string, replyId?: string) {
  return {
    mobile,
    type: 'button',
    button: JSON.stringify({ text }),
    timestamp: String(Date.now()),
    waNumber: '919319278973',
    name: 'Customer',
    ...(replyId ? { replyId, messageId: `${Math.floor(Math.random() * 1e15)}` } : {}),
  };
}

function sessionSendsTo(number: string) {
  return sandbox.sends.filter(
    (s) =>
      s.params.send_to === number && s.params.msg_type !== 'HSM' && s.params.isTemplate !== 'true',
  );
}

async function activityKinds(shipmentId: string) {
  return (await listShipmentActivity(service.deps.db, shipmentId)).map(
    (a) => `${a.kind}: ${a.title}`,
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
      REPLY_SETTLE_SECONDS: '1',
      PUBLIC_BASE_URL: 'https://wa.example.test',
    }),
    ['api', 'worker'],
  );
  // Delivery reports and replies reach the service over real HTTP, token in the URL.
  sandbox.setCallback({
    url: `${service.url}/api/_ah/v1/message?token=${WEBHOOK_TOKEN}`,
    delaysMs: { sent: 20, delivered: 40, read: 60 },
  });
  await saveAccountSettings(service.deps.db, 379, { enabled: true });
});

afterAll(async () => {
  await service?.close();
  await wms?.close();
  await sandbox?.close();
  await env.dropDatabase();
});

describe('customer replies', () => {
  it("plays the seed's conversation: date choices, then exactly one RESCHEDULE for 10 June 2023", async () => {
    const shipment = '4980116095129-90758';
    await notify(shipment, '9650186697', '4921687316728868875');

    await webhook(readFixture('gupshup-inbound-button.json'), 'form');
    const choice = await waitFor(() => sessionSendsTo('919650186697')[0], {
      what: 'the date-choice message',
    });
    // A native list: one row per date, relative to the day the customer tapped (8 June 2023).
    expect(choice.params.interactive_type).toBe('list');
    const rows = (
      JSON.parse(choice.params.action!) as { sections: Array<{ rows: Array<{ title: string }> }> }
    ).sections[0]!.rows.map((r) => r.title);
    expect(rows).toEqual(['Fri, 9 June 2023', 'Sat, 10 June 2023', 'Sun, 11 June 2023']);

    await webhook(readFixture('gupshup-inbound-interactive-date.json'));
    await waitFor(() => wms.notifications.length === 1, { what: 'the ndrNotification' });
    await waitFor(() => sessionSendsTo('919650186697').length === 2, { what: 'the confirmation' });
    expect(wms.notifications[0]!.body).toMatchObject({
      shipmentId: shipment,
      accountId: 379,
      action: 'RESCHEDULE',
      deliveryDate: '2023-06-10',
      source: 'whatsapp',
    });
    expect(sessionSendsTo('919650186697')[1]!.params.msg).toContain('rescheduled to 10 June 2023');

    const timeline = await waitFor(async () => {
      const t = await activityKinds(shipment);
      return t.includes('whatsapp_action: Delivery rescheduled to 10 June 2023') ? t : null;
    });
    expect(timeline).toContain('whatsapp_reply: Customer replied: Select new delivery date');
    expect(timeline).toContain('whatsapp_reply: Customer replied: 10 June 2023');
    expect(timeline).toContain('whatsapp_action: Delivery rescheduled to 10 June 2023');
    expect(wms.notifications).toHaveLength(1);
  });

  it('sends the standard reply and takes no action when the order is no longer in failed delivery', async () => {
    const shipment = 'DELIVERED-1';
    const { messageId: sent } = await notify(shipment, '9811100001');
    wms.setStatus(shipment, 'delivered');
    await webhook(button('919811100001', 'Reattempt delivery', replyIdOf(sent)));
    const standard = await waitFor(() => sessionSendsTo('919811100001')[0], {
      what: 'the standard reply',
    });
    expect(standard.params.msg).toContain('delivered');
    expect(wms.notifications.filter((n) => n.body.shipmentId === shipment)).toHaveLength(0);
    await waitFor(async () =>
      (await activityKinds(shipment)).some((t) =>
        t.startsWith('whatsapp_no_action: No action taken: the order is delivered'),
      ),
    );
  });

  it('acts only on the last of two taps within the settle window', async () => {
    const shipment = 'TWO-TAPS-1';
    const { messageId: sent } = await notify(shipment, '9811100002');
    await webhook(button('919811100002', 'Reattempt delivery', replyIdOf(sent)));
    await webhook(button('919811100002', 'Cancel my order', replyIdOf(sent)));
    await waitFor(() => wms.notifications.some((n) => n.body.shipmentId === shipment), {
      what: 'one action',
    });
    const replies = await waitFor(async () => {
      const rows = await service.deps.db
        .select()
        .from(whatsappReplies)
        .where(eq(whatsappReplies.shipmentId, shipment));
      return rows.every((r) => r.state !== 'pending') ? rows : null;
    });
    expect(replies.map((r) => r.state).sort()).toEqual(['acted', 'superseded']);
    const actions = wms.notifications.filter((n) => n.body.shipmentId === shipment);
    expect(actions).toHaveLength(1);
    expect(actions[0]!.body.action).toBe('CANCEL');
  });

  it('sends the tracked portal link for an address update, and takes a concern from the next text', async () => {
    const shipment = 'LINK-1';
    const { messageId: sent } = await notify(shipment, '9811100003');
    await webhook(button('919811100003', 'Update my address', replyIdOf(sent)));
    const link = await waitFor(() => sessionSendsTo('919811100003')[0], {
      what: 'the portal link',
    });
    expect(link.params.msg).toContain(`https://wa.example.test/trackShipment/WhatsApp/${shipment}`);

    await webhook(button('919811100003', 'Raise a concern', replyIdOf(sent)));
    const prompt = await waitFor(() => sessionSendsTo('919811100003')[1], {
      what: 'the concern prompt',
    });
    expect(prompt.params.msg).toContain('tell us your concern');
    await webhook({
      mobile: '919811100003',
      type: 'text',
      text: 'The delivery agent never called me',
      waNumber: '919319278973',
      timestamp: String(Date.now()),
      messageId: 'concern-1',
    });
    const concern = await waitFor(
      () => wms.notifications.find((n) => n.body.shipmentId === shipment),
      {
        what: 'the RAISE_CONCERN notification',
      },
    );
    expect(concern.body).toMatchObject({
      action: 'RAISE_CONCERN',
      remarks: 'The delivery agent never called me',
    });
    await waitFor(
      async () => (await activityKinds(shipment)).includes('whatsapp_action: Concern raised'),
      {
        what: 'the concern on the timeline',
      },
    );
  });

  it('books a reattempt for the Reattempt delivery button', async () => {
    const shipment = 'REATTEMPT-1';
    const { messageId: sent } = await notify(shipment, '9811100004');
    await webhook(button('919811100004', 'Reattempt delivery', replyIdOf(sent)));
    const booked = await waitFor(() =>
      wms.notifications.find((n) => n.body.shipmentId === shipment),
    );
    expect(booked.body.action).toBe('REATTEMPT');
    const confirmation = await waitFor(() => sessionSendsTo('919811100004')[0]);
    expect(confirmation.params.msg).toContain('attempt the delivery again');
  });

  it('binds a reply without a reference to the newest FDR message when the shipment fails again', async () => {
    const shipment = 'AGAIN-1';
    await notify(shipment, '9811100005');
    await push(fdrEvent({ shipmentId: shipment, phone: '9811100005', attempt: 2 }));
    await waitFor(() =>
      sandbox.sends.find((s) => isSendOf(s, `fdr-${shipment}-2`) && s.outcome === 'success'),
    );
    const [second] = await service.deps.db
      .select()
      .from(notificationOutbox)
      .where(eq(notificationOutbox.idempotencyKey, `fdr-${shipment}-2`));
    await waitFor(async () => {
      const [c] = await service.deps.db
        .select()
        .from(whatsappConversations)
        .where(eq(whatsappConversations.outboxId, second!.id));
      return c;
    });
    await webhook({
      mobile: '919811100005',
      type: 'text',
      text: 'which one is this about?',
      waNumber: '919319278973',
      timestamp: String(Date.now()),
      messageId: 'again-1',
    });
    const reply = await waitFor(async () => {
      const [r] = await service.deps.db
        .select()
        .from(whatsappReplies)
        .where(eq(whatsappReplies.shipmentId, shipment));
      return r;
    });
    const [conversation] = await service.deps.db
      .select()
      .from(whatsappConversations)
      .where(eq(whatsappConversations.id, reply.conversationId));
    expect(conversation!.outboxId).toBe(second!.id);
  });

  it('logs image, document, location and text replies on the timeline without acting', async () => {
    const shipment = 'MEDIA-1';
    await notify(shipment, '9650186697');
    const before = wms.notifications.length;
    for (const name of [
      'gupshup-inbound-image.json',
      'gupshup-inbound-document.json',
      'gupshup-inbound-location.json',
    ]) {
      await webhook(readFixture(name));
    }
    await webhook({
      mobile: '919650186697',
      type: 'text',
      text: 'Please call me after 6pm',
      waNumber: '919319278973',
      timestamp: String(Date.now()),
      messageId: 'txt-1',
    });
    const timeline = await waitFor(async () => {
      const t = await activityKinds(shipment);
      return t.filter((e) => e.startsWith('whatsapp_reply')).length === 4 ? t : null;
    });
    expect(timeline).toEqual(
      expect.arrayContaining([
        'whatsapp_reply: Customer replied: an image',
        'whatsapp_reply: Customer replied: a document (cancelled_status)',
        'whatsapp_reply: Customer replied: a location',
        'whatsapp_reply: Customer replied: Please call me after 6pm',
      ]),
    );
    const replies = await service.deps.db
      .select()
      .from(whatsappReplies)
      .where(eq(whatsappReplies.shipmentId, shipment));
    expect(replies.map((r) => r.state)).toEqual(['logged', 'logged', 'logged', 'logged']);
    expect(wms.notifications.length).toBe(before);
  });

  it('takes a reply with an absurd timestamp, dated when it arrived, and fails no job', async () => {
    const shipment = 'ABSURD-TS-1';
    await notify(shipment, '9811100077');
    const before = Date.now();
    await webhook({
      mobile: '919811100077',
      type: 'text',
      text: 'Please call me',
      waNumber: '919319278973',
      timestamp: '100000000000000000000',
      messageId: 'absurd-ts-1',
    });
    const reply = await waitFor(async () => {
      const [r] = await service.deps.db
        .select()
        .from(whatsappReplies)
        .where(eq(whatsappReplies.shipmentId, shipment));
      return r?.state === 'logged' ? r : null;
    });
    expect(reply.receivedAt.getTime()).toBeGreaterThanOrEqual(before - 1_000);
    expect(reply.receivedAt.getTime()).toBeLessThanOrEqual(Date.now());
    // The reply row is stored before its timeline entry: wait for the entry.
    await waitFor(
      async () =>
        (await activityKinds(shipment)).includes(
          'whatsapp_reply: Customer replied: Please call me',
        ),
      { what: 'the reply on the timeline' },
    );
    expect(await service.deps.queues['reply.route'].getFailedCount()).toBe(0);
  });

  it('drops a message from a number never written to, storing nothing personal, and counts it', async () => {
    await webhook({
      mobile: '919000000009',
      type: 'text',
      text: 'hello?',
      waNumber: '919319278973',
      timestamp: String(Date.now()),
      messageId: 'stranger-1',
    });
    // This message's row (a delivery report of another test may be ignored too, under load).
    const row = await waitFor(async () => {
      const [r] = await service.deps.db
        .select()
        .from(webhookEvents)
        .where(eq(webhookEvents.eventKey, 'in|stranger-1'));
      return r?.status === 'ignored' ? r : null;
    });
    expect(row.payload).not.toContain('919000000009');
    expect(row.payload).not.toContain('hello?');
    const metrics = await (await fetch(`${service.url}/metrics`)).text();
    expect(metrics).toMatch(/^whatsapp_inbound_unknown_sender_total 1$/m);
  });
});
