/**
 * A Redis server of the run's own: started on a free port with AOF (`appendfsync everysec`, as
 * production should run it), so one scenario can SIGKILL it and start it again on the same data,
 * and no scenario touches the machine's Redis.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { Redis } from 'ioredis';

import { waitFor } from '../../helpers/env.ts';
import { freePort } from '../../helpers/service-process.ts';

export interface RedisServer {
  url: string;
  /** The running server's pid (undefined while it is down). */
  readonly pid: number | undefined;
  /** SIGKILL: the last second of writes may be lost, as AOF everysec allows. */
  kill(): Promise<void>;
  /** Starts it again on the same port and data directory. */
  start(): Promise<void>;
  stop(): Promise<void>;
}

export async function startRedisServer(binary = 'redis-server'): Promise<RedisServer> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'wa-reliability-redis-'));
  let child: ChildProcess | null = null;

  async function start(): Promise<void> {
    child = spawn(
      binary,
      [
        '--port',
        String(port),
        '--bind',
        '127.0.0.1',
        '--dir',
        dir,
        '--appendonly',
        'yes',
        '--appendfsync',
        'everysec',
        '--save',
        '',
        '--maxmemory-policy',
        'noeviction',
        '--protected-mode',
        'yes',
      ],
      { stdio: 'ignore' },
    );
    const probe = new Redis({
      port,
      host: '127.0.0.1',
      lazyConnect: true,
      retryStrategy: () => null,
    });
    probe.on('error', () => undefined);
    try {
      await waitFor(
        async () => {
          if (probe.status !== 'ready') {
            await probe.connect().catch(() => undefined);
          }
          // Loading the AOF answers LOADING until it is done.
          return (await probe.ping()) === 'PONG';
        },
        { timeoutMs: 20_000, intervalMs: 50, what: `redis-server on port ${port}` },
      );
    } finally {
      probe.disconnect();
    }
  }

  async function kill(): Promise<void> {
    const running = child;
    child = null;
    if (running && running.exitCode === null) {
      const exited = once(running, 'exit');
      running.kill('SIGKILL');
      await exited;
    }
  }

  await start();
  return {
    url: `redis://127.0.0.1:${port}`,
    get pid() {
      return child?.pid;
    },
    kill,
    start,
    async stop() {
      await kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
