/**
 * Gupshup Enterprise gateway adapter (`media.smsgupshup.com/GatewayAPI/rest`, userid and
 * password, `method=SendMessage`): a template through the HSM account, a session message
 * (text, list or reply buttons) through the two-way account. Every outcome — Gupshup success,
 * Gupshup error envelope, HTTP failure, timeout, network failure, caller abort — becomes a
 * `SendResult`, so the caller decides between "done", "retry" and "give up" without catching.
 *
 * Interactive session messages use parameters seen in two public clients but not in Gupshup's
 * published documentation (INTERACTIVE_PARAMS, the one place that names them). An account that
 * does not take them answers with an error envelope; which ids count as "not supported" is
 * configuration (GUPSHUP_INTERACTIVE_UNSUPPORTED_CODES), and such an answer comes back as code
 * `interactive_unsupported` so the caller sends the text version instead. The gateway has no
 * known call-to-action URL button: the caller sends the link in text.
 *
 * Created once per process (src/gupshup/client.ts) from GUPSHUP_ENTERPRISE_URL,
 * GUPSHUP_TIMEOUT_MS and GUPSHUP_TEMPLATE_MSG_TYPE. Tests drive it against the local sandbox in
 * src/sandbox/server.ts, which speaks the same protocol.
 */
import * as v from 'valibot';
import {
  callerAborted,
  classifyTransportError,
  createPool,
  requestDeadline,
  scrubReason,
} from '../outbound.ts';
import {
  INTERACTIVE_UNSUPPORTED,
  type EnterpriseCredentials,
  type SendResult,
  type SessionContent,
  type SessionSend,
  type TemplateSend,
} from './types.ts';

/** Everything the adapter needs from the caller per send; the connection picks the account. */
export interface EnterpriseAdapter {
  sendTemplate(
    creds: EnterpriseCredentials,
    msg: TemplateSend,
    signal?: AbortSignal,
  ): Promise<SendResult>;
  /** A session message: text, list or reply buttons (never a call-to-action URL button). */
  sendSession(
    creds: EnterpriseCredentials,
    msg: SessionSend,
    signal?: AbortSignal,
  ): Promise<SendResult>;
  close(): Promise<void>;
}

/** The content types the gateway sends natively. */
export const ENTERPRISE_SESSION_TYPES: ReadonlySet<SessionContent['type']> = new Set([
  'text',
  'list',
  'buttons',
]);

/**
 * The gateway's interactive parameters, in one place: `interactive_type` names the kind and
 * `action` holds its JSON; the body goes in `msg` with `msg_type=TEXT`. Not in Gupshup's
 * published documentation (seen in two public clients): if Gupshup names them otherwise, this is
 * the only thing to change.
 */
export const INTERACTIVE_PARAMS = {
  type: 'interactive_type',
  action: 'action',
  msgType: 'TEXT',
  list: 'list',
  buttons: 'dr_button',
} as const;

/**
 * Gupshup error ids that are about the account, the number or the credit, never about the
 * message's parameters: an interactive send refused with one of these is not taken as
 * "interactive not supported".
 */
const NOT_ABOUT_PARAMETERS = new Set(['100', '102', '103', '104', '105', '112', '123', '124']);

/** Which error ids of an interactive send mean "not supported": `all` others, or a list. */
export type InteractiveUnsupportedCodes = 'all' | ReadonlySet<string>;

/**
 * Gupshup error id meaning "unknown exception, retry later"; no other id is worth repeating the
 * same request for (what else follows from an id is the provider error table's call).
 */
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

export function createEnterpriseAdapter(opts: {
  baseUrl: string;
  timeoutMs: number;
  templateMsgType: string;
  /** GUPSHUP_INTERACTIVE_UNSUPPORTED_CODES; `all` by default. */
  interactiveUnsupported?: InteractiveUnsupportedCodes;
}): EnterpriseAdapter {
  const unsupported = opts.interactiveUnsupported ?? 'all';
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
    sendSession: async (creds, msg, signal) => {
      const form = buildSessionForm(creds, msg);
      const result = await send(form, signal);
      return msg.content.type !== 'text' && refusesInteractive(result, unsupported)
        ? {
            ok: false,
            retryable: false,
            code: INTERACTIVE_UNSUPPORTED,
            reason: `the account does not take interactive messages (${result.code}: ${result.reason})`,
            ...(result.httpStatus === undefined ? {} : { httpStatus: result.httpStatus }),
          }
        : result;
    },
    close: () => pool.close(),
  };
}

/** A Gupshup error envelope that, for an interactive send, means the parameters are refused. */
function refusesInteractive(
  result: SendResult,
  unsupported: InteractiveUnsupportedCodes,
): result is Extract<SendResult, { ok: false }> {
  if (result.ok || !result.code.startsWith('gupshup_')) {
    return false;
  }
  const id = result.code.slice('gupshup_'.length);
  return unsupported === 'all' ? !NOT_ABOUT_PARAMETERS.has(id) : unsupported.has(id);
}

export function buildTemplateForm(
  creds: EnterpriseCredentials,
  msg: TemplateSend,
  templateMsgType: string,
): URLSearchParams {
  return new URLSearchParams({
    ...commonFields(creds, msg.to),
    msg_type: templateMsgType,
    isTemplate: 'true',
    msg: msg.text,
    ...correlationFields(msg.correlationKey),
  });
}

/**
 * A session message through the two-way account: `DATA_TEXT` for text; for a list or reply
 * buttons, `msg_type=TEXT` with the body in `msg` and the choices in `action` (INTERACTIVE_PARAMS).
 */
export function buildSessionForm(creds: EnterpriseCredentials, msg: SessionSend): URLSearchParams {
  const { content } = msg;
  const body = content.type === 'text' ? content.text : content.body;
  const fields: Record<string, string> = {
    ...commonFields(creds, msg.to),
    msg_type: content.type === 'text' ? 'DATA_TEXT' : INTERACTIVE_PARAMS.msgType,
  };
  if (content.type === 'list') {
    fields[INTERACTIVE_PARAMS.type] = INTERACTIVE_PARAMS.list;
    fields[INTERACTIVE_PARAMS.action] = JSON.stringify({
      button: content.button,
      sections: [
        {
          title: content.section,
          rows: content.rows.map((row) => ({
            id: row.id,
            title: row.title,
            ...(row.description ? { description: row.description } : {}),
          })),
        },
      ],
    });
  } else if (content.type === 'buttons') {
    fields[INTERACTIVE_PARAMS.type] = INTERACTIVE_PARAMS.buttons;
    fields[INTERACTIVE_PARAMS.action] = JSON.stringify({
      buttons: content.buttons.map((b) => ({ type: 'reply', reply: { id: b.id, title: b.title } })),
    });
  } else if (content.type === 'cta_url') {
    throw new TypeError('the Enterprise gateway has no call-to-action URL button');
  }
  return new URLSearchParams({
    ...fields,
    // Gupshup's default `text` encoding mangles emoji and Indic scripts; plain ASCII keeps the
    // default so the request stays the smallest one that works.
    ...(isAscii(body) ? {} : { data_encoding: 'Unicode_text' }),
    msg: body,
    ...correlationFields(msg.correlationKey),
  });
}

function commonFields(creds: EnterpriseCredentials, to: string): Record<string, string> {
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

/**
 * Both carry the outbox row's correlation key (its idempotency key and a random part): `extra`
 * comes back in DLRs, `msg_id` may let Gupshup dedupe a retry, which sends the same value.
 */
function correlationFields(correlationKey: string): Record<string, string> {
  return { msg_id: correlationKey, extra: correlationKey };
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
 * lesser evil because `msg_id`/`extra` carry the correlation key for later reconciliation.
 */
function badResponse(httpStatus: number, reason: string): SendResult {
  return { ok: false, retryable: true, code: 'bad_response', reason, httpStatus };
}
