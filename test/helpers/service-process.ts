/**
 * The service as an operator runs it, `node --import tsx src/main.ts` in a child process, for
 * tests of signals and exit codes. Only the given variables reach it (plus PATH).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';

import { waitFor } from './env.ts';

export interface ServiceProcess {
  child: ChildProcess;
  url: string;
  /** Resolves with the exit code (null when killed by a signal). */
  exited: Promise<number | null>;
  /** What the process printed so far. */
  output(): { stdout: string; stderr: string };
  /** Its JSON log lines so far, parsed (other stdout lines are skipped). */
  logs(): Record<string, unknown>[];
}

/** A TCP port nobody listens on right now. */
export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  server.close();
  await once(server, 'close');
  return port;
}

/** Starts the service with `vars` on a free port and waits until `/readyz` answers 200. */
export async function startServiceProcess(vars: Record<string, string>): Promise<ServiceProcess> {
  const port = await freePort();
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    env: {
      PATH: process.env.PATH ?? '',
      METADATA_SERVER_DETECTION: 'none',
      ...vars,
      PORT: String(port),
      HOST: '127.0.0.1',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = once(child, 'exit').then(([code]) => code as number | null);
  const url = `http://127.0.0.1:${port}`;
  const proc: ServiceProcess = {
    child,
    url,
    exited,
    output: () => ({ stdout, stderr }),
    logs: () =>
      stdout
        .split('\n')
        .filter((line) => line.startsWith('{'))
        .map((line) => JSON.parse(line) as Record<string, unknown>),
  };
  await waitFor(
    async () => {
      if (child.exitCode !== null) {
        throw new Error(`the service exited with ${child.exitCode}: ${stderr || stdout}`);
      }
      const res = await fetch(`${url}/readyz`);
      return res.status === 200;
    },
    { timeoutMs: 30_000, intervalMs: 100, what: '/readyz to answer 200' },
  );
  return proc;
}
