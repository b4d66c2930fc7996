/** Template bodies and their placeholder → variable mappings. */
import { and, eq, ne } from 'drizzle-orm';

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

/** Why a verified template was not saved. */
export type SaveRefusal =
  | { code: 'platform_default' }
  /**
   * Other accounts already use the template (its id is Gupshup's, one row for everyone) with a
   * different sender or placeholder mapping; saving would change what their messages say.
   */
  | { code: 'template_in_use'; accounts: number; connectionId: string | null; mapping: string };

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
          return {
            code: 'template_in_use',
            accounts: others.length,
            connectionId: existing.connectionId,
            mapping: describeMapping(storedMapping),
          };
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

/** `{{1}}=customer_name, {{2}}=order_id`, in placeholder order. */
export function describeMapping(mapping: ReadonlyMap<number, string>): string {
  return [...mapping]
    .sort(([x], [y]) => x - y)
    .map(([n, name]) => `{{${n}}}=${name}`)
    .join(', ');
}
