/**
 * The settings API (bearer API_TOKEN): read and change a client's WhatsApp settings. A change is
 * announced to every replica's settings cache before the response, so the next event uses it.
 */
import { and, eq, inArray } from 'drizzle-orm';
import type { FastifyInstance } from 'fastify';
import * as v from 'valibot';

import type { Db } from '../../db/client.ts';
import { whatsappSenderConnections, whatsappTemplates } from '../../db/schema.ts';
import {
  DEFAULT_CONNECTION_ID,
  getAccountSettings,
  saveAccountSettings,
  type AccountSettings,
} from '../../db/settings.ts';
import { HttpError } from '../../errors.ts';
import { FDR_REASONS, type FdrReason } from '../../fdr/reasons.ts';
import type { SettingsCache } from '../../settings-cache.ts';
import { requireBearer } from '../auth.ts';
import { parseAccountId, parseBody } from '../validation.ts';

const reasonRecord = <T extends v.GenericSchema>(schema: T) =>
  v.strictObject(
    Object.fromEntries(FDR_REASONS.map((r) => [r, v.optional(schema)])) as Record<
      FdrReason,
      v.OptionalSchema<T, undefined>
    >,
  );

const nullableText = (max: number) =>
  v.optional(
    v.nullable(v.pipe(v.string(), v.trim(), v.maxLength(max, `at most ${max} characters`))),
  );

export const SettingsBody = v.strictObject({
  enabled: v.optional(v.boolean()),
  reasons: v.optional(reasonRecord(v.boolean())),
  senderConnectionId: v.optional(
    v.nullable(
      v.pipe(
        v.union([v.string(), v.number()]),
        v.transform((id) => String(id).trim()),
        v.nonEmpty(),
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
});

function present(settings: AccountSettings) {
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
  };
}

async function checkReferences(
  db: Db,
  accountId: number,
  body: v.InferOutput<typeof SettingsBody>,
) {
  const templateIds = Object.values(body.templates ?? {}).filter(
    (id): id is string => typeof id === 'string',
  );
  if (templateIds.length > 0) {
    const known = await db
      .select({ id: whatsappTemplates.id })
      .from(whatsappTemplates)
      .where(inArray(whatsappTemplates.id, templateIds));
    const unknown = templateIds.filter((id) => !known.some((k) => k.id === id));
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
    const rows = Number.isInteger(id)
      ? await db
          .select({ id: whatsappSenderConnections.id })
          .from(whatsappSenderConnections)
          .where(
            and(
              eq(whatsappSenderConnections.id, id),
              eq(whatsappSenderConnections.accountId, accountId),
            ),
          )
      : [];
    if (rows.length === 0) {
      throw new HttpError(
        400,
        'ERR_UNKNOWN_SENDER',
        `sender connection ${connection} does not exist for account ${accountId}`,
      );
    }
  }
}

export function settingsRoutes(deps: {
  db: Db;
  settings: SettingsCache;
  apiToken: string | undefined;
}) {
  return async (app: FastifyInstance): Promise<void> => {
    app.addHook('preHandler', requireBearer(deps.apiToken));

    app.get<{ Params: { accountId: string } }>(
      '/v1/accounts/:accountId/whatsapp-settings',
      async (request) => {
        const accountId = parseAccountId(request.params.accountId);
        return present(await getAccountSettings(deps.db, accountId));
      },
    );

    app.put<{ Params: { accountId: string } }>(
      '/v1/accounts/:accountId/whatsapp-settings',
      async (request) => {
        const accountId = parseAccountId(request.params.accountId);
        const body = parseBody(SettingsBody, request.body);
        await checkReferences(deps.db, accountId, body);
        await saveAccountSettings(deps.db, accountId, body);
        await deps.settings.invalidate(accountId);
        request.log.info({ accountId }, 'settings changed');
        return present(await getAccountSettings(deps.db, accountId));
      },
    );
  };
}
