/** Bearer-token checks for the service's own API, compared in constant time. */
import { createHash, timingSafeEqual } from 'node:crypto';

import type { FastifyRequest } from 'fastify';

import { HttpError } from '../errors.ts';

/** Compares two secrets without leaking their length or content through timing. */
export function secretsEqual(given: string, expected: string): boolean {
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}

export function bearerToken(request: FastifyRequest): string | null {
  const header = request.headers.authorization;
  if (!header) {
    return null;
  }
  const match = /^Bearer\s+(.+)$/i.exec(header);
  return match?.[1]?.trim() ?? null;
}

/** A preHandler that admits requests bearing `Authorization: Bearer <token>`. */
export function requireBearer(token: string | undefined) {
  return async (request: FastifyRequest): Promise<void> => {
    const given = bearerToken(request);
    if (!token || !given || !secretsEqual(given, token)) {
      throw new HttpError(401, 'ERR_UNAUTHORIZED', 'a valid bearer token is required');
    }
    await Promise.resolve();
  };
}
