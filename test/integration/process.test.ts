/**
 * The service as production runs it: what `npm start` runs (the compiled `node --expose-gc dist/main.js`, so
 * `npm run build` first) in a child process, configured only by the variables the README says
 * are enough, answering /readyz, and exiting 0 on SIGTERM.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';

import { afterAll, describe, expect, it } from 'vitest';

import { QUEUE_NAMES } from '../../src/queues/index.ts';
import { startSandbox, type Sandbox } from '../../src/sandbox/server.ts';
import { createTestEnv, EMULATOR_HOST, PROJECT_ID, REDIS_URL, waitFor } from '../helpers/env.ts';
import { freePort, imageAllocator, startArgs } from '../helpers/service-process.ts';

const env = createTestEnv('process');

/** What production requires (NODE_ENV unset is production): 24 characters or more each. */
const PRODUCTION_SECRETS = {
  API_TOKEN: 'process-test-api-token-0123456789',
  WEBHOOK_TOKEN: 'process-test-webhook-token-012345',
  CREDENTIALS_KEY: Buffer.alloc(32, 9).toString('base64'),
  TRACK_LINK_SECRET: 'process-test-track-link-secret-01',
};
const children: ChildProcess[] = [];
let sandbox: Sandbox | undefined;

function run(vars: Record<string, string>, args: string[] = []) {
  const child = spawn(process.execPath, [...startArgs(), ...args], {
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
  it('comes up with only the essential variables, strict without NODE_ENV, ready, and exits 0 on SIGTERM', async () => {
    sandbox = await startSandbox({ port: 0, host: '127.0.0.1' });
    const port = await freePort();
    const proc = run({
      // As the image runs it: on jemalloc.
      ...imageAllocator(),
      ...PRODUCTION_SECRETS,
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
    expect(readFileSync(`/proc/${proc.child.pid}/maps`, 'utf8')).toContain('libjemalloc');
    // No NODE_ENV is production: no unauthenticated push endpoint, nothing relaxed.
    const push = await fetch(`http://127.0.0.1:${port}/pubsub/push`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ message: { data: '' } }),
    });
    expect(push.status).toBe(404);
    expect(proc.output().stdout).not.toContain('is not production');

    proc.child.kill('SIGTERM');
    expect(await proc.exited).toBe(0);
    const { stdout } = proc.output();
    expect(stdout).toContain('shutting down');
    expect(stdout).not.toContain('sandbox-secret-pw');
    // npm start gives the process its quiet-time garbage collection (--expose-gc).
    expect(stdout).toContain('"msg":"idle garbage collection on"');
  });

  it('starts with Redis down: alive, not ready and saying why, quietly, until Redis comes', async () => {
    // Redis behind a port that refuses connections until the proxy opens it.
    const port = await freePort();
    const redisPort = await freePort();
    const target = new URL(REDIS_URL);
    const proc = run(
      {
        REDIS_URL: `redis://127.0.0.1:${redisPort}`,
        DATABASE_URL: env.env.DATABASE_URL!,
        PUBSUB_EMULATOR_HOST: EMULATOR_HOST,
        PUBSUB_PROJECT_ID: PROJECT_ID,
        NODE_ENV: 'development',
        LOG_LEVEL: 'info',
        PORT: String(port),
        QUEUE_PREFIX: `t-${env.id}-down`,
      },
      ['--role', 'api,worker'],
    );
    const readyz = async () => {
      const res = await fetch(`http://127.0.0.1:${port}/readyz`);
      return { status: res.status, body: (await res.json()) as { checks: Record<string, string> } };
    };
    const down = await waitFor(
      async () => {
        const health = await fetch(`http://127.0.0.1:${port}/healthz`).catch(() => null);
        return health?.status === 200 ? readyz() : null;
      },
      { timeoutMs: 30_000, intervalMs: 200, what: '/healthz to answer while Redis is down' },
    );
    expect(down.status).toBe(503);
    expect(down.body.checks.redis).toBe('down');
    expect(down.body.checks.mysql).toBe('ok');

    // Every reconnect attempt fails; the log says so once per kind, not once per attempt.
    await waitFor(() => proc.output().stdout.includes('"worker error"'), {
      what: 'the workers to report Redis down',
    });
    const started = Date.now();
    await waitFor(() => Date.now() - started > 3_000);
    const count = (msg: string) => proc.output().stdout.split(`"msg":"${msg}"`).length - 1;
    // At most once per queue: each queue's worker and producer report for themselves.
    expect(count('worker error')).toBeLessThanOrEqual(QUEUE_NAMES.length);
    expect(count('queue connection error')).toBeLessThanOrEqual(QUEUE_NAMES.length);
    expect(count('redis connection error')).toBe(1);

    const sockets = new Set<Socket>();
    const proxy: Server = createServer((client) => {
      const upstream = connect(Number(target.port || 6379), target.hostname);
      for (const s of [client, upstream]) {
        sockets.add(s);
        s.on('error', () => undefined);
        s.on('close', () => sockets.delete(s));
      }
      client.pipe(upstream).pipe(client);
    });
    proxy.listen(redisPort, '127.0.0.1');
    await once(proxy, 'listening');
    try {
      const up = await waitFor(
        async () => {
          const r = await readyz();
          return r.status === 200 ? r : null;
        },
        { timeoutMs: 30_000, intervalMs: 200, what: '/readyz to answer 200 once Redis is up' },
      );
      expect(up.body.checks).toEqual({ redis: 'ok', mysql: 'ok' });
      proc.child.kill('SIGTERM');
      expect(await proc.exited).toBe(0);
    } finally {
      for (const s of sockets) {
        s.destroy();
      }
      proxy.close();
    }
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

  it('refuses short secrets when NODE_ENV is not set', async () => {
    const proc = run({ ...PRODUCTION_SECRETS, WEBHOOK_TOKEN: 'short-token' });
    expect(await proc.exited).toBe(1);
    expect(proc.output().stderr).toContain(
      'WEBHOOK_TOKEN: at least 24 characters when NODE_ENV=production',
    );
  });

  it('names what a development configuration relaxes, in one warning line', async () => {
    const port = await freePort();
    const proc = run(
      {
        NODE_ENV: 'development',
        REDIS_URL,
        DATABASE_URL: env.env.DATABASE_URL!,
        PUBSUB_EMULATOR_HOST: EMULATOR_HOST,
        PUBSUB_PROJECT_ID: PROJECT_ID,
        PORT: String(port),
        QUEUE_PREFIX: `t-${env.id}-dev`,
      },
      ['--role', 'api'],
    );
    const line = await waitFor(
      () =>
        proc
          .output()
          .stdout.split('\n')
          .find((l) => l.includes('is not production')),
      { timeoutMs: 30_000, intervalMs: 100, what: 'the relaxations warning' },
    );
    expect(JSON.parse(line)).toMatchObject({
      level: 40,
      msg: expect.stringContaining('NODE_ENV=development is not production'),
      relaxations: expect.arrayContaining(['POST /pubsub/push takes unauthenticated requests']),
    });
    proc.child.kill('SIGTERM');
    expect(await proc.exited).toBe(0);
  });

  it('refuses an unknown --role', async () => {
    const proc = run({ NODE_ENV: 'development' }, ['--role', 'api,cron']);
    expect(await proc.exited).toBe(1);
    expect(proc.output().stderr).toContain('unknown role(s) cron');
  });
});
