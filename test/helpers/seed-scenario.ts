/**
 * The seed scenario end to end, for tests that watch the service as a whole (logs, metrics):
 * account 379 enabled; the fixture FDR event pushed as is (Aman Verma, 7891971009) and once more
 * for a second shipment to 9650186697; the sandbox posting SENT, DELIVERED and READ back to the
 * webhook for both; the seed's customer tapping "Select new delivery date" and choosing
 * 10 June 2023, which the fake WMS receives as one RESCHEDULE.
 *
 * The service must run the `api` and `worker` roles against `sandbox` (GUPSHUP_ENTERPRISE_URL)
 * and `wms` (WMS_API_URL), with WEBHOOK_TOKEN = `webhookToken` and REPLY_SETTLE_SECONDS small.
 */
import { eq } from 'drizzle-orm';
import { expect } from 'vitest';

import { whatsappStatusLogs } from '../../src/db/schema.ts';
import { saveAccountSettings } from '../../src/db/settings.ts';
import { WEBHOOK_PATH } from '../../src/http/routes/gupshup-webhook.ts';
import type { Sandbox } from '../../src/sandbox/server.ts';
import { pushFdr } from './push.ts';
import type { Service } from '../../src/service.ts';
import { waitFor } from './env.ts';
import type { FakeWms } from './fake-wms.ts';
import { fdrEvent, readFixture } from './fixtures.ts';
import { isSendOf } from './outbox.ts';

export const SEED_SHIPMENT = '4980116095129-90758';
/** The second shipment, to the number the seed's replies come from. */
export const REPLY_SHIPMENT = '4980116095129-90759';
/** The id Gupshup answered in the seed; the seed's button reply names its first half. */
const REPLY_MESSAGE_ID = '4921687316728868875-376937873247896673';

export { SEED_PERSONAL_DATA } from './fixtures.ts';

export interface SeedContext {
  service: Service;
  sandbox: Sandbox;
  wms: FakeWms;
  webhookToken: string;
}

/** Delivers an FDR event as a Pub/Sub push would. */

/** Waits until the FDR message of `shipmentId` is out and its READ report is applied. */
async function notifiedAndRead(ctx: SeedContext, shipmentId: string) {
  const send = await waitFor(
    () =>
      ctx.sandbox.sends.find((s) => isSendOf(s, `fdr-${shipmentId}-1`) && s.outcome === 'success'),
    { what: `the FDR message for ${shipmentId}` },
  );
  await waitFor(
    async () => {
      const [row] = await ctx.service.deps.db
        .select()
        .from(whatsappStatusLogs)
        .where(eq(whatsappStatusLogs.messageId, send.messageId!));
      return row?.status === 'READ';
    },
    { what: `READ for ${shipmentId}` },
  );
  return send;
}

/** Runs the scenario and returns once the WMS has the RESCHEDULE and the confirmation is out. */
export async function runSeedScenario(ctx: SeedContext): Promise<void> {
  const { service, sandbox, wms } = ctx;
  await saveAccountSettings(service.deps.db, 379, { enabled: true });
  sandbox.setCallback({
    url: `${service.url}${WEBHOOK_PATH}?token=${ctx.webhookToken}`,
    delaysMs: { sent: 10, delivered: 20, read: 30 },
  });

  await pushFdr(service, fdrEvent(), 'seed-1');
  await notifiedAndRead(ctx, SEED_SHIPMENT);

  sandbox.nextMessageIds(REPLY_MESSAGE_ID);
  await pushFdr(service, fdrEvent({ shipmentId: REPLY_SHIPMENT, phone: '9650186697' }), 'seed-2');
  await notifiedAndRead(ctx, REPLY_SHIPMENT);

  const sessionSends = () =>
    sandbox.sends.filter(
      (s) => s.params.send_to === '919650186697' && s.params.isTemplate !== 'true',
    );
  const button = await sandbox.simulateReply(readFixture('gupshup-inbound-button.json'), 'form');
  expect(button.status).toBe(200);
  await waitFor(() => sessionSends().length === 1, { what: 'the date choices' });
  const date = await sandbox.simulateReply(
    readFixture('gupshup-inbound-interactive-date.json'),
    'json',
  );
  expect(date.status).toBe(200);
  await waitFor(() => wms.notifications.some((n) => n.body.shipmentId === REPLY_SHIPMENT), {
    what: 'the RESCHEDULE at the WMS',
  });
  await waitFor(() => sessionSends().length === 2, { what: 'the confirmation' });
}
