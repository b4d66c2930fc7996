/**
 * `GET /v1/shipments/:shipmentId/activity` (bearer: the admin token, or the token of the account
 * the shipment belongs to): a shipment's timeline, oldest first.
 */
import type { FastifyInstance } from 'fastify';
import * as v from 'valibot';

import { listShipmentActivity } from '../../db/activity.ts';
import type { Db } from '../../db/client.ts';
import { shipmentAccounts } from '../../db/shipments.ts';
import { HttpError } from '../../errors.ts';
import { SHIPMENT_ID } from '../../fdr/event.ts';
import { mayReach, requireApiAuth, type ApiAuth } from '../auth.ts';
import { documented, SECURITY } from '../openapi.ts';

/** The shipment ids ingress takes in (src/fdr/event.ts), so every one of them can be looked up. */
export const ActivityParams = v.object({
  shipmentId: v.pipe(v.string(), v.regex(SHIPMENT_ID)),
});

export function activityRoutes(deps: { db: Db; auth: ApiAuth }) {
  return async (app: FastifyInstance): Promise<void> => {
    app.addHook('onRequest', requireApiAuth(deps.auth));
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
          404: "Not a shipment of the token's account",
          429: 'Too many failed attempts from this address',
        },
      }),
      async (request) => {
        const { shipmentId } = request.params;
        if (!v.is(ActivityParams.entries.shipmentId, shipmentId)) {
          throw new HttpError(400, 'ERR_VALIDATION', 'shipmentId is not a valid shipment id');
        }
        // A shipment belongs to the account(s) of its FDR events; another account's is 404.
        const principal = request.principal;
        if (principal?.kind !== 'admin') {
          const owners = await shipmentAccounts(deps.db, shipmentId);
          if (!owners.some((accountId) => mayReach(principal, accountId))) {
            throw new HttpError(404, 'ERR_NOT_FOUND', 'no such shipment');
          }
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
