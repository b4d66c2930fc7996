/**
 * buildApp(deps): the Fastify application (role `api`), without listening, so tests drive it
 * with `inject`. Routes are registered explicitly; one error handler maps HttpError to
 * `{ code, message }` and hides the detail of anything unexpected.
 */
import Fastify, { type FastifyBaseLogger, type FastifyError, type FastifyInstance } from 'fastify';

import type { Deps } from '../deps.ts';
import { HttpError } from '../errors.ts';
import type { SettingsCache } from '../settings-cache.ts';
import { activityRoutes } from './routes/activity.ts';
import { gupshupWebhookRoutes } from './routes/gupshup-webhook.ts';
import { healthRoutes } from './routes/health.ts';
import { metricsRoutes } from './routes/metrics.ts';
import { createPushVerifier, pubsubPushRoutes, type PushVerifier } from './routes/pubsub-push.ts';
import { settingsRoutes } from './routes/settings.ts';
import { trackRoutes } from './routes/track.ts';

export interface AppExtras {
  settings: SettingsCache;
  /** Overrides the push-token verifier (tests sign tokens with their own keys). */
  pushVerifier?: PushVerifier | null;
}

export async function buildApp(deps: Deps, extras: AppExtras): Promise<FastifyInstance> {
  const { config, db, log } = deps;
  const logger: FastifyBaseLogger = log;
  const app = Fastify({
    loggerInstance: logger,
    bodyLimit: 1_048_576,
    requestTimeout: 30_000,
    connectionTimeout: 60_000,
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

  await app.register(healthRoutes({ db, redis: deps.redis }));
  await app.register(metricsRoutes({ metrics: deps.metrics }));
  await app.register(settingsRoutes({ db, settings: extras.settings, apiToken: config.API_TOKEN }));
  await app.register(activityRoutes({ db, apiToken: config.API_TOKEN }));
  await app.register(trackRoutes({ config, db, queues: deps.queues }));
  await app.register(
    gupshupWebhookRoutes({
      db,
      queues: deps.queues,
      log,
      token: config.WEBHOOK_TOKEN,
      maxEvents: config.WEBHOOK_MAX_EVENTS,
    }),
  );

  const verifier =
    extras.pushVerifier !== undefined ? extras.pushVerifier : createPushVerifier(config);
  if (verifier || config.NODE_ENV !== 'production') {
    await app.register(pubsubPushRoutes({ db, queues: deps.queues, log, verifier }));
    if (!verifier) {
      log.warn('POST /pubsub/push accepts unauthenticated requests: set PUBSUB_PUSH_AUDIENCE');
    }
  } else {
    log.warn('POST /pubsub/push is disabled: set PUBSUB_PUSH_AUDIENCE to enable it in production');
  }
  if (!config.API_TOKEN) {
    log.warn('API_TOKEN is not set: the settings and activity API refuse every request');
  }
  return app;
}
