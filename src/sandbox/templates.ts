/**
 * The sandbox's approved templates (src/sandbox/templates.json by default, in the self-serve
 * list's shape, facts §4.3): parsed once at start and served as both template lists, the
 * self-serve one as stored and the enterprise one (`get_whatsapp_hsm`) with the quick-reply
 * buttons, listed at the end of `data` as ` | [Title]`, split off.
 *
 * Used by src/sandbox/server.ts; no I/O but reading the default list.
 */
import { readFile } from 'node:fs/promises';

import * as v from 'valibot';

export class SandboxTemplatesError extends Error {
  readonly code = 'ERR_SANDBOX_TEMPLATES';
  constructor(problems: string) {
    super(`Invalid sandbox templates: ${problems}`);
    this.name = 'SandboxTemplatesError';
  }
}

/** The self-serve template fields the sandbox relies on; any other field is kept as given. */
const TemplateSchema = v.looseObject({
  id: v.string(),
  elementName: v.string(),
  data: v.string(),
  category: v.string(),
  languageCode: v.string(),
  status: v.string(),
  templateType: v.optional(v.string()),
  externalId: v.optional(v.string()),
  quality: v.optional(v.string()),
  header: v.optional(v.string()),
  footer: v.optional(v.string()),
  createdOn: v.optional(v.number()),
  modifiedOn: v.optional(v.number()),
});
export type SelfServeTemplate = v.InferOutput<typeof TemplateSchema>;

/** Either a whole self-serve list response or just its `templates` array. */
const TemplatesOptionSchema = v.union([
  v.array(TemplateSchema),
  v.looseObject({ templates: v.array(TemplateSchema) }),
]);

const BUTTON_SUFFIX = /(?:\s*\|\s*\[[^\]]*\])+\s*$/;

export async function readDefaultTemplates(): Promise<unknown> {
  // A copy of the self-serve fixture lives next to this file so the sandbox never reads test/.
  const text = await readFile(new URL('./templates.json', import.meta.url), 'utf8');
  return JSON.parse(text) as unknown;
}

export function parseTemplates(input: unknown): SelfServeTemplate[] {
  const parsed = v.safeParse(TemplatesOptionSchema, input);
  if (!parsed.success) {
    const problems = parsed.issues.map(
      (issue) => `${v.getDotPath(issue) ?? '(root)'}: ${issue.message}`,
    );
    throw new SandboxTemplatesError(problems.join('; '));
  }
  return Array.isArray(parsed.output) ? parsed.output : parsed.output.templates;
}

/** Splits the ` | [Update my address] | [Raise a concern]` suffix off a template's `data`. */
export function splitButtons(data: string): { body: string; buttons: string[] } {
  const match = BUTTON_SUFFIX.exec(data);
  if (!match) {
    return { body: data, buttons: [] };
  }
  const buttons = Array.from(match[0].matchAll(/\[([^\]]*)\]/g), (m) => (m[1] ?? '').trim());
  return { body: data.slice(0, match.index), buttons: buttons.filter(Boolean) };
}

/**
 * The self-serve list shows quick-reply buttons appended to the body as ` | [Title]`; the
 * enterprise list carries the bare body and a `button_type` instead.
 */
export function toEnterpriseTemplate(template: SelfServeTemplate) {
  const { body, buttons } = splitButtons(template.data);
  return {
    id: template.externalId ?? template.id,
    name: template.elementName,
    category: template.category,
    language: template.languageCode,
    type: template.templateType ?? 'TEXT',
    body,
    ...(template.header === undefined ? {} : { header: template.header }),
    ...(template.footer === undefined ? {} : { footer: template.footer }),
    button_type: buttons.length > 0 ? 'QUICK_REPLY' : 'NONE',
    quality_score: template.quality ?? 'UNKNOWN',
    status: template.status,
    creation_time: template.createdOn ?? null,
    updation_time: template.modifiedOn ?? null,
  };
}
