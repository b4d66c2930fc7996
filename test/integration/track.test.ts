/**
 * The tracked customer-portal link: a signed link redirects to the portal with a short-lived
 * token for the shipment and a source marker, and is recorded on the timeline once per hour; an
 * unsigned, wrongly signed or expired one is a 404 that records nothing.
 */
import { jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { listShipmentActivity } from '../../src/db/activity.ts';
import { trackedLink } from '../../src/links.ts';
import { startService, type Service } from '../../src/service.ts';
import { createTestEnv, waitFor } from '../helpers/env.ts';

const env = createTestEnv('track');
let service: Service;

beforeAll(async () => {
  service = await startService(
    env.config({
      TRACK_LINK_SECRET: 'track-secret',
      PORTAL_BASE_URL: 'https://portal.example.test/shipments',
      PORTAL_TOKEN_SECRET: 'portal-secret',
      PUBLIC_BASE_URL: 'https://wa.example.test',
    }),
    ['api', 'worker'],
  );
});

afterAll(async () => {
  await service?.close();
  await env.dropDatabase();
});

function pathOf(link: string) {
  const url = new URL(link);
  return url.pathname + url.search;
}

describe('GET /trackShipment/WhatsApp/:shipmentId', () => {
  it('redirects a signed link to the portal with a token, and records clicks once an hour', async () => {
    const link = trackedLink(service.deps.config, 'TRACK-1');
    const res = await service.app!.inject({ method: 'GET', url: pathOf(link) });
    expect(res.statusCode).toBe(302);
    const location = new URL(String(res.headers.location));
    expect(location.origin + location.pathname).toBe('https://portal.example.test/shipments');
    expect(location.searchParams.get('source')).toBe('whatsapp');
    expect(location.href).not.toContain('TRACK-1');
    const { payload } = await jwtVerify(
      location.searchParams.get('token')!,
      new TextEncoder().encode('portal-secret'),
      { audience: 'customer-portal', issuer: 'whatsapp-notifications' },
    );
    expect(payload.sub).toBe('TRACK-1');

    // Opened again and again: still one entry.
    for (let i = 0; i < 3; i += 1) {
      expect((await service.app!.inject({ method: 'GET', url: pathOf(link) })).statusCode).toBe(
        302,
      );
    }
    const entries = await waitFor(async () => {
      const a = await listShipmentActivity(service.deps.db, 'TRACK-1');
      return a.length ? a : null;
    });
    expect(entries.map((e) => e.kind)).toEqual(['whatsapp_link_opened']);
  });

  it('answers 404 to an expired link and records nothing', async () => {
    const sentLongAgo = Date.now() - 31 * 86_400_000;
    const link = trackedLink(service.deps.config, 'TRACK-OLD', sentLongAgo);
    const res = await service.app!.inject({ method: 'GET', url: pathOf(link) });
    expect(res.statusCode).toBe(404);
    expect(await listShipmentActivity(service.deps.db, 'TRACK-OLD')).toEqual([]);
  });

  it.each([
    ['no signature', '/trackShipment/WhatsApp/TRACK-2'],
    [
      'a wrong signature',
      '/trackShipment/WhatsApp/TRACK-2?e=9999999999&sig=AAAAAAAAAAAAAAAAAAAAAA',
    ],
    [
      'another shipment’s signature',
      `/trackShipment/WhatsApp/TRACK-2${new URL(trackedLink(loadLater(), 'TRACK-3')).search}`,
    ],
    ['a link without its expiry', `/trackShipment/WhatsApp/TRACK-2?sig=AAAAAAAAAAAAAAAAAAAAAA`],
  ])('answers 404 to %s and records nothing', async (_label, url) => {
    const res = await service.app!.inject({ method: 'GET', url });
    expect(res.statusCode).toBe(404);
    expect(await listShipmentActivity(service.deps.db, 'TRACK-2')).toEqual([]);
  });
});

function loadLater() {
  return env.config({
    TRACK_LINK_SECRET: 'track-secret',
    PUBLIC_BASE_URL: 'https://wa.example.test',
  });
}
