/**
 * Quiet hours as the workers apply them: an FDR template or no-reply reminder (the messages the
 * business starts) that would go out inside the account's quiet hours waits, as a BullMQ delayed
 * job, until they end, with a `whatsapp_scheduled` entry on the timeline ("scheduled for 09:00
 * IST"). Follow-ups answering a customer who just wrote are never deferred.
 *
 * `fdr.validate` defers the send when it queues it (so the delay is exact); `message.send` looks
 * again when the job runs (woken early, re-added by the sweeper, or the settings changed since)
 * and defers again if it must. While a message waits, its outbox row's `updated_at` is the time
 * it is due, so the sweeper (which re-queues rows that have waited past SWEEP_GRACE_MS) leaves
 * it alone until then instead of touching every deferred row every sweep.
 */
import { recordActivity } from '../activity.ts';
import type { Config } from '../config.ts';
import type { Db } from '../db/client.ts';
import { deferUntouchedOutbox } from '../db/outbox.ts';
import type { AccountSettings } from '../db/settings.ts';
import { effectivePolicy, type EffectivePolicy, type QuietHours } from '../policy.ts';
import { describeQuietHours, localTime } from '../quiet-hours.ts';
import type { Queues } from '../queues/index.ts';

/** Outbox kinds the business starts: subject to quiet hours. */
export const BUSINESS_INITIATED_KINDS: readonly string[] = ['fdr_template', 'fdr_reminder'];

export function policyOf(
  config: Pick<Config, 'DEFAULT_QUIET_HOURS'>,
  settings: Pick<AccountSettings, 'policy'>,
): EffectivePolicy {
  return effectivePolicy(settings.policy, { quietHours: config.DEFAULT_QUIET_HOURS });
}

/** "09:00 IST" for an instant, in the quiet hours' zone. */
export function localLabel(at: number, quiet: QuietHours): string {
  const local = localTime(at, quiet.timeZone);
  return `${local.time} ${local.zone}`;
}

/**
 * Records on the timeline that a message waits for quiet hours (once per due time: a second
 * deferral to the same end adds nothing), and dates its pending outbox row at that time.
 */
export async function recordDeferral(
  deps: { db: Db; queues: Queues },
  outbox: { id: number; shipmentId: string; accountId: number; kind: string },
  until: number,
  quiet: QuietHours,
  now: number,
): Promise<void> {
  const label = localLabel(until, quiet);
  const what = outbox.kind === 'fdr_reminder' ? 'Reminder' : 'WhatsApp message';
  await recordActivity(deps, {
    key: `scheduled-${outbox.id}-${until}`,
    shipmentId: outbox.shipmentId,
    accountId: outbox.accountId,
    kind: 'whatsapp_scheduled',
    title: `${what} scheduled for ${label}: quiet hours (${describeQuietHours(quiet)})`,
    details: {
      scheduledFor: new Date(until).toISOString(),
      localTime: localTime(until, quiet.timeZone),
      quietHours: quiet,
      outboxId: outbox.id,
    },
    occurredAt: new Date(now),
  });
  // Only a row no attempt has touched: a `sending` row's updated_at is its last attempt's time,
  // which the reconcile wait reads.
  await deferUntouchedOutbox(deps.db, outbox.id, new Date(until));
}
