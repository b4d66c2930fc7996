/**
 * Shared plumbing for the outbound HTTP clients (Gupshup sends and template lists, the WMS, the
 * integration engine): one undici pool per upstream with every phase bounded, a per-request
 * deadline combined with the caller's signal, and the classification of whatever undici throws
 * (caller abort, timeout, socket error) into the `{ ok: false, retryable, code, reason }` failure
 * the send and WMS clients return. Reasons built here are bounded and never carry a phone number.
 * Nothing here logs or throws.
 */
import { Pool } from 'undici';

/** A failed exchange as the send and WMS clients report it; `code` is stable, `reason` human. */
export interface TransportFailure {
  ok: false;
  retryable: boolean;
  code: string;
  reason: string;
}

/** Longest `reason` passed on by default: upstream messages are short, longer is noise. */
export const MAX_REASON_LENGTH = 200;

/** The largest answer read from an upstream by default: every answer we expect is a few KiB. */
export const MAX_RESPONSE_BYTES = 1_048_576;

/**
 * One pool per upstream origin, with connect, headers and body each limited to `timeoutMs`, so a
 * stuck upstream cannot pin a worker slot, and answers limited to `maxResponseBytes`, so a
 * broken or hostile one cannot fill the memory (undici fails the request past it).
 */
export function createPool(
  origin: string,
  timeoutMs: number,
  maxResponseBytes: number = MAX_RESPONSE_BYTES,
): Pool {
  return new Pool(origin, {
    connectTimeout: timeoutMs,
    headersTimeout: timeoutMs,
    bodyTimeout: timeoutMs,
    maxResponseSize: maxResponseBytes,
  });
}

/**
 * Starts a request's end-to-end deadline. `signal` is what to hand undici: the deadline, or the
 * deadline combined with the caller's signal. Keep `deadline` to tell a timeout from an abort.
 */
export function requestDeadline(
  timeoutMs: number,
  caller?: AbortSignal,
): { deadline: AbortSignal; signal: AbortSignal } {
  const deadline = AbortSignal.timeout(timeoutMs);
  return { deadline, signal: caller ? AbortSignal.any([caller, deadline]) : deadline };
}

/** The caller gave up (before or during the request); worth trying again. */
export function callerAborted(): TransportFailure {
  return { ok: false, retryable: true, code: 'aborted', reason: 'request aborted by caller' };
}

/**
 * Failures to connect at all: the request never left, so the peer certainly did not act on it
 * (unlike a timeout or a dropped connection, after which it may have).
 */
const NOT_CONNECTED = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'UND_ERR_CONNECT_TIMEOUT',
]);

/**
 * Everything thrown by undici: the caller's abort (`aborted`), no connection at all
 * (`unreachable`: refused, unknown host, connect timeout), our deadline or an undici phase
 * timeout (`timeout`, "<peer> did not answer in time"), anything else (`network`, the error's code
 * and message, scrubbed). All are retryable. `scrub` defaults to `scrubReason` at
 * `MAX_REASON_LENGTH`.
 */
export function classifyTransportError(
  thrown: unknown,
  opts: {
    peer: string;
    deadline: AbortSignal;
    caller?: AbortSignal | undefined;
    scrub?: (text: string) => string;
  },
): TransportFailure {
  // Decide by which signal fired rather than by the error shape: undici rejects with the
  // signal's reason, which is a DOMException for both an abort and a timeout.
  if (opts.caller?.aborted) {
    return callerAborted();
  }
  const code = errorCode(thrown);
  if (code !== undefined && NOT_CONNECTED.has(code)) {
    // Checked before the deadline: a connect timeout also fires it, yet nothing was sent.
    return {
      ok: false,
      retryable: true,
      code: 'unreachable',
      reason: `${opts.peer} could not be reached (${code})`,
    };
  }
  if (
    opts.deadline.aborted ||
    code === 'UND_ERR_HEADERS_TIMEOUT' ||
    code === 'UND_ERR_BODY_TIMEOUT'
  ) {
    return {
      ok: false,
      retryable: true,
      code: 'timeout',
      reason: `${opts.peer} did not answer in time`,
    };
  }
  const message = thrown instanceof Error ? thrown.message : String(thrown);
  const scrub = opts.scrub ?? ((text: string) => scrubReason(text, MAX_REASON_LENGTH));
  return {
    ok: false,
    retryable: true,
    code: 'network',
    reason: scrub(code ? `${code}: ${message}` : message),
  };
}

/** The string `code` of a thrown value (undici's `UND_ERR_*`, Node's `ECONNREFUSED`), if any. */
export function errorCode(thrown: unknown): string | undefined {
  if (typeof thrown === 'object' && thrown !== null && 'code' in thrown) {
    const { code } = thrown;
    return typeof code === 'string' ? code : undefined;
  }
  return undefined;
}

/**
 * Reasons end up in job failure reasons and logs, which must not carry personal data. A run of
 * eight or more digits (with an optional `+`) is most likely a phone number and is masked; the
 * result is cut at `max` characters. Missing text gives `''`.
 */
export function scrubReason(text: string | undefined, max: number = MAX_REASON_LENGTH): string {
  if (!text) {
    return '';
  }
  return text.replace(/\+?\d{8,}/g, '[number]').slice(0, max);
}
