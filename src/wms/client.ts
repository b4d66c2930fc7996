/**
 * WMS client (`WMS_API_URL`): reads a shipment's current order status before the `reply.route`
 * worker acts on a customer's reply, and tells the WMS what the customer chose through
 * `ndrNotification` (reattempt, reschedule with a date, cancel, raise a concern).
 *
 * Contract (ours to define; the paths are the seed's):
 * - `GET  {base}/order/status?shipmentId=<id>` → 200 `{ "shipmentId": "…", "status": "…" }`.
 * - `POST {base}/_ah/esb/v1/ndrNotification` with JSON
 *   `{ shipmentId, accountId, action, deliveryDate?, remarks?, source: "whatsapp", messageId }` and
 *   an `Idempotency-Key` header; 2xx applies it, 409 means "already applied under that key".
 * - `Authorization: Bearer <WMS_API_TOKEN>` on both when a token is configured.
 *
 * Like the Gupshup client, every outcome (answer, HTTP failure, timeout, network failure, caller
 * abort) becomes a `WmsResult`, so the worker chooses between done, retry and give up without
 * catching. Nothing here logs, and no reason returned carries a phone number. Created once per
 * process from config (WMS_API_URL, WMS_API_TOKEN, WMS_TIMEOUT_MS). Tests run it against the
 * in-process fake in test/helpers/fake-wms.ts.
 */
import type { Dispatcher } from 'undici';
import * as v from 'valibot';
import { callerAborted, classifyTransportError, createPool, requestDeadline } from '../outbound.ts';

export type NdrAction = 'REATTEMPT' | 'RESCHEDULE' | 'CANCEL' | 'RAISE_CONCERN';

/** What the customer asked for on one shipment, as sent in the `ndrNotification` body. */
export interface NdrNotification {
  /** The WMS shipment id (the FDR event's `externalShipmentID`). */
  shipmentId: string;
  accountId: number;
  action: NdrAction;
  /** `YYYY-MM-DD`; required for RESCHEDULE, ignored by the WMS otherwise. */
  deliveryDate?: string;
  /** Free text for the WMS operator (the customer's concern); cut at `MAX_REMARKS_LENGTH`. */
  remarks?: string;
  /** The Gupshup id of the customer's reply that asked for the action, for tracing. */
  messageId: string;
}

/**
 * The outcome of one call. `retryable: false` means the same request cannot succeed (4xx other
 * than 408/429, an invalid request). `code` is stable (`http_<status>`, `timeout`, `network`,
 * `aborted`, `bad_response`, `invalid_request`); `reason` is for humans, bounded, numbers scrubbed.
 */
export type WmsResult<T> =
  { ok: true; value: T } | { ok: false; retryable: boolean; code: string; reason: string };

export interface WmsClient {
  /** The shipment's current status, trimmed and lower-cased (`failed_delivery`, `delivered`, …). */
  getOrderStatus(
    shipmentId: string,
    signal?: AbortSignal,
  ): Promise<WmsResult<{ shipmentId: string; status: string }>>;
  /**
   * Sends one action. Call it with the same `idempotencyKey` on every retry of one decision: the
   * WMS applies a key once, so a retried job cannot book two reattempts.
   */
  notifyNdr(
    n: NdrNotification,
    idempotencyKey: string,
    signal?: AbortSignal,
  ): Promise<WmsResult<{ status: number }>>;
  /** Waits for requests in flight, then closes the connection pool. */
  close(): Promise<void>;
}

/**
 * Order statuses meaning "the shipment is (still) in failed delivery", after lower-casing and
 * turning spaces, hyphens and camelCase humps into `_`: the WMS's own `failed_delivery`, ClickPost's
 * `FailedDelivery`, courier wording (`NDR`, `Undelivered`, `Not delivered`, `Delivery failed`).
 * Everything else (delivered, cancelled, rto, out_for_delivery after a reattempt, …) is not.
 */
export const FAILED_DELIVERY_STATUSES: readonly string[] = [
  'failed_delivery',
  'delivery_failed',
  'ndr',
  'undelivered',
  'not_delivered',
];

/** Whether a WMS status means the shipment still awaits the customer's decision. */
export function isFailedDelivery(status: string): boolean {
  const normalised = status
    .trim()
    .replace(/([a-z])([A-Z])/g, '$1_$2')
    .toLowerCase()
    .replace(/[\s_-]+/g, '_');
  return FAILED_DELIVERY_STATUSES.includes(normalised);
}

/** Longest `reason` passed on: WMS messages are short, anything longer is a stack or a page. */
const MAX_REASON_LENGTH = 200;
/** Longest `remarks` sent: a WhatsApp text may be 4096 characters, the WMS field need not be. */
export const MAX_REMARKS_LENGTH = 1000;
/** Bytes read from an error body (enough for a JSON message), and from a status answer. */
const MAX_ERROR_BODY_BYTES = 4_096;
const MAX_STATUS_BODY_BYTES = 65_536;

const NDR_PATH = '/_ah/esb/v1/ndrNotification';
const STATUS_PATH = '/order/status';

const StatusResponseSchema = v.object({
  shipmentId: v.pipe(
    v.union([v.string(), v.number()]),
    v.transform((id) => String(id).trim()),
  ),
  status: v.pipe(v.string(), v.trim(), v.toLowerCase(), v.minLength(1, 'status is empty')),
});

const ISO_DATE = /^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$/;

const NdrNotificationSchema = v.pipe(
  v.object({
    shipmentId: v.pipe(v.string(), v.trim(), v.nonEmpty('shipmentId is empty')),
    accountId: v.pipe(v.number(), v.integer('accountId must be a whole number')),
    action: v.picklist(['REATTEMPT', 'RESCHEDULE', 'CANCEL', 'RAISE_CONCERN']),
    deliveryDate: v.optional(v.pipe(v.string(), v.regex(ISO_DATE, 'deliveryDate: YYYY-MM-DD'))),
    remarks: v.optional(v.pipe(v.string(), v.trim())),
    messageId: v.pipe(v.string(), v.trim(), v.nonEmpty('messageId is empty')),
  }),
  v.check(
    (n) => n.action !== 'RESCHEDULE' || n.deliveryDate !== undefined,
    'RESCHEDULE needs a deliveryDate',
  ),
);

/** Fields WMS error bodies commonly carry their message in, first match wins. */
const ErrorBodySchema = v.object({
  message: v.optional(v.string()),
  error: v.optional(v.union([v.string(), v.object({ message: v.optional(v.string()) })])),
});

export function createWmsClient(opts: {
  baseUrl: string;
  timeoutMs: number;
  token?: string;
}): WmsClient {
  const base = new URL(opts.baseUrl);
  // The base may carry a path prefix (a gateway mounting the WMS under /wms); keep it.
  const prefix = base.pathname.replace(/\/+$/, '');
  // One pool per upstream with every phase bounded, so a stuck WMS cannot pin a worker slot; the
  // per-request deadline below also bounds the whole exchange end to end.
  const pool = createPool(base.origin, opts.timeoutMs);
  const auth: Record<string, string> = opts.token ? { authorization: `Bearer ${opts.token}` } : {};

  /** Runs one request; `onSuccess` reads a 2xx (or an accepted 409) answer. */
  async function send<T>(
    request: {
      method: 'GET' | 'POST';
      path: string;
      headers: Record<string, string>;
      body?: string;
    },
    isSuccess: (status: number) => boolean,
    onSuccess: (status: number, body: Body) => Promise<WmsResult<T>>,
    signal: AbortSignal | undefined,
  ): Promise<WmsResult<T>> {
    if (signal?.aborted) {
      return callerAborted();
    }
    const { deadline, signal: combined } = requestDeadline(opts.timeoutMs, signal);
    try {
      const res = await pool.request({
        ...request,
        headers: { accept: 'application/json', ...auth, ...request.headers },
        signal: combined,
      });
      if (isSuccess(res.statusCode)) {
        return await onSuccess(res.statusCode, res.body);
      }
      return classifyHttpFailure(res.statusCode, await readBounded(res.body, MAX_ERROR_BODY_BYTES));
    } catch (thrown) {
      // WMS reasons get the stricter scrub below (spaced digit runs, collapsed whitespace).
      return classifyTransportError(thrown, {
        peer: 'WMS',
        deadline,
        caller: signal,
        scrub: scrubWmsReason,
      });
    }
  }

  return {
    getOrderStatus(shipmentId, signal) {
      return send(
        {
          method: 'GET',
          path: `${prefix}${STATUS_PATH}?shipmentId=${encodeURIComponent(shipmentId)}`,
          headers: {},
        },
        (status) => status >= 200 && status < 300,
        async (_status, body) => {
          const read = await readBounded(body, MAX_STATUS_BODY_BYTES);
          return parseStatusResponse(shipmentId, read);
        },
        signal,
      );
    },

    async notifyNdr(n, idempotencyKey, signal) {
      const parsed = v.safeParse(NdrNotificationSchema, n);
      if (!parsed.success || idempotencyKey.trim() === '') {
        // A programming error on our side: no retry can fix it, and no request is made.
        const problem = parsed.success
          ? 'idempotency key is empty'
          : parsed.issues.map((issue) => issue.message).join('; ');
        return invalidRequest(problem);
      }
      const { shipmentId, accountId, action, deliveryDate, remarks, messageId } = parsed.output;
      // Explicit field order and no stray properties: the body is the documented contract.
      const body = {
        shipmentId,
        accountId,
        action,
        ...(deliveryDate !== undefined ? { deliveryDate } : {}),
        ...(remarks ? { remarks: remarks.slice(0, MAX_REMARKS_LENGTH) } : {}),
        source: 'whatsapp',
        messageId,
      };
      return send(
        {
          method: 'POST',
          path: `${prefix}${NDR_PATH}`,
          headers: { 'content-type': 'application/json', 'idempotency-key': idempotencyKey },
          body: JSON.stringify(body),
        },
        // 409: the WMS already applied this key, which is exactly what a retry wanted.
        (status) => (status >= 200 && status < 300) || status === 409,
        async (status, resBody) => {
          // The answer carries nothing we need, but the connection is reused only once drained.
          await resBody.dump();
          return { ok: true, value: { status } };
        },
        signal,
      );
    },

    close: () => pool.close(),
  };
}

type Body = Dispatcher.ResponseData['body'];

/**
 * Reads at most `maxBytes` of a body. Stopping early destroys the stream (the connection is not
 * reused), which is cheaper than draining a runaway error page.
 */
async function readBounded(
  body: Body,
  maxBytes: number,
): Promise<{ text: string; truncated: boolean }> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body as AsyncIterable<unknown>) {
    const buffer = Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk));
    chunks.push(buffer);
    size += buffer.length;
    if (size > maxBytes) {
      return {
        text: Buffer.concat(chunks).subarray(0, maxBytes).toString('utf8'),
        truncated: true,
      };
    }
  }
  return { text: Buffer.concat(chunks).toString('utf8'), truncated: false };
}

function parseStatusResponse(
  shipmentId: string,
  read: { text: string; truncated: boolean },
): WmsResult<{ shipmentId: string; status: string }> {
  // Garbage on a 200 is most likely a proxy or a deploy in progress; a read is safe to repeat.
  if (read.truncated) {
    return badResponse('status answer is too large');
  }
  let json: unknown;
  try {
    json = JSON.parse(read.text);
  } catch {
    return badResponse('status answer is not JSON');
  }
  const parsed = v.safeParse(StatusResponseSchema, json);
  if (!parsed.success) {
    return badResponse(`status answer is malformed: ${parsed.issues[0]?.message ?? 'unknown'}`);
  }
  // Acting on another shipment's status could cancel or reattempt the wrong order.
  if (parsed.output.shipmentId !== shipmentId.trim()) {
    return badResponse('status answer names another shipment');
  }
  return { ok: true, value: parsed.output };
}

/** 4xx except 408/429 is permanent (with the WMS's message); 5xx, 408 and 429 are retried. */
function classifyHttpFailure(
  status: number,
  read: { text: string; truncated: boolean },
): WmsResult<never> {
  const retryable = status >= 500 || status === 408 || status === 429;
  const message = extractMessage(read.text);
  const reason = message
    ? `WMS answered HTTP ${status}: ${message}`
    : `WMS answered HTTP ${status}`;
  return { ok: false, retryable, code: `http_${status}`, reason: scrubWmsReason(reason) };
}

/** The message of a JSON error body (`message`, `error`, `error.message`), or its plain text. */
function extractMessage(text: string): string {
  const trimmed = text.trim();
  let json: unknown;
  try {
    json = JSON.parse(trimmed);
  } catch {
    // Not JSON: an HTML error page says nothing useful, a short plain text might.
    return trimmed.startsWith('<') ? '' : trimmed;
  }
  const parsed = v.safeParse(ErrorBodySchema, json);
  if (!parsed.success) {
    return '';
  }
  const { message, error } = parsed.output;
  return (message ?? (typeof error === 'string' ? error : error?.message) ?? '').trim();
}

function badResponse(reason: string): WmsResult<never> {
  return { ok: false, retryable: true, code: 'bad_response', reason };
}

function invalidRequest(problem: string): WmsResult<never> {
  return {
    ok: false,
    retryable: false,
    code: 'invalid_request',
    reason: scrubWmsReason(`invalid ndrNotification: ${problem}`),
  };
}

/**
 * Reasons end up in job failure reasons and logs, which must not carry personal data. A WMS
 * message may echo the customer's number; any run of eight or more digits (spaces or hyphens
 * between them allowed) is most likely one, so it goes. Shipment ids go too: the job has them.
 */
function scrubWmsReason(text: string): string {
  return text
    .replace(/\+?\d(?:[\s-]?\d){7,}/g, '[number]')
    .replace(/\s+/g, ' ')
    .slice(0, MAX_REASON_LENGTH);
}
