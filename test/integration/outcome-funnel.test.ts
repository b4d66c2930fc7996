/**
 * The funnel's read of `whatsapp_attempt_outcomes`: counts per group within the period (the
 * bounds inclusive of `from`, exclusive of `to`), one account or all, the rates between the
 * stages and the not-messaged comparison.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { createDb, type DbHandle } from '../../src/db/client.ts';
import { prepareDatabase } from '../../src/db/migrate.ts';
import { whatsappAttemptOutcomes } from '../../src/db/schema.ts';
import { createLog } from '../../src/log.ts';
import { rate, readFunnel } from '../../src/outcomes/funnel.ts';
import { createTestEnv } from '../helpers/env.ts';

const env = createTestEnv('outcomefunnel');
let handle: DbHandle;

type Row = typeof whatsappAttemptOutcomes.$inferInsert;
let next = 0;
function attempt(row: Partial<Row> & { failedAt: Date }): Row {
  next += 1;
  return {
    shipmentId: `FUN-${next}`,
    attempt: 1,
    accountId: 1,
    reason: 'customer_unreachable',
    courier: 'Delhivery',
    ...row,
  };
}
const DAY1 = new Date('2026-11-01T10:00:00Z');
const DAY2 = new Date('2026-11-02T10:00:00Z');
const at = new Date('2026-11-01T11:00:00Z');

beforeAll(async () => {
  await prepareDatabase(env.env.DATABASE_URL!, createLog('silent'));
  handle = createDb(env.env.DATABASE_URL!, 2);
  const messaged = { messaged: 1, templateId: 'tpl-a', sentAt: at };
  await handle.db.insert(whatsappAttemptOutcomes).values([
    // Messaged, delivered, read, replied with a reattempt, then delivered: rescued.
    attempt({
      failedAt: DAY1,
      ...messaged,
      deliveredAt: at,
      readAt: at,
      repliedAt: at,
      action: 'reattempt',
      actionAt: at,
      outcome: 'delivered',
    }),
    // Messaged, delivered, no answer, failed again for the same reason.
    attempt({
      failedAt: DAY1,
      ...messaged,
      deliveredAt: at,
      outcome: 'failed_again',
      nextReason: 'customer_unreachable',
    }),
    // Messaged on day 2, replied without a read report, courier did not honour it, RTO.
    attempt({
      failedAt: DAY2,
      ...messaged,
      deliveredAt: at,
      repliedAt: at,
      action: 'reschedule',
      chosenDate: '2026-11-04',
      notHonoured: 'other_date',
      notHonouredAt: at,
      outcome: 'rto',
    }),
    // Another reason and courier, still open.
    attempt({ failedAt: DAY2, reason: 'address_issue', courier: 'Bluedart', ...messaged }),
    // Not messaged: WhatsApp off (delivered anyway), opted out (RTO), bad phone (left out).
    attempt({ failedAt: DAY1, notMessagedCode: 'whatsapp_disabled', outcome: 'delivered' }),
    attempt({ failedAt: DAY1, notMessagedCode: 'opted_out', outcome: 'rto' }),
    attempt({ failedAt: DAY2, notMessagedCode: 'invalid_phone', outcome: 'delivered' }),
    // Another account, and one outside the period.
    attempt({ failedAt: DAY1, accountId: 2, ...messaged, outcome: 'delivered' }),
    attempt({ failedAt: new Date('2026-11-03T00:00:00Z'), ...messaged, outcome: 'delivered' }),
  ]);
});

afterAll(async () => {
  await handle?.close();
  await env.dropDatabase();
});

const period = { from: new Date('2026-11-01T00:00:00Z'), to: new Date('2026-11-03T00:00:00Z') };

describe('the outcomes funnel', () => {
  it('counts each stage per reason within the period, with the rates and the comparison', async () => {
    const funnel = await readFunnel(handle.db, { accountId: 1, groupBy: 'reason', ...period });
    expect(funnel.groups.map((g) => g.key)).toEqual(['address_issue', 'customer_unreachable']);
    const unreachable = funnel.groups[1]!;
    expect(unreachable.counts).toMatchObject({
      attempts: 6,
      messaged: 3,
      sent: 3,
      delivered: 3,
      read: 1,
      replied: 2,
      actioned: 2,
      rescued: 1,
      failedAgain: 1,
      failedAgainSameReason: 1,
      rto: 1,
      open: 0,
      notHonoured: 1,
      notMessaged: 2,
      notMessagedDelivered: 1,
    });
    expect(unreachable.rates).toEqual({
      sent: 1,
      delivered: 1,
      read: rate(1, 3),
      replied: rate(2, 3),
      actioned: 1,
      rescueRate: rate(1, 3),
    });
    expect(unreachable.notMessaged).toEqual({ attempts: 2, delivered: 1, rescueRate: 0.5 });
    expect(unreachable.lift).toBe(Math.round((rate(1, 3)! - 0.5) * 10_000) / 10_000);
    expect(funnel.groups[0]!.counts).toMatchObject({ attempts: 1, messaged: 1, open: 1 });
    expect(funnel.groups[0]!.notMessaged.rescueRate).toBeNull();
    expect(funnel.total.counts).toMatchObject({ attempts: 7, messaged: 4, rescued: 1 });
    expect(funnel.total.rates.rescueRate).toBe(0.25);
  });

  it('groups by courier, template and day', async () => {
    const byCourier = await readFunnel(handle.db, { accountId: 1, groupBy: 'courier', ...period });
    expect(byCourier.groups.map((g) => [g.key, g.counts.attempts, g.counts.notHonoured])).toEqual([
      ['Bluedart', 1, 0],
      ['Delhivery', 6, 1],
    ]);
    const byTemplate = await readFunnel(handle.db, {
      accountId: 1,
      groupBy: 'template',
      ...period,
    });
    expect(byTemplate.groups.map((g) => [g.key, g.counts.messaged])).toEqual([
      [null, 0],
      ['tpl-a', 4],
    ]);
    const byDay = await readFunnel(handle.db, { accountId: 1, groupBy: 'day', ...period });
    expect(byDay.groups.map((g) => [g.key, g.counts.attempts])).toEqual([
      ['2026-11-01', 4],
      ['2026-11-02', 3],
    ]);
  });

  it("reads every account's attempts for all", async () => {
    const funnel = await readFunnel(handle.db, { accountId: 'all', groupBy: 'reason', ...period });
    expect(funnel.total.counts.attempts).toBe(8);
    expect(funnel.total.counts.rescued).toBe(2);
  });
});
