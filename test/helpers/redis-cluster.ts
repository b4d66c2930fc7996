/**
 * A throwaway Redis Cluster of three masters on free loopback ports, for tests: each node is a
 * `redis-server --cluster-enabled yes` with its data in a temporary directory, the cluster made by
 * `redis-cli --cluster create … --cluster-replicas 0`, ready once every node reports
 * `cluster_state:ok`. `stop()` ends the servers and removes the directory. Needs `redis-server`
 * and `redis-cli` on the PATH (Debian: redis-server, redis-tools).
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

import { Redis } from 'ioredis';

import { waitFor } from './env.ts';

const run = promisify(execFile);

export interface ClusterNode {
  host: string;
  port: number;
  /** A plain connection to this node alone (not cluster-aware). */
  client: Redis;
}

export interface RedisCluster {
  nodes: ClusterNode[];
  /** `127.0.0.1:p1,127.0.0.1:p2,127.0.0.1:p3`, as REDIS_CLUSTER_NODES takes it. */
  nodeList: string;
  /** The node (index into `nodes`) that serves `slot`. */
  nodeOfSlot(slot: number): Promise<number>;
  stop(): Promise<void>;
}

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** A port free for the node and for its cluster bus (the port + 10000). */
async function freeNodePort(taken: Set<number>): Promise<number> {
  for (let i = 0; i < 200; i += 1) {
    const port = 20_000 + Math.floor(Math.random() * 30_000);
    if (taken.has(port) || taken.has(port + 10_000)) {
      continue;
    }
    if ((await canListen(port)) && (await canListen(port + 10_000))) {
      taken.add(port);
      taken.add(port + 10_000);
      return port;
    }
  }
  throw new Error('no free loopback port pair for a Redis Cluster node');
}

export async function startRedisCluster(masters = 3): Promise<RedisCluster> {
  const dir = await mkdtemp(join(tmpdir(), 'redis-cluster-test-'));
  const servers: ChildProcess[] = [];
  const output: string[] = [];
  const nodes: ClusterNode[] = [];
  const stop = async () => {
    for (const node of nodes) {
      node.client.disconnect();
    }
    await Promise.all(
      servers.map(async (server) => {
        if (server.exitCode === null && server.signalCode === null) {
          const exited = once(server, 'exit');
          server.kill('SIGTERM');
          await exited;
        }
      }),
    );
    await rm(dir, { recursive: true, force: true });
  };
  try {
    const taken = new Set<number>();
    for (let i = 0; i < masters; i += 1) {
      const port = await freeNodePort(taken);
      const server = spawn(
        'redis-server',
        [
          '--port',
          String(port),
          '--bind',
          '127.0.0.1',
          '--cluster-enabled',
          'yes',
          '--cluster-config-file',
          `nodes-${port}.conf`,
          '--cluster-node-timeout',
          '5000',
          '--dir',
          dir,
          '--dbfilename',
          `dump-${port}.rdb`,
          '--save',
          '',
          '--appendonly',
          'no',
          '--maxmemory-policy',
          'noeviction',
        ],
        { stdio: ['ignore', 'pipe', 'pipe'] },
      );
      server.stdout?.on('data', (d: Buffer) => output.push(d.toString()));
      server.stderr?.on('data', (d: Buffer) => output.push(d.toString()));
      servers.push(server);
      const client = new Redis({
        host: '127.0.0.1',
        port,
        lazyConnect: true,
        maxRetriesPerRequest: 1,
      });
      // Refused until the server listens: the wait below asks again.
      client.on('error', () => undefined);
      nodes.push({ host: '127.0.0.1', port, client });
    }
    for (const node of nodes) {
      await waitFor(
        async () => {
          if (node.client.status === 'wait') {
            await node.client.connect();
          }
          return (await node.client.ping()) === 'PONG';
        },
        { what: `redis-server on port ${node.port}` },
      );
    }
    const addresses = nodes.map((n) => `${n.host}:${n.port}`);
    await run('redis-cli', [
      '--cluster',
      'create',
      ...addresses,
      '--cluster-replicas',
      '0',
      '--cluster-yes',
    ]);
    for (const node of nodes) {
      await waitFor(
        async () => String(await node.client.cluster('INFO')).includes('cluster_state:ok'),
        { what: `cluster_state:ok on port ${node.port}`, timeoutMs: 30_000 },
      );
    }
  } catch (err) {
    await stop();
    throw new Error(
      `could not start a Redis Cluster: ${err instanceof Error ? err.message : String(err)}\n${output.join('')}`,
      { cause: err },
    );
  }
  return {
    nodes,
    nodeList: nodes.map((n) => `${n.host}:${n.port}`).join(','),
    async nodeOfSlot(slot) {
      const ranges = await nodes[0]!.client.cluster('SLOTS');
      const range = ranges.find(([from, to]) => slot >= from && slot <= to);
      const index = nodes.findIndex((n) => n.port === range?.[2]?.[1]);
      if (index < 0) {
        throw new Error(`no node serves slot ${slot}`);
      }
      return index;
    },
    stop,
  };
}
