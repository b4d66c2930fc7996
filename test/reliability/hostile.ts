/**
 * Hostile input against a running service (api role), over real HTTP: generated requests to the
 * Pub/Sub push endpoint, the Gupshup webhook (GET and POST; JSON, form and text bodies; the
 * enterprise, v2 and v3 callback shapes), the settings API under `/v1/…` (with the admin and the
 * account token), the settings-page login form and the tracked link. The requests are drawn
 * with fast-check from a seed: malformed JSON and forms, wrong types, strings up to and over
 * the body limits, deep nesting, unicode edge cases, null bytes, injection strings, wrong
 * content types, absurd numbers, and the valid fixtures with one field dropped or replaced.
 *
 * This module measures; the caller decides. It reports 5xx answers, 4xx answers without a
 * reason (what "a reason" is depends on the endpoint: see `hasReason`), and MySQL rows written
 * by requests that were answered 4xx. For the last, every table of the service's database is
 * counted (`SELECT COUNT(*)`, exact for InnoDB) before and after each batch. Requests expected
 * to be refused run in batches of their own; a batch with refusals and new rows has its refused
 * requests replayed on their own, and then one by one, so rows are pinned on a request only when
 * its replay, refused again, writes them again. Attribution is exact when nothing else writes to
 * the database meanwhile (the api role alone writes only on requests); with workers running,
 * the replay is what confirms a row.
 *
 * The target must answer the push endpoint without an OIDC token (NODE_ENV development or test,
 * no PUBSUB_PUSH_AUDIENCE), have a high AUTH_MAX_FAILURES (a few requests carry a wrong
 * credential on purpose), PORTAL_BASE_URL (a valid tracked link is a 302 to it, else 503),
 * CREDENTIALS_KEY (else storing a client's app is a 503), and Gupshup template lists it can
 * reach quickly (GUPSHUP_TEMPLATE_LIST_URL, GUPSHUP_SELF_SERVE_URL: the sandbox), since a
 * well-formed template verification asks Gupshup. The account's WhatsApp settings are read
 * first and put back at the end.
 */
import { createHmac } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';

import fc from 'fast-check';
import mysql from 'mysql2/promise';
import { Agent, request } from 'undici';

export interface HostileTarget {
  /** `http://127.0.0.1:PORT` of a running service with the api role. */
  url: string;
  /** WEBHOOK_TOKEN (the Gupshup webhook's `?token=`). */
  webhookToken: string;
  /** API_TOKEN (the admin bearer; also a settings-page login password). */
  apiToken: string;
  /** An existing account with WhatsApp enabled. */
  accountId: number;
  /** An account API token of `accountId` (`wa-notify tokens create --account N`). */
  accountToken: string;
  /**
   * ADMIN_USER / ADMIN_PASSWORD are Bull Board's basic auth; the settings-page login form takes
   * the admin token or an account token instead, so these are not used (kept out of samples).
   */
  adminUser?: string;
  adminPassword?: string;
  /** `mysql://…/db` of that service, to count rows. */
  databaseUrl: string;
  /** TRACK_LINK_SECRET, to mint valid tracked links; unset: the development secret. */
  trackLinkSecret?: string;
}

export interface EndpointFigures {
  requests: number;
  /** 2xx and 3xx. */
  ok: number;
  rejected4xx: number;
  server5xx: number;
  /** 4xx answers without a reason. */
  noReason: number;
  /** Requests that got no HTTP answer (connection reset, timeout), their body within limits. */
  transportErrors: number;
  /**
   * Requests with a body over the endpoint's limit whose connection was reset before the 413
   * was read: Fastify refuses such a body unread and closes the connection, so a client still
   * writing may see the reset instead. Expected; not an offence.
   */
  oversizeResets: number;
}

export interface HostileFigures {
  requests: number;
  server5xx: number;
  rejectedWithoutReason: number;
  /** Rows added by requests that were answered 4xx. */
  rowsWrittenOnRejection: number;
  /** Requests that got no HTTP answer at all (bodies within limits). */
  transportErrors: number;
  /** See EndpointFigures.oversizeResets. */
  oversizeResets: number;
  byEndpoint: Record<string, EndpointFigures>;
  /** Up to 20 short descriptions of offending requests (no secrets). */
  samples: string[];
  /** Wall time of the run, in ms. */
  elapsedMs: number;
}

export interface HostileOptions {
  /** Requests to send in total (at least). */
  runs: number;
  seed?: number;
  /** Requests in flight at once (16 by default). */
  concurrency?: number;
}

/** One generated request; `body` is built only when it is sent (huge ones are not kept). */
export interface HostileRequest {
  endpoint: Endpoint;
  /** What the generator made, for samples (never a secret or a body). */
  what: string;
  /** Whether a refusal is expected (hostile) or it may be accepted (a mutated valid fixture). */
  expect: 'reject' | 'maybe';
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  /** Path and query. */
  path: string;
  headers: Record<string, string>;
  body?: BodySpec;
}

export type Endpoint =
  'pubsub-push' | 'webhook-post' | 'webhook-get' | 'settings-api' | 'settings-login' | 'track-link';

/** A body as text or bytes, or a big one described (`repeat` × `times` between two parts). */
type BodySpec =
  | { text: string }
  | { bytes: number[] }
  | { head: string; repeat: string; times: number; tail: string };

export const ENDPOINTS: readonly Endpoint[] = [
  'pubsub-push',
  'webhook-post',
  'webhook-get',
  'settings-api',
  'settings-login',
  'track-link',
];

const WEBHOOK_PATH = '/api/_ah/v1/message';
const FORM = 'application/x-www-form-urlencoded';
const JSON_TYPE = 'application/json';
const MAX_SAMPLES = 20;
/** The service's own body limits: Fastify's default, the webhook's, the login form's. */
const LIMITS = { push: 1_048_576, webhook: 256 * 1_024, login: 8_192 };
/** The account settings API's reason keys (src/fdr/reasons.ts). */
const REASONS = [
  'customer_unreachable',
  'address_issue',
  'rejected_by_customer',
  'customer_unavailable',
  'delivery_rescheduled',
  'oda',
  'payment_issue',
  'otp_cancellation',
  'open_delivery',
];

/** The secret the service signs tracked links with outside production when none is set. */
const DEVELOPMENT_TRACK_LINK_SECRET = 'development-only-track-link-secret';

/**
 * A tracked link's signature as src/links.ts makes it (kept here so this module imports nothing
 * from src/ and runs under plain type stripping; the integration test checks they agree).
 */
export function signTrackedLink(secret: string | undefined, shipmentId: string, expiresAt: number) {
  return createHmac('sha256', secret ?? DEVELOPMENT_TRACK_LINK_SECRET)
    .update(`track:${shipmentId}:${expiresAt}`)
    .digest()
    .subarray(0, 16)
    .toString('base64url');
}

// ---------------------------------------------------------------------------------------------
// Fixtures

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

const FIXTURES = new URL('../fixtures/', import.meta.url);

function fixture(name: string): Json {
  return JSON.parse(readFileSync(new URL(name, FIXTURES), 'utf8')) as Json;
}

function webhookFixtures(prefix: string): Json[] {
  return readdirSync(new URL('webhook/', FIXTURES))
    .filter((n) => n.startsWith(prefix) && n.endsWith('.json'))
    .sort()
    .map((n) => fixture(`webhook/${n}`));
}

interface Fixtures {
  fdrEvent: Json;
  reports: Json[];
  enterpriseInbound: Json[];
  v2: Json[];
  v3: Json[];
}

let loaded: Fixtures | undefined;

function fixtures(): Fixtures {
  if (!loaded) {
    const dlr = fixture('gupshup-dlr-sent.json') as { response: string };
    loaded = {
      fdrEvent: fixture('fdr-event.json'),
      reports: JSON.parse(dlr.response) as Json[],
      enterpriseInbound: [
        ...[
          'gupshup-inbound-button.json',
          'gupshup-inbound-document.json',
          'gupshup-inbound-image.json',
          'gupshup-inbound-interactive-date.json',
          'gupshup-inbound-location.json',
        ].map(fixture),
        ...webhookFixtures('enterprise-'),
      ],
      v2: webhookFixtures('v2-'),
      v3: webhookFixtures('v3-'),
    };
  }
  return loaded;
}

const SETTINGS_BODY: Json = {
  enabled: true,
  reasons: { open_delivery: false },
  senderConnectionId: 'default',
  storeName: 'Vitamin Planet',
  supportContactNumber: '+91-9876543210',
  supportEmailAddress: 'care@example.com',
  templates: { rejected_by_customer: null },
};
const ENTERPRISE_CONNECTION: Json = {
  appName: 'Hostile App',
  userid: '2000000099',
  password: 'not-a-real-password',
  waNumber: '919800000001',
};
const SELF_SERVE_CONNECTION: Json = {
  api: 'self-serve',
  appName: 'Hostile Self Serve',
  apiKey: 'not-a-real-key',
  waNumber: '919800000002',
};
const VERIFY_BODY: Json = {
  reason: 'address_issue',
  templateId: '992b7ece-3217-4134-a161-ebd6ffd91cd9',
  variables: { '1': 'customerFirstName', '2': 'storeName' },
};

// ---------------------------------------------------------------------------------------------
// Generators

const INJECTIONS = [
  "' OR '1'='1",
  '1; DROP TABLE webhook_events; --',
  "' UNION SELECT token_hash FROM api_tokens --",
  '"; SELECT SLEEP(5); --',
  '\\',
  "\\'",
  '<script>alert(1)</script>',
  '"><img src=x onerror=alert(1)>',
  '</textarea><svg onload=alert(1)>',
  '{{7*7}}',
  '${7*7}',
  '<%= 7*7 %>',
  '#{7*7}',
  '{{constructor.constructor("return process")()}}',
  '__proto__',
  'constructor',
  '../../../../etc/passwd',
  '%00',
  '%',
  '%zz',
  '%ff%fe',
  'javascript:alert(1)',
  '//evil.example/',
  '/settings/1?x=//evil.example',
  'http://169.254.169.254/latest/meta-data/',
  '\r\nSet-Cookie: a=b',
  '$(reboot)',
  '`id`',
];

const UNICODE = [
  '\uD800',
  '\uDFFF',
  'a\uD83Db',
  '\u202Eevil\u202C',
  '\u200F\u0627\u0644\u0639\u0631\u0628\u064A\u0629',
  '\u200B\u200C\u200D\u2060\uFEFF',
  '👨‍👩‍👧‍👦',
  '🏳️‍🌈',
  '\u0000',
  'a\u0000b',
  '\u0007\u001B[31m',
  '\uFFFD\uFFFE\uFFFF',
  'Z̴̡̢̛͓̘̙a̸͇͙͋l̷̰̈́g̶̻̓o̵̳͑',
  '\u0130\u0131ß',
  '１２３',
  '\u0661\u0662\u0663',
  '\u00A0',
  '\u2028\u2029',
];

const ABSURD_NUMBER_TEXT = [
  'NaN',
  'nan',
  'Infinity',
  '-Infinity',
  '-0',
  '1e308',
  '1e309',
  '-1',
  '0',
  '0x1F',
  '0b101',
  '1_000',
  ' 1',
  '1 ',
  '+1',
  '1.0',
  '1e3',
  '2147483648',
  '4294967296',
  '9007199254740993',
  '9'.repeat(40),
  '-' + '9'.repeat(25),
  '00000000000000000001',
  '١٢٣',
  '',
];

const ABSURD_NUMBERS: Json[] = [
  1e308,
  -1e308,
  5e-324,
  -1,
  0,
  -0,
  1.5,
  2 ** 31,
  2 ** 32,
  2 ** 53 + 2,
  Number.MAX_SAFE_INTEGER,
  -2147483649,
  123456789012345,
];

/** Strings a field might get: injections, unicode edges, numbers as text, random text. */
const hostileString: fc.Arbitrary<string> = fc.oneof(
  { arbitrary: fc.constantFrom(...INJECTIONS), weight: 3 },
  { arbitrary: fc.constantFrom(...UNICODE), weight: 3 },
  { arbitrary: fc.constantFrom(...ABSURD_NUMBER_TEXT), weight: 2 },
  { arbitrary: fc.string({ unit: 'binary', maxLength: 40 }), weight: 2 },
  { arbitrary: fc.string({ unit: 'grapheme', maxLength: 40 }), weight: 1 },
  {
    arbitrary: fc
      .tuple(
        fc.constantFrom('a', '9', 'é', '😀', '\u0000', '"', '%'),
        fc.integer({ min: 256, max: 70_000 }),
      )
      .map(([c, n]) => c.repeat(n)),
    weight: 1,
  },
);

/** Any JSON value, hostile leaves and shallow nesting. */
const hostileJson: fc.Arbitrary<Json> = fc.letrec<{ value: Json }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    { arbitrary: hostileString, weight: 4 },
    { arbitrary: fc.constantFrom(...ABSURD_NUMBERS), weight: 2 },
    { arbitrary: fc.constantFrom<Json>(null, true, false, '', [], {}), weight: 2 },
    { arbitrary: fc.array(tie('value'), { maxLength: 4 }), weight: 1 },
    {
      arbitrary: fc.dictionary(
        fc.oneof(hostileString, fc.constantFrom('__proto__', 'constructor')),
        tie('value'),
        {
          maxKeys: 4,
        },
      ),
      weight: 1,
    },
  ),
})).value;

/** Text that is not JSON, or not quite. */
const brokenJson: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(
    '',
    ' ',
    '{',
    '}',
    '[',
    '{"a":',
    '{"a":1,}',
    '[1,]',
    "{'a':1}",
    '{a:1}',
    'nul',
    'undefined',
    'NaN',
    '{"a":1}}',
    '{"a":NaN}',
    '{"a":Infinity}',
    '{"a":01}',
    '"\\ud800"',
    '"\\u00"',
    '{"__proto__":{"polluted":1}}',
    '\u0000',
    '\uFEFF{}',
    '1e99999',
    '-',
    '{"a":"\u0000"}',
  ),
  fc.jsonValue().map((v) => JSON.stringify(v)),
  fc.string({ unit: 'binary', maxLength: 60 }),
);

/** `[[[[…]]]]` or `{"a":{"a":…}}`, `depth` deep, as text (no recursion to build it). */
const deepJson: fc.Arbitrary<BodySpec> = fc
  .tuple(fc.constantFrom('array', 'object'), fc.integer({ min: 50, max: 60_000 }))
  .map(([kind, depth]) =>
    kind === 'array'
      ? { head: '', repeat: '[', times: depth, tail: ']'.repeat(depth) }
      : { head: '', repeat: '{"a":', times: depth, tail: `1${'}'.repeat(depth)}` },
  );

/** Bytes that are not UTF-8 (lone surrogates as CESU, overlongs, stray continuations). */
const badUtf8: fc.Arbitrary<BodySpec> = fc
  .array(
    fc.constantFrom(
      [0xff],
      [0xfe, 0xff],
      [0xed, 0xa0, 0x80],
      [0xc0, 0xaf],
      [0x80],
      [0xe2, 0x82],
      [0x00],
      [0x7b],
      [0x22],
    ),
    { minLength: 1, maxLength: 20 },
  )
  .map((parts) => ({ bytes: parts.flat() }));

/** A body around `limit` bytes: just under, at, just over, far over. */
function hugeBody(limit: number, head: string, tail: string): fc.Arbitrary<BodySpec> {
  return fc
    .tuple(fc.constantFrom(-64, 0, 1, 64, limit), fc.constantFrom('a', 'é', '\\u0000', ' '))
    .map(([delta, repeat]) => {
      const bytes = Buffer.byteLength(repeat);
      const times = Math.max(0, Math.floor((limit + delta - head.length - tail.length) / bytes));
      return { head, repeat, times, tail };
    });
}

const contentTypeFor = (fallback: string): fc.Arbitrary<string | null> =>
  fc.oneof(
    { arbitrary: fc.constant(fallback), weight: 6 },
    {
      arbitrary: fc.constantFrom<string | null>(
        null,
        'text/plain',
        'application/json; charset=utf-16',
        'application/json; charset=latin1',
        'application/xml',
        'text/html',
        'multipart/form-data; boundary=x',
        'application/octet-stream',
        'application/x-www-form-urlencoded; charset=utf-8',
        'application/json',
        'application/x-www-form-urlencoded',
        'a/b/c',
        ';;;',
        'application/vnd.api+json',
        'APPLICATION/JSON',
      ),
      weight: 2,
    },
  );

/**
 * Percent-encoding that also takes lone surrogates (encodeURIComponent throws on them): each
 * becomes the three bytes a careless encoder writes for it, which are not UTF-8.
 */
export function enc(s: string): string {
  return s.replace(
    /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]|[^]/gu,
    (c) => {
      const unit = c.length === 1 ? c.charCodeAt(0) : -1;
      if (unit >= 0xd800 && unit <= 0xdfff) {
        return [0xe0 | (unit >> 12), 0x80 | ((unit >> 6) & 0x3f), 0x80 | (unit & 0x3f)]
          .map((b) => `%${b.toString(16).toUpperCase()}`)
          .join('');
      }
      return encodeURIComponent(c);
    },
  );
}

// ---------------------------------------------------------------------------------------------
// Mutating valid values: drop one field, or replace it with something hostile

type Path = (string | number)[];

function pathsOf(value: Json, prefix: Path = [], out: Path[] = []): Path[] {
  if (Array.isArray(value)) {
    value.forEach((v, i) => {
      out.push([...prefix, i]);
      pathsOf(v, [...prefix, i], out);
    });
  } else if (value !== null && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      out.push([...prefix, k]);
      pathsOf(v, [...prefix, k], out);
    }
  }
  return out;
}

interface Mutation {
  pick: number;
  op: 'drop' | 'replace' | 'retype' | 'add';
  value: Json;
}

const mutation: fc.Arbitrary<Mutation> = fc.record({
  pick: fc.nat(),
  op: fc.constantFrom<Mutation['op']>('drop', 'replace', 'replace', 'retype', 'add'),
  value: hostileJson,
});

/** Wrong-typed stand-ins for a value of each type. */
function retyped(value: Json, pick: number): Json {
  const options: Json[] =
    typeof value === 'string'
      ? [1, null, [value], { value }, true]
      : typeof value === 'number'
        ? [String(value), null, [value], 'NaN', 1e308]
        : typeof value === 'boolean'
          ? ['true', 1, null, 'yes']
          : Array.isArray(value)
            ? [{}, 'x', null, JSON.stringify(value)]
            : value === null
              ? [0, '', 'null', {}]
              : [[], 'x', null, JSON.stringify(value)];
  return options[pick % options.length]!;
}

/** A copy of `value` with one mutation applied; also what was mutated, for samples. */
export function mutate(value: Json, m: Mutation): { value: Json; what: string } {
  const copy = structuredClone(value);
  const paths = pathsOf(copy);
  if (paths.length === 0) {
    return { value: m.value, what: 'replaced whole' };
  }
  const path = paths[m.pick % paths.length]!;
  const last = path[path.length - 1]!;
  let parent: Json = copy;
  for (const key of path.slice(0, -1)) {
    parent = (parent as Record<string | number, Json>)[key]!;
  }
  const holder = parent as Record<string | number, Json>;
  const label = path.join('.').slice(0, 60);
  switch (m.op) {
    case 'drop':
      if (Array.isArray(holder)) {
        holder.splice(Number(last), 1);
      } else {
        delete holder[last];
      }
      return { value: copy, what: `dropped ${label}` };
    case 'replace':
      holder[last] = m.value;
      return { value: copy, what: `replaced ${label}` };
    case 'retype':
      holder[last] = retyped(holder[last]!, m.pick);
      return { value: copy, what: `retyped ${label}` };
    case 'add':
      if (Array.isArray(holder)) {
        holder.push(m.value);
      } else {
        holder[`x${m.pick % 7}`] = m.value;
      }
      return { value: copy, what: `added beside ${label}` };
  }
}

/** A JSON value as a form: strings as they are, everything else as JSON text. */
function formOf(value: Json): string {
  const fields: [string, string][] =
    value !== null && typeof value === 'object' && !Array.isArray(value)
      ? Object.entries(value).map(([k, v]) => [k, typeof v === 'string' ? v : JSON.stringify(v)])
      : [['value', JSON.stringify(value)]];
  return new URLSearchParams(fields).toString();
}

/** Form text that is broken: bad escapes, repeated keys, missing `=`. */
const brokenForm: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(
    '',
    '=',
    '&&&',
    '%',
    '%zz=%zz',
    'a=%E0%A4%A',
    'a=1&a=2&a=3',
    'response',
    'response=',
    'response=%5B',
    'response=null',
    'response=%5Bnull%5D',
    '__proto__[x]=1',
    'mobile[]=1&type=text',
    'a=\u0000',
    'password&csrf',
  ),
  fc
    .array(fc.tuple(hostileString, hostileString), { maxLength: 5 })
    .map((pairs) => new URLSearchParams(pairs).toString()),
);

// ---------------------------------------------------------------------------------------------
// Requests per endpoint

interface Context {
  target: HostileTarget;
}

function text(body: string): BodySpec {
  return { text: body };
}

function jsonBody(value: Json): BodySpec {
  return { text: JSON.stringify(value) };
}

/** Hostile bodies of any kind, with the content type to send them under. */
function hostileBodies(
  limit: number,
  validType: string,
): fc.Arbitrary<{ what: string; body: BodySpec; type: string | null }> {
  return fc.oneof(
    {
      arbitrary: fc.tuple(brokenJson, contentTypeFor(JSON_TYPE)).map(([b, type]) => ({
        what: 'broken JSON',
        body: text(b),
        type,
      })),
      weight: 3,
    },
    {
      arbitrary: fc.tuple(hostileJson, contentTypeFor(JSON_TYPE)).map(([v, type]) => ({
        what: 'hostile JSON',
        body: jsonBody(v),
        type,
      })),
      weight: 3,
    },
    {
      arbitrary: fc.tuple(brokenForm, contentTypeFor(FORM)).map(([b, type]) => ({
        what: 'broken form',
        body: text(b),
        type,
      })),
      weight: 2,
    },
    {
      arbitrary: fc.tuple(deepJson, contentTypeFor(JSON_TYPE)).map(([body, type]) => ({
        what: 'deep nesting',
        body,
        type,
      })),
      weight: 1,
    },
    {
      arbitrary: fc.tuple(badUtf8, contentTypeFor(validType)).map(([body, type]) => ({
        what: 'not UTF-8',
        body,
        type,
      })),
      weight: 1,
    },
    {
      arbitrary: fc
        .tuple(hugeBody(limit, '{"a":"', '"}'), contentTypeFor(validType))
        .map(([body, type]) => ({ what: 'huge body', body, type })),
      weight: 1,
    },
  );
}

function withType(type: string | null): Record<string, string> {
  return type === null ? {} : { 'content-type': type };
}

function pushRequests(ctx: Context): fc.Arbitrary<HostileRequest> {
  const { fdrEvent } = fixtures();
  const envelope = (data: string, messageId: string): Json => ({
    message: { data, messageId, attributes: { source: 'hostile' } },
    subscription: 'projects/local-project/subscriptions/hostile',
  });
  const post = (
    what: string,
    expect: HostileRequest['expect'],
    body: BodySpec,
    type: string | null,
  ): HostileRequest => ({
    endpoint: 'pubsub-push',
    what,
    expect,
    method: 'POST',
    path: '/pubsub/push',
    headers: withType(type),
    body,
  });
  void ctx;
  return fc.oneof(
    // Not an envelope.
    {
      arbitrary: hostileBodies(LIMITS.push, JSON_TYPE).map((b) =>
        post(b.what, 'reject', b.body, b.type),
      ),
      weight: 4,
    },
    // An envelope with one field mutated (data stays the valid event).
    {
      arbitrary: fc.tuple(mutation, fc.nat()).map(([m, n]) => {
        const valid = envelope(
          Buffer.from(JSON.stringify(fdrEvent)).toString('base64'),
          `hostile-${n}`,
        );
        const { value, what } = mutate(valid, m);
        return post(`envelope ${what}`, 'maybe', jsonBody(value), JSON_TYPE);
      }),
      weight: 3,
    },
    // A valid envelope around a mutated event, or around hostile data.
    {
      arbitrary: fc.tuple(mutation, fc.nat()).map(([m, n]) => {
        const { value, what } = mutate(fdrEvent, m);
        const data = Buffer.from(JSON.stringify(value)).toString('base64');
        return post(`event ${what}`, 'maybe', jsonBody(envelope(data, `hostile-${n}`)), JSON_TYPE);
      }),
      weight: 4,
    },
    {
      arbitrary: fc
        .tuple(
          fc.oneof(
            brokenJson.map((b) => Buffer.from(b).toString('base64')),
            fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b).toString('base64')),
            fc.constantFrom('!!!', '====', 'YQ', 'YQ=', 'a b', '\u0000', '%%%', '😀'),
            hostileString,
          ),
          fc.nat(),
        )
        .map(([data, n]) =>
          post('hostile data', 'maybe', jsonBody(envelope(data, `hostile-${n}`)), JSON_TYPE),
        ),
      weight: 2,
    },
  );
}

/** The valid webhook callbacks, each as the bodies Gupshup may send it in. */
type Shape = 'enterprise-dlr' | 'enterprise-inbound' | 'v2' | 'v3';

function webhookValue(shape: Shape, index: number): Json {
  const f = fixtures();
  switch (shape) {
    case 'enterprise-dlr':
      return f.reports;
    case 'enterprise-inbound':
      return f.enterpriseInbound[index % f.enterpriseInbound.length]!;
    case 'v2':
      return f.v2[index % f.v2.length]!;
    case 'v3':
      return f.v3[index % f.v3.length]!;
  }
}

function webhookRequests(ctx: Context): fc.Arbitrary<HostileRequest> {
  const token = ctx.target.webhookToken;
  const query = (extra = ''): string => `${WEBHOOK_PATH}?token=${enc(token)}${extra}`;
  const post = (
    what: string,
    expect: HostileRequest['expect'],
    body: BodySpec,
    type: string | null,
    tokenIn: 'query' | 'header' | 'bearer' = 'query',
  ): HostileRequest => ({
    endpoint: 'webhook-post',
    what,
    expect,
    method: 'POST',
    path: tokenIn === 'query' ? query() : WEBHOOK_PATH,
    headers: {
      ...withType(type),
      ...(tokenIn === 'header' ? { 'x-webhook-token': token } : {}),
      ...(tokenIn === 'bearer' ? { authorization: `Bearer ${token}` } : {}),
    },
    body,
  });
  const shape = fc.constantFrom<Shape>('enterprise-dlr', 'enterprise-inbound', 'v2', 'v3');
  const tokenIn = fc.constantFrom<'query' | 'header' | 'bearer'>(
    'query',
    'query',
    'header',
    'bearer',
  );
  return fc.oneof(
    {
      arbitrary: hostileBodies(LIMITS.webhook, FORM).map((b) =>
        post(b.what, 'reject', b.body, b.type),
      ),
      weight: 4,
    },
    // A valid callback with one field dropped or replaced, in one of its encodings.
    {
      arbitrary: fc
        .tuple(shape, fc.nat(), mutation, fc.nat(), tokenIn, contentTypeFor(JSON_TYPE))
        .map(([s, index, m, encoding, where, type]) => {
          const { value, what } = mutate(webhookValue(s, index), m);
          if (s === 'enterprise-dlr') {
            const reports = JSON.stringify(value);
            const encodings: [string, BodySpec, string][] = [
              ['form response', text(new URLSearchParams({ response: reports }).toString()), FORM],
              ['JSON array', text(reports), JSON_TYPE],
              ['JSON response string', jsonBody({ response: reports }), JSON_TYPE],
              ['JSON response array', jsonBody({ response: value }), JSON_TYPE],
              [
                'text form',
                text(new URLSearchParams({ response: reports }).toString()),
                'text/plain',
              ],
            ];
            const [how, body, ct] = encodings[encoding % encodings.length]!;
            return post(`${s} ${how} ${what}`, 'maybe', body, ct, where);
          }
          if (s === 'enterprise-inbound' && encoding % 3 === 0) {
            return post(`${s} form ${what}`, 'maybe', text(formOf(value)), FORM, where);
          }
          return post(
            `${s} JSON ${what}`,
            'maybe',
            jsonBody(value),
            encoding % 5 === 0 ? type : JSON_TYPE,
            where,
          );
        }),
      weight: 6,
    },
    // A valid callback wrapped, nested or batched oddly.
    {
      arbitrary: fc
        .tuple(shape, fc.nat(), fc.integer({ min: 0, max: 600 }))
        .map(([s, index, n]) => {
          const value = webhookValue(s, index);
          const variants: [string, Json][] = [
            ['in an array', [value]],
            ['batched', Array.from({ length: Math.min(n, 40) }, () => value)],
            ['under response', { response: value }],
            ['as a string', JSON.stringify(value)],
          ];
          const [how, body] = variants[n % variants.length]!;
          return post(`${s} ${how}`, 'maybe', jsonBody(body), JSON_TYPE);
        }),
      weight: 1,
    },
    // The token wrong or missing (refused before the body is read).
    {
      arbitrary: fc.tuple(fc.oneof(hostileString, fc.constant('')), shape).map(([wrong, s]) => ({
        ...post(`${s} wrong token`, 'reject', jsonBody(webhookValue(s, 0)), JSON_TYPE, 'header'),
        path: `${WEBHOOK_PATH}?token=${enc(wrong)}`,
        headers: { 'content-type': JSON_TYPE },
      })),
      weight: 1,
    },
  );
}

function webhookGetRequests(ctx: Context): fc.Arbitrary<HostileRequest> {
  const token = enc(ctx.target.webhookToken);
  const get = (what: string, expect: HostileRequest['expect'], q: string): HostileRequest => ({
    endpoint: 'webhook-get',
    what,
    expect,
    method: 'GET',
    path: `${WEBHOOK_PATH}?token=${token}${q ? `&${q}` : ''}`,
    headers: {},
  });
  return fc.oneof(
    {
      arbitrary: fc.tuple(fc.nat(), mutation).map(([index, m]) => {
        const { value, what } = mutate(webhookValue('enterprise-inbound', index), m);
        return get(`inbound query ${what}`, 'maybe', formOf(value));
      }),
      weight: 3,
    },
    { arbitrary: brokenForm.map((q) => get('broken query', 'maybe', q)), weight: 2 },
    {
      arbitrary: fc
        .tuple(
          fc.constantFrom('mobile', 'type', 'text', 'response', 'token', 'x'),
          fc.integer({ min: 2_000, max: 20_000 }),
        )
        .map(([key, n]) => get('long query', 'maybe', `${key}=${'9'.repeat(n)}&type=text`)),
      weight: 1,
    },
    {
      arbitrary: fc
        .tuple(hostileString, hostileString)
        .map(([a, b]) =>
          get(
            'repeated fields',
            'maybe',
            `mobile=${enc(a)}&mobile=${enc(b)}&type=text&type=image&text=${enc(a)}`,
          ),
        ),
      weight: 1,
    },
  );
}

/** A path segment: hostile text percent-encoded, or a few raw oddities. */
const hostileSegment: fc.Arbitrary<string> = fc.oneof(
  {
    arbitrary: hostileString.map((s) => enc(s.slice(0, 2_000)) || '%20'),
    weight: 4,
  },
  {
    arbitrary: fc.constantFrom(
      ...ABSURD_NUMBER_TEXT.filter((t) => t !== '').map(encodeURIComponent),
    ),
    weight: 3,
  },
  {
    arbitrary: fc.constantFrom(
      '%',
      '%zz',
      '%ff',
      '%00',
      '..',
      '.',
      '%2e%2e',
      '%2F',
      ';',
      'a%2Fb',
      '%E0%A4%A',
    ),
    weight: 2,
  },
);

function settingsApiRequests(ctx: Context): fc.Arbitrary<HostileRequest> {
  const { accountId, apiToken, accountToken } = ctx.target;
  const credential = fc.oneof(
    {
      arbitrary: fc.constantFrom<[string, string]>(['admin', apiToken], ['account', accountToken]),
      weight: 12,
    },
    {
      arbitrary: fc
        .oneof(hostileString, fc.constant('wat_' + 'A'.repeat(43)))
        .map((s): [string, string] => [
          'wrong',
          // Only what a header may carry: printable ASCII.
          s.replace(/[^ -~]/g, ''),
        ]),
      weight: 1,
    },
  );
  const account = fc.oneof(
    { arbitrary: fc.constant(String(accountId)), weight: 6 },
    { arbitrary: fc.constant(String(accountId + 1)), weight: 1 },
    { arbitrary: hostileSegment, weight: 3 },
  );
  const call = (
    what: string,
    expect: HostileRequest['expect'],
    method: HostileRequest['method'],
    path: string,
    cred: [string, string],
    body?: { body: BodySpec; type: string | null },
  ): HostileRequest => ({
    endpoint: 'settings-api',
    what: `${method} ${what} as ${cred[0]}`,
    expect: cred[0] === 'wrong' ? 'reject' : expect,
    method,
    path,
    headers: {
      ...(cred[1] ? { authorization: `Bearer ${cred[1]}` } : {}),
      ...(body ? withType(body.type) : {}),
    },
    ...(body ? { body: body.body } : {}),
  });
  const bodyOf = (
    valid: Json,
  ): fc.Arbitrary<{
    what: string;
    expect: HostileRequest['expect'];
    body: BodySpec;
    type: string | null;
  }> =>
    fc.oneof(
      {
        arbitrary: hostileBodies(LIMITS.push, JSON_TYPE).map((b) => ({
          ...b,
          expect: 'reject' as const,
        })),
        weight: 2,
      },
      {
        arbitrary: mutation.map((m) => {
          const { value, what } = mutate(valid, m);
          return { what, expect: 'maybe' as const, body: jsonBody(value), type: JSON_TYPE };
        }),
        weight: 3,
      },
    );
  const base = (a: string) => `/v1/accounts/${a}`;
  return fc.oneof(
    {
      arbitrary: fc
        .tuple(account, credential)
        .map(([a, cred]) =>
          call('whatsapp-settings', 'maybe', 'GET', `${base(a)}/whatsapp-settings`, cred),
        ),
      weight: 2,
    },
    {
      arbitrary: fc
        .tuple(account, credential, bodyOf(SETTINGS_BODY))
        .map(([a, cred, b]) =>
          call(
            `whatsapp-settings ${b.what}`,
            b.expect,
            'PUT',
            `${base(a)}/whatsapp-settings`,
            cred,
            b,
          ),
        ),
      weight: 4,
    },
    {
      arbitrary: fc
        .tuple(account, credential)
        .map(([a, cred]) =>
          call('whatsapp-connections', 'maybe', 'GET', `${base(a)}/whatsapp-connections`, cred),
        ),
      weight: 1,
    },
    {
      arbitrary: fc
        .tuple(account, credential, fc.boolean(), fc.nat())
        .chain(([a, cred, selfServe, n]) => {
          // Each may be accepted and stored: vary the number so it is not one duplicate.
          const valid = structuredClone(
            selfServe ? SELF_SERVE_CONNECTION : ENTERPRISE_CONNECTION,
          ) as Record<string, Json>;
          valid.waNumber = `9198${String(n % 100_000_000).padStart(8, '0')}`;
          return bodyOf(valid).map((b) =>
            call(
              `whatsapp-connections ${b.what}`,
              b.expect,
              'POST',
              `${base(a)}/whatsapp-connections`,
              cred,
              b,
            ),
          );
        }),
      weight: 2,
    },
    {
      // Only ids no real connection has: a hostile DELETE must not remove the target's own.
      arbitrary: fc
        .tuple(
          account,
          credential,
          fc.oneof(
            hostileSegment,
            fc.constantFrom('default', '0', '4294967296', '9999999999', '2147483647'),
          ),
        )
        .map(([a, cred, id]) =>
          call(
            'whatsapp-connections/:id',
            'reject',
            'DELETE',
            `${base(a)}/whatsapp-connections/${id}`,
            cred,
          ),
        ),
      weight: 1,
    },
    {
      arbitrary: fc
        .tuple(account, credential, bodyOf(VERIFY_BODY))
        .map(([a, cred, b]) =>
          call(
            `whatsapp-templates/verify ${b.what}`,
            b.expect,
            'POST',
            `${base(a)}/whatsapp-templates/verify`,
            cred,
            b,
          ),
        ),
      weight: 2,
    },
    {
      arbitrary: fc
        .tuple(
          account,
          credential,
          fc.oneof(fc.constantFrom(...REASONS), hostileSegment),
          bodyOf({ templateId: 'hostile-template', variables: { '1': 'customerFirstName' } }),
        )
        .map(([a, cred, reason, b]) =>
          call(
            `whatsapp-templates/:reason ${b.what}`,
            b.expect,
            'PUT',
            `${base(a)}/whatsapp-templates/${reason}`,
            cred,
            b,
          ),
        ),
      weight: 2,
    },
    {
      arbitrary: fc
        .tuple(fc.oneof(hostileSegment, fc.constant('4980116095129-90758')), credential)
        .map(([s, cred]) =>
          call('shipments/:id/activity', 'maybe', 'GET', `/v1/shipments/${s}/activity`, cred),
        ),
      weight: 1,
    },
    {
      arbitrary: credential.map((cred) =>
        call(
          'whatsapp-template-variables',
          'maybe',
          'GET',
          '/v1/whatsapp-template-variables',
          cred,
        ),
      ),
      weight: 1,
    },
  );
}

function loginRequests(ctx: Context): fc.Arbitrary<HostileRequest> {
  const { apiToken, accountToken, accountId } = ctx.target;
  const password = fc.oneof(
    { arbitrary: fc.constantFrom(apiToken, accountToken), weight: 1 },
    { arbitrary: hostileString, weight: 3 },
  );
  const next = fc.oneof(
    fc.constant(undefined),
    fc.constant(`/settings/${accountId}`),
    fc.constantFrom(
      '//evil.example',
      'https://evil.example/',
      '/settings/1/../../admin',
      'javascript:alert(1)',
      '/settings/%0d%0a',
    ),
    hostileString,
  );
  const post = (
    what: string,
    headers: Record<string, string>,
    body: BodySpec,
    expect: HostileRequest['expect'] = 'reject',
  ): HostileRequest => ({
    endpoint: 'settings-login',
    what,
    expect,
    method: 'POST',
    path: '/settings/login',
    headers,
    body,
  });
  return fc.oneof(
    {
      // The form as the page posts it, its fields hostile; the csrf matches its cookie or not.
      arbitrary: fc
        .tuple(
          password,
          next,
          fc.constantFrom('match', 'mismatch', 'no cookie', 'empty'),
          fc.oneof(hostileString, fc.constant('c')),
        )
        .map(([pw, nx, csrfCase, csrf]) => {
          const cookieValue = 'hostilecsrf';
          const fields: Record<string, string> = {
            password: pw,
            csrf: csrfCase === 'match' ? cookieValue : csrfCase === 'empty' ? '' : csrf,
          };
          if (nx !== undefined) {
            fields.next = nx;
          }
          const headers: Record<string, string> = { 'content-type': FORM };
          if (csrfCase !== 'no cookie') {
            headers.cookie = `wa_settings_login=${cookieValue}`;
          }
          // A real token with its matching csrf logs in (303).
          const valid = pw === apiToken || pw === accountToken;
          return post(
            `form (${csrfCase}${valid ? ', a valid token' : ''})`,
            headers,
            text(new URLSearchParams(fields).toString()),
            valid ? 'maybe' : 'reject',
          );
        }),
      weight: 5,
    },
    {
      arbitrary: fc
        .tuple(brokenForm, contentTypeFor(FORM))
        .map(([b, type]) =>
          post('broken form', { ...withType(type), cookie: 'wa_settings_login=c' }, text(b)),
        ),
      weight: 2,
    },
    {
      arbitrary: hostileBodies(LIMITS.login, FORM).map((b) =>
        post(b.what, { ...withType(b.type), cookie: 'wa_settings_login=c' }, b.body),
      ),
      weight: 2,
    },
    {
      // Odd cookies.
      arbitrary: fc
        .tuple(
          fc.constantFrom(
            'wa_settings_login=',
            'wa_settings_login',
            ';;;',
            '=x',
            'wa_settings_login=a; wa_settings_login=b',
            'wa_settings_session=s2.1.admin.x.y',
          ),
          hostileString,
        )
        .map(([c, pw]) =>
          post(
            'odd cookie',
            { 'content-type': FORM, cookie: c },
            text(new URLSearchParams({ password: pw, csrf: 'a' }).toString()),
          ),
        ),
      weight: 1,
    },
    {
      arbitrary: next.map((nx): HostileRequest => ({
        endpoint: 'settings-login',
        what: 'GET form',
        expect: 'maybe',
        method: 'GET',
        path: `/settings/login${nx === undefined ? '' : `?next=${enc(nx)}`}`,
        headers: {},
      })),
      weight: 1,
    },
  );
}

function trackRequests(ctx: Context): fc.Arbitrary<HostileRequest> {
  const secret = ctx.target.trackLinkSecret;
  const get = (what: string, expect: HostileRequest['expect'], path: string): HostileRequest => ({
    endpoint: 'track-link',
    what,
    expect,
    method: 'GET',
    path,
    headers: {},
  });
  const link = (shipment: string, e: string, sig: string) =>
    `/trackShipment/WhatsApp/${shipment}?e=${enc(e)}&sig=${enc(sig)}`;
  const future = () => Math.floor(Date.now() / 1_000) + 86_400;
  const shipment = fc.oneof(
    fc.constant('4980116095129-90758'),
    fc.stringMatching(/^[A-Za-z0-9_.#/-]{1,64}$/),
  );
  return fc.oneof(
    {
      // A valid link, then the same with one thing changed.
      arbitrary: fc
        .tuple(
          shipment,
          fc.constantFrom('valid', 'sig', 'e', 'expired', 'shipment', 'no sig', 'no e', 'extra'),
          fc.nat(),
        )
        .map(([s, change, n]) => {
          const e = future();
          const sig = signTrackedLink(secret, s, e);
          const seg = enc(s);
          switch (change) {
            case 'valid':
              return get('valid link', 'maybe', link(seg, String(e), sig));
            case 'sig':
              return get(
                'sig changed',
                'reject',
                link(seg, String(e), `${sig.slice(0, -1)}${sig.endsWith('A') ? 'B' : 'A'}`),
              );
            case 'e':
              return get('e changed', 'reject', link(seg, String(e + 1 + (n % 1000)), sig));
            case 'expired': {
              const past = Math.floor(Date.now() / 1_000) - 1 - (n % 100_000);
              return get(
                'expired',
                'reject',
                link(seg, String(past), signTrackedLink(secret, s, past)),
              );
            }
            case 'shipment':
              return get('other shipment', 'reject', link(enc(`${s}x`), String(e), sig));
            case 'no sig':
              return get('no sig', 'reject', `/trackShipment/WhatsApp/${seg}?e=${e}`);
            case 'no e':
              return get('no e', 'reject', `/trackShipment/WhatsApp/${seg}?sig=${sig}`);
            default:
              return get(
                'extra params',
                'maybe',
                `${link(seg, String(e), sig)}&e=${e}&sig=x&__proto__=1`,
              );
          }
        }),
      weight: 3,
    },
    {
      arbitrary: fc
        .tuple(
          hostileSegment,
          fc.oneof(fc.constantFrom(...ABSURD_NUMBER_TEXT), hostileString),
          hostileString,
        )
        .map(([seg, e, sig]) => get('hostile link', 'reject', link(seg, e, sig))),
      weight: 3,
    },
    {
      arbitrary: fc
        .tuple(hostileString, hostileString)
        .map(([a, b]) =>
          get(
            'repeated params',
            'reject',
            `/trackShipment/WhatsApp/x?e=1&e=${enc(a)}&sig=${enc(b)}&sig=y`,
          ),
        ),
      weight: 1,
    },
  );
}

/** Every endpoint, weighted by how much surface it has. */
export function hostileRequests(target: HostileTarget): fc.Arbitrary<HostileRequest> {
  const ctx = { target };
  return fc.oneof(
    { arbitrary: pushRequests(ctx), weight: 18 },
    { arbitrary: webhookRequests(ctx), weight: 30 },
    { arbitrary: webhookGetRequests(ctx), weight: 8 },
    { arbitrary: settingsApiRequests(ctx), weight: 24 },
    { arbitrary: loginRequests(ctx), weight: 10 },
    { arbitrary: trackRequests(ctx), weight: 10 },
  );
}

// ---------------------------------------------------------------------------------------------
// Sending and judging

function materialize(body: BodySpec): Buffer {
  if ('text' in body) {
    return Buffer.from(body.text);
  }
  if ('bytes' in body) {
    return Buffer.from(body.bytes);
  }
  return Buffer.from(`${body.head}${body.repeat.repeat(body.times)}${body.tail}`);
}

function bodySize(req: HostileRequest): number {
  const body = req.body;
  if (!body) {
    return 0;
  }
  if ('text' in body) {
    return Buffer.byteLength(body.text);
  }
  if ('bytes' in body) {
    return body.bytes.length;
  }
  return (
    Buffer.byteLength(body.head) +
    Buffer.byteLength(body.repeat) * body.times +
    Buffer.byteLength(body.tail)
  );
}

/** The body limit of the route and content type a request goes to (the login form's is 8 KiB). */
function bodyLimitOf(req: HostileRequest): number {
  switch (req.endpoint) {
    case 'webhook-post':
      return LIMITS.webhook;
    case 'settings-login':
      return (req.headers['content-type'] ?? '').toLowerCase().startsWith(FORM)
        ? LIMITS.login
        : LIMITS.push;
    default:
      return LIMITS.push;
  }
}

export interface Answer {
  status: number;
  contentType: string;
  body: string;
}

type Outcome = { ok: true; answer: Answer } | { ok: false; error: string };

async function send(agent: Agent, base: string, req: HostileRequest): Promise<Outcome> {
  try {
    const res = await request(`${base}${req.path}`, {
      method: req.method,
      headers: req.headers,
      ...(req.body ? { body: materialize(req.body) } : {}),
      dispatcher: agent,
      headersTimeout: 30_000,
      bodyTimeout: 30_000,
    });
    const body = await res.body.text();
    const type = res.headers['content-type'];
    return {
      ok: true,
      answer: {
        status: res.statusCode,
        contentType: (Array.isArray(type) ? type[0] : type) ?? '',
        body,
      },
    };
  } catch (err) {
    const e = err as Error & { code?: string };
    return { ok: false, error: `${e.code ?? e.name}: ${e.message}`.slice(0, 200) };
  }
}

function jsonReason(body: string): boolean {
  try {
    const value = JSON.parse(body) as unknown;
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      return false;
    }
    const record = value as Record<string, unknown>;
    return ['message', 'error', 'reason'].some(
      (key) => typeof record[key] === 'string' && record[key].trim() !== '',
    );
  } catch {
    return false;
  }
}

/** An HTML page with a non-empty alert: the login form's error, or an error page's message. */
function htmlReason(body: string): boolean {
  return /role="alert"[^>]*>\s*[^<\s][^<]*</.test(body);
}

/**
 * Whether a 4xx says why. Every JSON answer (the API's, Fastify's, the webhook's, the track
 * link's 404, a 429 of the brake) must be an object with a non-empty `message`, `error` or
 * `reason`; the login form answers HTML, which must show its error (`role="alert"`).
 */
export function hasReason(endpoint: Endpoint, answer: Answer): boolean {
  if (jsonReason(answer.body)) {
    return true;
  }
  return endpoint === 'settings-login' && answer.contentType.startsWith('text/html')
    ? htmlReason(answer.body)
    : false;
}

function emptyFigures(): EndpointFigures {
  return {
    requests: 0,
    ok: 0,
    rejected4xx: 0,
    server5xx: 0,
    noReason: 0,
    transportErrors: 0,
    oversizeResets: 0,
  };
}

/** Runs `tasks` with at most `limit` at once, keeping their order. */
async function pool<T, R>(
  items: readonly T[],
  limit: number,
  run: (item: T) => Promise<R>,
): Promise<R[]> {
  const results: R[] = new Array<R>(items.length);
  let next = 0;
  const lanes = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await run(items[i]!);
    }
  });
  await Promise.all(lanes);
  return results;
}

/** Counts the rows of every table of the database; one query. */
async function rowCounter(databaseUrl: string) {
  const conn = await mysql.createConnection({ uri: databaseUrl });
  const [tables] = await conn.query<mysql.RowDataPacket[]>(
    "SELECT table_name AS name FROM information_schema.tables WHERE table_schema = DATABASE() AND table_type = 'BASE TABLE' ORDER BY table_name",
  );
  const names = tables.map((t) => String(t.name));
  const sql = names
    .map((n) => `SELECT ${conn.escape(n)} AS t, COUNT(*) AS n FROM \`${n.replace(/`/g, '``')}\``)
    .join(' UNION ALL ');
  return {
    async count(): Promise<Map<string, number>> {
      const [rows] = await conn.query<mysql.RowDataPacket[]>(sql);
      return new Map(rows.map((r) => [String(r.t), Number(r.n)]));
    },
    close: () => conn.end(),
  };
}

/** Rows added between two counts, per table (tables that lost rows are not counted). */
function added(before: Map<string, number>, after: Map<string, number>): Map<string, number> {
  const out = new Map<string, number>();
  for (const [table, n] of after) {
    const diff = n - (before.get(table) ?? 0);
    if (diff > 0) {
      out.set(table, diff);
    }
  }
  return out;
}

const total = (m: Map<string, number>) => [...m.values()].reduce((a, b) => a + b, 0);
const describeRows = (m: Map<string, number>) => [...m].map(([t, n]) => `${t}+${n}`).join(', ');

export async function runHostileInput(
  target: HostileTarget,
  opts: HostileOptions,
): Promise<HostileFigures> {
  const started = Date.now();
  const seed = opts.seed ?? Date.now() % 2_147_483_647;
  const concurrency = Math.max(1, opts.concurrency ?? 16);
  const base = target.url.replace(/\/+$/, '');
  const secrets = [
    target.webhookToken,
    target.apiToken,
    target.accountToken,
    target.adminPassword,
    target.trackLinkSecret,
  ]
    .filter((s): s is string => typeof s === 'string' && s.length >= 4)
    .flatMap((s) => [s, enc(s)]);
  const redact = (s: string) =>
    secrets.reduce((acc, secret) => acc.split(secret).join('[secret]'), s);

  const figures: HostileFigures = {
    requests: 0,
    server5xx: 0,
    rejectedWithoutReason: 0,
    rowsWrittenOnRejection: 0,
    transportErrors: 0,
    oversizeResets: 0,
    byEndpoint: Object.fromEntries(ENDPOINTS.map((e) => [e, emptyFigures()])),
    samples: [],
    elapsedMs: 0,
  };
  const sample = (text: string) => {
    if (figures.samples.length < MAX_SAMPLES) {
      figures.samples.push(redact(text).replace(/\s+/g, ' ').slice(0, 400));
    }
  };
  const label = (req: HostileRequest) =>
    `${req.endpoint} ${req.what} (${req.method} ${req.path.split('?')[0]!.slice(0, 80)})`;

  // Keep-alive connections, as Gupshup and browsers use: a refusal that ends its connection
  // must say so, or the next request sent into it is reset (a transport error here).
  const agent = new Agent({ connections: concurrency, pipelining: 1, keepAliveTimeout: 10_000 });
  const rows = await rowCounter(target.databaseUrl);
  const admin = { authorization: `Bearer ${target.apiToken}` };
  const settingsPath = `/v1/accounts/${target.accountId}/whatsapp-settings`;
  const snapshot = await request(`${base}${settingsPath}`, { headers: admin, dispatcher: agent });
  const original =
    snapshot.statusCode === 200 ? ((await snapshot.body.json()) as Record<string, unknown>) : null;
  if (!original) {
    await snapshot.body.dump();
  }

  /** Sends and records one request's answer; returns whether it was refused (4xx). */
  const measure = async (
    req: HostileRequest,
  ): Promise<{ req: HostileRequest; outcome: Outcome }> => {
    const outcome = await send(agent, base, req);
    const fig = figures.byEndpoint[req.endpoint]!;
    figures.requests += 1;
    fig.requests += 1;
    if (!outcome.ok && bodySize(req) > bodyLimitOf(req)) {
      figures.oversizeResets += 1;
      fig.oversizeResets += 1;
      return { req, outcome };
    }
    if (!outcome.ok) {
      figures.transportErrors += 1;
      fig.transportErrors += 1;
      sample(
        `${label(req)} [${bodySize(req)} bytes, ${req.headers['content-type'] ?? 'no type'}] → no answer: ${outcome.error}`,
      );
      return { req, outcome };
    }
    const { status, body } = outcome.answer;
    if (status >= 500) {
      figures.server5xx += 1;
      fig.server5xx += 1;
      sample(`${label(req)} → ${status}: ${body.slice(0, 200)}`);
    } else if (status >= 400) {
      fig.rejected4xx += 1;
      if (!hasReason(req.endpoint, outcome.answer)) {
        figures.rejectedWithoutReason += 1;
        fig.noReason += 1;
        sample(`${label(req)} → ${status} without a reason: ${body.slice(0, 200) || '(empty)'}`);
      }
    } else {
      fig.ok += 1;
    }
    return { req, outcome };
  };
  const refused = (o: Outcome) => o.ok && o.answer.status >= 400 && o.answer.status < 500;

  /** Waits until the counts stop moving (other writers), up to a few seconds. */
  const quiet = async (): Promise<{ counts: Map<string, number>; wasQuiet: boolean }> => {
    let last = await rows.count();
    for (let i = 0; i < 20; i += 1) {
      await new Promise((r) => setTimeout(r, 150));
      const now = await rows.count();
      if (total(added(last, now)) === 0) {
        return { counts: now, wasQuiet: i === 0 };
      }
      last = now;
    }
    return { counts: last, wasQuiet: false };
  };

  /** Replays refused requests (not counted in the figures) to pin rows on them. */
  const replayOneByOne = async (reqs: HostileRequest[]): Promise<number> => {
    let pinned = 0;
    for (const req of reqs) {
      const before = await rows.count();
      const outcome = await send(agent, base, req);
      const after = await rows.count();
      const delta = added(before, after);
      if (refused(outcome) && total(delta) > 0) {
        pinned += total(delta);
        const status = outcome.ok ? outcome.answer.status : 0;
        sample(`${label(req)} → ${status} but wrote ${describeRows(delta)}`);
      }
    }
    return pinned;
  };

  /** A batch refused entirely (or its refused part) added rows: confirm and attribute them. */
  const attribute = async (
    reqs: HostileRequest[],
    delta: Map<string, number>,
    allRefused: boolean,
  ) => {
    const { wasQuiet } = await quiet();
    if (!allRefused) {
      // Replay the refused part as a batch first: one by one only if it writes again.
      const before = await rows.count();
      const replays = await pool(reqs, concurrency, (r) => send(agent, base, r));
      const after = await rows.count();
      const again = added(before, after);
      if (total(again) === 0 || !replays.every(refused)) {
        return;
      }
      await quiet();
    }
    const pinned = await replayOneByOne(reqs);
    if (pinned > 0) {
      figures.rowsWrittenOnRejection += pinned;
    } else if (allRefused && wasQuiet) {
      // Nothing else writes, yet a refused batch wrote: first-time-only rows (a key since taken).
      figures.rowsWrittenOnRejection += total(delta);
      sample(
        `a batch of ${reqs.length} refused requests (${[...new Set(reqs.map((r) => r.endpoint))].join(', ')}) wrote ${describeRows(delta)}; not written again on replay`,
      );
    }
  };

  const runBatch = async (reqs: HostileRequest[]) => {
    if (reqs.length === 0) {
      return;
    }
    const before = await rows.count();
    const results = await pool(reqs, concurrency, measure);
    const after = await rows.count();
    const delta = added(before, after);
    const rejected = results.filter((r) => refused(r.outcome)).map((r) => r.req);
    if (total(delta) > 0 && rejected.length > 0) {
      await attribute(rejected, delta, rejected.length === results.length);
    }
  };

  try {
    const arbitrary = hostileRequests(target);
    const batchSize = Math.max(8, concurrency * 4);
    let sent = 0;
    for (let batch = 0; sent < opts.runs; batch += 1) {
      const n = Math.min(batchSize, opts.runs - sent);
      const reqs = fc.sample(arbitrary, { seed: (seed + batch * 7_919) | 0, numRuns: n });
      // What should be refused runs apart from what may be accepted, so rows are attributable.
      await runBatch(reqs.filter((r) => r.expect === 'reject'));
      await runBatch(reqs.filter((r) => r.expect === 'maybe'));
      sent += n;
    }
  } finally {
    if (original) {
      const restore = await request(`${base}${settingsPath}`, {
        method: 'PUT',
        headers: { ...admin, 'content-type': JSON_TYPE },
        body: JSON.stringify({
          reasons: original.reasons,
          templates: original.templates,
          senderConnectionId: original.senderConnectionId,
          storeName: original.storeName,
          supportContactNumber: original.supportContactNumber,
          supportEmailAddress: original.supportEmailAddress,
        }),
        dispatcher: agent,
      });
      const answer = await restore.body.text();
      if (restore.statusCode !== 200) {
        sample(
          `restoring the account's settings failed: ${restore.statusCode} ${answer.slice(0, 200)}`,
        );
      }
    }
    await rows.close();
    await agent.close();
  }
  figures.elapsedMs = Date.now() - started;
  return figures;
}
