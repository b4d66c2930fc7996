import { describe, expect, it } from 'vitest';

import {
  checkSender,
  decide,
  isActionable,
  type ConversationState,
  type ReplyMeaning,
  type Request,
} from './rules.ts';

const at = new Date('2023-06-08T10:00:00Z');
const opts = { at, horizonDays: 6 };
const offered = ['2023-06-09', '2023-06-10', '2023-06-12'];

const STATES: Record<string, ConversationState> = {
  idle: { awaiting: null, offeredDates: [] },
  date: { awaiting: 'date', offeredDates: offered },
  concern: { awaiting: 'concern', offeredDates: offered },
};

const word = (intent: Extract<ReplyMeaning, { kind: 'intent' }>['intent']): ReplyMeaning => ({
  kind: 'intent',
  intent,
  signed: false,
});

const REPLIES: Record<string, ReplyMeaning> = {
  reattempt: word({ kind: 'reattempt' }),
  cancel: word({ kind: 'cancel' }),
  newDate: word({ kind: 'reschedule' }),
  address: word({ kind: 'update_address' }),
  alternate: word({ kind: 'alternate_number' }),
  concern: word({ kind: 'raise_concern' }),
  dateIn: word({ kind: 'date', date: '2023-06-10' }),
  dateOut: word({ kind: 'date', date: '2023-06-30' }),
  dateSigned: { kind: 'intent', intent: { kind: 'date', date: '2023-06-12' }, signed: true },
  choice2: word({ kind: 'choice', index: 2 }),
  choice9: word({ kind: 'choice', index: 9 }),
  text: word({ kind: 'text', text: 'the agent never came' }),
  media: { kind: 'media' },
  forged: { kind: 'forged', reason: 'the choice token signature does not match' },
};

const REATTEMPT: Request = { kind: 'ndr', action: 'REATTEMPT' };
const CANCEL: Request = { kind: 'ndr', action: 'CANCEL' };
const OFFER: Request = { kind: 'offer_dates' };
const ADDRESS: Request = { kind: 'portal_link', why: 'update_address' };
const ALTERNATE: Request = { kind: 'portal_link', why: 'alternate_number' };
const ASK: Request = { kind: 'ask_concern' };
const ON_10: Request = { kind: 'ndr', action: 'RESCHEDULE', deliveryDate: '2023-06-10' };
const ON_12: Request = { kind: 'ndr', action: 'RESCHEDULE', deliveryDate: '2023-06-12' };
const OUT: Request = { kind: 'invalid_date', date: '2023-06-30' };
const NUMBER_NOTHING: Request = { kind: 'none', note: 'a number that chooses nothing' };
const TEXT_NOTHING: Request = { kind: 'none', note: 'free text' };
const MEDIA: Request = { kind: 'none', note: 'media is logged, not acted on' };
const FORGED: Request = {
  kind: 'refused',
  code: 'invalid_postback',
  reason: 'the choice token signature does not match',
};
const CONCERN: Request = { kind: 'ndr', action: 'RAISE_CONCERN', remarks: 'the agent never came' };

/** Every reply in every state: [reply, idle, awaiting a date, awaiting a concern]. */
const TABLE: ReadonlyArray<[keyof typeof REPLIES, Request, Request, Request]> = [
  ['reattempt', REATTEMPT, REATTEMPT, REATTEMPT],
  ['cancel', CANCEL, CANCEL, CANCEL],
  ['newDate', OFFER, OFFER, OFFER],
  ['address', ADDRESS, ADDRESS, ADDRESS],
  ['alternate', ALTERNATE, ALTERNATE, ALTERNATE],
  ['concern', ASK, ASK, ASK],
  ['dateIn', ON_10, ON_10, ON_10],
  ['dateOut', OUT, OUT, OUT],
  ['dateSigned', ON_12, ON_12, ON_12],
  ['choice2', NUMBER_NOTHING, ON_10, NUMBER_NOTHING],
  ['choice9', NUMBER_NOTHING, NUMBER_NOTHING, NUMBER_NOTHING],
  ['text', TEXT_NOTHING, TEXT_NOTHING, CONCERN],
  ['media', MEDIA, MEDIA, MEDIA],
  ['forged', FORGED, FORGED, FORGED],
];

describe('the reply rule table', () => {
  for (const [reply, idle, date, concern] of TABLE) {
    it(`${reply}: idle, awaiting a date, awaiting a concern`, () => {
      expect(decide(STATES.idle!, REPLIES[reply]!, opts)).toEqual(idle);
      expect(decide(STATES.date!, REPLIES[reply]!, opts)).toEqual(date);
      expect(decide(STATES.concern!, REPLIES[reply]!, opts)).toEqual(concern);
    });
  }

  it('covers every reply in the table', () => {
    expect(TABLE.map(([reply]) => reply).sort()).toEqual(Object.keys(REPLIES).sort());
  });

  it('offers again a numbered date that has passed since it was offered', () => {
    const later = { at: new Date('2023-06-11T10:00:00Z'), horizonDays: 6 };
    expect(decide(STATES.date!, REPLIES.choice2!, later)).toEqual({
      kind: 'invalid_date',
      date: '2023-06-10',
    });
  });

  it('does not raise an empty concern', () => {
    expect(decide(STATES.concern!, word({ kind: 'text', text: '' }), opts)).toEqual(TEXT_NOTHING);
  });

  it('acts on every request but nothing and refusals', () => {
    expect(isActionable(REATTEMPT)).toBe(true);
    expect(isActionable(OUT)).toBe(true);
    expect(isActionable(TEXT_NOTHING)).toBe(false);
    expect(isActionable(FORGED)).toBe(false);
  });
});

describe('who may answer a conversation', () => {
  const known = { customerNumber: '919811100001', customerUserId: 'IN.1648e1a2b3c4' };
  const unknown = { customerNumber: '919811100001', customerUserId: null };
  const from = (mobile: string | null, userId: string | null = null) => ({ mobile, userId });

  it("takes the customer's own number, however the reply was bound", () => {
    for (const by of ['postback', 'reply_id', 'context_id', 'number'] as const) {
      expect(checkSender(known, from('919811100001'), by)).toBe('same');
      expect(checkSender(known, from('919822200002'), by)).toBe('other');
    }
  });

  it('learns the user id that comes with the right number', () => {
    expect(checkSender(unknown, from('919811100001', 'IN.77'), 'reply_id')).toBe('learn_user_id');
    expect(checkSender(known, from('919811100001', 'IN.77'), 'reply_id')).toBe('same');
  });

  it('without a number, wants the user id already seen, or a signed postback', () => {
    expect(checkSender(known, from(null, 'IN.1648e1a2b3c4'), 'context_id')).toBe('same');
    expect(checkSender(known, from(null, 'IN.other'), 'postback')).toBe('other');
    expect(checkSender(unknown, from(null, 'IN.77'), 'postback')).toBe('learn_user_id');
    expect(checkSender(unknown, from(null, 'IN.77'), 'reply_id')).toBe('other');
    expect(checkSender(unknown, from(null, null), 'postback')).toBe('other');
  });
});
