/** The database's liveness check: one round trip on a pooled connection. */
import { sql } from 'drizzle-orm';

import type { Db } from './client.ts';

/** Resolves once MySQL has answered `SELECT 1`; rejects when it cannot be reached. */
export async function pingDatabase(db: Db): Promise<void> {
  await db.execute(sql`select 1`);
}
