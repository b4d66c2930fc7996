import { describe, expect, it } from 'vitest';

import { answerDetail, answerEvidence, sha256Hex } from './reply-evidence.ts';
import type { InboundMessage } from './webhook/events.ts';

const message: InboundMessage = {
  source: 'enterprise',
  messageId: 'm1',
  replyId: null,
  contextId: null,
  contextGsId: null,
  mobile: '919650186697',
  userId: null,
  waNumber: null,
  name: null,
  type: 'text',
  text: null,
  buttonText: null,
  buttonPayload: null,
  interactiveId: null,
  interactiveTitle: null,
  postbackText: null,
  media: null,
  location: null,
  timestamp: null,
};

describe('answerDetail', () => {
  it('is the date a numbered answer stood for, or the date typed', () => {
    const choice = { kind: 'intent', intent: { kind: 'choice', index: 2 }, signed: false } as const;
    expect(
      answerDetail({
        message,
        meaning: choice,
        request: { kind: 'ndr', action: 'RESCHEDULE', deliveryDate: '2023-06-10' },
      }),
    ).toBe('2023-06-10');
    expect(answerDetail({ message, meaning: choice })).toBe('2');
    expect(
      answerDetail({
        message,
        meaning: { kind: 'intent', intent: { kind: 'date', date: '2023-06-11' }, signed: true },
      }),
    ).toBe('2023-06-11');
  });

  it("is a concern's text, free text, or a location; null for a plain button", () => {
    expect(
      answerDetail({
        message,
        request: { kind: 'ndr', action: 'RAISE_CONCERN', remarks: 'the courier never came' },
      }),
    ).toBe('the courier never came');
    expect(
      answerDetail({
        message,
        meaning: { kind: 'intent', intent: { kind: 'text', text: 'x'.repeat(600) }, signed: false },
      }),
    ).toHaveLength(512);
    expect(
      answerDetail({
        message: {
          ...message,
          type: 'location',
          location: { latitude: 28.6, longitude: 77.2, name: null, address: null },
        },
        meaning: { kind: 'media' },
      }),
    ).toBe('28.6,77.2');
    expect(
      answerDetail({
        message,
        meaning: { kind: 'intent', intent: { kind: 'reattempt' }, signed: true },
        request: { kind: 'ndr', action: 'REATTEMPT' },
      }),
    ).toBeNull();
  });
});

describe('answerEvidence', () => {
  const row = {
    id: 1,
    replyId: 7,
    webhookEventId: 9,
    shipmentId: 'S-1',
    accountId: 379,
    attempt: 1,
    gupshupMessageId: '',
    callbackAt: null,
    choice: 'date',
    detail: '2023-06-10',
    bodySha256: sha256Hex('{"a":"é"}'),
    rawBody: '{"a":"é"}',
    erasedAt: null,
    createdAt: new Date('2026-12-01T00:00:00Z'),
  };

  it('checks the stored body against its hash, and shows no id as null', () => {
    expect(answerEvidence(row)).toMatchObject({ gupshupMessageId: null, hashMatches: true });
    expect(answerEvidence({ ...row, rawBody: '{"a":"e"}' }).hashMatches).toBe(false);
  });

  it('says null, not false, once the body is erased', () => {
    const erasedAt = new Date('2027-12-01T00:00:00Z');
    expect(answerEvidence({ ...row, rawBody: null, detail: null, erasedAt })).toMatchObject({
      rawBody: null,
      detail: null,
      hashMatches: null,
      erasedAt: erasedAt.toISOString(),
      bodySha256: row.bodySha256,
    });
  });
});
