/**
 * v3 callbacks, Meta's webhook format passed through by Gupshup (src/webhook/v3.ts), through
 * `parseWebhook`: statuses, messages of every type, messages without a phone number, echoes,
 * other fields, batching and its bound, and what must be refused.
 */
import { describe, expect, it } from 'vitest';

import {
  events,
  ignored,
  inbound,
  parseJson,
  reason,
  reports,
  webhookFixture,
  webhookFixtureNames,
} from '../../test/helpers/webhook.ts';
import type { DeliveryReport, InboundMessage } from './events.ts';
import { V3_MAX_EVENTS } from './v3.ts';

const CUSTOMER = '919812345678';
const OURS = '918000011111';
const GS_ID = '8b9c0d1e-2f3a-4b4c-9d5e-6f7a8b9c0d1e';
const WA_ID = 'wamid.HBgMOTE5ODEyMzQ1Njc4FQIAERgSV3StatusAAAA';

const report = (fields: Partial<DeliveryReport>) => ({
  kind: 'dlr',
  report: { source: 'v3', destAddr: CUSTOMER, srcAddr: OURS, extra: null, ...fields },
});

const message = (fields: Partial<InboundMessage>) => ({
  kind: 'inbound',
  message: {
    source: 'v3',
    mobile: CUSTOMER,
    userId: null,
    waNumber: OURS,
    name: 'Asha',
    replyId: null,
    ...fields,
  },
});

const answering = { contextId: WA_ID, contextGsId: GS_ID };

const ignoredAs = (what: string) => ({ kind: 'ignored', ignored: { source: 'v3', what } });

const expected: Record<string, Record<string, unknown>[]> = {
  'v3-status-enqueued.json': [
    report({ externalId: GS_ID, eventType: 'ENQUEUED', eventTs: 1781004000000 }),
  ],
  'v3-status-sent.json': [report({ externalId: GS_ID, eventType: 'SENT', eventTs: 1781004010000 })],
  'v3-status-delivered.json': [
    report({ externalId: GS_ID, eventType: 'DELIVERED', errorCode: null, cause: null }),
  ],
  'v3-status-read.json': [report({ externalId: GS_ID, eventType: 'READ' })],
  'v3-status-failed.json': [
    report({
      externalId: '9c0d1e2f-3a4b-4c5d-8e6f-7a8b9c0d1e2f',
      eventType: 'FAILED',
      errorCode: '131047',
      cause: 'Re-engagement message',
      eventTs: 1781004040000,
    }),
  ],
  'v3-status-meta-id-only.json': [
    report({
      externalId: 'wamid.HBgMOTE5ODEyMzQ1Njc4FQIAERgSV3MetaOnlyA',
      eventType: 'DELIVERED',
      extra: 'ndr:evt_9001',
    }),
  ],
  'v3-statuses-batch.json': [
    report({ externalId: '0d1e2f3a-4b5c-4d6e-9f7a-8b9c0d1e2f3a', eventType: 'SENT' }),
    report({ externalId: '0d1e2f3a-4b5c-4d6e-9f7a-8b9c0d1e2f3a', eventType: 'DELIVERED' }),
    report({ externalId: '1e2f3a4b-5c6d-4e7f-8a9b-0c1d2e3f4a5b', eventType: 'SENT' }),
    report({ externalId: '0d1e2f3a-4b5c-4d6e-9f7a-8b9c0d1e2f3a', eventType: 'READ' }),
  ],
  'v3-message-text.json': [
    message({
      type: 'text',
      messageId: 'wamid.HBgMV3Text0001',
      text: 'Please deliver after 6pm',
      contextId: null,
      contextGsId: null,
      timestamp: 1781005000000,
    }),
  ],
  'v3-message-image.json': [
    message({
      type: 'image',
      media: {
        id: '1234567890123001',
        mimeType: 'image/jpeg',
        url: 'https://media.example.invalid/v3/1234567890123001',
        caption: 'Gate photo',
      },
    }),
  ],
  'v3-message-document.json': [
    message({
      type: 'document',
      media: {
        id: '1234567890123002',
        mimeType: 'application/pdf',
        url: null,
        caption: 'Address proof',
      },
    }),
  ],
  'v3-message-audio.json': [
    message({
      type: 'voice',
      media: {
        id: '1234567890123003',
        mimeType: 'audio/ogg; codecs=opus',
        url: null,
        caption: null,
      },
    }),
  ],
  'v3-message-video.json': [
    message({
      type: 'video',
      media: {
        id: '1234567890123004',
        mimeType: 'video/mp4',
        url: null,
        caption: 'Where the courier left it',
      },
    }),
  ],
  'v3-message-sticker.json': [
    message({
      type: 'sticker',
      media: { id: '1234567890123005', mimeType: 'image/webp', url: null, caption: null },
    }),
  ],
  'v3-message-location.json': [
    message({
      type: 'location',
      location: {
        latitude: 12.9719,
        longitude: 77.6412,
        name: 'Home',
        address: '4th Cross, Indiranagar',
      },
    }),
  ],
  // The shared card is a third party's: nothing of it is kept.
  'v3-message-contacts.json': [message({ type: 'contacts', text: null, media: null })],
  'v3-message-reaction.json': [message({ type: 'reaction', text: '👍', contextId: WA_ID })],
  'v3-message-button.json': [
    message({
      type: 'button',
      buttonText: 'Reattempt delivery',
      buttonPayload: 'ndr-reattempt',
      ...answering,
    }),
  ],
  'v3-message-button-reply.json': [
    message({
      type: 'interactive',
      interactiveId: 'ndr:SHP-1001:reschedule',
      interactiveTitle: 'Select new date',
      postbackText: null,
      ...answering,
    }),
  ],
  'v3-message-list-reply.json': [
    message({
      type: 'interactive',
      interactiveId: 'date:2026-06-13',
      interactiveTitle: '13 June 2026',
      ...answering,
    }),
  ],
  'v3-message-nfm-reply.json': [
    message({
      type: 'interactive',
      interactiveId: null,
      interactiveTitle: 'Sent',
      postbackText: null,
      ...answering,
    }),
  ],
  'v3-message-unsupported.json': [message({ type: 'unknown', messageId: 'wamid.HBgMV3Unsupport' })],
  'v3-message-no-phone.json': [
    message({
      type: 'text',
      mobile: null,
      userId: 'IN.1648738043044911',
      name: 'Asha',
      text: 'Reattempt delivery',
      ...answering,
    }),
  ],
  'v3-echo.json': [ignoredAs('v3 message echo')],
  'v3-echo-own-number.json': [ignoredAs('v3 message echo')],
  'v3-other-field.json': [ignoredAs('v3 field account_update')],
  'v3-template-status.json': [ignoredAs('v3 field message_template_status_update')],
  'v3-platform-event.json': [ignoredAs('v3 field platform-event')],
};

describe('v3 fixtures (test/fixtures/webhook/v3-*.json)', () => {
  it('has an expectation for every v3 fixture', () => {
    expect(Object.keys(expected).sort()).toEqual(webhookFixtureNames('v3-'));
  });

  it.each(Object.entries(expected))('reads %s', (name, list) => {
    expect(events(parseJson(webhookFixture(name)))).toMatchObject(list);
  });

  it("never keeps a Flow answer's form data", () => {
    const message = inbound(parseJson(webhookFixture('v3-message-nfm-reply.json')));
    expect(JSON.stringify(message)).not.toContain('Park Street');
  });

  it('gives every ignored callback a reason and no personal data', () => {
    for (const name of Object.keys(expected)) {
      for (const event of events(parseJson(webhookFixture(name)))) {
        if (event.kind === 'ignored') {
          expect(event.ignored.reason.length).toBeGreaterThan(10);
          // No number, and no id long enough to be one (the time aside).
          expect(JSON.stringify({ ...event.ignored, timestamp: null })).not.toMatch(/\d{8,}/);
        }
      }
    }
  });
});

type Body = { entry: { changes: { value: Record<string, unknown> }[] }[] };

/** The first change's value of a fixture, replaced. */
function withValue(name: string, patch: (value: Record<string, unknown>) => void): Body {
  const body = webhookFixture<Body>(name);
  patch(body.entry[0]!.changes[0]!.value);
  return body;
}

function firstMessage(value: Record<string, unknown>): Record<string, unknown> {
  return (value.messages as Record<string, unknown>[])[0]!;
}

describe('the customer of a v3 message', () => {
  it('is the number in `from`, else the contact’s wa_id', () => {
    const body = withValue('v3-message-text.json', (value) => {
      delete firstMessage(value).from;
    });
    expect(inbound(parseJson(body))).toMatchObject({ mobile: CUSTOMER, userId: null });
  });

  it('keeps both the number and the user id when Meta gives both', () => {
    const body = withValue('v3-message-text.json', (value) => {
      value.contacts = [{ profile: { name: 'Asha' }, wa_id: CUSTOMER, user_id: 'IN.77' }];
    });
    expect(inbound(parseJson(body))).toMatchObject({ mobile: CUSTOMER, userId: 'IN.77' });
  });

  it.each([
    ['`user_id` on the message', { user_id: 'IN.88' }, 'IN.88'],
    ['`from_user_id` over `user_id`', { from_user_id: 'IN.99', user_id: 'IN.88' }, 'IN.99'],
  ])('reads the user id from %s', (_label, fields, userId) => {
    const body = withValue('v3-message-no-phone.json', (value) => {
      const first = firstMessage(value);
      delete first.from_user_id;
      Object.assign(first, fields);
      delete value.contacts;
    });
    expect(inbound(parseJson(body))).toMatchObject({ mobile: null, userId });
  });

  it('never reads digits out of a user id as a number', () => {
    const body = withValue('v3-message-no-phone.json', (value) => {
      firstMessage(value).from = 'IN.1648738043044911';
    });
    expect(inbound(parseJson(body))).toMatchObject({
      mobile: null,
      userId: 'IN.1648738043044911',
    });
  });

  it('refuses a message with neither a number nor a user id, naming it without values', () => {
    const body = withValue('v3-message-text.json', (value) => {
      delete firstMessage(value).from;
      delete value.contacts;
    });
    const why = reason(parseJson(body));
    expect(why).toBe(
      'entry[0].changes[0].value.messages[0]: neither a phone number (from, contacts[].wa_id) nor a user id is given',
    );
  });
});

describe('v3 batches and refusals', () => {
  const statuses = (n: number) =>
    withValue('v3-status-sent.json', (value) => {
      const [first] = value.statuses as Record<string, unknown>[];
      value.statuses = Array.from({ length: n }, (_, i) => ({ ...first, gs_id: `gs-${i}` }));
    });

  it(`accepts ${V3_MAX_EVENTS} events in one post and refuses one more`, () => {
    expect(reports(parseJson(statuses(V3_MAX_EVENTS)))).toHaveLength(V3_MAX_EVENTS);
    expect(reason(parseJson(statuses(V3_MAX_EVENTS + 1)))).toBe(
      `${V3_MAX_EVENTS + 1} events in one v3 post; at most ${V3_MAX_EVENTS} are accepted`,
    );
  });

  it('is not bound by the enterprise batch size', () => {
    expect(reports(parseJson(statuses(21), 20))).toHaveLength(21);
  });

  it('gives statuses and messages of one change, in order', () => {
    const body = withValue('v3-message-text.json', (value) => {
      value.statuses =
        webhookFixture<Body>('v3-status-read.json').entry[0]!.changes[0]!.value.statuses;
    });
    expect(events(parseJson(body)).map((e) => e.kind)).toEqual(['dlr', 'inbound']);
  });

  it('acknowledges an empty entry list, and a messages change holding nothing', () => {
    expect(events(parseJson({ object: 'whatsapp_business_account', entry: [] }))).toEqual([]);
    const empty = withValue('v3-message-text.json', (value) => {
      delete value.messages;
      delete value.contacts;
    });
    expect(ignored(parseJson(empty)).what).toBe('v3 messages change');
  });

  it('ignores a platform error notice on the messages field', () => {
    const body = withValue('v3-message-text.json', (value) => {
      delete value.messages;
      value.errors = [{ code: 131000, title: 'Something went wrong' }];
    });
    expect(ignored(parseJson(body)).what).toBe('v3 error notice');
  });

  it.each([
    [
      'a status without any id',
      'v3-status-sent.json',
      (v: Record<string, unknown>) => {
        const [s] = v.statuses as Record<string, unknown>[];
        delete s!.id;
        delete s!.gs_id;
      },
      'entry[0].changes[0].value.statuses[0]: id or gs_id is required',
    ],
    [
      'a status without status',
      'v3-status-sent.json',
      (v: Record<string, unknown>) => {
        delete (v.statuses as Record<string, unknown>[])[0]!.status;
      },
      'entry[0].changes[0].value.statuses[0].status: is required',
    ],
    [
      'statuses that are not a list',
      'v3-status-sent.json',
      (v: Record<string, unknown>) => {
        v.statuses = 'sent';
      },
      'entry[0].changes[0].value.statuses: expected Array',
    ],
    [
      'a location without longitude',
      'v3-message-location.json',
      (v: Record<string, unknown>) => {
        firstMessage(v).location = { latitude: 1 };
      },
      'entry[0].changes[0].value.messages[0].location.longitude: is required',
    ],
  ])('refuses %s, naming the field', (_label, name, patch, why) => {
    const text = reason(parseJson(withValue(name, patch)));
    expect(text).toBe(why);
    expect(text).not.toContain(CUSTOMER);
  });

  it.each([
    ['entry that is not a list', { object: 'whatsapp_business_account', entry: {} }, 'entry'],
    ['another object', { object: 'page', entry: [] }, 'object'],
  ])('refuses a body with %s', (_label, body, path) => {
    expect(reason(parseJson(body)).startsWith(`${path}: `)).toBe(true);
  });
});
