/**
 * An account's conversation policy: quiet hours, the no-reply rule, opt-out and opt-in keywords,
 * reminder and opt-out templates. Stored as JSON in `poe_channel_settings.conversation_policy`;
 * a key left out takes the platform default, so a change of default reaches every account that
 * has not chosen. `quietHours: null` switches quiet hours off for the account.
 *
 * `PolicySchema` validates what the settings API and page accept; `parseStoredPolicy` reads
 * what MySQL holds (leniently: a key that no longer validates falls back to its default, so one
 * bad value cannot stop an account's messages); `effectivePolicy` resolves the defaults.
 */
import * as v from 'valibot';

import { FDR_REASONS, type FdrReason } from './fdr/reasons.ts';

export interface QuietHours {
  /** `HH:MM`, 24-hour, local to `timeZone`. */
  start: string;
  end: string;
  /** An IANA zone, e.g. `Asia/Kolkata`. */
  timeZone: string;
}

export const NO_REPLY_ACTIONS = ['remind', 'reattempt', 'nothing'] as const;
export type NoReplyAction = (typeof NO_REPLY_ACTIONS)[number];

export interface NoReplyRule {
  afterHours: number;
  then: NoReplyAction;
}

/** What an account stored: every key optional (absent = the platform default). */
export interface ConversationPolicy {
  quietHours?: QuietHours | null;
  noReply?: NoReplyRule;
  optOutKeywords?: string[];
  optInKeywords?: string[];
  /** Per FDR reason: the template sent as the no-reply reminder (else the reason's own). */
  reminderTemplates?: Partial<Record<FdrReason, string>>;
  /** The opt-out confirmation template (like the seed's `opt_out_message`); else a text. */
  optOutTemplateId?: string | null;
  /**
   * When the courier did not honour the customer's choice (src/outcomes/attempts.ts): send the
   * customer one apology with the choice of a date again. Default false.
   */
  apologyOnNotHonoured?: boolean;
}

/** The policy in force: defaults resolved. */
export interface EffectivePolicy {
  quietHours: QuietHours | null;
  noReply: NoReplyRule;
  optOutKeywords: string[];
  optInKeywords: string[];
  reminderTemplates: Partial<Record<FdrReason, string>>;
  optOutTemplateId: string | null;
  apologyOnNotHonoured: boolean;
}

export const DEFAULT_OPT_OUT_KEYWORDS = [
  'STOP',
  'UNSUBSCRIBE',
  'STOP ALL',
  'OPT OUT',
  'बंद',
  'band karo',
];
export const DEFAULT_OPT_IN_KEYWORDS = ['START'];
export const DEFAULT_NO_REPLY: NoReplyRule = { afterHours: 12, then: 'remind' };
/** DEFAULT_QUIET_HOURS unless configured. */
export const DEFAULT_QUIET_HOURS_SETTING = '21:00-09:00 Asia/Kolkata';

/** Whether the runtime's IANA zone database knows `zone`. */
export function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

const clock = v.pipe(
  v.string(),
  v.trim(),
  v.regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'must be HH:MM (00:00 to 23:59)'),
);

export const QuietHoursSchema = v.pipe(
  v.strictObject({
    start: clock,
    end: clock,
    timeZone: v.pipe(
      v.string(),
      v.trim(),
      v.maxLength(64),
      v.check(isTimeZone, 'must be an IANA time zone, e.g. Asia/Kolkata'),
    ),
  }),
  v.check((q) => q.start !== q.end, 'start and end must differ'),
);

const keywords = v.pipe(
  v.array(v.pipe(v.string(), v.trim(), v.nonEmpty('must not be empty'), v.maxLength(64))),
  v.maxLength(50, 'at most 50 keywords'),
);

const templateId = v.pipe(v.string(), v.trim(), v.nonEmpty(), v.maxLength(128));

export const PolicySchema = v.strictObject({
  quietHours: v.optional(
    v.pipe(
      v.nullable(QuietHoursSchema),
      v.description(
        'Local hours (start ≤ t < end, crossing midnight when start > end) in which no FDR message or reminder goes out: it waits until they end. null: none for this account. Left out: the platform default (DEFAULT_QUIET_HOURS).',
      ),
    ),
  ),
  noReply: v.optional(
    v.pipe(
      v.strictObject({
        afterHours: v.pipe(
          v.number(),
          v.integer('must be a whole number of hours'),
          v.minValue(1, 'must be at least 1'),
          v.maxValue(72, 'must be at most 72'),
        ),
        then: v.picklist(NO_REPLY_ACTIONS, 'must be remind, reattempt or nothing'),
      }),
      v.description(
        'When the customer has not replied to the FDR message within afterHours and the order is still in failed delivery: remind (send the template once more), reattempt (ask the WMS for a reattempt, remarks "no reply") or nothing. Default: after 12 hours, remind.',
      ),
    ),
  ),
  optOutKeywords: v.optional(keywords),
  optInKeywords: v.optional(keywords),
  reminderTemplates: v.optional(
    v.pipe(
      v.strictObject(
        Object.fromEntries(FDR_REASONS.map((r) => [r, v.optional(templateId)])) as Record<
          FdrReason,
          v.OptionalSchema<typeof templateId, undefined>
        >,
      ),
      v.description(
        'Per FDR reason, the template the no-reply reminder sends; a reason left out reminds with its own template.',
      ),
    ),
  ),
  optOutTemplateId: v.optional(v.nullable(templateId)),
  apologyOnNotHonoured: v.optional(
    v.pipe(
      v.boolean('must be true or false'),
      v.description(
        "When the courier did not honour the customer's choice (another date, no out-for-delivery on the chosen date, a reason contradicting the answer): send the customer one apology with the choice of a date again, inside their 24-hour window. Default: false.",
      ),
    ),
  ),
});

/** `21:00-09:00 Asia/Kolkata` → quiet hours; `off` → null; anything else → an error message. */
export function parseQuietHoursSetting(text: string): QuietHours | null | string {
  const trimmed = text.trim();
  if (trimmed.toLowerCase() === 'off') {
    return null;
  }
  const match = /^(\S+)-(\S+)\s+(\S+)$/.exec(trimmed);
  const parsed = match
    ? v.safeParse(QuietHoursSchema, { start: match[1], end: match[2], timeZone: match[3] })
    : null;
  if (!parsed?.success) {
    return 'must be HH:MM-HH:MM <IANA zone> (e.g. 21:00-09:00 Asia/Kolkata) or off';
  }
  return parsed.output;
}

/** What MySQL holds, key by key: a key that does not validate is dropped (its default holds). */
export function parseStoredPolicy(text: string | null | undefined): ConversationPolicy {
  if (!text) {
    return {};
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return {};
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    return {};
  }
  const out: Record<string, unknown> = {};
  const entries = PolicySchema.entries;
  for (const [key, value] of Object.entries(raw)) {
    const schema = entries[key as keyof typeof entries];
    const parsed = schema ? v.safeParse(schema, value) : null;
    if (parsed?.success && parsed.output !== undefined) {
      out[key] = parsed.output;
    }
  }
  return out;
}

/** Merges a change into a stored policy: a key given replaces the stored one. */
export function mergePolicy(
  stored: ConversationPolicy,
  change: ConversationPolicy,
): ConversationPolicy {
  const merged: Record<string, unknown> = { ...stored };
  for (const [key, value] of Object.entries(change)) {
    if (value !== undefined) {
      merged[key] = value;
    }
  }
  return merged;
}

export function effectivePolicy(
  policy: ConversationPolicy,
  defaults: { quietHours: QuietHours | null },
): EffectivePolicy {
  return {
    quietHours: policy.quietHours === undefined ? defaults.quietHours : policy.quietHours,
    noReply: policy.noReply ?? DEFAULT_NO_REPLY,
    optOutKeywords: policy.optOutKeywords ?? DEFAULT_OPT_OUT_KEYWORDS,
    optInKeywords: policy.optInKeywords ?? DEFAULT_OPT_IN_KEYWORDS,
    reminderTemplates: policy.reminderTemplates ?? {},
    optOutTemplateId: policy.optOutTemplateId ?? null,
    apologyOnNotHonoured: policy.apologyOnNotHonoured ?? false,
  };
}
