/**
 * Local Gupshup sandbox: a small Fastify server that speaks the Enterprise Gateway protocol
 * (`/GatewayAPI/rest`, `method=SendMessage` and `method=get_whatsapp_hsm`) and the self-serve
 * template list (`/sm/api/v1/template/list/:app`), so the service can be run and tested without a
 * Gupshup account.
 *
 * Started in-process by tests (`startSandbox({ port: 0 })`) and by `npm run sandbox`
 * (src/sandbox/main.ts). It records every SendMessage request, and `failNext` (or
 * `POST /_sandbox/fail`) queues Gupshup errors, HTTP failures and delays for the next sends.
 *
 * With a `callback` URL it also plays Gupshup's side of the conversation: after each successful
 * send it posts SENT, DELIVERED and READ reports to the service's webhook (src/sandbox/callbacks.ts;
 * `nextDlr` asks for a failure, duplicates, reversed order or one batch), and `simulateReply`
 * posts a customer's message (src/sandbox/replies.ts builds the seed's shapes). Every callback
 * attempt and the webhook's answer land in `callbacks`.
 *
 * Templates come from src/sandbox/templates.ts. Error ids and envelopes follow the reference
 * facts (§1.4); whether Gupshup dedupes `msg_id` is unconfirmed, so the sandbox answers and
 * records every repeat.
 */
import { randomInt } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';

import { fastify, type FastifyReply, type FastifyRequest } from 'fastify';
import * as v from 'valibot';

import {
  buildDlrRequest,
  buildReplyRequest,
  type CallbackOptions,
  CallbackOptionsSchema,
  type CallbackRecord,
  createCallbackPoster,
  DEFAULT_SRC_ADDR,
  type DlrPost,
  type DlrSpec,
  DlrSpecSchema,
  planDlrReports,
  type ReplyEncoding,
  SandboxCallbackError,
} from './callbacks.ts';
import { parseTemplates, readDefaultTemplates, toEnterpriseTemplate } from './templates.ts';

export {
  type CallbackOptions,
  type CallbackRecord,
  type DlrDelays,
  type DlrEvent,
  type DlrSpec,
  type ReplyEncoding,
  SandboxCallbackError,
} from './callbacks.ts';
export { buttonReply, interactiveReply, textReply } from './replies.ts';
export { SandboxTemplatesError } from './templates.ts';

/**
 * What the sandbox answered to one SendMessage request: `pending` while an injected delay runs,
 * `success` with a message id, `error` with a Gupshup error envelope, `http_error` with an
 * injected HTTP status, `dropped` when the sandbox closed before answering.
 */
export type SendOutcome = 'pending' | 'success' | 'error' | 'http_error' | 'dropped';

/** One SendMessage request as received (query and form fields merged, form wins). */
export interface RecordedSend {
  at: Date;
  /** The `method` parameter as sent (its casing varies). */
  method: string;
  params: Record<string, string>;
  outcome: SendOutcome;
  /** The id answered, when `outcome` is `success`. */
  messageId?: string;
  /** The Gupshup error id and details answered, when `outcome` is `error`. */
  errorId?: string;
  details?: string;
  /** The status answered, when `outcome` is `http_error`. */
  httpStatus?: number;
}

/** A scripted answer for the next SendMessage request. */
export type FailureSpec =
  | { kind: 'error'; id: string; details?: string }
  | { kind: 'http'; status: number }
  | { kind: 'delay'; ms: number };

export interface Sandbox {
  /** Enterprise base URL, ending in /GatewayAPI/rest (what GUPSHUP_ENTERPRISE_URL points at). */
  url: string;
  /** `http://host:port`, for the self-serve and control endpoints. */
  origin: string;
  /** Every SendMessage request, oldest first, including refused ones. */
  sends: RecordedSend[];
  /** Queues answers; each SendMessage request consumes one, in order. */
  failNext(...specs: FailureSpec[]): void;
  /**
   * Every callback attempt (reports and replies), oldest first, with the status the webhook
   * answered (0 for no answer). A failed attempt is retried up to 3 times, 200 ms apart.
   */
  callbacks: CallbackRecord[];
  /**
   * Sets or (with `null`) removes the webhook; a send's reports go where the callback pointed
   * when the send succeeded. Throws SandboxCallbackError on a malformed option.
   */
  setCallback(callback: CallbackOptions | null): void;
  /** Alters the reports of the next successful sends, one spec per send, in order. */
  nextDlr(...specs: DlrSpec[]): void;
  /** The next successful sends answer these ids (in order) instead of generated ones. */
  nextMessageIds(...ids: string[]): void;
  /**
   * Delivers an enterprise inbound message to the webhook (POST form or JSON, or GET query) and
   * resolves with the last attempt. Rejects with SandboxCallbackError when no callback is set or
   * the sandbox was reset or closed meanwhile.
   */
  simulateReply(body: Record<string, string>, as?: ReplyEncoding): Promise<CallbackRecord>;
  /**
   * Forgets recorded sends and callbacks, queued failures, report specs and ids, and cancels
   * reports not yet posted. The callback setting stays.
   */
  reset(): void;
  /** Cancels pending reports and retries, then stops listening. */
  close(): Promise<void>;
}

const GATEWAY_PATH = '/GatewayAPI/rest';

/** Wording of Gupshup's enterprise error ids (facts §1.4), used when a spec gives no details. */
const ERROR_DETAILS: Record<string, string> = {
  '100': 'Unknown exception, please retry later',
  '101': 'Required parameter missing',
  '102': 'Authentication failed due to invalid userId or password',
  '103': 'The userid does not exist',
  '104': 'User is disabled',
  '105': 'The phone number is not valid',
  '106': 'Method not supported',
  '112': 'Phone number field is empty',
  '123': 'Insufficient credits',
  '124': 'WhatsApp pack validity expired',
  '171': 'Action not allowed',
  '175': 'INTERNATIONAL_PHONE service is disabled',
};

const SEND_REQUIRED_PARAMS = ['userid', 'password', 'send_to', 'msg', 'msg_type'] as const;

export const FailureSpecSchema = v.variant('kind', [
  v.object({
    kind: v.literal('error'),
    id: v.pipe(v.string(), v.regex(/^\d+$/, 'must be a numeric Gupshup error id')),
    details: v.optional(v.string()),
  }),
  v.object({
    kind: v.literal('http'),
    status: v.pipe(v.number(), v.integer(), v.minValue(200), v.maxValue(599)),
  }),
  v.object({
    kind: v.literal('delay'),
    ms: v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(600_000)),
  }),
]);
const FailureSpecsSchema = v.union([FailureSpecSchema, v.array(FailureSpecSchema)]);
const DlrSpecsSchema = v.union([DlrSpecSchema, v.array(DlrSpecSchema)]);
const MessageIdsSchema = v.object({
  ids: v.array(v.pipe(v.string(), v.nonEmpty('must not be empty'))),
});
const ReplyRequestSchema = v.object({
  body: v.record(v.string(), v.string()),
  as: v.optional(v.picklist(['form', 'json', 'query']), 'form'),
});

export interface SandboxOptions {
  port?: number;
  host?: string;
  /** Self-serve template list (array or `{ templates }`); src/sandbox/templates.json by default. */
  templates?: unknown;
  /** Post delivery reports (and simulated replies) to the service's webhook. */
  callback?: CallbackOptions;
  /** Called with every callback attempt, e.g. to log it. */
  onCallback?: (record: CallbackRecord) => void;
}

export async function startSandbox(opts: SandboxOptions = {}): Promise<Sandbox> {
  const templates = parseTemplates(opts.templates ?? (await readDefaultTemplates()));
  let callback = opts.callback ? parseCallback(opts.callback) : null;
  const sends: RecordedSend[] = [];
  const failures: FailureSpec[] = [];
  const dlrSpecs: DlrSpec[] = [];
  const nextIds: string[] = [];
  const callbacks: CallbackRecord[] = [];
  const issuedIds = new Set<string>();
  // Aborted on close so injected delays end instead of holding app.close() open.
  const closing = new AbortController();
  // Aborted on reset and close: cancels reports not yet posted and retries not yet made.
  let generation = new AbortController();
  const deliveries = new Set<Promise<unknown>>();
  const poster = createCallbackPoster({
    record: (entry) => {
      callbacks.push(entry);
      opts.onCallback?.(entry);
    },
  });

  /** Keeps a delivery in view so close() can wait for it; it never rejects. */
  function track<T>(delivery: Promise<T>): Promise<T> {
    deliveries.add(delivery);
    const forget = () => deliveries.delete(delivery);
    void delivery.then(forget, forget);
    return delivery;
  }

  function scheduleReports(externalId: string, destAddr: string, extra?: string): void {
    const spec = dlrSpecs.shift() ?? {};
    if (!callback) {
      return;
    }
    const sentAt = Date.now();
    const posts = planDlrReports({
      externalId,
      destAddr,
      srcAddr: callback.srcAddr ?? DEFAULT_SRC_ADDR,
      sentAt,
      delays: callback.delaysMs ?? {},
      spec,
      ...(extra ? { extra } : {}),
    });
    void track(postReports(callback.url, posts, sentAt, generation.signal));
  }

  /** One POST after the other, so the webhook sees them in the planned order. */
  async function postReports(
    url: string,
    posts: DlrPost[],
    sentAt: number,
    signal: AbortSignal,
  ): Promise<void> {
    for (const post of posts) {
      const wait = sentAt + post.atMs - Date.now();
      try {
        await delay(Math.max(wait, 0), undefined, { signal });
      } catch {
        return;
      }
      await poster.deliver(buildDlrRequest(url, post.events), signal);
    }
  }

  async function simulateReply(
    body: Record<string, string>,
    as: ReplyEncoding = 'form',
  ): Promise<CallbackRecord> {
    if (!callback) {
      throw new SandboxCallbackError('no callback URL is set, so there is nowhere to reply to');
    }
    const record = await track(
      poster.deliver(buildReplyRequest(callback.url, body, as), generation.signal),
    );
    if (!record) {
      throw new SandboxCallbackError('the reply was cancelled by a reset or close');
    }
    return record;
  }

  // No Fastify logger: Gateway requests carry the password in the query string or body, and a
  // request log would print it.
  const app = fastify({ logger: false });

  app.addContentTypeParser(
    'application/x-www-form-urlencoded',
    { parseAs: 'string' },
    (_request, body, done) => {
      done(null, Object.fromEntries(new URLSearchParams(String(body))));
    },
  );

  async function handleSendMessage(
    method: string,
    params: Record<string, string>,
    reply: FastifyReply,
  ): Promise<FastifyReply> {
    const record: RecordedSend = { at: new Date(), method, params, outcome: 'pending' };
    sends.push(record);
    const spec = failures.shift();
    if (spec?.kind === 'error') {
      const details = spec.details ?? ERROR_DETAILS[spec.id] ?? 'Error';
      settle(record, { outcome: 'error', errorId: spec.id, details });
      return reply.send(errorEnvelope(spec.id, details));
    }
    if (spec?.kind === 'http') {
      settle(record, { outcome: 'http_error', httpStatus: spec.status });
      return reply
        .code(spec.status)
        .type('text/plain')
        .send(`sandbox: injected HTTP ${spec.status}`);
    }
    if (spec?.kind === 'delay') {
      try {
        await delay(spec.ms, undefined, { signal: closing.signal });
      } catch {
        settle(record, { outcome: 'dropped' });
        return reply.code(503).type('text/plain').send('sandbox: closing');
      }
      // Like Gupshup, carry on even if the caller gave up meanwhile: the message still "goes out".
    }

    const missing = SEND_REQUIRED_PARAMS.filter((name) => !params[name]);
    if (missing.length > 0) {
      return refuse(record, reply, '101');
    }
    if (!/^\d{10,15}$/.test(params.send_to ?? '')) {
      return refuse(record, reply, '105');
    }
    const messageId = nextIds.shift() ?? generateMessageId(issuedIds);
    issuedIds.add(messageId);
    settle(record, { outcome: 'success', messageId });
    reply.send({
      response: { id: messageId, phone: params.send_to, details: '', status: 'success' },
    });
    // Scheduled once the answer is on its way: like Gupshup, a report never precedes its id.
    scheduleReports(messageId, params.send_to ?? '', params.extra);
    return reply;
  }

  function handleTemplateList(params: Record<string, string>, reply: FastifyReply): FastifyReply {
    if (!params.userid || !params.password) {
      return reply.send(errorEnvelope('101', ERROR_DETAILS['101'] ?? ''));
    }
    const limit = Number(params.limit);
    const data = templates.map(toEnterpriseTemplate);
    const page = Number.isInteger(limit) && limit > 0 ? data.slice(0, limit) : data;
    return reply.send({ data: page, meta: { total: data.length } });
  }

  app.route({
    method: ['GET', 'POST'],
    url: GATEWAY_PATH,
    handler: (request, reply) => {
      const params = readGatewayParams(request);
      const method = params.method ?? '';
      switch (method.toLowerCase()) {
        case 'sendmessage':
          return handleSendMessage(method, params, reply);
        case 'get_whatsapp_hsm':
          return handleTemplateList(params, reply);
        default:
          return reply.send(errorEnvelope('106', ERROR_DETAILS['106'] ?? ''));
      }
    },
  });

  app.get('/sm/api/v1/template/list/:app', (request, reply) => {
    // The real endpoint refuses a request without an API key; keep clients honest.
    if (!request.headers.apikey) {
      return reply.code(401).send({ status: 'error', message: 'Authentication Failed' });
    }
    return reply.send({ status: 'success', templates });
  });

  app.get('/_sandbox/sends', () => sends.map(redactSend));

  app.post('/_sandbox/fail', (request, reply) => {
    const parsed = v.safeParse(FailureSpecsSchema, request.body);
    if (!parsed.success) {
      return reply.code(400).send({
        code: 'ERR_SANDBOX_FAILURE_SPEC',
        message: parsed.issues.map((issue) => issue.message).join('; '),
      });
    }
    const specs = Array.isArray(parsed.output) ? parsed.output : [parsed.output];
    failures.push(...specs);
    return reply.send({ queued: failures.length });
  });

  app.get('/_sandbox/callbacks', () => callbacks);

  app.post('/_sandbox/callback', (request, reply) => {
    const parsed = v.safeParse(CallbackOptionsSchema, request.body);
    if (!parsed.success) {
      return reply.code(400).send(specError('ERR_SANDBOX_CALLBACK', parsed.issues));
    }
    callback = parsed.output;
    return reply.code(204).send();
  });

  app.delete('/_sandbox/callback', (_request, reply) => {
    callback = null;
    return reply.code(204).send();
  });

  app.post('/_sandbox/dlr', (request, reply) => {
    const parsed = v.safeParse(DlrSpecsSchema, request.body);
    if (!parsed.success) {
      return reply.code(400).send(specError('ERR_SANDBOX_DLR_SPEC', parsed.issues));
    }
    dlrSpecs.push(...(Array.isArray(parsed.output) ? parsed.output : [parsed.output]));
    return reply.send({ queued: dlrSpecs.length });
  });

  app.post('/_sandbox/message-ids', (request, reply) => {
    const parsed = v.safeParse(MessageIdsSchema, request.body);
    if (!parsed.success) {
      return reply.code(400).send(specError('ERR_SANDBOX_MESSAGE_IDS', parsed.issues));
    }
    nextIds.push(...parsed.output.ids);
    return reply.send({ queued: nextIds.length });
  });

  app.post('/_sandbox/reply', async (request, reply) => {
    const parsed = v.safeParse(ReplyRequestSchema, request.body);
    if (!parsed.success) {
      return reply.code(400).send(specError('ERR_SANDBOX_REPLY', parsed.issues));
    }
    try {
      const record = await simulateReply(parsed.output.body, parsed.output.as);
      return reply.send({ status: record.status, attempts: record.attempt });
    } catch (thrown) {
      if (thrown instanceof SandboxCallbackError) {
        return reply.code(409).send({ code: thrown.code, message: thrown.message });
      }
      throw thrown;
    }
  });

  app.post('/_sandbox/reset', (_request, reply) => {
    reset();
    return reply.code(204).send();
  });

  function reset(): void {
    sends.length = 0;
    failures.length = 0;
    dlrSpecs.length = 0;
    nextIds.length = 0;
    callbacks.length = 0;
    generation.abort();
    generation = new AbortController();
  }

  const host = opts.host ?? '127.0.0.1';
  await app.listen({ port: opts.port ?? 0, host });
  const { port } = app.server.address() as AddressInfo;
  const origin = `http://${reachableHost(host)}:${port}`;

  return {
    url: `${origin}${GATEWAY_PATH}`,
    origin,
    sends,
    failNext: (...specs) => {
      failures.push(...specs);
    },
    callbacks,
    setCallback: (next) => {
      callback = next ? parseCallback(next) : null;
    },
    nextDlr: (...specs) => {
      dlrSpecs.push(...specs.map(parseDlrSpec));
    },
    nextMessageIds: (...ids) => {
      if (ids.some((id) => id === '')) {
        throw new SandboxCallbackError('message ids must not be empty');
      }
      nextIds.push(...ids);
    },
    simulateReply,
    reset,
    close: async () => {
      closing.abort();
      generation.abort();
      await Promise.allSettled(deliveries);
      await app.close();
      await poster.close();
    },
  };
}

function parseCallback(input: CallbackOptions): CallbackOptions {
  const parsed = v.safeParse(CallbackOptionsSchema, input);
  if (!parsed.success) {
    throw new SandboxCallbackError(`Invalid callback: ${describeIssues(parsed.issues)}`);
  }
  return parsed.output;
}

function parseDlrSpec(input: DlrSpec): DlrSpec {
  const parsed = v.safeParse(DlrSpecSchema, input);
  if (!parsed.success) {
    throw new SandboxCallbackError(`Invalid DLR spec: ${describeIssues(parsed.issues)}`);
  }
  return parsed.output;
}

function describeIssues(issues: readonly v.BaseIssue<unknown>[]): string {
  return issues.map((issue) => `${v.getDotPath(issue) ?? '(root)'}: ${issue.message}`).join('; ');
}

function specError(code: string, issues: readonly v.BaseIssue<unknown>[]) {
  return { code, message: describeIssues(issues) };
}

/** Query and form fields merged; only a form body counts (a JSON body is not Gateway protocol). */
function readGatewayParams(request: FastifyRequest): Record<string, string> {
  const params: Record<string, string> = {};
  for (const [key, value] of new URL(request.url, 'http://sandbox').searchParams) {
    params[key] = value;
  }
  const contentType = request.headers['content-type'] ?? '';
  if (contentType.startsWith('application/x-www-form-urlencoded') && isStringRecord(request.body)) {
    Object.assign(params, request.body);
  }
  return params;
}

function isStringRecord(value: unknown): value is Record<string, string> {
  return (
    typeof value === 'object' &&
    value !== null &&
    Object.values(value).every((item) => typeof item === 'string')
  );
}

function refuse(record: RecordedSend, reply: FastifyReply, id: string): FastifyReply {
  const details = ERROR_DETAILS[id] ?? 'Error';
  settle(record, { outcome: 'error', errorId: id, details });
  return reply.send(errorEnvelope(id, details));
}

/** Completes a record in place: tests may hold it from the moment the request arrived. */
function settle(
  record: RecordedSend,
  answer: Omit<RecordedSend, 'at' | 'method' | 'params'>,
): void {
  Object.assign(record, answer);
}

function errorEnvelope(id: string, details: string) {
  return { response: { id, phone: '', details, status: 'error' } };
}

/** Gupshup ids look like `4917235501923374210-118734002957163221` (19 digits, dash, 18 digits). */
function generateMessageId(issued: Set<string>): string {
  for (;;) {
    const id = `${randomDigits(19)}-${randomDigits(18)}`;
    if (!issued.has(id)) {
      issued.add(id);
      return id;
    }
  }
}

function randomDigits(count: number): string {
  let digits = String(randomInt(1, 10));
  while (digits.length < count) {
    digits += String(randomInt(0, 10));
  }
  return digits;
}

/** The control endpoint may be shown in a browser or pasted into a ticket: hide the password. */
function redactSend(send: RecordedSend): RecordedSend {
  if (send.params.password === undefined) {
    return send;
  }
  return { ...send, params: { ...send.params, password: '[redacted]' } };
}

/** A wildcard listen address is not something a client can connect to. */
function reachableHost(host: string): string {
  if (host === '0.0.0.0' || host === '') {
    return '127.0.0.1';
  }
  if (host === '::') {
    return '[::1]';
  }
  return host.includes(':') ? `[${host}]` : host;
}
