/** `GET /v1/shipments/:shipmentId/activity` (bearer API_TOKEN): a shipment's timeline, oldest first. */
import type { FastifyInstance } from 'fastify';
import * as v from 'valibot';

import { listShipmentActivity } from '../../db/activity.ts';
import type { Db } from '../../db/client.ts';
import { HttpError } from '../../errors.ts';
import { SHIPMENT_ID } from '../../fdr/event.ts';
import { requireBearer } from '../auth.ts';
import { documented, SECURITY } from '../openapi.ts';

/** The shipment ids ingress takes in (src/fdr/event.ts), so every one of them can be looked up. */
export const ActivityParams = v.object({
  shipmentId: v.pipe(v.string(), v.regex(SHIPMENT_ID)),
});

export function activityRoutes(deps: { db: Db; apiToken: string | undefined }) {
  return async (app: FastifyInstance): Promise<void> => {
    app.addHook('preHandler', requireBearer(deps.apiToken));
    app.get<{ Params: { shipmentId: string } }>(
      '/v1/shipments/:shipmentId/activity',
      documented({
        tags: ['activity'],
        summary: "A shipment's timeline, oldest first",
        security: SECURITY.api,
        params: ActivityParams,
        responses: {
          200: '`shipmentId` and `activity`: id, kind, title, details, occurredAt of each entry',
          400: 'shipmentId is not a valid shipment id',
          401: 'No valid bearer token',
        },
      }),
      async (request) => {
        const { shipmentId } = request.params;
        if (!v.is(ActivityParams.entries.shipmentId, shipmentId)) {
          throw new HttpError(400, 'ERR_VALIDATION', 'shipmentId is not a valid shipment id');
        }
        const rows = await listShipmentActivity(deps.db, shipmentId);
        return {
          shipmentId,
          activity: rows.map((r) => ({
            id: r.id,
            kind: r.kind,
            title: r.title,
            details: r.details,
            occurredAt: r.occurredAt.toISOString(),
          })),
        };
      },
    );
  };
}
