import { lookup } from 'node:dns';

import { Cluster } from 'ioredis';
import { describe, expect, it } from 'vitest';

import { ConfigError, loadConfig } from './config.ts';
import { describeRedis, parseRedisNode, workerConnectionOptions } from './redis.ts';

const DEV = { NODE_ENV: 'development' };

function problemsOf(env: Record<string, string>): string[] {
  try {
    loadConfig({ ...DEV, ...env });
  } catch (err) {
    return (err as ConfigError).problems;
  }
  return [];
}

describe('REDIS_CLUSTER_NODES', () => {
  it('takes host:port pairs, names and IPv6 addresses alike', () => {
    const config = loadConfig({
      ...DEV,
      REDIS_CLUSTER_NODES: ' 10.0.0.11:6379, redis-2.internal:7001,[::1]:7002,',
    });
    expect(config.REDIS_CLUSTER_NODES).toEqual([
      { host: '10.0.0.11', port: 6379 },
      { host: 'redis-2.internal', port: 7001 },
      { host: '::1', port: 7002 },
    ]);
    expect(describeRedis(config)).toBe(
      'the Redis Cluster at 10.0.0.11:6379, redis-2.internal:7001, [::1]:7002',
    );
    expect(loadConfig(DEV).REDIS_CLUSTER_NODES).toBeUndefined();
    expect(describeRedis(loadConfig(DEV))).toBe('Redis at 127.0.0.1:6379');
  });

  it('refuses a node without a port, a port out of range, and a database other than 0', () => {
    for (const bad of ['10.0.0.1', '10.0.0.1:0', '10.0.0.1:70000', 'a:1,b', 'redis://a:1']) {
      expect(problemsOf({ REDIS_CLUSTER_NODES: bad }), bad).toEqual([
        expect.stringMatching(/^REDIS_CLUSTER_NODES: must be comma-separated host:port pairs/),
      ]);
    }
    expect(parseRedisNode('[::1]:6379')).toEqual({ host: '::1', port: 6379 });
    expect(problemsOf({ REDIS_CLUSTER_NODES: 'a:1', REDIS_URL: 'redis://h:6379/2' })).toEqual([
      'REDIS_URL: names no database with REDIS_CLUSTER_NODES (a cluster has only 0)',
    ]);
    expect(problemsOf({ REDIS_CLUSTER_NODES: 'a:1', REDIS_URL: 'redis://h:6379/0' })).toEqual([]);
  });

  it("reaches every node with REDIS_URL's user, password and TLS, never its host", () => {
    const config = loadConfig({
      ...DEV,
      REDIS_CLUSTER_NODES: 'node-1:6379,node-2:6379',
      REDIS_URL: 'rediss://app:s%3Acret@ignored.example:6380',
    });
    const connection = workerConnectionOptions(config);
    expect(connection).toBeInstanceOf(Cluster);
    const cluster = connection as Cluster;
    try {
      // BullMQ duplicates it per worker; it never connects itself.
      expect(cluster.status).toBe('wait');
      expect(cluster.options.redisOptions).toMatchObject({
        username: 'app',
        password: 's:cret',
        tls: {},
        maxRetriesPerRequest: null,
      });
      expect(cluster.options.redisOptions).not.toHaveProperty('host');
      // TLS: the names as given, not resolved first (certificates name hosts, not addresses).
      expect(cluster.options.dnsLookup).not.toBe(lookup);
      let resolved = '';
      cluster.options.dnsLookup?.('node-1', (_err, address) => (resolved = address));
      expect(resolved).toBe('node-1');
    } finally {
      cluster.disconnect();
    }
    // On one server: plain options, as before.
    expect(workerConnectionOptions(loadConfig(DEV))).toMatchObject({
      host: '127.0.0.1',
      port: 6379,
      maxRetriesPerRequest: null,
    });
  });
});
