/**
 * Gupshup Enterprise Gateway client (`media.smsgupshup.com/GatewayAPI/rest`): sends one WhatsApp
 * message with `method=SendMessage` — a template (`sendTemplate`, through the HSM account) or a
 * session text inside the 24-hour window (`sendText`, through the two-way account) — and turns
 * every outcome — Gupshup success, Gupshup error envelope, HTTP failure, timeout, network failure,
 * caller abort — into a `SendResult`, so the caller decides between "done", "retry" and "give up"
 * without catching anything.
 *
 * Created once per process from config (GUPSHUP_ENTERPRISE_URL, GUPSHUP_TIMEOUT_MS,
 * GUPSHUP_TEMPLATE_MSG_TYPE) and used by the `message.send` worker (templates) and the reply
 * follow-ups (session texts). Tests drive it against the local sandbox in src/sandbox/server.ts,
 * which speaks the same protocol.
 */
import * as v from 'valibot';
import {
  callerAborted,
  classifyTransportError,
  createPool,
  requestDeadline,
  scrubReason,
} from '../outbound.ts';

/** One Gupshup enterprise account (usually the HSM/notification account). */
export interface SenderCredentials {
  userid: string;
  password: string;
}

/** One rendered template message (`msg_type` from config, `isTemplate=true`). */
export interface TemplateSend {
  /** MSISDN with country code, digits only (a leading `+` is tolerated and stripped). */
  to: string;
  /** The fully rendered template text; Gupshup matches it against the approved template. */
  text: string;
  /** Our own stable key for this message, sent as both `msg_id` and `extra` (echoed in DLRs). */
  idempotencyKey: string;
}

/**
 * One session (non-template) text: only deliverable while the customer's 24-hour window is open.
 * The same fields as a template send; `text` is free text.
 */
export interface TextSend {
  /** MSISDN with country code, digits only (a leading `+` is tolerated and stripped). */
  to: string;
  /** Free text; emoji or non-Latin script switch the request to `data_encoding=Unicode_text`. */
  text: string;
  /** Our own stable key for this message, sent as both `msg_id` and `extra` (echoed in DLRs). */
  idempotencyKey: string;
}

/**
 * The outcome of one send. `retryable: false` means repeating the same request cannot succeed
 * (bad number, bad credentials, 4xx). `code` is stable (`gupshup_<id>`, `http_<status>`, `timeout`,
 * `network`, `aborted`, `bad_response`); `reason` is for humans and never holds the password or
 * the phone number.
 */
export type SendResult =
  | { ok: true; messageId: string; httpStatus: number }
  | { ok: false; retryable: boolean; code: string; reason: string; httpStatus?: number };

export interface GupshupClient {
  sendTemplate(
    creds: SenderCredentials,
    msg: TemplateSend,
    signal?: AbortSignal,
  ): Promise<SendResult>;
  /**
   * Sends a session text (`msg_type=DATA_TEXT`, no `isTemplate`). Session messages normally go
   * through the two-way account: the caller passes whichever credentials apply.
   */
  sendText(creds: SenderCredentials, msg: TextSend, signal?: AbortSignal): Promise<SendResult>;
  /** Waits for requests in flight, then closes the connection pool. */
  close(): Promise<void>;
}

/** Gupshup error id meaning "unknown exception, retry later"; every other id is permanent. */
const TRANSIENT_GUPSHUP_ID = '100';

const IdSchema = v.pipe(
  v.union([v.string(), v.number()]),
  v.transform((id) => String(id)),
);

/** `{"response":{"id","phone","details","status"}}` — the same envelope for success and error. */
const SendResponseSchema = v.object({
  response: v.object({
    id: v.optional(IdSchema),
    details: v.optional(v.string()),
    status: v.string(),
  }),
});

export function createGupshupClient(opts: {
  baseUrl: string;
  timeoutMs: number;
  templateMsgType: string;
}): GupshupClient {
  const base = new URL(opts.baseUrl);
  const path = `${base.pathname}${base.search}`;
  // One pool per upstream; every phase has an explicit limit so a stuck Gupshup cannot pin a
  // worker slot. The per-request deadline below also bounds the whole exchange end to end.
  const pool = createPool(base.origin, opts.timeoutMs);

  async function send(form: URLSearchParams, signal?: AbortSignal): Promise<SendResult> {
    if (signal?.aborted) {
      return callerAborted();
    }
    const { deadline, signal: combined } = requestDeadline(opts.timeoutMs, signal);
    try {
      const res = await pool.request({
        method: 'POST',
        path,
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          accept: 'application/json',
        },
        body: form.toString(),
        signal: combined,
      });
      if (res.statusCode < 200 || res.statusCode >= 300) {
        // Error pages are not needed, but the body must be drained to free the connection.
        await res.body.dump();
        return classifyHttpStatus(res.statusCode);
      }
      return parseSendResponse(res.statusCode, await res.body.text());
    } catch (thrown) {
      return classifyTransportError(thrown, { peer: 'Gupshup', deadline, caller: signal });
    }
  }

  return {
    sendTemplate: (creds, msg, signal) =>
      send(buildTemplateForm(creds, msg, opts.templateMsgType), signal),
    sendText: (creds, msg, signal) => send(buildTextForm(creds, msg), signal),
    close: () => pool.close(),
  };
}

function buildTemplateForm(
  creds: SenderCredentials,
  msg: TemplateSend,
  templateMsgType: string,
): URLSearchParams {
  return new URLSearchParams({
    ...commonFields(creds, msg.to),
    msg_type: templateMsgType,
    isTemplate: 'true',
    msg: msg.text,
    ...correlationFields(msg.idempotencyKey),
  });
}

function buildTextForm(creds: SenderCredentials, msg: TextSend): URLSearchParams {
  return new URLSearchParams({
    ...commonFields(creds, msg.to),
    msg_type: 'DATA_TEXT',
    // Gupshup's default `text` encoding mangles emoji and Indic scripts; plain ASCII keeps the
    // default so the request stays the smallest one that works.
    ...(isAscii(msg.text) ? {} : { data_encoding: 'Unicode_text' }),
    msg: msg.text,
    ...correlationFields(msg.idempotencyKey),
  });
}

function commonFields(creds: SenderCredentials, to: string): Record<string, string> {
  return {
    method: 'SendMessage',
    userid: creds.userid,
    password: creds.password,
    auth_scheme: 'plain',
    v: '1.1',
    format: 'json',
    // Gupshup wants digits only; an E.164 `+` would be refused as an invalid number (id 105).
    send_to: to.replace(/^\+/, ''),
  };
}

/** Both carry our key: `extra` comes back in DLRs, `msg_id` may let Gupshup dedupe a retry. */
function correlationFields(idempotencyKey: string): Record<string, string> {
  return { msg_id: idempotencyKey, extra: idempotencyKey };
}

function isAscii(text: string): boolean {
  return !/[^\p{ASCII}]/u.test(text);
}

/** 4xx except 408/429 is permanent; 5xx, 408 and 429 are worth another try. */
function classifyHttpStatus(status: number): SendResult {
  const retryable = status >= 500 || status === 408 || status === 429;
  return {
    ok: false,
    retryable,
    code: `http_${status}`,
    reason: `Gupshup answered HTTP ${status}`,
    httpStatus: status,
  };
}

/** Gupshup answers 200 for logical errors too, so the verdict is in `response.status`. */
function parseSendResponse(httpStatus: number, text: string): SendResult {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return badResponse(httpStatus, 'response body is not JSON');
  }
  const parsed = v.safeParse(SendResponseSchema, json);
  if (!parsed.success) {
    return badResponse(httpStatus, 'response JSON lacks the response envelope');
  }
  const { id, details, status } = parsed.output.response;
  const verdict = status.toLowerCase();
  if (verdict === 'success') {
    // A success without an id cannot be correlated with DLRs; treat it like garbage.
    return id
      ? { ok: true, messageId: id, httpStatus }
      : badResponse(httpStatus, 'success without id');
  }
  if (verdict === 'error' && id) {
    return {
      ok: false,
      retryable: id === TRANSIENT_GUPSHUP_ID,
      code: `gupshup_${id}`,
      reason: scrubReason(details) || `Gupshup error ${id}`,
      httpStatus,
    };
  }
  return badResponse(httpStatus, `unexpected response status "${scrubReason(status)}"`);
}

/**
 * A 200 we cannot read may still mean the message went out, but we cannot tell; retrying is the
 * lesser evil because `msg_id`/`extra` carry the idempotency key for later reconciliation.
 */
function badResponse(httpStatus: number, reason: string): SendResult {
  return { ok: false, retryable: true, code: 'bad_response', reason, httpStatus };
}
