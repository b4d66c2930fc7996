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

/** A client's account id as a path carries it: a positive 32-bit integer, in decimal digits. */
export const AccountId = v.pipe(
  v.string(),
  v.description("The client's account id, a positive integer."),
  v.regex(/^\d{1,10}$/),
  v.transform(Number),
  v.minValue(1),
  v.maxValue(2_147_483_647),
);

/** Path parameters of the routes under `/v1/accounts/:accountId` and `/settings/:accountId`. */
export const AccountParams = v.object({ accountId: AccountId });

export function parseAccountId(raw: string): number {
  const parsed = v.safeParse(AccountId, raw);
  if (!parsed.success) {
    throw new HttpError(400, 'ERR_VALIDATION', 'accountId must be a positive integer');
  }
  return parsed.output;
}
