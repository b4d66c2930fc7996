/** Request validation helpers: a bad request is a 400 that says exactly what is wrong. */
import * as v from 'valibot';

import { HttpError } from '../errors.ts';

export function parseBody<S extends v.GenericSchema>(schema: S, body: unknown): v.InferOutput<S> {
  const result = v.safeParse(schema, body ?? {});
  if (!result.success) {
    const problems = result.issues.map((i) => `${v.getDotPath(i) ?? 'body'}: ${i.message}`);
    throw new HttpError(400, 'ERR_VALIDATION', problems.join('; '));
  }
  return result.output;
}

export function parseAccountId(raw: string): number {
  const id = Number(raw);
  if (!/^\d{1,10}$/.test(raw) || !Number.isSafeInteger(id) || id <= 0 || id > 2_147_483_647) {
    throw new HttpError(400, 'ERR_VALIDATION', 'accountId must be a positive integer');
  }
  return id;
}
