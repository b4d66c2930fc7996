/** `GET /metrics`: Prometheus text format. Public by design (no personal data); firewall it. */
import type { FastifyInstance } from 'fastify';

import type { Metrics } from '../../metrics.ts';

export function metricsRoutes(deps: { metrics: Metrics }) {
  return async (app: FastifyInstance): Promise<void> => {
    app.get('/metrics', async (_request, reply) => {
      const body = await deps.metrics.registry.metrics();
      return reply.header('content-type', deps.metrics.registry.contentType).send(body);
    });
  };
}
