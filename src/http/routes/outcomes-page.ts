/**
 * The outcomes page of an account (issue 13, point 5), `GET /settings/:accountId/outcomes?from=&to=`:
 * what this module answers once src/http/routes/settings-page.ts has admitted the visitor (the
 * settings page's session or a bearer token, the same account rules) and checked the account id.
 *
 * It reads the period's funnel twice from `whatsapp_attempt_outcomes` (src/outcomes/funnel.ts),
 * grouped by reason and by courier (both reads use the `(account_id, failed_at)` index; their
 * totals are the same attempts), and renders src/http/pages/outcomes-view.ts. A period that is
 * not one (src/outcomes/date-range.ts) answers 400 with the form and the problems, and reads
 * nothing.
 */
import * as v from 'valibot';

import type { Db } from '../../db/client.ts';
import { parseDateRange } from '../../outcomes/date-range.ts';
import { readFunnel } from '../../outcomes/funnel.ts';
import { renderOutcomesPage } from '../pages/outcomes-view.ts';

/** The page's query, for the API reference (parseDateRange judges it, with its own messages). */
export const OutcomesQuery = v.object({
  from: v.optional(
    v.pipe(
      v.string(),
      v.description('First day, `YYYY-MM-DD` (UTC); default 29 days before `to`.'),
    ),
  ),
  to: v.optional(v.pipe(v.string(), v.description('Last day, included; default today (UTC).'))),
});

export interface OutcomesPageRequest {
  accountId: number;
  /** The session's CSRF token for the logout form; null for a bearer visit. */
  csrf: string | null;
  query: { from?: unknown; to?: unknown };
}

export function outcomesPage(deps: { db: Db; now?: () => Date }) {
  const now = deps.now ?? (() => new Date());
  return async function answer(
    request: OutcomesPageRequest,
  ): Promise<{ status: number; body: string }> {
    const { accountId, csrf } = request;
    const period = parseDateRange(request.query, now());
    if (!period.ok) {
      return {
        status: 400,
        body: renderOutcomesPage({
          accountId,
          csrf,
          from: period.from,
          to: period.to,
          problems: period.problems,
          figures: null,
        }),
      };
    }
    const { range } = period;
    const query = { accountId, from: range.start, to: range.end };
    const [byReason, byCourier] = await Promise.all([
      readFunnel(deps.db, { ...query, groupBy: 'reason' }),
      readFunnel(deps.db, { ...query, groupBy: 'courier' }),
    ]);
    return {
      status: 200,
      body: renderOutcomesPage({
        accountId,
        csrf,
        from: range.from,
        to: range.to,
        problems: [],
        figures: { total: byReason.total, byReason: byReason.groups, byCourier: byCourier.groups },
      }),
    };
  };
}
