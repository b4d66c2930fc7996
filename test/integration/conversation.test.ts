/**
 * The conversation as the customer sees it, end to end: the FDR template, the tap on "Select new
 * delivery date", a native WhatsApp list of dates whose rows carry signed postbacks, the row
 * tapped, exactly one RESCHEDULE through the WMS, and a confirmation with reply buttons. Also: a
 * tampered postback is never acted on and says so; an account whose gateway refuses interactive
 * messages gets numbered text (remembered, counted, on the timeline) and "2" still reschedules.
 * Real Redis, MariaDB and emulator; the Gupshup sandbox and a fake WMS over real HTTP.
 */
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { listShipmentActivity } from '../../src/db/activity.ts';
import { whatsappConnectionFeatures } from '../../src/db/schema.ts';
import { saveAccountSettings } from '../../src/db/settings.ts';
import { readPostback, postbackKeys } from '../../src/replies/postback.ts';
import { buttonReply, interactiveReply, textReply } from '../../src/sandbox/replies.ts';
import { startSandbox, type RecordedSend, type Sandbox } from '../../src/sandbox/server.ts';
import { startService, type Service } from '../../src/service.ts';
import { createTestEnv, waitFor } from '../helpers/env.ts';
import { startFakeWms } from '../helpers/fake-wms.ts';
import { fdrEvent } from '../helpers/fixtures.ts';
import { isSendOf } from '../helpers/outbox.ts';
import { pushFdr } from '../helpers/push.ts';

const WEBHOOK_TOKEN = 'test-webhook-token';
const WA_NUMBER = '919319278973';
const env = createTestEnv('conversation');
let sandbox: Sandbox;
let wms: Awaited<ReturnType<typeof startFakeWms>>;
let service: Service;

interface ListAction {
  button: string;
  sections: Array<{ title: string; rows: Array<{ id: string; title: string }> }>;
}
interface ButtonsAction {
  buttons: Array<{ type: 'reply'; reply: { id: string; title: string } }>;
}

/** The session messages (not the template) sent to `number`, oldest first. */
function sessionSendsTo(number: string): RecordedSend[] {
  return sandbox.sends.filter(
    (s) => s.params.send_to === number && s.params.isTemplate !== 'true' && s.outcome === 'success',
  );
}

async function notify(shipmentId: string, phone: string) {
  await pushFdr(service, fdrEvent({ shipmentId, phone }));
  const template = await waitFor(
    () => sandbox.sends.find((s) => isSendOf(s, `fdr-${shipmentId}-1`) && s.outcome === 'success'),
    { what: `the FDR message for ${shipmentId}` },
  );
  return template.messageId!.split('-')[0]!;
}

async function post(body: Record<string, string>) {
  const record = await sandbox.simulateReply(body, 'form');
  expect(record.status).toBe(200);
}

async function timeline(shipmentId: string): Promise<string[]> {
  return (await listShipmentActivity(service.deps.db, shipmentId)).map(
    (a) => `${a.kind}: ${a.title}`,
  );
}

/** Taps "Select new delivery date" on the template; resolves with the list message sent back. */
async function askForDates(mobile: string, replyId: string, at: number) {
  await post(
    buttonReply({
      mobile,
      waNumber: WA_NUMBER,
      replyId,
      messageId: `tap-${mobile}-${at}`,
      text: 'Select new delivery date',
      timestamp: at,
    }),
  );
  return waitFor(() => sessionSendsTo(mobile)[0], { what: 'the date list' });
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
      DATE_CHOICE_COUNT: '4',
      POSTBACK_SECRET: 'conversation-test-postback-secret',
      PUBLIC_BASE_URL: 'https://wa.example.test',
    }),
    ['api', 'worker'],
  );
  sandbox.setCallback({
    url: `${service.url}/api/_ah/v1/message?token=${WEBHOOK_TOKEN}`,
    delaysMs: { sent: 20, delivered: 40, read: -1 },
  });
  await saveAccountSettings(service.deps.db, 379, { enabled: true });
});

afterAll(async () => {
  await service?.close();
  await wms?.close();
  await sandbox?.close();
  await env.dropDatabase();
});

describe('the interactive conversation', () => {
  it('offers signed dates as a list, books exactly one RESCHEDULE for the row tapped, and confirms with reply buttons', async () => {
    const mobile = '919811200001';
    const shipment = 'LIST-1';
    const replyId = await notify(shipment, mobile.slice(2));
    const tappedAt = Date.parse('2023-06-08T10:00:00Z');

    const list = await askForDates(mobile, replyId, tappedAt);
    expect(list.params).toMatchObject({
      method: 'SendMessage',
      msg_type: 'TEXT',
      interactive_type: 'list',
      msg: 'Please choose a new delivery date from the list.',
    });
    const action = JSON.parse(list.params.action!) as ListAction;
    const rows = action.sections[0]!.rows;
    expect(rows.length).toBeGreaterThanOrEqual(3);
    expect(rows.length).toBeLessThanOrEqual(10);
    expect(rows.map((r) => r.title)).toEqual([
      'Fri, 9 June 2023',
      'Sat, 10 June 2023',
      'Sun, 11 June 2023',
      'Mon, 12 June 2023',
    ]);
    const keys = postbackKeys(service.deps.config);
    for (const row of rows) {
      expect(readPostback(keys, row.id)).toMatchObject({
        kind: 'valid',
        postback: { action: 'date' },
      });
    }

    await post(
      interactiveReply({
        mobile,
        waNumber: WA_NUMBER,
        kind: 'list_reply',
        id: rows[2]!.id,
        title: rows[2]!.title,
        timestamp: tappedAt + 5_000,
      }),
    );
    const booked = await waitFor(
      () => wms.notifications.find((n) => n.body.shipmentId === shipment),
      {
        what: 'the ndrNotification',
      },
    );
    expect(booked.body).toMatchObject({ action: 'RESCHEDULE', deliveryDate: '2023-06-11' });

    const confirmation = await waitFor(() => sessionSendsTo(mobile)[1], {
      what: 'the confirmation',
    });
    expect(confirmation.params).toMatchObject({
      interactive_type: 'dr_button',
      msg: 'Your delivery is rescheduled to 11 June 2023. Thank you!',
    });
    const buttons = (JSON.parse(confirmation.params.action!) as ButtonsAction).buttons;
    expect(buttons.map((b) => b.reply.title)).toEqual(['Change date', 'Talk to us']);

    // The confirmation's "Change date" button offers the dates again.
    await post(
      interactiveReply({
        mobile,
        waNumber: WA_NUMBER,
        kind: 'button_reply',
        id: buttons[0]!.reply.id,
        title: buttons[0]!.reply.title,
        timestamp: tappedAt + 10_000,
      }),
    );
    const again = await waitFor(() => sessionSendsTo(mobile)[2], { what: 'the list again' });
    expect(again.params.interactive_type).toBe('list');
    expect(wms.notifications.filter((n) => n.body.shipmentId === shipment)).toHaveLength(1);

    const entries = await waitFor(async () => {
      const t = await timeline(shipment);
      return t.filter((e) => e.startsWith('whatsapp_follow_up')).length === 3 ? t : null;
    });
    expect(entries).toContain('whatsapp_action: Delivery rescheduled to 11 June 2023');
    expect(entries).toContain(
      'whatsapp_follow_up: Eshopbox replied to the customer: delivery date choices',
    );
  });

  it('understands a date typed after the list', async () => {
    const mobile = '919811200004';
    const shipment = 'TYPED-1';
    const replyId = await notify(shipment, mobile.slice(2));
    const tappedAt = Date.parse('2023-06-08T10:00:00Z');
    await askForDates(mobile, replyId, tappedAt);

    await post(
      textReply({ mobile, waNumber: WA_NUMBER, text: '12 June', timestamp: tappedAt + 5_000 }),
    );
    const booked = await waitFor(() =>
      wms.notifications.find((n) => n.body.shipmentId === shipment),
    );
    expect(booked.body).toMatchObject({ action: 'RESCHEDULE', deliveryDate: '2023-06-12' });
  });

  it('acts on a tapped row whose callback carries no phone number, bound by its signed postback', async () => {
    const mobile = '919811200005';
    const shipment = 'NO-PHONE-1';
    const replyId = await notify(shipment, mobile.slice(2));
    await askForDates(mobile, replyId, Date.now());

    // Meta withholds the number of a user with a username: a v3 callback with a user id only.
    const tapped = await sandbox.tap({ to: mobile, choice: 2, format: 'v3', withoutPhone: true });
    expect(tapped.record.body).not.toContain(mobile);
    const booked = await waitFor(
      () => wms.notifications.find((n) => n.body.shipmentId === shipment),
      {
        what: 'the RESCHEDULE',
      },
    );
    const chosen = readPostback(postbackKeys(service.deps.config), tapped.choice.id);
    expect(chosen.kind).toBe('valid');
    expect(booked.body).toMatchObject({
      action: 'RESCHEDULE',
      deliveryDate: chosen.kind === 'valid' ? chosen.postback.date : 'not a date',
    });
    // The tap's entry, not the button reply that asked for the dates (entries are ordered by
    // the callbacks' own times, which may tie).
    const reply = (await listShipmentActivity(service.deps.db, shipment)).find(
      (a) => a.kind === 'whatsapp_reply' && a.details.type !== 'button',
    );
    expect(reply!.details).toMatchObject({ boundBy: 'postback' });
    // The confirmation still reaches the customer: the conversation knows the number.
    await waitFor(() => sessionSendsTo(mobile)[1], { what: 'the confirmation' });
  });

  it('plays through the sandbox by taps alone: template button, confirmation button, list row', async () => {
    const mobile = '919811200006';
    const shipment = 'TAPS-1';
    await notify(shipment, mobile.slice(2));
    const ours = (shipmentId: string) =>
      wms.notifications.filter((n) => n.body.shipmentId === shipmentId);

    await sandbox.tap({ to: mobile, choice: 'Reattempt delivery' });
    await waitFor(() => ours(shipment).length === 1, { what: 'the REATTEMPT' });
    const confirmation = await waitFor(() => sessionSendsTo(mobile)[0], {
      what: 'the confirmation',
    });
    expect(confirmation.interactive).toMatchObject({ type: 'buttons' });

    await sandbox.tap({ to: mobile, choice: 'Choose a date' });
    const list = await waitFor(() => sessionSendsTo(mobile)[1], { what: 'the list' });
    expect(list.interactive).toMatchObject({ type: 'list' });

    await sandbox.tap({ to: mobile, choice: 1 });
    await waitFor(() => ours(shipment).length === 2, { what: 'the RESCHEDULE' });
    expect(ours(shipment).map((n) => n.body.action)).toEqual(['REATTEMPT', 'RESCHEDULE']);
  });

  it("records but never acts on a reply naming the customer's message from another number", async () => {
    const mobile = '919811200007';
    const shipment = 'FORGED-1';
    const replyId = await notify(shipment, mobile.slice(2));
    // Right reply id, another number: whoever holds the webhook token could post this.
    await post(
      buttonReply({
        mobile: '919822299999',
        waNumber: WA_NUMBER,
        replyId,
        messageId: 'forged-1',
        text: 'Cancel my order',
      }),
    );
    const entries = await waitFor(async () => {
      const t = await timeline(shipment);
      return t.some((e) => e.startsWith('whatsapp_no_action')) ? t : null;
    });
    expect(entries).toContain(
      "whatsapp_no_action: No action taken: the reply names this conversation but does not come from its customer's number",
    );
    expect(wms.notifications.filter((n) => n.body.shipmentId === shipment)).toHaveLength(0);
    expect(sessionSendsTo('919822299999')).toHaveLength(0);
    const metrics = await (await fetch(`${service.url}/metrics`)).text();
    expect(metrics).toMatch(/^whatsapp_replies_from_other_sender_total\{boundBy="reply_id"\} 1$/m);
  });

  it('never acts on a tampered postback, and says so on the timeline', async () => {
    const mobile = '919811200002';
    const shipment = 'TAMPER-1';
    const replyId = await notify(shipment, mobile.slice(2));
    const tappedAt = Date.parse('2023-06-08T10:00:00Z');
    const list = await askForDates(mobile, replyId, tappedAt);
    const row = (JSON.parse(list.params.action!) as ListAction).sections[0]!.rows[1]!;
    // One character of the signature changed.
    const last = row.id.at(-1) === 'A' ? 'B' : 'A';
    const tampered = `${row.id.slice(0, -1)}${last}`;

    await post(
      interactiveReply({
        mobile,
        waNumber: WA_NUMBER,
        kind: 'list_reply',
        id: tampered,
        title: row.title,
        timestamp: tappedAt + 5_000,
      }),
    );
    const entries = await waitFor(async () => {
      const t = await timeline(shipment);
      return t.some((e) => e.startsWith('whatsapp_no_action')) ? t : null;
    });
    expect(entries).toContain(
      'whatsapp_no_action: No action taken: the choice token signature does not match; the reply is treated as free text',
    );
    expect(wms.notifications.filter((n) => n.body.shipmentId === shipment)).toHaveLength(0);
    // Nothing else goes to the customer: the list was the last message.
    expect(sessionSendsTo(mobile)).toHaveLength(1);
  });

  it('falls back to numbered text for a connection that refuses interactive messages, remembers it, and "2" still reschedules', async () => {
    const mobile = '919811200003';
    const shipment = 'FALLBACK-1';
    const replyId = await notify(shipment, mobile.slice(2));
    const tappedAt = Date.parse('2023-06-08T10:00:00Z');
    const sendsBefore = sandbox.sends.length;
    // The account does not take interactive parameters: the sandbox refuses them with error 106.
    sandbox.setInteractive({ supported: false });

    const text = await askForDates(mobile, replyId, tappedAt);
    const attempts = sandbox.sends.slice(sendsBefore).filter((s) => s.params.send_to === mobile);
    expect(attempts.map((s) => [s.params.interactive_type ?? 'text', s.outcome])).toEqual([
      ['list', 'error'],
      ['text', 'success'],
    ]);
    expect(text.params.msg_type).toBe('DATA_TEXT');
    expect(text.params.msg).toBe(
      'Please choose a new delivery date:\n1. Fri, 9 June 2023\n2. Sat, 10 June 2023\n3. Sun, 11 June 2023\n4. Mon, 12 June 2023\nReply with 1, 2, 3 or 4.',
    );

    await post(textReply({ mobile, waNumber: WA_NUMBER, text: '2', timestamp: tappedAt + 5_000 }));
    const booked = await waitFor(() =>
      wms.notifications.find((n) => n.body.shipmentId === shipment),
    );
    expect(booked.body).toMatchObject({ action: 'RESCHEDULE', deliveryDate: '2023-06-10' });

    // The confirmation would have reply buttons; the refusal is remembered, so it goes as text at once.
    const confirmation = await waitFor(() => sessionSendsTo(mobile)[1], {
      what: 'the confirmation',
    });
    expect(confirmation.params.interactive_type).toBeUndefined();
    expect(confirmation.params.msg).toBe(
      'Your delivery is rescheduled to 10 June 2023. Thank you!\nTo choose another date, reply CHANGE DATE; to talk to us, reply HELP.',
    );
    expect(
      sandbox.sends.filter((s) => s.params.send_to === mobile && s.outcome === 'error'),
    ).toHaveLength(1);

    const [remembered] = await service.deps.db
      .select()
      .from(whatsappConnectionFeatures)
      .where(eq(whatsappConnectionFeatures.connectionId, 'default'));
    expect(remembered?.interactiveRefusedAt).toBeInstanceOf(Date);
    expect(remembered?.interactiveRefusal).toContain('gupshup_106');

    const metrics = await (await fetch(`${service.url}/metrics`)).text();
    expect(metrics).toMatch(/^whatsapp_interactive_fallbacks_total\{reason="refused"\} 1$/m);
    expect(metrics).toMatch(/^whatsapp_interactive_fallbacks_total\{reason="remembered"\} 1$/m);
    const entries = await waitFor(async () => {
      const t = await timeline(shipment);
      return t.filter((e) => e.startsWith('whatsapp_follow_up')).length === 2 ? t : null;
    });
    expect(entries).toContain(
      'whatsapp_follow_up: Eshopbox replied to the customer: delivery date choices (as numbered text: this connection cannot send interactive messages)',
    );

    // Clean up the refusal: later tests of this file expect interactive messages.
    sandbox.setInteractive({ supported: true });
    await service.deps.db
      .delete(whatsappConnectionFeatures)
      .where(eq(whatsappConnectionFeatures.connectionId, 'default'));
  });
});
