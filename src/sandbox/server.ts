/**
 * Local Gupshup sandbox: a small Fastify server that speaks both of Gupshup's send APIs, so the
 * service can be run and tested without a Gupshup account:
 * - the Enterprise Gateway (`/GatewayAPI/rest`): `method=SendMessage` — texts, templates, and
 *   interactive lists and buttons (`interactive_type`, `action`, src/sandbox/interactive.ts) —
 *   and `method=get_whatsapp_hsm`;
 * - self-serve (`apikey` header): `/wa/api/v1/msg`, `/wa/api/v1/template/msg`
 *   (src/sandbox/self-serve.ts) and the template list `/sm/api/v1/template/list/:app`.
 *
 * Started in-process by tests (`startSandbox({ port: 0 })`) and by `npm run sandbox`
 * (src/sandbox/main.ts). It records every send (src/sandbox/types.ts), and `failNext` (or
 * `POST /_sandbox/fail`) queues Gupshup errors, HTTP failures and delays for the next sends.
 * `setFaults` (or `POST /_sandbox/faults`) sets a fault policy for every send instead
 * (src/sandbox/faults.ts): at a rate, seeded or not, a send is answered 5xx or 429, or accepted
 * and then answered too late (`timeout`) or never (`drop`), for reliability runs.
 *
 * With a `callback` URL it also plays Gupshup's side of the conversation, in the enterprise, v2
 * or v3 format (src/sandbox/formats.ts): after each successful send it posts delivery reports to
 * the service's webhook (`nextDlr` asks for a failure, duplicates, reversed order or one batch);
 * `tap` posts a customer's tap on a list row or button it sent, echoing the ids it was sent,
 * `text` a free text, and `simulateReply` a raw enterprise body. Every callback attempt and the
 * webhook's answer land in `callbacks`. The control endpoints are src/sandbox/control.ts.
 *
 * Error ids and envelopes follow the reference facts (§1.4, §4.1); whether Gupshup dedupes
 * `msg_id` is unconfirmed, so the sandbox answers and records every repeat.
 */
import { randomInt, randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';

import { fastify, type FastifyReply, type FastifyRequest } from 'fastify';
import * as v from 'valibot';

import {
  buildReplyRequest,
  type CallbackFormat,
  type CallbackOptions,
  CallbackOptionsSchema,
  type CallbackRecord,
  type CallbackRequest,
  createCallbackPoster,
  DEFAULT_SRC_ADDR,
  type DlrSpec,
  DlrSpecSchema,
  type PlannedPost,
  planReports,
  type ReplyEncoding,
  SandboxCallbackError,
} from './callbacks.ts';
import { offeredChoices, pickChoice } from './choices.ts';
import { describeIssues, InteractiveSettingSchema, registerControlRoutes } from './control.ts';
import { SandboxOptionsError, SandboxTapError } from './errors.ts';
import { createFaultPicker, type FaultPicker, FaultPolicySchema } from './faults.ts';
import {
  buildReportRequests,
  buildTapRequest,
  buildTextRequest,
  DEFAULT_APP_NAME,
  generateWamid,
  type ReplyParty,
  type SentMessage,
} from './formats.ts';
import { parseEnterpriseInteractive } from './interactive.ts';
import { DEFAULT_NAME } from './replies.ts';
import { readSessionSend, readTemplateSend, SESSION_PATH, TEMPLATE_PATH } from './self-serve.ts';
import {
  defaultTemplates,
  matchEnterpriseTemplate,
  PLATFORM_TEMPLATES,
  parseTemplates,
  toEnterpriseTemplate,
} from './templates.ts';
import type {
  FailureSpec,
  FaultKind,
  InteractiveSetting,
  RecordedSend,
  ReplyResult,
  Sandbox,
  SandboxControl,
  SendApi,
  TapInput,
  TapResult,
  TextInput,
} from './types.ts';

export {
  type CallbackFormat,
  type CallbackOptions,
  type CallbackRecord,
  type DlrDelays,
  type DlrEvent,
  type DlrSpec,
  type ReplyEncoding,
  SandboxCallbackError,
} from './callbacks.ts';
export { FailureSpecSchema } from './control.ts';
export { SandboxOptionsError, SandboxTapError } from './errors.ts';
export { FAULT_KINDS, FaultPolicySchema } from './faults.ts';
export type { TappedChoice } from './formats.ts';
export type { InteractiveChoice, InteractiveContent } from './interactive.ts';
export { buttonReply, interactiveReply, textReply } from './replies.ts';
export type { PostbackText } from './self-serve.ts';
export { SandboxTemplatesError, type TemplateUse } from './templates.ts';
export type * from './types.ts';

const GATEWAY_PATH = '/GatewayAPI/rest';

/** The faults played on an accepted send's answer, rather than instead of accepting it. */
type AcceptFault = Extract<FaultKind, 'timeout' | 'drop'>;

/** The business number of the spec's seed conversation: what enterprise replies come from. */
export const DEFAULT_WA_NUMBER = '919319278973';

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

/**
 * The id answered to a malformed interactive `action`. Gupshup's real id for this is not
 * confirmed (facts §7); 101, "a required parameter is missing", is the nearest documented one.
 */
const INVALID_INTERACTIVE_ID = '101';
const DEFAULT_UNSUPPORTED: Required<Omit<InteractiveSetting, 'supported'>> = {
  errorId: '106',
  details: 'Interactive messages are not supported for this account',
};

const OptionsSchema = v.object({
  waNumber: v.optional(v.pipe(v.string(), v.regex(/^\d{8,15}$/, 'must be digits only'))),
  apiKeys: v.optional(v.array(v.pipe(v.string(), v.nonEmpty('must not be empty')))),
  interactive: v.optional(InteractiveSettingSchema),
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
  /** Our business number on enterprise sends' replies and v3 metadata; `919319278973` by default. */
  waNumber?: string;
  /** Self-serve keys accepted; any non-empty `apikey` when absent. */
  apiKeys?: string[];
  /** Interactive messages on the enterprise account; supported by default. */
  interactive?: InteractiveSetting;
}

export async function startSandbox(opts: SandboxOptions = {}): Promise<Sandbox> {
  const templates = parseTemplates(opts.templates ?? defaultTemplates());
  const options = parseWith(OptionsSchema, opts, 'Invalid sandbox options');
  const waNumber = options.waNumber ?? DEFAULT_WA_NUMBER;
  let interactive: InteractiveSetting = options.interactive ?? { supported: true };
  let callback = opts.callback ? parseCallback(opts.callback) : null;
  const sends: RecordedSend[] = [];
  const failures: FailureSpec[] = [];
  let faults: FaultPicker | null = null;
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

  /** Our number and app as a send's callbacks name them. */
  function senderOf(send: RecordedSend): Pick<SentMessage, 'business' | 'app'> {
    return {
      business: send.from ?? waNumber,
      app:
        send.api === 'self-serve'
          ? (send.params['src.name'] ?? DEFAULT_APP_NAME)
          : DEFAULT_APP_NAME,
    };
  }

  /** Self-serve sends are never answered in the enterprise format. */
  function formatFor(api: SendApi, asked?: CallbackFormat): CallbackFormat {
    const format = asked ?? callback?.format ?? 'enterprise';
    return api === 'self-serve' && format === 'enterprise' ? 'v2' : format;
  }

  function scheduleReports(send: RecordedSend): void {
    const spec = dlrSpecs.shift() ?? {};
    if (!callback || !send.messageId || !send.whatsappMessageId) {
      return;
    }
    const format = formatFor(send.api);
    const sent: SentMessage = {
      gsId: send.messageId,
      wamid: send.whatsappMessageId,
      customer: send.to,
      ...senderOf(send),
      kind: send.template || isTemplateSend(send.params) ? 'template' : 'session',
      ...(send.params.extra && send.api === 'enterprise' && callback.echoExtra !== false
        ? { extra: send.params.extra }
        : {}),
      srcAddr: callback.srcAddr ?? DEFAULT_SRC_ADDR,
      sentAt: Date.now(),
    };
    const posts = planReports({
      delays: callback.delaysMs ?? {},
      spec,
      enqueued: format === 'v2',
    });
    void track(postReports(callback.url, format, posts, sent, generation.signal));
  }

  /** One POST after the other, so the webhook sees them in the planned order. */
  async function postReports(
    url: string,
    format: CallbackFormat,
    posts: PlannedPost[],
    sent: SentMessage,
    signal: AbortSignal,
  ): Promise<void> {
    for (const post of posts) {
      const wait = sent.sentAt + post.atMs - Date.now();
      try {
        await delay(Math.max(wait, 0), undefined, { signal });
      } catch {
        return;
      }
      for (const req of buildReportRequests(format, url, post, sent)) {
        await poster.deliver(req, signal);
      }
    }
  }

  function requireCallback(): CallbackOptions {
    if (!callback) {
      throw new SandboxCallbackError('no callback URL is set, so there is nowhere to reply to');
    }
    return callback;
  }

  async function deliverReply(req: CallbackRequest): Promise<CallbackRecord> {
    const record = await track(poster.deliver(req, generation.signal));
    if (!record) {
      throw new SandboxCallbackError('the reply was cancelled by a reset or close');
    }
    return record;
  }

  async function simulateReply(
    body: Record<string, string>,
    as: ReplyEncoding = 'form',
  ): Promise<CallbackRecord> {
    return deliverReply(buildReplyRequest(requireCallback().url, body, as));
  }

  /** Who replies and in which format; `send` is the message answered, if any. */
  function replyParty(
    input: Omit<TapInput, 'choice'>,
    send: RecordedSend | undefined,
  ): { party: ReplyParty; format: CallbackFormat } {
    const api = send?.api ?? 'enterprise';
    if (api === 'self-serve' && input.format === 'enterprise') {
      throw new SandboxTapError('a self-serve message is answered in v2 or v3, not enterprise');
    }
    const format = formatFor(api, input.format);
    if (input.withoutPhone && format !== 'v3') {
      throw new SandboxTapError(`withoutPhone needs the v3 format (this reply is ${format})`);
    }
    const sender = send ? senderOf(send) : { business: waNumber, app: DEFAULT_APP_NAME };
    const party: ReplyParty = {
      customer: digitsOf(input.to),
      ...sender,
      name: input.name ?? DEFAULT_NAME,
      ...(input.withoutPhone ? { withoutPhone: true } : {}),
      ...(input.as ? { as: input.as } : {}),
    };
    return { party, format };
  }

  const delivered = (send: RecordedSend, to: string) =>
    send.outcome === 'success' && digitsOf(send.to) === to;

  async function tap(input: TapInput): Promise<TapResult> {
    const { url } = requireCallback();
    const to = digitsOf(input.to);
    const send = sends.findLast((s) => delivered(s, to) && offeredChoices(s).length > 0);
    if (!send?.messageId || !send.whatsappMessageId) {
      const unknown = sends.filter(
        (s) =>
          delivered(s, to) && s.api === 'enterprise' && isTemplateSend(s.params) && !s.template,
      ).length;
      throw new SandboxTapError(
        unknown === 0
          ? 'no successful send to that number offered anything to tap'
          : `no successful send to that number offered anything to tap; ${unknown} template ` +
              "sends matched none of the sandbox's templates (pass them as `templates` to tap " +
              'their buttons)',
      );
    }
    const choices = offeredChoices(send);
    const choice = pickChoice(choices, input.choice);
    if (!choice) {
      const offered = choices.map((c, i) => `${i + 1} ${JSON.stringify(c.title)}`).join(', ');
      throw new SandboxTapError(`no choice ${JSON.stringify(input.choice)}; offered: ${offered}`);
    }
    const { party, format } = replyParty(input, send);
    const quoted = { gsId: send.messageId, wamid: send.whatsappMessageId };
    const record = await deliverReply(buildTapRequest(format, url, party, quoted, choice));
    return { record, format, choice, messageId: send.messageId };
  }

  async function text(input: TextInput): Promise<ReplyResult> {
    const { url } = requireCallback();
    const to = digitsOf(input.to);
    const { party, format } = replyParty(
      input,
      sends.findLast((s) => delivered(s, to)),
    );
    return { record: await deliverReply(buildTextRequest(format, url, party, input.text)), format };
  }

  // No Fastify logger: Gateway requests carry the password in the query string or body, and
  // self-serve requests the API key in a header; a request log would print them.
  const app = fastify({ logger: false });

  app.addContentTypeParser(
    'application/x-www-form-urlencoded',
    { parseAs: 'string' },
    (_request, body, done) => {
      done(null, Object.fromEntries(new URLSearchParams(String(body))));
    },
  );

  /**
   * Applies the next queued failure or, with none queued, the fault policy. `answered` when it
   * answered; otherwise what to do to the answer if the send is accepted: `null` for nothing
   * (no failure, a delay that ran out, no fault drawn), or the `timeout` or `drop` fault drawn.
   * Not the reply: a reply is a thenable, and an async function would wait for it instead of
   * returning it.
   */
  async function applyFailure(
    record: RecordedSend,
    reply: FastifyReply,
  ): Promise<'answered' | AcceptFault | null> {
    const account = record.api === 'self-serve' ? record.params['src.name'] : record.params.userid;
    const index = failures.findIndex((f) => f.account === undefined || f.account === account);
    const spec = index === -1 ? undefined : failures.splice(index, 1)[0];
    if (spec === undefined) {
      return applyPolicy(record, reply);
    }
    if (spec.kind === 'error') {
      const details = spec.details ?? ERROR_DETAILS[spec.id] ?? 'Error';
      if (record.api === 'self-serve') {
        settle(record, { outcome: 'error', errorId: spec.id, details, httpStatus: 400 });
        // Gupshup's code beside the message, as its reports carry it (src/gupshup/self-serve.ts).
        void reply.code(400).send({ status: 'error', message: details, code: Number(spec.id) });
      } else {
        settle(record, { outcome: 'error', errorId: spec.id, details });
        void reply.send(errorEnvelope(spec.id, details));
      }
      return 'answered';
    }
    if (spec.kind === 'http') {
      settle(record, { outcome: 'http_error', httpStatus: spec.status });
      void reply.code(spec.status).type('text/plain').send(`sandbox: injected HTTP ${spec.status}`);
      return 'answered';
    }
    if (spec.kind === 'delay') {
      try {
        await delay(spec.ms, undefined, { signal: closing.signal });
      } catch {
        settle(record, { outcome: 'dropped' });
        void reply.code(503).type('text/plain').send('sandbox: closing');
        return 'answered';
      }
      // Like Gupshup, carry on even if the caller gave up meanwhile: the message still "goes out".
    }
    return null;
  }

  function applyPolicy(record: RecordedSend, reply: FastifyReply): 'answered' | AcceptFault | null {
    const draw = faults?.next() ?? null;
    if (draw === null) {
      return null;
    }
    if (draw.kind === 'timeout' || draw.kind === 'drop') {
      return draw.kind;
    }
    const status = draw.status ?? (draw.kind === 'http429' ? 429 : 503);
    settle(record, { outcome: 'http_error', httpStatus: status, fault: draw.kind });
    void reply
      .code(status)
      .type('text/plain')
      .send(`sandbox: injected ${draw.kind} (HTTP ${status})`);
    return 'answered';
  }

  /**
   * Accepts the send and answers it with `answer(messageId)`, then schedules its reports; with
   * a fault, the reports are scheduled at once and the answer is held (`timeout`) or never
   * given (`drop`).
   */
  async function answerAccepted(
    record: RecordedSend,
    reply: FastifyReply,
    fault: AcceptFault | null,
    answer: (messageId: string) => void,
  ): Promise<FastifyReply> {
    const messageId = accept(record, fault);
    if (fault === null) {
      answer(messageId);
      // Scheduled once the answer is on its way: like Gupshup, a report never precedes its id.
      scheduleReports(record);
      return reply;
    }
    // The message went out; only its answer is lost, so its reports come as usual.
    scheduleReports(record);
    if (fault === 'timeout' && (await holdAnswer(reply, faults?.timeoutMs ?? 0))) {
      answer(messageId);
      return reply;
    }
    // Hijacked first, so Fastify neither answers nor complains about the missing answer.
    reply.hijack();
    reply.raw.destroy();
    return reply;
  }

  /**
   * Waits `ms`, or less if the client hangs up, the sandbox is reset or it closes. True when
   * the client is still there to be answered.
   */
  async function holdAnswer(reply: FastifyReply, ms: number): Promise<boolean> {
    const hungUp = new AbortController();
    const onClose = () => hungUp.abort();
    reply.raw.once('close', onClose);
    try {
      await delay(ms, undefined, {
        signal: AbortSignal.any([hungUp.signal, generation.signal, closing.signal]),
      });
    } catch {
      // Ended early; whether anyone is left to answer is decided below.
    } finally {
      reply.raw.off('close', onClose);
    }
    const socket = reply.raw.socket;
    return !hungUp.signal.aborted && socket !== null && !socket.destroyed;
  }

  /** Records the send as a success with the next id (and the fault played on its answer). */
  function accept(record: RecordedSend, fault: AcceptFault | null): string {
    const messageId =
      nextIds.shift() ??
      (record.api === 'self-serve' ? randomUUID() : generateMessageId(issuedIds));
    issuedIds.add(messageId);
    settle(record, {
      outcome: 'success',
      messageId,
      whatsappMessageId: generateWamid(),
      ...(fault === null ? {} : { fault }),
    });
    return messageId;
  }

  async function handleSendMessage(
    method: string,
    params: Record<string, string>,
    reply: FastifyReply,
  ): Promise<FastifyReply> {
    const record: RecordedSend = {
      at: new Date(),
      api: 'enterprise',
      method,
      params,
      to: params.send_to ?? '',
      outcome: 'pending',
    };
    sends.push(record);
    const fault = await applyFailure(record, reply);
    if (fault === 'answered') {
      return reply;
    }

    const missing = SEND_REQUIRED_PARAMS.filter((name) => !params[name]);
    if (missing.length > 0) {
      return refuse(record, reply, '101');
    }
    if (!/^\d{10,15}$/.test(params.send_to ?? '')) {
      return refuse(record, reply, '105');
    }
    if (params.interactive_type !== undefined || params.action !== undefined) {
      if (!interactive.supported) {
        const { errorId, details } = { ...DEFAULT_UNSUPPORTED, ...interactive };
        return refuse(record, reply, errorId, details);
      }
      const parsed = parseEnterpriseInteractive(params);
      if (!parsed.ok) {
        return refuse(record, reply, INVALID_INTERACTIVE_ID, parsed.reason);
      }
      record.interactive = parsed.value;
    } else if (isTemplateSend(params)) {
      const template = matchEnterpriseTemplate([...templates, ...PLATFORM_TEMPLATES], params);
      if (template) {
        record.template = template;
      }
    }
    return answerAccepted(record, reply, fault, (messageId) => {
      reply.send({
        response: { id: messageId, phone: params.send_to, details: '', status: 'success' },
      });
    });
  }

  async function handleSelfServe(
    path: string,
    request: FastifyRequest,
    reply: FastifyReply,
  ): Promise<FastifyReply> {
    const fields = isForm(request) && isStringRecord(request.body) ? request.body : {};
    const header = request.headers.apikey;
    const apiKey = Array.isArray(header) ? header[0] : header;
    const record: RecordedSend = {
      at: new Date(),
      api: 'self-serve',
      method: 'POST',
      path,
      params: fields,
      ...(apiKey === undefined ? {} : { apiKey }),
      to: fields.destination ?? '',
      outcome: 'pending',
    };
    sends.push(record);
    const fault = await applyFailure(record, reply);
    if (fault === 'answered') {
      return reply;
    }
    if (!apiKey || (options.apiKeys && !options.apiKeys.includes(apiKey))) {
      const message = 'Authentication Failed';
      settle(record, { outcome: 'error', details: message, httpStatus: 401 });
      return reply.code(401).send({ status: 'error', message });
    }
    const parsed =
      path === SESSION_PATH ? readSessionSend(fields) : readTemplateSend(fields, templates);
    if (!parsed.ok) {
      settle(record, { outcome: 'error', details: parsed.reason, httpStatus: 400 });
      return reply.code(400).send({ status: 'error', message: parsed.reason });
    }
    const { to: _to, app: _app, ...understood } = parsed.value;
    Object.assign(record, understood);
    return answerAccepted(record, reply, fault, (messageId) => {
      reply.code(202).send({ status: 'submitted', messageId });
    });
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

  app.post(SESSION_PATH, (request, reply) => handleSelfServe(SESSION_PATH, request, reply));
  app.post(TEMPLATE_PATH, (request, reply) => handleSelfServe(TEMPLATE_PATH, request, reply));

  app.get('/sm/api/v1/template/list/:app', (request, reply) => {
    // The real endpoint refuses a request without an API key; keep clients honest.
    if (!request.headers.apikey) {
      return reply.code(401).send({ status: 'error', message: 'Authentication Failed' });
    }
    return reply.send({ status: 'success', templates });
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

  const control: SandboxControl = {
    sends,
    failNext: (...specs) => failures.push(...specs),
    callbacks,
    setCallback: (next) => {
      callback = next ? parseCallback(next) : null;
    },
    nextDlr: (...specs) => dlrSpecs.push(...specs.map(parseDlrSpec)),
    nextMessageIds: (...ids) => {
      if (ids.some((id) => id === '')) {
        throw new SandboxCallbackError('message ids must not be empty');
      }
      return nextIds.push(...ids);
    },
    setInteractive: (setting) => {
      interactive = parseWith(InteractiveSettingSchema, setting, 'Invalid interactive setting');
    },
    setFaults: (policy) => {
      faults = policy
        ? createFaultPicker(parseWith(FaultPolicySchema, policy, 'Invalid fault policy'))
        : null;
    },
    simulateReply,
    tap,
    text,
    reset,
  };
  registerControlRoutes(app, control);

  const host = opts.host ?? '127.0.0.1';
  await app.listen({ port: opts.port ?? 0, host });
  const { port } = app.server.address() as AddressInfo;
  const origin = `http://${reachableHost(host)}:${port}`;

  return {
    ...control,
    url: `${origin}${GATEWAY_PATH}`,
    origin,
    close: async () => {
      closing.abort();
      generation.abort();
      await Promise.allSettled(deliveries);
      await app.close();
      await poster.close();
    },
  };
}

function parseWith<S extends v.GenericSchema>(
  schema: S,
  input: unknown,
  what: string,
): v.InferOutput<S> {
  const parsed = v.safeParse(schema, input);
  if (!parsed.success) {
    throw new SandboxOptionsError(`${what}: ${describeIssues(parsed.issues)}`);
  }
  return parsed.output;
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

/** An enterprise template (HSM) send, as opposed to a session message. */
function isTemplateSend(params: Record<string, string>): boolean {
  return params.msg_type?.toUpperCase() === 'HSM' || params.isTemplate === 'true';
}

function digitsOf(number: string): string {
  return number.replace(/\D/g, '');
}

function isForm(request: FastifyRequest): boolean {
  return (request.headers['content-type'] ?? '').startsWith('application/x-www-form-urlencoded');
}

/** Query and form fields merged; only a form body counts (a JSON body is not Gateway protocol). */
function readGatewayParams(request: FastifyRequest): Record<string, string> {
  const params: Record<string, string> = {};
  for (const [key, value] of new URL(request.url, 'http://sandbox').searchParams) {
    params[key] = value;
  }
  if (isForm(request) && isStringRecord(request.body)) {
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

function refuse(
  record: RecordedSend,
  reply: FastifyReply,
  id: string,
  details = ERROR_DETAILS[id] ?? 'Error',
): FastifyReply {
  settle(record, { outcome: 'error', errorId: id, details });
  return reply.send(errorEnvelope(id, details));
}

/** Completes a record in place: tests may hold it from the moment the request arrived. */
function settle(record: RecordedSend, answer: Partial<RecordedSend>): void {
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
