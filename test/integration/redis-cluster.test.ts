/**
 * The service on a Redis Cluster: three masters started here on loopback ports, the service
 * configured with REDIS_CLUSTER_NODES alone (REDIS_URL points where no Redis answers, so nothing
 * may use it), running the seed scenario end to end (push → fdr.validate → Gupshup sandbox →
 * SENT/DELIVERED/READ → the customer's date reply → the WMS's RESCHEDULE → the confirmation).
 * Then: each queue's keys sit in one slot of their own, the queues spread over the three nodes;
 * Bull Board, the CLI and the settings-changed channel work through the cluster.
 */
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { runCli, type CliIo } from '../../src/cli/program.ts';
import { findAttemptOutcome } from '../../src/db/outcomes.ts';
import { whatsappStatusLogs } from '../../src/db/schema.ts';
import { saveAccountSettings } from '../../src/db/settings.ts';
import { createDeps, type Deps } from '../../src/deps.ts';
import { createLog } from '../../src/log.ts';
import { QUEUE_NAMES } from '../../src/queues/index.ts';
import { startSandbox, type Sandbox } from '../../src/sandbox/server.ts';
import { startService, type Service } from '../../src/service.ts';
import { createSettingsCache, type SettingsCache } from '../../src/settings-cache.ts';
import { API_TOKEN, createTestEnv, waitFor } from '../helpers/env.ts';
import { startFakeWms, type FakeWms } from '../helpers/fake-wms.ts';
import { statusEvent } from '../helpers/fixtures.ts';
import { pushFdr } from '../helpers/push.ts';
import { startRedisCluster, type RedisCluster } from '../helpers/redis-cluster.ts';
import { REPLY_SHIPMENT, runSeedScenario, SEED_SHIPMENT } from '../helpers/seed-scenario.ts';

const env = createTestEnv('cluster');
const WEBHOOK_TOKEN = 'cluster-test-webhook-token';
const ADMIN = { ADMIN_USER: 'ops', ADMIN_PASSWORD: 'cluster-test-admin-password' };
const PREFIX = env.env.QUEUE_PREFIX!;

let cluster: RedisCluster;
let sandbox: Sandbox;
let wms: FakeWms;
let service: Service;
let clusterEnv: Record<string, string>;

beforeAll(async () => {
  cluster = await startRedisCluster(3);
  sandbox = await startSandbox({ port: 0, host: '127.0.0.1' });
  wms = await startFakeWms();
  clusterEnv = {
    ...env.env,
    REDIS_CLUSTER_NODES: cluster.nodeList,
    // Nothing listens here: every client must go to the cluster.
    REDIS_URL: 'redis://127.0.0.1:1',
  };
  service = await startService(
    env.config({
      ...clusterEnv,
      ...ADMIN,
      GUPSHUP_ENTERPRISE_URL: sandbox.url,
      WMS_API_URL: wms.url,
      WEBHOOK_TOKEN,
      REPLY_SETTLE_SECONDS: '1',
    }),
    ['api', 'worker'],
  );
}, 60_000);

afterAll(async () => {
  await service?.close();
  await wms?.close();
  await sandbox?.close();
  await cluster?.stop();
  await env.dropDatabase();
});

/** Every key of this test's namespace, with the node (index) that holds it. */
async function keysByNode(): Promise<{ key: string; node: number }[]> {
  const found: { key: string; node: number }[] = [];
  for (const [node, { client }] of cluster.nodes.entries()) {
    for (const key of await client.keys(`${PREFIX}:*`)) {
      found.push({ key, node });
    }
  }
  return found;
}

async function slotOf(key: string): Promise<number> {
  return Number(await cluster.nodes[0]!.client.cluster('KEYSLOT', key));
}

function fakeIo(): CliIo & { stdout: string[]; stderr: string[] } {
  const stdout: string[] = [];
  const stderr: string[] = [];
  return {
    stdout,
    stderr,
    out: (text) => void stdout.push(text),
    err: (text) => void stderr.push(text),
    interactive: false,
    stdoutIsTTY: false,
    confirm: () => Promise.resolve(false),
  };
}

describe('on a three-master Redis Cluster', () => {
  it('runs the seed scenario: event, send, delivery reports, reply, WMS action', async () => {
    expect(service.deps.config.REDIS_CLUSTER_NODES).toHaveLength(3);
    await runSeedScenario({ service, sandbox, wms, webhookToken: WEBHOOK_TOKEN });

    for (const shipmentId of [SEED_SHIPMENT, REPLY_SHIPMENT]) {
      const [row] = await service.deps.db
        .select()
        .from(whatsappStatusLogs)
        .where(eq(whatsappStatusLogs.shipmentId, shipmentId));
      expect(row?.status, shipmentId).toBe('READ');
    }
    const reschedule = wms.notifications.filter((n) => n.body.shipmentId === REPLY_SHIPMENT);
    expect(reschedule).toHaveLength(1);
    // The shipment is then delivered: its attempt's outcome closes through `shipment.status`.
    await pushFdr(service, statusEvent(SEED_SHIPMENT, 'delivered', '2023-06-10 11:00:00'));
    await waitFor(
      async () =>
        (await findAttemptOutcome(service.deps.db, SEED_SHIPMENT, 1))?.outcome === 'delivered',
      { what: 'the delivered outcome' },
    );
    // Each FDR message went out once.
    const templateSends = sandbox.sends.filter(
      (s) => s.outcome === 'success' && s.params.isTemplate === 'true',
    );
    expect(templateSends).toHaveLength(2);
  });

  it("keeps each queue's keys in one slot of its own, the queues spread over the nodes", async () => {
    const keys = await keysByNode();
    const nodesOfQueue = new Map<string, Set<number>>();
    const slotsOfQueue = new Map<string, Set<number>>();
    for (const name of QUEUE_NAMES) {
      const own = keys.filter((k) => k.key.startsWith(`${PREFIX}:{${name}}:`));
      expect(own.length, `keys of ${name}`).toBeGreaterThan(0);
      nodesOfQueue.set(name, new Set(own.map((k) => k.node)));
      slotsOfQueue.set(name, new Set(await Promise.all(own.map((k) => slotOf(k.key)))));
    }
    for (const name of QUEUE_NAMES) {
      expect(slotsOfQueue.get(name)?.size, `slots of ${name}`).toBe(1);
      expect(nodesOfQueue.get(name)?.size, `nodes of ${name}`).toBe(1);
    }
    const slots = QUEUE_NAMES.map((name) => [...slotsOfQueue.get(name)!][0]!);
    expect(new Set(slots).size).toBe(QUEUE_NAMES.length);
    // The seven queues' fixed tags fall on all three masters.
    const nodes = QUEUE_NAMES.map((name) => [...nodesOfQueue.get(name)!][0]!);
    expect(new Set(nodes).size).toBe(3);
    for (const [i, name] of QUEUE_NAMES.entries()) {
      expect(await cluster.nodeOfSlot(slots[i]!), name).toBe(nodes[i]);
    }

    // The senders' pacing state, read and written together by its scripts, shares one slot.
    const senderKeys = keys.filter((k) => k.key.startsWith(`${PREFIX}:{senders}:`));
    expect(senderKeys.map((k) => k.key)).toEqual(
      expect.arrayContaining([
        `${PREFIX}:{senders}:sender-pace-connections`,
        expect.stringMatching(/:\{senders\}:sender-pace:/),
      ]),
    );
    expect(new Set(await Promise.all(senderKeys.map((k) => slotOf(k.key)))).size).toBe(1);

    // Every key of the namespace is one of those: no key outside a tag joins a multi-key script.
    const untagged = keys.filter((k) => !/^[^{]*\{[^}]+\}/.test(k.key)).map((k) => k.key);
    expect(untagged.every((k) => /:(customer-pace|auth-failures|retention-lock)/.test(k))).toBe(
      true,
    );
  });

  it('shows the seven queues in Bull Board', async () => {
    const authorization = `Basic ${Buffer.from(`${ADMIN.ADMIN_USER}:${ADMIN.ADMIN_PASSWORD}`).toString('base64')}`;
    const res = await fetch(`${service.url}/admin/queues/api/queues`, {
      headers: { authorization },
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as {
      queues: { name: string; counts: { completed: number } }[];
    };
    expect(body.queues.map((q) => q.name).sort()).toEqual([...QUEUE_NAMES].sort());
    const send = body.queues.find((q) => q.name === 'message.send');
    expect(send?.counts.completed).toBeGreaterThan(0);
  });

  it('answers the CLI through REDIS_CLUSTER_NODES', async () => {
    const io = fakeIo();
    const code = await runCli(['queues', '--json'], io, clusterEnv);
    expect(io.stderr.join('')).toBe('');
    expect(code).toBe(0);
    const { queues: rows } = JSON.parse(io.stdout.join('')) as {
      queues: { queue: string; completed: number }[];
    };
    expect(rows.map((r) => r.queue)).toEqual(QUEUE_NAMES);
    expect(rows.find((r) => r.queue === 'message.send')?.completed).toBeGreaterThan(0);

    const senders = fakeIo();
    expect(await runCli(['sender', 'list', '--json'], senders, clusterEnv)).toBe(0);
    const { senders: list } = JSON.parse(senders.stdout.join('')) as {
      senders: { connection: string; paused: boolean }[];
    };
    expect(list.length).toBeGreaterThan(0);
    expect(list.every((s) => !s.paused)).toBe(true);
  });

  it('drops a changed account from every replica through the settings channel', async () => {
    // A second replica's cache, on its own clients to the cluster.
    const other: Deps = createDeps(service.deps.config, createLog('silent'));
    let cache: SettingsCache | null = null;
    try {
      cache = await createSettingsCache({
        db: other.db,
        redis: other.redis,
        prefix: PREFIX,
        ttlMs: 60_000,
        log: other.log,
      });
      const replica = cache;
      // Once it listens, it caches: a change written behind its back is not seen.
      let written = 0;
      await waitFor(
        async () => {
          written += 1;
          await saveAccountSettings(service.deps.db, 379, { storeName: `Unseen ${written}` });
          return (await replica.get(379)).storeName !== `Unseen ${written}`;
        },
        { what: 'the replica caching account 379' },
      );
      // A change through the API (another replica) reaches it over the cluster's pub/sub.
      const res = await service.app!.inject({
        method: 'PUT',
        url: '/v1/accounts/379/whatsapp-settings',
        headers: { authorization: `Bearer ${API_TOKEN}` },
        payload: { storeName: 'After' },
      });
      expect(res.statusCode).toBe(200);
      await waitFor(async () => (await replica.get(379)).storeName === 'After', {
        what: 'the announcement on the replica',
      });
    } finally {
      await cache?.close();
      await other.close();
    }
  });
});
