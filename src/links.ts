/**
 * Tracked customer-portal links sent to customers, and the hand-over to the portal.
 *
 * - The link: `PUBLIC_BASE_URL/trackShipment/WhatsApp/<shipment>?e=<expiry>&sig=<mac>`. The
 *   signature is an HMAC (TRACK_LINK_SECRET) of the shipment id and the expiry (epoch seconds,
 *   TRACK_LINK_TTL_DAYS after it was sent), so a link can neither be forged, walked to other
 *   shipments, nor used once it has expired; the route answers 404 to all of those.
 * - The hand-over: the route redirects to PORTAL_BASE_URL with a short-lived signed token in
 *   place of the bare shipment id. The token is a JWT (HS256 under PORTAL_TOKEN_SECRET, which
 *   the portal shares): `iss` `whatsapp-notifications`, `aud` `customer-portal`, `sub` the
 *   shipment id, `src` `whatsapp`, `iat`, and `exp` PORTAL_TOKEN_TTL_SECONDS later.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

import { SignJWT } from 'jose';

import { publicBaseUrl, type Config } from './config.ts';

/** Outside production fixed secrets keep local links working; production requires its own. */
const DEVELOPMENT_SECRET = 'development-only-track-link-secret';
const DEVELOPMENT_PORTAL_SECRET = 'development-only-portal-token-secret';

export const PORTAL_TOKEN_ISSUER = 'whatsapp-notifications';
export const PORTAL_TOKEN_AUDIENCE = 'customer-portal';

type LinkConfig = Pick<Config, 'TRACK_LINK_SECRET'>;

function secretOf(config: LinkConfig): string {
  return config.TRACK_LINK_SECRET ?? DEVELOPMENT_SECRET;
}

/** The link's signature: shipment id and expiry (epoch seconds) under TRACK_LINK_SECRET. */
export function signShipment(config: LinkConfig, shipmentId: string, expiresAt: number): string {
  return createHmac('sha256', secretOf(config))
    .update(`track:${shipmentId}:${expiresAt}`)
    .digest()
    .subarray(0, 16)
    .toString('base64url');
}

/** Whether a link's expiry and signature hold for this shipment at `now`. */
export function verifyShipmentLink(
  config: LinkConfig,
  shipmentId: string,
  link: { expiresAt: number; signature: string },
  now = Date.now(),
): boolean {
  const expected = Buffer.from(signShipment(config, shipmentId, link.expiresAt));
  const given = Buffer.from(link.signature);
  const signed = given.length === expected.length && timingSafeEqual(given, expected);
  return signed && link.expiresAt * 1_000 > now;
}

/** The link a customer gets to update an address or add a number. */
export function trackedLink(
  config: Pick<Config, 'TRACK_LINK_SECRET' | 'TRACK_LINK_TTL_DAYS' | 'PUBLIC_BASE_URL' | 'PORT'>,
  shipmentId: string,
  now = Date.now(),
): string {
  const expiresAt = Math.floor(now / 1_000) + config.TRACK_LINK_TTL_DAYS * 86_400;
  const sig = signShipment(config, shipmentId, expiresAt);
  return `${publicBaseUrl(config)}/trackShipment/WhatsApp/${encodeURIComponent(shipmentId)}?e=${expiresAt}&sig=${sig}`;
}

/** The portal's token for one shipment (see the header for its claims). */
export async function portalToken(
  config: Pick<Config, 'PORTAL_TOKEN_SECRET' | 'PORTAL_TOKEN_TTL_SECONDS'>,
  shipmentId: string,
  now = Date.now(),
): Promise<string> {
  const secret = new TextEncoder().encode(config.PORTAL_TOKEN_SECRET ?? DEVELOPMENT_PORTAL_SECRET);
  const issuedAt = Math.floor(now / 1_000);
  return new SignJWT({ src: 'whatsapp' })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setIssuer(PORTAL_TOKEN_ISSUER)
    .setAudience(PORTAL_TOKEN_AUDIENCE)
    .setSubject(shipmentId)
    .setIssuedAt(issuedAt)
    .setExpirationTime(issuedAt + config.PORTAL_TOKEN_TTL_SECONDS)
    .sign(secret);
}

/**
 * Where the portal takes the customer: PORTAL_BASE_URL with `{token}` replaced by the token, or
 * with `token=<token>` added to its query, plus `source=whatsapp`.
 */
export function portalUrl(portalBase: string, token: string): string {
  const templated = portalBase.includes('{token}');
  const url = new URL(templated ? portalBase.replace('{token}', token) : portalBase);
  if (!templated) {
    url.searchParams.set('token', token);
  }
  url.searchParams.set('source', 'whatsapp');
  return url.toString();
}
