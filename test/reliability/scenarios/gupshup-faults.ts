/**
 * Scenario 4, Gupshup faults: the sandbox fails a share of all sends with a mix of 5xx, 429,
 * answers held past the service's timeout and connections dropped after the request was read
 * (the last two are sends Gupshup took: only their delivery reports, which carry no `extra`, can
 * tell). A few sends meet a permanent error (a service disabled on the account) instead: they must end in the
 * failed set and go out once after `wa-notify requeue`. Every message sent exactly once.
 */
import { runCli } from '../lib/cli.ts';
import type { RunContext } from '../lib/context.ts';
import { check, sleep, type ScenarioResult } from '../lib/result.ts';
import { enableAccount, startStack } from '../lib/stack.ts';
import { ACCOUNT_ID, publishAtRate, settle, tally } from '../lib/traffic.ts';

/**
 * Gupshup's "INTERNATIONAL_PHONE service is disabled": a permanent error of this message, not
 * worth retrying until an operator has the service enabled and re-queues it.
 */
const PERMANENT_CODE = '175';

export async function gupshupFaults(ctx: RunContext): Promise<ScenarioResult> {
  const started = Date.now();
  const { events, rate, faultRate, permanent } = ctx.profile.faults;
  const stack = await startStack('faults', ctx.servers);
  try {
    await enableAccount(stack, ACCOUNT_ID);
    stack.sandbox.setFaults({ rate: faultRate, timeoutMs: 5_000 });
    const list = ctx.customers('faults', events);
    const publishing = publishAtRate(stack.topic, list, rate);
    await sleep(1_000);
    stack.sandbox.failNext(
      ...Array.from({ length: permanent }, () => ({ kind: 'error' as const, id: PERMANENT_CODE })),
    );
    await publishing;
    const first = await settle(stack, list, {
      timeoutMs: ctx.profile.settleTimeoutMs,
      expectSent: events - permanent,
    });
    const failedRows = await stack.query<{ n: number }>(
      "SELECT COUNT(*) AS n FROM notification_outbox WHERE status = 'failed' AND error_code = ?",
      [`gupshup_${PERMANENT_CODE}`],
    );
    const failedForGood = Number(failedRows[0]?.n ?? 0);
    const requeue = await runCli(stack.env, [
      'requeue',
      'message.send',
      '--code',
      PERMANENT_CODE,
      '--yes',
    ]);
    const settled = await settle(stack, list, { timeoutMs: ctx.profile.settleTimeoutMs });
    const t = tally(stack.sandbox.sends, list);
    const faults = stack.sandbox.sends.filter((s) => s.fault).length;
    const tookButLost = stack.sandbox.sends.filter(
      (s) => s.fault === 'timeout' || s.fault === 'drop',
    ).length;
    const crashes = stack.crashes();
    return {
      scenario: 'gupshup-faults',
      title: '4. Gupshup faults',
      seconds: Math.round((Date.now() - started) / 1000),
      figures: {
        events,
        sends: stack.sandbox.sends.length,
        faults,
        acceptedAnswerLost: tookButLost,
        failedForGood,
        sent: t.sent,
        lost: t.lost,
        duplicates: t.duplicates,
        crashes,
      },
      checks: [
        check('every event sent', t.lost === 0, t.lost ? `lost ${t.lostKeys.join(', ')}` : 0),
        check('nothing sent twice', t.duplicates === 0, t.duplicateKeys.join(', ') || 0),
        check(
          'faults were injected',
          faults > 0 && tookButLost > 0,
          `${faults} (${tookButLost} taken, answer lost)`,
        ),
        check(
          'permanent errors end in the failed set',
          failedForGood === permanent && first.quiet,
          `${failedForGood} of ${permanent}`,
        ),
        check(
          'wa-notify requeue sends them once',
          requeue.code === 0 && settled.committed === events,
          `exit ${requeue.code}, ${settled.committed} committed${requeue.code ? `: ${requeue.stderr.trim()}` : ''}`,
        ),
        check('no process crashed', crashes === 0, crashes),
      ],
    };
  } finally {
    await stack.close();
  }
}
