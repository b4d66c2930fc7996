/**
 * The sandbox's approved templates (src/sandbox/templates.json by default, in the self-serve
 * list's shape, facts §4.3): parsed once at start, served as both template lists, and used to
 * understand template sends — a self-serve `template/msg` names its template by `id` and gives
 * the parameters; an enterprise HSM send carries the rendered text, which is matched back to its
 * template (facts §1.3). Either way the template's quick-reply button titles, listed at the end
 * of `data` as ` | [Title]`, are what a customer can tap (`sandbox.tap`).
 *
 * Used by src/sandbox/server.ts and src/sandbox/self-serve.ts; no I/O.
 */
import * as v from 'valibot';

import { DEFAULT_TEMPLATES } from '../fdr/templates.ts';
// A copy of the self-serve fixture lives next to this file so the sandbox never reads test/.
// Imported rather than read from disk, so the build puts it beside the compiled module too.
import defaultList from './templates.json' with { type: 'json' };

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

/** What the sandbox understood of a template send, recorded on the send. */
export interface TemplateUse {
  /** Self-serve: the template's `id`; enterprise: its `externalId` (the enterprise list's id). */
  id: string;
  /** `elementName`. */
  name: string;
  /** The values of `{{1}}`, `{{2}}`, … as given (self-serve) or read back from the text. */
  params: string[];
  /** The body as the customer reads it, without the button suffix. */
  body: string;
  /** Quick-reply button titles, in order; empty when the template has none. */
  buttons: string[];
}

const BUTTON_SUFFIX = /(?:\s*\|\s*\[[^\]]*\])+\s*$/;
const PLACEHOLDER = /\{\{(\d+)\}\}/g;

/**
 * The service's own platform templates (src/fdr/templates.ts) as the self-serve list would show
 * them. They are not in the sandbox's template lists, but an enterprise send of one is matched
 * back to it, so a demo customer can tap its buttons.
 */
export const PLATFORM_TEMPLATES: readonly SelfServeTemplate[] = DEFAULT_TEMPLATES.map((t) => ({
  id: t.id,
  elementName: t.name,
  data: `${t.body}${t.buttons.map((title) => ` | [${title}]`).join('')}`,
  category: 'UTILITY',
  languageCode: 'en',
  status: 'APPROVED',
}));

/** The default list, a fresh copy per call: the imported module is shared by every sandbox. */
export function defaultTemplates(): unknown {
  return structuredClone(defaultList);
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

/** The highest `{{n}}` in a body: how many parameters a send must give. */
export function placeholderCount(body: string): number {
  return Math.max(0, ...Array.from(body.matchAll(PLACEHOLDER), (m) => Number(m[1])));
}

/** A self-serve template send: the body with `{{n}}` replaced by `params[n - 1]`. */
export function useTemplate(template: SelfServeTemplate, params: string[]): TemplateUse {
  const { body, buttons } = splitButtons(template.data);
  return {
    id: template.id,
    name: template.elementName,
    params,
    body: body.replace(PLACEHOLDER, (_all, n: string) => params[Number(n) - 1] ?? ''),
    buttons,
  };
}

/**
 * The template an enterprise send's rendered text belongs to, or null. A `template_id` or
 * `whatsAppTemplateId` parameter (facts §1.2, names unconfirmed) picks it by id; otherwise the
 * text is matched against every body with its placeholders as wildcards, and of several matches
 * the one with the most fixed text wins.
 */
export function matchEnterpriseTemplate(
  templates: readonly SelfServeTemplate[],
  params: Record<string, string>,
): TemplateUse | null {
  const text = (params.msg ?? '').trim();
  const byId = params.template_id ?? params.whatsAppTemplateId;
  const candidates = byId
    ? templates.filter((t) => t.externalId === byId || t.id === byId)
    : templates;
  let best: { use: TemplateUse; fixed: number } | null = null;
  for (const template of candidates) {
    const { body, buttons } = splitButtons(template.data);
    const found = matchBody(body.trim(), text);
    if (found === null && !byId) {
      continue;
    }
    const fixed = body.replace(PLACEHOLDER, '').length;
    if (!best || fixed > best.fixed) {
      best = {
        use: {
          id: template.externalId ?? template.id,
          name: template.elementName,
          params: found ?? [],
          body: text,
          buttons,
        },
        fixed,
      };
    }
  }
  return best?.use ?? null;
}

/** The placeholder values when `text` is `body` filled in, else null. */
function matchBody(body: string, text: string): string[] | null {
  const order: number[] = [];
  const pattern = body
    .split(PLACEHOLDER)
    .map((part, i) => {
      if (i % 2 === 0) {
        return part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      }
      order.push(Number(part));
      return '([\\s\\S]*?)';
    })
    .join('');
  const match = new RegExp(`^${pattern}$`).exec(text);
  if (!match) {
    return null;
  }
  const values: string[] = [];
  order.forEach((n, i) => {
    values[n - 1] ??= match[i + 1] ?? '';
  });
  return Array.from(values, (value) => value ?? '');
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
