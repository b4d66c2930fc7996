/**
 * Enterprise Gateway callbacks (src/webhook/enterprise.ts) through `parseWebhook`: the seed's
 * delivery reports and inbound messages, the reference file's examples, the interactive and
 * button fixtures under test/fixtures/webhook/, and what must be refused.
 */
import { describe, expect, it } from 'vitest';

import dlrSent from '../../test/fixtures/gupshup-dlr-sent.json' with { type: 'json' };
import inboundButton from '../../test/fixtures/gupshup-inbound-button.json' with { type: 'json' };
import inboundDocument from '../../test/fixtures/gupshup-inbound-document.json' with { type: 'json' };
import inboundImage from '../../test/fixtures/gupshup-inbound-image.json' with { type: 'json' };
import inboundDate from '../../test/fixtures/gupshup-inbound-interactive-date.json' with { type: 'json' };
import inboundLocation from '../../test/fixtures/gupshup-inbound-location.json' with { type: 'json' };
import {
  events,
  FORM,
  formEncodable,
  inbound,
  JSON_TYPE,
  parse,
  parseJson,
  reason,
  reports,
  webhookFixture,
  webhookFixtureNames,
} from '../../test/helpers/webhook.ts';
import type { DeliveryReport, InboundMessage } from './events.ts';

const SEED_ID = '4921687316728868875-376937873247896673';

const SEED_REPORT: DeliveryReport = {
  source: 'enterprise',
  externalId: SEED_ID,
  eventType: 'SENT',
  cause: 'SENT',
  errorCode: '025',
  destAddr: '919650186697',
  srcAddr: 'TESTSM',
  eventTs: 1686222477000,
  extra: null,
};

const seedArray = dlrSent.response;
const seedEvents = JSON.parse(seedArray) as Record<string, unknown>[];

function reportList(n: number, patch: Record<string, unknown> = {}) {
  return Array.from({ length: n }, (_, i) => ({
    ...seedEvents[0],
    externalId: `${SEED_ID.slice(0, -2)}${String(i).padStart(2, '0')}`,
    ...patch,
  }));
}

describe('enterprise delivery reports', () => {
  it('reads the seed sample as Gupshup posts it: form field `response` holding a JSON array', () => {
    const body = new URLSearchParams({ response: seedArray }).toString();
    expect(reports(parse(FORM, body))).toEqual([SEED_REPORT]);
  });

  it('reads the form with a charset parameter on the content type', () => {
    const body = new URLSearchParams({ response: seedArray }).toString();
    expect(reports(parse(`${FORM}; charset=UTF-8`, body))).toEqual([SEED_REPORT]);
  });

  it('reads a raw JSON array', () => {
    expect(reports(parse(JSON_TYPE, seedArray))).toEqual([SEED_REPORT]);
  });

  it('reads {"response": "<json string>"} (the fixture file as a JSON body)', () => {
    expect(reports(parse(JSON_TYPE, JSON.stringify(dlrSent)))).toEqual([SEED_REPORT]);
  });

  it('reads {"response": [...]}', () => {
    expect(reports(parse(JSON_TYPE, JSON.stringify({ response: seedEvents })))).toEqual([
      SEED_REPORT,
    ]);
  });

  it('reads JSON sent as text/plain', () => {
    expect(reports(parse('text/plain', seedArray))).toEqual([SEED_REPORT]);
  });

  it("reads the reference file's batch: DELIVERED then SENT, with extra, in arrival order", () => {
    const batch = [
      {
        srcAddr: 'SHOPCO',
        channel: 'WHATSAPP',
        externalId: '4917235501923374210-118734002957163221',
        cause: 'DELIVERED',
        errorCode: '000',
        destAddr: '919812345678',
        eventType: 'DELIVERED',
        eventTs: 1716450012000,
        extra: 'ndr:evt_7781',
      },
      {
        srcAddr: 'SHOPCO',
        channel: 'WHATSAPP',
        externalId: '4917235501923374210-118734002957163221',
        cause: 'SENT',
        errorCode: '025',
        destAddr: '919812345678',
        eventType: 'SENT',
        eventTs: 1716450009000,
      },
    ];
    const list = reports(
      parse(FORM, new URLSearchParams({ response: JSON.stringify(batch) }).toString()),
    );
    expect(list.map((r) => [r.eventType, r.errorCode, r.extra])).toEqual([
      ['DELIVERED', '000', 'ndr:evt_7781'],
      ['SENT', '025', null],
    ]);
  });

  it('accepts 20 reports in one post and rejects 21', () => {
    expect(reports(parse(JSON_TYPE, JSON.stringify(reportList(20))))).toHaveLength(20);
    expect(reason(parse(JSON_TYPE, JSON.stringify(reportList(21))))).toContain('at most 20');
    const form = new URLSearchParams({ response: JSON.stringify(reportList(21)) }).toString();
    expect(reason(parse(FORM, form))).toContain('21 delivery reports');
  });

  it('honours a configured maximum', () => {
    expect(reason(parse(JSON_TYPE, JSON.stringify(reportList(3)), {}, 2))).toContain('at most 2');
  });

  it('reads the SMS spelling errCode, and errorCode wins when both are given', () => {
    const [only] = reports(
      parse(JSON_TYPE, JSON.stringify(reportList(1, { errorCode: undefined, errCode: '003' }))),
    );
    expect(only?.errorCode).toBe('003');
    const [both] = reports(
      parse(JSON_TYPE, JSON.stringify(reportList(1, { errorCode: '026', errCode: '003' }))),
    );
    expect(both?.errorCode).toBe('026');
  });

  it.each([
    ['"000"', '000', '000'],
    ['"025"', '025', '025'],
    ['the number 25', 25, '025'],
    ['the number 0', 0, '000'],
    ['"3"', '3', '003'],
    ['"101"', '101', '101'],
    ['an empty string', '', null],
  ])('keeps the code as three characters with leading zeros: %s', (_label, code, expected) => {
    const [report] = reports(parse(JSON_TYPE, JSON.stringify(reportList(1, { errorCode: code }))));
    expect(report?.errorCode).toBe(expected);
  });

  it('takes eventTs as a number or numeric string of milliseconds, and scales seconds', () => {
    const ts = (value: unknown) =>
      reports(parse(JSON_TYPE, JSON.stringify(reportList(1, { eventTs: value }))))[0]?.eventTs;
    expect(ts('1686222477000')).toBe(1686222477000);
    expect(ts(1686222477)).toBe(1686222477000);
    expect(ts(undefined)).toBeNull();
    expect(
      reason(parse(JSON_TYPE, JSON.stringify(reportList(1, { eventTs: 'yesterday' })))),
    ).toContain('body[0].eventTs');
  });

  it.each([
    ['1e20', 1e20],
    ['"1" and 400 zeros', `1${'0'.repeat(400)}`],
    ['the year 300000 in milliseconds', Date.UTC(300_000, 0, 1)],
    ['the year 5000 in seconds', Date.UTC(5_000, 0, 1) / 1_000],
    ['the year 2100', Date.UTC(2100, 0, 1)],
    ['1999', Date.UTC(1999, 11, 31)],
    ['zero', 0],
    ['a negative number', -1686222477000],
  ])('keeps a report whose eventTs is %s, without the time', (_label, eventTs) => {
    const parsed = parse(JSON_TYPE, JSON.stringify(reportList(1, { eventTs })));
    expect(parsed.ok).toBe(true);
    expect(reports(parsed)[0]?.eventTs).toBeNull();
  });

  it('keeps a time just inside 2000–2099', () => {
    const ts = (value: number) =>
      reports(parse(JSON_TYPE, JSON.stringify(reportList(1, { eventTs: value }))))[0]?.eventTs;
    expect(ts(Date.UTC(2000, 0, 1))).toBe(Date.UTC(2000, 0, 1));
    expect(ts(Date.UTC(2099, 11, 31))).toBe(Date.UTC(2099, 11, 31));
  });

  it('keeps an inbound message whose timestamp is absurd, without the time', () => {
    const message = inbound(
      parseJson({
        mobile: '919650186697',
        type: 'text',
        text: 'hello',
        waNumber: '919319278973',
        timestamp: '100000000000000000000',
      }),
    );
    expect(message.text).toBe('hello');
    expect(message.timestamp).toBeNull();
  });

  it('normalises destAddr to digits and upper-cases the event type', () => {
    const [report] = reports(
      parse(
        JSON_TYPE,
        JSON.stringify(reportList(1, { destAddr: '+91 96501 86697', eventType: 'read' })),
      ),
    );
    expect(report?.destAddr).toBe('919650186697');
    expect(report?.eventType).toBe('READ');
  });

  it.each([
    ['no externalId', { externalId: undefined }, 'response[0].externalId'],
    ['an empty externalId', { externalId: '' }, 'response[0].externalId'],
    ['no eventType', { eventType: undefined }, 'response[0].eventType'],
    ['an object as eventType', { eventType: { a: 1 } }, 'response[0].eventType'],
  ])('rejects a report with %s, naming the field', (_label, patch, path) => {
    const form = new URLSearchParams({ response: JSON.stringify(reportList(1, patch)) }).toString();
    const why = reason(parse(FORM, form));
    expect(why).toContain(path);
    // Reasons are logged and returned: they never quote values such as phone numbers.
    expect(why).not.toContain('919650186697');
  });

  it('acknowledges an empty batch with no events', () => {
    expect(events(parse(FORM, 'response=%5B%5D'))).toEqual([]);
  });
});

describe('enterprise inbound messages', () => {
  it("reads the seed's button reply", () => {
    const message = inbound(parse(JSON_TYPE, JSON.stringify(inboundButton)));
    expect(message).toEqual({
      source: 'enterprise',
      messageId: '376937873247896673',
      replyId: '4921687316728868875',
      contextId: 'gBEGkZZQGGaXAgkHASKxKpM-kA4',
      contextGsId: null,
      mobile: '919650186697',
      userId: null,
      waNumber: '919319278973',
      name: 'Lakshay',
      type: 'button',
      text: null,
      buttonText: 'Select new delivery date',
      buttonPayload: null,
      interactiveId: null,
      interactiveTitle: null,
      postbackText: null,
      media: null,
      location: null,
      timestamp: 1686222621000,
    } satisfies InboundMessage);
  });

  it("reads the seed's interactive date reply, with the postback text inside the reply id", () => {
    const message = inbound(parse(JSON_TYPE, JSON.stringify(inboundDate)));
    expect(message.type).toBe('interactive');
    expect(message.interactiveTitle).toBe('10 June 2023');
    expect(message.postbackText).toBe('10 June 2023');
    expect(JSON.parse(message.interactiveId!)).toMatchObject({
      msgid: 'b2fab0a7-4ae6-4dc6-b749-6d1c57f932fa',
    });
    expect(message.contextId).toBe('gBEGkZZQGGaXAglFLznXQ0Oi4Y4');
    expect(message.messageId).toBeNull();
    expect(message.timestamp).toBe(1686222630000);
  });

  it("reads the seed's image, document and location replies", () => {
    const image = inbound(parse(JSON_TYPE, JSON.stringify(inboundImage)));
    expect(image.type).toBe('image');
    expect(image.media).toEqual({
      id: null,
      mimeType: 'image/jpeg',
      url: expect.stringContaining('4925813498683490963') as string,
      caption: null,
    });
    const document = inbound(parse(JSON_TYPE, JSON.stringify(inboundDocument)));
    expect(document.type).toBe('document');
    expect(document.media).toMatchObject({ mimeType: 'text/csv', caption: 'cancelled_status' });
    const location = inbound(parse(JSON_TYPE, JSON.stringify(inboundLocation)));
    expect(location.type).toBe('location');
    expect(location.location).toEqual({
      latitude: 28.50553321838379,
      longitude: 77.08879089355469,
      name: null,
      address: null,
    });
    expect(location.media).toBeNull();
  });

  it('reads the same fields as a form body and as a GET query (the token is not a field)', () => {
    const fields = inboundButton as Record<string, string>;
    const fromJson = inbound(parse(JSON_TYPE, JSON.stringify(fields)));
    const fromForm = inbound(parse(FORM, new URLSearchParams(fields).toString(), { token: 't' }));
    const fromQuery = inbound(parse(undefined, null, { ...fields, token: 'secret' }));
    expect(fromForm).toEqual(fromJson);
    expect(fromQuery).toEqual(fromJson);
  });

  it('takes object-ish fields as objects as well as JSON strings', () => {
    const asObjects = {
      ...inboundDate,
      interactive: JSON.parse(inboundDate.interactive) as unknown,
      context: JSON.parse(inboundDate.context) as unknown,
    };
    expect(inbound(parse(JSON_TYPE, JSON.stringify(asObjects)))).toEqual(
      inbound(parse(JSON_TYPE, JSON.stringify(inboundDate))),
    );
    const button = {
      ...inboundButton,
      button: { text: 'Reattempt delivery', payload: 'reattempt' },
    };
    const message = inbound(parse(JSON_TYPE, JSON.stringify(button)));
    expect([message.buttonText, message.buttonPayload]).toEqual([
      'Reattempt delivery',
      'reattempt',
    ]);
  });

  it("reads the reference file's examples: text with replyId, list reply, location with name, image object", () => {
    const base = {
      waNumber: '918000011111',
      mobile: '+91 98123 45678',
      name: 'Asha',
      timestamp: '1716451200000',
    };
    const text = inbound(
      parse(
        JSON_TYPE,
        JSON.stringify({
          ...base,
          type: 'text',
          text: 'Please deliver tomorrow after 6pm',
          messageId: 'ABEGkZlXkHkdAgo6Kz8Yf9Qp',
          replyId: '4917235501923374210-118734002957163221',
        }),
      ),
    );
    expect(text).toMatchObject({
      type: 'text',
      mobile: '919812345678',
      text: 'Please deliver tomorrow after 6pm',
      replyId: '4917235501923374210-118734002957163221',
    });
    const list = inbound(
      parse(
        JSON_TYPE,
        JSON.stringify({
          ...base,
          type: 'interactive',
          interactive:
            '{"type":"list_reply","list_reply":{"id":"reattempt","title":"Re-attempt","description":"x"}}',
        }),
      ),
    );
    expect([list.interactiveId, list.interactiveTitle, list.postbackText]).toEqual([
      'reattempt',
      'Re-attempt',
      null,
    ]);
    const location = inbound(
      parse(
        JSON_TYPE,
        JSON.stringify({
          ...base,
          type: 'location',
          location:
            '{"latitude":12.9719,"longitude":77.6412,"name":"Home","address":"4th Cross, Indiranagar"}',
        }),
      ),
    );
    expect(location.location).toEqual({
      latitude: 12.9719,
      longitude: 77.6412,
      name: 'Home',
      address: '4th Cross, Indiranagar',
    });
    const image = inbound(
      parse(
        JSON_TYPE,
        JSON.stringify({
          ...base,
          type: 'image',
          image: {
            mime_type: 'image/jpeg',
            url: 'https://media.example/1',
            signature: 'sig',
            caption: 'gate photo',
          },
        }),
      ),
    );
    expect(image.media).toEqual({
      id: null,
      mimeType: 'image/jpeg',
      url: 'https://media.example/1',
      caption: 'gate photo',
    });
  });

  it('maps unknown message types to unknown rather than refusing them', () => {
    const message = inbound(
      parse(JSON_TYPE, JSON.stringify({ mobile: '919650186697', type: 'reaction' })),
    );
    expect(message.type).toBe('unknown');
  });

  it.each([
    ['a mobile that is not a number', { ...inboundButton, mobile: 'abc' }, 'mobile'],
    ['no type', { ...inboundButton, type: undefined }, 'type'],
    ['a location that is not JSON', { ...inboundLocation, location: 'near the gate' }, 'location'],
    [
      'a location without longitude',
      { ...inboundLocation, location: '{"latitude":1}' },
      'location.longitude',
    ],
    ['interactive that is not JSON', { ...inboundDate, interactive: '{oops' }, 'interactive'],
  ])('rejects an inbound message with %s', (_label, body, path) => {
    const why = reason(parse(JSON_TYPE, JSON.stringify(body)));
    expect(why.startsWith(path)).toBe(true);
    expect(why).not.toContain('919650186697');
  });

  it('says what is wrong in words of its own', () => {
    expect(reason(parse(JSON_TYPE, JSON.stringify({ ...inboundButton, mobile: '12ab' })))).toBe(
      'mobile: must be a phone number',
    );
    expect(
      reason(parse(JSON_TYPE, JSON.stringify({ ...inboundLocation, location: 'near the gate' }))),
    ).toBe('location: must be an object or a JSON string holding one');
  });
});

describe('enterprise fixtures (test/fixtures/webhook/enterprise-*.json)', () => {
  const OUR_ID = '4917235501923374210-118734002957163221';
  const expected: Record<string, Partial<InboundMessage>> = {
    'enterprise-button-reply.json': {
      type: 'interactive',
      messageId: 'ABEGkZlXkHkdAgo6Ent0001',
      replyId: OUR_ID,
      interactiveId: 'ndr:SHP-1001:reattempt',
      interactiveTitle: 'Reattempt delivery',
      postbackText: null,
    },
    'enterprise-button-reply-postback.json': {
      type: 'interactive',
      interactiveId: 'btn-2',
      interactiveTitle: 'Select new delivery date',
      postbackText: 'reschedule',
    },
    'enterprise-list-reply.json': {
      type: 'interactive',
      interactiveId: 'reattempt',
      interactiveTitle: 'Re-attempt',
      postbackText: null,
    },
    'enterprise-list-reply-postback.json': {
      type: 'interactive',
      interactiveId: 'row-3',
      interactiveTitle: '14 June 2026',
      postbackText: '2026-06-14',
    },
    'enterprise-list-reply-json-id.json': {
      type: 'interactive',
      messageId: null,
      contextId: 'gBEGkZZQGGaXAglEnt0005',
      interactiveTitle: '15 June 2026',
      postbackText: '15 June 2026',
    },
    'enterprise-button-template.json': {
      type: 'button',
      replyId: '4917235501923374210',
      contextId: 'gBEGkZZQGGaXAglEnt0006',
      buttonText: 'Cancel my order',
      buttonPayload: 'ndr-cancel',
    },
    'enterprise-button-bare-string.json': {
      type: 'button',
      buttonText: 'Raise a concern',
      buttonPayload: null,
    },
    'enterprise-button-object.json': {
      type: 'button',
      buttonText: 'Reattempt delivery',
      buttonPayload: 'ndr-reattempt',
    },
  };

  it('has an expectation for every enterprise fixture', () => {
    expect(Object.keys(expected).sort()).toEqual(webhookFixtureNames('enterprise-'));
  });

  it.each(Object.entries(expected))('reads %s', (name, fields) => {
    const fixture = webhookFixture(name);
    const message = inbound(parseJson(fixture));
    expect(message).toMatchObject({
      source: 'enterprise',
      mobile: '919812345678',
      userId: null,
      waNumber: '918000011111',
      name: 'Asha',
      ...fields,
    });
    expect(message.timestamp).toBe(Number(fixture.timestamp));
    // Gupshup posts the same fields as a form (object-ish fields as JSON strings).
    if (formEncodable(fixture)) {
      expect(inbound(parse(FORM, new URLSearchParams(fixture).toString()))).toEqual(message);
    }
  });

  it('keeps a JSON reply id whole, beside the postback text read from it', () => {
    const message = inbound(parseJson(webhookFixture('enterprise-list-reply-json-id.json')));
    expect(JSON.parse(message.interactiveId!)).toEqual({
      msgid: '3f6c1d2e-7a8b-4c9d-8e0f-1a2b3c4d5e6f',
      reply: '15 June 2026 2',
      postbackText: '15 June 2026',
    });
  });

  it('prefers a postbackText beside the id to one inside a JSON id', () => {
    const interactive = {
      type: 'button_reply',
      button_reply: {
        id: '{"msgid":"m1","postbackText":"inside"}',
        title: 'Reattempt delivery',
        postbackText: 'beside',
      },
    };
    const message = inbound(
      parseJson({ ...webhookFixture('enterprise-button-reply.json'), interactive }),
    );
    expect(message.postbackText).toBe('beside');
  });

  it("reads a Flow answer's body as the title and keeps nothing of its form data", () => {
    const interactive = JSON.stringify({
      type: 'nfm_reply',
      nfm_reply: { name: 'flow', body: 'Sent', response_json: '{"address":"12 Park Street"}' },
    });
    const message = inbound(
      parseJson({ ...webhookFixture('enterprise-button-reply.json'), interactive }),
    );
    expect([message.interactiveId, message.interactiveTitle, message.postbackText]).toEqual([
      null,
      'Sent',
      null,
    ]);
    expect(JSON.stringify(message)).not.toContain('Park Street');
  });
});
