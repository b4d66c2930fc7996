/**
 * Seeds the platform defaults: one template per FDR reason and its variable mapping. Idempotent:
 * re-running updates the default rows in place and never touches clients' templates.
 */
import { and, eq, notInArray, sql } from 'drizzle-orm';

import { DEFAULT_TEMPLATES } from '../fdr/templates.ts';
import { TEMPLATE_VARIABLES } from '../fdr/variables.ts';
import type { Db } from './client.ts';
import { whatsappTemplates, whatsappTemplateVariables } from './schema.ts';

const DESCRIPTIONS = new Map<string, string>(
  TEMPLATE_VARIABLES.map((v) => [v.name, v.description]),
);

export async function seedDefaults(db: Db): Promise<void> {
  for (const t of DEFAULT_TEMPLATES) {
    await db
      .insert(whatsappTemplates)
      .values({
        id: t.id,
        name: t.name,
        defaultForReason: t.reason,
        connectionId: null,
        body: t.body,
        buttons: JSON.stringify(t.buttons),
        category: 'UTILITY',
        status: 'APPROVED',
      })
      .onDuplicateKeyUpdate({
        set: {
          name: t.name,
          defaultForReason: t.reason,
          body: t.body,
          buttons: JSON.stringify(t.buttons),
        },
      });
    const numbers = Object.keys(t.variables).map(Number);
    for (const n of numbers) {
      const name = t.variables[n]!;
      await db
        .insert(whatsappTemplateVariables)
        .values({
          templateId: t.id,
          variableNumber: n,
          definedVariable: name,
          description: DESCRIPTIONS.get(name) ?? null,
        })
        .onDuplicateKeyUpdate({
          set: { definedVariable: name, description: sql`values(description)` },
        });
    }
    await db
      .delete(whatsappTemplateVariables)
      .where(
        and(
          eq(whatsappTemplateVariables.templateId, t.id),
          notInArray(whatsappTemplateVariables.variableNumber, numbers.length ? numbers : [-1]),
        ),
      );
  }
}
