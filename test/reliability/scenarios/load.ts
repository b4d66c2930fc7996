/**
 * Scenario 7, load while failing: the worker crash and Gupshup fault scenarios together, at a
 * steady publish rate; the figures include publish-to-send latency (from each event's publish
 * call to the sandbox taking its send).
 */
import type { RunContext } from '../lib/context.ts';
import { check, type ScenarioResult } from '../lib/result.ts';
import { enableAccount, startStack } from '../lib/stack.ts';
import {
  ACCOUNT_ID,
  deliveryChecks,
  latency,
  publishAtRate,
  settle,
  tally,
} from '../lib/traffic.ts';
import { killRepeatedly } from './worker-crash.ts';

export async function loadWhileFailing(ctx: RunContext): Promise<ScenarioResult> {
  const started = Date.now();
  const { rate, seconds, faultRate, killEveryMs } = ctx.profile.load;
  const events = rate * seconds;
  const stack = await startStack('load', ctx.servers);
  try {
    await enableAccount(stack, ACCOUNT_ID);
    stack.sandbox.setFaults({ rate: faultRate, timeoutMs: 5_000 });
    const list = ctx.customers('load', events);
    let publishingDone = false;
    const publishing = publishAtRate(stack.topic, list, rate).finally(() => {
      publishingDone = true;
    });
    const killing = killRepeatedly(
      stack,
      Number.MAX_SAFE_INTEGER,
      killEveryMs,
      () => publishingDone,
    );
    const published = await publishing;
    const killed = await killing;
    const settled = await settle(stack, list, { timeoutMs: ctx.profile.settleTimeoutMs });
    const t = tally(stack.sandbox.sends, list);
    const lat = latency(stack.sandbox.sends, published);
    const crashes = stack.crashes();
    return {
      scenario: 'load-while-failing',
      title: '7. Load while failing',
      seconds: Math.round((Date.now() - started) / 1000),
      figures: {
        events,
        ratePerSecond: rate,
        kills: killed.kills,
        faults: stack.sandbox.sends.filter((s) => s.fault).length,
        sent: t.sent,
        lost: t.lost,
        duplicates: t.duplicates,
        p50ms: lat.p50,
        p95ms: lat.p95,
        p99ms: lat.p99,
        crashes,
      },
      checks: [
        ...deliveryChecks(t, settled.committed, killed.kills),
        check('no process crashed', crashes === 0, crashes),
      ],
    };
  } finally {
    await stack.close();
  }
}
