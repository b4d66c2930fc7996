/**
 * The Gupshup sandbox's public types: what it records of each send, what it can be told to do,
 * and the handle `startSandbox` returns (src/sandbox/server.ts; the control endpoints in
 * src/sandbox/control.ts are the same handle over HTTP).
 *
 * Terminology:
 * - **send**: one request to either send API — the Enterprise gateway (`/GatewayAPI/rest`,
 *   `method=SendMessage`) or self-serve (`/wa/api/v1/msg`, `/wa/api/v1/template/msg`).
 * - **Gupshup id** (`messageId`): what the send answered — `<19 digits>-<18 digits>` from the
 *   gateway, a UUID from self-serve. **WhatsApp id** (`whatsappMessageId`, `wamid.…`): the
 *   message's id on WhatsApp, which v2 and v3 callbacks carry besides Gupshup's.
 * - **callback**: anything the sandbox posts to the service's webhook: delivery reports, and
 *   customer replies (taps, texts, raw enterprise bodies), in the enterprise, v2 or v3 format.
 * - **tap**: a customer choosing a list row, a reply button or a template's quick-reply button
 *   of one of our messages.
 * - **fault**: what a fault policy (`setFaults`) did to a send: a refusal by HTTP status, or a
 *   message accepted whose answer came too late (`timeout`) or never (`drop`). Unlike a
 *   `failNext` spec, which scripts the next sends one by one, a policy applies to every send
 *   at a rate.
 */
import type {
  CallbackFormat,
  CallbackOptions,
  CallbackRecord,
  DlrSpec,
  ReplyEncoding,
} from './callbacks.ts';
import type { TappedChoice } from './formats.ts';
import type { InteractiveContent } from './interactive.ts';
import type { PostbackText } from './self-serve.ts';
import type { TemplateUse } from './templates.ts';

/**
 * What the sandbox answered to one send: `pending` while an injected delay runs, `success` with
 * a message id, `error` with a Gupshup error (enterprise envelope, or a self-serve 400/401),
 * `http_error` with an injected HTTP status, `dropped` when the sandbox closed before answering.
 */
export type SendOutcome = 'pending' | 'success' | 'error' | 'http_error' | 'dropped';

export type SendApi = 'enterprise' | 'self-serve';

/** One send as received. */
export interface RecordedSend {
  at: Date;
  api: SendApi;
  /** Enterprise: the `method` parameter as sent (its casing varies); self-serve: `POST`. */
  method: string;
  /** Self-serve only: the path, `/wa/api/v1/msg` or `/wa/api/v1/template/msg`. */
  path?: string;
  /** Enterprise: query and form fields merged (form wins); self-serve: the form fields. */
  params: Record<string, string>;
  /**
   * Self-serve only: the `apikey` header as sent. Like `params.password`, it stays in process:
   * `GET /_sandbox/sends` shows both as `[redacted]`.
   */
  apiKey?: string;
  /** The customer's number as given (`send_to` or `destination`). */
  to: string;
  /** Self-serve only: our business number (`source`). */
  from?: string;
  outcome: SendOutcome;
  /** Gupshup's id answered, when `outcome` is `success`. */
  messageId?: string;
  /** WhatsApp's id of the message (`wamid.…`), when `outcome` is `success`. */
  whatsappMessageId?: string;
  /** The Gupshup error id (enterprise, or a `failNext` error spec) and details answered. */
  errorId?: string;
  details?: string;
  /** The status answered, when `outcome` is `http_error`, or a self-serve error's 400/401. */
  httpStatus?: number;
  /** An interactive list or buttons message, as parsed (either API). */
  interactive?: InteractiveContent;
  /** Self-serve `/msg`: the `message` JSON as sent (its interactive content is `interactive`). */
  message?: Record<string, unknown>;
  /**
   * A template send: self-serve by `template.id`; enterprise when the rendered `msg` matched
   * one of the sandbox's templates.
   */
  template?: TemplateUse;
  /** Self-serve template sends: the `postbackTexts` given. */
  postbackTexts?: PostbackText[];
  /**
   * The fault the policy applied, if any. With `timeout` or `drop` the outcome is `success`
   * (the message went out and its reports follow) but the client never had the answer in time.
   */
  fault?: FaultKind;
}

/**
 * A scripted answer for the next send (either API). With `account`, for the next send through
 * that account only (the Enterprise `userid`, or the self-serve app's `src.name`); other sends
 * pass it by.
 */
export type FailureSpec = (
  | { kind: 'error'; id: string; details?: string }
  | { kind: 'http'; status: number }
  | { kind: 'delay'; ms: number }
) & { account?: string };

/**
 * What a fault policy can do to a send (either API):
 * - `http5xx`: answers 500, 502 or 503; not accepted, no reports (`outcome: 'http_error'`).
 * - `http429`: answers 429; not accepted, no reports (`outcome: 'http_error'`).
 * - `timeout`: accepted (an id is issued, `outcome: 'success'`, reports follow), but the answer
 *   is held for `timeoutMs`, so the client gives up first. The hold ends early when the client
 *   hangs up (nothing is answered then), on `reset` or on close (the answer goes out then).
 * - `drop`: accepted like `timeout`, then the connection is destroyed without any answer.
 *
 * `timeout` and `drop` only apply to a send the sandbox accepts: a send it refuses (a Gupshup
 * error, a self-serve 400/401) is answered as usual and carries no `fault`.
 */
export type FaultKind = 'http5xx' | 'http429' | 'timeout' | 'drop';

export interface FaultPolicy {
  /** The share of sends that get a fault, 0 to 1. */
  rate: number;
  /**
   * Relative weights of the kinds (each ≥ 0, at least one > 0); a kind left out weighs 0. All
   * kinds weigh the same when `mix` is absent.
   */
  mix?: Partial<Record<FaultKind, number>>;
  /** Seeds the choice, so the same sends get the same faults on every run; random by default. */
  seed?: number;
  /** How long a `timeout` holds the answer; 15000 ms by default. */
  timeoutMs?: number;
}

/**
 * Whether the enterprise account takes interactive messages. Unsupported, a send with
 * `interactive_type` or `action` is refused with error `errorId` (`106` by default) and
 * `details` (`Interactive messages are not supported for this account`).
 */
export interface InteractiveSetting {
  supported: boolean;
  errorId?: string;
  details?: string;
}

export interface TapInput {
  /** The customer's number (digits; a `+` or spaces are ignored). */
  to: string;
  /** 1-based number of the row or button, or its title (any case). */
  choice: number | string;
  /** The callback's format by default (v2 for a self-serve send when that is `enterprise`). */
  format?: CallbackFormat;
  /** v3 only: the customer hides their number; a business-scoped user id comes instead. */
  withoutPhone?: boolean;
  /** The customer's profile name; `Sandbox Customer` by default. */
  name?: string;
  /** Enterprise only: form body (default), JSON body or GET query. */
  as?: ReplyEncoding;
}

export interface TextInput extends Omit<TapInput, 'choice'> {
  text: string;
}

/** A reply the webhook was sent: the last attempt, in which format. */
export interface ReplyResult {
  record: CallbackRecord;
  format: CallbackFormat;
}

export interface TapResult extends ReplyResult {
  choice: TappedChoice;
  /** Gupshup's id of the message tapped. */
  messageId: string;
}

/** The handle's methods, shared by the in-process API and the control endpoints. */
export interface SandboxControl {
  /** Every send (both APIs), oldest first, including refused ones. */
  sends: RecordedSend[];
  /**
   * Queues answers; each send consumes one, in order. Returns how many are queued. A send that
   * consumes a spec (a delay included) is left alone by the fault policy.
   */
  failNext(...specs: FailureSpec[]): number;
  /**
   * Sets the fault policy every send is subject to, or (with `null`) switches it off. Setting
   * a policy starts its PRNG afresh; only sends the policy is asked about (those no `failNext`
   * spec answered) draw from it. Stays over reset. Throws SandboxOptionsError on a malformed
   * policy.
   */
  setFaults(policy: FaultPolicy | null): void;
  /**
   * Every callback attempt (reports and replies), oldest first, with the status the webhook
   * answered (0 for no answer). A failed attempt is retried up to 3 times, 200 ms apart.
   */
  callbacks: CallbackRecord[];
  /**
   * Sets or (with `null`) removes the webhook; a send's reports go where the callback pointed,
   * in its format, when the send succeeded. Throws SandboxCallbackError on a malformed option.
   */
  setCallback(callback: CallbackOptions | null): void;
  /** Alters the reports of the next successful sends, one spec per send, in order. */
  nextDlr(...specs: DlrSpec[]): number;
  /** The next successful sends (either API) answer these ids (in order), not generated ones. */
  nextMessageIds(...ids: string[]): number;
  /** Switches interactive messages on or off for the enterprise account (stays over reset). */
  setInteractive(setting: InteractiveSetting): void;
  /**
   * Delivers an enterprise inbound message to the webhook (POST form or JSON, or GET query) and
   * resolves with the last attempt. Rejects with SandboxCallbackError when no callback is set or
   * the sandbox was reset or closed meanwhile.
   */
  simulateReply(body: Record<string, string>, as?: ReplyEncoding): Promise<CallbackRecord>;
  /**
   * The customer taps a choice of the newest successful send to `to` that offered any, and the
   * webhook gets it in the format, with the ids that send was given. Rejects with
   * SandboxTapError when nothing matches, SandboxCallbackError when no callback is set.
   */
  tap(input: TapInput): Promise<TapResult>;
  /** The customer writes a free text, quoting nothing. */
  text(input: TextInput): Promise<ReplyResult>;
  /**
   * Forgets recorded sends and callbacks, queued failures, report specs and ids, cancels
   * reports not yet posted and answers held `timeout` faults now. The callback, interactive
   * and fault policy settings stay (`setFaults(null)` clears the policy).
   */
  reset(): void;
}

export interface Sandbox extends SandboxControl {
  /** Enterprise base URL, ending in /GatewayAPI/rest (what GUPSHUP_ENTERPRISE_URL points at). */
  url: string;
  /** `http://host:port`, for the self-serve and control endpoints. */
  origin: string;
  /** Cancels pending reports and retries, answers held `timeout` faults, then stops listening. */
  close(): Promise<void>;
}
