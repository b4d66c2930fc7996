/**
 * Provider error codes as data: what the service does next when Gupshup refuses a send, or a
 * delivery report says a message failed. One row per code, one action per row; the `message.send`
 * worker and the `dlr.process` worker do what the row says (src/workers/send-errors.ts). Sources and
 * their numberings are kept apart: Enterprise error ids (`gupshup_<id>`, the gateway's answer to
 * a send) and Enterprise report codes (`errorCode` of a report) are different tables — 101 is
 * "a required parameter is missing" in one and "24 Hour exceeded" in the other.
 *
 * - `retry`: try again with the queue's backoff (the job uses an attempt).
 * - `slow_sender`: that sender's pace halves (src/sender-pace.ts), down to a floor, and recovers
 *   step by step once it has been quiet a minute; the message is tried again at the new pace.
 * - `delay_customer`: this message waits at least PAIR_GAP_MS after the previous one to that
 *   customer (a delayed job), and so do the next few to that customer.
 * - `pause_sender`: the sender is paused for every worker (src/sender-pause.ts): its messages wait
 *   as delayed jobs, none fails, until an operator resumes it or a probe succeeds.
 * - `not_on_whatsapp`: the number cannot receive: suppressed for that sender for
 *   UNDELIVERABLE_DAYS (`whatsapp_suppressions`, reason `not_on_whatsapp`); the message fails.
 * - `opted_out`: the customer refused messages: suppressed (reason `opted_out`) until lifted;
 *   the message fails.
 * - `window_closed`: a session message outside the customer's 24-hour window; fails, recorded
 *   as such, not retried.
 * - `frequency_capped`: Meta's per-user limit; fails, not retried.
 * - `template_refused`: the template is paused or did not match; fails, and the template is
 *   flagged (`whatsapp_templates.provider_flag`, shown on the settings page).
 * - `fail`: anything else: the message fails with the raw code.
 *
 * Reference: ../README.md "Provider errors" (the same table, for people).
 */

export const ERROR_ACTIONS = [
  'retry',
  'slow_sender',
  'delay_customer',
  'pause_sender',
  'not_on_whatsapp',
  'opted_out',
  'window_closed',
  'frequency_capped',
  'template_refused',
  'fail',
] as const;
export type ErrorAction = (typeof ERROR_ACTIONS)[number];

/**
 * Where a code comes from. `enterprise`: the gateway's error id answered to a send;
 * `enterprise_report`: the three-digit `errorCode` of an Enterprise delivery report; `v2`:
 * Gupshup's self-serve code (a failed message-event's `payload.code`, or a refused send's `code`);
 * `meta`: Meta's error code (v3 reports' `errors[].code`, passed through by v2); `http`: the HTTP
 * status of a send (`5xx` stands for every 5xx); `transport`: a send without a usable answer.
 */
export type ErrorSource = 'enterprise' | 'enterprise_report' | 'v2' | 'meta' | 'http' | 'transport';

export interface ErrorRow {
  source: ErrorSource;
  code: string;
  action: ErrorAction;
  /** What the code means, for people (the timeline, the log, the README). */
  meaning: string;
}

/** The minimum gap between two messages to one customer after Meta's 131056. */
export const PAIR_GAP_MS = 6_000;
/** How long a number that is not on WhatsApp stays suppressed for the sender. */
export const UNDELIVERABLE_DAYS = 30;

/** The table. A code in none of its rows gets `fail` (its raw code kept). */
export const ERROR_TABLE: readonly ErrorRow[] = [
  { source: 'enterprise', code: '100', action: 'retry', meaning: 'unknown exception, retry later' },
  { source: 'http', code: '5xx', action: 'retry', meaning: 'Gupshup server error' },
  { source: 'http', code: '408', action: 'retry', meaning: 'request timeout' },
  { source: 'transport', code: 'timeout', action: 'retry', meaning: 'no answer in time' },
  { source: 'transport', code: 'network', action: 'retry', meaning: 'connection broken' },
  { source: 'transport', code: 'unreachable', action: 'retry', meaning: 'Gupshup unreachable' },
  { source: 'transport', code: 'bad_response', action: 'retry', meaning: 'unreadable answer' },
  { source: 'transport', code: 'aborted', action: 'retry', meaning: 'the send was cut off' },

  { source: 'http', code: '429', action: 'slow_sender', meaning: 'too many requests' },
  { source: 'v2', code: '4001', action: 'slow_sender', meaning: 'Gupshup API rate limit' },
  { source: 'meta', code: '130429', action: 'slow_sender', meaning: 'WhatsApp throughput limit' },

  {
    source: 'meta',
    code: '131056',
    action: 'delay_customer',
    meaning: 'too many messages to this customer in a short time',
  },

  {
    source: 'enterprise',
    code: '102',
    action: 'pause_sender',
    meaning: 'authentication failed (invalid userid or password)',
  },
  {
    source: 'enterprise',
    code: '103',
    action: 'pause_sender',
    meaning: 'the userid does not exist',
  },
  { source: 'enterprise', code: '104', action: 'pause_sender', meaning: 'the user is disabled' },
  { source: 'enterprise', code: '123', action: 'pause_sender', meaning: 'insufficient credits' },
  {
    source: 'enterprise',
    code: '124',
    action: 'pause_sender',
    meaning: 'WhatsApp pack validity expired',
  },
  { source: 'v2', code: '1003', action: 'pause_sender', meaning: 'wallet balance low' },

  { source: 'v2', code: '1002', action: 'not_on_whatsapp', meaning: 'number not on WhatsApp' },
  {
    source: 'enterprise_report',
    code: '003',
    action: 'not_on_whatsapp',
    meaning: 'UNKNOWN_SUBSCRIBER (number not on WhatsApp)',
  },

  { source: 'v2', code: '1012', action: 'opted_out', meaning: 'the number opted out' },
  {
    source: 'meta',
    code: '131050',
    action: 'opted_out',
    meaning: 'the customer stopped marketing messages',
  },

  {
    source: 'enterprise_report',
    code: '101',
    action: 'window_closed',
    meaning: '24 Hour exceeded (outside the customer service window)',
  },
  {
    source: 'v2',
    code: '470',
    action: 'window_closed',
    meaning: 'more than 24 hours since the customer last wrote',
  },
  {
    source: 'meta',
    code: '131047',
    action: 'window_closed',
    meaning: 're-engagement message: more than 24 hours since the customer last wrote',
  },

  {
    source: 'meta',
    code: '131049',
    action: 'frequency_capped',
    meaning: 'not delivered to keep engagement healthy (per-user limit)',
  },

  { source: 'v2', code: '4003', action: 'template_refused', meaning: 'no template match' },
  { source: 'v2', code: '4005', action: 'template_refused', meaning: 'template paused' },
  {
    source: 'v2',
    code: '1005',
    action: 'template_refused',
    meaning: 'user inactive and the template did not match',
  },
  {
    source: 'v2',
    code: '1006',
    action: 'template_refused',
    meaning: 'user inactive and not opted in',
  },
  {
    source: 'v2',
    code: '1007',
    action: 'template_refused',
    meaning: 'user inactive, not opted in, and the template did not match',
  },
  {
    source: 'v2',
    code: '1008',
    action: 'template_refused',
    meaning: 'user neither proxied nor opted in',
  },
  {
    source: 'meta',
    code: '132000',
    action: 'template_refused',
    meaning: 'template parameter count mismatch',
  },
  {
    source: 'meta',
    code: '132001',
    action: 'template_refused',
    meaning: 'template does not exist',
  },
  { source: 'meta', code: '132015', action: 'template_refused', meaning: 'template paused' },
  { source: 'meta', code: '132016', action: 'template_refused', meaning: 'template disabled' },

  {
    source: 'enterprise',
    code: '175',
    action: 'fail',
    meaning: 'INTERNATIONAL_PHONE service disabled (re-queue once enabled)',
  },
];

const BY_KEY = new Map(ERROR_TABLE.map((row) => [`${row.source}:${row.code}`, row]));

/** What to do about one code: its row's action, or `fail` for a code no row names. */
export interface ErrorRule {
  action: ErrorAction;
  source: ErrorSource | null;
  /** The code as the source numbers it (`123`, `1002`, `429`). */
  code: string;
  /** The row's meaning; null for a code no row names. */
  meaning: string | null;
}

export function lookup(source: ErrorSource, code: string): ErrorRule {
  const key = source === 'http' && /^5\d\d$/.test(code) ? '5xx' : code;
  const row = BY_KEY.get(`${source}:${key}`);
  return row
    ? { action: row.action, source, code, meaning: row.meaning }
    : { action: 'fail', source, code, meaning: null };
}

/**
 * Codes a self-serve answer or report carries are Gupshup's own (`1002`, `4001`, `470`) or Meta's
 * passed through (six digits: `131047`, `130429`).
 */
export function v2CodeSource(code: string): 'v2' | 'meta' {
  return /^\d{6,}$/.test(code) ? 'meta' : 'v2';
}

/**
 * The stable send-result code of a provider code: `gupshup_<id>` (Enterprise), `v2_<code>`,
 * `meta_<code>`, `http_<status>`.
 */
export function resultCode(source: Exclude<ErrorSource, 'enterprise_report'>, code: string) {
  return source === 'enterprise'
    ? `gupshup_${code}`
    : source === 'transport'
      ? code
      : `${source}_${code}`;
}

/**
 * The rule for a send's result code (src/gupshup/types.ts `SendResult.code`): `gupshup_<id>`,
 * `v2_<code>`, `meta_<code>`, `http_<status>` or a transport code; anything else is `fail`.
 */
export function sendErrorRule(resultCodeText: string): ErrorRule {
  const match = /^(gupshup|v2|meta|http)_(\d+)$/.exec(resultCodeText);
  if (match) {
    const [, prefix, code] = match as unknown as [string, string, string];
    const source: ErrorSource = prefix === 'gupshup' ? 'enterprise' : (prefix as ErrorSource);
    return lookup(source, code);
  }
  const transport = BY_KEY.get(`transport:${resultCodeText}`);
  return transport
    ? {
        action: transport.action,
        source: 'transport',
        code: resultCodeText,
        meaning: transport.meaning,
      }
    : { action: 'fail', source: null, code: resultCodeText, meaning: null };
}

/**
 * The rule for a failed delivery report's code, by its callback format; null when the report
 * carries no code. Enterprise codes read the report table; v2 codes Gupshup's (or Meta's, six
 * digits); v3 codes Meta's.
 */
export function reportErrorRule(
  format: 'enterprise' | 'v2' | 'v3',
  errorCode: string | null,
): ErrorRule | null {
  if (errorCode === null || errorCode === '') {
    return null;
  }
  if (format === 'enterprise') {
    return lookup('enterprise_report', errorCode);
  }
  return lookup(format === 'v3' ? 'meta' : v2CodeSource(errorCode), errorCode);
}

/** The failure reason an action records on the message and timeline (null: the raw code). */
export function failureReason(action: ErrorAction): string | null {
  switch (action) {
    case 'not_on_whatsapp':
    case 'opted_out':
    case 'window_closed':
    case 'frequency_capped':
    case 'template_refused':
      return action;
    default:
      return null;
  }
}

/** A short sentence per failure reason, for the timeline. */
export const FAILURE_TITLES: Readonly<Record<string, string>> = {
  not_on_whatsapp: 'the number is not on WhatsApp',
  opted_out: 'the customer opted out of these messages',
  window_closed: "the customer's 24-hour window is closed",
  frequency_capped: 'WhatsApp held it back (per-customer limit)',
  template_refused: 'the template was refused (paused or not matching)',
};
