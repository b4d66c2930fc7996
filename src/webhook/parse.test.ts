/**
 * The webhook parser on every shape Gupshup is known to send (the seed's fixtures and the
 * reference file's examples), and on what it must refuse.
 */
import { describe, expect, it } from 'vitest';

import dlrSent from '../../test/fixtures/gupshup-dlr-sent.json' with { type: 'json' };
import inboundButton from '../../test/fixtures/gupshup-inbound-button.json' with { type: 'json' };
import inboundDocument from '../../test/fixtures/gupshup-inbound-document.json' with { type: 'json' };
import inboundImage from '../../test/fixtures/gupshup-inbound-image.json' with { type: 'json' };
import inboundDate from '../../test/fixtures/gupshup-inbound-interactive-date.json' with { type: 'json' };
import inboundLocation from '../../test/fixtures/gupshup-inbound-location.json' with { type: 'json' };
import v2Text from '../../test/fixtures/gupshup-v2-inbound-text.json' with { type: 'json' };
import type { DeliveryReport, InboundMessage, WebhookEvent } from './events.ts';
import { eventKey, parseWebhook, type ParseResult } from './parse.ts';

const FORM = 'application/x-www-form-urlencoded';
const JSON_TYPE = 'application/json';
const SEED_ID = '4921687316728868875-376937873247896673';

function parse(
  contentType: string | undefined,
  body: string | null,
  query: Record<string, unknown> = {},
  maxEvents = 20,
): ParseResult {
  return parseWebhook(
    { contentType, body: body === null ? null : Buffer.from(body), query },
    { maxEvents },
  );
}

function events(result: ParseResult): WebhookEvent[] {
  if (!result.ok) {
    throw new Error(`expected ok, got: ${result.reason}`);
  }
  return result.events;
}

function reports(result: ParseResult): DeliveryReport[] {
  return events(result).map((e) => {
    if (e.kind !== 'dlr') {
      throw new Error('expected a delivery report');
    }
    return e.report;
  });
}

function inbound(result: ParseResult): InboundMessage {
  const list = events(result);
  expect(list).toHaveLength(1);
  const [event] = list;
  if (event?.kind !== 'inbound') {
    throw new Error('expected an inbound message');
  }
  return event.message;
}

function reason(result: ParseResult): string {
  if (result.ok) {
    throw new Error(`expected a rejection, got ${result.events.length} event(s)`);
  }
  return result.reason;
}

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

describe('self-serve v2 callbacks', () => {
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

  it.each(['user-event', 'billing-event', 'template-event', 'account-event'])(
    'acknowledges a %s with no event',
    (type) => {
      const body = envelope({ phone: '919812345678', type: 'opted-in' }, type);
      expect(events(parse(JSON_TYPE, JSON.stringify(body)))).toEqual([]);
    },
  );

  it('rejects a message-event without an id', () => {
    const body = envelope({ type: 'sent', payload: { ts: 1 } });
    expect(reason(parse(JSON_TYPE, JSON.stringify(body)))).toBe('payload.id: is required');
  });
});

describe('what is not a Gupshup callback', () => {
  it.each([
    ['text that is not JSON', 'text/plain', 'hello there'],
    ['broken JSON', JSON_TYPE, '{"response": '],
    ['a JSON string', JSON_TYPE, '"hello"'],
    ['a JSON number', JSON_TYPE, '42'],
    ['JSON null', JSON_TYPE, 'null'],
    ['a form with only __proto__', FORM, '__proto__=1&constructor=2'],
    ['an unrelated object', JSON_TYPE, '{"foo": 1}'],
    ['an array of numbers', JSON_TYPE, '[1, 2]'],
    ['response that is not JSON', FORM, 'response=nope'],
    ['response that is an object', JSON_TYPE, '{"response": {"externalId": "x"}}'],
    ['a form without known fields', FORM, 'a=1&b=2'],
    ['an empty POST body', JSON_TYPE, ''],
    ['a v3 (Meta-shaped) callback', JSON_TYPE, '{"object":"whatsapp_business_account","entry":[]}'],
  ])('rejects %s', (_label, type, body) => {
    expect(reason(parse(type, body)).length).toBeGreaterThan(0);
  });

  it('acknowledges a GET without fields (a URL check) with no event', () => {
    expect(events(parse(undefined, null, { token: 'secret' }))).toEqual([]);
  });
});

describe('eventKey', () => {
  const report = (patch: Partial<DeliveryReport> = {}): WebhookEvent => ({
    kind: 'dlr',
    report: { ...SEED_REPORT, ...patch },
  });

  it('keys a report by message id and event type only', () => {
    expect(eventKey(report())).toBe(
      eventKey(report({ eventTs: 1, cause: 'other', destAddr: null })),
    );
    expect(eventKey(report())).not.toBe(eventKey(report({ eventType: 'READ' })));
    expect(eventKey(report())).not.toBe(eventKey(report({ externalId: 'other' })));
    expect(eventKey(report())).toMatch(/^[0-9a-f]{64}$/);
  });

  it("keys an inbound message by Gupshup's message id, or by its content", () => {
    const button = events(parse(JSON_TYPE, JSON.stringify(inboundButton)))[0]!;
    expect(eventKey(button)).toBe('in|376937873247896673');
    const date = events(parse(JSON_TYPE, JSON.stringify(inboundDate)))[0]!;
    const again = events(parse(FORM, new URLSearchParams(inboundDate).toString()))[0]!;
    expect(eventKey(date)).toMatch(/^in\|sha256:[0-9a-f]{64}$/);
    expect(eventKey(again)).toBe(eventKey(date));
    const later = events(
      parse(JSON_TYPE, JSON.stringify({ ...inboundDate, timestamp: '1686222631000' })),
    )[0]!;
    expect(eventKey(later)).not.toBe(eventKey(date));
  });

  it('stays within 191 characters for a very long message id', () => {
    const long = events(
      parse(JSON_TYPE, JSON.stringify({ ...inboundButton, messageId: 'x'.repeat(128) })),
    )[0]!;
    expect(eventKey(long).length).toBeLessThanOrEqual(191);
    expect(eventKey(long)).not.toBe(eventKey(button()));
  });

  function button(): WebhookEvent {
    return events(parse(JSON_TYPE, JSON.stringify(inboundButton)))[0]!;
  }
});
