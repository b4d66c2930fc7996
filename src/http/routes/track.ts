/**
 * `GET /trackShipment/WhatsApp/:shipmentId?sig=…`: the tracked link customers get on WhatsApp
 * (spec step 20). Public by design, but only a correctly signed link redirects (302) to the
 * customer portal and is recorded on the shipment's timeline; anything else is a 404 that
 * records nothing, so shipment ids cannot be walked.
 */
import { randomUUID } from 'node:crypto';

import { desc, eq } from 'drizzle-orm';
import type { FastifyInstance } from 'fastify';
import * as v from 'valibot';

import { recordActivity } from '../../activity.ts';
import type { Config } from '../../config.ts';
import type { Db } from '../../db/client.ts';
import { notificationOutbox } from '../../db/schema.ts';
import { HttpError } from '../../errors.ts';
import { portalUrl, verifyShipmentSignature } from '../../links.ts';
import type { Queues } from '../../queues/index.ts';
import { documented, SECURITY } from '../openapi.ts';

export const TrackParams = v.object({ shipmentId: v.pipe(v.string(), v.maxLength(64)) });
export const TrackQuery = v.object({
  sig: v.pipe(v.string(), v.description('The signature the link was sent with.'), v.nonEmpty()),
});

export function trackRoutes(deps: { config: Config; db: Db; queues: Queues }) {
  return async (app: FastifyInstance): Promise<void> => {
    app.get<{ Params: { shipmentId: string }; Querystring: { sig?: string } }>(
      '/trackShipment/WhatsApp/:shipmentId',
      documented({
        tags: ['customers'],
        summary: 'The tracked customer-portal link sent on WhatsApp',
        description:
          "A correctly signed link redirects to the shipment's customer-portal page and is recorded on its timeline; anything else is 404 and records nothing.",
        security: SECURITY.public,
        params: TrackParams,
        querystring: TrackQuery,
        responses: {
          302: 'To the customer portal (PORTAL_BASE_URL), with `source=whatsapp`',
          404: 'Unsigned, wrongly signed, or not a shipment id',
          503: 'PORTAL_BASE_URL is not configured',
        },
      }),
      async (request, reply) => {
        const { params, query } = request;
        const { shipmentId } = params;
        if (
          !v.is(TrackParams, params) ||
          !v.is(TrackQuery, query) ||
          !verifyShipmentSignature(deps.config, shipmentId, query.sig)
        ) {
          throw new HttpError(404, 'ERR_NOT_FOUND', 'no such link');
        }
        if (!deps.config.PORTAL_BASE_URL) {
          throw new HttpError(503, 'ERR_NOT_CONFIGURED', 'the customer portal is not configured');
        }
        const [latest] = await deps.db
          .select({ accountId: notificationOutbox.accountId })
          .from(notificationOutbox)
          .where(eq(notificationOutbox.shipmentId, shipmentId))
          .orderBy(desc(notificationOutbox.id))
          .limit(1);
        const now = new Date();
        // Every click is its own entry: the key only guards against a retried write.
        await recordActivity(deps, {
          key: `link-opened-${shipmentId}-${now.getTime()}-${randomUUID().slice(0, 8)}`,
          shipmentId,
          accountId: latest?.accountId ?? null,
          kind: 'whatsapp_link_opened',
          title: 'Customer opened the customer-portal link from WhatsApp',
          details: { openedAt: now.toISOString(), source: 'whatsapp' },
          occurredAt: now,
        });
        return reply.redirect(portalUrl(deps.config.PORTAL_BASE_URL, shipmentId), 302);
      },
    );
  };
}
