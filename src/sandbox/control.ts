/**
 * The sandbox's control endpoints (`/_sandbox/*`): the handle of src/sandbox/types.ts over HTTP,
 * for running a conversation by hand (`npm run sandbox`, curl) or from another process.
 *
 * - `GET /_sandbox/sends` (passwords and API keys redacted), `GET /_sandbox/callbacks`
 * - `POST /_sandbox/fail`, `/_sandbox/dlr`, `/_sandbox/message-ids`: queue failures, report
 *   variants and ids for the next sends
 * - `POST|DELETE /_sandbox/callback`, `POST /_sandbox/interactive`: settings
 * - `POST|DELETE /_sandbox/faults`: sets or clears the fault policy for every send
 *   (src/sandbox/faults.ts); answers the policy in force, with the seed it picked if none given
 * - `POST /_sandbox/reply` (a raw enterprise body), `/_sandbox/tap`, `/_sandbox/text`: replies
 * - `POST /_sandbox/reset`
 *
 * Bodies are JSON, checked with valibot (400 `{code, message}` otherwise); a reply that cannot
 * be played (no callback, nothing to tap) answers 409. Registered by src/sandbox/server.ts.
 */
import type { FastifyInstance, FastifyReply } from 'fastify';
import * as v from 'valibot';

import {
  CALLBACK_FORMATS,
  CallbackOptionsSchema,
  DlrSpecSchema,
  SandboxCallbackError,
} from './callbacks.ts';
import { SandboxTapError } from './errors.ts';
import { DEFAULT_FAULT_TIMEOUT_MS, FaultPolicySchema, randomSeed } from './faults.ts';
import type { RecordedSend, SandboxControl } from './types.ts';

const ForAccount = { account: v.optional(v.pipe(v.string(), v.nonEmpty())) };

export const FailureSpecSchema = v.variant('kind', [
  v.object({
    kind: v.literal('error'),
    id: v.pipe(v.string(), v.regex(/^\d+$/, 'must be a numeric Gupshup error id')),
    details: v.optional(v.string()),
    ...ForAccount,
  }),
  v.object({
    kind: v.literal('http'),
    status: v.pipe(v.number(), v.integer(), v.minValue(200), v.maxValue(599)),
    ...ForAccount,
  }),
  v.object({
    kind: v.literal('delay'),
    ms: v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(600_000)),
    ...ForAccount,
  }),
]);

export const InteractiveSettingSchema = v.object({
  supported: v.boolean(),
  errorId: v.optional(v.pipe(v.string(), v.regex(/^\d+$/, 'must be a numeric Gupshup error id'))),
  details: v.optional(v.pipe(v.string(), v.nonEmpty())),
});

const FailureSpecsSchema = v.union([FailureSpecSchema, v.array(FailureSpecSchema)]);
const DlrSpecsSchema = v.union([DlrSpecSchema, v.array(DlrSpecSchema)]);
const MessageIdsSchema = v.object({
  ids: v.array(v.pipe(v.string(), v.nonEmpty('must not be empty'))),
});
const EncodingSchema = v.picklist(['form', 'json', 'query']);
const ReplyRequestSchema = v.object({
  body: v.record(v.string(), v.string()),
  as: v.optional(EncodingSchema, 'form'),
});
const ReplyOptions = {
  to: v.pipe(v.string(), v.nonEmpty()),
  format: v.optional(v.picklist(CALLBACK_FORMATS)),
  withoutPhone: v.optional(v.boolean()),
  name: v.optional(v.pipe(v.string(), v.nonEmpty())),
  as: v.optional(EncodingSchema),
};
const TapRequestSchema = v.object({
  ...ReplyOptions,
  choice: v.union([
    v.pipe(v.number(), v.integer(), v.minValue(1)),
    v.pipe(v.string(), v.nonEmpty()),
  ]),
});
const TextRequestSchema = v.object({ ...ReplyOptions, text: v.pipe(v.string(), v.nonEmpty()) });

export function describeIssues(issues: readonly v.BaseIssue<unknown>[]): string {
  return issues.map((issue) => `${v.getDotPath(issue) ?? '(root)'}: ${issue.message}`).join('; ');
}

function specError(code: string, issues: readonly v.BaseIssue<unknown>[]) {
  return { code, message: describeIssues(issues) };
}

/** 409 for a reply that cannot be played; anything else is a bug and goes to Fastify. */
function refuseReply(reply: FastifyReply, thrown: unknown): FastifyReply {
  if (thrown instanceof SandboxCallbackError || thrown instanceof SandboxTapError) {
    return reply.code(409).send({ code: thrown.code, message: thrown.message });
  }
  throw thrown;
}

export function registerControlRoutes(app: FastifyInstance, sandbox: SandboxControl): void {
  app.get('/_sandbox/sends', () => sandbox.sends.map(redactSend));

  app.post('/_sandbox/fail', (request, reply) => {
    const parsed = v.safeParse(FailureSpecsSchema, request.body);
    if (!parsed.success) {
      return reply.code(400).send({
        code: 'ERR_SANDBOX_FAILURE_SPEC',
        message: parsed.issues.map((issue) => issue.message).join('; '),
      });
    }
    const specs = Array.isArray(parsed.output) ? parsed.output : [parsed.output];
    return reply.send({ queued: sandbox.failNext(...specs) });
  });

  app.get('/_sandbox/callbacks', () => sandbox.callbacks);

  app.post('/_sandbox/callback', (request, reply) => {
    const parsed = v.safeParse(CallbackOptionsSchema, request.body);
    if (!parsed.success) {
      return reply.code(400).send(specError('ERR_SANDBOX_CALLBACK', parsed.issues));
    }
    sandbox.setCallback(parsed.output);
    return reply.code(204).send();
  });

  app.delete('/_sandbox/callback', (_request, reply) => {
    sandbox.setCallback(null);
    return reply.code(204).send();
  });

  app.post('/_sandbox/interactive', (request, reply) => {
    const parsed = v.safeParse(InteractiveSettingSchema, request.body);
    if (!parsed.success) {
      return reply.code(400).send(specError('ERR_SANDBOX_INTERACTIVE', parsed.issues));
    }
    sandbox.setInteractive(parsed.output);
    return reply.code(204).send();
  });

  app.post('/_sandbox/faults', (request, reply) => {
    const parsed = v.safeParse(FaultPolicySchema, request.body);
    if (!parsed.success) {
      return reply.code(400).send(specError('ERR_SANDBOX_FAULTS', parsed.issues));
    }
    // Picked here rather than left to the sandbox, so the caller can replay the run.
    const policy = {
      ...parsed.output,
      seed: parsed.output.seed ?? randomSeed(),
      timeoutMs: parsed.output.timeoutMs ?? DEFAULT_FAULT_TIMEOUT_MS,
    };
    sandbox.setFaults(policy);
    return reply.send(policy);
  });

  app.delete('/_sandbox/faults', (_request, reply) => {
    sandbox.setFaults(null);
    return reply.code(204).send();
  });

  app.post('/_sandbox/dlr', (request, reply) => {
    const parsed = v.safeParse(DlrSpecsSchema, request.body);
    if (!parsed.success) {
      return reply.code(400).send(specError('ERR_SANDBOX_DLR_SPEC', parsed.issues));
    }
    const specs = Array.isArray(parsed.output) ? parsed.output : [parsed.output];
    return reply.send({ queued: sandbox.nextDlr(...specs) });
  });

  app.post('/_sandbox/message-ids', (request, reply) => {
    const parsed = v.safeParse(MessageIdsSchema, request.body);
    if (!parsed.success) {
      return reply.code(400).send(specError('ERR_SANDBOX_MESSAGE_IDS', parsed.issues));
    }
    return reply.send({ queued: sandbox.nextMessageIds(...parsed.output.ids) });
  });

  app.post('/_sandbox/reply', async (request, reply) => {
    const parsed = v.safeParse(ReplyRequestSchema, request.body);
    if (!parsed.success) {
      return reply.code(400).send(specError('ERR_SANDBOX_REPLY', parsed.issues));
    }
    try {
      const record = await sandbox.simulateReply(parsed.output.body, parsed.output.as);
      return reply.send({ status: record.status, attempts: record.attempt });
    } catch (thrown) {
      return refuseReply(reply, thrown);
    }
  });

  app.post('/_sandbox/tap', async (request, reply) => {
    const parsed = v.safeParse(TapRequestSchema, request.body);
    if (!parsed.success) {
      return reply.code(400).send(specError('ERR_SANDBOX_TAP', parsed.issues));
    }
    try {
      const result = await sandbox.tap(parsed.output);
      return reply.send({
        status: result.record.status,
        attempts: result.record.attempt,
        format: result.format,
        messageId: result.messageId,
        choice: result.choice,
      });
    } catch (thrown) {
      return refuseReply(reply, thrown);
    }
  });

  app.post('/_sandbox/text', async (request, reply) => {
    const parsed = v.safeParse(TextRequestSchema, request.body);
    if (!parsed.success) {
      return reply.code(400).send(specError('ERR_SANDBOX_TEXT', parsed.issues));
    }
    try {
      const result = await sandbox.text(parsed.output);
      return reply.send({
        status: result.record.status,
        attempts: result.record.attempt,
        format: result.format,
      });
    } catch (thrown) {
      return refuseReply(reply, thrown);
    }
  });

  app.post('/_sandbox/reset', (_request, reply) => {
    sandbox.reset();
    return reply.code(204).send();
  });
}

/**
 * The control endpoint may be shown in a browser or pasted into a ticket: hide the password and
 * the API key (a header, or a form field if a client sent it as one).
 */
function redactSend(send: RecordedSend): RecordedSend {
  const hidden = ['password', 'apikey'].filter((name) => send.params[name] !== undefined);
  if (hidden.length === 0 && send.apiKey === undefined) {
    return send;
  }
  const params = { ...send.params };
  for (const name of hidden) {
    params[name] = '[redacted]';
  }
  return {
    ...send,
    params,
    ...(send.apiKey === undefined ? {} : { apiKey: '[redacted]' }),
  };
}
