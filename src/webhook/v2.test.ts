/**
 * Self-serve v2 callbacks (src/webhook/v2.ts) through `parseWebhook`: delivery events, messages
 * (quick replies above all, whose fields Gupshup's documents disagree on), user and billing events,
 * the callbacks only acknowledged, and what must be refused.
 */
import { describe, expect, it } from 'vitest';

import v2Text from '../../test/fixtures/gupshup-v2-inbound-text.json' with { type: 'json' };
import {
  events,
  ignored,
  inbound,
  JSON_TYPE,
  parse,
  parseJson,
  reason,
  reports,
  userEvent,
  webhookFixture,
  webhookFixtureNames,
} from '../../test/helpers/webhook.ts';
import type { DeliveryReport, InboundMessage } from './events.ts';

describe('v2 callbacks', () => {
  const envelope = (payload: Record<string, unknown>, type = 'message-event') => ({
    app: 'ShopCoNDR',
    timestamp: 1716450020000,
    version: 2,
    type,
    payload,
  });
  const GS_ID = '9b71295f-f7af-4c1f-b2b4-31b4a4867bad';

  it.each(['sent', 'delivered', 'read'])(
    'reads a %s event: gsId, upper-cased type, ts seconds → ms',
    (type) => {
      const body = envelope({
        id: 'gBEGkYaYVSEEAgnPFrOLcjkFjL8',
        gsId: GS_ID,
        type,
        destination: '919812345678',
        payload: { ts: 1716450012 },
      });
      expect(reports(parse(JSON_TYPE, JSON.stringify(body)))).toEqual([
        {
          source: 'v2',
          externalId: GS_ID,
          eventType: type.toUpperCase(),
          cause: null,
          errorCode: null,
          destAddr: '919812345678',
          srcAddr: null,
          eventTs: 1716450012000,
          extra: null,
        },
      ]);
    },
  );

  it('reads a failed event: Gupshup id, code and reason, the envelope time', () => {
    const body = envelope({
      id: '7f3c1e2a-0000-4b1e-9a1d-1c2b3a4d5e6f',
      type: 'failed',
      destination: '919812345678',
      payload: { code: 1002, reason: 'Number Does Not Exist On WhatsApp' },
    });
    expect(reports(parse(JSON_TYPE, JSON.stringify(body)))).toEqual([
      expect.objectContaining({
        externalId: '7f3c1e2a-0000-4b1e-9a1d-1c2b3a4d5e6f',
        eventType: 'FAILED',
        errorCode: '1002',
        cause: 'Number Does Not Exist On WhatsApp',
        eventTs: 1716450020000,
      }),
    ]);
  });

  it('reads an enqueued event as a report (dlr.process leaves the status alone)', () => {
    const body = envelope({
      id: '7f3c1e2a-0000-4b1e-9a1d-1c2b3a4d5e6f',
      type: 'enqueued',
      destination: '919812345678',
      payload: { whatsappMessageId: 'gBEGkYaYVSEEAgnPFrOLcjkFjL8', type: 'template' },
    });
    const [report] = reports(parse(JSON_TYPE, JSON.stringify(body)));
    expect(report).toMatchObject({
      eventType: 'ENQUEUED',
      externalId: '7f3c1e2a-0000-4b1e-9a1d-1c2b3a4d5e6f',
    });
  });

  it("reads the seed's v2 text message", () => {
    expect(inbound(parse(JSON_TYPE, JSON.stringify(v2Text)))).toEqual({
      source: 'v2',
      messageId: 'ABEGkYaYVSEEAgo-sMx1DoUoQJRW',
      replyId: null,
      contextId: 'gBEGkYaYVSEEAgnPFrOLcjkFjL8',
      contextGsId: GS_ID,
      // The seed masks the number with x's; only its digits are kept.
      mobile: '91898214',
      userId: null,
      waNumber: null,
      name: 'Smit',
      type: 'text',
      text: 'hi',
      buttonText: null,
      buttonPayload: null,
      interactiveId: null,
      interactiveTitle: null,
      postbackText: null,
      media: null,
      location: null,
      timestamp: 1590854464792,
    } satisfies InboundMessage);
  });

  it('reads v2 quick replies, button and list replies, media, files and locations', () => {
    const message = (type: string, payload: Record<string, unknown>) =>
      inbound(
        parse(
          JSON_TYPE,
          JSON.stringify(
            envelope(
              {
                id: 'ABEG1',
                source: '919812345678',
                type,
                payload,
                sender: { phone: '919812345678', name: 'Asha' },
              },
              'message',
            ),
          ),
        ),
      );
    expect(
      message('quick_reply', { text: 'Reattempt delivery', type: 'button', payload: 'reattempt' }),
    ).toMatchObject({
      type: 'button',
      buttonText: 'Reattempt delivery',
      buttonPayload: 'reattempt',
    });
    expect(
      message('button_reply', { title: 'Yes', id: 'ndr-1-yes', reply: 'Yes 1' }),
    ).toMatchObject({
      type: 'interactive',
      interactiveId: 'ndr-1-yes',
      interactiveTitle: 'Yes',
    });
    expect(
      message('list_reply', {
        title: '10 June 2023',
        id: 'd1',
        reply: '10 June 2023 1',
        postbackText: '2023-06-10',
        description: '',
      }),
    ).toMatchObject({ type: 'interactive', interactiveId: 'd1', postbackText: '2023-06-10' });
    expect(
      message('image', { url: 'https://m.example/i', caption: 'door', contentType: 'image/jpeg' })
        .media,
    ).toEqual({
      id: null,
      mimeType: 'image/jpeg',
      url: 'https://m.example/i',
      caption: 'door',
    });
    expect(
      message('file', { url: 'https://m.example/f', contentType: 'application/pdf' }),
    ).toMatchObject({
      type: 'document',
      media: { mimeType: 'application/pdf' },
    });
    expect(message('location', { latitude: '12.9', longitude: '77.6' }).location).toEqual({
      latitude: 12.9,
      longitude: 77.6,
      name: null,
      address: null,
    });
  });

  it.each([
    ['user-event', 'user'],
    ['billing-event', 'billing'],
    ['template-event', 'ignored'],
    ['account-event', 'ignored'],
    ['platform-event', 'ignored'],
    ['some-future-event', 'ignored'],
  ])('never refuses a %s, whatever its payload holds', (type, kind) => {
    for (const payload of [{ phone: '919812345678', type: 'opted-in' }, {}, 'text', null, [1]]) {
      const list = events(parse(JSON_TYPE, JSON.stringify({ ...envelope({}, type), payload })));
      expect(list.map((e) => e.kind)).toEqual([kind]);
    }
  });

  it('never refuses a user, billing or ignored callback for its envelope time or app name', () => {
    const body = { ...envelope({ type: 'opted-out' }, 'user-event'), timestamp: 'soon', app: {} };
    expect(userEvent(parse(JSON_TYPE, JSON.stringify(body)))).toMatchObject({
      type: 'opted-out',
      app: null,
      timestamp: null,
    });
  });

  it('rejects a message-event with neither id nor gsId', () => {
    const body = envelope({ type: 'sent', payload: { ts: 1 } });
    expect(reason(parse(JSON_TYPE, JSON.stringify(body)))).toBe('payload: id or gsId is required');
  });

  it('rejects a message from nobody: no number and no user id', () => {
    const body = envelope({ id: 'ABEG1', type: 'text', payload: { text: 'hi' } }, 'message');
    expect(reason(parse(JSON_TYPE, JSON.stringify(body)))).toBe('payload.source: is required');
    const why = reason(
      parse(
        JSON_TYPE,
        JSON.stringify(
          envelope({ id: 'ABEG1', source: 'nobody', type: 'text', payload: {} }, 'message'),
        ),
      ),
    );
    expect(why).toBe('payload.source: must be a phone number');
  });
});

describe('v2 quick replies: which field is what', () => {
  const tap = (payload: Record<string, unknown>) => {
    const fixture = webhookFixture<{ payload: Record<string, unknown> }>('v2-quick-reply.json');
    return inbound(parseJson({ ...fixture, payload: { ...fixture.payload, payload } }));
  };
  const UUID = '8a1c2f4e-5b6d-4e7f-9a0b-1c2d3e4f5a6b';

  it.each([
    [
      'title and id',
      { title: 'Reattempt delivery', id: 'ndr-reattempt' },
      ['Reattempt delivery', 'ndr-reattempt', 'ndr-reattempt'],
    ],
    [
      'text and payload (a template button)',
      { text: 'Cancel my order', type: 'button', payload: 'ndr-cancel' },
      ['Cancel my order', 'ndr-cancel', null],
    ],
    ['title over text', { title: 'Title', text: 'Text' }, ['Title', null, null]],
    [
      'payload over id',
      { title: 'T', id: 'the-id', payload: 'the-payload' },
      ['T', 'the-payload', 'the-id'],
    ],
    ['a generated UUID id', { title: 'T', id: UUID }, ['T', UUID, null]],
    [
      'a generated UUID id with an index',
      { title: 'T', id: `${UUID}-2` },
      ['T', `${UUID}-2`, null],
    ],
    [
      'a postbackText beside a generated id',
      { title: 'T', id: UUID, postbackText: 'pb' },
      ['T', UUID, 'pb'],
    ],
    [
      'a postbackText beside a meaningful id',
      { title: 'T', id: 'x', postbackText: 'pb' },
      ['T', 'x', 'pb'],
    ],
    [
      'a JSON id holding a postbackText',
      { title: 'T', id: '{"msgid":"m","postbackText":"pb"}' },
      ['T', '{"msgid":"m","postbackText":"pb"}', 'pb'],
    ],
    [
      'a JSON id without one',
      { title: 'T', id: '{"msgid":"m","reply":"T 1"}' },
      ['T', '{"msgid":"m","reply":"T 1"}', null],
    ],
    ['a numeric id', { title: 'T', id: 2 }, ['T', '2', '2']],
    ['nothing at all', {}, [null, null, null]],
  ])('%s', (_label, payload, [buttonText, buttonPayload, postbackText]) => {
    const message = tap(payload);
    expect(message.type).toBe('button');
    expect([message.buttonText, message.buttonPayload, message.postbackText]).toEqual([
      buttonText,
      buttonPayload,
      postbackText,
    ]);
  });
});

describe('v2 fixtures (test/fixtures/webhook/v2-*.json)', () => {
  const CUSTOMER = '919812345678';
  const message = (fields: Partial<InboundMessage>) => ({
    kind: 'inbound',
    message: {
      source: 'v2',
      mobile: CUSTOMER,
      userId: null,
      name: 'Asha',
      contextId: 'gBEGkYaYVSEEAgnPV2ctx01',
      contextGsId: '5d1e2f3a-4b5c-4d6e-8f70-81a2b3c4d5e6',
      ...fields,
    },
  });
  const report = (fields: Partial<DeliveryReport>) => ({
    kind: 'dlr',
    report: { source: 'v2', destAddr: CUSTOMER, srcAddr: null, extra: null, ...fields },
  });
  const GS = '7c2d9e1f-3a4b-4c5d-9e6f-708192a3b4c5';
  const expected: Record<string, Record<string, unknown>> = {
    'v2-quick-reply.json': message({
      type: 'button',
      buttonText: 'Reattempt delivery',
      buttonPayload: 'ndr-reattempt',
      postbackText: 'ndr-reattempt',
      timestamp: 1781001000000,
    }),
    'v2-quick-reply-generated-id.json': message({
      type: 'button',
      buttonText: 'Select new delivery date',
      buttonPayload: '8a1c2f4e-5b6d-4e7f-9a0b-1c2d3e4f5a6b',
      postbackText: null,
    }),
    'v2-quick-reply-postback.json': message({
      type: 'button',
      buttonText: 'Raise a concern',
      postbackText: 'raise-concern',
    }),
    'v2-quick-reply-template.json': message({
      type: 'button',
      buttonText: 'Cancel my order',
      buttonPayload: 'ndr-cancel',
      postbackText: null,
    }),
    'v2-button-reply.json': message({
      type: 'interactive',
      interactiveId: 'ndr:SHP-1001:yes',
      interactiveTitle: 'Yes',
      postbackText: null,
    }),
    'v2-list-reply.json': message({
      type: 'interactive',
      interactiveId: 'd2',
      interactiveTitle: '12 June 2026',
      postbackText: '2026-06-12',
    }),
    'v2-message-no-phone.json': message({
      type: 'text',
      messageId: 'wamid.HBgMV2NoPhone0001AAAA',
      mobile: null,
      userId: 'IN.1648738043044911',
      text: 'Please deliver on Monday',
      contextId: null,
      contextGsId: null,
    }),
    'v2-enqueued.json': report({
      externalId: '0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d',
      eventType: 'ENQUEUED',
      eventTs: 1781002000000,
    }),
    'v2-sent.json': report({ externalId: GS, eventType: 'SENT', eventTs: 1781002099000 }),
    'v2-delivered.json': report({ externalId: GS, eventType: 'DELIVERED', eventTs: 1781002199000 }),
    'v2-read.json': report({ externalId: GS, eventType: 'READ', eventTs: 1781002299000 }),
    'v2-failed.json': report({
      externalId: '1b2c3d4e-5f6a-4b7c-8d9e-0f1a2b3c4d5e',
      eventType: 'FAILED',
      errorCode: '1002',
      cause: 'Number Does Not Exist On WhatsApp',
    }),
    'v2-failed-gsid-only.json': report({
      externalId: '2c3d4e5f-6a7b-4c8d-9e0f-1a2b3c4d5e6f',
      eventType: 'FAILED',
      errorCode: '470',
      eventTs: 1781002500000,
    }),
    'v2-deleted.json': report({ externalId: GS, eventType: 'DELETED', cause: null }),
    'v2-message-event-mismatch.json': report({
      externalId: '3d4e5f6a-7b8c-4d9e-8f0a-1b2c3d4e5f6a',
      eventType: 'MISMATCH',
      errorCode: null,
    }),
    'v2-user-event-opted-in.json': {
      kind: 'user',
      event: {
        source: 'v2',
        type: 'opted-in',
        phone: CUSTOMER,
        app: 'ShopCoNDR',
        timestamp: 1781003000000,
      },
    },
    'v2-user-event-opted-out.json': {
      kind: 'user',
      event: {
        source: 'v2',
        type: 'opted-out',
        phone: CUSTOMER,
        app: 'ShopCoNDR',
        timestamp: 1781003100000,
      },
    },
    'v2-user-event-sandbox-start.json': {
      kind: 'user',
      // Gupshup's placeholder `callbackSetPhone` is not a number.
      event: { type: 'sandbox-start', phone: null },
    },
    'v2-billing-event.json': {
      kind: 'billing',
      event: {
        source: 'v2',
        messageId: '4e5f6a7b-8c9d-4e0f-9a1b-2c3d4e5f6a7b',
        category: 'utility',
        billable: true,
        timestamp: 1781003300000,
      },
    },
    'v2-billing-event-conversation.json': {
      kind: 'billing',
      event: {
        messageId: '5f6a7b8c-9d0e-4f1a-8b2c-3d4e5f6a7b8c',
        category: 'service',
        billable: false,
      },
    },
    'v2-billing-event-unknown.json': {
      kind: 'billing',
      event: {
        source: 'v2',
        messageId: null,
        category: null,
        billable: null,
        timestamp: 1781003500000,
      },
    },
    'v2-template-event.json': {
      kind: 'ignored',
      ignored: { source: 'v2', what: 'v2 template-event', timestamp: 1781003600000 },
    },
    'v2-account-event.json': {
      kind: 'ignored',
      ignored: { source: 'v2', what: 'v2 account-event', timestamp: 1781003700000 },
    },
  };

  it('has an expectation for every v2 fixture', () => {
    expect(Object.keys(expected).sort()).toEqual(webhookFixtureNames('v2-'));
  });

  it.each(Object.entries(expected))('reads %s', (name, event) => {
    expect(events(parseJson(webhookFixture(name)))).toMatchObject([event]);
  });

  it('gives every ignored callback a reason', () => {
    for (const name of ['v2-template-event.json', 'v2-account-event.json']) {
      expect(ignored(parseJson(webhookFixture(name))).reason.length).toBeGreaterThan(10);
    }
  });

  it('reads a number-less sender whose `source` is the user id, not digits from it', () => {
    const fixture = webhookFixture<{ payload: Record<string, unknown> }>(
      'v2-message-no-phone.json',
    );
    const body = { ...fixture, payload: { ...fixture.payload, source: 'IN.1648738043044911' } };
    expect(inbound(parseJson(body))).toMatchObject({ mobile: null, userId: 'IN.1648738043044911' });
  });

  it('keeps the number when Gupshup gives both it and the user id', () => {
    const fixture = webhookFixture<{ payload: Record<string, unknown> }>('v2-quick-reply.json');
    const sender = { phone: CUSTOMER, name: 'Asha', userId: 'IN.1648738043044911' };
    const body = { ...fixture, payload: { ...fixture.payload, sender } };
    expect(inbound(parseJson(body))).toMatchObject({
      mobile: CUSTOMER,
      userId: 'IN.1648738043044911',
    });
  });
});
