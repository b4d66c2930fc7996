/**
 * Scenario 6, hostile input: generated bodies (fast-check, see ../hostile.ts) at the push
 * endpoint, the webhook, the settings API, the login form and the tracked link of the running
 * api process, with the worker running beside it. Zero 5xx, zero process crashes, every
 * rejection a 4xx with a reason, no row written for a rejected request, and /readyz 200 at the
 * end.
 */
import { runHostileInput } from '../hostile.ts';
import { runCli } from '../lib/cli.ts';
import type { RunContext } from '../lib/context.ts';
import { check, type ScenarioResult } from '../lib/result.ts';
import { enableAccount, RUN_SECRETS, SECRETS, startStack } from '../lib/stack.ts';
import { ACCOUNT_ID } from '../lib/traffic.ts';

export async function hostileInput(ctx: RunContext): Promise<ScenarioResult> {
  const started = Date.now();
  const stack = await startStack('hostile', ctx.servers, {
    // A valid tracked link is a 302 to the portal.
    env: { PORTAL_BASE_URL: 'https://portal.example/track' },
  });
  try {
    await enableAccount(stack, ACCOUNT_ID);
    const created = await runCli(stack.env, [
      'tokens',
      'create',
      '--account',
      String(ACCOUNT_ID),
      '--name',
      'hostile',
      '--json',
    ]);
    if (created.code !== 0) {
      throw new Error(`wa-notify tokens create failed: ${created.stderr}`);
    }
    const accountToken = (JSON.parse(created.stdout) as { token: string }).token;
    RUN_SECRETS.push(accountToken);
    const figures = await runHostileInput(
      {
        url: stack.apiUrl,
        webhookToken: SECRETS.WEBHOOK_TOKEN,
        apiToken: SECRETS.API_TOKEN,
        accountId: ACCOUNT_ID,
        accountToken,
        databaseUrl: `${ctx.servers.mysqlDirectUrl}/${stack.database}`,
        trackLinkSecret: SECRETS.TRACK_LINK_SECRET,
      },
      { runs: ctx.profile.hostile.runs },
    );
    const readyz = (await fetch(`${stack.apiUrl}/readyz`)).status;
    const crashes = stack.crashes();
    const samples = figures.samples.slice(0, 5).join(' | ');
    return {
      scenario: 'hostile-input',
      title: '6. Hostile input',
      seconds: Math.round((Date.now() - started) / 1000),
      figures: {
        requests: figures.requests,
        server5xx: figures.server5xx,
        rejectedWithoutReason: figures.rejectedWithoutReason,
        rowsWrittenOnRejection: figures.rowsWrittenOnRejection,
        transportErrors: figures.transportErrors,
        crashes,
        readyz,
      },
      checks: [
        check(
          `at least ${ctx.profile.hostile.runs} requests`,
          figures.requests >= ctx.profile.hostile.runs,
          figures.requests,
        ),
        check('zero 5xx', figures.server5xx === 0, figures.server5xx ? samples : 0),
        check(
          'every rejection a 4xx with a reason',
          figures.rejectedWithoutReason === 0,
          figures.rejectedWithoutReason ? samples : 0,
        ),
        check(
          'no row written for a rejected request',
          figures.rowsWrittenOnRejection === 0,
          figures.rowsWrittenOnRejection ? samples : 0,
        ),
        check('every request answered', figures.transportErrors === 0, figures.transportErrors),
        check('no process crashed', crashes === 0, crashes),
        check('/readyz 200 at the end', readyz === 200, readyz),
      ],
    };
  } finally {
    await stack.close();
  }
}
