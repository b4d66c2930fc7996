/**
 * Scenario 1, worker crash: events published at a steady rate while the worker process is
 * SIGKILLed at random moments and started again each time; delivery reports as the seed shows
 * them (no `extra`). Right after each kill the runner counts the sends "in the window": taken by
 * Gupshup (the sandbox answered them) but not committed in MySQL. Every event must be sent, with
 * at most one duplicate per kill (the target is none).
 */
import type { RunContext } from '../lib/context.ts';
import { between, check, sleep, type ScenarioResult } from '../lib/result.ts';
import { enableAccount, startStack, type Stack } from '../lib/stack.ts';
import {
  accepted,
  ACCOUNT_ID,
  deliveryChecks,
  publishAtRate,
  settle,
  tally,
  type Customer,
} from '../lib/traffic.ts';
import { keyOfSend } from '../../helpers/outbox.ts';

/** Sends the sandbox took whose outbox row MySQL does not hold as sent (right now). */
export async function sendsInWindow(stack: Stack): Promise<number> {
  const taken = new Set(stack.sandbox.sends.filter(accepted).map((s) => keyOfSend(s)));
  const open = await stack.query<{ k: string }>(
    "SELECT idempotency_key AS k FROM notification_outbox WHERE status <> 'sent'",
  );
  return open.filter((row) => taken.has(row.k)).length;
}

/** Kills and restarts the worker `kills` times, `gapMs` apart; returns sends in the window. */
export async function killRepeatedly(
  stack: Stack,
  kills: number,
  gapMs: [number, number],
  until?: () => boolean,
): Promise<{ kills: number; inWindow: number }> {
  let done = 0;
  let inWindow = 0;
  while (done < kills && !(until?.() ?? false)) {
    await sleep(between(gapMs[0], gapMs[1]));
    await stack.killWorker(0);
    done++;
    inWindow += await sendsInWindow(stack);
    await stack.startWorker(0);
  }
  return { kills: done, inWindow };
}

export async function workerCrash(ctx: RunContext): Promise<ScenarioResult> {
  const started = Date.now();
  const { events, kills } = ctx.profile.crash;
  const stack = await startStack('crash', ctx.servers);
  try {
    await enableAccount(stack, ACCOUNT_ID);
    const list: Customer[] = ctx.customers('crash', events);
    // Spread over the kills: a worker restart takes about a second.
    const publishing = publishAtRate(stack.topic, list, Math.max(events / (kills * 1.6), 20));
    const killing = killRepeatedly(stack, kills, [200, 900]);
    await publishing;
    const killed = await killing;
    const settled = await settle(stack, list, { timeoutMs: ctx.profile.settleTimeoutMs });
    const t = tally(stack.sandbox.sends, list);
    return {
      scenario: 'worker-crash',
      title: '1. Worker crash',
      seconds: Math.round((Date.now() - started) / 1000),
      figures: {
        events,
        kills: killed.kills,
        sent: t.sent,
        lost: t.lost,
        duplicates: t.duplicates,
        inWindowAtKill: killed.inWindow,
        crashes: stack.crashes(),
        settledMs: settled.ms,
      },
      checks: [
        ...deliveryChecks(t, settled.committed, killed.kills),
        check('no process crashed', stack.crashes() === 0, stack.crashes()),
      ],
    };
  } finally {
    await stack.close();
  }
}
