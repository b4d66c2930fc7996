/**
 * `whatsapp_connection_features`: what a sender connection turned out not to support. Today one
 * thing: interactive messages, refused by an account whose gateway does not take them. Written
 * by the `message.send` worker when Gupshup refuses, read before every interactive send.
 */
import { eq, sql } from 'drizzle-orm';

import type { Db } from './client.ts';
import { whatsappConnectionFeatures } from './schema.ts';

/** When the connection last refused interactive messages, and why; null if it never did. */
export async function findInteractiveRefusal(
  db: Db,
  connectionId: string,
): Promise<{ at: Date; refusal: string | null } | null> {
  const [row] = await db
    .select({
      at: whatsappConnectionFeatures.interactiveRefusedAt,
      refusal: whatsappConnectionFeatures.interactiveRefusal,
    })
    .from(whatsappConnectionFeatures)
    .where(eq(whatsappConnectionFeatures.connectionId, connectionId));
  return row?.at ? { at: row.at, refusal: row.refusal } : null;
}

export async function recordInteractiveRefusal(
  db: Db,
  connectionId: string,
  refusal: string,
  at = new Date(),
): Promise<void> {
  const text = refusal.slice(0, 512);
  await db
    .insert(whatsappConnectionFeatures)
    .values({ connectionId, interactiveRefusedAt: at, interactiveRefusal: text })
    .onDuplicateKeyUpdate({
      set: { interactiveRefusedAt: sql`values(interactive_refused_at)`, interactiveRefusal: text },
    });
}
