/**
 * `whatsapp_customer_windows`: when each customer last wrote to each of our numbers (both digits
 * with the country code), for the 24-hour window (src/customer-window.ts).
 */
import { and, eq, lt } from 'drizzle-orm';

import type { DbOrTx } from './client.ts';
import { insertOnce } from './insert-once.ts';
import { whatsappCustomerWindows } from './schema.ts';

/**
 * Records that the customer wrote at `at`. The time only moves forward: a message processed late
 * (a retry, a replay) cannot shorten the window a newer one opened.
 */
export async function recordCustomerMessage(
  db: DbOrTx,
  senderNumber: string,
  customerNumber: string,
  at: Date,
): Promise<void> {
  const inserted = await insertOnce(() =>
    db.insert(whatsappCustomerWindows).values({ senderNumber, customerNumber, lastInboundAt: at }),
  );
  if (!inserted) {
    await db
      .update(whatsappCustomerWindows)
      .set({ lastInboundAt: at })
      .where(
        and(
          eq(whatsappCustomerWindows.senderNumber, senderNumber),
          eq(whatsappCustomerWindows.customerNumber, customerNumber),
          lt(whatsappCustomerWindows.lastInboundAt, at),
        ),
      );
  }
}

/** When the customer last wrote to this sender number; null when never (or not since records began). */
export async function lastCustomerMessageAt(
  db: DbOrTx,
  senderNumber: string,
  customerNumber: string,
): Promise<Date | null> {
  const [row] = await db
    .select({ at: whatsappCustomerWindows.lastInboundAt })
    .from(whatsappCustomerWindows)
    .where(
      and(
        eq(whatsappCustomerWindows.senderNumber, senderNumber),
        eq(whatsappCustomerWindows.customerNumber, customerNumber),
      ),
    );
  return row?.at ?? null;
}
