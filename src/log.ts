/**
 * Structured JSON logs (pino), one line per event. Personal data never belongs in a log line:
 * log ids (request, job, shipment, outbox, Gupshup message) instead. As a second line of defence:
 *
 * - the fields below are redacted wherever they appear (up to three levels deep);
 * - message strings (and the message and stack of a logged error) have every run of 8 or more
 *   digits masked, phone numbers being such runs (ids belong in fields, where they stay intact);
 * - the configured secrets (`logSecrets`) are masked anywhere in the finished line, so a token
 *   in a request URL or a password quoted by a driver error never reaches the output.
 */
import { AsyncLocalStorage } from 'node:async_hooks';

import { pino, type LevelWithSilent, type LogFn, type Logger } from 'pino';

import type { Config } from './config.ts';
import { safeErrorMessage } from './errors.ts';

export type Log = Logger;

/**
 * Fields that can hold a secret, a credential or personal data (a number, a name, an address, a
 * message text), redacted wherever they appear up to three levels deep.
 */
const REDACTED_FIELDS = [
  // Credentials and secrets, also as decrypted client credentials (`account.hsm.password`).
  'password',
  'userid',
  'twoWayUserid',
  'twoWayPassword',
  'apikey',
  'apiKey',
  'token',
  'hsm',
  'twoWay',
  'credentials',
  // Numbers and identities of customers (and of senders' numbers).
  'phone',
  'mobile',
  'userId',
  'customerUserId',
  'from',
  'to',
  'sendTo',
  'send_to',
  'destination',
  'source',
  'customerNumber',
  'senderNumber',
  'toNumber',
  'destAddr',
  'waNumber',
  'recipient_id',
  'wa_id',
  // Names, addresses, texts.
  'name',
  'customerName',
  'address',
  'location',
  'email',
  'text',
  'body',
  'remarks',
];

export const REDACT_PATHS = [
  ...REDACTED_FIELDS.flatMap((field) => [field, `*.${field}`, `*.*.${field}`]),
  // A Gateway form's `msg` (the message text); at the top level `msg` is the log line's own.
  '*.msg',
  '*.*.msg',
  'req.headers.authorization',
  'req.headers.apikey',
  'req.headers.cookie',
  'req.headers["x-webhook-token"]',
  'req.query.token',
];

const REDACTED = new Set(REDACTED_FIELDS);
const REQUEST_REDACTED: Record<string, ReadonlySet<string>> = {
  headers: new Set(['authorization', 'apikey', 'cookie', 'x-webhook-token']),
  query: new Set(['token']),
};
const CENSOR = '[redacted]';

function isPlain(value: unknown): value is Record<string, unknown> | unknown[] {
  if (typeof value !== 'object' || value === null) {
    return false;
  }
  const proto: unknown = Object.getPrototypeOf(value);
  return Array.isArray(value) || proto === Object.prototype || proto === null;
}

/**
 * `value` with REDACT_PATHS censored, in one walk (the keys of a line's fields are looked up in
 * a set instead of every path being parsed and followed for every line): a copy where something
 * was censored, the value itself where nothing was. Only plain objects and arrays are walked, to
 * the depth of the paths; `depth` is the level of `value`'s own keys (1 for the line's fields).
 */
function redactLevel(value: Record<string, unknown> | unknown[], depth: number): unknown {
  let copy: Record<string, unknown> | unknown[] | null = null;
  const entries: [string | number, unknown][] = Array.isArray(value)
    ? value.map((item, i) => [i, item])
    : Object.entries(value);
  for (const [key, item] of entries) {
    let next = item;
    if (typeof key === 'string' && (REDACTED.has(key) || (depth > 1 && key === 'msg'))) {
      next = item === undefined ? item : CENSOR;
    } else if (depth < 3 && isPlain(item)) {
      next = redactLevel(item, depth + 1);
    }
    if (next !== item) {
      copy ??= Array.isArray(value) ? [...value] : { ...value };
      (copy as Record<string | number, unknown>)[key] = next;
    }
  }
  return copy ?? value;
}

/** A line's fields as written: REDACT_PATHS censored (the logged object is left as it was). */
export function redactFields(fields: Record<string, unknown>): Record<string, unknown> {
  let out = redactLevel(fields, 1) as Record<string, unknown>;
  const req = out.req;
  if (isPlain(req) && !Array.isArray(req)) {
    let reqCopy: Record<string, unknown> | null = null;
    for (const [part, names] of Object.entries(REQUEST_REDACTED)) {
      const section = (reqCopy ?? req)[part];
      if (!isPlain(section) || Array.isArray(section)) {
        continue;
      }
      const hit = Object.keys(section).filter((k) => names.has(k) && section[k] !== undefined);
      if (hit.length > 0) {
        reqCopy ??= { ...req };
        reqCopy[part] = { ...section, ...Object.fromEntries(hit.map((k) => [k, CENSOR])) };
      }
    }
    if (reqCopy) {
      out = out === fields ? { ...fields } : out;
      out.req = reqCopy;
    }
  }
  return out;
}

/** Fields every line logged inside `withLogContext` carries (a job's queue and id). */
const context = new AsyncLocalStorage<Record<string, unknown>>();

/**
 * Runs `fn` so that every line logged by it, and by whatever it awaits, carries `fields`: the
 * workers run each job inside `{ queue, jobId }`, so processors need not pass them around.
 */
export function withLogContext<T>(fields: Record<string, unknown>, fn: () => T): T {
  return context.run(fields, fn);
}

/**
 * `level`, unless the logger is set quieter: a route logged only from `warn` up must not log
 * warnings when the service runs `silent` or `error`.
 */
export function quietest(log: Log, level: 'warn' | 'error'): LevelWithSilent {
  return log.levelVal > (log.levels.values[level] ?? 0) ? (log.level as LevelWithSilent) : level;
}

/** Digit runs long enough to be a phone number (E.164 numbers have 8 to 15 digits). */
const PHONE_LIKE = /\+?\d{8,}/g;

/** Shorter secrets would mask ordinary words; all-digit ones could sit in a JSON number. */
const MIN_SECRET_LENGTH = 8;

/** The configured credentials and tokens, for `createLog` to mask wherever they appear. */
export function logSecrets(config: Config): string[] {
  const urlPasswords = [config.REDIS_URL, config.DATABASE_URL].map((u) => {
    try {
      return decodeURIComponent(new URL(u).password);
    } catch {
      return '';
    }
  });
  return [
    config.GUPSHUP_DEFAULT_PASSWORD,
    config.GUPSHUP_DEFAULT_TWO_WAY_PASSWORD,
    config.WEBHOOK_TOKEN,
    config.API_TOKEN,
    config.ADMIN_PASSWORD,
    config.WMS_API_TOKEN,
    config.CREDENTIALS_KEY,
    config.CREDENTIALS_KEY_PREVIOUS,
    config.TRACK_LINK_SECRET,
    config.POSTBACK_SECRET,
    config.PORTAL_TOKEN_SECRET,
    config.POSTBACK_SECRET_PREVIOUS,
    config.GUPSHUP_DEFAULT_API_KEY,
    ...urlPasswords,
  ].filter((s): s is string => typeof s === 'string' && s.length > 0);
}

/** Masks phone-like digit runs and the given secrets in a free-text string. */
export function maskText(text: string, secrets: readonly string[] = []): string {
  let masked = text;
  for (const secret of secrets) {
    masked = masked.split(secret).join('[redacted]');
  }
  return masked.replace(PHONE_LIKE, '[number]');
}

/**
 * An error as logged: its type, code, scrubbed message and stack frames, and its cause's
 * scrubbed message. Not pino's standard serializer, which copies every own property: a driver
 * error carries the query's parameters (names, numbers, addresses) in one.
 */
function serializeError(err: Error, secrets: readonly string[]): Record<string, unknown> {
  const { code, statusCode, cause } = err as Error & {
    code?: unknown;
    statusCode?: unknown;
  };
  const message = maskText(safeErrorMessage(err), secrets);
  const frames = (err.stack ?? '').split('\n').filter((line) => /^\s+at /.test(line));
  return {
    type: err.name,
    message,
    stack: [`${err.name}: ${message}`, ...frames].join('\n'),
    ...(typeof code === 'string' || typeof code === 'number' ? { code } : {}),
    ...(typeof statusCode === 'number' ? { statusCode } : {}),
    ...(cause instanceof Error ? { cause: maskText(safeErrorMessage(cause), secrets) } : {}),
  };
}

/**
 * The process logger. `secrets` (see `logSecrets`) are masked in every line, wherever they
 * appear; pass them wherever the configuration is at hand.
 */
export function createLog(
  level: string,
  destination?: pino.DestinationStream,
  secrets: readonly string[] = [],
): Log {
  // Longest first, so that no secret masks part of another and leaves the rest showing.
  const known = [...new Set(secrets)]
    .filter((s) => s.length >= MIN_SECRET_LENGTH && !/^\d+$/.test(s))
    .sort((a, b) => b.length - a.length);
  // In the finished line a secret appears JSON-escaped.
  const escaped = known.map((s) => JSON.stringify(s).slice(1, -1));
  return pino(
    {
      level,
      base: { service: 'whatsapp-notifications' },
      // REDACT_PATHS, applied by one walk per line rather than by pino's `redact`, which parses
      // and follows each of its paths for every line logged.
      formatters: { log: redactFields },
      timestamp: pino.stdTimeFunctions.isoTime,
      // A copy: pino merges each line's own fields into what the mixin returns.
      mixin: () => ({ ...context.getStore() }),
      serializers: {
        // `err` holds an Error or, by this codebase's habit, an error message string.
        err: (err: unknown) => {
          if (typeof err === 'string') {
            return maskText(err, known);
          }
          return err instanceof Error ? serializeError(err, known) : err;
        },
      },
      hooks: {
        logMethod(args, method) {
          const masked = args.map((arg: unknown) =>
            typeof arg === 'string' ? maskText(arg, known) : arg,
          ) as Parameters<LogFn>;
          method.apply(this, masked);
        },
        ...(escaped.length > 0
          ? {
              streamWrite: (line: string) => {
                let masked = line;
                for (const secret of escaped) {
                  masked = masked.split(secret).join('[redacted]');
                }
                return masked;
              },
            }
          : {}),
      },
    },
    destination,
  );
}

/**
 * A logger for errors that repeat while an outage lasts (every reconnect attempt reports one):
 * the first of each kind is logged, then at most one every `intervalMs`, with how many were
 * left out meanwhile.
 */
export function throttledLog(
  log: Log,
  level: 'warn' | 'error' = 'warn',
  intervalMs = 30_000,
): (fields: Record<string, unknown>, msg: string) => void {
  const seen = new Map<string, { at: number; suppressed: number }>();
  return (fields, msg) => {
    const key = `${msg}|${JSON.stringify(fields)}`;
    const now = Date.now();
    const last = seen.get(key);
    if (last && now - last.at < intervalMs) {
      last.suppressed += 1;
      return;
    }
    log[level](last?.suppressed ? { ...fields, suppressed: last.suppressed } : fields, msg);
    seen.set(key, { at: now, suppressed: 0 });
  };
}
