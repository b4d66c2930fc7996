/**
 * Reads what a customer's WhatsApp reply asks for: one of the FDR template's quick-reply actions,
 * a delivery date, a numbered choice ("reply 1, 2 or 3"), or just text.
 *
 * Pure: the `reply.route` worker passes the normalised inbound message's fields (see
 * src/webhook/events.ts) and decides what to do with the intent; nothing here touches I/O.
 *
 * Matching is deliberately strict. A field must *be* an action phrase (after dropping case,
 * punctuation and filler words such as "please" or "my"), not merely contain one: free text like
 * "don't cancel my order" must never become a cancellation.
 *
 * A customer's text can be of any length: a field longer than a KiB (src/match-limit.ts) is no
 * action phrase, date or number, and no pattern runs on it. Every pattern here is anchored at the
 * start, and none has two adjacent quantifiers over the same characters, so each runs in time
 * linear in what it reads.
 */
import { fieldToMatch } from '../match-limit.ts';
import { addUtcDays, MONTH_NAMES, toIsoDate } from './dates.ts';

/** What a reply asks for. `date` is `YYYY-MM-DD`; `choice` is the 1-based number answered. */
export type Intent =
  | { kind: 'reattempt' }
  | { kind: 'reschedule' }
  | { kind: 'update_address' }
  | { kind: 'alternate_number' }
  | { kind: 'cancel' }
  | { kind: 'raise_concern' }
  | { kind: 'date'; date: string }
  | { kind: 'choice'; index: number }
  | { kind: 'text'; text: string };

export interface ReplyFields {
  buttonText?: string | null;
  buttonPayload?: string | null;
  interactiveTitle?: string | null;
  postbackText?: string | null;
  text?: string | null;
}

type ActionKind = Exclude<Intent['kind'], 'date' | 'choice' | 'text'>;

/**
 * Action phrases, already normalised (lower case, words separated by one space, filler words
 * removed: "Cancel my order" is listed as "cancel order"). The first phrase of each row is the
 * default template's button title (src/fdr/templates.ts); the rest are variants customers type or
 * that clients' own templates and payloads use (`RAISE_CONCERN` normalises to "raise concern").
 */
const ACTION_PHRASES: ReadonlyArray<{ kind: ActionKind; phrases: readonly string[] }> = [
  {
    kind: 'reattempt',
    phrases: [
      'reattempt delivery',
      'reattempt',
      're attempt',
      're attempt delivery',
      'retry',
      'retry delivery',
      'deliver again',
      'redeliver',
      'redelivery',
      'attempt again',
      'attempt delivery again',
      'try again',
    ],
  },
  {
    kind: 'reschedule',
    phrases: [
      'select new delivery date',
      'new delivery date',
      'select delivery date',
      'select new date',
      'select date',
      'choose date',
      'choose new date',
      'reschedule',
      'reschedule delivery',
      're schedule',
      'change delivery date',
      'change date',
      'another date',
      'new date',
      'different date',
      'later date',
      'deliver later',
    ],
  },
  {
    kind: 'update_address',
    phrases: [
      'update address',
      'update delivery address',
      'change address',
      'change delivery address',
      'edit address',
      'correct address',
      'new address',
      'address update',
      'address change',
      'address',
    ],
  },
  {
    kind: 'alternate_number',
    phrases: [
      'add alternate number',
      'alternate number',
      'add alternative number',
      'alternative number',
      'add alternate contact number',
      'alternate contact number',
      'alternate contact',
      'alternate mobile number',
      'add another number',
      'another number',
      'other number',
      'add number',
      'change number',
      'update number',
    ],
  },
  {
    kind: 'cancel',
    phrases: ['cancel order', 'cancel', 'cancel delivery', 'cancel shipment'],
  },
  {
    kind: 'raise_concern',
    phrases: [
      'raise concern',
      'concern',
      'raise issue',
      'issue',
      'raise complaint',
      'complaint',
      'talk to us',
      'talk to support',
      'contact support',
      'support',
      'help',
    ],
  },
];

/** Words that carry no meaning for the match; dropping them keeps the table short. */
const FILLER_WORDS = new Set([
  'a',
  'an',
  'the',
  'my',
  'me',
  'i',
  'want',
  'to',
  'would',
  'like',
  'please',
  'pls',
  'plz',
  'kindly',
]);

/** Relative day words a customer may type instead of a date, as days after today. */
const RELATIVE_DAYS: Readonly<Record<string, number>> = {
  today: 0,
  tomorrow: 1,
  'day after tomorrow': 2,
};

const PHRASE_TO_KIND: ReadonlyMap<string, ActionKind> = new Map(
  // Normalised like the replies they are compared with ("talk to us" is "talk us").
  ACTION_PHRASES.flatMap(({ kind, phrases }) =>
    phrases.map((phrase) => [normalisePhrase(phrase), kind] as const),
  ),
);

/** "jan" … "dec", full names and "sept" → month number. */
const MONTHS: ReadonlyMap<string, number> = new Map(
  MONTH_NAMES.flatMap((name, i) => {
    const lower = name.toLowerCase();
    const entries: Array<[string, number]> = [
      [lower, i + 1],
      [lower.slice(0, 3), i + 1],
    ];
    if (lower === 'september') {
      entries.push(['sept', i + 1]);
    }
    return entries;
  }),
);

const WEEKDAY_PREFIX =
  /^(?:mon|tue|tues|wed|thu|thur|thurs|fri|sat|sun)(?:day|sday|nesday|rsday|urday)?\b[\s,]*/;
const ISO_DATE = /^(\d{4})-(\d{1,2})-(\d{1,2})$/;
/** DD/MM/YYYY, DD-MM-YYYY or DD.MM.YYYY (Indian order, never MM/DD); the year may be omitted. */
const NUMERIC_DATE = /^(\d{1,2})[/.-](\d{1,2})(?:[/.-](\d{2}|\d{4}))?$/;
/** "10 June 2023", "10th Jun, 2023", "10-Jun-2023"; the year may be omitted. */
const DAY_MONTH_DATE = /^(\d{1,2})(?:st|nd|rd|th)?[\s/-]*([a-z]+)\.?(?:[\s,/-]+(\d{4}))?$/;
/** "June 10, 2023", "Jun 10th"; the year may be omitted. */
const MONTH_DAY_DATE = /^([a-z]+)\.?\s*(\d{1,2})(?:st|nd|rd|th)?(?:[\s,]+(\d{4}))?$/;
/** "1", "2 ", "3.", "(2)", "2)": numbered-choice answers; two digits at most. */
const CHOICE = /^\(?(\d{1,2})[.)]?$/;

/**
 * Classifies one reply. Fields are tried machine-set first (postback text, button payload), then
 * the titles the customer saw, then typed text; the first field that means something specific
 * wins, so a postback date beats an interactive title. `today` supplies the year of a date typed
 * without one and the meaning of "tomorrow"; it is read as a UTC calendar day.
 */
export function classifyReply(input: ReplyFields, today: Date): Intent {
  const fields = [
    input.postbackText,
    input.buttonPayload,
    input.interactiveTitle,
    input.buttonText,
    input.text,
  ];
  for (const field of fields) {
    const intent = field ? classifyField(field, today) : null;
    if (intent) {
      return intent;
    }
  }
  // Nothing specific: report what the customer wrote, or else the title they tapped.
  const shown = [input.text, input.buttonText, input.interactiveTitle, input.postbackText];
  const text = shown.map((s) => s?.trim() ?? '').find((s) => s !== '');
  return { kind: 'text', text: text ?? input.buttonPayload?.trim() ?? '' };
}

function classifyField(raw: string, today: Date): Intent | null {
  // Bounded before matching: an action phrase, a date or a number is short. A longer field is
  // not cut to fit, which could turn "cancel … not" into "cancel": it is free text.
  const field = fieldToMatch(raw.trim());
  if (field === null) {
    return null;
  }
  const trimmed = field.toLowerCase();
  const choice = CHOICE.exec(trimmed);
  if (choice) {
    const index = Number(choice[1]);
    return index >= 1 ? { kind: 'choice', index } : null;
  }
  const date = parseDate(trimmed, today);
  if (date) {
    return { kind: 'date', date };
  }
  const kind = PHRASE_TO_KIND.get(normalisePhrase(trimmed));
  return kind ? { kind } : null;
}

/** Lower case, punctuation (incl. `_` and `-`) as spaces, filler words dropped. */
function normalisePhrase(text: string): string {
  return text
    .split(/[^\p{L}\p{N}]+/u)
    .filter((word) => word !== '' && !FILLER_WORDS.has(word))
    .join(' ');
}

/** A date-looking field as `YYYY-MM-DD`, or null when it is not a real calendar date. */
function parseDate(lower: string, today: Date): string | null {
  const text = lower.replace(WEEKDAY_PREFIX, '').replace(/\s+/g, ' ').trim();

  const relative = RELATIVE_DAYS[text];
  if (relative !== undefined) {
    return addUtcDays(today, relative);
  }
  const iso = ISO_DATE.exec(text);
  if (iso) {
    return toIsoDate(Number(iso[1]), Number(iso[2]), Number(iso[3]));
  }
  const numeric = NUMERIC_DATE.exec(text);
  if (numeric) {
    return resolveDate(Number(numeric[1]), Number(numeric[2]), numeric[3], today);
  }
  const dayMonth = DAY_MONTH_DATE.exec(text);
  if (dayMonth) {
    const month = MONTHS.get(dayMonth[2] ?? '');
    return month ? resolveDate(Number(dayMonth[1]), month, dayMonth[3], today) : null;
  }
  const monthDay = MONTH_DAY_DATE.exec(text);
  if (monthDay) {
    const month = MONTHS.get(monthDay[1] ?? '');
    return month ? resolveDate(Number(monthDay[2]), month, monthDay[3], today) : null;
  }
  return null;
}

/**
 * Completes a day and month with a year: the one given (two digits mean 20xx), or else the first
 * year in which that day is not before today, since customers pick dates ahead of them.
 */
function resolveDate(
  day: number,
  month: number,
  year: string | undefined,
  today: Date,
): string | null {
  if (year !== undefined) {
    const full = year.length === 2 ? 2000 + Number(year) : Number(year);
    return toIsoDate(full, month, day);
  }
  const thisYear = today.getUTCFullYear();
  const candidate = toIsoDate(thisYear, month, day);
  if (candidate !== null && candidate >= addUtcDays(today, 0)) {
    return candidate;
  }
  // Also covers 29 February typed in a non-leap year: the next year may not have it either.
  return toIsoDate(thisYear + 1, month, day);
}
