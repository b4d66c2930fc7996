/**
 * Who may call the service's own API, checked in `onRequest`, before any body is read:
 * - the admin token (API_TOKEN) reaches every account;
 * - an account token (`wa-notify tokens create`, src/db/api-tokens.ts) reaches only its own
 *   account: a path naming another account, or a shipment of another account, answers 404, not
 *   403, so ids cannot be probed.
 * Secrets are compared in constant time, and failures count towards the brute-force brake
 * (src/http/auth-failures.ts): past it, 429 with `Retry-After`.
 */
import { hash, timingSafeEqual } from 'node:crypto';

import type { FastifyReply, FastifyRequest } from 'fastify';

import { findLiveToken, TOKEN_PREFIX } from '../db/api-tokens.ts';
import type { Db } from '../db/client.ts';
import { HttpError } from '../errors.ts';
import type { AuthFailures } from './auth-failures.ts';

/** Who a request is. */
export type Principal = { kind: 'admin' } | { kind: 'account'; accountId: number; tokenId: number };

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by `requireApiAuth` (and the settings page): who is calling. */
    principal: Principal | null;
  }
}

/** Compares two secrets without leaking their length or content through timing. */
export function secretsEqual(given: string, expected: string): boolean {
  return timingSafeEqual(hash('sha256', given, 'buffer'), hash('sha256', expected, 'buffer'));
}

/**
 * `secretsEqual` against one secret known in advance (a configured token): its digest taken
 * once, so that each request hashes only what it gave.
 */
export function secretMatcher(expected: string): (given: string) => boolean {
  const digest = hash('sha256', expected, 'buffer');
  return (given) => timingSafeEqual(hash('sha256', given, 'buffer'), digest);
}

export function bearerToken(request: FastifyRequest): string | null {
  const header = request.headers.authorization;
  if (!header) {
    return null;
  }
  const match = /^Bearer\s+(.+)$/i.exec(header);
  return match?.[1]?.trim() ?? null;
}

export interface Authenticator {
  /** Who a token is: the admin, an account, or nobody. */
  identify(token: string): Promise<Principal | null>;
}

export function createAuthenticator(deps: {
  adminToken: string | undefined;
  db: Db;
}): Authenticator {
  return {
    async identify(token) {
      if (deps.adminToken && secretsEqual(token, deps.adminToken)) {
        return { kind: 'admin' };
      }
      if (!token.startsWith(TOKEN_PREFIX)) {
        return null;
      }
      const found = await findLiveToken(deps.db, token);
      return found ? { kind: 'account', accountId: found.accountId, tokenId: found.id } : null;
    },
  };
}

/** What the API's authentication hooks need. */
export interface ApiAuth {
  authenticator: Authenticator;
  failures: AuthFailures;
}

/** 429 while the caller's address is braked. */
export async function refuseWhileBraked(
  failures: AuthFailures,
  request: FastifyRequest,
  reply: FastifyReply,
): Promise<boolean> {
  const wait = await failures.retryAfter(request.ip);
  if (wait > 0) {
    await reply
      .code(429)
      .header('retry-after', String(wait))
      .send({
        code: 'ERR_TOO_MANY_FAILURES',
        message: `too many failed attempts; retry in ${wait} s`,
      });
    return true;
  }
  return false;
}

/**
 * The `onRequest` hook of every bearer route: 429 while braked, 401 (counted) without a valid
 * token, else `request.principal` is set; a path `:accountId` of another account is 404.
 */
export function requireApiAuth(auth: ApiAuth) {
  return async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    if (await refuseWhileBraked(auth.failures, request, reply)) {
      return;
    }
    const given = bearerToken(request);
    const principal = given ? await auth.authenticator.identify(given) : null;
    if (!principal) {
      await auth.failures.record(request.ip);
      throw new HttpError(401, 'ERR_UNAUTHORIZED', 'a valid bearer token is required');
    }
    request.principal = principal;
    const { accountId } = (request.params ?? {}) as { accountId?: unknown };
    if (typeof accountId === 'string' && /^\d{1,10}$/.test(accountId)) {
      assertAccount(request, Number(accountId));
    }
  };
}

/** The admin reaches every account; an account token only its own (else 404). */
export function mayReach(principal: Principal | null, accountId: number): boolean {
  return (
    principal?.kind === 'admin' ||
    (principal?.kind === 'account' && principal.accountId === accountId)
  );
}

export function assertAccount(request: FastifyRequest, accountId: number): void {
  if (!mayReach(request.principal, accountId)) {
    throw new HttpError(404, 'ERR_NOT_FOUND', 'no such account');
  }
}
