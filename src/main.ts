/**
 * Entry point: `npm start` runs every role in one process; `--role api|worker|subscriber`
 * (repeatable or comma-separated) or ROLES runs a subset. SIGTERM/SIGINT shut down gracefully;
 * a second signal exits at once.
 */
import { parseArgs } from 'node:util';

import { ConfigError, loadConfig, type Config, type Role } from './config.ts';
import { coerceError } from './errors.ts';
import { createLog } from './log.ts';
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

const log = createLog(config.LOG_LEVEL);
const service = await startService(config, roles, { log }).catch((err: unknown) => {
  log.fatal({ err: coerceError(err).message }, 'service failed to start');
  process.exit(1);
});

let stopping = false;
const shutdown = (signal: string) => {
  if (stopping) {
    log.warn({ signal }, 'second signal: exiting now');
    process.exit(1);
  }
  stopping = true;
  log.info({ signal }, 'shutting down');
  service
    .close()
    .then(() => process.exit(0))
    .catch((err: unknown) => {
      log.error({ err: coerceError(err).message }, 'shutdown failed');
      process.exit(1);
    });
};
process.on('SIGTERM', () => shutdown('SIGTERM'));
process.on('SIGINT', () => shutdown('SIGINT'));
