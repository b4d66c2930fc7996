/**
 * The reply rule table: what a customer's reply asks the service to do, given what the
 * conversation is waiting for. Pure (no I/O, no clock): the `reply.route` worker reads the reply
 * (src/replies/intent.ts for words, src/replies/postback.ts for signed taps), hands the meaning
 * and the conversation's state here, and carries out the request it gets back.
 *
 * | reply                              | idle            | awaiting a date        | awaiting a concern |
 * | ---------------------------------- | --------------- | ---------------------- | ------------------ |
 * | reattempt / cancel                 | REATTEMPT/CANCEL (any state)                                    |
 * | new date                           | offer dates (any state)                                         |
 * | update address / alternate number  | portal link (any state)                                         |
 * | raise a concern                    | ask for it (any state)                                          |
 * | a date within the courier's window | RESCHEDULE to it (any state)                                    |
 * | a date outside it                  | say so, offer dates again (any state)                           |
 * | a number ("2")                     | nothing         | RESCHEDULE to that row | nothing            |
 * | free text                          | nothing         | nothing                | RAISE_CONCERN      |
 * | media (image, location, …)         | nothing (logged) (any state)                                    |
 * | a tap whose signature fails        | refused, never acted on (any state)                             |
 */
import type { NdrAction } from '../wms/client.ts';
import { isWithinHorizon } from './dates.ts';
import type { Intent } from './intent.ts';

/** What the conversation waits for from the customer. */
export interface ConversationState {
  awaiting: 'date' | 'concern' | null;
  /** The dates last offered, in the order they were numbered (`YYYY-MM-DD`). */
  offeredDates: readonly string[];
}

/** What a reply means before the conversation's state is taken into account. */
export type ReplyMeaning =
  /** Words or a tap; `signed` when it came from a postback that passed its check. */
  | { kind: 'intent'; intent: Intent; signed: boolean }
  /** An image, document, location, … : logged only. */
  | { kind: 'media' }
  /** A tap carrying a postback that failed its check: treated as free text, never acted on. */
  | { kind: 'forged'; reason: string };

/** What to do. `none` and `refused` are not acted on (a refusal is said on the timeline). */
export type Request =
  | { kind: 'ndr'; action: NdrAction; deliveryDate?: string; remarks?: string }
  | { kind: 'offer_dates' }
  | { kind: 'portal_link'; why: 'update_address' | 'alternate_number' }
  | { kind: 'ask_concern' }
  | { kind: 'invalid_date'; date: string }
  | { kind: 'none'; note: string }
  | { kind: 'refused'; code: 'invalid_postback' | 'other_sender'; reason: string };

export function isActionable(request: Request): boolean {
  return request.kind !== 'none' && request.kind !== 'refused';
}

/**
 * The request a reply makes. `at` is when the customer replied (it decides which dates are still
 * within `horizonDays`, capped at the courier's limit).
 */
export function decide(
  state: ConversationState,
  meaning: ReplyMeaning,
  opts: { at: Date; horizonDays: number },
): Request {
  if (meaning.kind === 'media') {
    return { kind: 'none', note: 'media is logged, not acted on' };
  }
  if (meaning.kind === 'forged') {
    return { kind: 'refused', code: 'invalid_postback', reason: meaning.reason };
  }
  const { intent } = meaning;
  switch (intent.kind) {
    case 'reattempt':
      return { kind: 'ndr', action: 'REATTEMPT' };
    case 'cancel':
      return { kind: 'ndr', action: 'CANCEL' };
    case 'reschedule':
      return { kind: 'offer_dates' };
    case 'update_address':
    case 'alternate_number':
      return { kind: 'portal_link', why: intent.kind };
    case 'raise_concern':
      return { kind: 'ask_concern' };
    case 'date':
      return isWithinHorizon(intent.date, opts.at, opts.horizonDays)
        ? { kind: 'ndr', action: 'RESCHEDULE', deliveryDate: intent.date }
        : { kind: 'invalid_date', date: intent.date };
    case 'choice': {
      const date = state.awaiting === 'date' ? state.offeredDates[intent.index - 1] : undefined;
      if (date === undefined) {
        return { kind: 'none', note: 'a number that chooses nothing' };
      }
      return isWithinHorizon(date, opts.at, opts.horizonDays)
        ? { kind: 'ndr', action: 'RESCHEDULE', deliveryDate: date }
        : { kind: 'invalid_date', date };
    }
    case 'text':
      return state.awaiting === 'concern' && intent.text !== ''
        ? { kind: 'ndr', action: 'RAISE_CONCERN', remarks: intent.text }
        : { kind: 'none', note: 'free text' };
  }
}

/** How a reply found its conversation. */
export type BoundBy = 'postback' | 'reply_id' | 'context_id' | 'number';

/**
 * Whether a reply comes from its conversation's customer. A reply names a conversation by a
 * postback, a reply id or a context id, none of which proves who sent it, and whoever holds the
 * webhook token can post one: so its number must be the customer's. Without a number (Meta
 * withholds it for users with a username) the business-scoped user id must be the one already
 * seen for this customer; a conversation that has seen none accepts it only through a signed
 * postback, which only the customer was sent (and then learns it).
 */
export function checkSender(
  conversation: { customerNumber: string; customerUserId: string | null },
  message: { mobile: string | null; userId: string | null },
  by: BoundBy,
): 'same' | 'learn_user_id' | 'other' {
  if (message.mobile !== null) {
    if (message.mobile !== conversation.customerNumber) {
      return 'other';
    }
    return message.userId !== null && conversation.customerUserId === null
      ? 'learn_user_id'
      : 'same';
  }
  if (message.userId === null) {
    return 'other';
  }
  if (conversation.customerUserId !== null) {
    return message.userId === conversation.customerUserId ? 'same' : 'other';
  }
  return by === 'postback' ? 'learn_user_id' : 'other';
}
