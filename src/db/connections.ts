/**
 * Clients' own Gupshup sender connections (`whatsapp_sender_connections`). Values arrive here
 * already encrypted (src/credentials.ts); reads used for listing select no credential column, so
 * a listing can never leak one by accident.
 */
import { and, asc, eq } from 'drizzle-orm';

import type { GupshupApi } from '../gupshup/types.ts';
import type { Db } from './client.ts';
import { poeChannelSettings, whatsappSenderConnections } from './schema.ts';

/** A connection as it may be shown: no credentials, only whether the optional ones exist. */
export interface ConnectionSummary {
  id: number;
  accountId: number;
  appName: string;
  waNumber: string;
  /** Which Gupshup API the app uses. */
  api: GupshupApi;
  hasTwoWay: boolean;
  hasApiKey: boolean;
  /** Its own sends-per-second limit; null: GUPSHUP_SENDER_MAX_PER_SECOND. */
  maxPerSecond: number | null;
}

export type NewConnection = Omit<
  typeof whatsappSenderConnections.$inferInsert,
  'id' | 'createdAt' | 'updatedAt'
>;

const summaryColumns = {
  id: whatsappSenderConnections.id,
  accountId: whatsappSenderConnections.accountId,
  appName: whatsappSenderConnections.appName,
  waNumber: whatsappSenderConnections.waNumber,
  api: whatsappSenderConnections.api,
  twoWayUseridEnc: whatsappSenderConnections.twoWayUseridEnc,
  apiKeyEnc: whatsappSenderConnections.apiKeyEnc,
  maxPerSecond: whatsappSenderConnections.maxPerSecond,
};

type SummaryRow = {
  id: number;
  accountId: number;
  appName: string;
  waNumber: string;
  api: string;
  twoWayUseridEnc: string | null;
  apiKeyEnc: string | null;
  maxPerSecond: number | null;
};

function toSummary(row: SummaryRow): ConnectionSummary {
  return {
    id: row.id,
    accountId: row.accountId,
    appName: row.appName,
    waNumber: row.waNumber,
    api: row.api === 'self-serve' ? 'self-serve' : 'enterprise',
    hasTwoWay: row.twoWayUseridEnc !== null,
    hasApiKey: row.apiKeyEnc !== null,
    maxPerSecond: row.maxPerSecond,
  };
}

export async function listConnections(db: Db, accountId: number): Promise<ConnectionSummary[]> {
  const rows = await db
    .select(summaryColumns)
    .from(whatsappSenderConnections)
    .where(eq(whatsappSenderConnections.accountId, accountId))
    .orderBy(asc(whatsappSenderConnections.id));
  return rows.map(toSummary);
}

export async function findConnectionSummary(
  db: Db,
  accountId: number,
  id: number,
): Promise<ConnectionSummary | null> {
  const [row] = await db
    .select(summaryColumns)
    .from(whatsappSenderConnections)
    .where(
      and(eq(whatsappSenderConnections.id, id), eq(whatsappSenderConnections.accountId, accountId)),
    );
  return row ? toSummary(row) : null;
}

/** A connection's sealed credentials (src/credentials.ts ciphertexts). */
export type SealedCredentials = Partial<
  Pick<
    NewConnection,
    'useridEnc' | 'passwordEnc' | 'twoWayUseridEnc' | 'twoWayPasswordEnc' | 'apiKeyEnc'
  >
>;

/**
 * Stores a connection and its credentials in one transaction: the row first (its id is part of
 * what the credentials are bound to), then `seal(id)`'s ciphertexts. Returns the id.
 */
export async function storeConnection(
  db: Db,
  row: Pick<NewConnection, 'accountId' | 'api' | 'appName' | 'waNumber' | 'maxPerSecond'>,
  seal: (connectionId: number) => SealedCredentials,
): Promise<number> {
  return db.transaction(async (tx) => {
    const [inserted] = await tx.insert(whatsappSenderConnections).values(row).$returningId();
    if (!inserted) {
      throw new Error('whatsapp_sender_connections insert returned no id');
    }
    await tx
      .update(whatsappSenderConnections)
      .set(seal(inserted.id))
      .where(eq(whatsappSenderConnections.id, inserted.id));
    return inserted.id;
  });
}

/** Sets (or, with null, clears) a stored connection's own rate limit; false when there is none. */
export async function setConnectionRate(
  db: Db,
  accountId: number,
  id: number,
  maxPerSecond: number | null,
): Promise<boolean> {
  const [result] = await db
    .update(whatsappSenderConnections)
    .set({ maxPerSecond })
    .where(
      and(eq(whatsappSenderConnections.id, id), eq(whatsappSenderConnections.accountId, accountId)),
    );
  return result.affectedRows === 1;
}

/**
 * Deletes a connection unless the account has it chosen as its sender. Returns what happened, so
 * the caller can say why nothing was deleted.
 */
export async function deleteConnection(
  db: Db,
  accountId: number,
  id: number,
): Promise<'deleted' | 'not_found' | 'in_use'> {
  return db.transaction(async (tx) => {
    const [settings] = await tx
      .select({ sender: poeChannelSettings.whatsappSenderConnectionId })
      .from(poeChannelSettings)
      .where(eq(poeChannelSettings.accountId, accountId))
      .for('update');
    if (settings?.sender === String(id)) {
      return 'in_use';
    }
    const [result] = await tx
      .delete(whatsappSenderConnections)
      .where(
        and(
          eq(whatsappSenderConnections.id, id),
          eq(whatsappSenderConnections.accountId, accountId),
        ),
      );
    return result.affectedRows > 0 ? 'deleted' : 'not_found';
  });
}

/** A stored connection's WhatsApp number, by id alone (no credentials); null when there is none. */
export async function findConnectionNumber(db: Db, id: number): Promise<string | null> {
  const [row] = await db
    .select({ waNumber: whatsappSenderConnections.waNumber })
    .from(whatsappSenderConnections)
    .where(eq(whatsappSenderConnections.id, id));
  return row?.waNumber ?? null;
}

/** The ids of stored connections of a Gupshup app name (any case), oldest first. */
export async function findConnectionIdsByAppName(db: Db, appName: string): Promise<number[]> {
  const rows = await db
    .select({ id: whatsappSenderConnections.id })
    .from(whatsappSenderConnections)
    .where(eq(whatsappSenderConnections.appName, appName))
    .orderBy(asc(whatsappSenderConnections.id));
  return rows.map((r) => r.id);
}

export type ConnectionRow = typeof whatsappSenderConnections.$inferSelect;

/** The account's stored connection with this id, credentials (sealed) included; null if none. */
export async function findAccountConnection(
  db: Db,
  accountId: number,
  id: number,
): Promise<ConnectionRow | null> {
  const [row] = await db
    .select()
    .from(whatsappSenderConnections)
    .where(
      and(eq(whatsappSenderConnections.id, id), eq(whatsappSenderConnections.accountId, accountId)),
    );
  return row ?? null;
}

/** Whether the account has a stored connection with this id. */
export async function accountHasConnection(
  db: Db,
  accountId: number,
  id: number,
): Promise<boolean> {
  const rows = await db
    .select({ id: whatsappSenderConnections.id })
    .from(whatsappSenderConnections)
    .where(
      and(eq(whatsappSenderConnections.id, id), eq(whatsappSenderConnections.accountId, accountId)),
    );
  return rows.length > 0;
}

/** The app name and number of the account's connection with this id (no credentials); null if none. */
export async function findConnectionDisplay(
  db: Db,
  accountId: number,
  id: number,
): Promise<{ appName: string; waNumber: string } | null> {
  const [row] = await db
    .select({
      appName: whatsappSenderConnections.appName,
      waNumber: whatsappSenderConnections.waNumber,
    })
    .from(whatsappSenderConnections)
    .where(
      and(eq(whatsappSenderConnections.id, id), eq(whatsappSenderConnections.accountId, accountId)),
    );
  return row ?? null;
}
