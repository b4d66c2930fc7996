/**
 * `npm run bench`: throughput and latency of the FDR pipeline, measured side by side in one run
 * against the same Redis and MySQL, so the printed ratios mean something on any machine.
 *
 * - baseline: bare BullMQ no-op jobs chained through three queues (the floor any queue-based
 *   pipeline pays on this Redis);
 * - pipeline: FDR events through `/pubsub/push` → fdr.validate → message.send (to the in-process
 *   Gupshup sandbox) → activity.emit, each with its MySQL writes.
 *
 * Needs the same servers as the tests (Redis, MySQL/MariaDB, the Pub/Sub emulator). BENCH_EVENTS
 * sets the event count (default 300).
 */
import { randomBytes } from 'node:crypto';

import { Queue, Worker } from 'bullmq';
import { eq } from 'drizzle-orm';
import mysql from 'mysql2/promise';

import { loadConfig } from '../src/config.ts';
import { notificationOutbox } from '../src/db/schema.ts';
import { saveAccountSettings } from '../src/db/settings.ts';
import { redisOptions } from '../src/deps.ts';
import { createLog } from '../src/log.ts';
import { startSandbox } from '../src/sandbox/server.ts';
import { startService } from '../src/service.ts';

const EVENTS = Number(process.env.BENCH_EVENTS ?? 300);
const MYSQL = (process.env.TEST_MYSQL_URL ?? 'mysql://root@127.0.0.1:3306').replace(/\/+$/, '');
const REDIS = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const id = randomBytes(3).toString('hex');

async function until(probe: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) {
      throw new Error('benchmark timed out');
    }
    await new Promise((r) => setTimeout(r, 20));
  }
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
}

async function baseline(): Promise<number> {
  const connection = { ...redisOptions(REDIS), maxRetriesPerRequest: null };
  const prefix = `bench-base-${id}`;
  const names = ['a', 'b', 'c'];
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
        { connection, prefix, concurrency: 8 },
      ),
  );
  const started = performance.now();
  await queues[0]!.addBulk(
    Array.from({ length: EVENTS }, (_v, i) => ({
      name: 'x',
      data: { i },
      opts: { removeOnComplete: true },
    })),
  );
  await until(async () => done === EVENTS, 60_000);
  const seconds = (performance.now() - started) / 1000;
  await Promise.all(workers.map((w) => w.close()));
  for (const q of queues) {
    await q.obliterate({ force: true });
    await q.close();
  }
  return EVENTS / seconds;
}

async function pipeline(): Promise<{ perSecond: number; p50: number; p95: number }> {
  const database = `wa_bench_${id}`;
  const sandbox = await startSandbox({ port: 0, host: '127.0.0.1' });
  const config = loadConfig({
    LOG_LEVEL: 'silent',
    PORT: '0',
    HOST: '127.0.0.1',
    DATABASE_URL: `${MYSQL}/${database}`,
    REDIS_URL: REDIS,
    QUEUE_PREFIX: `bench-${id}`,
    PUBSUB_EMULATOR_HOST: process.env.PUBSUB_EMULATOR_HOST ?? '127.0.0.1:8085',
    ACTIVITY_TOPIC: `bench-activity-${id}`,
    GUPSHUP_ENTERPRISE_URL: sandbox.url,
    GUPSHUP_DEFAULT_USERID: '2000000001',
    GUPSHUP_DEFAULT_PASSWORD: 'bench',
    GUPSHUP_MAX_PER_SECOND: '100000',
    GUPSHUP_SENDER_MAX_PER_SECOND: '100000',
    SWEEP_INTERVAL_MS: '0',
    // The bench runs at any hour: no send waits for the end of quiet hours.
    DEFAULT_QUIET_HOURS: 'off',
  });
  const service = await startService(config, ['api', 'worker'], { log: createLog('silent') });
  await saveAccountSettings(service.deps.db, 379, { enabled: true });
  const fixture = (await import('../test/fixtures/fdr-event.json', { with: { type: 'json' } }))
    .default;
  const publishedAt = new Map<string, number>();
  const started = performance.now();
  for (let i = 0; i < EVENTS; i++) {
    const event = structuredClone(fixture) as { response_data: { externalShipmentID: string } };
    const shipment = `BENCH-${i}`;
    event.response_data.externalShipmentID = shipment;
    publishedAt.set(`fdr-${shipment}-1`, performance.now());
    const res = await service.app!.inject({
      method: 'POST',
      url: '/pubsub/push',
      payload: { message: { data: Buffer.from(JSON.stringify(event)).toString('base64') } },
    });
    if (res.statusCode !== 204) {
      throw new Error(`push answered ${res.statusCode}`);
    }
  }
  const sentAt = new Map<string, number>();
  await until(async () => {
    for (const send of sandbox.sends) {
      // `msg_id` is the row's correlation key: the idempotency key, a dot and a random part.
      const msgId = send.params.msg_id ?? '';
      const key = msgId.slice(0, msgId.lastIndexOf('.'));
      if (key && !sentAt.has(key)) {
        sentAt.set(key, performance.now());
      }
    }
    return sentAt.size >= EVENTS;
  }, 120_000);
  await until(async () => {
    const rows = await service.deps.db
      .select({ id: notificationOutbox.id })
      .from(notificationOutbox)
      .where(eq(notificationOutbox.status, 'sent'));
    return rows.length === EVENTS;
  }, 60_000);
  const seconds = (performance.now() - started) / 1000;
  const latencies = [...sentAt].map(([key, at]) => at - (publishedAt.get(key) ?? at));
  await service.close();
  await sandbox.close();
  const conn = await mysql.createConnection({ uri: MYSQL });
  await conn.query(`DROP DATABASE IF EXISTS \`${database}\``);
  await conn.end();
  return {
    perSecond: EVENTS / seconds,
    p50: percentile(latencies, 50),
    p95: percentile(latencies, 95),
  };
}

const base = await baseline();
const result = await pipeline();
console.log(`events: ${EVENTS}`);
console.log(`baseline (3 chained no-op BullMQ queues): ${base.toFixed(0)} items/s`);
console.log(
  `FDR pipeline (push → validate → send → activity, MySQL writes): ${result.perSecond.toFixed(0)} events/s`,
);
console.log(`ratio pipeline/baseline: ${(result.perSecond / base).toFixed(3)}`);
console.log(
  `push-to-Gupshup latency: p50 ${result.p50.toFixed(0)} ms, p95 ${result.p95.toFixed(0)} ms (events pushed back to back)`,
);
process.exit(0);
