/**
 * Turns one request to the Gupshup webhook (`/api/_ah/v1/message`, src/http/routes/gupshup-webhook.ts)
 * into normalised events (src/webhook/events.ts) — or a reason it is not one of the shapes
 * Gupshup is known to send. The route stores each event and enqueues `dlr.process` or
 * `reply.route` for reports and messages; nothing here does I/O.
 *
 * This module decodes the transport (a JSON body, a form body — Gupshup's form encoding even
 * under the wrong label — or a GET query) and hands the value to its format:
 * - Enterprise (src/webhook/enterprise.ts): delivery reports as a form field `response` holding a
 *   JSON array string, a raw JSON array, `{"response": "<json string>"}` or `{"response": [...]}`,
 *   at most `maxEvents` a post; inbound messages as fields with `mobile`.
 * - v2 (src/webhook/v2.ts): the envelope `{app, timestamp, version: 2, type, payload}`.
 * - v3 (src/webhook/v3.ts): Meta's `{object: "whatsapp_business_account", entry: [...]}`.
 *
 * A GET with no fields (a URL check) is acknowledged with no event. Anything Gupshup legitimately
 * posts gives events (some only to be recorded as ignored): a refused callback is an event lost.
 * Reasons never quote values: they go back to the caller and into logs, and values can be phone
 * numbers.
 */
import { createHash } from 'node:crypto';

import { cutForSearch } from '../match-limit.ts';
import { enterpriseInbound, enterpriseReports, enterpriseResponse } from './enterprise.ts';
import type { WebhookEvent } from './events.ts';
import { fail, isRecord, ParseFailure } from './fields.ts';
import { isV2Envelope, v2Events } from './v2.ts';
import { isV3Body, v3Events } from './v3.ts';

export interface WebhookRequest {
  /** The request's Content-Type header, parameters included. */
  contentType: string | undefined;
  /** The raw body; null for a GET, whose fields come from the query. */
  body: Buffer | null;
  /** The parsed query string; `token` (the webhook secret) is never read as a field. */
  query: Record<string, unknown>;
}

export type ParseResult = { ok: true; events: WebhookEvent[] } | { ok: false; reason: string };

/**
 * Parses one webhook request; never throws. `maxEvents` bounds an enterprise batch of delivery
 * reports (WEBHOOK_MAX_EVENTS); a v3 post has its own bound (V3_MAX_EVENTS).
 */
export function parseWebhook(request: WebhookRequest, opts: { maxEvents: number }): ParseResult {
  try {
    return { ok: true, events: classify(decodeBody(request), opts.maxEvents) };
  } catch (err) {
    if (err instanceof ParseFailure) {
      return { ok: false, reason: err.message };
    }
    throw err;
  }
}

// ---------------------------------------------------------------------------------------------
// Transport: body bytes or query → one JSON-ish value

function decodeBody(request: WebhookRequest): unknown {
  const fields = queryFields(request.query);
  const text = request.body?.toString('utf8').trim() ?? '';
  if (text === '') {
    if (Object.keys(fields).length > 0) {
      return fields;
    }
    // A bare GET is a URL check; a POST without a body is a mistake.
    return request.body === null ? URL_CHECK : fail('the body is empty');
  }
  const mediaType = (request.contentType ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
  if (mediaType === 'application/x-www-form-urlencoded') {
    return formFields(text);
  }
  if (mediaType === 'application/json' || text.startsWith('{') || text.startsWith('[')) {
    try {
      return JSON.parse(text) as unknown;
    } catch {
      return fail('the body is not valid JSON');
    }
  }
  // text/plain (or no type) that is not JSON: Gupshup's form encoding under the wrong label. Only
  // the start is looked at (cut before matching): a first key longer than a KiB is no form.
  if (/^[\w.%-]+=/.test(cutForSearch(text))) {
    return formFields(text);
  }
  return fail('the body is neither JSON nor a form');
}

/** A GET without fields: acknowledged, nothing to store. */
const URL_CHECK = Symbol('url check');

/**
 * First value of each key (repeated keys cannot come from Gupshup and are not merged), as own
 * properties only: a key such as `__proto__` stays a plain field.
 */
function formFields(text: string): Record<string, string> {
  const out = new Map<string, string>();
  for (const [key, value] of new URLSearchParams(text)) {
    if (!out.has(key)) {
      out.set(key, value);
    }
  }
  return Object.fromEntries(out);
}

function queryFields(query: Record<string, unknown>): Record<string, string> {
  const out = new Map<string, string>();
  for (const [key, raw] of Object.entries(query)) {
    const value: unknown = Array.isArray(raw) ? raw[0] : raw;
    if (key !== 'token' && typeof value === 'string') {
      out.set(key, value);
    }
  }
  return Object.fromEntries(out);
}

// ---------------------------------------------------------------------------------------------
// Dispatch to a format, by the markers each one always carries

function classify(value: unknown, maxEvents: number): WebhookEvent[] {
  if (value === URL_CHECK) {
    return [];
  }
  if (Array.isArray(value)) {
    return enterpriseReports(value, 'body', maxEvents);
  }
  if (!isRecord(value)) {
    return fail('the body must be a JSON object or array');
  }
  if (isV3Body(value)) {
    return v3Events(value);
  }
  if (isV2Envelope(value)) {
    return v2Events(value);
  }
  if ('response' in value) {
    return enterpriseResponse(value.response, maxEvents);
  }
  if ('mobile' in value) {
    return [enterpriseInbound(value)];
  }
  return fail('not a Gupshup delivery report, inbound message, v2 or v3 callback');
}

// ---------------------------------------------------------------------------------------------
// Event keys

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** JSON with object keys sorted at every level, so equal events serialise equally. */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) {
    return `[${value.map(canonicalJson).join(',')}]`;
  }
  if (isRecord(value)) {
    const keys = Object.keys(value)
      .filter((k) => value[k] !== undefined)
      .sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(value[k])}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/**
 * The durable dedupe key of an event (`webhook_events.event_key`, at most 191 characters): a
 * repeated callback maps to the same key and is stored once.
 * - A delivery report: sha256 of `dlr|externalId|eventType` — one row per message and event type,
 *   so a repeated or re-batched report changes nothing (facts §2.5).
 * - An inbound message: `in|<messageId>` when Gupshup gives one, else a sha256 of the normalised
 *   message (its timestamp included, so two equal texts sent at different times stay two).
 * - A user event: a sha256 of its format, type, number and time (the number is personal data,
 *   so it is hashed) — an opt-out and a later opt-in of one customer are two rows.
 * - A billing event: a sha256 of its format, message id and time; without a message id, of the
 *   whole event.
 * - An ignored callback: a sha256 of its summary (what, why, when); it holds no personal data.
 */
export function eventKey(event: WebhookEvent): string {
  switch (event.kind) {
    case 'dlr':
      return sha256(`dlr|${event.report.externalId}|${event.report.eventType}`);
    case 'inbound': {
      const { messageId } = event.message;
      if (messageId !== null) {
        const key = `in|${messageId}`;
        return key.length <= 191 ? key : `in|sha256:${sha256(messageId)}`;
      }
      return `in|sha256:${sha256(canonicalJson(event.message))}`;
    }
    case 'user': {
      const { source, type, phone, timestamp } = event.event;
      return `user|sha256:${sha256(`${source}|${type}|${phone ?? ''}|${timestamp ?? ''}`)}`;
    }
    case 'billing': {
      const { source, messageId, timestamp } = event.event;
      return messageId !== null
        ? `billing|sha256:${sha256(`${source}|${messageId}|${timestamp ?? ''}`)}`
        : `billing|sha256:${sha256(canonicalJson(event.event))}`;
    }
    case 'ignored':
      return `ignored|sha256:${sha256(canonicalJson(event.ignored))}`;
  }
}
