/**
 * Entry point: `npm start` runs every role in one process; `--role api|worker|subscriber`
 * (repeatable or comma-separated) or ROLES runs a subset. SIGTERM/SIGINT shut down gracefully:
 * stop taking work, let jobs in flight finish for up to SHUTDOWN_TIMEOUT_MS, abandon the rest to
 * the stalled-job checker, close the clients, exit 0. A second signal exits at once.
 */
import { parseArgs } from 'node:util';

import { ConfigError, loadConfig, type Config, type Role } from './config.ts';
import { coerceError } from './errors.ts';
import { createLog, logSecrets } from './log.ts';
import { startMemoryTidy } from './memory-tidy.ts';
import { startService } from './service.ts';

function rolesFromArgs(config: Config): Role[] {
  const { values } = parseArgs({
    options: { role: { type: 'string', multiple: true } },
    strict: true,
  });
  if (!values.role?.length) {
    return [...config.ROLES];
  }
  const roles = values.role.flatMap((r) => r.split(',')).map((r) => r.trim());
  const valid: Role[] = ['api', 'worker', 'subscriber'];
  const bad = roles.filter((r) => !(valid as string[]).includes(r));
  if (bad.length) {
    throw new ConfigError([`--role: unknown role(s) ${bad.join(', ')}; use ${valid.join(', ')}`]);
  }
  return roles as Role[];
}

let config: Config;
let roles: Role[];
try {
  config = loadConfig();
  roles = rolesFromArgs(config);
} catch (err) {
  process.stderr.write(`${coerceError(err).message}\n`);
  process.exit(1);
}

const log = createLog(config.LOG_LEVEL, undefined, logSecrets(config));
const service = await startService(config, roles, { log }).catch((err: unknown) => {
  log.fatal({ err: coerceError(err).message }, 'service failed to start');
  process.exit(1);
});
const tidy = startMemoryTidy({ quietForMs: config.IDLE_GC_AFTER_MS, log });

/** How long past SHUTDOWN_TIMEOUT_MS the process may take before it is cut short. */
const SHUTDOWN_BACKSTOP_MS = 5_000;

let stopping = false;
const shutdown = (signal: string) => {
  if (stopping) {
    log.warn({ signal }, 'second signal: exiting now');
    process.exit(1);
  }
  stopping = true;
  tidy.stop();
  log.info({ signal, timeoutMs: config.SHUTDOWN_TIMEOUT_MS }, 'shutting down');
  // A backstop only: close() keeps to the deadline by itself, give or take the clients' grace.
  setTimeout(() => {
    log.error('shutdown overran its deadline: exiting now');
    process.exit(1);
  }, config.SHUTDOWN_TIMEOUT_MS + SHUTDOWN_BACKSTOP_MS).unref();
  service
    .close(config.SHUTDOWN_TIMEOUT_MS)
    .then(() => process.exit(0))
    .catch((err: unknown) => {
      log.error({ err: coerceError(err).message }, 'shutdown failed');
      process.exit(1);
    });
};
process.on('SIGTERM', () => shutdown('SIGTERM'));
process.on('SIGINT', () => shutdown('SIGINT'));
