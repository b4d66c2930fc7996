/** Template bodies and their placeholder → variable mappings. */
import { and, eq, inArray, ne } from 'drizzle-orm';

import type { FdrReason } from '../fdr/reasons.ts';
import { isTemplateVariable, TEMPLATE_VARIABLES, type TemplateVariable } from '../fdr/variables.ts';
import type { Db } from './client.ts';
import {
  poeChannelNotifications,
  whatsappSenderConnections,
  whatsappTemplates,
  whatsappTemplateVariables,
} from './schema.ts';

export interface StoredTemplate {
  id: string;
  name: string;
  body: string;
  buttons: string[];
  connectionId: string | null;
  status: string;
  mapping: Map<number, TemplateVariable>;
  /** Gupshup or Meta refused a send of it as paused or not matching (null: never, or verified since). */
  refused: { code: string; reason: string | null; at: Date } | null;
}

async function withMapping(
  db: Db,
  row: typeof whatsappTemplates.$inferSelect | undefined,
): Promise<StoredTemplate | null> {
  if (!row) {
    return null;
  }
  const vars = await db
    .select()
    .from(whatsappTemplateVariables)
    .where(eq(whatsappTemplateVariables.templateId, row.id));
  const mapping = new Map<number, TemplateVariable>();
  for (const v of vars) {
    if (isTemplateVariable(v.definedVariable)) {
      mapping.set(v.variableNumber, v.definedVariable);
    }
  }
  return {
    id: row.id,
    name: row.name,
    body: row.body,
    buttons: JSON.parse(row.buttons) as string[],
    connectionId: row.connectionId,
    status: row.status,
    mapping,
    refused:
      row.refusedCode && row.refusedAt
        ? { code: row.refusedCode, reason: row.refusedReason, at: row.refusedAt }
        : null,
  };
}

export async function findTemplate(db: Db, id: string): Promise<StoredTemplate | null> {
  const [row] = await db.select().from(whatsappTemplates).where(eq(whatsappTemplates.id, id));
  return withMapping(db, row);
}

export async function findDefaultTemplate(
  db: Db,
  reason: FdrReason,
): Promise<StoredTemplate | null> {
  const [row] = await db
    .select()
    .from(whatsappTemplates)
    .where(eq(whatsappTemplates.defaultForReason, reason));
  return withMapping(db, row);
}

/** A template that passed verification, and where it is to be used. */
export interface VerifiedTemplate {
  accountId: number;
  reason: FdrReason;
  /** The sender connection whose template list holds it (`default` or a client's id). */
  connectionId: string;
  template: {
    id: string;
    name: string;
    body: string;
    buttons: string[];
    status: string;
    category: string;
  };
  mapping: ReadonlyMap<number, TemplateVariable>;
}

const DESCRIPTIONS = new Map<string, string>(
  TEMPLATE_VARIABLES.map((v) => [v.name, v.description]),
);

/** Why a verified template was not saved. */
export type SaveRefusal =
  | { code: 'platform_default' }
  /**
   * Other accounts already use the template (its id is Gupshup's, one row for everyone) with a
   * different sender or placeholder mapping; saving would change what their messages say.
   */
  | { code: 'template_in_use' };

/**
 * Saves a verified template in one transaction: its body, buttons, status and category; its
 * mapping (replacing the template's previous rows); and the account's choice of it for the
 * reason. Refuses to overwrite a seeded platform default, or a template other accounts use with
 * another sender or mapping.
 */
export async function saveVerifiedTemplate(
  db: Db,
  verified: VerifiedTemplate,
): Promise<'saved' | SaveRefusal> {
  const { template, accountId, reason } = verified;
  return db.transaction(async (tx) => {
    const [existing] = await tx
      .select({
        defaultForReason: whatsappTemplates.defaultForReason,
        connectionId: whatsappTemplates.connectionId,
      })
      .from(whatsappTemplates)
      .where(eq(whatsappTemplates.id, template.id))
      .for('update');
    if (existing?.defaultForReason) {
      return { code: 'platform_default' };
    }
    if (existing) {
      const others = await tx
        .selectDistinct({ accountId: poeChannelNotifications.accountId })
        .from(poeChannelNotifications)
        .where(
          and(
            eq(poeChannelNotifications.whatsappTemplateId, template.id),
            ne(poeChannelNotifications.accountId, accountId),
          ),
        );
      if (others.length > 0) {
        const stored = await tx
          .select()
          .from(whatsappTemplateVariables)
          .where(eq(whatsappTemplateVariables.templateId, template.id));
        const storedMapping = new Map(stored.map((r) => [r.variableNumber, r.definedVariable]));
        if (
          existing.connectionId !== verified.connectionId ||
          !sameMapping(storedMapping, verified.mapping)
        ) {
          return { code: 'template_in_use' };
        }
      }
    }
    const row = {
      name: template.name,
      connectionId: verified.connectionId,
      body: template.body,
      buttons: JSON.stringify(template.buttons),
      status: template.status,
      category: template.category,
      // Verified again: an earlier refusal no longer stands.
      refusedCode: null,
      refusedReason: null,
      refusedAt: null,
    };
    await tx
      .insert(whatsappTemplates)
      .values({ id: template.id, defaultForReason: null, ...row })
      .onDuplicateKeyUpdate({ set: row });
    await tx
      .delete(whatsappTemplateVariables)
      .where(eq(whatsappTemplateVariables.templateId, template.id));
    const variables = [...verified.mapping].map(([variableNumber, definedVariable]) => ({
      templateId: template.id,
      variableNumber,
      definedVariable,
      description: DESCRIPTIONS.get(definedVariable) ?? null,
    }));
    if (variables.length > 0) {
      await tx.insert(whatsappTemplateVariables).values(variables);
    }
    await tx
      .insert(poeChannelNotifications)
      .values({ accountId, notificationType: reason, whatsappTemplateId: template.id })
      .onDuplicateKeyUpdate({ set: { whatsappTemplateId: template.id } });
    return 'saved';
  });
}

function sameMapping(a: ReadonlyMap<number, string>, b: ReadonlyMap<number, string>): boolean {
  return a.size === b.size && [...a].every(([n, name]) => b.get(n) === name);
}

/**
 * Of `ids`, the templates this account may choose: a platform default, a template of one of its
 * own connections, or one it verified itself (it is, or was, its choice for a reason). A template
 * another account verified on the shared platform app is not among them.
 */
export async function templatesUsableBy(
  db: Db,
  accountId: number,
  ids: readonly string[],
): Promise<Set<string>> {
  if (ids.length === 0) {
    return new Set();
  }
  const [templates, own, chosen] = await Promise.all([
    db
      .select({
        id: whatsappTemplates.id,
        defaultForReason: whatsappTemplates.defaultForReason,
        connectionId: whatsappTemplates.connectionId,
      })
      .from(whatsappTemplates)
      .where(inArray(whatsappTemplates.id, [...ids])),
    db
      .select({ id: whatsappSenderConnections.id })
      .from(whatsappSenderConnections)
      .where(eq(whatsappSenderConnections.accountId, accountId)),
    db
      .select({ id: poeChannelNotifications.whatsappTemplateId })
      .from(poeChannelNotifications)
      .where(
        and(
          eq(poeChannelNotifications.accountId, accountId),
          inArray(poeChannelNotifications.whatsappTemplateId, [...ids]),
        ),
      ),
  ]);
  const ownConnections = new Set(own.map((c) => String(c.id)));
  const verified = new Set(chosen.map((c) => c.id));
  return new Set(
    templates
      .filter(
        (t) =>
          t.defaultForReason !== null ||
          (t.connectionId !== null && ownConnections.has(t.connectionId)) ||
          verified.has(t.id),
      )
      .map((t) => t.id),
  );
}

/**
 * Flags a template Gupshup or Meta refused as paused or not matching (`template_refused` in
 * src/gupshup/error-actions.ts); the settings page shows it until the template is verified again.
 */
export async function flagRefusedTemplate(
  db: Db,
  id: string,
  refusal: { code: string; reason: string },
  at = new Date(),
): Promise<boolean> {
  const [result] = await db
    .update(whatsappTemplates)
    .set({
      refusedCode: refusal.code.slice(0, 32),
      refusedReason: refusal.reason.slice(0, 255),
      refusedAt: at,
    })
    .where(eq(whatsappTemplates.id, id));
  return result.affectedRows === 1;
}

/** What settings validation needs of each of these templates that exists (no content). */
export function findTemplateSummaries(
  db: Db,
  ids: readonly string[],
): Promise<
  Pick<
    typeof whatsappTemplates.$inferSelect,
    'id' | 'defaultForReason' | 'connectionId' | 'status' | 'category'
  >[]
> {
  return db
    .select({
      id: whatsappTemplates.id,
      defaultForReason: whatsappTemplates.defaultForReason,
      connectionId: whatsappTemplates.connectionId,
      status: whatsappTemplates.status,
      category: whatsappTemplates.category,
    })
    .from(whatsappTemplates)
    .where(inArray(whatsappTemplates.id, [...ids]));
}
