/**
 * The Redis clients: one server (REDIS_URL) or a Redis Cluster (REDIS_CLUSTER_NODES, which takes
 * precedence; REDIS_URL then gives only the user, password and TLS `rediss:` every node is
 * reached with). Every client the service and the CLI make comes from here, so both modes take
 * one code path: the keys are hash-tagged the same way on a single server (src/redis-keys.ts).
 *
 * Two kinds of connection: the producer's, which fails fast while Redis is down (ingress must
 * answer, so Pub/Sub and Gupshup redeliver), and the workers', which BullMQ wants blocking and
 * retrying for ever (`maxRetriesPerRequest: null`).
 */
import type { ConnectionOptions, RedisOptions as BullRedisOptions } from 'bullmq';
import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';

import type { Config } from './config.ts';

/** A connection to one server or to a cluster: both take the same commands. */
export type RedisClient = Redis | Cluster;

export interface RedisNode {
  host: string;
  port: number;
}

type RedisConfig = Pick<Config, 'REDIS_URL' | 'REDIS_CLUSTER_NODES'>;

/** `host:port` or `[v6 address]:port` → the node, or null when it is neither. */
export function parseRedisNode(text: string): RedisNode | null {
  const match = /^(?:\[([0-9A-Fa-f:.]+)\]|([A-Za-z0-9_.-]+)):(\d{1,5})$/.exec(text.trim());
  const port = Number(match?.[3]);
  const host = match?.[1] ?? match?.[2];
  if (!host || !Number.isInteger(port) || port < 1 || port > 65_535) {
    return null;
  }
  return { host, port };
}

/** Connection options of a `redis://` or `rediss://` URL (user, password, database, TLS). */
export function redisOptions(url: string): BullRedisOptions & RedisOptions {
  const u = new URL(url);
  const db = u.pathname.length > 1 ? Number(u.pathname.slice(1)) : 0;
  return {
    host: u.hostname,
    port: u.port ? Number(u.port) : 6379,
    username: u.username ? decodeURIComponent(u.username) : undefined,
    password: u.password ? decodeURIComponent(u.password) : undefined,
    db: Number.isInteger(db) ? db : 0,
    tls: u.protocol === 'rediss:' ? {} : undefined,
  };
}

/** What every node of the cluster is reached with: REDIS_URL's credentials and TLS only. */
function nodeOptions(url: string): RedisOptions {
  const all: RedisOptions = redisOptions(url);
  return { username: all.username, password: all.password, tls: all.tls };
}

const PRODUCER: RedisOptions = {
  enableOfflineQueue: false,
  maxRetriesPerRequest: 1,
  connectTimeout: 5_000,
};

function clusterOptions(config: RedisConfig, redis: RedisOptions, more: ClusterOptions) {
  const node = nodeOptions(config.REDIS_URL);
  return {
    redisOptions: { ...node, ...redis },
    // A managed cluster's TLS certificates name its hosts: connect by the names the cluster
    // announces rather than by the addresses they resolve to, so the names can be verified.
    ...(node.tls ? { dnsLookup: (address, done) => done(null, address) } : {}),
    ...more,
  } satisfies ClusterOptions;
}

/**
 * The producer connection: commands fail at once while Redis (or the cluster) is not ready,
 * instead of waiting in an offline queue.
 */
export function createRedisClient(config: RedisConfig): RedisClient {
  if (config.REDIS_CLUSTER_NODES) {
    return new Cluster(
      [...config.REDIS_CLUSTER_NODES],
      clusterOptions(
        config,
        { connectTimeout: PRODUCER.connectTimeout, maxRetriesPerRequest: 1 },
        {
          enableOfflineQueue: false,
        },
      ),
    );
  }
  return new Redis({ ...redisOptions(config.REDIS_URL), ...PRODUCER });
}

/**
 * What BullMQ workers connect with. On one server: options (each worker opens its own
 * connections). On a cluster: a client that never connects itself; BullMQ duplicates it for each
 * worker's connections. Close it with `closeWorkerConnection`.
 */
export function workerConnectionOptions(config: RedisConfig): ConnectionOptions {
  if (config.REDIS_CLUSTER_NODES) {
    return new Cluster(
      [...config.REDIS_CLUSTER_NODES],
      clusterOptions(config, { maxRetriesPerRequest: null }, { lazyConnect: true }),
    );
  }
  return { ...redisOptions(config.REDIS_URL), maxRetriesPerRequest: null };
}

export function closeWorkerConnection(connection: ConnectionOptions): void {
  if (connection instanceof Cluster) {
    connection.disconnect();
  }
}

/**
 * A second connection like `client`, for a subscriber (which can do nothing else): it waits
 * for Redis while it is down and retries for ever.
 */
export function duplicateForSubscriber(client: RedisClient): RedisClient {
  if (client instanceof Cluster) {
    return client.duplicate([], {
      enableOfflineQueue: true,
      lazyConnect: false,
      redisOptions: { ...client.options.redisOptions, maxRetriesPerRequest: null },
    });
  }
  return client.duplicate({ enableOfflineQueue: true, maxRetriesPerRequest: null });
}

/** Where Redis is, for messages: `Redis at host:port` or the cluster's nodes, no credentials. */
export function describeRedis(config: RedisConfig): string {
  if (config.REDIS_CLUSTER_NODES) {
    const nodes = config.REDIS_CLUSTER_NODES.map((n) =>
      n.host.includes(':') ? `[${n.host}]:${n.port}` : `${n.host}:${n.port}`,
    );
    return `the Redis Cluster at ${nodes.join(', ')}`;
  }
  const u = new URL(config.REDIS_URL);
  return `Redis at ${u.hostname}:${u.port || '(default port)'}`;
}
