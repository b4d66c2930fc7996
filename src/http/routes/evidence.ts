/**
 * `GET /v1/shipments/:shipmentId/evidence` (bearer: the admin token, or the token of the account
 * the shipment belongs to): the customer's answers about a shipment, oldest first, as the
 * evidence trail keeps them (src/reply-evidence.ts): Gupshup's message id, the callback's own
 * time, the choice, the request body as received with its SHA-256, and whether the stored body
 * still hashes to it. Once PERSONAL_DATA_RETENTION_DAYS have passed the body and the detail are
 * null and `erasedAt` says when; the hash and the rest stay.
 */
import type { FastifyInstance } from 'fastify';

import type { Db } from '../../db/client.ts';
import { evidenceAccounts, listShipmentEvidence } from '../../db/reply-evidence.ts';
import { answerEvidence } from '../../reply-evidence.ts';
import { requireApiAuth, type ApiAuth } from '../auth.ts';
import { documented, SECURITY } from '../openapi.ts';
import { ActivityParams, reachableShipment } from './activity.ts';

export function evidenceRoutes(deps: { db: Db; auth: ApiAuth }) {
  return async (app: FastifyInstance): Promise<void> => {
    app.addHook('onRequest', requireApiAuth(deps.auth));
    app.get<{ Params: { shipmentId: string } }>(
      '/v1/shipments/:shipmentId/evidence',
      documented({
        tags: ['activity'],
        summary: "The customer's answers about a shipment, as evidence, oldest first",
        description:
          "One entry per answer the customer gave: `replyId`, `gupshupMessageId` (null when the callback carried none), `attempt`, `callbackAt` (the callback's own timestamp), `receivedAt`, `choice`, `detail` (the date, text or number it carried; null once erased), `bodySha256` (hex SHA-256 of the request body as received), `rawBody` (that body; null once erased), `erasedAt`, and `hashMatches` (the stored body hashed again equals `bodySha256`; null once erased).",
        security: SECURITY.api,
        params: ActivityParams,
        responses: {
          200: '`shipmentId` and `evidence`: the answers, oldest first',
          400: 'shipmentId is not a valid shipment id',
          401: 'No valid bearer token',
          404: "Not a shipment of the token's account",
          429: 'Too many failed attempts from this address',
        },
      }),
      async (request) => {
        const shipmentId = await reachableShipment(deps.db, request, (id) =>
          evidenceAccounts(deps.db, id),
        );
        const rows = await listShipmentEvidence(deps.db, shipmentId);
        return { shipmentId, evidence: rows.map(answerEvidence) };
      },
    );
  };
}
