/**
 * The clients one CLI command uses: the service's own `createDeps` (same environment variables,
 * same queue prefix and options), with logs on stderr so stdout stays clean for `--json`, and a
 * quick reachability check so a command fails in seconds with a clear message instead of waiting
 * on a Redis or MySQL that is down.
 */
import { once } from 'node:events';

import { pino } from 'pino';

import type { Config } from '../config.ts';
import { pingDatabase } from '../db/health.ts';
import { createDeps, type Deps } from '../deps.ts';
import { safeErrorMessage } from '../errors.ts';
import { createLog } from '../log.ts';
import { describeRedis } from '../redis.ts';
import { withTimeout } from '../timeout.ts';
import { CommandError } from './errors.ts';

const CONNECT_TIMEOUT_MS = 6_000;

/**
 * Service logs are for the service: a command reports its own problems in one line, so the
 * clients' warnings (one per queue when Redis is down) would only repeat it. Errors still show.
 */
function cliLogLevel(level: Config['LOG_LEVEL']): Config['LOG_LEVEL'] {
  return level === 'silent' || level === 'fatal' ? level : 'error';
}

/** `host:port` of a URL, never its credentials. */
function hostOf(url: string): string {
  const u = new URL(url);
  return `${u.hostname}:${u.port || '(default port)'}`;
}

/**
 * Builds the clients and checks Redis (always) and MySQL (when `mysql`); throws CommandError
 * naming the server that cannot be reached.
 */
export async function connectCli(config: Config, needs: { mysql: boolean }): Promise<Deps> {
  const log = createLog(cliLogLevel(config.LOG_LEVEL), pino.destination({ fd: 2, sync: true }));
  const deps = createDeps(config, log);
  try {
    await withTimeout(
      deps.redis.status === 'ready'
        ? Promise.resolve()
        : once(deps.redis, 'ready').then(() => undefined),
      CONNECT_TIMEOUT_MS,
      'Redis connection',
    ).catch((err: unknown) => {
      throw new CommandError(
        'ERR_REDIS',
        `cannot reach ${describeRedis(config)}: ${safeErrorMessage(err)}`,
      );
    });
    if (needs.mysql) {
      await withTimeout(pingDatabase(deps.db), CONNECT_TIMEOUT_MS, 'MySQL').catch(
        (err: unknown) => {
          throw new CommandError(
            'ERR_MYSQL',
            `cannot reach MySQL at ${hostOf(config.DATABASE_URL)}: ${safeErrorMessage(err)}`,
          );
        },
      );
    }
    return deps;
  } catch (err) {
    await deps.close().catch(() => undefined);
    throw err;
  }
}
