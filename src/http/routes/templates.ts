/**
 * Template API (bearer API_TOKEN): a client's own templates are checked against Gupshup before
 * they can be used.
 *
 * - `POST /v1/accounts/:accountId/whatsapp-templates/verify`: fetches the sender's template list
 *   (src/gupshup/templates.ts) and verifies the template and the client's placeholder mapping
 *   (src/templates/verify.ts). Saves nothing.
 * - `PUT /v1/accounts/:accountId/whatsapp-templates/:reason`: the same verification, then, in one
 *   transaction, the template (body, buttons, status, category, connection), its mapping
 *   (`whatsappTemplateVariables`) and the account's choice of it for the reason
 *   (`poe_channel_notifications.whatsappTemplateId`). Nothing is saved on rejection. Every
 *   replica's settings cache drops the account before the answer.
 * - `GET /v1/whatsapp-template-variables`: the eleven variables a mapping may use.
 *
 * Gupshup is called inside the request because the answer is the point of the request; the call
 * is bounded by GUPSHUP_TIMEOUT_MS, and an unreachable Gupshup is a 502 with a reason.
 */
import type { FastifyInstance } from 'fastify';
import * as v from 'valibot';

import type { Config } from '../../config.ts';
import type { CredentialCipher } from '../../credentials.ts';
import type { Db } from '../../db/client.ts';
import { DEFAULT_CONNECTION_ID, getAccountSettings } from '../../db/settings.ts';
import { saveVerifiedTemplate } from '../../db/templates.ts';
import { HttpError } from '../../errors.ts';
import { FDR_REASON_LABELS, FDR_REASONS, type FdrReason } from '../../fdr/reasons.ts';
import { TEMPLATE_VARIABLES, type TemplateVariable } from '../../fdr/variables.ts';
import type {
  GupshupTemplate,
  TemplateListClient,
  TemplateListSource,
} from '../../gupshup/templates.ts';
import { resolveSender, type Sender } from '../../senders.ts';
import type { SettingsCache } from '../../settings-cache.ts';
import { verifyTemplate } from '../../templates/verify.ts';
import { requireApiAuth, type ApiAuth } from '../auth.ts';
import { documented, SECURITY } from '../openapi.ts';
import { AccountId, AccountParams, parseAccountId, parseBody } from '../validation.ts';

const reasonSchema = v.picklist(FDR_REASONS, `reason must be one of ${FDR_REASONS.join(', ')}`);

const idSchema = (field: string) =>
  v.pipe(
    v.union([v.string(), v.number()], `${field} must be a string`),
    v.transform((id) => String(id).trim()),
    v.nonEmpty(`${field} must not be empty`),
    v.maxLength(128, `${field} must be at most 128 characters`),
  );

const fields = {
  templateId: idSchema('templateId'),
  /** The sender whose list holds the template; the account's current sender when absent. */
  connectionId: v.optional(idSchema('connectionId')),
  /** Placeholder number → variable name; verify.ts judges the content. */
  variables: v.record(
    v.string(),
    v.pipe(v.string('each variable must be a variable name'), v.trim()),
    'variables must be an object of placeholder number to variable name',
  ),
};

export const VerifyBody = v.strictObject({ reason: reasonSchema, ...fields });
export const SaveBody = v.strictObject({ reason: v.optional(reasonSchema), ...fields });
export const SaveParams = v.object({ accountId: AccountId, reason: reasonSchema });

const VERIFICATION_RESPONSES = {
  400: 'The body is invalid',
  401: 'No valid bearer token',
  422: 'The template did not pass: `code` and `message` say why (not found, not APPROVED, wrong category, placeholders that do not match the mapping, sender not usable, Gupshup refused the list)',
  502: "gupshup_unavailable: the sender's template list could not be read",
} as const;

type Fields = Omit<v.InferOutput<typeof VerifyBody>, 'reason'>;

/** The answer to a verification that did not pass: 422 (client's to fix) or 502 (Gupshup). */
interface Refusal {
  status: 422 | 502;
  body: { ok: false; code: string; message: string };
}

type Verification =
  | {
      ok: true;
      connectionId: string;
      sender: Sender;
      template: GupshupTemplate;
      mapping: Map<number, TemplateVariable>;
    }
  | ({ ok: false } & Refusal);

function refuse(status: 422 | 502, code: string, message: string): Verification {
  return { ok: false, status, body: { ok: false, code, message } };
}

function templateSourceFor(sender: Sender): TemplateListSource {
  // The self-serve list names the buttons and takes the ids the seed shows; the enterprise list
  // is what an app without an API key (including the platform default) can read.
  if (sender.apiKey) {
    return { kind: 'self-serve', appName: sender.appName, apiKey: sender.apiKey };
  }
  // A self-serve account always has its key; only an Enterprise one can be without.
  const { hsm } =
    sender.account.api === 'enterprise' ? sender.account : { hsm: { userid: '', password: '' } };
  return {
    kind: 'enterprise',
    appName: sender.appName,
    userid: hsm.userid,
    password: hsm.password,
  };
}

function present(verified: Extract<Verification, { ok: true }>) {
  return {
    id: verified.template.id,
    name: verified.template.name,
    body: verified.template.body,
    buttons: verified.template.buttons,
    status: verified.template.status,
    category: verified.template.category,
    connectionId: verified.connectionId,
    appName: verified.sender.appName,
    variables: Object.fromEntries([...verified.mapping].map(([n, name]) => [String(n), name])),
  };
}

export function templateRoutes(deps: {
  config: Config;
  db: Db;
  cipher: CredentialCipher | null;
  lists: TemplateListClient;
  settings: SettingsCache;
  auth: ApiAuth;
}) {
  const { config, db, cipher, lists } = deps;

  async function verify(accountId: number, body: Fields, current: string): Promise<Verification> {
    const connectionId = body.connectionId ?? current;
    if (connectionId !== DEFAULT_CONNECTION_ID && !cipher) {
      return refuse(
        422,
        'sender_not_usable',
        'client connections cannot be used: CREDENTIALS_KEY is not configured on this service',
      );
    }
    const lookup = await resolveSender(
      config,
      db,
      accountId,
      connectionId,
      cipher?.decrypt ?? null,
    );
    if (!lookup.ok) {
      return refuse(422, lookup.code, lookup.reason);
    }
    const { sender } = lookup;
    const list = await lists.listTemplates(templateSourceFor(sender));
    if (!list.ok) {
      return list.kind === 'refused'
        ? refuse(
            422,
            'template_list_refused',
            `Gupshup refused the template list of app ${sender.appName}: ${list.reason}`,
          )
        : refuse(
            502,
            'gupshup_unavailable',
            `the template list of app ${sender.appName} could not be read: ${list.reason}`,
          );
    }
    const result = verifyTemplate({
      templateId: body.templateId,
      appName: sender.appName,
      templates: list.templates,
      listComplete: list.complete,
      mapping: body.variables,
      allowedCategories: config.TEMPLATE_ALLOWED_CATEGORIES,
    });
    if (!result.ok) {
      return refuse(422, result.code, result.message);
    }
    return {
      ok: true,
      connectionId,
      sender,
      template: result.template,
      mapping: result.mapping,
    };
  }

  return async (app: FastifyInstance): Promise<void> => {
    app.addHook('onRequest', requireApiAuth(deps.auth));

    app.get(
      '/v1/whatsapp-template-variables',
      documented({
        tags: ['templates'],
        summary: 'The eleven variables a placeholder mapping may use',
        security: SECURITY.api,
        responses: {
          200: '`variables`: number, name and description of each',
          401: 'No valid bearer token',
        },
      }),
      async () => ({
        variables: TEMPLATE_VARIABLES.map((variable, i) => ({
          number: i + 1,
          name: variable.name,
          description: variable.description,
        })),
      }),
    );

    app.post<{ Params: { accountId: string } }>(
      '/v1/accounts/:accountId/whatsapp-templates/verify',
      documented({
        tags: ['templates'],
        summary: "Verify a template and placeholder mapping against the sender's Gupshup list",
        description:
          "`connectionId` defaults to the account's current sender; `variables` maps placeholder numbers to variable names. Saves nothing.",
        security: SECURITY.api,
        params: AccountParams,
        body: VerifyBody,
        responses: { 200: '`{ ok: true, template }`', ...VERIFICATION_RESPONSES },
      }),
      async (request, reply) => {
        const accountId = parseAccountId(request.params.accountId);
        const body = parseBody(VerifyBody, request.body);
        const { senderConnectionId } = await getAccountSettings(db, accountId);
        const outcome = await verify(accountId, body, senderConnectionId);
        request.log.info(
          {
            accountId,
            reason: body.reason,
            ok: outcome.ok,
            code: outcome.ok ? null : outcome.body.code,
          },
          'template verified',
        );
        if (!outcome.ok) {
          return reply.code(outcome.status).send(outcome.body);
        }
        return { ok: true, template: present(outcome) };
      },
    );

    app.put<{ Params: { accountId: string; reason: string } }>(
      '/v1/accounts/:accountId/whatsapp-templates/:reason',
      documented({
        tags: ['templates'],
        summary: 'Verify a template and use it for a reason',
        description:
          'The same verification, then the template, its mapping and the choice for the reason are saved together. Nothing is saved on rejection.',
        security: SECURITY.api,
        params: SaveParams,
        body: SaveBody,
        responses: {
          200: '`{ ok: true, saved: true, template }`',
          ...VERIFICATION_RESPONSES,
          409: '`template_in_use`: other accounts use this template with another sender or mapping; nothing saved',
        },
      }),
      async (request, reply) => {
        const accountId = parseAccountId(request.params.accountId);
        const reason = parseReason(request.params.reason);
        const body = parseBody(SaveBody, request.body);
        if (body.reason !== undefined && body.reason !== reason) {
          throw new HttpError(
            400,
            'ERR_VALIDATION',
            `reason: the body says ${body.reason} but the path says ${reason}`,
          );
        }
        const settings = await getAccountSettings(db, accountId);
        const outcome = await verify(accountId, body, settings.senderConnectionId);
        if (!outcome.ok) {
          request.log.info({ accountId, reason, code: outcome.body.code }, 'template refused');
          return reply.code(outcome.status).send(outcome.body);
        }
        // A reason that is on must keep a template its sender can send.
        if (
          settings.reasons[reason].enabled &&
          outcome.connectionId !== settings.senderConnectionId
        ) {
          return reply.code(422).send({
            ok: false,
            code: 'sender_mismatch',
            message: `${FDR_REASON_LABELS[reason]} is switched on and sends through connection ${settings.senderConnectionId}; a template of connection ${outcome.connectionId} cannot be used for it. Switch the reason off, or change the sender first`,
          });
        }
        const saved = await saveVerifiedTemplate(db, {
          accountId,
          reason,
          connectionId: outcome.connectionId,
          template: outcome.template,
          mapping: outcome.mapping,
        });
        if (saved !== 'saved') {
          request.log.info(
            { accountId, reason, templateId: outcome.template.id, code: saved.code },
            'template refused',
          );
          return reply.code(saved.code === 'platform_default' ? 422 : 409).send({
            ok: false,
            code: saved.code,
            message:
              saved.code === 'platform_default'
                ? `template ${outcome.template.id} is a platform default and cannot be replaced`
                : // Nothing about the other accounts (who, how many, their sender or mapping).
                  `template ${outcome.template.id} is in use elsewhere with another sender or variable mapping, and saving yours would change those messages; use a template of your own`,
          });
        }
        await deps.settings.invalidate(accountId);
        request.log.info(
          {
            accountId,
            reason,
            templateId: outcome.template.id,
            connectionId: outcome.connectionId,
          },
          'template saved',
        );
        return { ok: true, saved: true, template: present(outcome) };
      },
    );
  };
}

function parseReason(raw: string): FdrReason {
  const parsed = v.safeParse(reasonSchema, raw);
  if (!parsed.success) {
    throw new HttpError(400, 'ERR_VALIDATION', `reason must be one of ${FDR_REASONS.join(', ')}`);
  }
  return parsed.output;
}
