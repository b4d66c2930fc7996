/**
 * `GET /v1/accounts/:accountId/whatsapp-outcomes?from=&to=&groupBy=`: the outcomes funnel of a
 * period (src/outcomes/funnel.ts `readFunnel`): per reason, courier, template or day, the
 * attempts reaching each stage, the rates between them, the rescue rate and that of the attempts
 * not messaged. Bearer: the admin token, or the account's own; `accountId=all` (every account)
 * is the admin's alone, and is 404 for an account token, as another account is. Period and
 * grouping rules: src/outcomes/period.ts.
 */
import type { FastifyInstance } from 'fastify';
import * as v from 'valibot';

import type { Db } from '../../db/client.ts';
import { HttpError } from '../../errors.ts';
import { FUNNEL_GROUPS, readFunnel } from '../../outcomes/funnel.ts';
import { MAX_SPAN_DAYS, parseFunnelPeriod } from '../../outcomes/period.ts';
import { requireApiAuth, type ApiAuth } from '../auth.ts';
import { documented, SECURITY } from '../openapi.ts';
import { AccountId, parseAccountId, parseBody } from '../validation.ts';

const OutcomesParams = v.object({
  accountId: v.union([v.literal('all'), AccountId]),
});

const OutcomesQuery = v.object({
  from: v.optional(
    v.pipe(
      v.string(),
      v.description('Start, inclusive: YYYY-MM-DD (UTC midnight) or an ISO date-time with offset'),
    ),
  ),
  to: v.optional(
    v.pipe(
      v.string(),
      v.description('End, exclusive: an ISO date-time, or YYYY-MM-DD for the end of that day'),
    ),
  ),
  groupBy: v.optional(v.picklist(FUNNEL_GROUPS)),
});

export function outcomeRoutes(deps: { db: Db; auth: ApiAuth }) {
  return async (app: FastifyInstance): Promise<void> => {
    app.addHook('onRequest', requireApiAuth(deps.auth));
    app.get<{ Params: { accountId: string }; Querystring: Record<string, string> }>(
      '/v1/accounts/:accountId/whatsapp-outcomes',
      documented({
        tags: ['outcomes'],
        summary: 'The outcomes funnel of failed-delivery attempts',
        description: `What became of the period's failed-delivery attempts (by the time delivery failed), grouped by \`reason\` (default), \`courier\`, \`template\` or \`day\` (UTC): per group and in \`total\`, \`counts\` (attempts, messaged, sent, delivered, read, replied, actioned, rescued, failedAgain, failedAgainSameReason, rto, cancelled, open, notHonoured, notMessaged, notMessagedDelivered), \`rates\` (sent ÷ messaged, delivered ÷ sent, read ÷ delivered, replied ÷ delivered, actioned ÷ replied, rescueRate = rescued ÷ messaged; four decimals, null over 0), \`notMessaged\` (attempts not messaged because WhatsApp was off or the number suppressed, and their rescue rate) and \`lift\`. Default period: the last 30 days; at most ${MAX_SPAN_DAYS} days. \`all\` (admin only): every account.`,
        security: SECURITY.api,
        params: OutcomesParams,
        querystring: OutcomesQuery,
        responses: {
          200: '`accountId`, `from`, `to`, `groupBy`, `total` and `groups`',
          400: 'accountId, from, to or groupBy is invalid, or the period is empty or too long',
          401: 'No valid bearer token',
          404: "Another account's token, or `all` with an account token",
          429: 'Too many failed attempts from this address',
        },
      }),
      async (request) => {
        const raw = request.params.accountId;
        const accountId = raw === 'all' ? 'all' : parseAccountId(raw);
        if (accountId === 'all' && request.principal?.kind !== 'admin') {
          throw new HttpError(404, 'ERR_NOT_FOUND', 'no such account');
        }
        const query = parseBody(
          v.object({
            from: v.optional(v.string()),
            to: v.optional(v.string()),
            groupBy: v.optional(v.string()),
          }),
          request.query,
        );
        const result = parseFunnelPeriod(query, new Date());
        if (!result.ok) {
          throw new HttpError(400, 'ERR_VALIDATION', result.reason);
        }
        return readFunnel(deps.db, { accountId, ...result.period });
      },
    );
  };
}
