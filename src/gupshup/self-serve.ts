/**
 * Gupshup self-serve (v2) API adapter (`GUPSHUP_SELF_SERVE_URL`, default `https://api.gupshup.io`),
 * header `apikey`, form-encoded posts:
 * - templates: `POST /wa/api/v1/template/msg` with `template={"id","params"}` and, for the
 *   template's quick-reply buttons, `postbackTexts=[{"index","text"}]` (the signed postbacks);
 * - session messages: `POST /wa/api/v1/msg` with `message=<JSON>`: `text`, `list` or
 *   `quick_reply` (reply buttons). The API has no documented call-to-action URL button: the
 *   caller sends the link in text.
 * Both carry `channel=whatsapp`, `source` (the app's number), `destination` and `src.name` (the
 * app's name). Gupshup takes the request asynchronously: success is 2xx with
 * `{"status":"submitted","messageId"}`, and real delivery failures come later as `failed`
 * message-events. A synchronous refusal is `{"status":"error","message"|"reason"}` (with a 4xx, or
 * sometimes a 2xx).
 *
 * Outcomes are `SendResult`s exactly like the Enterprise adapter's: 401/403 and other 4xx except
 * 408/429 are permanent, 5xx/408/429, timeouts and network failures retryable, an unreadable
 * answer a retryable `bad_response`. Created once per process by src/gupshup/client.ts.
 */
import * as v from 'valibot';

import {
  callerAborted,
  classifyTransportError,
  createPool,
  requestDeadline,
  scrubReason,
} from '../outbound.ts';
import { sendErrorRule, v2CodeSource } from './error-actions.ts';
import type {
  GupshupAccount,
  SendResult,
  SessionContent,
  SessionSend,
  TemplateSend,
} from './types.ts';

export type SelfServeAccount = Extract<GupshupAccount, { api: 'self-serve' }>;

export interface SelfServeAdapter {
  sendTemplate(
    account: SelfServeAccount,
    msg: TemplateSend,
    signal?: AbortSignal,
  ): Promise<SendResult>;
  sendSession(
    account: SelfServeAccount,
    msg: SessionSend,
    signal?: AbortSignal,
  ): Promise<SendResult>;
  close(): Promise<void>;
}

/** The content types the API sends natively. */
export const SELF_SERVE_SESSION_TYPES: ReadonlySet<SessionContent['type']> = new Set([
  'text',
  'list',
  'buttons',
]);

export const TEMPLATE_PATH = '/wa/api/v1/template/msg';
export const SESSION_PATH = '/wa/api/v1/msg';

const AnswerSchema = v.looseObject({
  status: v.optional(v.string()),
  messageId: v.optional(v.pipe(v.union([v.string(), v.number()]), v.transform(String))),
  message: v.optional(v.unknown()),
  reason: v.optional(v.unknown()),
  code: v.optional(v.unknown()),
});

export function createSelfServeAdapter(opts: {
  baseUrl: string;
  timeoutMs: number;
}): SelfServeAdapter {
  const base = new URL(opts.baseUrl);
  const prefix = base.pathname.replace(/\/+$/, '');
  const pool = createPool(base.origin, opts.timeoutMs);

  async function post(
    path: string,
    account: SelfServeAccount,
    form: URLSearchParams,
    signal?: AbortSignal,
  ): Promise<SendResult> {
    if (signal?.aborted) {
      return callerAborted();
    }
    const { deadline, signal: combined } = requestDeadline(opts.timeoutMs, signal);
    try {
      const res = await pool.request({
        method: 'POST',
        path: `${prefix}${path}`,
        headers: {
          apikey: account.apiKey,
          'content-type': 'application/x-www-form-urlencoded',
          accept: 'application/json',
        },
        body: form.toString(),
        signal: combined,
      });
      return parseAnswer(res.statusCode, await res.body.text());
    } catch (thrown) {
      return classifyTransportError(thrown, { peer: 'Gupshup', deadline, caller: signal });
    }
  }

  return {
    sendTemplate: (account, msg, signal) =>
      post(TEMPLATE_PATH, account, buildSelfServeTemplateForm(account, msg), signal),
    sendSession: (account, msg, signal) =>
      post(SESSION_PATH, account, buildSelfServeSessionForm(account, msg), signal),
    close: () => pool.close(),
  };
}

function commonFields(account: SelfServeAccount, to: string): Record<string, string> {
  return {
    channel: 'whatsapp',
    source: account.waNumber.replace(/^\+/, ''),
    destination: to.replace(/^\+/, ''),
    'src.name': account.appName,
  };
}

export function buildSelfServeTemplateForm(
  account: SelfServeAccount,
  msg: TemplateSend,
): URLSearchParams {
  const postbacks = msg.postbacks.flatMap((text, index) => (text ? [{ index, text }] : []));
  return new URLSearchParams({
    ...commonFields(account, msg.to),
    template: JSON.stringify({ id: msg.templateId, params: msg.params }),
    ...(postbacks.length > 0 ? { postbackTexts: JSON.stringify(postbacks) } : {}),
  });
}

export function buildSelfServeSessionForm(
  account: SelfServeAccount,
  msg: SessionSend,
): URLSearchParams {
  return new URLSearchParams({
    ...commonFields(account, msg.to),
    message: JSON.stringify(sessionMessage(msg)),
  });
}

/**
 * The `message` JSON of `/wa/api/v1/msg`. `msgid` is the outbox row's correlation key (Gupshup
 * echoes it in taps).
 */
function sessionMessage(msg: SessionSend): Record<string, unknown> {
  const { content } = msg;
  switch (content.type) {
    case 'text':
      return { type: 'text', text: content.text };
    case 'list':
      return {
        type: 'list',
        title: content.section,
        body: content.body,
        msgid: msg.correlationKey,
        globalButtons: [{ type: 'text', title: content.button }],
        items: [
          {
            title: content.section,
            options: content.rows.map((row) => ({
              type: 'text',
              title: row.title,
              ...(row.description ? { description: row.description } : {}),
              postbackText: row.id,
            })),
          },
        ],
      };
    case 'buttons':
      return {
        type: 'quick_reply',
        msgid: msg.correlationKey,
        content: { type: 'text', text: content.body },
        options: content.buttons.map((b) => ({ type: 'text', title: b.title, postbackText: b.id })),
      };
    case 'cta_url':
      throw new TypeError('the self-serve API has no documented call-to-action URL button');
  }
}

/** Reads Gupshup's answer: the verdict is in the HTTP status and in `status`. */
export function parseAnswer(httpStatus: number, text: string): SendResult {
  let json: unknown = null;
  try {
    json = text.trim() === '' ? null : JSON.parse(text);
  } catch {
    // Kept null: an error page is classified by its status below.
  }
  const parsed = v.safeParse(AnswerSchema, json);
  const answer = parsed.success ? parsed.output : null;
  const said = answer ? describe(answer.message ?? answer.reason) : '';
  if (httpStatus >= 200 && httpStatus < 300) {
    const verdict = answer?.status?.toLowerCase();
    if (verdict === 'submitted' || (verdict === undefined && answer?.messageId)) {
      return answer?.messageId
        ? { ok: true, messageId: answer.messageId, httpStatus }
        : badResponse(httpStatus, 'submitted without messageId');
    }
    if (verdict === 'error') {
      const coded = answer ? providerCode(answer) : null;
      return {
        ok: false,
        retryable: coded ? retryableCode(coded) : false,
        code: coded ?? 'gupshup_error',
        reason: said || 'Gupshup refused the message',
        httpStatus,
      };
    }
    return badResponse(httpStatus, answer ? 'unexpected answer status' : 'answer is not JSON');
  }
  const transient = httpStatus >= 500 || httpStatus === 408;
  // A refusal that names Gupshup's (or Meta's) code is read by that code (src/gupshup/error-actions.ts);
  // a server error stays a server error whatever it says.
  const coded = transient || !answer ? null : providerCode(answer);
  if (coded) {
    return {
      ok: false,
      retryable: retryableCode(coded),
      code: coded,
      reason: said
        ? `Gupshup answered HTTP ${httpStatus}: ${said}`
        : `Gupshup answered HTTP ${httpStatus}`,
      httpStatus,
    };
  }
  const retryable = transient || httpStatus === 429;
  return {
    ok: false,
    retryable,
    code: `http_${httpStatus}`,
    reason: said
      ? `Gupshup answered HTTP ${httpStatus}: ${said}`
      : `Gupshup answered HTTP ${httpStatus}`,
    httpStatus,
  };
}

/**
 * The code a refusal carries, as a send-result code: `v2_<code>` (Gupshup's: 1002, 4001, …) or
 * `meta_<code>` (six digits, Meta's passed through). Read from `code`, whether a number or a
 * string of digits; null without one (Gupshup's documented answers name none, its reports do).
 */
function providerCode(answer: v.InferOutput<typeof AnswerSchema>): string | null {
  const { code } = answer;
  const text = typeof code === 'number' && Number.isInteger(code) ? String(code) : code;
  if (typeof text !== 'string' || !/^\d{1,9}$/.test(text)) {
    return null;
  }
  return `${v2CodeSource(text)}_${text}`;
}

function retryableCode(code: string): boolean {
  const { action } = sendErrorRule(code);
  return action === 'retry' || action === 'slow_sender' || action === 'delay_customer';
}

function describe(value: unknown): string {
  return typeof value === 'string' ? scrubReason(value) : '';
}

/**
 * A 2xx we cannot read may still mean the message was taken, but we cannot tell; retrying is the
 * lesser evil, and the retry first waits for a delivery report (SEND_RECONCILE_MS).
 */
function badResponse(httpStatus: number, reason: string): SendResult {
  return { ok: false, retryable: true, code: 'bad_response', reason, httpStatus };
}
