/**
 * Error types shared by workers and routes. Each carries a stable `code`.
 *
 * - PermanentError: the job cannot succeed by retrying (bad payload, provider refusal). It extends
 *   BullMQ's UnrecoverableError, so the job goes straight to the failed set with its reason.
 * - RetryableError: a transient failure (timeout, 5xx, 429); BullMQ retries with backoff.
 * - HttpError: a 4xx/5xx answer from our own HTTP layer.
 */
import { UnrecoverableError } from 'bullmq';

export class PermanentError extends UnrecoverableError {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'PermanentError';
  }
}

export class RetryableError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'RetryableError';
  }
}

export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

/** Turns anything thrown into an Error (a throw of a string or object stays readable). */
export function coerceError(thrown: unknown): Error {
  if (thrown instanceof Error) {
    return thrown;
  }
  return new Error(typeof thrown === 'string' ? thrown : JSON.stringify(thrown));
}

/**
 * An error message safe to log or keep in a failed job: SQL errors from the driver quote the
 * query and its parameters (names, phone numbers, addresses), so everything from the first
 * "params:" or "Failed query:" on is cut, and long runs of digits are masked.
 */
export function safeErrorMessage(thrown: unknown): string {
  const message = coerceError(thrown).message;
  const cut = message.split(/\n?\s*(?:params:|Failed query:)/)[0] ?? '';
  const text = cut.trim() || 'database query failed';
  return text.replace(/\d{8,}/g, '[number]').slice(0, 500);
}
