/**
 * Signed postbacks: the ids the service puts on every list row and reply button it sends (and on
 * the `postbackText` of self-serve template buttons), so that a tap names its conversation, what
 * it asks for and the value chosen, and cannot be forged or altered.
 *
 * A token reads `wn1.<conversation>.<action><value>.<mac>`:
 * - `conversation` is the conversation's key in base 36: the outbox id of the FDR template
 *   message the conversation belongs to (known before that message is sent, so a template's own
 *   buttons can carry it too);
 * - `action` is one letter (see ACTION_CODES), `value` is the chosen date as `YYYYMMDD` or empty;
 * - `mac` is HMAC-SHA256 over everything before it, under POSTBACK_SECRET, cut to 96 bits and
 *   base64url-encoded (16 characters).
 * For example `wn1.2s.d20230614.Qm9vbGVhbkZhbHNl`, about 35 characters: well inside WhatsApp's
 * 200 (row id) and 256 (button id) limits.
 *
 * Used by src/replies/messages.ts (signing) and the `reply.route` worker (reading). Pure: the
 * secrets are passed in.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

import { fieldToMatch } from '../match-limit.ts';

export const POSTBACK_PREFIX = 'wn1.';

/** What a tap asks for. `date` carries the chosen date. */
export type PostbackAction =
  | 'reattempt'
  | 'reschedule'
  | 'date'
  | 'cancel'
  | 'concern'
  | 'update_address'
  | 'alternate_number';

export interface Postback {
  /** The conversation's key: the outbox id of its FDR template message. */
  conversation: number;
  action: PostbackAction;
  /** `YYYY-MM-DD`, for `date` only. */
  date?: string;
}

/** A secret to sign with, and older ones still accepted while a rotation settles. */
export interface PostbackKeys {
  current: string;
  previous?: string | undefined;
}

/** What a field held: no token, a token that checks, or one that does not (never acted on). */
export type PostbackReading =
  { kind: 'none' } | { kind: 'valid'; postback: Postback } | { kind: 'invalid'; reason: string };

const ACTION_CODES: Readonly<Record<PostbackAction, string>> = {
  reattempt: 'r',
  reschedule: 'n',
  date: 'd',
  cancel: 'c',
  concern: 'q',
  update_address: 'a',
  alternate_number: 'm',
};

const ACTIONS_BY_CODE: ReadonlyMap<string, PostbackAction> = new Map(
  Object.entries(ACTION_CODES).map(([action, code]) => [code, action as PostbackAction]),
);

const MAC_BYTES = 12;
const TOKEN = /^wn1\.([0-9a-z]{1,12})\.([a-z])(\d{8})?\.([A-Za-z0-9_-]{16})$/;
const ISO_DATE = /^(\d{4})-(\d{2})-(\d{2})$/;

/** The token for one choice. Throws on a date that is not `YYYY-MM-DD` (a programming error). */
export function signPostback(keys: PostbackKeys, postback: Postback): string {
  const body = tokenBody(postback);
  return `${body}.${mac(keys.current, body)}`;
}

/**
 * Reads one field of a reply. Anything that does not start like a token is `none`; a token
 * whose shape, action or signature is wrong is `invalid` with the reason (never the value).
 */
export function readPostback(
  keys: PostbackKeys,
  field: string | null | undefined,
): PostbackReading {
  const text = field?.trim() ?? '';
  if (!text.startsWith(POSTBACK_PREFIX)) {
    return { kind: 'none' };
  }
  // A token is a few dozen characters: a field longer than a KiB is malformed without matching.
  const match = fieldToMatch(text) === null ? null : TOKEN.exec(text);
  if (!match) {
    return { kind: 'invalid', reason: 'the choice token is malformed' };
  }
  const [, conversation = '', code = '', value, given = ''] = match;
  const body = text.slice(0, text.length - given.length - 1);
  const signed = [keys.current, keys.previous].some(
    (secret) => secret !== undefined && sameMac(mac(secret, body), given),
  );
  if (!signed) {
    return { kind: 'invalid', reason: 'the choice token signature does not match' };
  }
  const action = ACTIONS_BY_CODE.get(code);
  if (!action || (action === 'date') !== (value !== undefined)) {
    return { kind: 'invalid', reason: 'the choice token names no known action' };
  }
  const id = Number.parseInt(conversation, 36);
  if (!Number.isSafeInteger(id) || id < 1) {
    return { kind: 'invalid', reason: 'the choice token names no conversation' };
  }
  return {
    kind: 'valid',
    postback: {
      conversation: id,
      action,
      ...(value ? { date: `${value.slice(0, 4)}-${value.slice(4, 6)}-${value.slice(6)}` } : {}),
    },
  };
}

/**
 * The first token among several fields of one reply (an interactive id, a postback text, a
 * button payload): a valid one wins; else an invalid one is reported; else `none`.
 */
export function findPostback(
  keys: PostbackKeys,
  fields: ReadonlyArray<string | null | undefined>,
): PostbackReading {
  let invalid: PostbackReading | null = null;
  for (const field of fields) {
    const reading = readPostback(keys, field);
    if (reading.kind === 'valid') {
      return reading;
    }
    invalid ??= reading.kind === 'invalid' ? reading : null;
  }
  return invalid ?? { kind: 'none' };
}

function tokenBody(postback: Postback): string {
  if (!Number.isSafeInteger(postback.conversation) || postback.conversation < 1) {
    throw new RangeError(`not a conversation key: ${postback.conversation}`);
  }
  let value = '';
  if (postback.action === 'date') {
    const date = ISO_DATE.exec(postback.date ?? '');
    if (!date) {
      throw new RangeError('a date postback needs a YYYY-MM-DD date');
    }
    value = `${date[1]}${date[2]}${date[3]}`;
  }
  return `${POSTBACK_PREFIX}${postback.conversation.toString(36)}.${ACTION_CODES[postback.action]}${value}`;
}

function mac(secret: string, body: string): string {
  return createHmac('sha256', secret)
    .update(body)
    .digest()
    .subarray(0, MAC_BYTES)
    .toString('base64url');
}

function sameMac(expected: string, given: string): boolean {
  const a = Buffer.from(expected);
  const b = Buffer.from(given);
  return a.length === b.length && timingSafeEqual(a, b);
}

/**
 * The keys from configuration: POSTBACK_SECRET, else TRACK_LINK_SECRET (production requires
 * it), else a fixed development secret; POSTBACK_SECRET_PREVIOUS is still accepted.
 */
export function postbackKeys(config: {
  POSTBACK_SECRET?: string | undefined;
  POSTBACK_SECRET_PREVIOUS?: string | undefined;
  TRACK_LINK_SECRET?: string | undefined;
}): PostbackKeys {
  return {
    current: config.POSTBACK_SECRET ?? config.TRACK_LINK_SECRET ?? DEVELOPMENT_SECRET,
    previous: config.POSTBACK_SECRET_PREVIOUS,
  };
}

/** Outside production a fixed secret keeps local conversations working. */
const DEVELOPMENT_SECRET = 'development-only-postback-secret';
