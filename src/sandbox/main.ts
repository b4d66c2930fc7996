/**
 * `npm run sandbox`: runs the local Gupshup sandbox (src/sandbox/server.ts) until SIGINT/SIGTERM.
 * Point GUPSHUP_ENTERPRISE_URL at the printed URL to send through it.
 *
 * This entry point reads its own two variables instead of going through src/config.ts: the
 * sandbox is a developer tool, not part of the service, and must start without the service's
 * configuration.
 */
import * as v from 'valibot';

import { startSandbox } from './server.ts';

const SandboxEnvSchema = v.object({
  SANDBOX_PORT: v.optional(
    v.pipe(
      v.string(),
      v.trim(),
      v.toNumber(),
      v.integer('must be a whole number'),
      v.minValue(0, 'must be at least 0'),
      v.maxValue(65_535, 'must be at most 65535'),
    ),
    '8090',
  ),
  SANDBOX_HOST: v.optional(
    v.pipe(v.string(), v.trim(), v.nonEmpty('must not be empty')),
    '0.0.0.0',
  ),
});

// An empty variable counts as unset, so `SANDBOX_PORT= npm run sandbox` keeps the default.
const parsed = v.safeParse(SandboxEnvSchema, {
  SANDBOX_PORT: process.env.SANDBOX_PORT || undefined,
  SANDBOX_HOST: process.env.SANDBOX_HOST || undefined,
});
if (!parsed.success) {
  const problems = parsed.issues.map(
    (issue) => `${v.getDotPath(issue) ?? '(root)'}: ${issue.message}`,
  );
  console.error(`Invalid sandbox configuration:\n  - ${problems.join('\n  - ')}`);
  process.exit(1);
}

const sandbox = await startSandbox({
  port: parsed.output.SANDBOX_PORT,
  host: parsed.output.SANDBOX_HOST,
});
console.log(`Gupshup sandbox listening: GUPSHUP_ENTERPRISE_URL=${sandbox.url}`);
console.log(
  `Control: GET ${sandbox.origin}/_sandbox/sends, POST /_sandbox/fail, POST /_sandbox/reset`,
);

function shutDown(signal: NodeJS.Signals): void {
  console.log(`${signal} received, closing the sandbox`);
  sandbox.close().then(
    () => process.exit(0),
    (thrown: unknown) => {
      console.error('Sandbox did not close cleanly', thrown);
      process.exit(1);
    },
  );
}
process.once('SIGINT', shutDown);
process.once('SIGTERM', shutDown);
