/**
 * Configuration: one valibot schema, parsed once at start. This is the only module that reads
 * `process.env`; everything else receives the frozen `Config` object.
 *
 * A missing or malformed variable stops the process with one message listing every problem.
 */
import {
  DEFAULT_QUIET_HOURS_SETTING,
  isTimeZone,
  parseQuietHoursSetting,
  type QuietHours,
} from './policy.ts';
import * as v from 'valibot';

import { isKeyText } from './credentials.ts';
import { isCidr } from './http/addresses.ts';
import { parseRedisNode, redisOptions, type RedisNode } from './redis.ts';

const ROLES = ['api', 'worker', 'subscriber'] as const;
export type Role = (typeof ROLES)[number];

const optionalString = v.optional(
  v.pipe(
    v.string(),
    v.trim(),
    v.transform((s) => (s === '' ? undefined : s)),
  ),
);

const int = (fallback: number, min = 0, upper?: { max: number; why: string }) =>
  v.optional(
    v.pipe(
      v.string(),
      v.trim(),
      v.toNumber(),
      v.integer('must be a whole number'),
      v.minValue(min, `must be at least ${min}`),
      v.maxValue(upper?.max ?? Number.MAX_SAFE_INTEGER, upper?.why),
    ),
    String(fallback),
  );

const bool = (fallback: boolean) =>
  v.optional(
    v.pipe(
      v.string(),
      v.trim(),
      v.toLowerCase(),
      v.picklist(['true', 'false', '1', '0', 'yes', 'no'], 'must be true or false'),
      v.transform((s) => s === 'true' || s === '1' || s === 'yes'),
    ),
    String(fallback),
  );

const urlString = v.pipe(
  v.string(),
  v.trim(),
  v.url('must be a URL'),
  v.transform((s) => s.replace(/\/+$/, '')),
);
const url = (fallback: string) => v.optional(urlString, fallback);
const optionalUrl = () => v.optional(urlString);

/** `a, b,,c` → `['a', 'b', 'c']`. */
function splitList(text: string): string[] {
  return text
    .split(',')
    .map((item) => item.trim())
    .filter(Boolean);
}

const roles = v.optional(
  v.pipe(
    v.string(),
    v.transform(splitList),
    v.array(v.picklist(ROLES, `each role must be one of ${ROLES.join(', ')}`)),
    v.minLength(1, 'needs at least one role'),
  ),
  ROLES.join(','),
);

/** A 32-byte key: 64 hex digits, or base64 (44 characters) / base64url (43); no passphrase. */
const key32 = v.optional(
  v.pipe(
    v.string(),
    v.trim(),
    v.check(
      isKeyText,
      'must be exactly 32 bytes, as 64 hex digits or base64 (openssl rand -base64 32)',
    ),
  ),
);

export const ConfigSchema = v.object({
  // Strict unless told otherwise: an unset NODE_ENV is production (see `relaxations`).
  NODE_ENV: v.optional(v.picklist(['development', 'test', 'production']), 'production'),
  LOG_LEVEL: v.optional(
    v.picklist(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']),
    'info',
  ),
  PORT: int(3000, 0),
  HOST: v.optional(v.string(), '0.0.0.0'),
  ROLES: roles,

  REDIS_URL: url('redis://127.0.0.1:6379'),
  // A Redis Cluster's nodes (some or all): takes precedence over REDIS_URL's host (src/redis.ts).
  REDIS_CLUSTER_NODES: v.optional(
    v.pipe(
      v.string(),
      v.transform(splitList),
      v.check(
        (list) => list.length > 0 && list.every((n) => parseRedisNode(n) !== null),
        'must be comma-separated host:port pairs (10.0.0.1:6379,10.0.0.2:6379; [::1]:7000)',
      ),
      v.transform((list): readonly RedisNode[] => list.map((n) => parseRedisNode(n)!)),
    ),
  ),
  QUEUE_PREFIX: v.optional(
    v.pipe(v.string(), v.regex(/^[A-Za-z0-9_.-]+$/, 'letters, digits, _ . - only')),
    'wa',
  ),
  DATABASE_URL: v.optional(
    v.pipe(v.string(), v.startsWith('mysql://', 'must start with mysql://')),
    'mysql://root@127.0.0.1:3306/whatsapp_notifications',
  ),
  DB_MIGRATE_ON_START: bool(true),

  PUBSUB_PROJECT_ID: v.optional(v.string(), 'local-project'),
  PUBSUB_EMULATOR_HOST: optionalString,
  FDR_TOPIC: v.optional(v.string(), 'fdr-events'),
  FDR_SUBSCRIPTION: v.optional(v.string(), 'whatsapp-notifications-fdr'),
  ACTIVITY_TOPIC: v.optional(v.string(), 'shipment-activity'),
  PUBSUB_PUSH_AUDIENCE: optionalString,
  PUBSUB_PUSH_SERVICE_ACCOUNT: optionalString,
  GOOGLE_JWKS_URL: url('https://www.googleapis.com/oauth2/v3/certs'),

  GUPSHUP_ENTERPRISE_URL: url('https://media.smsgupshup.com/GatewayAPI/rest'),
  GUPSHUP_DEFAULT_USERID: optionalString,
  GUPSHUP_DEFAULT_PASSWORD: optionalString,
  GUPSHUP_DEFAULT_WA_NUMBER: optionalString,
  GUPSHUP_DEFAULT_APP_NAME: v.optional(v.string(), 'eshopbox'),
  GUPSHUP_DEFAULT_API: v.optional(
    v.picklist(['enterprise', 'self-serve'], 'must be enterprise or self-serve'),
    'enterprise',
  ),
  GUPSHUP_DEFAULT_API_KEY: optionalString,
  GUPSHUP_INTERACTIVE_UNSUPPORTED_CODES: v.optional(
    v.pipe(
      v.string(),
      v.transform((s) => s.replace(/\s+/g, '').toLowerCase()),
      v.regex(/^(all|\d+(,\d+)*)$/, 'must be all or comma-separated Gupshup error ids'),
      v.transform((s): 'all' | readonly string[] => (s === 'all' ? 'all' : s.split(','))),
    ),
    'all',
  ),
  INTERACTIVE_RECHECK_HOURS: int(24, 0),
  GUPSHUP_TEMPLATE_MSG_TYPE: v.optional(v.string(), 'HSM'),
  GUPSHUP_MAX_PER_SECOND: int(100, 1),
  GUPSHUP_SENDER_MAX_PER_SECOND: int(20, 1),
  GUPSHUP_TIMEOUT_MS: int(10_000, 100),
  MESSAGE_SEND_ATTEMPTS: int(6, 1),
  MESSAGE_SEND_BACKOFF_MS: int(2_000, 1),
  SEND_RECONCILE_MS: int(60_000, 0),
  SENDER_PAUSE_PROBE_MS: int(300_000, 100),
  PLATFORM_NAME: v.optional(v.string(), 'Eshopbox'),
  DEFAULT_COUNTRY: v.optional(v.pipe(v.string(), v.regex(/^[A-Z]{2}$/)), 'IN'),
  MAX_FDR_ATTEMPTS: int(3, 1),
  /**
   * The business time zone of the outcomes: the WMS's local status times (`YYYY-MM-DD HH:MM:SS`)
   * are read in it, and a customer's chosen delivery date ends at its midnight.
   */
  OUTCOME_TIME_ZONE: v.optional(
    v.pipe(v.string(), v.check(isTimeZone, 'must be an IANA time zone (e.g. Asia/Kolkata)')),
    'Asia/Kolkata',
  ),

  GUPSHUP_DEFAULT_TWO_WAY_USERID: optionalString,
  GUPSHUP_DEFAULT_TWO_WAY_PASSWORD: optionalString,
  WEBHOOK_MAX_EVENTS: int(20, 1),
  REPLY_SETTLE_SECONDS: int(30, 0),
  CONVERSATION_MAX_AGE_DAYS: int(7, 1),
  DATE_CHOICE_COUNT: int(3, 1, { max: 10, why: 'a WhatsApp list holds at most 10 rows' }),
  DATE_CHOICE_HORIZON_DAYS: int(6, 1, { max: 6, why: 'couriers accept at most 6 days ahead' }),
  DATE_CHOICE_SKIP_SUNDAYS: bool(false),

  GUPSHUP_TEMPLATE_LIST_URL: url('https://wamedia.smsgupshup.com/GatewayAPI/rest'),
  GUPSHUP_SELF_SERVE_URL: url('https://api.gupshup.io'),
  TEMPLATE_ALLOWED_CATEGORIES: v.optional(
    v.pipe(
      v.string(),
      v.transform((s) => splitList(s).map((c) => c.toUpperCase())),
      v.array(v.picklist(['UTILITY', 'MARKETING', 'AUTHENTICATION'], 'unknown template category')),
    ),
    'UTILITY',
  ),
  INTEGRATION_ENGINE_URL: optionalUrl(),

  WMS_API_URL: optionalUrl(),
  WMS_API_TOKEN: optionalString,
  WMS_TIMEOUT_MS: int(10_000, 100),
  PORTAL_BASE_URL: optionalUrl(),
  PUBLIC_BASE_URL: optionalUrl(),
  WEBHOOK_TOKEN: optionalString,
  WEBHOOK_ALLOWED_CIDRS: v.optional(
    v.pipe(
      v.string(),
      v.transform(splitList),
      v.check(
        (list) => list.every(isCidr),
        'must be comma-separated addresses or CIDR networks (203.0.113.0/24, 2001:db8::/32)',
      ),
    ),
  ),
  TRUST_PROXY: v.optional(
    v.pipe(
      v.string(),
      v.trim(),
      v.transform((s): boolean | number | string[] => {
        const lower = s.toLowerCase();
        if (lower === 'true' || lower === 'false') {
          return lower === 'true';
        }
        return /^\d+$/.test(s) ? Number(s) : splitList(s);
      }),
      v.check(
        (t) => !Array.isArray(t) || t.every(isCidr),
        'must be true, false, a number of proxy hops, or comma-separated proxy addresses or CIDR networks',
      ),
    ),
    'false',
  ),
  DEFAULT_QUIET_HOURS: v.optional(
    v.pipe(
      v.string(),
      v.transform(parseQuietHoursSetting),
      v.check(
        (q) => typeof q !== 'string',
        'must be HH:MM-HH:MM <IANA zone> (e.g. 21:00-09:00 Asia/Kolkata) or off',
      ),
      v.transform((q) => q as QuietHours | null),
    ),
    DEFAULT_QUIET_HOURS_SETTING,
  ),
  API_TOKEN: optionalString,
  AUTH_MAX_FAILURES: int(10, 1),
  AUTH_FAILURE_WINDOW_MINUTES: int(15, 1),
  ADMIN_USER: optionalString,
  ADMIN_PASSWORD: optionalString,
  CREDENTIALS_KEY: key32,
  CREDENTIALS_KEY_PREVIOUS: key32,
  TRACK_LINK_SECRET: optionalString,
  TRACK_LINK_TTL_DAYS: int(30, 1),
  PORTAL_TOKEN_SECRET: optionalString,
  PORTAL_TOKEN_TTL_SECONDS: int(900, 30),
  POSTBACK_SECRET: optionalString,
  POSTBACK_SECRET_PREVIOUS: optionalString,
  SHUTDOWN_TIMEOUT_MS: int(25_000, 0),
  IDLE_GC_AFTER_MS: int(10_000, 0),

  SETTINGS_CACHE_TTL_MS: int(30_000, 0),
  ACTIVITY_PUBLISH_DELAY_MS: int(100, 0),
  SWEEP_INTERVAL_MS: int(30_000, 0),
  SWEEP_GRACE_MS: int(60_000, 0),
  NO_REPLY_QUEUE_AHEAD_MS: int(600_000, 0),
  RETENTION_DAYS: int(30, 1),
  RETENTION_INTERVAL_MS: int(3_600_000, 0),
  RETENTION_BATCH: int(1_000, 1),
  PERSONAL_DATA_RETENTION_DAYS: int(365, 1),
  WORKER_CONCURRENCY: int(32, 1),
  JOB_LOCK_MS: int(30_000, 500),
  JOB_STALLED_INTERVAL_MS: int(30_000, 100),
  JOB_MAX_STALLS: int(100, 1),
});

export type Config = Readonly<v.InferOutput<typeof ConfigSchema>>;

export class ConfigError extends Error {
  readonly code = 'ERR_CONFIG';
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n  - ${problems.join('\n  - ')}`);
    this.name = 'ConfigError';
  }
}

/** Parses the environment (or any string map, for tests). Throws ConfigError listing every problem. */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const input: Record<string, string> = {};
  for (const key of Object.keys(ConfigSchema.entries)) {
    const value = env[key];
    // An empty variable means "not set", as in most deployment tools' env files.
    if (value !== undefined && value.trim() !== '') {
      input[key] = value;
    }
  }
  const result = v.safeParse(ConfigSchema, input);
  if (!result.success) {
    const problems = result.issues.map((issue) => {
      const key = v.getDotPath(issue) ?? '(root)';
      return `${key}: ${issue.message}`;
    });
    throw new ConfigError(problems);
  }
  const config = result.output;
  const problems: string[] = [];
  if (config.NODE_ENV === 'production') {
    for (const key of [
      'API_TOKEN',
      'WEBHOOK_TOKEN',
      'CREDENTIALS_KEY',
      'TRACK_LINK_SECRET',
    ] as const) {
      if (!config[key]) {
        problems.push(`${key}: required when NODE_ENV=production`);
      }
    }
    // These are compared with what callers present, and the login form has no rate limit: a
    // short one could be guessed. (CREDENTIALS_KEY is checked for its own 32 bytes.)
    for (const key of [
      'API_TOKEN',
      'WEBHOOK_TOKEN',
      'TRACK_LINK_SECRET',
      'POSTBACK_SECRET',
      'PORTAL_TOKEN_SECRET',
      'ADMIN_PASSWORD',
    ] as const) {
      const value = config[key];
      if (value && value.length < MIN_PRODUCTION_SECRET_LENGTH) {
        problems.push(
          `${key}: at least ${MIN_PRODUCTION_SECRET_LENGTH} characters when NODE_ENV=production (e.g. openssl rand -base64 24)`,
        );
      }
    }
  }
  if (config.NODE_ENV === 'production' && config.PORTAL_BASE_URL && !config.PORTAL_TOKEN_SECRET) {
    problems.push(
      'PORTAL_TOKEN_SECRET: required with PORTAL_BASE_URL when NODE_ENV=production (the portal verifies the token with it)',
    );
  }
  if (config.REDIS_CLUSTER_NODES && redisOptions(config.REDIS_URL).db !== 0) {
    // A cluster has database 0 only; REDIS_URL then names no other.
    problems.push('REDIS_URL: names no database with REDIS_CLUSTER_NODES (a cluster has only 0)');
  }
  if (Boolean(config.ADMIN_USER) !== Boolean(config.ADMIN_PASSWORD)) {
    problems.push('ADMIN_USER and ADMIN_PASSWORD: set both or neither');
  }
  if (config.PUBSUB_PUSH_AUDIENCE && !config.PUBSUB_PUSH_SERVICE_ACCOUNT) {
    // Anyone can mint a Google-signed ID token for any audience: the identity is what counts.
    problems.push(
      'PUBSUB_PUSH_SERVICE_ACCOUNT: required with PUBSUB_PUSH_AUDIENCE (the email of the service account the push subscription signs as)',
    );
  }
  if (problems.length > 0) {
    throw new ConfigError(problems);
  }
  return Object.freeze(config);
}

/**
 * What a development or test configuration allows that production refuses, one phrase each, for
 * the start-up warning; empty in production.
 */
export function relaxations(config: Config): string[] {
  if (config.NODE_ENV === 'production') {
    return [];
  }
  const relaxed: string[] = [];
  const missing = (
    ['API_TOKEN', 'WEBHOOK_TOKEN', 'CREDENTIALS_KEY', 'TRACK_LINK_SECRET'] as const
  ).filter((key) => !config[key]);
  if (missing.length > 0) {
    relaxed.push(`runs without ${missing.join(', ')}`);
  }
  if (!config.TRACK_LINK_SECRET) {
    relaxed.push('signs tracked links and postbacks with a fixed development secret');
  }
  if (config.PORTAL_BASE_URL && !config.PORTAL_TOKEN_SECRET) {
    relaxed.push('signs portal tokens with a fixed development secret');
  }
  if (!config.PUBSUB_PUSH_AUDIENCE) {
    relaxed.push('POST /pubsub/push takes unauthenticated requests');
  }
  relaxed.push(`secrets shorter than ${MIN_PRODUCTION_SECRET_LENGTH} characters are accepted`);
  return relaxed;
}

/** Shortest secret accepted in production. */
const MIN_PRODUCTION_SECRET_LENGTH = 24;

/** The externally reachable base URL of this service (links we send point here). */
export function publicBaseUrl(config: Pick<Config, 'PUBLIC_BASE_URL' | 'PORT'>): string {
  return config.PUBLIC_BASE_URL ?? `http://localhost:${config.PORT}`;
}
