/**
 * `api_tokens`: per-account API tokens. A token is `wat_` and 43 base64url characters (32 random
 * bytes); only its SHA-256 is stored, so a database dump yields no usable token. Created, listed
 * and revoked with `wa-notify tokens`; looked up by hash on every authenticated request (the
 * hash is unique and indexed), so a revocation takes effect at once on every replica.
 */
import { createHash, randomBytes } from 'node:crypto';

import { and, asc, eq, isNull } from 'drizzle-orm';

import type { Db } from './client.ts';
import { apiTokens } from './schema.ts';

export const TOKEN_PREFIX = 'wat_';

export interface ApiTokenView {
  id: number;
  accountId: number;
  name: string | null;
  createdAt: Date;
  revokedAt: Date | null;
}

export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/** Creates a token for the account; the token is returned here and never again. */
export async function createApiToken(
  db: Db,
  accountId: number,
  name: string | null,
): Promise<{ id: number; token: string }> {
  const token = `${TOKEN_PREFIX}${randomBytes(32).toString('base64url')}`;
  const [row] = await db
    .insert(apiTokens)
    .values({ accountId, name, tokenHash: hashToken(token) })
    .$returningId();
  if (!row) {
    throw new Error('api_tokens insert returned no id');
  }
  return { id: row.id, token };
}

/** The live (not revoked) token with this value, if any. */
export async function findLiveToken(
  db: Db,
  token: string,
): Promise<{ id: number; accountId: number } | null> {
  const [row] = await db
    .select({ id: apiTokens.id, accountId: apiTokens.accountId })
    .from(apiTokens)
    .where(and(eq(apiTokens.tokenHash, hashToken(token)), isNull(apiTokens.revokedAt)));
  return row ?? null;
}

/** Whether the token with this id is live (its sessions end when it is revoked). */
export async function isTokenLive(db: Db, id: number): Promise<boolean> {
  const [row] = await db
    .select({ id: apiTokens.id })
    .from(apiTokens)
    .where(and(eq(apiTokens.id, id), isNull(apiTokens.revokedAt)));
  return row !== undefined;
}

export async function listApiTokens(db: Db, accountId?: number): Promise<ApiTokenView[]> {
  return db
    .select({
      id: apiTokens.id,
      accountId: apiTokens.accountId,
      name: apiTokens.name,
      createdAt: apiTokens.createdAt,
      revokedAt: apiTokens.revokedAt,
    })
    .from(apiTokens)
    .where(accountId === undefined ? undefined : eq(apiTokens.accountId, accountId))
    .orderBy(asc(apiTokens.id));
}

/** Revokes a token; false when there is no such live token. */
export async function revokeApiToken(db: Db, id: number): Promise<boolean> {
  const [result] = await db
    .update(apiTokens)
    .set({ revokedAt: new Date() })
    .where(and(eq(apiTokens.id, id), isNull(apiTokens.revokedAt)));
  return result.affectedRows === 1;
}
