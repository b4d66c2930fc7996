/**
 * `GET /v1/shipments/:shipmentId/activity` (bearer: the admin token, or the token of the account
 * the shipment belongs to): a shipment's timeline, oldest first.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
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

/**
 * The shipment the request's path names, once it is a valid id of a shipment the caller may
 * see: 400 for an id ingress would not take, 404 for another account's shipment (a shipment
 * belongs to the account(s) of its FDR events, and to those of `ownedBy`, for records that
 * outlive the events), so ids cannot be probed.
 */
export async function reachableShipment(
  db: Db,
  request: FastifyRequest<{ Params: { shipmentId: string } }>,
  ownedBy: (shipmentId: string) => Promise<readonly number[]> = async () => [],
): Promise<string> {
  const { shipmentId } = request.params;
  if (!v.is(ActivityParams.entries.shipmentId, shipmentId)) {
    throw new HttpError(400, 'ERR_VALIDATION', 'shipmentId is not a valid shipment id');
  }
  const principal = request.principal;
  if (principal?.kind !== 'admin') {
    const owners = [...(await shipmentAccounts(db, shipmentId)), ...(await ownedBy(shipmentId))];
    if (!owners.some((accountId) => mayReach(principal, accountId))) {
      throw new HttpError(404, 'ERR_NOT_FOUND', 'no such shipment');
    }
  }
  return shipmentId;
}

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
        const shipmentId = await reachableShipment(deps.db, request);
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
