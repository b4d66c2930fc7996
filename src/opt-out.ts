/**
 * Opt-out and opt-in keywords: whether a customer's message *is* one of the account's opt-out or
 * opt-in keywords (src/policy.ts `optOutKeywords`, `optInKeywords`). The whole message must be
 * the keyword: "STOP" and " stop " opt out, "please stop calling me" does not.
 *
 * Both sides are compared in one normal form: Unicode NFKC (so a keyword typed with decomposed
 * or compatibility characters — `बंद` with a separate nukta or anusvara, full-width `ＳＴＯＰ` —
 * matches the one configured), zero-width spaces and byte-order marks dropped, every run of
 * whitespace one space, trimmed, lower case. Zero-width (non-)joiners stay: in Devanagari they
 * change the word.
 *
 * Pure: the `reply.route` worker reads the message and acts on the answer.
 */
import { fieldToMatch } from './match-limit.ts';
import type { EffectivePolicy } from './policy.ts';
import type { InboundMessage } from './webhook/events.ts';

export type KeywordMatch = 'opt_out' | 'opt_in';

/** The form keywords and messages are compared in. */
export function normaliseKeyword(text: string): string {
  return text
    .normalize('NFKC')
    .replace(/[\u200B\uFEFF]/g, '')
    .replace(/\s+/gu, ' ')
    .trim()
    .toLowerCase();
}

/**
 * What a message's text is: an opt-out keyword, an opt-in keyword, or neither (null). A keyword
 * in both lists counts as opt-out: honouring a "stop" is the safe reading.
 */
export function matchKeyword(
  text: string | null,
  policy: Pick<EffectivePolicy, 'optOutKeywords' | 'optInKeywords'>,
): KeywordMatch | null {
  const field = text === null ? null : fieldToMatch(text);
  if (field === null) {
    return null;
  }
  const said = normaliseKeyword(field);
  if (said === '') {
    return null;
  }
  const is = (keywords: readonly string[]) => keywords.some((k) => normaliseKeyword(k) === said);
  if (is(policy.optOutKeywords)) {
    return 'opt_out';
  }
  return is(policy.optInKeywords) ? 'opt_in' : null;
}

/**
 * The words of a message that can be a keyword: a text message's text, or the title of a
 * quick-reply button the customer tapped (a template's "STOP" button). Media, locations and
 * interactive rows (our own lists and buttons, whose titles are ours) are never keywords.
 */
export function keywordText(message: Pick<InboundMessage, 'type' | 'text' | 'buttonText'>) {
  if (message.type === 'text') {
    return message.text;
  }
  return message.type === 'button' ? message.buttonText : null;
}
