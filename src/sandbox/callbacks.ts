/**
 * What the Gupshup sandbox posts back to the service: delivery reports after a successful send
 * and simulated customer replies. `planReports` turns one send (plus an optional `DlrSpec`
 * asking for a failure, duplicates, reversed order or one batch) into timed POSTs of reports in
 * no particular format, and `planDlrReports` renders them as enterprise events;
 * `createCallbackPoster` delivers one request the way a provider would — up to three retries
 * 200 ms apart on a refused connection or a non-2xx answer — and records every attempt.
 *
 * Used by src/sandbox/server.ts (and src/sandbox/formats.ts, which renders the v2 and v3
 * shapes). Enterprise shapes follow the reference facts: §2 for reports (form field `response`
 * holding a JSON array string, as in the seed's sample test/fixtures/gupshup-dlr-sent.json) and
 * §3 for inbound messages (form, JSON or GET query). Nothing posted here carries Gateway
 * credentials, and records keep no URL (it holds the token).
 */
import { setTimeout as delay } from 'node:timers/promises';

import { Agent, request } from 'undici';
import * as v from 'valibot';

/**
 * Milliseconds after the send at which each report is posted; `undefined` takes the default
 * (300/800/1500), `null` or a negative number skips that report.
 */
export interface DlrDelays {
  /** v2 only: the `enqueued` event, at once (0 ms) by default. */
  enqueued?: number | null;
  sent?: number | null;
  delivered?: number | null;
  read?: number | null;
}

/**
 * Which of Gupshup's callback formats the sandbox posts: the Enterprise gateway's (facts §2, §3),
 * the self-serve v2 envelope (§4.4) or the v3 Meta-shaped passthrough (§8).
 */
export type CallbackFormat = 'enterprise' | 'v2' | 'v3';

export const CALLBACK_FORMATS = ['enterprise', 'v2', 'v3'] as const;

/** Where and when the sandbox posts callbacks (`startSandbox({ callback })`, `setCallback`). */
export interface CallbackOptions {
  /** The service's webhook, query string (token) included. */
  url: string;
  delaysMs?: DlrDelays;
  /** `srcAddr` of every enterprise report (the sender mask); the seed's `TESTSM` by default. */
  srcAddr?: string;
  /**
   * The format of reports and replies; `enterprise` by default. Self-serve sends are never
   * answered in the enterprise format: with `enterprise` they report (and are replied to) in v2.
   */
  format?: CallbackFormat;
  /**
   * Whether enterprise reports echo the send's `extra` (true by default). The seed's own sample
   * report has none: `false` reports exactly like it.
   */
  echoExtra?: boolean;
}

/**
 * Alters the reports of one successful send: `fail` posts a single FAILED report with that code
 * and cause instead of SENT/DELIVERED/READ (v2: `payload.code`/`reason`, v3: `errors[0]`);
 * `duplicate` posts every report twice; `reverse` posts READ, DELIVERED, SENT (one after the
 * other, once the last of them has happened); `batch` posts all reports in one POST (enterprise:
 * one array; v3: several statuses; v2, one event per POST: back to back). They combine
 * (`{ batch: true, reverse: true }` is one reversed array).
 */
export interface DlrSpec {
  fail?: { errorCode: string; cause: string };
  duplicate?: boolean;
  reverse?: boolean;
  batch?: boolean;
}

/** One enterprise WhatsApp delivery report, fields in the seed's order. */
export interface DlrEvent {
  srcAddr: string;
  channel: 'WHATSAPP';
  /** The id the sandbox answered to the send. */
  externalId: string;
  cause: string;
  /** Three digits as a string: leading zeros matter. */
  errorCode: string;
  /** The send's `send_to`. */
  destAddr: string;
  eventType: 'SENT' | 'DELIVERED' | 'READ' | 'FAILED';
  /** Epoch milliseconds at which the event happened (send time + its delay). */
  eventTs: number;
  /** The send's `extra`, echoed back as Gupshup does; absent when the send had none. */
  extra?: string;
}

/** One POST of reports, `atMs` after the send. */
export interface DlrPost {
  atMs: number;
  events: DlrEvent[];
}

/** A report's status, whatever the format; `ENQUEUED` exists in v2 only. */
export type ReportStatus = 'ENQUEUED' | DlrEvent['eventType'];

/** One report before it is given a format. */
export interface PlannedReport {
  status: ReportStatus;
  /** Enterprise cause and three-digit code; for FAILED, the spec's. */
  cause: string;
  errorCode: string;
  /** Milliseconds after the send at which it happened. */
  atMs: number;
}

/** One POST of reports, `atMs` after the send, in no particular format yet. */
export interface PlannedPost {
  atMs: number;
  reports: PlannedReport[];
}

export type CallbackKind = 'dlr' | 'reply';

/** How a simulated reply travels: form body, JSON body, or GET query string. */
export type ReplyEncoding = 'form' | 'json' | 'query';

/** One callback attempt and what the webhook made of it. */
export interface CallbackRecord {
  at: Date;
  kind: CallbackKind;
  /** HTTP status the webhook answered; 0 when it did not answer (refused, reset, timed out). */
  status: number;
  /** What was sent: the form or JSON body, or the query string of a GET reply. */
  body: string;
  /** 1 for the first try, up to 1 + CALLBACK_RETRIES. */
  attempt: number;
  /** Short and free of personal data, for logs: event types and id, or the reply's type. */
  label: string;
}

/** One HTTP request to the webhook, before it is attempted. */
export interface CallbackRequest {
  kind: CallbackKind;
  label: string;
  method: 'GET' | 'POST';
  url: string;
  contentType?: string;
  body: string;
}

export class SandboxCallbackError extends Error {
  readonly code = 'ERR_SANDBOX_CALLBACK';
  constructor(message: string) {
    super(message);
    this.name = 'SandboxCallbackError';
  }
}

export const DEFAULT_DLR_DELAYS_MS = { sent: 300, delivered: 800, read: 1_500 } as const;
export const DEFAULT_SRC_ADDR = 'TESTSM';
/** Retries after the first attempt, and the spacing between attempts. */
export const CALLBACK_RETRIES = 3;
export const CALLBACK_RETRY_SPACING_MS = 200;
/** A webhook that answers 202 at once; anything slower than this counts as no answer. */
const CALLBACK_TIMEOUT_MS = 5_000;

const DelaySchema = v.optional(v.nullable(v.pipe(v.number(), v.integer(), v.maxValue(600_000))));
const DEFAULT_ENQUEUED_DELAY_MS = 0;

export const CallbackOptionsSchema = v.object({
  url: v.pipe(
    v.string(),
    v.url('must be an absolute URL'),
    v.check(
      (url) => !URL.canParse(url) || /^https?:$/.test(new URL(url).protocol),
      'must be http or https',
    ),
  ),
  delaysMs: v.optional(
    v.object({
      enqueued: DelaySchema,
      sent: DelaySchema,
      delivered: DelaySchema,
      read: DelaySchema,
    }),
  ),
  srcAddr: v.optional(v.pipe(v.string(), v.nonEmpty())),
  format: v.optional(v.picklist(CALLBACK_FORMATS, 'must be enterprise, v2 or v3')),
  echoExtra: v.optional(v.boolean()),
});

export const DlrSpecSchema = v.object({
  fail: v.optional(
    v.object({
      errorCode: v.pipe(v.string(), v.nonEmpty()),
      cause: v.pipe(v.string(), v.nonEmpty()),
    }),
  ),
  duplicate: v.optional(v.boolean()),
  reverse: v.optional(v.boolean()),
  batch: v.optional(v.boolean()),
});

const STAGES = [
  { key: 'sent', eventType: 'SENT', cause: 'SENT', errorCode: '025' },
  { key: 'delivered', eventType: 'DELIVERED', cause: 'SUCCESS', errorCode: '000' },
  { key: 'read', eventType: 'READ', cause: 'READ', errorCode: '026' },
] as const;

/**
 * The POSTs for one successful send, in the order they must arrive. Reports are ordered by their
 * delay, so delays alone can already make DELIVERED overtake SENT. `enqueued` adds v2's ENQUEUED
 * event to the sequence.
 */
export function planReports(input: {
  delays: DlrDelays;
  spec: DlrSpec;
  enqueued?: boolean;
}): PlannedPost[] {
  const { delays, spec } = input;
  const timed = STAGES.flatMap((stage): PlannedReport[] => {
    const atMs = resolveDelay(delays[stage.key], DEFAULT_DLR_DELAYS_MS[stage.key]);
    return atMs === null
      ? []
      : [{ status: stage.eventType, cause: stage.cause, errorCode: stage.errorCode, atMs }];
  }).sort((a, b) => a.atMs - b.atMs);

  let posts: PlannedPost[];
  if (spec.fail) {
    // A failure replaces the whole sequence and arrives when the first report would have.
    const atMs = timed[0]?.atMs ?? DEFAULT_DLR_DELAYS_MS.sent;
    posts = [{ atMs, reports: [{ status: 'FAILED', ...spec.fail, atMs }] }];
  } else if (timed.length === 0) {
    return [];
  } else {
    const enqueuedAt = input.enqueued
      ? resolveDelay(delays.enqueued, DEFAULT_ENQUEUED_DELAY_MS)
      : null;
    const reports =
      enqueuedAt === null
        ? timed
        : [
            { status: 'ENQUEUED' as const, cause: 'ENQUEUED', errorCode: '', atMs: enqueuedAt },
            ...timed,
          ].sort((a, b) => a.atMs - b.atMs);
    const lastAtMs = reports.at(-1)?.atMs ?? 0;
    const ordered = spec.reverse ? reports.toReversed() : reports;
    if (spec.batch) {
      posts = [{ atMs: lastAtMs, reports: ordered }];
    } else if (spec.reverse) {
      // Out of order means held back: nothing can be reported before it happened.
      posts = ordered.map((report) => ({ atMs: lastAtMs, reports: [report] }));
    } else {
      posts = reports.map((report) => ({ atMs: report.atMs, reports: [report] }));
    }
  }
  return spec.duplicate ? posts.flatMap((post) => [post, post]) : posts;
}

/** The enterprise POSTs for one successful send (`planReports` with the seed's fields). */
export function planDlrReports(input: {
  externalId: string;
  destAddr: string;
  srcAddr: string;
  /** Epoch ms of the send. */
  sentAt: number;
  delays: DlrDelays;
  spec: DlrSpec;
  /** The send's `extra` parameter, echoed in every report. */
  extra?: string;
}): DlrPost[] {
  return planReports({ delays: input.delays, spec: input.spec }).map((post) => ({
    atMs: post.atMs,
    events: post.reports.flatMap((report) => {
      const event = toDlrEvent(report, input);
      return event ? [event] : [];
    }),
  }));
}

/** One report as an enterprise event; ENQUEUED has no enterprise counterpart. */
export function toDlrEvent(
  report: PlannedReport,
  send: { externalId: string; destAddr: string; srcAddr: string; sentAt: number; extra?: string },
): DlrEvent | null {
  if (report.status === 'ENQUEUED') {
    return null;
  }
  return {
    srcAddr: send.srcAddr,
    channel: 'WHATSAPP',
    externalId: send.externalId,
    cause: report.cause,
    errorCode: report.errorCode,
    destAddr: send.destAddr,
    eventType: report.status,
    eventTs: send.sentAt + report.atMs,
    ...(send.extra ? { extra: send.extra } : {}),
  };
}

function resolveDelay(value: number | null | undefined, fallback: number): number | null {
  if (value === undefined) {
    return fallback;
  }
  return value === null || value < 0 ? null : value;
}

/** A report POST exactly like Gupshup's: one form field `response` holding a JSON array. */
export function buildDlrRequest(url: string, events: DlrEvent[]): CallbackRequest {
  const types = events.map((item) => item.eventType).join(',');
  const ids = [...new Set(events.map((item) => item.externalId))].join(',');
  return {
    kind: 'dlr',
    label: `${types} ${ids}`,
    method: 'POST',
    url,
    contentType: 'application/x-www-form-urlencoded',
    body: new URLSearchParams({ response: JSON.stringify(events) }).toString(),
  };
}

/** An enterprise inbound message as a form body, a JSON body or a GET query (kept token). */
export function buildReplyRequest(
  url: string,
  fields: Record<string, string>,
  as: ReplyEncoding,
): CallbackRequest {
  // The customer's number and text stay out of the label: it ends up in logs.
  const label = `reply ${fields.type ?? 'message'}`;
  if (as === 'json') {
    return {
      kind: 'reply',
      label,
      method: 'POST',
      url,
      contentType: 'application/json',
      body: JSON.stringify(fields),
    };
  }
  const encoded = new URLSearchParams(fields);
  if (as === 'form') {
    return {
      kind: 'reply',
      label,
      method: 'POST',
      url,
      contentType: 'application/x-www-form-urlencoded',
      body: encoded.toString(),
    };
  }
  const target = new URL(url);
  for (const [key, value] of encoded) {
    target.searchParams.append(key, value);
  }
  return { kind: 'reply', label, method: 'GET', url: target.toString(), body: encoded.toString() };
}

export interface CallbackPoster {
  /**
   * Attempts `req` until the webhook answers 2xx or the retries run out; never throws. Resolves
   * with the last recorded attempt, or `undefined` when `signal` cancelled it before any answer.
   */
  deliver(req: CallbackRequest, signal: AbortSignal): Promise<CallbackRecord | undefined>;
  close(): Promise<void>;
}

export function createCallbackPoster(opts: {
  record: (entry: CallbackRecord) => void;
}): CallbackPoster {
  // Its own agent, so closing the sandbox also drops keep-alive sockets to the webhook.
  const agent = new Agent({
    connectTimeout: CALLBACK_TIMEOUT_MS,
    headersTimeout: CALLBACK_TIMEOUT_MS,
    bodyTimeout: CALLBACK_TIMEOUT_MS,
  });

  async function attemptOnce(req: CallbackRequest, signal: AbortSignal): Promise<number> {
    try {
      const res = await request(req.url, {
        dispatcher: agent,
        method: req.method,
        ...(req.contentType ? { headers: { 'content-type': req.contentType } } : {}),
        ...(req.method === 'POST' ? { body: req.body } : {}),
        signal: AbortSignal.any([signal, AbortSignal.timeout(CALLBACK_TIMEOUT_MS)]),
      });
      await res.body.dump();
      return res.statusCode;
    } catch {
      // Refused, reset or timed out: a provider sees no status either.
      return 0;
    }
  }

  return {
    async deliver(req, signal) {
      let last: CallbackRecord | undefined;
      for (let attempt = 1; attempt <= 1 + CALLBACK_RETRIES; attempt += 1) {
        if (attempt > 1) {
          try {
            await delay(CALLBACK_RETRY_SPACING_MS, undefined, { signal });
          } catch {
            return last;
          }
        }
        const status = await attemptOnce(req, signal);
        if (signal.aborted) {
          return last;
        }
        last = {
          at: new Date(),
          kind: req.kind,
          status,
          body: req.body,
          attempt,
          label: req.label,
        };
        opts.record(last);
        if (status >= 200 && status < 300) {
          return last;
        }
      }
      return last;
    },
    close: () => agent.destroy(),
  };
}
