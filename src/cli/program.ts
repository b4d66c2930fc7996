/**
 * The `wa-notify` command line (commander): what each command takes, its help and examples, and
 * the exit codes — 0 done, 1 failed (a server unreachable, nothing to replay, confirmation
 * refused), 2 usage (unknown command, queue or option, a bad value, >10 jobs without --yes
 * where nobody can be asked). Commands connect with the service's own environment variables
 * (src/config.ts) only once their arguments are valid, so `--help` and usage errors need no
 * servers.
 *
 * Every command prints a readable table by default and one JSON document with `--json`.
 */
import { Command, CommanderError, Option } from 'commander';

import { loadConfig } from '../config.ts';
import type { Deps } from '../deps.ts';
import { safeErrorMessage } from '../errors.ts';
import type { QueueName } from '../queues/index.ts';
import { createApiToken, listApiTokens, revokeApiToken } from '../db/api-tokens.ts';
import {
  parseAccount,
  parseDuration,
  parseErrorCode,
  parseLimit,
  parseQueueName,
  parseSuppressionReason,
  parseTokenId,
} from './args.ts';
import { connectCli } from './context.ts';
import { CommandError, UsageError } from './errors.ts';
import { findFailedJobs, listFailed, queueOf, renderFailed } from './failed-jobs.ts';
import { describeFilter, type FailedFilter } from './filters.ts';
import { countQueues, renderQueues, setPaused } from './queue-state.ts';
import { renderReplay, replayFile, type ReplayAs } from './replay.ts';
import { renderRequeue, requeueJobs } from './requeue.ts';
import { listSenders, renderSenders, resumeSenderCommand } from './senders.ts';
import {
  loadShipment,
  loadShipmentEvidence,
  renderShipment,
  renderShipmentEvidence,
} from './shipment-view.ts';
import {
  addSuppression,
  listAccountSuppressions,
  removeSuppression,
  renderSuppressions,
} from './suppressions.ts';

/** Above this many matching jobs, `requeue` asks first (or wants --yes). */
export const CONFIRM_ABOVE = 10;

/** `failed` shows this many jobs unless --limit says otherwise. */
export const DEFAULT_FAILED_LIMIT = 50;

/** Where the CLI writes and whom it can ask; the terminal in main.ts, a fake in tests. */
export interface CliIo {
  out(text: string): void;
  err(text: string): void;
  /** Someone can answer a question (stdin is a terminal). */
  interactive: boolean;
  /** stdout is a terminal (a progress bar is welcome there). */
  stdoutIsTTY: boolean;
  /** Asks a yes/no question; resolves true for yes. */
  confirm(question: string): Promise<boolean>;
  /** A progress bar to `total`; only called when stdoutIsTTY. */
  progress?(total: number): { update(done: number): void; stop(): void };
}

interface FilterOptions {
  since?: number;
  reason?: string;
  code?: string;
  limit?: number;
  json?: boolean;
}

interface RequeueOptions extends FilterOptions {
  dryRun?: boolean;
  yes?: boolean;
}

const QUEUE_HELP = `queue name: one of fdr.validate, message.send, dlr.process, reply.route, activity.emit`;

const ENVIRONMENT_HELP = `
Environment:
  Reads the service's own variables: REDIS_URL (or REDIS_CLUSTER_NODES), QUEUE_PREFIX,
  DATABASE_URL, … (see the README's configuration table). Run it where the service's environment is set, e.g. in its container.

Exit codes:
  0 done   1 failed (server unreachable, nothing to replay, refused)   2 usage error`;

function examples(...lines: string[]): string {
  return `\nExamples:\n${lines.map((l) => `  $ ${l}`).join('\n')}\n`;
}

function addFilterOptions(command: Command, limitHelp: string): Command {
  return command
    .option(
      '--since <duration>',
      'only jobs that failed within this long (30m, 2h, 1d)',
      parseDuration,
    )
    .option('--reason <text>', 'only jobs whose error contains this text (any case)')
    .option(
      '--code <id>',
      'only jobs failed with this Gupshup error id (100 = gupshup_100) or code (http_503, timeout)',
      parseErrorCode,
    )
    .option('--limit <n>', limitHelp, parseLimit);
}

function filterOf(opts: FilterOptions, defaultLimit?: number): FailedFilter {
  return {
    sinceMs: opts.since,
    reason: opts.reason,
    code: opts.code,
    limit: opts.limit ?? defaultLimit,
  };
}

/**
 * Runs one command line (without `node` and the script name); resolves with the exit code.
 * `env` stands in for process.env in tests.
 */
export async function runCli(
  argv: readonly string[],
  io: CliIo,
  env?: Record<string, string | undefined>,
): Promise<number> {
  const print = (json: boolean | undefined, value: unknown, human: string) => {
    io.out(json ? `${JSON.stringify(value, null, 2)}\n` : human);
  };

  /** Connects, runs, and always closes the clients again. */
  const withDeps = async <T>(needs: { mysql: boolean }, run: (deps: Deps) => Promise<T>) => {
    const config = loadConfig(env);
    const deps = await connectCli(config, needs);
    try {
      return await run(deps);
    } finally {
      await deps.close();
    }
  };

  const program = new Command('wa-notify')
    .description(
      'Operate the WhatsApp failed-delivery notification service: see what is stuck and why, and fix it.',
    )
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.out(s), writeErr: (s) => io.err(s) })
    .showHelpAfterError('(add --help for usage)')
    .addHelpText(
      'after',
      `${examples(
        'wa-notify queues',
        'wa-notify failed message.send --code 100 --since 2h',
        'wa-notify requeue message.send --code 100 --dry-run',
        'wa-notify requeue message.send --code 100 --yes',
        'wa-notify shipment 4980116095129-90758',
        'wa-notify replay saved/fdr-event.json',
        'wa-notify pause message.send',
        'wa-notify suppression list --account 379',
      )}${ENVIRONMENT_HELP}\n`,
    );

  program
    .command('queues')
    .summary('job counts per queue and state, and which queues are paused')
    .description(
      'Job counts of every queue by state (waiting, active, delayed, failed, completed) and whether the queue is paused.\n\nCompleted jobs are kept for an hour, failed ones for a week.',
    )
    .option('--json', 'print JSON')
    .addHelpText('after', examples('wa-notify queues', 'wa-notify queues --json'))
    .action(async (opts: { json?: boolean }) => {
      const rows = await withDeps({ mysql: false }, (deps) => countQueues(deps.queues));
      print(opts.json, { queues: rows }, renderQueues(rows));
    });

  addFilterOptions(
    program
      .command('failed')
      .summary('list failed jobs of a queue with shipment, attempts and last error')
      .description(
        'List the failed jobs of one queue, newest failure first, with the shipment each belongs to (looked up in MySQL), the attempts made and the last error.',
      )
      .argument('<queue>', QUEUE_HELP, parseQueueName),
    `show at most n jobs (default ${DEFAULT_FAILED_LIMIT})`,
  )
    .option('--json', 'print JSON')
    .addHelpText(
      'after',
      examples(
        'wa-notify failed message.send',
        'wa-notify failed message.send --code 100 --since 2h',
        'wa-notify failed dlr.process --reason "does not exist" --limit 10 --json',
      ),
    )
    .action(async (queue: QueueName, opts: FilterOptions) => {
      const list = await withDeps({ mysql: true }, (deps) =>
        listFailed(deps, queue, filterOf(opts, DEFAULT_FAILED_LIMIT)),
      );
      print(opts.json, list, renderFailed(list));
    });

  addFilterOptions(
    program
      .command('requeue')
      .summary('re-queue failed jobs (a message already sent is never sent again)')
      .description(
        [
          'Move the matching failed jobs of a queue back to waiting, each with its full retry budget, and print how many.',
          "For message.send the message's outbox row goes back from failed to pending first; a message already sent is skipped (and reported), so a requeue never sends anything twice, and running the same requeue again finds nothing more to do.",
          `More than ${CONFIRM_ABOVE} matching jobs need a yes: asked on a terminal, --yes otherwise.`,
        ].join('\n\n'),
      )
      .argument('<queue>', QUEUE_HELP, parseQueueName),
    'requeue at most n jobs, newest failures first (default: all that match)',
  )
    .option('--dry-run', 'show what would be requeued and change nothing')
    .option('-y, --yes', `do not ask, even when more than ${CONFIRM_ABOVE} jobs match`)
    .option('--json', 'print JSON')
    .addHelpText(
      'after',
      examples(
        'wa-notify requeue message.send --code 100 --dry-run',
        'wa-notify requeue message.send --code 100 --since 2h --yes',
        'wa-notify requeue fdr.validate --limit 20',
      ),
    )
    .action(async (queue: QueueName, opts: RequeueOptions) => {
      const filter = filterOf(opts);
      const dryRun = opts.dryRun === true;
      const result = await withDeps({ mysql: true }, async (deps) => {
        const { jobs } = await findFailedJobs(queueOf(deps.queues, queue), filter);
        const described = describeFilter(filter);
        if (!dryRun && opts.yes !== true && jobs.length > CONFIRM_ABOVE) {
          if (!io.interactive) {
            throw new UsageError(
              `${jobs.length} failed ${queue} jobs match${described}: add --yes to requeue them, --dry-run to list them, or narrow with --since, --code, --reason or --limit`,
            );
          }
          if (
            !(await io.confirm(`Requeue ${jobs.length} failed ${queue} jobs${described}? [y/N] `))
          ) {
            throw new CommandError('ERR_ABORTED', 'nothing requeued');
          }
        }
        const bar =
          !dryRun && !opts.json && io.stdoutIsTTY && jobs.length > CONFIRM_ABOVE
            ? io.progress?.(jobs.length)
            : undefined;
        try {
          return await requeueJobs(deps, queue, jobs, {
            dryRun,
            filter: described,
            onProgress: bar ? (done) => bar.update(done) : undefined,
          });
        } finally {
          bar?.stop();
        }
      });
      print(opts.json, result, renderRequeue(result));
    });

  program
    .command('shipment')
    .summary("one shipment's messages, delivery status and timeline")
    .description(
      'Everything the service knows about one shipment: the FDR events taken in, the WhatsApp messages with their states (and job state), the delivery status rows and the timeline. Phone numbers are masked.',
    )
    .argument('<shipmentId>', 'the shipment id (externalShipmentID)')
    .option(
      '--evidence',
      "the customer's answers as evidence instead: message id, callback time, choice, the body's SHA-256 and whether the stored body still matches it",
    )
    .option('--json', 'print JSON')
    .addHelpText(
      'after',
      examples(
        'wa-notify shipment 4980116095129-90758',
        'wa-notify shipment 4980116095129-90758 --json',
        'wa-notify shipment 4980116095129-90758 --evidence',
      ),
    )
    .action(async (shipmentId: string, opts: { json?: boolean; evidence?: boolean }) => {
      if (opts.evidence) {
        const evidence = await withDeps({ mysql: true }, (deps) =>
          loadShipmentEvidence(deps, shipmentId.trim()),
        );
        print(opts.json, evidence, renderShipmentEvidence(evidence));
        return;
      }
      const view = await withDeps({ mysql: true }, (deps) => loadShipment(deps, shipmentId.trim()));
      print(opts.json, view, renderShipment(view));
    });

  program
    .command('replay')
    .summary('feed a saved FDR event or Gupshup webhook body through ingress')
    .description(
      [
        "Feed a saved event through the service's own ingress, for incident recovery.",
        "An FDR event (the WMS's JSON), a Pub/Sub push envelope or a Pub/Sub message is recorded in fdr_inbox and queued for fdr.validate, as if Pub/Sub had delivered it.",
        'A Gupshup webhook body (JSON, or the form body Gupshup posts) is stored in webhook_events and queued for dlr.process or reply.route, as if Gupshup had called the webhook.',
        'Both are idempotent: replaying an event already taken in changes nothing.',
      ].join('\n\n'),
    )
    .argument('<file>', 'the saved JSON (or form) body')
    .addOption(
      new Option('--as <kind>', 'treat the file as this kind instead of guessing').choices([
        'fdr',
        'webhook',
      ]),
    )
    .option('--json', 'print JSON')
    .addHelpText(
      'after',
      examples(
        'wa-notify replay saved/fdr-event.json',
        'wa-notify replay saved/pubsub-push.json',
        'wa-notify replay saved/gupshup-dlr.json --as webhook',
      ),
    )
    .action(async (file: string, opts: { as?: ReplayAs; json?: boolean }) => {
      const result = await withDeps({ mysql: true }, (deps) =>
        replayFile(
          {
            config: deps.config,
            db: deps.db,
            queues: deps.queues,
            metrics: deps.metrics,
            log: deps.log,
            maxEvents: deps.config.WEBHOOK_MAX_EVENTS,
          },
          file,
          opts.as,
        ),
      );
      print(opts.json, result, renderReplay(result));
    });

  const tokens = program
    .command('tokens')
    .summary('per-account API tokens: create, list, revoke')
    .description(
      'API tokens that reach one account only (its settings, connections, templates and shipments; the settings page takes them too). A token is shown once, when it is created; only its hash is stored. The admin token is API_TOKEN.',
    );
  tokens
    .command('create')
    .summary('create a token for one account and print it once')
    .requiredOption('--account <accountId>', 'the account the token reaches', parseAccount)
    .option('--name <name>', 'what the token is for (shown by list)')
    .option('--json', 'print JSON: {"id", "accountId", "name", "token"}')
    .addHelpText('after', examples('wa-notify tokens create --account 379 --name "ops dashboard"'))
    .action(async (opts: { account: number; name?: string; json?: boolean }) => {
      const name = opts.name?.trim().slice(0, 128) || null;
      const created = await withDeps({ mysql: true }, (deps) =>
        createApiToken(deps.db, opts.account, name),
      );
      const result = { id: created.id, accountId: opts.account, name, token: created.token };
      // The token alone on the last line, so a script can take it with `tail -n 1`.
      print(
        opts.json,
        result,
        `Token ${created.id} for account ${opts.account}${name ? ` (${name})` : ''}. It is shown only now:\n${created.token}\n`,
      );
    });
  tokens
    .command('list')
    .summary('list tokens (never their values)')
    .option('--account <accountId>', 'only this account', parseAccount)
    .option('--json', 'print JSON')
    .addHelpText('after', examples('wa-notify tokens list --account 379'))
    .action(async (opts: { account?: number; json?: boolean }) => {
      const rows = await withDeps({ mysql: true }, (deps) => listApiTokens(deps.db, opts.account));
      const human =
        rows.length === 0
          ? 'No tokens.\n'
          : rows
              .map(
                (t) =>
                  `${t.id}\taccount ${t.accountId}\t${t.name ?? '-'}\tcreated ${t.createdAt.toISOString()}\t${t.revokedAt ? `revoked ${t.revokedAt.toISOString()}` : 'live'}`,
              )
              .join('\n') + '\n';
      print(opts.json, { tokens: rows }, human);
    });
  tokens
    .command('revoke')
    .summary('revoke a token: it and its settings-page sessions stop working at once')
    .argument('<tokenId>', 'the id `tokens list` shows', parseTokenId)
    .option('--json', 'print JSON')
    .addHelpText('after', examples('wa-notify tokens revoke 4'))
    .action(async (tokenId: number, opts: { json?: boolean }) => {
      const revoked = await withDeps({ mysql: true }, (deps) => revokeApiToken(deps.db, tokenId));
      if (!revoked) {
        throw new CommandError('ERR_NOT_FOUND', `there is no live token ${tokenId}`);
      }
      print(opts.json, { id: tokenId, revoked: true }, `Token ${tokenId} revoked.\n`);
    });

  const sender = program
    .command('sender')
    .summary('sender connections paused or slowed down by Gupshup errors: list, resume')
    .description(
      'A sender whose credentials Gupshup refused or whose credit ran out (Enterprise 102, 103, 104, 123, 124; v2 1003) is paused for every worker: its messages wait, none fails, until it is resumed here or a probe send succeeds (every SENDER_PAUSE_PROBE_MS). A throttled sender (HTTP 429, v2 4001, Meta 130429) sends slower for a while.',
    );
  sender
    .command('list')
    .summary('each sender connection: paused or sending, its pace, why')
    .option('--json', 'print JSON')
    .addHelpText('after', examples('wa-notify sender list'))
    .action(async (opts: { json?: boolean }) => {
      const rows = await withDeps({ mysql: false }, (deps) => listSenders(deps));
      print(opts.json, { senders: rows }, renderSenders(rows));
    });
  sender
    .command('resume')
    .summary('resume a paused sender; its waiting messages go out')
    .argument('<connection>', 'sender connection id (`default`, or the id `sender list` shows)')
    .option('--json', 'print JSON')
    .addHelpText('after', examples('wa-notify sender resume default', 'wa-notify sender resume 12'))
    .action(async (connection: string, opts: { json?: boolean }) => {
      if (!/^[A-Za-z0-9_-]{1,64}$/.test(connection)) {
        throw new UsageError(`not a sender connection id: ${JSON.stringify(connection)}`);
      }
      const result = await withDeps({ mysql: false }, (deps) =>
        resumeSenderCommand(deps, connection),
      );
      const human = result.wasPaused
        ? `Sender ${connection} resumed; ${result.woken} waiting message(s) woken.\n`
        : `Sender ${connection} was not paused.\n`;
      print(opts.json, result, human);
    });

  const suppression = program
    .command('suppression')
    .summary('the numbers a sender does not message: list, add, remove')
    .description(
      "The suppression list: numbers an account's sender number does not message, because the customer opted out (STOP, or in WhatsApp) or the number is not on WhatsApp. An FDR for a suppressed number is recorded as not sent. Numbers take the country code (919812345678) or are read in DEFAULT_COUNTRY.",
    );
  suppression
    .command('list')
    .summary('suppressions in force, newest first')
    .option('--account <accountId>', 'only this account', parseAccount)
    .option('--reason <reason>', 'only opted_out or not_on_whatsapp', parseSuppressionReason)
    .option('--limit <n>', 'show at most n (default 100)', parseLimit)
    .option('--json', 'print JSON')
    .addHelpText('after', examples('wa-notify suppression list --account 379 --reason opted_out'))
    .action(
      async (opts: {
        account?: number;
        reason?: 'opted_out' | 'not_on_whatsapp';
        limit?: number;
        json?: boolean;
      }) => {
        const list = await withDeps({ mysql: true }, (deps) =>
          listAccountSuppressions(
            deps.db,
            {
              ...(opts.account !== undefined ? { accountId: opts.account } : {}),
              ...(opts.reason ? { reason: opts.reason } : {}),
            },
            opts.limit ?? 100,
          ),
        );
        print(opts.json, list, renderSuppressions(list));
      },
    );
  suppression
    .command('add')
    .summary("suppress a number for the account's sender")
    .argument('<customerNumber>', 'the customer number')
    .requiredOption('--account <accountId>', 'the account whose sender it is', parseAccount)
    .option(
      '--reason <reason>',
      'opted_out (the default) or not_on_whatsapp',
      parseSuppressionReason,
    )
    .option('--json', 'print JSON')
    .addHelpText('after', examples('wa-notify suppression add 919812345678 --account 379'))
    .action(
      async (
        number: string,
        opts: { account: number; reason?: 'opted_out' | 'not_on_whatsapp'; json?: boolean },
      ) => {
        const result = await withDeps({ mysql: true }, (deps) =>
          addSuppression(deps, opts.account, number, opts.reason ?? 'opted_out'),
        );
        const { suppression: s } = result;
        print(
          opts.json,
          result,
          `${s.customerNumber} ${result.created ? 'suppressed' : 'was suppressed already (renewed)'} for account ${opts.account} (${s.reason}, sender ${s.senderNumber}).\n`,
        );
      },
    );
  suppression
    .command('remove')
    .summary("remove the account's suppressions of a number (without --account: all of them)")
    .argument('<customerNumber>', 'the customer number')
    .option(
      '--account <accountId>',
      "only this account's suppressions (default: every suppression of the number, whoever set it)",
      parseAccount,
    )
    .option('--reason <reason>', 'only opted_out or not_on_whatsapp', parseSuppressionReason)
    .option('--json', 'print JSON')
    .addHelpText('after', examples('wa-notify suppression remove 919812345678 --account 379'))
    .action(
      async (
        number: string,
        opts: { account?: number; reason?: 'opted_out' | 'not_on_whatsapp'; json?: boolean },
      ) => {
        const result = await withDeps({ mysql: true }, (deps) =>
          removeSuppression(deps, opts.account ?? null, number, opts.reason),
        );
        const whose = opts.account === undefined ? '' : ` for account ${opts.account}`;
        print(
          opts.json,
          result,
          `${result.removed} suppression(s) of that number removed${whose}.\n`,
        );
      },
    );

  for (const paused of [true, false]) {
    const verb = paused ? 'pause' : 'resume';
    program
      .command(verb)
      .summary(
        paused
          ? 'stop workers taking new jobs from a queue'
          : 'let workers take jobs from a paused queue again',
      )
      .description(
        paused
          ? 'Pause a queue: every worker replica stops taking new jobs from it (jobs already running finish). Jobs keep arriving and wait. Undo with `wa-notify resume <queue>`.'
          : 'Resume a paused queue: workers take its waiting jobs again.',
      )
      .argument('<queue>', QUEUE_HELP, parseQueueName)
      .option('--json', 'print JSON')
      .addHelpText('after', examples(`wa-notify ${verb} message.send`))
      .action(async (queue: QueueName, opts: { json?: boolean }) => {
        const result = await withDeps({ mysql: false }, (deps) =>
          setPaused(deps.queues, queue, paused),
        );
        const human = result.changed
          ? `${queue} ${paused ? 'paused' : 'resumed'}.\n`
          : `${queue} was already ${paused ? 'paused' : 'running'}.\n`;
        print(opts.json, result, human);
      });
  }

  try {
    await program.parseAsync(argv, { from: 'user' });
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      // Commander has printed its message (or the help) already.
      return err.exitCode === 0 ? 0 : 2;
    }
    if (err instanceof UsageError) {
      io.err(`wa-notify: ${err.message}\n`);
      return 2;
    }
    io.err(`wa-notify: ${err instanceof CommandError ? err.message : describeError(err)}\n`);
    return 1;
  }
}

/**
 * An unexpected error, fit to print: drizzle's own message quotes the query's parameters (names,
 * numbers), so a driver error is told by its cause's code and message, cut and masked as in logs.
 */
function describeError(err: unknown): string {
  const cause = err instanceof Error && err.cause instanceof Error ? err.cause : null;
  const code: unknown = cause && 'code' in cause ? cause.code : undefined;
  return cause && typeof code === 'string'
    ? `${code}: ${safeErrorMessage(cause)}`
    : safeErrorMessage(err);
}
