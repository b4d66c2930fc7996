import { describe, expect, it } from 'vitest';

import { loadConfig } from './config.ts';
import { portalUrl, signShipment, trackedLink, verifyShipmentSignature } from './links.ts';

const config = loadConfig({
  NODE_ENV: 'test',
  TRACK_LINK_SECRET: 's3cret',
  PUBLIC_BASE_URL: 'https://wa.example.com',
});

describe('tracked links', () => {
  it('signs the shipment id into the link, and only that id verifies', () => {
    const link = new URL(trackedLink(config, '4980116095129-90758'));
    expect(link.origin + link.pathname).toBe(
      'https://wa.example.com/trackShipment/WhatsApp/4980116095129-90758',
    );
    const sig = link.searchParams.get('sig')!;
    expect(verifyShipmentSignature(config, '4980116095129-90758', sig)).toBe(true);
    expect(verifyShipmentSignature(config, '4980116095129-90759', sig)).toBe(false);
    expect(verifyShipmentSignature(config, '4980116095129-90758', `${sig}x`)).toBe(false);
    expect(verifyShipmentSignature(config, '4980116095129-90758', '')).toBe(false);
  });

  it('depends on the secret', () => {
    const other = loadConfig({ NODE_ENV: 'test', TRACK_LINK_SECRET: 'another' });
    expect(signShipment(other, 'S1')).not.toBe(signShipment(config, 'S1'));
  });

  it('builds the portal URL with a source marker, from a template or a base', () => {
    expect(portalUrl('https://portal.example.com/track/{shipmentId}/details', 'A B')).toBe(
      'https://portal.example.com/track/A%20B/details?source=whatsapp',
    );
    expect(portalUrl('https://portal.example.com/track?brand=x', 'S1')).toBe(
      'https://portal.example.com/track/S1?brand=x&source=whatsapp',
    );
  });
});
