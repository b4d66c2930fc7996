/**
 * Graceful shutdown of the real process (the build `npm start` runs, in a child process) while
 * Gupshup is slow: the sandbox, in this process, holds every send for a while before answering.
 *
 * - With a deadline longer than the sends, SIGTERM during 50 in-flight sends lets all 50 finish:
 *   the process exits 0 well within SHUTDOWN_TIMEOUT_MS, every message went out exactly once,
 *   and a second process started afterwards sends nothing again.
 * - With a deadline shorter than the sends, the process still exits 0 at once; the jobs it
 *   abandons stay `active` in Redis until the next process's stalled-job checker puts them back
 *   in `wait`. Gupshup had already accepted those requests: their delivery reports, which echo
 *   our key in `extra`, reach the next process's webhook, and the retried jobs record the
 *   messages as sent instead of sending them again. (Without such a report a retry waits
 *   SEND_RECONCILE_MS and then sends; test/integration/reconcile.test.ts covers that.)
 */
import { setMaxListeners } from 'node:events';

import { Queue } from 'bullmq';
import { inArray } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { createDb, type DbHandle } from '../../src/db/client.ts';
import { notificationOutbox } from '../../src/db/schema.ts';
import { saveAccountSettings } from '../../src/db/settings.ts';
import { redisOptions } from '../../src/deps.ts';
import { queuePrefix } from '../../src/redis-keys.ts';
import { startSandbox, type Sandbox } from '../../src/sandbox/server.ts';
import {
  createTestEnv,
  EMULATOR_HOST,
  PROJECT_ID,
  REDIS_URL,
  waitFor,
  type TestEnv,
} from '../helpers/env.ts';
import { fdrEvent } from '../helpers/fixtures.ts';
import { keyOfSend } from '../helpers/outbox.ts';
import { startServiceProcess, type ServiceProcess } from '../helpers/service-process.ts';

const envs: TestEnv[] = [];
const processes: ServiceProcess[] = [];
const handles: DbHandle[] = [];
let sandbox: Sandbox;

beforeAll(async () => {
  // The sandbox ties every send it holds to one AbortSignal: 50 at once is not a leak.
  setMaxListeners(64);
  sandbox = await startSandbox({ port: 0, host: '127.0.0.1' });
});

afterAll(async () => {
  for (const proc of processes) {
    if (proc.child.exitCode === null && proc.child.signalCode === null) {
      proc.child.kill('SIGKILL');
    }
  }
  await Promise.all(handles.map((h) => h.close()));
  await sandbox?.close();
  await Promise.all(envs.map((e) => e.dropDatabase()));
});

/** A fresh database and queue prefix, and the variables that run the service on them. */
function scenario(name: string, shutdownTimeoutMs: number) {
  const env = createTestEnv(name);
  envs.push(env);
  const vars = {
    NODE_ENV: 'test',
    LOG_LEVEL: 'info',
    REDIS_URL,
    DATABASE_URL: env.env.DATABASE_URL!,
    QUEUE_PREFIX: env.env.QUEUE_PREFIX!,
    PUBSUB_EMULATOR_HOST: EMULATOR_HOST,
    PUBSUB_PROJECT_ID: PROJECT_ID,
    FDR_TOPIC: env.env.FDR_TOPIC!,
    FDR_SUBSCRIPTION: env.env.FDR_SUBSCRIPTION!,
    ACTIVITY_TOPIC: env.env.ACTIVITY_TOPIC!,
    GUPSHUP_ENTERPRISE_URL: sandbox.url,
    GUPSHUP_DEFAULT_USERID: '2000000001',
    GUPSHUP_DEFAULT_PASSWORD: 'sandbox-secret-pw',
    GUPSHUP_DEFAULT_WA_NUMBER: '919319278973',
    GUPSHUP_MAX_PER_SECOND: '1000',
    GUPSHUP_SENDER_MAX_PER_SECOND: '1000',
    WORKER_CONCURRENCY: '50',
    SHUTDOWN_TIMEOUT_MS: String(shutdownTimeoutMs),
    // Only BullMQ's own recovery is under test: no sweeper re-enqueueing behind its back.
    SWEEP_INTERVAL_MS: '0',
    // Tests run at any hour: no send waits for the morning.
    DEFAULT_QUIET_HOURS: 'off',
  };
  return { env, vars };
}

async function start(vars: Record<string, string>): Promise<ServiceProcess> {
  const proc = await startServiceProcess(vars);
  processes.push(proc);
  return proc;
}

/** Pushes one FDR event per shipment over HTTP, as a Pub/Sub push subscription would. */
async function pushEvents(proc: ServiceProcess, shipments: string[]): Promise<void> {
  await Promise.all(
    shipments.map(async (shipmentId, i) => {
      const event = fdrEvent({ shipmentId, phone: `98110${String(i).padStart(5, '0')}` });
      const res = await fetch(`${proc.url}/pubsub/push`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          message: {
            data: Buffer.from(JSON.stringify(event)).toString('base64'),
            messageId: `push-${shipmentId}`,
          },
        }),
      });
      expect(res.status).toBe(204);
    }),
  );
}

/** SIGTERMs the process and returns its exit code and how long it took to exit. */
async function terminate(proc: ServiceProcess): Promise<{ code: number | null; ms: number }> {
  const started = Date.now();
  proc.child.kill('SIGTERM');
  const code = await proc.exited;
  return { code, ms: Date.now() - started };
}

function stoppedLine(proc: ServiceProcess) {
  return proc.logs().find((l) => l.msg === 'service stopped') as
    { abandonedJobs: number; clientsClosed: boolean } | undefined;
}

/**
 * Successful sends per idempotency key (named by `msg_id`, the correlation key) of the given
 * shipments, as the sandbox saw them.
 */
function successesByKey(shipments: string[]): Map<string, number> {
  const counts = new Map(shipments.map((s) => [`fdr-${s}-1`, 0]));
  for (const send of sandbox.sends) {
    const key = keyOfSend(send);
    if (counts.has(key) && send.outcome === 'success') {
      counts.set(key, counts.get(key)! + 1);
    }
  }
  return counts;
}

async function outboxStatuses(db: DbHandle, shipments: string[]) {
  const rows = await db.db
    .select({ status: notificationOutbox.status })
    .from(notificationOutbox)
    .where(inArray(notificationOutbox.shipmentId, shipments));
  return rows.map((r) => r.status);
}

describe('SIGTERM with sends in flight', () => {
  it('lets 50 in-flight sends finish, exits 0 within the deadline, and sends each exactly once', async () => {
    const SHUTDOWN_TIMEOUT_MS = 10_000;
    const { env, vars } = scenario('shutdowngrace', SHUTDOWN_TIMEOUT_MS);
    sandbox.reset();
    const shipments = Array.from({ length: 50 }, (_, i) => `GRACE-${i}`);
    sandbox.failNext(...shipments.map(() => ({ kind: 'delay' as const, ms: 1_500 })));

    const first = await start(vars);
    const db = createDb(env.env.DATABASE_URL!);
    handles.push(db);
    await saveAccountSettings(db.db, 379, { enabled: true });
    await pushEvents(first, shipments);
    await waitFor(() => sandbox.sends.filter((s) => s.outcome === 'pending').length === 50, {
      what: '50 sends in flight at the sandbox',
    });

    const { code, ms } = await terminate(first);
    expect(code).toBe(0);
    expect(ms).toBeLessThan(SHUTDOWN_TIMEOUT_MS);
    expect(stoppedLine(first)).toMatchObject({ abandonedJobs: 0, clientsClosed: true });
    // Every send finished inside the first process.
    expect(await outboxStatuses(db, shipments)).toEqual(shipments.map(() => 'sent'));

    // A second process finds nothing left to send (and runs what the first left queued).
    const second = await start(vars);
    const counts = successesByKey(shipments);
    expect([...counts.values()]).toEqual(shipments.map(() => 1));
    expect(sandbox.sends).toHaveLength(50);
    expect((await terminate(second)).code).toBe(0);
    expect(sandbox.sends).toHaveLength(50);
  }, 60_000);

  it('with a deadline shorter than the sends, exits 0 at once; the next process records what Gupshup accepted and sends nothing twice', async () => {
    const SHUTDOWN_TIMEOUT_MS = 500;
    const WEBHOOK_TOKEN = 'shutdown-webhook-token';
    const { env, vars } = scenario('shutdownforce', SHUTDOWN_TIMEOUT_MS);
    const withWebhook = { ...vars, WEBHOOK_TOKEN };
    sandbox.reset();
    const shipments = Array.from({ length: 10 }, (_, i) => `FORCE-${i}`);
    sandbox.failNext(...shipments.map(() => ({ kind: 'delay' as const, ms: 10_000 })));

    const first = await start(withWebhook);
    const db = createDb(env.env.DATABASE_URL!);
    handles.push(db);
    await saveAccountSettings(db.db, 379, { enabled: true });
    await pushEvents(first, shipments);
    await waitFor(() => sandbox.sends.filter((s) => s.outcome === 'pending').length === 10, {
      what: '10 sends in flight at the sandbox',
    });

    const { code, ms } = await terminate(first);
    expect(code).toBe(0);
    // The deadline, plus at most the clients' one-second grace, plus process exit.
    expect(ms).toBeLessThan(SHUTDOWN_TIMEOUT_MS + 2_500);
    expect(stoppedLine(first)).toMatchObject({ abandonedJobs: 10 });

    // Not lost: the jobs are still in Redis, active until their locks expire, and the rows
    // are claimed but not finished.
    const queue = new Queue('message.send', {
      connection: redisOptions(REDIS_URL),
      prefix: queuePrefix(env.env.QUEUE_PREFIX!, 'message.send'),
    });
    try {
      expect(await queue.getJobCountByTypes('active')).toBe(10);
      expect(await outboxStatuses(db, shipments)).toEqual(shipments.map(() => 'sending'));

      // The next replica is up while Gupshup (the sandbox) still works on the abandoned
      // requests; it answers them after their 10 s anyway (Gupshup would send), and their
      // delivery reports, which echo our key in `extra`, reach the new replica's webhook.
      const second = await start(withWebhook);
      sandbox.setCallback({
        url: `${second.url}/api/_ah/v1/message?token=${WEBHOOK_TOKEN}`,
        delaysMs: { sent: 100, delivered: null, read: null },
      });
      await waitFor(() => sandbox.sends.every((s) => s.outcome !== 'pending'), {
        timeoutMs: 15_000,
        what: 'the abandoned requests to complete at the sandbox',
      });
      expect([...successesByKey(shipments).values()]).toEqual(shipments.map(() => 1));

      // The stalled-job checker returns the jobs to `wait` once their locks have expired
      // (BullMQ's defaults: 30 s lock, 30 s check interval). Each retry finds the id a report
      // brought and records the message as sent instead of sending it again.
      await waitFor(async () => (await outboxStatuses(db, shipments)).every((s) => s === 'sent'), {
        timeoutMs: 90_000,
        intervalMs: 500,
        what: 'every abandoned message to be recorded as sent',
      });
      expect(await queue.getJobCountByTypes('active', 'wait', 'delayed', 'failed')).toBe(0);
      const rows = await db.db
        .select({
          key: notificationOutbox.correlationKey,
          attempts: notificationOutbox.attempts,
          gupshupMessageId: notificationOutbox.gupshupMessageId,
        })
        .from(notificationOutbox)
        .where(inArray(notificationOutbox.shipmentId, shipments));
      const answered = new Map(sandbox.sends.map((s) => [s.params.msg_id, s.messageId]));
      for (const row of rows) {
        expect(row.attempts).toBe(1);
        expect(row.key).not.toBeNull();
        expect(row.gupshupMessageId).toBe(answered.get(row.key!));
      }
      expect([...successesByKey(shipments).values()]).toEqual(shipments.map(() => 1));
      expect((await terminate(second)).code).toBe(0);
    } finally {
      sandbox.setCallback(null);
      await queue.close();
    }
  }, 150_000);
});
