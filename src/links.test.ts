import { jwtVerify } from 'jose';
import { describe, expect, it } from 'vitest';

import { loadConfig } from './config.ts';
import {
  PORTAL_TOKEN_AUDIENCE,
  PORTAL_TOKEN_ISSUER,
  portalToken,
  portalUrl,
  signShipment,
  trackedLink,
  verifyShipmentLink,
} from './links.ts';

const config = loadConfig({
  NODE_ENV: 'test',
  TRACK_LINK_SECRET: 's3cret',
  PORTAL_TOKEN_SECRET: 'portal-shared-secret',
  PUBLIC_BASE_URL: 'https://wa.example.com',
});
const NOW = Date.parse('2026-12-01T10:00:00Z');

function parts(link: string) {
  const url = new URL(link);
  return {
    path: url.origin + url.pathname,
    expiresAt: Number(url.searchParams.get('e')),
    signature: url.searchParams.get('sig')!,
  };
}

describe('tracked links', () => {
  it('signs the shipment id and an expiry into the link, and only that id verifies', () => {
    const link = parts(trackedLink(config, '4980116095129-90758', NOW));
    expect(link.path).toBe('https://wa.example.com/trackShipment/WhatsApp/4980116095129-90758');
    expect(link.expiresAt).toBe(NOW / 1_000 + 30 * 86_400);
    expect(verifyShipmentLink(config, '4980116095129-90758', link, NOW)).toBe(true);
    expect(verifyShipmentLink(config, '4980116095129-90759', link, NOW)).toBe(false);
    expect(
      verifyShipmentLink(
        config,
        '4980116095129-90758',
        { ...link, signature: `${link.signature}x` },
        NOW,
      ),
    ).toBe(false);
    // A later expiry is not signed.
    expect(
      verifyShipmentLink(
        config,
        '4980116095129-90758',
        { ...link, expiresAt: link.expiresAt + 1 },
        NOW,
      ),
    ).toBe(false);
  });

  it('expires after TRACK_LINK_TTL_DAYS', () => {
    const short = loadConfig({
      NODE_ENV: 'test',
      TRACK_LINK_SECRET: 's3cret',
      TRACK_LINK_TTL_DAYS: '2',
    });
    const link = parts(trackedLink(short, 'S1', NOW));
    expect(verifyShipmentLink(short, 'S1', link, NOW + 2 * 86_400_000 - 1_000)).toBe(true);
    expect(verifyShipmentLink(short, 'S1', link, NOW + 2 * 86_400_000)).toBe(false);
  });

  it('depends on the secret', () => {
    const other = loadConfig({ NODE_ENV: 'test', TRACK_LINK_SECRET: 'another' });
    expect(signShipment(other, 'S1', 1)).not.toBe(signShipment(config, 'S1', 1));
  });

  it('hands the portal a short-lived signed token naming the shipment', async () => {
    const token = await portalToken(config, 'S1', Date.now());
    const { payload } = await jwtVerify(token, new TextEncoder().encode('portal-shared-secret'), {
      issuer: PORTAL_TOKEN_ISSUER,
      audience: PORTAL_TOKEN_AUDIENCE,
      algorithms: ['HS256'],
    });
    expect(payload).toMatchObject({ sub: 'S1', src: 'whatsapp' });
    expect(payload.exp! - payload.iat!).toBe(900);
  });

  it('builds the portal URL with the token and a source marker, from a template or a base', () => {
    expect(portalUrl('https://portal.example.com/track/{token}/details', 'a.b.c')).toBe(
      'https://portal.example.com/track/a.b.c/details?source=whatsapp',
    );
    expect(portalUrl('https://portal.example.com/track?brand=x', 'a.b.c')).toBe(
      'https://portal.example.com/track?brand=x&token=a.b.c&source=whatsapp',
    );
  });
});
