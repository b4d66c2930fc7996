/**
 * Template verification (pure): decides whether a client's template may be used for FDR messages,
 * given the sender's template list as Gupshup returned it (src/gupshup/templates.ts) and the
 * client's placeholder mapping. Used by the template routes before anything is saved.
 *
 * A template is accepted only if
 * - it is in the list, matched by the list's `id` or, for the self-serve list, its `externalId`
 *   (the Meta id, which is what the enterprise list calls `id`); names are not matched, since one
 *   name exists once per language;
 * - it is APPROVED;
 * - its category is one of TEMPLATE_ALLOWED_CATEGORIES;
 * - every mapping key is a placeholder number and every value one of the eleven variables
 *   (product spec: "No other variable be used");
 * - the placeholders of its body and the keys of the mapping are exactly the same set.
 *
 * A rejection names exactly what is wrong, in words a client can act on.
 */
import type { GupshupTemplate } from '../gupshup/templates.ts';
import {
  isTemplateVariable,
  TEMPLATE_VARIABLE_NAMES,
  type TemplateVariable,
} from '../fdr/variables.ts';

export type VerifyCode =
  | 'template_not_found'
  | 'template_not_approved'
  | 'category_not_allowed'
  | 'unsupported_placeholder'
  | 'invalid_mapping'
  | 'unknown_variable'
  | 'placeholder_mismatch';

export type VerifyResult =
  | { ok: true; template: GupshupTemplate; mapping: Map<number, TemplateVariable> }
  | { ok: false; code: VerifyCode; message: string };

export interface VerifyInput {
  /** What the client typed: a list id or a self-serve externalId. */
  templateId: string;
  /** The sender's app name, for messages. */
  appName: string;
  templates: readonly GupshupTemplate[];
  /** False when the list Gupshup returned was cut short (the message says so). */
  listComplete?: boolean;
  /** Placeholder number (as a string, from JSON) → variable name. */
  mapping: Readonly<Record<string, string>>;
  allowedCategories: readonly string[];
}

/** Numbered placeholders as `renderTemplate` fills them: `{{1}}`, nothing looser. */
const PLACEHOLDER = /\{\{(\d+)\}\}/g;
/** Anything else in double braces (`{{name}}`, `{{ 1 }}`) would reach the customer verbatim. */
const ANY_BRACES = /\{\{([^{}]*)\}\}/g;

/** The distinct placeholder numbers of a body, ascending. */
export function placeholdersOf(body: string): number[] {
  const numbers = new Set(Array.from(body.matchAll(PLACEHOLDER), (m) => Number(m[1])));
  return [...numbers].sort((a, b) => a - b);
}

export function findListedTemplate(
  templates: readonly GupshupTemplate[],
  templateId: string,
): GupshupTemplate | undefined {
  return (
    templates.find((t) => t.id === templateId) ??
    templates.find((t) => t.externalId !== null && t.externalId === templateId)
  );
}

export function verifyTemplate(input: VerifyInput): VerifyResult {
  const { templateId } = input;
  const template = findListedTemplate(input.templates, templateId);
  if (!template) {
    const cut =
      input.listComplete === false ? ' (Gupshup returned only part of the template list)' : '';
    return fail(
      'template_not_found',
      `template ${templateId} does not exist for app ${input.appName}${cut}`,
    );
  }
  if (template.status !== 'APPROVED') {
    return fail(
      'template_not_approved',
      `template ${templateId} is ${template.status}; only APPROVED templates can be sent`,
    );
  }
  if (!input.allowedCategories.includes(template.category)) {
    return fail(
      'category_not_allowed',
      `template ${templateId} is a ${template.category} template; allowed: ${input.allowedCategories.join(', ')}`,
    );
  }
  const odd = Array.from(template.body.matchAll(ANY_BRACES), (m) => m[0]).filter(
    (p) => !/^\{\{\d+\}\}$/.test(p),
  );
  if (odd.length > 0) {
    return fail(
      'unsupported_placeholder',
      `template ${templateId} uses ${odd.join(', ')}; only numbered placeholders such as {{1}} can be filled`,
    );
  }

  const mapping = new Map<number, TemplateVariable>();
  for (const [key, name] of Object.entries(input.mapping)) {
    if (!/^[1-9]\d{0,2}$/.test(key)) {
      return fail('invalid_mapping', `mapping key "${key}" is not a placeholder number`);
    }
    if (!isTemplateVariable(name)) {
      return fail(
        'unknown_variable',
        `unknown variable ${name} for {{${key}}}; the variables are ${TEMPLATE_VARIABLE_NAMES.join(', ')}`,
      );
    }
    mapping.set(Number(key), name);
  }

  const used = placeholdersOf(template.body);
  const unmapped = used.filter((n) => !mapping.has(n));
  const unused = [...mapping.keys()].filter((n) => !used.includes(n)).sort((a, b) => a - b);
  if (unmapped.length === 0 && unused.length === 0) {
    return { ok: true, template, mapping };
  }
  const details = [
    ...unmapped.map((n) => `{{${n}}} has no variable`),
    ...unused.map((n) => `the template has no {{${n}}}`),
  ].join(', ');
  const message =
    used.length === mapping.size
      ? details
      : `template uses ${used.length} placeholder${used.length === 1 ? '' : 's'}, mapping has ${mapping.size} (${details})`;
  return fail('placeholder_mismatch', message);
}

function fail(code: VerifyCode, message: string): VerifyResult {
  return { ok: false, code, message };
}
