/**
 * `POST /pubsub/push`: the push face of FDR ingress, for a Pub/Sub push subscription. Takes the
 * standard push envelope; when PUBSUB_PUSH_AUDIENCE is set, the Google-signed OIDC token in
 * `Authorization` must verify (RS256 signature, issuer, audience, expiry, and the verified email
 * of PUBSUB_PUSH_SERVICE_ACCOUNT, which configuration requires with an audience). Without an
 * audience the route exists only outside production. Answers 204 once the event is recorded and
 * queued, is not ours, or is invalid and recorded as such (`x-ingest-status: rejected`: a
 * redelivery could not fix it, so it must not be redelivered); 503 when MySQL or Redis is
 * unavailable, so Pub/Sub redelivers.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { createRemoteJWKSet, jwtVerify, type JWTVerifyGetKey } from 'jose';
import * as v from 'valibot';

import type { Config } from '../../config.ts';
import type { Db } from '../../db/client.ts';
import { HttpError, safeErrorMessage } from '../../errors.ts';
import type { Log } from '../../log.ts';
import type { Metrics } from '../../metrics.ts';
import { ingestFdrMessage } from '../../pubsub/ingest.ts';
import type { Queues } from '../../queues/index.ts';
import { bearerToken } from '../auth.ts';
import { documented, SECURITY } from '../openapi.ts';
import { parseBody } from '../validation.ts';

export const PushEnvelope = v.object({
  message: v.object({
    data: v.optional(v.pipe(v.string(), v.base64('message.data must be base64')), ''),
    messageId: v.optional(v.string()),
    message_id: v.optional(v.string()),
    attributes: v.optional(v.nullable(v.record(v.string(), v.string()))),
    publishTime: v.optional(v.string()),
  }),
  subscription: v.optional(v.string()),
});

const GOOGLE_ISSUERS = ['https://accounts.google.com', 'accounts.google.com'];

export interface PushVerifier {
  verify(token: string): Promise<void>;
}

export function createPushVerifier(config: Config, keys?: JWTVerifyGetKey): PushVerifier | null {
  const audience = config.PUBSUB_PUSH_AUDIENCE;
  if (!audience) {
    return null;
  }
  const jwks = keys ?? createRemoteJWKSet(new URL(config.GOOGLE_JWKS_URL));
  return {
    async verify(token) {
      // Google signs ID tokens with RS256; pinning it refuses any other algorithm a key set
      // might also allow.
      const { payload } = await jwtVerify(token, jwks, {
        issuer: GOOGLE_ISSUERS,
        audience,
        algorithms: ['RS256'],
      });
      // Anyone can get a Google-signed token for this audience: only the push subscription's
      // own service account, with its email verified, may push (config requires it is set).
      if (payload.email !== config.PUBSUB_PUSH_SERVICE_ACCOUNT || payload.email_verified !== true) {
        throw new Error('token was not issued to the expected service account');
      }
    },
  };
}

export function pubsubPushRoutes(deps: {
  config: Pick<Config, 'OUTCOME_TIME_ZONE'>;
  db: Db;
  queues: Queues;
  metrics: Pick<Metrics, 'fdrEvents'>;
  log: Log;
  verifier: PushVerifier | null;
}) {
  return async (app: FastifyInstance): Promise<void> => {
    const doc = documented({
      tags: ['ingress'],
      summary: 'FDR events from a Pub/Sub push subscription',
      description:
        'The standard push envelope; `message.data` is the FDR event. The OIDC token is checked when PUBSUB_PUSH_AUDIENCE is set (always, in production). `x-ingest-status` says what became of the event.',
      security: SECURITY.push,
      body: PushEnvelope,
      responses: {
        204: 'Recorded and queued, not an event for this service, or an invalid event recorded as skipped (`x-ingest-status`: accepted, ignored, rejected)',
        400: 'Not a push envelope',
        401: 'The OIDC token is missing or did not verify',
        503: 'MySQL or Redis unavailable: Pub/Sub redelivers',
      },
    });
    // The token is checked before the body is read: an unauthenticated push gets nothing parsed.
    const authenticate = async (request: FastifyRequest): Promise<void> => {
      if (!deps.verifier) {
        return;
      }
      const token = bearerToken(request);
      if (!token) {
        throw new HttpError(401, 'ERR_UNAUTHORIZED', 'a Google OIDC bearer token is required');
      }
      try {
        await deps.verifier.verify(token);
      } catch (err) {
        request.log.warn({ err: safeErrorMessage(err) }, 'push token rejected');
        throw new HttpError(401, 'ERR_UNAUTHORIZED', 'the push token did not verify');
      }
    };
    app.post('/pubsub/push', { ...doc, onRequest: authenticate }, async (request, reply) => {
      const envelope = parseBody(PushEnvelope, request.body);
      const messageId = envelope.message.messageId ?? envelope.message.message_id ?? null;
      try {
        const result = await ingestFdrMessage(
          deps,
          Buffer.from(envelope.message.data, 'base64'),
          messageId,
        );
        return reply.code(204).header('x-ingest-status', result.status).send();
      } catch (err) {
        request.log.error(
          { pubsubMessageId: messageId, err: safeErrorMessage(err) },
          'FDR push ingest failed',
        );
        throw new HttpError(503, 'ERR_UNAVAILABLE', 'the event could not be recorded; retry later');
      }
    });
  };
}
