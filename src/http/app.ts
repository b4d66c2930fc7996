/**
 * buildApp(deps): the Fastify application (role `api`), without listening, so tests drive it
 * with `inject`. Routes are registered explicitly; one error handler maps HttpError to
 * `{ code, message }` and hides the detail of anything unexpected. Every route is in the OpenAPI
 * document at `/docs` (src/http/openapi.ts).
 */
import type { Socket } from 'node:net';

import type { Subscription } from '@google-cloud/pubsub';
import Fastify, {
  LogController,
  type ConnectionError,
  type FastifyBaseLogger,
  type FastifyError,
  type FastifyInstance,
} from 'fastify';

import { createCredentialCipher } from '../credentials.ts';
import type { Deps } from '../deps.ts';
import { HttpError } from '../errors.ts';
import { quietest } from '../log.ts';
import type { SettingsCache } from '../settings-cache.ts';
import { recordRoutes, registerOpenApi } from './openapi.ts';
import { activityRoutes } from './routes/activity.ts';
import { outcomeRoutes } from './routes/outcomes.ts';
import { adminRoutes } from './routes/admin.ts';
import { connectionRoutes } from './routes/connections.ts';
import { evidenceRoutes } from './routes/evidence.ts';
import { addressMatcher } from './addresses.ts';
import { createAuthFailures } from './auth-failures.ts';
import { createAuthenticator } from './auth.ts';
import { gupshupWebhookRoutes } from './routes/gupshup-webhook.ts';
import { healthRoutes } from './routes/health.ts';
import { metricsRoutes } from './routes/metrics.ts';
import { createPushVerifier, pubsubPushRoutes, type PushVerifier } from './routes/pubsub-push.ts';
import { settingsRoutes } from './routes/settings.ts';
import { settingsPageRoutes } from './routes/settings-page.ts';
import { suppressionRoutes } from './routes/suppressions.ts';
import { templateRoutes } from './routes/templates.ts';
import { trackRoutes } from './routes/track.ts';

export interface AppExtras {
  settings: SettingsCache;
  /** Overrides the push-token verifier (tests sign tokens with their own keys). */
  pushVerifier?: PushVerifier | null;
  /** The FDR subscription, when the subscriber role runs here: `/readyz` then checks Pub/Sub. */
  subscription?: Subscription | null;
}

/** Polled by orchestrators and Prometheus every few seconds: not worth an info line each. */
const QUIET_PATHS = new Set(['/healthz', '/readyz', '/metrics']);

/** TRUST_PROXY as Fastify takes it: a hop count becomes "trust the nearest n". */
function trustProxyOption(
  value: boolean | number | string[],
): boolean | string[] | ((address: string, hop: number) => boolean) {
  return typeof value === 'number' ? (_address, hop) => hop < value : value;
}

/**
 * The answer to a request Node's HTTP parser refuses before Fastify sees it (headers or URL
 * over the limit, a malformed request line, a request that took too long to arrive): JSON
 * `{ code, message }` like every other error, and `Connection: close`, because the socket is
 * destroyed right after. Fastify's own answer omits that header, so a keep-alive caller would
 * send its next request into the dead connection and have it reset.
 */
export function answerClientError(error: ConnectionError, socket: Socket): void {
  if (error.code === 'ECONNRESET' || socket.destroyed) {
    return;
  }
  const [status, reason, code, message] =
    error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
      ? [408, 'Request Timeout', 'ERR_REQUEST_TIMEOUT', 'the request did not arrive in time']
      : error.code === 'HPE_HEADER_OVERFLOW'
        ? [
            431,
            'Request Header Fields Too Large',
            'ERR_HEADERS_TOO_LARGE',
            'the URL and headers are over the size limit',
          ]
        : [400, 'Bad Request', 'ERR_BAD_REQUEST', 'the request is not valid HTTP'];
  const body = JSON.stringify({ code, message });
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json; charset=utf-8\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy(error);
}

export async function buildApp(deps: Deps, extras: AppExtras): Promise<FastifyInstance> {
  const { config, db, log } = deps;
  const logger: FastifyBaseLogger = log;
  const app = Fastify({
    loggerInstance: logger,
    // `request.ip` is the caller's address, or behind TRUST_PROXY the forwarded one.
    trustProxy: trustProxyOption(config.TRUST_PROXY),
    bodyLimit: 1_048_576,
    requestTimeout: 30_000,
    connectionTimeout: 60_000,
    clientErrorHandler: answerClientError,
    // Fastify's request lines are replaced by the one line per request below.
    logController: new LogController({ disableRequestLogging: true }),
  });

  // One line per request (Fastify's own is two), with the path but never the query string,
  // which can hold a token or a customer's number. A path that holds a customer's number
  // (`…/whatsapp-suppressions/:customerNumber`) is logged as its route pattern. Probes and
  // scrapes only at debug. A route that logs from `warn` up (the webhook, Bull Board) keeps
  // these lines out too.
  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? '';
    const path = route.includes(':customerNumber') ? route : (request.url.split('?')[0] ?? '');
    const fields = {
      method: request.method,
      path,
      statusCode: reply.statusCode,
      ms: Math.round(reply.elapsedTime),
    };
    if (QUIET_PATHS.has(path)) {
      request.log.debug(fields, 'request done');
    } else {
      request.log.info(fields, 'request done');
    }
  });

  // Once the server is closing, every answer ends its connection. A keep-alive connection
  // whose request was in flight when the close began would otherwise stay open until its
  // keep-alive timeout (72 s in Fastify), and the shutdown would wait for it.
  let closing = false;
  app.addHook('preClose', async () => {
    closing = true;
  });
  app.addHook('onSend', async (_request, reply) => {
    if (closing) {
      reply.header('connection', 'close');
    }
  });

  app.setErrorHandler((error: FastifyError | HttpError, request, reply) => {
    if (error instanceof HttpError) {
      return reply.code(error.status).send({ code: error.code, message: error.message });
    }
    const status = error.statusCode ?? 500;
    if (status < 500) {
      return reply
        .code(status)
        .send({ code: error.code ?? 'ERR_BAD_REQUEST', message: error.message });
    }
    request.log.error({ err: error }, 'unhandled error');
    return reply.code(500).send({ code: 'ERR_INTERNAL', message: 'internal error' });
  });
  app.setNotFoundHandler((_request, reply) =>
    reply.code(404).send({ code: 'ERR_NOT_FOUND', message: 'no such route' }),
  );

  // Before any route: both collect routes as they are registered (the list is for tests).
  recordRoutes(app);
  await registerOpenApi(app, quietest(log, 'warn'));

  await app.register(
    healthRoutes({ db, redis: deps.redis, log, subscription: extras.subscription ?? null }),
  );
  await app.register(metricsRoutes({ metrics: deps.metrics }));
  // Clients' own Gupshup apps: credentials sealed at rest, template lists read to verify.
  const cipher = createCredentialCipher(config);
  // One authenticator and one brute-force brake for every credential the API checks.
  const auth = {
    authenticator: createAuthenticator({ adminToken: config.API_TOKEN, db }),
    failures: createAuthFailures({
      redis: deps.redis,
      prefix: config.QUEUE_PREFIX,
      max: config.AUTH_MAX_FAILURES,
      windowMs: config.AUTH_FAILURE_WINDOW_MINUTES * 60_000,
      log,
    }),
  };
  app.decorateRequest('principal', null);
  await app.register(settingsRoutes({ config, db, settings: extras.settings, cipher, auth }));
  await app.register(
    connectionRoutes({ config, db, cipher, engine: deps.integrationEngine, auth }),
  );
  await app.register(
    templateRoutes({
      config,
      db,
      cipher,
      lists: deps.templateLists,
      settings: extras.settings,
      auth,
    }),
  );
  await app.register(activityRoutes({ db, auth }));
  await app.register(evidenceRoutes({ db, auth }));
  await app.register(outcomeRoutes({ db, auth }));
  await app.register(suppressionRoutes({ config, db, metrics: deps.metrics, auth }));
  // The HTML settings page: reads and writes through the routes above (app.inject).
  await app.register(settingsPageRoutes({ config, db, auth }));
  await app.register(trackRoutes({ config, db, queues: deps.queues }));
  await app.register(
    gupshupWebhookRoutes({
      db,
      writes: deps.writes,
      queues: deps.queues,
      log,
      token: config.WEBHOOK_TOKEN,
      allowedFrom: config.WEBHOOK_ALLOWED_CIDRS
        ? addressMatcher(config.WEBHOOK_ALLOWED_CIDRS)
        : null,
      maxEvents: config.WEBHOOK_MAX_EVENTS,
      metrics: deps.metrics,
    }),
  );
  // Bull Board, behind basic auth; not mounted without ADMIN_USER/ADMIN_PASSWORD. Its many
  // asset and polling requests are logged only when they go wrong.
  await app.register(adminRoutes({ config, queues: deps.queues, log, failures: auth.failures }), {
    logLevel: quietest(log, 'warn'),
  });

  const verifier =
    extras.pushVerifier !== undefined ? extras.pushVerifier : createPushVerifier(config);
  if (verifier || config.NODE_ENV !== 'production') {
    // Without a verifier (development only) the start-up warning names the open endpoint.
    await app.register(
      pubsubPushRoutes({ config, db, queues: deps.queues, metrics: deps.metrics, log, verifier }),
    );
  } else {
    log.warn('POST /pubsub/push is disabled: set PUBSUB_PUSH_AUDIENCE to enable it in production');
  }
  if (!config.API_TOKEN) {
    log.warn('API_TOKEN is not set: the settings and activity API refuse every request');
  }
  if (!cipher) {
    log.warn('CREDENTIALS_KEY is not set: clients cannot store or send through their own apps');
  }
  return app;
}
