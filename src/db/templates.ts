/** Template bodies and their placeholder → variable mappings. */
import { eq } from 'drizzle-orm';

import type { FdrReason } from '../fdr/reasons.ts';
import { isTemplateVariable, type TemplateVariable } from '../fdr/variables.ts';
import type { Db } from './client.ts';
import { whatsappTemplates, whatsappTemplateVariables } from './schema.ts';

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
