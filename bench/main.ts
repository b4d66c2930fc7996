/**
 * `npm run bench`: the service's throughput, latency and memory, each measured side by side with
 * a bare baseline in the same run on the same servers, so the ratios mean something on any
 * machine. Prints one table and writes it as JSON to bench/results/<timestamp>.json.
 *
 *   npm run bench                      the full run (20,000 events, a 100,000-event burst)
 *   npm run bench -- --quick           a tenth of the traffic, shorter phases
 *   npm run bench -- --only pipeline,webhook
 *   npm run bench -- --profile         also writes each service process's CPU profile
 *                                      (test-results/bench/logs/<phase>/profiles)
 *
 * The service runs as production runs it (the compiled build, an `api,subscriber` process and a
 * `worker` process) against a Redis of the run's own, the machine's MySQL and the Pub/Sub
 * emulator; the Gupshup sandbox (sends accepted at once, no delivery reports unless a phase
 * posts its own) and the WMS stand-in run in this process. Pacing is lifted except in the
 * rate-limit phase, so the pipeline itself is what is measured.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { parseArgs } from 'node:util';

import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import mysql from 'mysql2/promise';

import { createDb } from '../src/db/client.ts';
import { saveAccountSettings } from '../src/db/settings.ts';
import { findDefaultTemplate, saveVerifiedTemplate } from '../src/db/templates.ts';
import { redisOptions } from '../src/deps.ts';
import { queuePrefix } from '../src/redis-keys.ts';
import { imageAllocator } from '../test/helpers/service-process.ts';
import { startRedisServer, type RedisServer } from '../test/reliability/lib/redis-server.ts';
import {
  enableAccount,
  SECRETS,
  startStack,
  type RunServers,
  type Stack,
} from '../test/reliability/lib/stack.ts';
import {
  accepted,
  fdrEvent,
  latency,
  makeCustomers,
  publishAll,
  publishAtRate,
  tally,
  type Customer,
} from '../test/reliability/lib/traffic.ts';
import { httpLoad, type LoadResult } from './lib/http-load.ts';
import {
  cpuMs,
  mysqlQuestions,
  mysqlServerPid,
  redisStats,
  round,
  rssBytes,
  until,
} from './lib/measure.ts';

process.env.PUBSUB_EMULATOR_HOST ??= '127.0.0.1:8085';
process.env.METADATA_SERVER_DETECTION ??= 'none';

const PHASES = ['baseline', 'pipeline', 'latency', 'webhook', 'ratelimit', 'burst'] as const;
type Phase = (typeof PHASES)[number];

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    only: { type: 'string' },
    events: { type: 'string' },
    burst: { type: 'string' },
    profile: { type: 'boolean', default: false },
  },
});
const quick = values.quick ?? false;
const SIZES = {
  events: Number(values.events ?? (quick ? 2_000 : 20_000)),
  burst: Number(values.burst ?? (quick ? 10_000 : 100_000)),
  latencyRate: 200,
  latencySeconds: quick ? 10 : 30,
  webhookSeconds: quick ? 5 : 10,
  connections: 50,
  rateSeconds: quick ? 10 : 20,
  warmUp: quick ? 1_000 : 6_000,
};
const chosen = (values.only?.split(',').map((s) => s.trim()) ?? [...PHASES]) as Phase[];
const unknown = chosen.filter((p) => !PHASES.includes(p));
if (unknown.length) {
  console.error(`unknown phase(s): ${unknown.join(', ')}; known: ${PHASES.join(', ')}`);
  process.exit(2);
}

const LOG_DIR = 'test-results/bench/logs';
const mysqlUrl = (process.env.TEST_MYSQL_URL ?? 'mysql://root@127.0.0.1:3306').replace(/\/+$/, '');

type Row = [section: string, figure: string, value: string];
const rows: Row[] = [];
const figures: Record<string, Record<string, number | string>> = {};
function note(section: string, name: string, value: number | string, shown?: string): void {
  (figures[section] ??= {})[name] = value;
  rows.push([section, name, shown ?? String(value)]);
}

/** The pids of a stack's service processes. */
function servicePids(stack: Stack): number[] {
  return [stack.api.child.pid, ...stack.workers.map((w) => w.child.pid)].filter(
    (p): p is number => typeof p === 'number',
  );
}

function serviceCpu(stack: Stack): number {
  return servicePids(stack).reduce((sum, pid) => sum + cpuMs(pid), 0);
}

function serviceRss(stack: Stack): number {
  return servicePids(stack).reduce((sum, pid) => sum + rssBytes(pid), 0);
}

/** How long the burst phase waits, idle, after the drain before its last RSS reading. */
const RSS_SETTLE_MS = 30_000;

/** Seconds of untimed traffic at the latency phase's rate before the timed run. */
const LATENCY_WARM_UP_SECONDS = 5;

const BENCH_ENV = {
  GUPSHUP_MAX_PER_SECOND: '100000',
  GUPSHUP_SENDER_MAX_PER_SECOND: '100000',
  SEND_RECONCILE_MS: '60000',
  SWEEP_INTERVAL_MS: '30000',
  SWEEP_GRACE_MS: '120000',
};

async function benchStack(name: string, servers: RunServers, workers = 1): Promise<Stack> {
  const profile: Record<string, string> = values.profile
    ? { NODE_OPTIONS: `--cpu-prof --cpu-prof-dir=${LOG_DIR}/${name}/profiles` }
    : {};
  const stack = await startStack(name, servers, {
    env: { ...BENCH_ENV, ...profile },
    logDir: `${LOG_DIR}/${name}`,
    workers,
  });
  // Sends are accepted and nothing is reported back: the FDR path alone is measured.
  stack.sandbox.setCallback(null);
  await enableAccount(stack, 379);
  return stack;
}

/** Delayed `no-reply.check` jobs (one per FDR message sent, due hours later). */
async function noReplyChecksWaiting(stack: Stack): Promise<number> {
  const queue = new Queue('no-reply.check', {
    connection: { ...redisOptions(servers.redisUrl), maxRetriesPerRequest: null },
    prefix: queuePrefix(stack.prefix, 'no-reply.check'),
  });
  try {
    return await queue.getDelayedCount();
  } finally {
    await queue.close();
  }
}

/** The API process's V8 heap (used, total) and external memory, from its /metrics. */
async function apiHeap(apiUrl: string): Promise<{ used: number; total: number; external: number }> {
  const text = await (await fetch(`${apiUrl}/metrics`)).text();
  const value = (name: string) => Number(new RegExp(`^${name} (\\S+)`, 'm').exec(text)?.[1] ?? NaN);
  return {
    used: value('nodejs_heap_size_used_bytes'),
    total: value('nodejs_heap_size_total_bytes'),
    external: value('nodejs_external_memory_bytes'),
  };
}

/** Sends the sandbox accepted so far. */
function acceptedSends(stack: Stack): number {
  let n = 0;
  for (const send of stack.sandbox.sends) {
    if (accepted(send)) {
      n++;
    }
  }
  return n;
}

/** Five chained no-op queues: items/s from the first add to the last completion. */
async function baselineQueues(redisUrl: string, items: number): Promise<number> {
  const connection = { ...redisOptions(redisUrl), maxRetriesPerRequest: null };
  const prefix = `bench-base-${Date.now()}`;
  const names = ['q1', 'q2', 'q3', 'q4', 'q5'];
  const queues = names.map((n) => new Queue(n, { connection, prefix }));
  let done = 0;
  const workers = names.map(
    (n, i) =>
      new Worker(
        n,
        async (job) => {
          const next = queues[i + 1];
          if (next) {
            await next.add('x', job.data as object, { removeOnComplete: true });
          } else {
            done++;
          }
        },
        { connection, prefix, concurrency: 20 },
      ),
  );
  const started = performance.now();
  for (let i = 0; i < items; i += 1_000) {
    await queues[0]!.addBulk(
      Array.from({ length: Math.min(1_000, items - i) }, (_v, j) => ({
        name: 'x',
        data: { n: i + j },
        opts: { removeOnComplete: true },
      })),
    );
  }
  await until(() => done >= items, 600_000, 'the baseline queues');
  const perSecond = items / ((performance.now() - started) / 1000);
  await Promise.all(workers.map((w) => w.close()));
  await Promise.all(queues.map((q) => q.obliterate({ force: true }).then(() => q.close())));
  return perSecond;
}

/** The bare Fastify route in a process of its own; resolves with its URL and a stop. */
async function startBareRoute(
  redisUrl: string,
): Promise<{ url: string; pid: number | undefined; stop(): void }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'bench/bare-server.ts'], {
    env: { ...process.env, REDIS_URL: redisUrl, QUEUE_PREFIX: `bench-bare-${Date.now()}` },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const m = /listening (\d+)/.exec(out);
      if (m) {
        resolve(Number(m[1]));
      }
    });
    child.once('exit', (code) => reject(new Error(`the bare route exited (${code})`)));
  });
  return {
    url: `http://127.0.0.1:${port}/bare`,
    pid: child.pid,
    stop: () => child.kill('SIGTERM'),
  };
}

/** A distinct enterprise delivery report (for a message the service does not know). */
function reportBody(i: number): string {
  const report = [
    {
      srcAddr: 'TESTSM',
      channel: 'WHATSAPP',
      externalId: `${4_000_000_000_000_000_000n + BigInt(i)}-bench`,
      cause: 'DELIVERED',
      errorCode: '000',
      destAddr: `91970${String(i % 10_000_000).padStart(7, '0')}`,
      eventType: 'DELIVERED',
      eventTs: Date.now(),
    },
  ];
  return new URLSearchParams({ response: JSON.stringify(report) }).toString();
}

function showLoad(section: string, which: string, r: LoadResult): void {
  note(section, `${which} requests/s`, round(r.perSecond), `${Math.round(r.perSecond)}`);
  note(section, `${which} p99 ms`, round(r.p99Ms, 2));
  if (r.errors) {
    note(section, `${which} non-200 answers`, r.errors);
  }
}

// The run's servers, set up by main().
let servers: RunServers;
let redis: Redis;
let admin: mysql.Connection;
let mysqldPid: number | undefined;
let baseQueues = 0;

/** Lost events and duplicate sends of a phase, noted under its section. */
function noteDelivery(section: string, stack: Stack, list: Customer[]): void {
  const t = tally(stack.sandbox.sends, list);
  note(section, 'lost events', t.lost);
  note(section, 'duplicate sends', t.duplicates);
}

/** N events published at once, to their sends: throughput and what each event costs. */
async function pipeline(section: string, workers: number): Promise<void> {
  const stack = await benchStack(section.replace(/\W+/g, '_'), servers, workers);
  try {
    const list = makeCustomers('pipe', SIZES.events, 0);
    const cpu0 = serviceCpu(stack);
    const db0 = cpuMs(mysqldPid);
    const q0 = await mysqlQuestions(admin);
    const r0 = await redisStats(redis);
    const started = performance.now();
    await publishAll(stack.topic, list);
    await until(() => acceptedSends(stack) >= list.length, 1_800_000, section, 100);
    const seconds = (performance.now() - started) / 1000;
    const q1 = await mysqlQuestions(admin);
    const r1 = await redisStats(redis);
    const perSecond = list.length / seconds;
    note(section, 'events (published at once)', list.length);
    note(section, 'events/s publish to SendMessage', round(perSecond), `${Math.round(perSecond)}`);
    note(section, 'ratio to the baseline queues', round(perSecond / baseQueues, 3));
    note(section, 'service CPU ms per event', round((serviceCpu(stack) - cpu0) / list.length, 2));
    note(section, 'mysqld CPU ms per event', round((cpuMs(mysqldPid) - db0) / list.length, 2));
    // Less the two status reads of this runner.
    note(section, 'MySQL statements per event', round((q1 - q0 - 2) / list.length, 1));
    note(
      section,
      'Redis commands per event',
      round((r1.commands - r0.commands - 2) / list.length, 1),
    );
    noteDelivery(section, stack, list);
  } finally {
    await stack.close();
  }
}

/** A sender of the rate-limit phase: its own account and Gupshup app, paced at `limit`/s. */
interface PacedSender {
  label: string;
  accountId: number;
  userid: string;
  limit: number;
  events: number;
}

/** Gives `sender` its own connection (at its limit) and template, and switches it on. */
async function setUpSender(stack: Stack, sender: PacedSender): Promise<void> {
  const api = async (method: string, path: string, body: object): Promise<unknown> => {
    const res = await fetch(`${stack.apiUrl}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${SECRETS.API_TOKEN}`,
        'content-type': 'application/json',
      },
      body: JSON.stringify(body),
    });
    if (res.status >= 300) {
      throw new Error(`${method} ${path}: HTTP ${res.status} ${await res.text()}`);
    }
    return res.json();
  };
  const connection = (await api('POST', `/v1/accounts/${sender.accountId}/whatsapp-connections`, {
    appName: `bench-${sender.label}`,
    userid: sender.userid,
    password: `bench-${sender.label}-password`,
    waNumber: `9198000${String(sender.accountId).padStart(5, '0')}`,
    maxPerSecond: sender.limit,
  })) as { id: string };
  // A connection sends only the templates approved on its own app: a copy of the default one.
  const handle = createDb(`${servers.mysqlUrl}/${stack.database}`, 2);
  try {
    const template = await findDefaultTemplate(handle.db, 'otp_cancellation');
    if (!template) {
      throw new Error('no default template for otp_cancellation');
    }
    const saved = await saveVerifiedTemplate(handle.db, {
      accountId: sender.accountId,
      reason: 'otp_cancellation',
      connectionId: connection.id,
      template: {
        id: `bench-${sender.label}-otp`,
        name: `bench_${sender.label}_otp`,
        body: template.body,
        buttons: template.buttons,
        status: 'APPROVED',
        category: 'UTILITY',
      },
      mapping: template.mapping,
    });
    if (saved !== 'saved') {
      throw new Error(`saving ${sender.label}'s template: ${JSON.stringify(saved)}`);
    }
    // Straight to MySQL: the settings API wants a template of this app for every reason, and
    // the phase sends one. Nothing has read this account's settings yet, so no cache holds them.
    await saveAccountSettings(handle.db, sender.accountId, {
      enabled: true,
      senderConnectionId: connection.id,
    });
  } finally {
    await handle.close();
  }
}

/**
 * Two senders saturated together at 50/s and 20/s, and a third bursting (its whole load at once,
 * at 30/s): each one's rate, from its first send to its last, against its limit.
 */
async function rateLimit(): Promise<void> {
  const section = 'rate limit';
  const seconds = SIZES.rateSeconds;
  const senders: PacedSender[] = [
    { label: 'fifty', accountId: 501, userid: '2000501001', limit: 50, events: 50 * seconds },
    { label: 'twenty', accountId: 502, userid: '2000502001', limit: 20, events: 20 * seconds },
    { label: 'burst', accountId: 503, userid: '2000503001', limit: 30, events: 30 * seconds },
  ];
  // The service's own limits stay above the three together: each sender's pace is measured.
  const stack = await startStack('ratelimit', servers, {
    env: { ...BENCH_ENV, GUPSHUP_MAX_PER_SECOND: '1000', GUPSHUP_SENDER_MAX_PER_SECOND: '1000' },
    logDir: `${LOG_DIR}/ratelimit`,
  });
  try {
    stack.sandbox.setCallback(null);
    for (const sender of senders) {
      await setUpSender(stack, sender);
    }
    const lists = senders.map((s, i) =>
      makeCustomers(`rate${s.label}`, s.events, 1_000_000 * (i + 1)),
    );
    const publishFor = (sender: PacedSender, list: Customer[]) =>
      Promise.all(
        list.map((c) => {
          const event = fdrEvent(c);
          (event.response_data as Record<string, unknown>).account_id = sender.accountId;
          return stack.topic.publishMessage({ data: Buffer.from(JSON.stringify(event)) });
        }),
      );
    // The two steady senders first, the burst on top of them once they are under way.
    await Promise.all([publishFor(senders[0]!, lists[0]!), publishFor(senders[1]!, lists[1]!)]);
    await until(() => acceptedSends(stack) >= 20, 60_000, 'the steady senders to start', 50);
    await publishFor(senders[2]!, lists[2]!);
    const total = lists.reduce((n, l) => n + l.length, 0);
    await until(() => acceptedSends(stack) >= total, 600_000, section, 100);

    for (const sender of senders) {
      const times = stack.sandbox.sends
        .filter((s) => accepted(s) && s.params.userid === sender.userid)
        .map((s) => s.at.getTime())
        .sort((a, b) => a - b);
      const span = (times.at(-1)! - times[0]!) / 1000;
      // n sends at a steady pace span n-1 intervals.
      const rate = span > 0 ? (times.length - 1) / span : 0;
      const off = (rate / sender.limit - 1) * 100;
      note(section, `${sender.label}: sends`, times.length);
      note(section, `${sender.label}: limit /s`, sender.limit);
      note(section, `${sender.label}: measured /s`, round(rate, 2));
      note(section, `${sender.label}: off its limit %`, round(off, 1));
      // The most sends in any one second (a sliding window): above the limit where sends that
      // fell behind their turns went out together to catch up.
      let busiest = 0;
      for (let i = 0, j = 0; j < times.length; j++) {
        while (times[j]! - times[i]! >= 1_000) {
          i++;
        }
        busiest = Math.max(busiest, j - i + 1);
      }
      note(section, `${sender.label}: most sends in one second`, busiest);
    }
    const all = lists.flat();
    noteDelivery(section, stack, all);
  } finally {
    await stack.close();
  }
}

async function main(): Promise<void> {
  rmSync(LOG_DIR, { recursive: true, force: true });
  mkdirSync(LOG_DIR, { recursive: true });
  const redisServer: RedisServer = await startRedisServer();
  redis = new Redis(redisServer.url);
  admin = await mysql.createConnection({ uri: mysqlUrl });
  servers = {
    redisUrl: redisServer.url,
    mysqlUrl,
    mysqlDirectUrl: mysqlUrl,
    emulatorHost: process.env.PUBSUB_EMULATOR_HOST!,
    projectId: process.env.PUBSUB_PROJECT_ID ?? 'local-project',
  };
  mysqldPid = mysqlServerPid();
  const versions = {
    node: process.version,
    redis: /redis_version:(\S+)/.exec(await redis.info('server'))?.[1] ?? '?',
    mysql: ((await admin.query('SELECT VERSION() AS v'))[0] as { v: string }[])[0]?.v ?? '?',
    bullmq: (
      JSON.parse(readFileSync('node_modules/bullmq/package.json', 'utf8')) as {
        version: string;
      }
    ).version,
  };
  note('machine', 'cores', cpus().length);
  note('machine', 'memory GiB', round(totalmem() / 2 ** 30));
  note(
    'machine',
    'versions',
    `node ${versions.node}, redis ${versions.redis}, mysql ${versions.mysql}, bullmq ${versions.bullmq}`,
  );
  const allocator = imageAllocator();
  note(
    'machine',
    'service allocator (as the image)',
    `${allocator.LD_PRELOAD} ${allocator.MALLOC_CONF}`,
  );

  let bareRoute: LoadResult | null = null;
  let bareCpuUs: number | null = null;
  try {
    if (chosen.includes('baseline') || chosen.includes('pipeline')) {
      const r0 = await redisStats(redis);
      baseQueues = await baselineQueues(redisServer.url, SIZES.events);
      const r1 = await redisStats(redis);
      note(
        'baseline',
        'five chained no-op queues, items/s',
        round(baseQueues),
        `${Math.round(baseQueues)}`,
      );
      // Less the two status reads of this runner; the setup and teardown of the queues included.
      note(
        'baseline',
        'their Redis commands per item',
        round((r1.commands - r0.commands - 2) / SIZES.events, 1),
      );
    }
    if (chosen.includes('baseline') || chosen.includes('webhook')) {
      const bare = await startBareRoute(redisServer.url);
      try {
        const cpu0 = cpuMs(bare.pid);
        bareRoute = await httpLoad({
          url: bare.url,
          connections: SIZES.connections,
          seconds: SIZES.webhookSeconds,
          contentType: 'application/x-www-form-urlencoded',
          body: reportBody,
        });
        bareCpuUs = ((cpuMs(bare.pid) - cpu0) * 1_000) / bareRoute.requests;
      } finally {
        bare.stop();
      }
      showLoad('baseline', 'bare route (enqueue one job)', bareRoute);
      note('baseline', 'bare route: its process CPU µs per request', round(bareCpuUs));
    }

    if (chosen.includes('pipeline')) {
      await pipeline('pipeline', 1);
      await pipeline('pipeline, 2 worker processes', 2);
    }

    if (chosen.includes('latency')) {
      const stack = await benchStack('latency', servers);
      try {
        // Warmed up at the same rate first (connections opened, code compiled), untimed: the
        // figure is the steady state's, not a cold start's.
        const warm = makeCustomers(
          'latwarm',
          SIZES.latencyRate * LATENCY_WARM_UP_SECONDS,
          6_000_000,
        );
        await publishAtRate(stack.topic, warm, SIZES.latencyRate);
        await until(() => acceptedSends(stack) >= warm.length, 600_000, 'the latency warm-up', 100);
        const list = makeCustomers('lat', SIZES.latencyRate * SIZES.latencySeconds, 0);
        const published = await publishAtRate(stack.topic, list, SIZES.latencyRate);
        await until(
          () => acceptedSends(stack) >= warm.length + list.length,
          600_000,
          'the latency phase',
          100,
        );
        const l = latency(stack.sandbox.sends, published);
        note(
          'latency',
          `events at ${SIZES.latencyRate}/s for ${SIZES.latencySeconds} s`,
          list.length,
        );
        note('latency', 'publish to SendMessage p50 ms', l.p50);
        note('latency', 'p95 ms', l.p95);
        note('latency', 'p99 ms', l.p99);
        noteDelivery('latency', stack, list);
      } finally {
        await stack.close();
      }
    }

    if (chosen.includes('webhook')) {
      // Once with a worker process taking the reports as they come (it shares the machine's
      // cores with the route), once with the API process alone (the reports wait in Redis), as
      // the bare route's job does: the route's own cost.
      for (const [which, workers] of [
        ['webhook route', 1],
        ['webhook route, no worker running', 0],
      ] as const) {
        const stack = await benchStack(workers ? 'webhook' : 'webhookalone', servers, workers);
        try {
          const q0 = await mysqlQuestions(admin);
          const apiCpu0 = cpuMs(stack.api.child.pid);
          const dbCpu0 = cpuMs(mysqldPid);
          const redisCpu0 = cpuMs(redisServer.pid);
          const real = await httpLoad({
            url: stack.webhookUrl,
            connections: SIZES.connections,
            seconds: SIZES.webhookSeconds,
            contentType: 'application/x-www-form-urlencoded',
            body: reportBody,
          });
          showLoad('webhook', which, real);
          // Less the two reads of the counter; with a worker running, its statements as well.
          const q1 = await mysqlQuestions(admin);
          const apiCpuUs = ((cpuMs(stack.api.child.pid) - apiCpu0) * 1_000) / real.requests;
          note('webhook', `${which}: API process CPU µs per request`, round(apiCpuUs));
          const perRequest = (ms: number) => round((ms * 1_000) / real.requests);
          note(
            'webhook',
            `${which}: mysqld CPU µs per request`,
            perRequest(cpuMs(mysqldPid) - dbCpu0),
          );
          note(
            'webhook',
            `${which}: Redis CPU µs per request`,
            perRequest(cpuMs(redisServer.pid) - redisCpu0),
          );
          if (bareCpuUs) {
            note('webhook', `${which}: ÷ the bare route's`, round(apiCpuUs / bareCpuUs, 2));
          }
          note(
            'webhook',
            `${which}: MySQL statements per request`,
            round((q1 - q0 - 2) / real.requests, 2),
          );
          if (bareRoute) {
            note(
              'webhook',
              workers ? 'ratio to the bare route' : 'ratio to the bare route, no worker running',
              round(real.perSecond / bareRoute.perSecond, 3),
            );
          }
        } finally {
          await stack.close();
        }
      }
    }

    if (chosen.includes('ratelimit')) {
      await rateLimit();
    }

    if (chosen.includes('burst')) {
      const stack = await benchStack('burst', servers);
      try {
        // A warm-up first, so that "before" is a running service's: its pools and JIT warm and
        // the queues' kept completed jobs at their caps (message.send keeps the most, 5,000).
        const warm = makeCustomers('warm', SIZES.warmUp, 5_000_000);
        await publishAll(stack.topic, warm);
        await until(() => acceptedSends(stack) >= warm.length, 600_000, 'the warm-up', 100);
        await until(
          async () => (await stack.pendingJobs()) === 0,
          600_000,
          'the warm-up to drain',
          250,
        );
        // The same idle wait as after the drain, so that both readings are of a settled process.
        await new Promise((done) => setTimeout(done, RSS_SETTLE_MS));
        const checks0 = await noReplyChecksWaiting(stack);
        const memory0 = (await redisStats(redis)).usedMemory;
        const rss0 = serviceRss(stack);
        const apiRss0 = rssBytes(stack.api.child.pid);
        const heap0 = await apiHeap(stack.apiUrl);
        let peakRedis = memory0;
        let peakRss = rss0;
        const sample = setInterval(() => {
          peakRss = Math.max(peakRss, serviceRss(stack));
          void redisStats(redis).then((s) => {
            peakRedis = Math.max(peakRedis, s.usedMemory);
          });
        }, 250);
        const list = makeCustomers('burst', SIZES.burst, 0);
        const started = performance.now();
        try {
          for (let i = 0; i < list.length; i += 5_000) {
            await publishAll(stack.topic, list.slice(i, i + 5_000));
          }
          await until(
            () => acceptedSends(stack) >= warm.length + list.length,
            3_600_000,
            'the burst',
            250,
          );
        } finally {
          clearInterval(sample);
        }
        const drained = (performance.now() - started) / 1000;
        await until(
          async () => (await stack.pendingJobs()) === 0,
          600_000,
          'the queues to empty',
          250,
        );
        const after = (await redisStats(redis)).usedMemory;
        const mib = (b: number) => `${round(b / 2 ** 20)} MiB`;
        note('burst', 'events at once', list.length);
        note('burst', 'seconds to drain', round(drained));
        note('burst', 'events/s', round(list.length / drained));
        note('burst', 'service RSS before', rss0, mib(rss0));
        note('burst', 'service RSS peak', peakRss, mib(peakRss));
        const rssAfter = serviceRss(stack);
        note('burst', 'service RSS after', rssAfter, mib(rssAfter));
        note('burst', 'service RSS after ÷ before', round(rssAfter / rss0, 3));
        // And once the service has been idle a while: V8 gives back the heap it grew only when
        // allocation has been quiet for some seconds.
        await new Promise((done) => setTimeout(done, RSS_SETTLE_MS));
        const rssSettled = serviceRss(stack);
        const settled = `service RSS ${RSS_SETTLE_MS / 1000} s after the drain`;
        note('burst', settled, rssSettled, mib(rssSettled));
        note('burst', `${settled} ÷ before`, round(rssSettled / rss0, 3));
        const apiRss = rssBytes(stack.api.child.pid);
        note('burst', 'API process RSS before, after', `${mib(apiRss0)}, ${mib(apiRss)}`);
        const heap = await apiHeap(stack.apiUrl);
        note(
          'burst',
          'API process V8 heap used, total before',
          `${mib(heap0.used)}, ${mib(heap0.total)}`,
        );
        note(
          'burst',
          'API process V8 heap used, total after',
          `${mib(heap.used)}, ${mib(heap.total)}`,
        );
        note(
          'burst',
          'API process external memory before, after',
          `${mib(heap0.external)}, ${mib(heap.external)}`,
        );
        note('burst', 'Redis used_memory before', memory0, mib(memory0));
        note('burst', 'Redis used_memory peak', peakRedis, mib(peakRedis));
        note('burst', 'Redis used_memory after', after, mib(after));
        note('burst', 'Redis used_memory after ÷ before', round(after / memory0, 3));
        // Each message sent schedules its no-reply check (a delayed job, due hours later): work
        // still to do, held in Redis until then, not kept history.
        note(
          'burst',
          'no-reply checks waiting, added by the burst',
          (await noReplyChecksWaiting(stack)) - checks0,
        );
        noteDelivery('burst', stack, list);
      } finally {
        await stack.close();
      }
    }
  } finally {
    redis.disconnect();
    await admin.end();
    await redisServer.stop();
  }

  const width = [0, 0, 0];
  for (const row of rows) {
    row.forEach((cell, i) => (width[i] = Math.max(width[i]!, cell.length)));
  }
  for (const row of rows) {
    console.log(row.map((cell, i) => cell.padEnd(width[i]!)).join('  '));
  }
  mkdirSync('bench/results', { recursive: true });
  const file = `bench/results/${new Date().toISOString().replace(/[:.]/g, '-')}.json`;
  writeFileSync(
    file,
    JSON.stringify({ at: new Date().toISOString(), quick, sizes: SIZES, figures }, null, 2),
  );
  console.log(`\nwritten to ${file}`);
}

await main();
