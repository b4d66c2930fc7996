/**
 * The settings API (bearer API_TOKEN): read and change a client's WhatsApp settings. A change is
 * announced to every replica's settings cache before the response, so the next event uses it.
 *
 * WhatsApp is off for every reason until switched on (seed step 6). A reason can only be on with
 * a usable sender (the default app with its credentials configured, or one of the client's own
 * connections whose credentials this service can open) and a template that sender can send: the
 * platform default, only through the default app, or a template verified on that very sender
 * (`PUT /v1/accounts/:accountId/whatsapp-templates/:reason`). A change that would leave a reason
 * it switches on, re-templates or re-routes without one is refused with 422 and every problem;
 * switching off, and changing only store details, is never refused.
 */
import type { FastifyInstance } from 'fastify';
import * as v from 'valibot';

import type { Config } from '../../config.ts';
import type { CredentialCipher } from '../../credentials.ts';
import type { Db } from '../../db/client.ts';
import { accountHasConnection } from '../../db/connections.ts';
import { findTemplateSummaries, templatesUsableBy } from '../../db/templates.ts';
import {
  DEFAULT_CONNECTION_ID,
  getAccountSettings,
  saveAccountSettings,
  type AccountSettings,
} from '../../db/settings.ts';
import { HttpError } from '../../errors.ts';
import { FDR_REASON_LABELS, FDR_REASONS, type FdrReason } from '../../fdr/reasons.ts';
import { effectivePolicy, PolicySchema, type ConversationPolicy } from '../../policy.ts';
import { resolveSender } from '../../senders.ts';
import type { SettingsCache } from '../../settings-cache.ts';
import { requireApiAuth, type ApiAuth } from '../auth.ts';
import { documented, SECURITY } from '../openapi.ts';
import { AccountParams, parseAccountId, parseBody } from '../validation.ts';

const reasonRecord = <T extends v.GenericSchema>(schema: T) =>
  v.strictObject(
    Object.fromEntries(FDR_REASONS.map((r) => [r, v.optional(schema)])) as Record<
      FdrReason,
      v.OptionalSchema<T, undefined>
    >,
  );

/** The conversation policy's keys, each of which can be returned to the platform default. */
export const POLICY_KEYS = Object.keys(PolicySchema.entries) as [
  keyof ConversationPolicy,
  ...(keyof ConversationPolicy)[],
];

const nullableText = (max: number) =>
  v.optional(
    v.nullable(v.pipe(v.string(), v.trim(), v.maxLength(max, `at most ${max} characters`))),
  );

export const SettingsBody = v.strictObject({
  enabled: v.optional(v.boolean()),
  reasons: v.optional(reasonRecord(v.boolean())),
  // One spelling per connection: `default`, an engine app `ie-…`, or a stored connection's id
  // in plain decimal ("010" is 10; "1e1" is refused), so comparisons with ids hold.
  senderConnectionId: v.optional(
    v.nullable(
      v.pipe(
        v.union([v.string(), v.pipe(v.number(), v.integer())]),
        v.transform((id) => String(id).trim()),
        v.regex(
          /^(default|ie-[A-Za-z0-9_-]{1,60}|\d{1,10})$/,
          'must be default, an ie- engine app or a connection id',
        ),
        v.transform((id) => (/^\d+$/.test(id) ? String(Number(id)) : id)),
      ),
    ),
  ),
  storeName: nullableText(255),
  supportContactNumber: nullableText(32),
  supportEmailAddress: v.optional(
    v.nullable(v.pipe(v.string(), v.trim(), v.email('must be an email address'))),
  ),
  templates: v.optional(
    reasonRecord(v.nullable(v.pipe(v.string(), v.trim(), v.nonEmpty(), v.maxLength(128)))),
  ),
  /** The conversation policy (src/policy.ts): keys given replace the stored ones. */
  policy: v.optional(
    v.pipe(
      PolicySchema,
      v.description(
        "The account's conversation policy: quiet hours, the no-reply rule, opt-out and opt-in keywords (matched case-insensitively against the whole reply), reminder templates per reason, the opt-out confirmation template and the apology when a courier did not honour the customer's choice (`apologyOnNotHonoured`). Keys given replace the stored ones; keys left out stay; a key never set follows the platform default (see `policyInEffect` in the answer).",
      ),
    ),
  ),
  /** Policy keys to forget, so the platform default applies again (a key also in `policy` wins). */
  policyDefaults: v.optional(
    v.pipe(
      v.array(v.picklist(POLICY_KEYS, `each must be one of ${POLICY_KEYS.join(', ')}`)),
      v.description(
        'Policy keys to return to the platform default (e.g. ["quietHours"] to follow DEFAULT_QUIET_HOURS again); a key also given in `policy` takes that value instead.',
      ),
    ),
  ),
});

function present(settings: AccountSettings, config: Pick<Config, 'DEFAULT_QUIET_HOURS'>) {
  const reasons = settings.reasons;
  return {
    accountId: settings.accountId,
    enabled: FDR_REASONS.some((r) => reasons[r].enabled),
    senderConnectionId: settings.senderConnectionId,
    storeName: settings.storeName,
    supportContactNumber: settings.supportContactNumber,
    supportEmailAddress: settings.supportEmailAddress,
    reasons: Object.fromEntries(FDR_REASONS.map((r) => [r, reasons[r].enabled])),
    templates: Object.fromEntries(FDR_REASONS.map((r) => [r, reasons[r].templateId])),
    policy: settings.policy,
    policyInEffect: effectivePolicy(settings.policy, { quietHours: config.DEFAULT_QUIET_HOURS }),
  };
}

async function checkReferences(
  db: Db,
  accountId: number,
  body: v.InferOutput<typeof SettingsBody>,
) {
  const templateIds = [
    ...Object.values(body.templates ?? {}),
    ...Object.values(body.policy?.reminderTemplates ?? {}),
    ...(body.policy?.optOutTemplateId ? [body.policy.optOutTemplateId] : []),
  ].filter((id): id is string => typeof id === 'string');
  if (templateIds.length > 0) {
    // A template another account verified is as unknown here as one that does not exist: the
    // answer must not tell them apart.
    const usable = await templatesUsableBy(db, accountId, templateIds);
    const unknown = templateIds.filter((id) => !usable.has(id));
    if (unknown.length > 0) {
      throw new HttpError(
        400,
        'ERR_UNKNOWN_TEMPLATE',
        `unknown template id(s): ${unknown.join(', ')}`,
      );
    }
  }
  const connection = body.senderConnectionId;
  if (connection && connection !== DEFAULT_CONNECTION_ID) {
    const id = Number(connection);
    const known = Number.isInteger(id) && (await accountHasConnection(db, accountId, id));
    if (!known) {
      throw new HttpError(
        400,
        'ERR_UNKNOWN_SENDER',
        connection.startsWith('ie-')
          ? `sender connection ${connection} is an app the integration engine lists, but its credentials are not stored here: store them with POST /v1/accounts/${accountId}/whatsapp-connections and choose the id that returns`
          : `sender connection ${connection} does not exist for account ${accountId}`,
      );
    }
  }
}

type SettingsChange = v.InferOutput<typeof SettingsBody>;

/**
 * What would be wrong with the account after `body` is applied, for every reason that is on
 * afterwards and that this change switches on, re-templates or moves to another sender. Reasons
 * the change leaves alone are not judged, so an unrelated edit is never blocked by them.
 */
async function findProblems(
  deps: { config: Config; db: Db; cipher: CredentialCipher | null },
  current: AccountSettings,
  body: SettingsChange,
): Promise<string[]> {
  const sender =
    body.senderConnectionId === undefined
      ? current.senderConnectionId
      : (body.senderConnectionId ?? DEFAULT_CONNECTION_ID);
  const senderChanged = sender !== current.senderConnectionId;
  // Same precedence as saveAccountSettings: a per-reason flag wins over `enabled`.
  const judged = FDR_REASONS.filter((r) => {
    const before = current.reasons[r];
    const on = body.reasons?.[r] ?? body.enabled ?? before.enabled;
    const templateChanged =
      body.templates?.[r] !== undefined && body.templates[r] !== before.templateId;
    return on && (!before.enabled || templateChanged || senderChanged);
  });
  if (judged.length === 0) {
    return [];
  }

  const problems: string[] = [];
  const lookup = await resolveSender(
    deps.config,
    deps.db,
    current.accountId,
    sender,
    deps.cipher?.decrypt ?? null,
  );
  if (!lookup.ok) {
    problems.push(
      sender !== DEFAULT_CONNECTION_ID && !deps.cipher
        ? `sender ${sender}: client connections cannot be used while CREDENTIALS_KEY is not configured`
        : `sender ${sender}: ${lookup.reason}`,
    );
  }
  const chosen = new Map(
    judged.map((r) => {
      const given = body.templates?.[r];
      return [r, given === undefined ? current.reasons[r].templateId : given] as const;
    }),
  );
  const ids = [...new Set([...chosen.values()].filter((id): id is string => id !== null))];
  const rows = ids.length ? await findTemplateSummaries(deps.db, ids) : [];
  for (const [reason, templateId] of chosen) {
    const label = FDR_REASON_LABELS[reason];
    const row = templateId === null ? null : rows.find((t) => t.id === templateId);
    if (templateId !== null && !row) {
      problems.push(`${label}: template ${templateId} is not a verified template`);
      continue;
    }
    if (!row || row.defaultForReason) {
      if (sender !== DEFAULT_CONNECTION_ID) {
        problems.push(
          `${label}: the platform default template can only be sent through the default app, not through connection ${sender}; verify a template of that connection for this reason`,
        );
      }
      continue;
    }
    // Clients' templates record the connection they were verified on; null only for defaults.
    const verifiedOn = row.connectionId ?? DEFAULT_CONNECTION_ID;
    if (verifiedOn !== sender) {
      problems.push(
        `${label}: template ${row.id} was verified on connection ${verifiedOn}, not on the sender ${sender}`,
      );
    } else if (row.status !== 'APPROVED') {
      problems.push(`${label}: template ${row.id} is ${row.status}`);
    } else if (
      !(deps.config.TEMPLATE_ALLOWED_CATEGORIES as readonly string[]).includes(row.category)
    ) {
      problems.push(`${label}: template ${row.id} is a ${row.category} template`);
    }
  }
  return problems;
}

export function settingsRoutes(deps: {
  config: Config;
  db: Db;
  settings: SettingsCache;
  cipher: CredentialCipher | null;
  auth: ApiAuth;
}) {
  return async (app: FastifyInstance): Promise<void> => {
    app.addHook('onRequest', requireApiAuth(deps.auth));

    app.get<{ Params: { accountId: string } }>(
      '/v1/accounts/:accountId/whatsapp-settings',
      documented({
        tags: ['settings'],
        summary: "Read a client's WhatsApp settings",
        security: SECURITY.api,
        params: AccountParams,
        responses: {
          200: 'The settings: on/off per reason, sender, template per reason, store details, the conversation policy as stored (`policy`) and in effect with the platform defaults (`policyInEffect`: quietHours, noReply, optOutKeywords, optInKeywords, reminderTemplates, optOutTemplateId)',
          400: 'accountId is not a positive integer',
          401: 'No valid bearer token',
        },
      }),
      async (request) => {
        const accountId = parseAccountId(request.params.accountId);
        return present(await getAccountSettings(deps.db, accountId), deps.config);
      },
    );

    app.put<{ Params: { accountId: string } }>(
      '/v1/accounts/:accountId/whatsapp-settings',
      documented({
        tags: ['settings'],
        summary: "Change a client's WhatsApp settings",
        description:
          'Fields left out are left as they are. A per-reason switch wins over `enabled`. `policy` keys given replace the stored ones (`quietHours: null` switches quiet hours off); `policyDefaults` names keys to return to the platform default. Every replica uses the change from the next event on.',
        security: SECURITY.api,
        params: AccountParams,
        body: SettingsBody,
        responses: {
          200: 'The settings after the change, with `policy` and `policyInEffect` as GET answers them',
          400: 'The body is invalid (ERR_VALIDATION) or names an unknown template (ERR_UNKNOWN_TEMPLATE) or sender (ERR_UNKNOWN_SENDER)',
          401: 'No valid bearer token',
          422: 'ERR_SETTINGS_INCOMPLETE: a reason would be on without a usable sender and template; `problems` lists each. Nothing is saved',
        },
      }),
      async (request, reply) => {
        const accountId = parseAccountId(request.params.accountId);
        const body = parseBody(SettingsBody, request.body);
        await checkReferences(deps.db, accountId, body);
        const current = await getAccountSettings(deps.db, accountId);
        const problems = await findProblems(deps, current, body);
        if (problems.length > 0) {
          request.log.info({ accountId, problems: problems.length }, 'settings change refused');
          return reply.code(422).send({
            code: 'ERR_SETTINGS_INCOMPLETE',
            message: problems.join('; '),
            problems,
          });
        }
        await saveAccountSettings(deps.db, accountId, body);
        await deps.settings.invalidate(accountId);
        request.log.info({ accountId }, 'settings changed');
        return present(await getAccountSettings(deps.db, accountId), deps.config);
      },
    );
  };
}
