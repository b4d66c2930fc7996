/**
 * `/healthz` (the process answers) and `/readyz` (Redis and MySQL reachable, and Pub/Sub when the
 * subscriber runs in this process: its subscription must exist). `/readyz` answers 503 naming
 * which dependency is down. Public by design, so neither says more than "ok" or "down": why a
 * check failed goes to the log, once each time a check starts or stops failing (probes come every
 * few seconds).
 */
import type { Subscription } from '@google-cloud/pubsub';
import type { FastifyInstance } from 'fastify';

import type { Db } from '../../db/client.ts';
import { pingDatabase } from '../../db/health.ts';
import { safeErrorMessage } from '../../errors.ts';
import type { Log } from '../../log.ts';
import { withTimeout } from '../../timeout.ts';
import { documented, SECURITY } from '../openapi.ts';
import type { RedisClient } from '../../redis.ts';

export function healthRoutes(deps: {
  db: Db;
  redis: RedisClient;
  log: Log;
  subscription?: Subscription | null;
}) {
  return async (app: FastifyInstance): Promise<void> => {
    /** The last error logged per check; cleared when it passes again. */
    const failing = new Map<string, string>();
    app.get(
      '/healthz',
      documented({
        tags: ['operations'],
        summary: 'Liveness: the process answers',
        security: SECURITY.public,
        responses: { 200: '`{ status: "ok" }`' },
      }),
      async () => ({ status: 'ok' }),
    );
    app.get(
      '/readyz',
      documented({
        tags: ['operations'],
        summary: 'Readiness: Redis, MySQL and, when the subscriber runs here, Pub/Sub',
        security: SECURITY.public,
        responses: {
          200: '`{ status: "ready", checks }`',
          503: {
            description: '`{ status: "unavailable", checks }`: each failed check says `down`',
            body: 'json',
          },
        },
      }),
      async (_request, reply) => {
        const { subscription } = deps;
        const checks = await Promise.all([
          check('redis', async () => {
            if (deps.redis.status !== 'ready') {
              throw new Error(`not connected (${deps.redis.status})`);
            }
            await deps.redis.ping();
          }),
          check('mysql', () => pingDatabase(deps.db)),
          ...(subscription ? [check('pubsub', () => subscriptionExists(subscription))] : []),
        ]);
        for (const c of checks) {
          if (!c.ok && failing.get(c.name) !== c.error) {
            deps.log.warn({ check: c.name, err: c.error }, 'readiness check failing');
            failing.set(c.name, c.error);
          } else if (c.ok && failing.delete(c.name)) {
            deps.log.info({ check: c.name }, 'readiness check passing again');
          }
        }
        const failed = checks.filter((c) => !c.ok);
        return reply.code(failed.length ? 503 : 200).send({
          status: failed.length ? 'unavailable' : 'ready',
          checks: Object.fromEntries(checks.map((c) => [c.name, c.ok ? 'ok' : 'down'])),
        });
      },
    );
  };
}

/** gRPC status PERMISSION_DENIED. */
const PERMISSION_DENIED = 7;

/**
 * Pub/Sub answers, and the subscription the subscriber pulls from exists. A refusal still proves
 * Pub/Sub reachable: `roles/pubsub.subscriber` grants `subscriptions.consume` but not
 * `subscriptions.get`, and a least-privileged service account must not look unready forever.
 */
async function subscriptionExists(subscription: Subscription): Promise<void> {
  let exists: boolean;
  try {
    [exists] = await subscription.exists();
  } catch (err) {
    if ((err as { code?: unknown }).code === PERMISSION_DENIED) {
      return;
    }
    throw err;
  }
  if (!exists) {
    throw new Error(`subscription ${subscription.name} does not exist`);
  }
}

async function check(name: string, probe: () => Promise<unknown>) {
  try {
    await withTimeout(probe(), 2_000, name);
    return { name, ok: true as const };
  } catch (err) {
    return { name, ok: false as const, error: safeErrorMessage(err) };
  }
}
