/**
 * Scenario 3, MySQL outage: the service reaches MySQL through the runner's TCP proxy, which is
 * cut mid-run (open connections dropped, new ones refused) and restored later. While it is cut
 * the ingress must refuse to take work it cannot record (the webhook answers 503, Pub/Sub
 * messages are nacked), jobs retry, no process crashes; once it returns, nothing is lost and
 * nothing is sent twice.
 */
import type { RunContext } from '../lib/context.ts';
import { check, sleep, type ScenarioResult } from '../lib/result.ts';
import { enableAccount, probeWebhook, startStack } from '../lib/stack.ts';
import { ACCOUNT_ID, deliveryChecks, publishAtRate, settle, tally } from '../lib/traffic.ts';

export async function mysqlOutage(ctx: RunContext): Promise<ScenarioResult> {
  const started = Date.now();
  const { events, rate, cutMs } = ctx.profile.mysql;
  const stack = await startStack('mysql', ctx.servers);
  try {
    await enableAccount(stack, ACCOUNT_ID);
    const list = ctx.customers('mysql', events);
    const publishing = publishAtRate(stack.topic, list, rate);
    await sleep(Math.min((events / rate / 3) * 1000, 10_000));
    ctx.mysqlProxy.cut();
    const cutAt = Date.now();
    // Give the pools a moment to notice, then ask as a client would.
    await sleep(Math.min(2_000, cutMs / 2));
    const webhookDuringCut = await probeWebhook(stack);
    const readyz = await fetch(`${stack.apiUrl}/readyz`);
    const readyDuringCut = readyz.status;
    await sleep(Math.max(cutMs - (Date.now() - cutAt), 0));
    ctx.mysqlProxy.restore();
    const cutFor = Date.now() - cutAt;
    await publishing;
    const settled = await settle(stack, list, { timeoutMs: ctx.profile.settleTimeoutMs });
    const t = tally(stack.sandbox.sends, list);
    const crashes = stack.crashes();
    return {
      scenario: 'mysql-outage',
      title: '3. MySQL outage',
      seconds: Math.round((Date.now() - started) / 1000),
      figures: {
        events,
        cutMs: cutFor,
        webhookDuringCut,
        readyzDuringCut: readyDuringCut,
        sent: t.sent,
        lost: t.lost,
        duplicates: t.duplicates,
        crashes,
        recoveredMs: settled.ms,
      },
      checks: [
        ...deliveryChecks(t, settled.committed),
        check(
          'the webhook refuses with 503 while MySQL is away',
          webhookDuringCut === 503,
          webhookDuringCut,
        ),
        check('/readyz says 503 while MySQL is away', readyDuringCut === 503, readyDuringCut),
        check('no process crashed', crashes === 0, crashes),
      ],
    };
  } finally {
    ctx.mysqlProxy.restore();
    await stack.close();
  }
}
