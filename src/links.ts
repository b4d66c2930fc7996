/**
 * Tracked customer-portal links sent to customers (`/trackShipment/WhatsApp/<shipment>?sig=…`).
 * The signature is an HMAC of the shipment id, so a link cannot be forged or walked to other
 * shipments; the route answers 404 to anything unsigned or wrongly signed.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

import { publicBaseUrl, type Config } from './config.ts';

/** Outside production a fixed secret keeps local links working; production requires its own. */
const DEVELOPMENT_SECRET = 'development-only-track-link-secret';

function secretOf(config: Config): string {
  return config.TRACK_LINK_SECRET ?? DEVELOPMENT_SECRET;
}

export function signShipment(config: Config, shipmentId: string): string {
  return createHmac('sha256', secretOf(config))
    .update(`track:${shipmentId}`)
    .digest()
    .subarray(0, 16)
    .toString('base64url');
}

export function verifyShipmentSignature(
  config: Config,
  shipmentId: string,
  signature: string,
): boolean {
  const expected = Buffer.from(signShipment(config, shipmentId));
  const given = Buffer.from(signature);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/** The link a customer gets to update an address or add a number. */
export function trackedLink(config: Config, shipmentId: string): string {
  const sig = signShipment(config, shipmentId);
  return `${publicBaseUrl(config)}/trackShipment/WhatsApp/${encodeURIComponent(shipmentId)}?sig=${sig}`;
}

/**
 * Where the customer portal shows the shipment: PORTAL_BASE_URL with `{shipmentId}` replaced,
 * or with `/<shipmentId>` appended, plus `source=whatsapp` so the portal knows where they came from.
 */
export function portalUrl(portalBase: string, shipmentId: string): string {
  const id = encodeURIComponent(shipmentId);
  const templated = portalBase.includes('{shipmentId}');
  const url = new URL(templated ? portalBase.replace('{shipmentId}', id) : portalBase);
  if (!templated) {
    url.pathname = `${url.pathname.replace(/\/+$/, '')}/${id}`;
  }
  url.searchParams.set('source', 'whatsapp');
  return url.toString();
}
