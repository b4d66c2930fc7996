/** `/healthz` (the process answers) and `/readyz` (Redis and MySQL reachable). Public by design. */
import type { FastifyInstance } from 'fastify';
import { sql } from 'drizzle-orm';
import type { Redis } from 'ioredis';

import type { Db } from '../../db/client.ts';
import { safeErrorMessage } from '../../errors.ts';
import { withTimeout } from '../../timeout.ts';

export function healthRoutes(deps: { db: Db; redis: Redis }) {
  return async (app: FastifyInstance): Promise<void> => {
    app.get('/healthz', async () => ({ status: 'ok' }));
    app.get('/readyz', async (_request, reply) => {
      const checks = await Promise.all([
        check('redis', () => deps.redis.ping()),
        check('mysql', () => deps.db.execute(sql`select 1`)),
      ]);
      const failed = checks.filter((c) => !c.ok);
      return reply.code(failed.length ? 503 : 200).send({
        status: failed.length ? 'unavailable' : 'ready',
        checks: Object.fromEntries(checks.map((c) => [c.name, c.ok ? 'ok' : c.error])),
      });
    });
  };
}

async function check(name: string, probe: () => Promise<unknown>) {
  try {
    await withTimeout(probe(), 2_000, name);
    return { name, ok: true as const };
  } catch (err) {
    return { name, ok: false as const, error: safeErrorMessage(err) };
  }
}
