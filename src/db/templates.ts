/** Template bodies and their placeholder → variable mappings. */
import { eq } from 'drizzle-orm';

import type { FdrReason } from '../fdr/reasons.ts';
import { isTemplateVariable, TEMPLATE_VARIABLES, type TemplateVariable } from '../fdr/variables.ts';
import type { Db } from './client.ts';
import { poeChannelNotifications, whatsappTemplates, whatsappTemplateVariables } from './schema.ts';

export interface StoredTemplate {
  id: string;
  name: string;
  body: string;
  buttons: string[];
  connectionId: string | null;
  status: string;
  mapping: Map<number, TemplateVariable>;
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

/**
 * Saves a verified template in one transaction: its body, buttons, status and category; its
 * mapping (replacing the template's previous rows); and the account's choice of it for the
 * reason. Refuses (returns 'platform_default') to overwrite a seeded platform default.
 */
export async function saveVerifiedTemplate(
  db: Db,
  verified: VerifiedTemplate,
): Promise<'saved' | 'platform_default'> {
  const { template, accountId, reason } = verified;
  return db.transaction(async (tx) => {
    const [existing] = await tx
      .select({ defaultForReason: whatsappTemplates.defaultForReason })
      .from(whatsappTemplates)
      .where(eq(whatsappTemplates.id, template.id))
      .for('update');
    if (existing?.defaultForReason) {
      return 'platform_default';
    }
    const row = {
      name: template.name,
      connectionId: verified.connectionId,
      body: template.body,
      buttons: JSON.stringify(template.buttons),
      status: template.status,
      category: template.category,
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
