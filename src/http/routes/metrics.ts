/** `GET /metrics`: Prometheus text format. Public by design (no personal data); firewall it. */
import type { FastifyInstance } from 'fastify';

import type { Metrics } from '../../metrics.ts';
import { documented, SECURITY } from '../openapi.ts';

export function metricsRoutes(deps: { metrics: Metrics }) {
  return async (app: FastifyInstance): Promise<void> => {
    app.get(
      '/metrics',
      documented({
        tags: ['operations'],
        summary: 'Prometheus metrics',
        security: SECURITY.public,
        responses: { 200: { description: 'Prometheus text exposition format', body: 'text' } },
      }),
      async (_request, reply) => {
        const body = await deps.metrics.registry.metrics();
        return reply.header('content-type', deps.metrics.registry.contentType).send(body);
      },
    );
  };
}
