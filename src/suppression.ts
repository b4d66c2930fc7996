/**
 * The suppression list as the service uses it (the table: src/db/suppressions.ts). A suppression
 * is keyed by our sender's WhatsApp number and the customer's number, both digits with the
 * country code, so an opt-out given to one number holds for every account sending from it.
 *
 * - `senderNumberOf`: the key of a sender connection — a client's connection's `wa_number`, the
 *   platform app's GUPSHUP_DEFAULT_WA_NUMBER (`default` when that is not configured).
 * - `optOut` / `optIn`: what `reply.route` does with an opt-out or opt-in (a keyword, a v2
 *   `user-event`, any other message from a customer who opted out): the list changed, the
 *   shipment's timeline told, the change counted. The caller sends any confirmation.
 * - `parseCustomerNumber`, `presentSuppression`: what the API and the CLI share.
 *
 * `fdr.validate` skips an FDR to a suppressed pair (`whatsapp_not_sent`, code `opted_out` or
 * `not_on_whatsapp`); `message.send` checks again before anything goes out (a message queued
 * before the opt-out, or held for quiet hours), except for the opt-out confirmation itself.
 */
import { recordActivity } from './activity.ts';
import type { Config } from './config.ts';
import type { Db } from './db/client.ts';
import { findConnectionNumber } from './db/connections.ts';
import { DEFAULT_CONNECTION_ID } from './db/settings.ts';
import {
  liftSuppressionSetBefore,
  suppress,
  type SuppressionReason,
  type SuppressionRow,
  type SuppressionSource,
} from './db/suppressions.ts';
import { normalizePhone } from './fdr/phone.ts';
import type { Log } from './log.ts';
import type { Metrics } from './metrics.ts';
import type { Queues } from './queues/index.ts';

/** Why a suppressed number gets nothing, as the timeline says it. */
export const SUPPRESSION_TEXT: Readonly<Record<SuppressionReason, string>> = {
  opted_out: 'the customer opted out of WhatsApp messages from this number',
  not_on_whatsapp: 'the number is not on WhatsApp (suppressed for a while)',
};

/** The suppression key of a sender's WhatsApp number: its digits, or `default` when unknown. */
export function senderNumberKey(waNumber: string | null | undefined): string {
  const digits = (waNumber ?? '').replace(/\D/g, '');
  return digits === '' ? DEFAULT_CONNECTION_ID : digits;
}

/**
 * The suppression key of a sender connection (`default` or a stored connection's id); null when
 * the connection does not exist (its sends fail anyway, with their own reason).
 */
export async function senderNumberOf(
  config: Pick<Config, 'GUPSHUP_DEFAULT_WA_NUMBER'>,
  db: Db,
  connectionId: string,
): Promise<string | null> {
  if (connectionId === DEFAULT_CONNECTION_ID) {
    return senderNumberKey(config.GUPSHUP_DEFAULT_WA_NUMBER);
  }
  const id = Number(connectionId);
  const number = Number.isInteger(id) && id > 0 ? await findConnectionNumber(db, id) : null;
  return number === null ? null : senderNumberKey(number);
}

/** A customer number as the API and the CLI take it, normalised; null when it is no number. */
export function parseCustomerNumber(raw: string, defaultCountry: string): string | null {
  const text = raw.trim();
  if (text.length > 32 || !/^\+?[\d\s().-]+$/.test(text)) {
    return null;
  }
  return normalizePhone(text, defaultCountry);
}

/** A suppression as the API and the CLI show it. */
export function presentSuppression(row: SuppressionRow) {
  return {
    customerNumber: row.customerNumber,
    senderNumber: row.senderNumber,
    reason: row.reason,
    source: row.source,
    accountId: row.accountId,
    expiresAt: row.expiresAt?.toISOString() ?? null,
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
  };
}

/** Where an opt-out or opt-in goes on a timeline: the conversation's shipment, when known. */
export interface OptChangeContext {
  senderNumber: string;
  customerNumber: string;
  accountId: number | null;
  /** The shipment whose timeline tells it; null when no conversation is known. */
  shipmentId: string | null;
  /** Unique per change, for the timeline entry's key (e.g. `reply-<id>`, `event-<id>`). */
  key: string;
  /** What said it, in the timeline's words: `replied STOP`, `opted out in WhatsApp`, …. */
  how: string;
  source: Extract<SuppressionSource, 'keyword' | 'user_event'> | 'message';
  /** When the customer said it, for the timeline. */
  occurredAt: Date;
  /**
   * When the service received it: what orders an opt-out and what lifts it (our clock, not the
   * callback's).
   */
  arrivedAt: Date;
}

interface OptDeps {
  db: Db;
  queues: Queues;
  metrics: Pick<Metrics, 'optChanges'>;
  log: Log;
}

/** Suppresses the pair (reason `opted_out`, until lifted); true when it was not in force before. */
export async function optOut(deps: OptDeps, ctx: OptChangeContext): Promise<boolean> {
  const source: SuppressionSource = ctx.source === 'message' ? 'keyword' : ctx.source;
  const created = await suppress(deps.db, {
    senderNumber: ctx.senderNumber,
    customerNumber: ctx.customerNumber,
    reason: 'opted_out',
    source,
    accountId: ctx.accountId,
    at: ctx.arrivedAt,
  });
  if (ctx.shipmentId !== null) {
    await recordActivity(deps, {
      key: `opted-out-${ctx.key}`,
      shipmentId: ctx.shipmentId,
      accountId: ctx.accountId,
      kind: 'whatsapp_opted_out',
      title: `Customer opted out of WhatsApp messages (${ctx.how}): nothing more is sent to this number until they opt back in`,
      details: { source, alreadyOptedOut: !created },
      occurredAt: ctx.occurredAt,
    });
  }
  deps.metrics.optChanges.inc({ change: 'opted_out', source: ctx.source });
  deps.log.info(
    // `via`, not `source`: that field name is redacted (it holds a number in v2 callbacks).
    { shipmentId: ctx.shipmentId, accountId: ctx.accountId, via: source, created },
    'customer opted out',
  );
  return created;
}

/**
 * Lifts the pair's opt-out if it was said no later than what lifts it (both by the time the
 * service received them: a message that came before the opt-out lifts nothing, however late it
 * is processed). A `not_on_whatsapp` suppression stays. True when an opt-out was lifted.
 */
export async function optIn(deps: OptDeps, ctx: OptChangeContext): Promise<boolean> {
  const lifted = await liftSuppressionSetBefore(
    deps.db,
    ctx.senderNumber,
    ctx.customerNumber,
    'opted_out',
    ctx.arrivedAt,
  );
  if (!lifted) {
    return false;
  }
  if (ctx.shipmentId !== null) {
    await recordActivity(deps, {
      key: `opted-in-${ctx.key}`,
      shipmentId: ctx.shipmentId,
      accountId: ctx.accountId,
      kind: 'whatsapp_opted_in',
      title: `Customer opted back in to WhatsApp messages (${ctx.how})`,
      details: { source: ctx.source },
      occurredAt: ctx.occurredAt,
    });
  }
  deps.metrics.optChanges.inc({ change: 'opted_in', source: ctx.source });
  deps.log.info(
    { shipmentId: ctx.shipmentId, accountId: ctx.accountId, via: ctx.source },
    'customer opted back in',
  );
  return true;
}
