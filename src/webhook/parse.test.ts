/**
 * The webhook parser's own part (src/webhook/parse.ts): every fixture of every format is
 * accepted, what is none of them is refused, and the durable keys of events. The formats have
 * their own tests (enterprise.test.ts, v2.test.ts, v3.test.ts).
 */
import { createHash } from 'node:crypto';

import { describe, expect, it } from 'vitest';

import inboundButton from '../../test/fixtures/gupshup-inbound-button.json' with { type: 'json' };
import inboundDate from '../../test/fixtures/gupshup-inbound-interactive-date.json' with { type: 'json' };
import {
  events,
  FORM,
  formEncodable,
  JSON_TYPE,
  parse,
  parseJson,
  reason,
  webhookFixture,
  webhookFixtureNames,
} from '../../test/helpers/webhook.ts';
import type { DeliveryReport, WebhookEvent } from './events.ts';
import { eventKey } from './parse.ts';

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

describe('every callback format Gupshup posts', () => {
  it.each(webhookFixtureNames())('accepts %s as JSON (and as a form, when flat)', (name) => {
    const fixture = webhookFixture(name);
    const list = events(parseJson(fixture));
    expect(list.length).toBeGreaterThan(0);
    if (formEncodable(fixture)) {
      expect(events(parse(FORM, new URLSearchParams(fixture).toString()))).toEqual(list);
    }
  });

  it('sends each format to its own reader', () => {
    const source = (name: string) => {
      const [event] = events(parseJson(webhookFixture(name)));
      return event?.kind === 'dlr'
        ? event.report.source
        : event?.kind === 'inbound'
          ? event.message.source
          : event?.kind === 'ignored'
            ? event.ignored.source
            : event?.event.source;
    };
    expect(source('enterprise-list-reply.json')).toBe('enterprise');
    expect(source('v2-user-event-opted-out.json')).toBe('v2');
    expect(source('v3-status-sent.json')).toBe('v3');
    expect(source('v3-platform-event.json')).toBe('v3');
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
    [
      'a v3 body that is not an object',
      JSON_TYPE,
      '{"object":"whatsapp_business_account","entry":"x"}',
    ],
    ['a v2 envelope without a type', JSON_TYPE, '{"app":"x","version":2,"type":3,"payload":{}}'],
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

  it('keeps the key of a report: sha256 of dlr|externalId|eventType', () => {
    expect(eventKey(report())).toBe(
      createHash('sha256').update(`dlr|${SEED_ID}|SENT`).digest('hex'),
    );
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

  it('keys the same report alike whatever format brought it', () => {
    expect(eventKey(report({ source: 'v3', srcAddr: null }))).toBe(eventKey(report()));
  });

  it('keys a user event by its type, number and time, without the number in the key', () => {
    const optOut = events(parseJson(webhookFixture('v2-user-event-opted-out.json')))[0]!;
    expect(eventKey(optOut)).toMatch(/^user\|sha256:[0-9a-f]{64}$/);
    const optIn = events(parseJson(webhookFixture('v2-user-event-opted-in.json')))[0]!;
    expect(eventKey(optIn)).not.toBe(eventKey(optOut));
    const again = webhookFixture('v2-user-event-opted-out.json');
    expect(eventKey(events(parseJson({ ...again, app: 'Renamed' }))[0]!)).toBe(eventKey(optOut));
    expect(eventKey(events(parseJson({ ...again, timestamp: 1 }))[0]!)).not.toBe(eventKey(optOut));
  });

  it('keys a billing event by its message id and time, or by its content', () => {
    const billing = events(parseJson(webhookFixture('v2-billing-event.json')))[0]!;
    expect(eventKey(billing)).toMatch(/^billing\|sha256:[0-9a-f]{64}$/);
    const unknown = events(parseJson(webhookFixture('v2-billing-event-unknown.json')))[0]!;
    expect(eventKey(unknown)).toMatch(/^billing\|sha256:[0-9a-f]{64}$/);
    expect(eventKey(unknown)).not.toBe(eventKey(billing));
  });

  it('keys an ignored callback by its summary', () => {
    const echo = events(parseJson(webhookFixture('v3-echo.json')))[0]!;
    const field = events(parseJson(webhookFixture('v3-other-field.json')))[0]!;
    expect(eventKey(echo)).toMatch(/^ignored\|sha256:[0-9a-f]{64}$/);
    expect(eventKey(echo)).not.toBe(eventKey(field));
  });

  it('gives every event of every fixture a key of at most 191 characters', () => {
    for (const name of webhookFixtureNames()) {
      for (const event of events(parseJson(webhookFixture(name)))) {
        expect(eventKey(event).length).toBeLessThanOrEqual(191);
      }
    }
  });

  function button(): WebhookEvent {
    return events(parse(JSON_TYPE, JSON.stringify(inboundButton)))[0]!;
  }
});
