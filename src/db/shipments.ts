/**
 * Which account a shipment belongs to: the account of its FDR events (`fdr_inbox.account_id`).
 * A shipment could in principle appear under more than one account; each may see it.
 */
import { eq } from 'drizzle-orm';

import type { Db } from './client.ts';
import { fdrInbox } from './schema.ts';

export async function shipmentAccounts(db: Db, shipmentId: string): Promise<number[]> {
  const rows = await db
    .selectDistinct({ accountId: fdrInbox.accountId })
    .from(fdrInbox)
    .where(eq(fdrInbox.shipmentId, shipmentId));
  return rows.flatMap((r) => (r.accountId === null ? [] : [r.accountId]));
}
