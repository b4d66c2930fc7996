/**
 * Scenario 2, Redis restart: the run's own Redis (AOF, `appendfsync everysec`) is SIGKILLed mid-run
 * and started again on the same data after a pause. The service processes keep running: they
 * must reconnect by themselves, and what the last second of writes lost is made good by the
 * sweeper from MySQL. Nothing lost, nothing sent twice.
 */
import type { RunContext } from '../lib/context.ts';
import { check, sleep, type ScenarioResult } from '../lib/result.ts';
import { enableAccount, probeWebhook, startStack } from '../lib/stack.ts';
import { ACCOUNT_ID, deliveryChecks, publishAtRate, settle, tally } from '../lib/traffic.ts';

export async function redisRestart(ctx: RunContext): Promise<ScenarioResult> {
  const started = Date.now();
  const { events, rate, downMs } = ctx.profile.redis;
  const stack = await startStack('redis', ctx.servers);
  try {
    await enableAccount(stack, ACCOUNT_ID);
    const list = ctx.customers('redis', events);
    const publishing = publishAtRate(stack.topic, list, rate);
    // Mid-run: about half the events are out.
    await sleep((events / rate / 2) * 1000);
    await ctx.redis.kill();
    const down = Date.now();
    // Ask as Gupshup and a load balancer would, once the clients have noticed.
    await sleep(Math.min(1_000, downMs / 2));
    const webhookDuringOutage = await probeWebhook(stack);
    const readyDuringOutage = (await fetch(`${stack.apiUrl}/readyz`)).status;
    await sleep(Math.max(downMs - (Date.now() - down), 0));
    await ctx.redis.start();
    const downFor = Date.now() - down;
    await publishing;
    const settled = await settle(stack, list, { timeoutMs: ctx.profile.settleTimeoutMs });
    const t = tally(stack.sandbox.sends, list);
    const crashes = stack.crashes();
    return {
      scenario: 'redis-restart',
      title: '2. Redis restart',
      seconds: Math.round((Date.now() - started) / 1000),
      figures: {
        events,
        redisDownMs: downFor,
        webhookDuringOutage,
        readyzDuringOutage: readyDuringOutage,
        sent: t.sent,
        lost: t.lost,
        duplicates: t.duplicates,
        crashes,
        recoveredMs: settled.ms,
      },
      checks: [
        ...deliveryChecks(t, settled.committed),
        check(
          'recovered without a process restart',
          crashes === 0 && settled.quiet,
          `crashes ${crashes}`,
        ),
      ],
    };
  } finally {
    await stack.close();
  }
}
