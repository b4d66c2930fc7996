/**
 * A client's WhatsApp settings: the sender connection and store details
 * (`poe_channel_settings`) and, per FDR reason, the on/off flag and template
 * (`poe_channel_notifications`). An account with no rows has WhatsApp off.
 */
import { mergePolicy, parseStoredPolicy, type ConversationPolicy } from '../policy.ts';
import { eq } from 'drizzle-orm';

import { FDR_REASONS, type FdrReason } from '../fdr/reasons.ts';
import type { Db } from './client.ts';
import { poeChannelNotifications, poeChannelSettings } from './schema.ts';

/** The platform's default Gupshup app; clients' own apps are numeric connection ids. */
export const DEFAULT_CONNECTION_ID = 'default';

export interface ReasonSetting {
  enabled: boolean;
  /** The client's chosen template, or null for the platform default of the reason. */
  templateId: string | null;
}

export interface AccountSettings {
  accountId: number;
  senderConnectionId: string;
  storeName: string | null;
  supportContactNumber: string | null;
  supportEmailAddress: string | null;
  reasons: Record<FdrReason, ReasonSetting>;
  /** What the account chose (src/policy.ts); `effectivePolicy` adds the defaults. */
  policy: ConversationPolicy;
}

export interface SettingsUpdate {
  enabled?: boolean;
  reasons?: Partial<Record<FdrReason, boolean>>;
  senderConnectionId?: string | null;
  storeName?: string | null;
  supportContactNumber?: string | null;
  supportEmailAddress?: string | null;
  templates?: Partial<Record<FdrReason, string | null>>;
  /** Keys given replace the stored ones; keys left out stay. */
  policy?: ConversationPolicy;
  /** Policy keys to forget (the platform default applies again); a key also in `policy` wins. */
  policyDefaults?: readonly (keyof ConversationPolicy)[];
}

function emptyReasons(): Record<FdrReason, ReasonSetting> {
  return Object.fromEntries(
    FDR_REASONS.map((r) => [r, { enabled: false, templateId: null }]),
  ) as Record<FdrReason, ReasonSetting>;
}

export async function getAccountSettings(db: Db, accountId: number): Promise<AccountSettings> {
  const [general] = await db
    .select()
    .from(poeChannelSettings)
    .where(eq(poeChannelSettings.accountId, accountId));
  const rows = await db
    .select()
    .from(poeChannelNotifications)
    .where(eq(poeChannelNotifications.accountId, accountId));
  const reasons = emptyReasons();
  for (const row of rows) {
    if ((FDR_REASONS as readonly string[]).includes(row.notificationType)) {
      reasons[row.notificationType as FdrReason] = {
        enabled: row.isWhatsappEnabled === 1,
        templateId: row.whatsappTemplateId,
      };
    }
  }
  return {
    accountId,
    senderConnectionId: general?.whatsappSenderConnectionId ?? DEFAULT_CONNECTION_ID,
    storeName: general?.storeName ?? null,
    supportContactNumber: general?.supportContactNumber ?? null,
    supportEmailAddress: general?.supportEmailAddress ?? null,
    reasons,
    policy: parseStoredPolicy(general?.conversationPolicy),
  };
}

/** Applies a partial update in one transaction. `enabled` switches every reason at once. */
export async function saveAccountSettings(
  db: Db,
  accountId: number,
  update: SettingsUpdate,
): Promise<void> {
  await db.transaction(async (tx) => {
    const general: Partial<typeof poeChannelSettings.$inferInsert> = {};
    if (update.senderConnectionId !== undefined) {
      general.whatsappSenderConnectionId = update.senderConnectionId ?? DEFAULT_CONNECTION_ID;
    }
    if (update.storeName !== undefined) {
      general.storeName = update.storeName;
    }
    if (update.supportContactNumber !== undefined) {
      general.supportContactNumber = update.supportContactNumber;
    }
    if (update.supportEmailAddress !== undefined) {
      general.supportEmailAddress = update.supportEmailAddress;
    }
    if (update.policy !== undefined || update.policyDefaults?.length) {
      const [row] = await tx
        .select({ policy: poeChannelSettings.conversationPolicy })
        .from(poeChannelSettings)
        .where(eq(poeChannelSettings.accountId, accountId))
        .for('update');
      const stored: ConversationPolicy = { ...parseStoredPolicy(row?.policy) };
      for (const key of update.policyDefaults ?? []) {
        delete stored[key];
      }
      const merged = mergePolicy(stored, update.policy ?? {});
      general.conversationPolicy = JSON.stringify(merged);
    }
    await tx
      .insert(poeChannelSettings)
      .values({ accountId, ...general })
      .onDuplicateKeyUpdate({ set: Object.keys(general).length ? general : { accountId } });

    for (const reason of FDR_REASONS) {
      const set: Partial<typeof poeChannelNotifications.$inferInsert> = {};
      const enabled = update.reasons?.[reason] ?? update.enabled;
      if (enabled !== undefined) {
        set.isWhatsappEnabled = enabled ? 1 : 0;
      }
      const template = update.templates?.[reason];
      if (template !== undefined) {
        set.whatsappTemplateId = template;
      }
      await tx
        .insert(poeChannelNotifications)
        .values({ accountId, notificationType: reason, ...set })
        .onDuplicateKeyUpdate({ set: Object.keys(set).length ? set : { accountId } });
    }
  });
}
