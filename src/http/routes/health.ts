/**
 * `/healthz` (the process answers) and `/readyz` (Redis and MySQL reachable, and Pub/Sub when the
 * subscriber runs in this process: its subscription must exist). `/readyz` answers 503 naming
 * what failed. Public by design: neither says more than "ok" or a scrubbed error.
 */
import type { Subscription } from '@google-cloud/pubsub';
import type { FastifyInstance } from 'fastify';
import { sql } from 'drizzle-orm';
import type { Redis } from 'ioredis';

import type { Db } from '../../db/client.ts';
import { safeErrorMessage } from '../../errors.ts';
import { withTimeout } from '../../timeout.ts';
import { documented, SECURITY } from '../openapi.ts';

export function healthRoutes(deps: { db: Db; redis: Redis; subscription?: Subscription | null }) {
  return async (app: FastifyInstance): Promise<void> => {
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
            description: '`{ status: "unavailable", checks }`: each failed check names its error',
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
          check('mysql', () => deps.db.execute(sql`select 1`)),
          ...(subscription ? [check('pubsub', () => subscriptionExists(subscription))] : []),
        ]);
        const failed = checks.filter((c) => !c.ok);
        return reply.code(failed.length ? 503 : 200).send({
          status: failed.length ? 'unavailable' : 'ready',
          checks: Object.fromEntries(checks.map((c) => [c.name, c.ok ? 'ok' : c.error])),
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
