/**
 * The suppression list API (bearer: the admin token, or the account's own): the numbers an
 * account's sender does not message (src/suppression.ts), as `whatsapp_suppressions` holds them.
 *
 * - `GET    /v1/accounts/:accountId/whatsapp-suppressions`: the account's suppressions in force,
 *   newest first (`?reason=`, `?limit=`), and how many there are.
 * - `POST   /v1/accounts/:accountId/whatsapp-suppressions`: suppresses a number for the
 *   account's current sender (`reason` `opted_out` by default, or `not_on_whatsapp`;
 *   `expiresAt` optional, none = until removed). 201 when new, 200 when it renews one.
 * - `DELETE /v1/accounts/:accountId/whatsapp-suppressions/:customerNumber`: removes the
 *   account's suppressions of the number (`?reason=` only that one); 404 when there is none.
 *
 * Numbers are taken with or without `+` and the country code (a national number is read in
 * DEFAULT_COUNTRY) and stored as digits with the country code; anything else is a 400. The
 * number in the DELETE path never reaches a log line (src/http/app.ts logs that route's
 * pattern). Another account's token gets 404, as for every account route.
 */
import type { FastifyInstance } from 'fastify';
import * as v from 'valibot';

import type { Config } from '../../config.ts';
import type { Db } from '../../db/client.ts';
import { getAccountSettings } from '../../db/settings.ts';
import {
  countSuppressions,
  findSuppression,
  liftAccountSuppressions,
  listSuppressions,
  suppress,
  SUPPRESSION_REASONS,
} from '../../db/suppressions.ts';
import { HttpError } from '../../errors.ts';
import type { Metrics } from '../../metrics.ts';
import { parseCustomerNumber, presentSuppression, senderNumberOf } from '../../suppression.ts';
import { requireApiAuth, type ApiAuth } from '../auth.ts';
import { documented, SECURITY } from '../openapi.ts';
import { AccountId, AccountParams, parseAccountId, parseBody } from '../validation.ts';

const NUMBER_HELP = 'a phone number: digits with the country code (919812345678), or national';

const Reason = v.picklist(SUPPRESSION_REASONS, 'reason must be opted_out or not_on_whatsapp');

export const SuppressionBody = v.strictObject({
  customerNumber: v.pipe(v.string('customerNumber must be a string'), v.description(NUMBER_HELP)),
  reason: v.optional(Reason),
  expiresAt: v.optional(
    v.nullable(
      v.pipe(
        v.string(),
        v.isoTimestamp('expiresAt must be an ISO 8601 time, e.g. 2027-01-31T00:00:00Z'),
      ),
    ),
  ),
});

export const SuppressionListQuery = v.strictObject({
  reason: v.optional(Reason),
  limit: v.optional(
    v.pipe(v.string(), v.regex(/^\d{1,4}$/, 'limit must be 1 to 1000'), v.description('1 to 1000')),
  ),
});

export const SuppressionParams = v.object({
  accountId: AccountId,
  customerNumber: v.pipe(v.string(), v.description(NUMBER_HELP)),
});

export const SuppressionDeleteQuery = v.strictObject({ reason: v.optional(Reason) });

function customerNumberOf(raw: string, config: Pick<Config, 'DEFAULT_COUNTRY'>): string {
  const number = parseCustomerNumber(raw, config.DEFAULT_COUNTRY);
  if (number === null) {
    throw new HttpError(
      400,
      'ERR_VALIDATION',
      `customerNumber: must be ${NUMBER_HELP} (e.g. 9812345678)`,
    );
  }
  return number;
}

export function suppressionRoutes(deps: {
  config: Config;
  db: Db;
  metrics: Pick<Metrics, 'optChanges'>;
  auth: ApiAuth;
}) {
  const { config, db } = deps;
  return async (app: FastifyInstance): Promise<void> => {
    app.addHook('onRequest', requireApiAuth(deps.auth));

    app.get<{ Params: { accountId: string }; Querystring: Record<string, string> }>(
      '/v1/accounts/:accountId/whatsapp-suppressions',
      documented({
        tags: ['suppressions'],
        summary: "The numbers an account's sender does not message",
        description:
          'Suppressions the account set or whose opt-out came through its conversations, in force (not expired), newest first: `customerNumber`, `senderNumber`, `reason` (opted_out, not_on_whatsapp), `source` (keyword, user_event, send_error, report, api, cli), `expiresAt` (null: until removed).',
        security: SECURITY.api,
        params: AccountParams,
        querystring: SuppressionListQuery,
        responses: {
          200: '`total` (all in force) and `suppressions` (at most `limit`, default 100)',
          400: 'accountId, reason or limit is invalid',
          401: 'No valid bearer token',
          404: "Another account's token",
        },
      }),
      async (request) => {
        const accountId = parseAccountId(request.params.accountId);
        const query = parseBody(SuppressionListQuery, request.query);
        const limit = query.limit === undefined ? 100 : Number(query.limit);
        if (limit < 1 || limit > 1_000) {
          throw new HttpError(400, 'ERR_VALIDATION', 'limit: must be 1 to 1000');
        }
        const filter = { accountId, ...(query.reason ? { reason: query.reason } : {}) };
        const [rows, total] = await Promise.all([
          listSuppressions(db, filter, limit),
          countSuppressions(db, filter),
        ]);
        return { accountId, total, suppressions: rows.map(presentSuppression) };
      },
    );

    app.post<{ Params: { accountId: string } }>(
      '/v1/accounts/:accountId/whatsapp-suppressions',
      documented({
        tags: ['suppressions'],
        summary: "Suppress a number for the account's sender",
        description:
          "Nothing more goes to the number from the account's current sender number: an FDR is recorded as not sent (`whatsapp_not_sent`, code opted_out or not_on_whatsapp). `reason` defaults to opted_out; `expiresAt` (ISO 8601) makes it lapse, none keeps it until removed. An opt-out the customer lifts (START, or writing again) goes as well.",
        security: SECURITY.api,
        params: AccountParams,
        body: SuppressionBody,
        responses: {
          200: 'It was suppressed already: renewed; the suppression',
          201: 'The suppression',
          400: 'The body is invalid, or customerNumber is not a phone number',
          401: 'No valid bearer token',
          404: "Another account's token",
          409: "ERR_NO_SENDER: the account's sender connection does not exist",
        },
      }),
      async (request, reply) => {
        const accountId = parseAccountId(request.params.accountId);
        const body = parseBody(SuppressionBody, request.body);
        const customerNumber = customerNumberOf(body.customerNumber, config);
        const expiresAt = body.expiresAt ? new Date(body.expiresAt) : null;
        if (expiresAt && expiresAt.getTime() <= Date.now()) {
          throw new HttpError(400, 'ERR_VALIDATION', 'expiresAt: must be in the future');
        }
        const { senderConnectionId } = await getAccountSettings(db, accountId);
        const senderNumber = await senderNumberOf(config, db, senderConnectionId);
        if (senderNumber === null) {
          throw new HttpError(
            409,
            'ERR_NO_SENDER',
            `the account's sender connection ${senderConnectionId} does not exist`,
          );
        }
        const reason = body.reason ?? 'opted_out';
        const created = await suppress(db, {
          senderNumber,
          customerNumber,
          reason,
          source: 'api',
          accountId,
          expiresAt,
        });
        if (reason === 'opted_out') {
          deps.metrics.optChanges.inc({ change: 'opted_out', source: 'api' });
        }
        request.log.info({ accountId, reason, created }, 'suppression set through the API');
        const row = await findSuppression(db, senderNumber, customerNumber, new Date(), reason);
        if (!row) {
          throw new Error('the suppression just set is not in force');
        }
        return reply.code(created ? 201 : 200).send(presentSuppression(row));
      },
    );

    app.delete<{
      Params: { accountId: string; customerNumber: string };
      Querystring: Record<string, string>;
    }>(
      '/v1/accounts/:accountId/whatsapp-suppressions/:customerNumber',
      documented({
        tags: ['suppressions'],
        summary: "Remove the account's suppressions of a number",
        description:
          'Every suppression of the number the account holds (of any of its sender numbers), or only `?reason=`. Messages go to the number again from the next FDR on.',
        security: SECURITY.api,
        params: SuppressionParams,
        querystring: SuppressionDeleteQuery,
        responses: {
          200: '`removed`: how many suppressions went',
          400: 'customerNumber is not a phone number, or reason is invalid',
          401: 'No valid bearer token',
          404: 'The account holds no suppression of the number (or another account’s token)',
        },
      }),
      async (request) => {
        const accountId = parseAccountId(request.params.accountId);
        const query = parseBody(SuppressionDeleteQuery, request.query);
        const customerNumber = customerNumberOf(request.params.customerNumber, config);
        const removed = await liftAccountSuppressions(db, accountId, customerNumber, query.reason);
        if (removed === 0) {
          throw new HttpError(
            404,
            'ERR_NOT_FOUND',
            'the account holds no suppression of that number',
          );
        }
        if (query.reason !== 'not_on_whatsapp') {
          deps.metrics.optChanges.inc({ change: 'opted_in', source: 'api' });
        }
        request.log.info({ accountId, removed }, 'suppression removed through the API');
        return { accountId, removed };
      },
    );
  };
}
