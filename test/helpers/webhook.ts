/**
 * The webhook parser as the unit tests of src/webhook/ call it, and the callback fixtures under
 * test/fixtures/webhook/ (one per shape Gupshup posts, hand-written after Gupshup's and Meta's
 * published examples).
 */
import { readdirSync } from 'node:fs';

import type {
  BillingEvent,
  DeliveryReport,
  IgnoredCallback,
  InboundMessage,
  UserEvent,
  WebhookEvent,
} from '../../src/webhook/events.ts';
import { parseWebhook, type ParseResult } from '../../src/webhook/parse.ts';
import { readFixture } from './fixtures.ts';

export const FORM = 'application/x-www-form-urlencoded';
export const JSON_TYPE = 'application/json';

export function parse(
  contentType: string | undefined,
  body: string | null,
  query: Record<string, unknown> = {},
  maxEvents = 20,
): ParseResult {
  return parseWebhook(
    { contentType, body: body === null ? null : Buffer.from(body), query },
    { maxEvents },
  );
}

/** `value` posted as a JSON body. */
export function parseJson(value: unknown, maxEvents = 20): ParseResult {
  return parse(JSON_TYPE, JSON.stringify(value), {}, maxEvents);
}

export function events(result: ParseResult): WebhookEvent[] {
  if (!result.ok) {
    throw new Error(`expected ok, got: ${result.reason}`);
  }
  return result.events;
}

export function reports(result: ParseResult): DeliveryReport[] {
  return events(result).map((e) => {
    if (e.kind !== 'dlr') {
      throw new Error(`expected a delivery report, got ${e.kind}`);
    }
    return e.report;
  });
}

/** The one event of `result`, which must be of `kind`. */
function single<K extends WebhookEvent['kind']>(
  result: ParseResult,
  kind: K,
): Extract<WebhookEvent, { kind: K }> {
  const list = events(result);
  if (list.length !== 1 || list[0]?.kind !== kind) {
    throw new Error(`expected one ${kind} event, got ${list.map((e) => e.kind).join(', ')}`);
  }
  return list[0] as Extract<WebhookEvent, { kind: K }>;
}

export function inbound(result: ParseResult): InboundMessage {
  return single(result, 'inbound').message;
}

export function userEvent(result: ParseResult): UserEvent {
  return single(result, 'user').event;
}

export function billingEvent(result: ParseResult): BillingEvent {
  return single(result, 'billing').event;
}

export function ignored(result: ParseResult): IgnoredCallback {
  return single(result, 'ignored').ignored;
}

export function reason(result: ParseResult): string {
  if (result.ok) {
    throw new Error(`expected a rejection, got ${result.events.length} event(s)`);
  }
  return result.reason;
}

/** A fixture under test/fixtures/webhook/. */
export function webhookFixture<T = Record<string, unknown>>(name: string): NoInfer<T> {
  return readFixture<T>(`webhook/${name}`);
}

/** The names of the fixtures under test/fixtures/webhook/ starting with `prefix`, sorted. */
export function webhookFixtureNames(prefix = ''): string[] {
  return readdirSync(new URL('../fixtures/webhook/', import.meta.url))
    .filter((name) => name.endsWith('.json') && name.startsWith(prefix))
    .sort();
}

/** Whether `value` is flat string fields, as an enterprise callback can also come as a form. */
export function formEncodable(value: unknown): value is Record<string, string> {
  return (
    typeof value === 'object' &&
    value !== null &&
    !Array.isArray(value) &&
    Object.values(value).every((field) => typeof field === 'string')
  );
}
