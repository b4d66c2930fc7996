/**
 * One scenario's world: its own MySQL database (reached through the run's TCP proxy), its own
 * BullMQ prefix on the run's Redis, its own Pub/Sub topics on the emulator, the Gupshup sandbox
 * and the WMS stand-in in this process, and the service as production runs it: the compiled
 * `npm start` entry point, one process with the `api` and `subscriber` roles and one with the
 * `worker` role. Every process's output goes to a log file under test-results/reliability/logs,
 * which the data-hygiene scenario searches at the end.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import { join } from 'node:path';

import { PubSub, type Topic } from '@google-cloud/pubsub';
import { Queue } from 'bullmq';
import mysql from 'mysql2/promise';

import { redisOptions } from '../../../src/deps.ts';
import { queuePrefix } from '../../../src/redis-keys.ts';
import { WEBHOOK_PATH } from '../../../src/http/routes/gupshup-webhook.ts';
import { QUEUE_NAMES } from '../../../src/queues/index.ts';
import { startFakeWms, type FakeWms } from '../../../src/sandbox/wms.ts';
import { startSandbox, type Sandbox } from '../../../src/sandbox/server.ts';
import type { CallbackOptions } from '../../../src/sandbox/callbacks.ts';
import { waitFor } from '../../helpers/env.ts';
import { freePort, imageAllocator, startArgs } from '../../helpers/service-process.ts';

export const LOG_DIR = 'test-results/reliability/logs';

/** Credentials the run uses; the hygiene scenario searches for them too. */
export const SECRETS = {
  API_TOKEN: 'reliability-admin-token-5f1c8e2a9b7d',
  WEBHOOK_TOKEN: 'reliability-webhook-token-3a9e7c1d5b',
  CREDENTIALS_KEY: Buffer.alloc(32, 7).toString('base64'),
  TRACK_LINK_SECRET: 'reliability-track-link-secret-8d2f6a',
  ADMIN_USER: 'ops',
  ADMIN_PASSWORD: 'reliability-admin-password-4c7e9a',
  GUPSHUP_DEFAULT_PASSWORD: 'reliability-gupshup-password-6b1d',
};

/** Credentials made during the run (account tokens): searched for like SECRETS. */
export const RUN_SECRETS: string[] = [];

export interface RunServers {
  redisUrl: string;
  /** `mysql://user@host:port`, the proxy in front of MySQL, without a database. */
  mysqlUrl: string;
  /** Direct to MySQL, for the runner's own reads (never cut). */
  mysqlDirectUrl: string;
  emulatorHost: string;
  projectId: string;
}

export interface ServiceProc {
  name: string;
  child: ChildProcess;
  /** Resolves with the exit code, or the signal's name. */
  exited: Promise<string>;
  /** Set before the runner kills or stops it; an exit without it is a crash. */
  expectedExit: boolean;
}

export interface StackOptions {
  /** Extra service variables (the scenario's lock, stall and reconcile timings). */
  env?: Record<string, string>;
  /** Where the sandbox posts reports and replies; the service's webhook by default. */
  callback?: Partial<CallbackOptions> & { url?: string };
  /** Worker processes to run (1 by default). */
  workers?: number;
  /** Where the processes' logs go; under LOG_DIR by default. */
  logDir?: string;
}

export interface Stack {
  name: string;
  database: string;
  prefix: string;
  apiUrl: string;
  webhookUrl: string;
  sandbox: Sandbox;
  wms: FakeWms;
  topic: Topic;
  env: Record<string, string>;
  api: ServiceProc;
  workers: ServiceProc[];
  /** Unexpected exits so far, over every process this stack started. */
  crashes(): number;
  /** SIGKILLs one worker process; resolves once it is gone. */
  killWorker(index?: number): Promise<void>;
  /** Starts a worker process in slot `index` (a new slot by default); resolves once it runs. */
  startWorker(index?: number): Promise<ServiceProc>;
  /**
   * Waiting, active and delayed jobs over the queues, but `no-reply.check`: its jobs wait hours
   * by design (one per FDR message sent, due `noReply.afterHours` later).
   */
  pendingJobs(): Promise<number>;
  query<T>(sql: string, params?: unknown[]): Promise<T[]>;
  close(): Promise<void>;
}

export async function startStack(
  name: string,
  servers: RunServers,
  opts: StackOptions = {},
): Promise<Stack> {
  const id = `${name}${randomBytes(3).toString('hex')}`;
  const database = `wa_rel_${id}`;
  const prefix = `rel-${id}`;
  const logDir = opts.logDir ?? join(LOG_DIR, name);
  mkdirSync(logDir, { recursive: true });
  const wms = await startFakeWms({ port: 0, host: '127.0.0.1' });
  const sandbox = await startSandbox({ port: 0, host: '127.0.0.1' });
  const apiPort = await freePort();
  const apiUrl = `http://127.0.0.1:${apiPort}`;
  const webhookUrl = `${apiUrl}${WEBHOOK_PATH}?token=${SECRETS.WEBHOOK_TOKEN}`;
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '',
    METADATA_SERVER_DETECTION: 'none',
    // As the image runs it: on jemalloc.
    ...imageAllocator(),
    // development: /pubsub/push takes unauthenticated pushes (the hostile-input scenario posts
    // there); everything else is as strict as production.
    NODE_ENV: 'development',
    LOG_LEVEL: 'info',
    HOST: '127.0.0.1',
    REDIS_URL: servers.redisUrl,
    QUEUE_PREFIX: prefix,
    DATABASE_URL: `${servers.mysqlUrl}/${database}`,
    PUBSUB_EMULATOR_HOST: servers.emulatorHost,
    PUBSUB_PROJECT_ID: servers.projectId,
    FDR_TOPIC: `fdr-${id}`,
    FDR_SUBSCRIPTION: `fdr-sub-${id}`,
    ACTIVITY_TOPIC: `activity-${id}`,
    GUPSHUP_ENTERPRISE_URL: sandbox.url,
    GUPSHUP_TEMPLATE_LIST_URL: sandbox.url,
    GUPSHUP_SELF_SERVE_URL: sandbox.origin,
    GUPSHUP_DEFAULT_USERID: '2000000001',
    GUPSHUP_DEFAULT_WA_NUMBER: '919319278973',
    WMS_API_URL: wms.url,
    ...SECRETS,
    // The provider, not the service, is the bottleneck here: pacing off the scale of a run.
    GUPSHUP_MAX_PER_SECOND: '1000',
    GUPSHUP_SENDER_MAX_PER_SECOND: '1000',
    GUPSHUP_TIMEOUT_MS: '2000',
    MESSAGE_SEND_BACKOFF_MS: '200',
    SEND_RECONCILE_MS: '8000',
    JOB_LOCK_MS: '2000',
    JOB_STALLED_INTERVAL_MS: '1000',
    SWEEP_INTERVAL_MS: '2000',
    SWEEP_GRACE_MS: '5000',
    REPLY_SETTLE_SECONDS: '0',
    SHUTDOWN_TIMEOUT_MS: '5000',
    AUTH_MAX_FAILURES: '100000000',
    // The run happens at any hour; quiet hours would hold its messages until the morning.
    DEFAULT_QUIET_HOURS: 'off',
    ...opts.env,
  };
  sandbox.setCallback({
    url: webhookUrl,
    delaysMs: { sent: 50, delivered: 150, read: 300 },
    // As the seed's sample: reports carry no `extra`.
    echoExtra: false,
    ...opts.callback,
  });

  const procs: ServiceProc[] = [];
  let started = 0;
  const spawnService = async (roles: string, label: string): Promise<ServiceProc> => {
    started++;
    const log: WriteStream = createWriteStream(join(logDir, `${label}-${started}.log`));
    const child = spawn(process.execPath, [...startArgs(), '--role', roles], {
      env: roles.includes('api') ? { ...env, PORT: String(apiPort) } : { ...env, PORT: '0' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let head = '';
    const ready = new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (chunk: Buffer) => {
        if (head !== null && head.length < 1_000_000) {
          head += chunk.toString();
          if (head.includes('"msg":"service started"')) {
            resolve();
          }
        }
      });
      child.once('exit', (code, signal) =>
        reject(new Error(`${label} exited (${code ?? signal}) before it started: ${head}`)),
      );
    });
    child.stdout.pipe(log, { end: false });
    child.stderr.pipe(log, { end: false });
    const proc: ServiceProc = {
      name: label,
      child,
      expectedExit: false,
      exited: once(child, 'exit').then(([code, signal]) => {
        log.end();
        return String(code ?? signal);
      }),
    };
    procs.push(proc);
    await waitFor(() => ready.then(() => true), {
      timeoutMs: 60_000,
      what: `${label} to start`,
    });
    return proc;
  };

  const api = await spawnService('api,subscriber', 'api');
  const workers: ServiceProc[] = [];
  for (let i = 0; i < (opts.workers ?? 1); i++) {
    workers.push(await spawnService('worker', 'worker'));
  }

  const pubsub = new PubSub({ projectId: servers.projectId });
  const topic = pubsub.topic(env.FDR_TOPIC!, {
    batching: { maxMessages: 100, maxMilliseconds: 10 },
  });
  const connection = { ...redisOptions(servers.redisUrl), maxRetriesPerRequest: null };
  const queues = QUEUE_NAMES.map(
    (q) => new Queue(q, { connection, prefix: queuePrefix(prefix, q) }),
  );
  // The runner's own view of the queues: while Redis is away (scenario 2) it just asks again.
  for (const queue of queues) {
    queue.on('error', () => undefined);
  }
  const direct = mysql.createPool({
    uri: `${servers.mysqlDirectUrl}/${database}`,
    connectionLimit: 4,
  });

  async function stopProc(proc: ServiceProc, signal: NodeJS.Signals): Promise<void> {
    proc.expectedExit = true;
    if (proc.child.exitCode === null && proc.child.signalCode === null) {
      proc.child.kill(signal);
    }
    await proc.exited;
  }

  return {
    name,
    database,
    prefix,
    apiUrl,
    webhookUrl,
    sandbox,
    wms,
    topic,
    env,
    api,
    workers,
    crashes: () =>
      procs.filter((p) => !p.expectedExit && (p.child.exitCode !== null || p.child.signalCode))
        .length,
    async killWorker(index = 0) {
      await stopProc(workers[index]!, 'SIGKILL');
    },
    async startWorker(index = workers.length) {
      const proc = await spawnService('worker', 'worker');
      workers[index] = proc;
      return proc;
    },
    async pendingJobs() {
      let total = 0;
      for (const queue of queues.filter((q) => q.name !== 'no-reply.check')) {
        const counts = await queue.getJobCounts(
          'waiting',
          'active',
          'delayed',
          'prioritized',
          'waiting-children',
        );
        total += Object.values(counts).reduce((a, b) => a + b, 0);
      }
      return total;
    },
    async query<T>(sql: string, params: unknown[] = []) {
      const [rows] = await direct.query(sql, params);
      return rows as T[];
    },
    async close() {
      await Promise.all(procs.map((p) => stopProc(p, 'SIGTERM')));
      await Promise.all(queues.map((q) => q.close()));
      await pubsub.close();
      await direct.end();
      await sandbox.close();
      await wms.close();
      const admin = await mysql.createConnection({ uri: servers.mysqlDirectUrl });
      try {
        await admin.query(`DROP DATABASE IF EXISTS \`${database}\``);
      } finally {
        await admin.end();
      }
    },
  };
}

/** Switches WhatsApp on for an account through the settings API, as a client would. */
export async function enableAccount(stack: Stack, accountId: number): Promise<void> {
  const res = await fetch(`${stack.apiUrl}/v1/accounts/${accountId}/whatsapp-settings`, {
    method: 'PUT',
    headers: {
      authorization: `Bearer ${SECRETS.API_TOKEN}`,
      'content-type': 'application/json',
    },
    body: JSON.stringify({ enabled: true }),
  });
  if (res.status !== 200) {
    throw new Error(`enabling account ${accountId}: HTTP ${res.status} ${await res.text()}`);
  }
}

/** A delivery report for a message nobody knows, as the webhook would get it. */
export async function probeWebhook(stack: Stack): Promise<number> {
  const report = [
    {
      srcAddr: 'TESTSM',
      channel: 'WHATSAPP',
      externalId: `${Date.now()}000000-probe`,
      cause: 'SENT',
      errorCode: '000',
      destAddr: '919000000000',
      eventType: 'SENT',
      eventTs: Date.now(),
    },
  ];
  const res = await fetch(stack.webhookUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ response: JSON.stringify(report) }).toString(),
  });
  return res.status;
}
