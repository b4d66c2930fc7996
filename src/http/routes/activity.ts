/** `GET /v1/shipments/:shipmentId/activity` (bearer API_TOKEN): a shipment's timeline, oldest first. */
import type { FastifyInstance } from 'fastify';

import { listShipmentActivity } from '../../db/activity.ts';
import type { Db } from '../../db/client.ts';
import { HttpError } from '../../errors.ts';
import { requireBearer } from '../auth.ts';

export function activityRoutes(deps: { db: Db; apiToken: string | undefined }) {
  return async (app: FastifyInstance): Promise<void> => {
    app.addHook('preHandler', requireBearer(deps.apiToken));
    app.get<{ Params: { shipmentId: string } }>(
      '/v1/shipments/:shipmentId/activity',
      async (request) => {
        const { shipmentId } = request.params;
        if (!/^[\w.#/-]{1,64}$/.test(shipmentId)) {
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
