/** The outbox row of a shipment's message, for tests that follow one send. */
import { eq } from 'drizzle-orm';

import type { Db } from '../../src/db/client.ts';
import { notificationOutbox } from '../../src/db/schema.ts';

export async function outboxOf(db: Db, shipmentId: string) {
  const [row] = await db
    .select()
    .from(notificationOutbox)
    .where(eq(notificationOutbox.shipmentId, shipmentId));
  return row;
}
