/**
 * The tracked customer-portal link: a signed link redirects to the portal with a source marker
 * and is recorded on the timeline; an unsigned or wrongly signed one is a 404 that records nothing.
 */
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
  it('redirects a signed link to the portal and records the click', async () => {
    const link = trackedLink(service.deps.config, 'TRACK-1');
    const res = await service.app!.inject({ method: 'GET', url: pathOf(link) });
    expect(res.statusCode).toBe(302);
    expect(res.headers.location).toBe(
      'https://portal.example.test/shipments/TRACK-1?source=whatsapp',
    );
    const entries = await waitFor(async () => {
      const a = await listShipmentActivity(service.deps.db, 'TRACK-1');
      return a.length ? a : null;
    });
    expect(entries.map((e) => e.kind)).toEqual(['whatsapp_link_opened']);
  });

  it.each([
    ['no signature', '/trackShipment/WhatsApp/TRACK-2'],
    ['a wrong signature', '/trackShipment/WhatsApp/TRACK-2?sig=AAAAAAAAAAAAAAAAAAAAAA'],
    [
      'another shipment’s signature',
      `/trackShipment/WhatsApp/TRACK-2?sig=${new URL(trackedLink(loadLater(), 'TRACK-3')).searchParams.get('sig')}`,
    ],
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
