/**
 * `POST|GET /api/_ah/v1/message`: the one Gupshup webhook (the seed's path) for delivery reports,
 * customer replies and Gupshup's other callbacks, in every format src/webhook/parse.ts accepts
 * (Enterprise, v2, v3). Gupshup signs nothing, so the URL carries WEBHOOK_TOKEN (query `token`,
 * header `x-webhook-token` or `Authorization: Bearer`), compared in constant time; without a
 * configured token every request is refused.
 *
 * Each event is stored in `webhook_events` (keyed, so a repeated callback is one row) and
 * enqueued: delivery reports on `dlr.process`, inbound messages and v2 `opted-out` / `opted-in`
 * user events on `reply.route`. Other user events, billing events and callbacks the service has
 * no use for are stored as `ignored` with a note, and nothing is enqueued for them. Gupshup wants a quick 2xx with an empty body: 200 once stored
 * and queued, 400 with a reason for a malformed body, 401 without the token, 413 above 256 KiB,
 * 503 when MySQL or Redis cannot take the events (Gupshup retries). Nothing here calls Gupshup or
 * the WMS.
 *
 * A request that carries an inbound customer message is kept as received, for the evidence trail
 * (src/reply-evidence.ts): its body as a UTF-8 string (a GET reply's query string, less the
 * `token` parameter) and the hex SHA-256 of those bytes, on each `webhook_events` row it writes
 * for an inbound message. Delivery reports and other callbacks keep no raw body.
 *
 * Request logging is at `warn` for this route: the URL holds the token, and a GET reply holds the
 * customer's number and text in its query.
 */
import { createHash } from 'node:crypto';

import type { FastifyInstance, FastifyReply, FastifyRequest, LogLevel } from 'fastify';

import type { Db } from '../../db/client.ts';
import { webhookEventInserts, type ReceivedBody } from '../../db/webhook-events.ts';
import { inGroup, type WriteBatcher } from '../../db/write-batcher.ts';
import { coerceError, HttpError } from '../../errors.ts';
import type { Log } from '../../log.ts';
import type { Metrics } from '../../metrics.ts';
import { enqueue, type Queues } from '../../queues/index.ts';
import type { WebhookEvent } from '../../webhook/events.ts';
import { eventKey, parseWebhook, type ParseResult } from '../../webhook/parse.ts';
import { bearerToken, secretMatcher } from '../auth.ts';
import { documented, SECURITY } from '../openapi.ts';

export const WEBHOOK_PATH = '/api/_ah/v1/message';

/** Twenty reports are a few KiB; anything near this limit is not Gupshup. */
const BODY_LIMIT = 256 * 1_024;

const CONTENT_TYPES = ['application/json', 'application/x-www-form-urlencoded', 'text/plain'];

export interface GupshupWebhookDeps {
  db: Db;
  /** When given, the event's insert commits with concurrent requests' (group commit). */
  writes?: WriteBatcher;
  queues: Queues;
  log: Log;
  /** WEBHOOK_TOKEN; undefined refuses every request. */
  token: string | undefined;
  /** WEBHOOK_ALLOWED_CIDRS as a test of `request.ip`; null takes any address. */
  allowedFrom: ((address: string) => boolean) | null;
  /** WEBHOOK_MAX_EVENTS: delivery reports accepted in one post. */
  maxEvents: number;
  metrics: Pick<Metrics, 'webhookRequests'>;
}

/** The `outcome` label of `whatsapp_webhook_requests_total` for the status answered. */
function webhookOutcome(status: number): string {
  const outcomes: Record<number, string> = {
    200: 'accepted',
    400: 'invalid',
    401: 'unauthorized',
    403: 'forbidden_address',
    413: 'too_large',
    415: 'unsupported_type',
    503: 'unavailable',
  };
  return outcomes[status] ?? 'error';
}

function givenToken(request: FastifyRequest): string | null {
  const query = request.query as Record<string, unknown>;
  const fromQuery: unknown = Array.isArray(query.token) ? query.token[0] : query.token;
  if (typeof fromQuery === 'string' && fromQuery !== '') {
    return fromQuery;
  }
  const header = request.headers['x-webhook-token'];
  if (typeof header === 'string' && header !== '') {
    return header;
  }
  return bearerToken(request);
}

export function gupshupWebhookRoutes(deps: GupshupWebhookDeps) {
  return async (app: FastifyInstance): Promise<void> => {
    const { token, log } = deps;
    const isToken = token ? secretMatcher(token) : () => false;
    if (!token) {
      log.warn(`${WEBHOOK_PATH} refuses every request: set WEBHOOK_TOKEN`);
    }

    // This plugin's own parsers (encapsulated: other routes keep Fastify's JSON parser): the raw
    // bytes, so parseWebhook sees exactly what Gupshup sent, whatever it calls it.
    app.removeAllContentTypeParsers();
    app.addContentTypeParser(
      CONTENT_TYPES,
      { parseAs: 'buffer', bodyLimit: BODY_LIMIT },
      (_request, body, done) => done(null, body),
    );

    // Every answer counts, including those Fastify gives before the handler (413, 415).
    app.addHook('onResponse', async (_request, reply) => {
      deps.metrics.webhookRequests.inc({ outcome: webhookOutcome(reply.statusCode) });
    });

    // Before the body is read: an unauthenticated caller gets nothing parsed.
    app.addHook('onRequest', async (request) => {
      if (deps.allowedFrom && !deps.allowedFrom(request.ip)) {
        throw new HttpError(403, 'ERR_FORBIDDEN', 'this address may not post to the webhook');
      }
      const given = givenToken(request);
      if (!given || !isToken(given)) {
        throw new HttpError(401, 'ERR_UNAUTHORIZED', 'a valid webhook token is required');
      }
    });

    const handler = async (request: FastifyRequest, reply: FastifyReply) => {
      const parsed = parse(request, deps.maxEvents);
      if (!parsed.ok) {
        request.log.warn({ reason: parsed.reason }, 'Gupshup webhook request rejected');
        throw new HttpError(400, 'ERR_VALIDATION', parsed.reason);
      }
      const received = parsed.events.some((e) => e.kind === 'inbound')
        ? receivedBody(request)
        : undefined;
      let created = 0;
      try {
        for (const event of parsed.events) {
          created += (await storeAndEnqueue(deps, event, received)) ? 1 : 0;
        }
      } catch (err) {
        request.log.error({ err: storageError(err) }, 'Gupshup webhook events not stored');
        throw new HttpError(
          503,
          'ERR_UNAVAILABLE',
          'the events could not be recorded; retry later',
        );
      }
      // One line per callback is Gupshup's volume, not an event an operator reads: debug, with
      // whatsapp_webhook_requests_total counting every outcome (refusals log at warn).
      log.debug(
        { reqId: request.id, ...countKinds(parsed.events), created },
        'Gupshup webhook events recorded',
      );
      return reply.code(200).send();
    };

    app.route({
      method: ['GET', 'POST'],
      url: WEBHOOK_PATH,
      bodyLimit: BODY_LIMIT,
      // At least `warn` (never more verbose than the service's own level).
      logLevel: log.levelVal > log.levels.values.warn! ? (log.level as LogLevel) : 'warn',
      // No body schema: the body is raw bytes in any of the shapes src/webhook/parse.ts reads
      // (JSON, form fields, text), and Fastify allows none on a route that also answers GET.
      ...documented({
        tags: ['ingress'],
        summary: 'Gupshup delivery reports and customer replies',
        description:
          'The one Gupshup callback, in every format Gupshup posts: Enterprise delivery reports (one or a batch of up to WEBHOOK_MAX_EVENTS) and inbound messages; v2 callbacks (message-event, message, user-event — `opted-out` and `opted-in` change the suppression list —, billing-event, and others acknowledged as ignored); v3 (Meta-format) callbacks (statuses and messages, batched up to 500 events; other fields and echoes acknowledged as ignored). As `application/json`, `application/x-www-form-urlencoded` or `text/plain` bodies up to 256 KiB, or as a GET query.',
        security: SECURITY.webhook,
        responses: {
          200: { description: 'Stored and queued (empty body)', body: 'none' },
          400: 'Malformed: the message says why',
          401: 'No valid webhook token',
          403: 'The caller is outside WEBHOOK_ALLOWED_CIDRS',
          413: 'Body over 256 KiB',
          415: 'Unsupported content type',
          503: 'MySQL or Redis unavailable: Gupshup retries',
        },
      }),
      handler,
    });
  };
}

/** How many events of each kind a request held, for its log line. */
function countKinds(events: WebhookEvent[]) {
  const count = (kind: WebhookEvent['kind']) => events.filter((e) => e.kind === kind).length;
  return {
    reports: count('dlr'),
    messages: count('inbound'),
    userEvents: count('user'),
    billingEvents: count('billing'),
    ignored: count('ignored'),
  };
}

function parse(request: FastifyRequest, maxEvents: number): ParseResult {
  const body = Buffer.isBuffer(request.body) ? request.body : null;
  try {
    return parseWebhook(
      {
        contentType: request.headers['content-type'],
        body: request.method === 'GET' ? null : (body ?? Buffer.alloc(0)),
        query: request.query as Record<string, unknown>,
      },
      { maxEvents },
    );
  } catch (err) {
    // A parser bug must not become a 500 that Gupshup retries forever.
    request.log.error({ err: coerceError(err).message }, 'Gupshup webhook body could not be read');
    return { ok: false, reason: 'the body could not be read' };
  }
}

/**
 * The request as received, for an inbound message's evidence: the body's bytes as a UTF-8
 * string and their SHA-256 (bytes that are not UTF-8 are stored with replacement characters,
 * so the stored body then no longer matches its hash, and the evidence says so). A GET (or a
 * POST without a body) carries its message in the query, as src/webhook/parse.ts reads it: the
 * raw query string is kept, less the `token` parameter, so the webhook's secret is never
 * stored; the hash is of what is stored.
 */
function receivedBody(request: FastifyRequest): ReceivedBody {
  const body = Buffer.isBuffer(request.body) ? request.body : null;
  const bytes =
    request.method === 'GET' || !body || body.toString('utf8').trim() === ''
      ? Buffer.from(queryWithoutToken(request.url), 'utf8')
      : body;
  return {
    rawBody: bytes.toString('utf8'),
    bodySha256: createHash('sha256').update(bytes).digest('hex'),
  };
}

/** The raw query string of `url`, its `token` parameters left out, other bytes untouched. */
function queryWithoutToken(url: string): string {
  const start = url.indexOf('?');
  if (start === -1) {
    return '';
  }
  return url
    .slice(start + 1)
    .split('&')
    .filter((part) => parameterName(part) !== 'token')
    .join('&');
}

function parameterName(part: string): string {
  const name = part.split('=', 1)[0] ?? '';
  try {
    return decodeURIComponent(name.replace(/\+/g, ' '));
  } catch {
    return name;
  }
}

/**
 * What went wrong with MySQL or Redis, for the log. Not the error's own message: drizzle's
 * quotes the query's parameters, which hold the customer's number and text.
 */
function storageError(err: unknown): string {
  const error = coerceError(err);
  const cause = error.cause instanceof Error ? error.cause : error;
  const code = (cause as Error & { code?: unknown }).code;
  const message = cause.message.split('\nparams:')[0]?.slice(0, 300) ?? '';
  return typeof code === 'string' ? `${code}: ${message}` : message;
}

/**
 * Stores one event and enqueues its job; returns whether the event is new. A repeated event
 * still waiting (`received`) is enqueued again — a no-op while its job exists (deterministic job
 * id), a repair if Redis lost it; one already handled is not. Also used by `wa-notify replay`.
 *
 * Delivery reports go to `dlr.process`; messages, opt-outs and opt-ins (v2 user events) to
 * `reply.route`. Other user events, billing events and ignored callbacks have no job: they are
 * stored already `ignored`, with a note saying what they were, and nothing is enqueued.
 *
 * `received` is the request as it arrived, stored with an inbound message only (the evidence of
 * the customer's answer); a replayed body has none, as nothing proves Gupshup sent it.
 */
export async function storeAndEnqueue(
  deps: Pick<GupshupWebhookDeps, 'db' | 'queues' | 'writes'>,
  event: WebhookEvent,
  received?: ReceivedBody,
): Promise<boolean> {
  const key = eventKey(event);
  if (event.kind !== 'dlr' && event.kind !== 'inbound' && !isOptChange(event)) {
    const handled = { status: 'ignored', note: storedOnlyNote(event) } as const;
    return (await record(deps, key, event, handled)).created;
  }
  const body = event.kind === 'inbound' ? received : undefined;
  const { id, created, status } = await record(deps, key, event, undefined, body);
  if (created || status === 'received') {
    if (event.kind === 'dlr') {
      await enqueue(deps.queues, 'dlr.process', { webhookEventId: id });
    } else {
      await enqueue(deps.queues, 'reply.route', { webhookEventId: id });
    }
  }
  return created;
}

/** A v2 user event that changes the suppression list: the customer opted out or in. */
export function isOptChange(event: WebhookEvent): boolean {
  return (
    event.kind === 'user' && (event.event.type === 'opted-out' || event.event.type === 'opted-in')
  );
}

type StoredOnly = Exclude<WebhookEvent, { kind: 'dlr' } | { kind: 'inbound' }>;

/** The `webhook_events.note` of an event stored with no job. Quotes no personal data. */
function storedOnlyNote(event: StoredOnly): string {
  switch (event.kind) {
    case 'user':
      return `user-event ${event.event.type}: stored, no action`;
    case 'billing':
      return `billing-event${event.event.category ? ` ${event.event.category}` : ''}: stored, no action`;
    case 'ignored':
      return `ignored: ${event.ignored.what} (${event.ignored.reason})`;
  }
}

/** Stores one event, with the concurrent requests' events when there is a write batcher. */
function record(
  deps: Pick<GupshupWebhookDeps, 'db' | 'writes'>,
  eventKey: string,
  event: WebhookEvent,
  handled?: { status: 'ignored'; note: string },
  received?: ReceivedBody,
) {
  return inGroup(deps.db, deps.writes, webhookEventInserts, {
    eventKey,
    event,
    ...(handled ? { handled } : {}),
    ...(received ? { received } : {}),
  });
}
