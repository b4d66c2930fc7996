/**
 * Scenario 5, duplicates and disorder: every FDR event is published three times; the sandbox's
 * delivery reports are collected, then delivered twice each with the whole stream shuffled; a
 * share of the customers tap "Reattempt delivery" and each reply is delivered twice too. One
 * send per attempt, every message's final status READ, one action (and one confirmation) per
 * reply.
 */
import { waitFor } from '../../helpers/env.ts';
import { replay, shuffle, startCollector } from '../lib/collector.ts';
import type { RunContext } from '../lib/context.ts';
import { check, sleep, type ScenarioResult } from '../lib/result.ts';
import { enableAccount, startStack } from '../lib/stack.ts';
import { ACCOUNT_ID, publishAll, settle, tally } from '../lib/traffic.ts';

export async function duplicates(ctx: RunContext): Promise<ScenarioResult> {
  const started = Date.now();
  const { events, replies } = ctx.profile.duplicates;
  const collector = await startCollector();
  const stack = await startStack('dups', ctx.servers, { callback: { url: collector.url } });
  try {
    await enableAccount(stack, ACCOUNT_ID);
    const list = ctx.customers('dups', events);
    await publishAll(stack.topic, list, 3);
    await settle(stack, list, { timeoutMs: ctx.profile.settleTimeoutMs, settleMs: 1_000 });
    // SENT, DELIVERED and READ of every message, collected.
    await waitFor(() => collector.requests.length >= events * 3, {
      timeoutMs: 60_000,
      intervalMs: 200,
      what: 'every report at the collector',
    });
    const reports = collector.requests.splice(0);
    const reportsRefused = await replay(stack.webhookUrl, shuffle([...reports, ...reports]));
    const readRows = async () => {
      const [row] = await stack.query<{ n: number }>(
        "SELECT COUNT(*) AS n FROM whatsapp_status_logs WHERE status = 'READ'",
      );
      return Number(row?.n ?? 0);
    };
    await waitFor(async () => (await readRows()) >= events && (await stack.pendingJobs()) === 0, {
      timeoutMs: ctx.profile.settleTimeoutMs,
      intervalMs: 250,
      what: 'every message READ',
    }).catch(() => undefined);
    const read = await readRows();

    // Replies: each tap is collected, then delivered twice, shuffled.
    const tapping = list.slice(0, replies);
    for (const c of tapping) {
      await stack.sandbox.tap({ to: `91${c.phone}`, choice: 'Reattempt delivery' });
    }
    const taps = collector.requests.splice(0);
    const repliesRefused = await replay(stack.webhookUrl, shuffle([...taps, ...taps]));
    const tapped = new Set(tapping.map((c) => c.shipmentId));
    const actions = () =>
      stack.wms.notifications.filter((n) => tapped.has(String(n.body.shipmentId)));
    await waitFor(async () => actions().length >= replies && (await stack.pendingJobs()) === 0, {
      timeoutMs: 60_000,
      intervalMs: 200,
      what: 'an action per reply',
    }).catch(() => undefined);
    await sleep(2_000);
    const perShipment = new Map<string, number>();
    for (const n of stack.wms.notifications) {
      const id = String(n.body.shipmentId);
      perShipment.set(id, (perShipment.get(id) ?? 0) + 1);
    }
    const actionsTaken = [...perShipment.values()].reduce((a, b) => a + b, 0);
    const doubleActions = [...perShipment.values()].filter((n) => n > 1).length;
    const strayActions = [...perShipment.keys()].filter((id) => !tapped.has(id)).length;
    const confirmations = new Map<string, number>();
    for (const s of stack.sandbox.sends) {
      if (s.outcome === 'success' && s.params.isTemplate !== 'true' && !s.template) {
        confirmations.set(s.to, (confirmations.get(s.to) ?? 0) + 1);
      }
    }
    const doubleConfirmations = [...confirmations.values()].filter((n) => n > 1).length;
    const t = tally(stack.sandbox.sends, list);
    const crashes = stack.crashes();
    return {
      scenario: 'duplicates',
      title: '5. Duplicates and disorder',
      seconds: Math.round((Date.now() - started) / 1000),
      figures: {
        events,
        published: events * 3,
        reportsPosted: reports.length * 2,
        repliesPosted: taps.length * 2,
        sent: t.sent,
        lost: t.lost,
        duplicates: t.duplicates,
        read,
        actions: actionsTaken,
        confirmations: [...confirmations.values()].reduce((a, b) => a + b, 0),
      },
      checks: [
        check('every event sent', t.lost === 0, t.lost ? `lost ${t.lostKeys.join(', ')}` : 0),
        check('one send per attempt', t.duplicates === 0, t.duplicateKeys.join(', ') || 0),
        check('every final status READ', read === events, `${read} of ${events}`),
        check(
          'every callback accepted',
          reportsRefused + repliesRefused === 0,
          `${reportsRefused + repliesRefused} refused`,
        ),
        check(
          'one action per reply',
          actionsTaken === replies && doubleActions === 0 && strayActions === 0,
          `${actionsTaken} for ${replies} replies, ${doubleActions} doubled, ${strayActions} stray`,
        ),
        check(
          'one confirmation per reply',
          confirmations.size === replies && doubleConfirmations === 0,
          `${confirmations.size} customers, ${doubleConfirmations} twice`,
        ),
        check('no process crashed', crashes === 0, crashes),
      ],
    };
  } finally {
    await stack.close();
    await collector.close();
  }
}
