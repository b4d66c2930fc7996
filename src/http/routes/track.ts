/**
 * `GET /trackShipment/WhatsApp/:shipmentId?e=…&sig=…`: the tracked link customers get on WhatsApp
 * (spec step 20). Public by design, but only a correctly signed link that has not expired
 * (src/links.ts) redirects (302) to the customer portal, with a short-lived signed token for the
 * shipment; anything else is a 404 that records nothing, so shipment ids cannot be walked. A
 * click goes on the shipment's timeline at most once per link per hour: a link opened again and
 * again adds no rows and publishes no events.
 */
import type { FastifyInstance } from 'fastify';
import * as v from 'valibot';

import { recordActivity } from '../../activity.ts';
import type { Config } from '../../config.ts';
import type { Db } from '../../db/client.ts';
import { latestOutboxAccount } from '../../db/outbox.ts';
import { HttpError } from '../../errors.ts';
import { portalToken, portalUrl, verifyShipmentLink } from '../../links.ts';
import type { Queues } from '../../queues/index.ts';
import { documented, SECURITY } from '../openapi.ts';

export const TrackParams = v.object({ shipmentId: v.pipe(v.string(), v.maxLength(64)) });
export const TrackQuery = v.object({
  e: v.pipe(
    v.string(),
    v.description('When the link expires, in epoch seconds (signed).'),
    v.regex(/^\d{1,12}$/),
    v.transform(Number),
  ),
  sig: v.pipe(v.string(), v.description('The signature the link was sent with.'), v.nonEmpty()),
});

export function trackRoutes(deps: { config: Config; db: Db; queues: Queues }) {
  return async (app: FastifyInstance): Promise<void> => {
    app.get<{ Params: { shipmentId: string }; Querystring: { e?: string; sig?: string } }>(
      '/trackShipment/WhatsApp/:shipmentId',
      documented({
        tags: ['customers'],
        summary: 'The tracked customer-portal link sent on WhatsApp',
        description:
          'A correctly signed link that has not expired redirects to the customer portal with a short-lived signed token for the shipment, and is recorded on its timeline (once per link per hour); anything else is 404 and records nothing.',
        security: SECURITY.public,
        params: TrackParams,
        querystring: TrackQuery,
        responses: {
          302: 'To the customer portal (PORTAL_BASE_URL) with `token` (a JWT naming the shipment) and `source=whatsapp`',
          404: 'Unsigned, wrongly signed, expired, or not a shipment id',
          503: 'PORTAL_BASE_URL is not configured',
        },
      }),
      async (request, reply) => {
        const { shipmentId } = request.params;
        const query = v.safeParse(TrackQuery, request.query);
        if (
          !v.is(TrackParams, request.params) ||
          !query.success ||
          !verifyShipmentLink(deps.config, shipmentId, {
            expiresAt: query.output.e,
            signature: query.output.sig,
          })
        ) {
          throw new HttpError(404, 'ERR_NOT_FOUND', 'no such link');
        }
        if (!deps.config.PORTAL_BASE_URL) {
          throw new HttpError(503, 'ERR_NOT_CONFIGURED', 'the customer portal is not configured');
        }
        const accountId = await latestOutboxAccount(deps.db, shipmentId);
        const now = new Date();
        // One entry per link and hour: the key names the link (its signature) and the hour, so
        // a click within the same hour writes nothing and publishes nothing.
        const hour = Math.floor(now.getTime() / 3_600_000);
        await recordActivity(deps, {
          key: `link-opened-${shipmentId}-${query.output.sig}-${hour}`,
          shipmentId,
          accountId,
          kind: 'whatsapp_link_opened',
          title: 'Customer opened the customer-portal link from WhatsApp',
          details: { openedAt: now.toISOString(), source: 'whatsapp' },
          occurredAt: now,
        });
        const token = await portalToken(deps.config, shipmentId, now.getTime());
        return reply.redirect(portalUrl(deps.config.PORTAL_BASE_URL, token), 302);
      },
    );
  };
}
