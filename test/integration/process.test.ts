/**
 * The service as an operator runs it: `tsx src/main.ts` in a child process, configured only by
 * the variables the README says are enough, answering /readyz, and exiting 0 on SIGTERM.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';

import { afterAll, describe, expect, it } from 'vitest';

import { startSandbox, type Sandbox } from '../../src/sandbox/server.ts';
import { createTestEnv, EMULATOR_HOST, PROJECT_ID, REDIS_URL, waitFor } from '../helpers/env.ts';

const env = createTestEnv('process');
const children: ChildProcess[] = [];
let sandbox: Sandbox | undefined;

async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  server.close();
  await once(server, 'close');
  return port;
}

function run(vars: Record<string, string>, args: string[] = []) {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', ...args], {
    env: { PATH: process.env.PATH ?? '', METADATA_SERVER_DETECTION: 'none', ...vars },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = once(child, 'exit').then(([code]) => code as number | null);
  return { child, exited, output: () => ({ stdout, stderr }) };
}

afterAll(async () => {
  for (const child of children) {
    if (child.exitCode === null) {
      child.kill('SIGKILL');
    }
  }
  await sandbox?.close();
  await env.dropDatabase();
});

describe('the service process', () => {
  it('comes up with only the essential variables, is ready, and exits 0 on SIGTERM', async () => {
    sandbox = await startSandbox({ port: 0, host: '127.0.0.1' });
    const port = await freePort();
    const proc = run({
      REDIS_URL,
      DATABASE_URL: env.env.DATABASE_URL!,
      PUBSUB_EMULATOR_HOST: EMULATOR_HOST,
      PUBSUB_PROJECT_ID: PROJECT_ID,
      GUPSHUP_ENTERPRISE_URL: sandbox.url,
      GUPSHUP_DEFAULT_USERID: '2000000001',
      GUPSHUP_DEFAULT_PASSWORD: 'sandbox-secret-pw',
      GUPSHUP_DEFAULT_WA_NUMBER: '919319278973',
      // Isolation from other test files sharing this machine's servers:
      PORT: String(port),
      QUEUE_PREFIX: `t-${env.id}`,
      FDR_SUBSCRIPTION: `fdr-sub-${env.id}`,
    });
    const ready = await waitFor(
      async () => {
        const res = await fetch(`http://127.0.0.1:${port}/readyz`);
        return res.status === 200
          ? ((await res.json()) as { checks: Record<string, string> })
          : null;
      },
      { timeoutMs: 30_000, intervalMs: 200, what: '/readyz to answer 200' },
    );
    // Every role runs, the subscriber included, so Pub/Sub is checked too.
    expect(ready.checks).toEqual({ redis: 'ok', mysql: 'ok', pubsub: 'ok' });

    proc.child.kill('SIGTERM');
    expect(await proc.exited).toBe(0);
    const { stdout } = proc.output();
    expect(stdout).toContain('shutting down');
    expect(stdout).not.toContain('sandbox-secret-pw');
  });

  it('refuses to start on bad configuration, listing every problem at once', async () => {
    const proc = run({ PORT: 'eighty', REDIS_URL: 'nope', DATABASE_URL: 'postgres://x' });
    expect(await proc.exited).toBe(1);
    const { stderr } = proc.output();
    expect(stderr).toContain('Invalid configuration');
    expect(stderr).toMatch(/PORT:/);
    expect(stderr).toMatch(/REDIS_URL:/);
    expect(stderr).toMatch(/DATABASE_URL:/);
  });

  it('refuses an unknown --role', async () => {
    const proc = run({}, ['--role', 'api,cron']);
    expect(await proc.exited).toBe(1);
    expect(proc.output().stderr).toContain('unknown role(s) cron');
  });
});
