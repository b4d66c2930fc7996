/**
 * The service as production runs it: the compiled build that `npm start` runs (`node
 * dist/main.js`) in a child process, for tests of signals and exit codes. Only the given
 * variables reach it (plus PATH). The build must be there and no older than the sources
 * (`npm run build`; `.ci/run` builds before the tests): a test of a stale build proves nothing.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';

import { waitFor } from './env.ts';

const ROOT = new URL('../../', import.meta.url);

/**
 * The absolute path of a compiled file (`dist/cli/main.js`). Throws, saying to build, when it is
 * missing or older than a source file it may have been built from.
 */
export function builtFile(path: string): string {
  const file = fileURLToPath(new URL(path, ROOT));
  if (!existsSync(file)) {
    throw new Error(
      `${path} is missing: run \`npm run build\` first (these tests run the compiled build)`,
    );
  }
  // Every build rewrites every output, so one output's age is the build's.
  const builtAt = statSync(file).mtimeMs;
  const src = fileURLToPath(new URL('src/', ROOT));
  const newer = readdirSync(src, { recursive: true, encoding: 'utf8' }).find(
    (name) =>
      /\.(ts|json)$/.test(name) &&
      !name.endsWith('.test.ts') &&
      statSync(`${src}${name}`).mtimeMs > builtAt,
  );
  if (newer) {
    throw new Error(`src/${newer} changed after the build: run \`npm run build\` first`);
  }
  return file;
}

/** What `npm start` runs, without npm in between: node's arguments from its `node …` script. */
export function startArgs(): string[] {
  const pkg = JSON.parse(readFileSync(new URL('package.json', ROOT), 'utf8')) as {
    scripts: Record<string, string | undefined>;
  };
  const [command, ...words] = (pkg.scripts.start ?? '').split(/\s+/);
  const at = words.findIndex((word) => !word.startsWith('-'));
  const entry = words[at];
  if (command !== 'node' || !entry) {
    throw new Error(`npm start runs "${pkg.scripts.start}", not "node [flags] <file>"`);
  }
  return [...words.slice(0, at), builtFile(entry), ...words.slice(at + 1)];
}

/**
 * The allocator the image preloads (its Dockerfile's `ENV LD_PRELOAD=… MALLOC_CONF=…`), for
 * running the service as the image does. Throws when this machine lacks the library, saying
 * which package to install: a run without it would measure another allocator.
 */
export function imageAllocator(): { LD_PRELOAD: string; MALLOC_CONF: string } {
  const dockerfile = readFileSync(new URL('Dockerfile', ROOT), 'utf8');
  const match = /^ENV LD_PRELOAD=(\S+) MALLOC_CONF=(\S+)$/m.exec(dockerfile);
  if (!match) {
    throw new Error('the Dockerfile sets no `ENV LD_PRELOAD=… MALLOC_CONF=…` line');
  }
  const [, library, conf] = match as unknown as [string, string, string];
  const dirs = ['/usr/lib/x86_64-linux-gnu', '/usr/lib/aarch64-linux-gnu', '/usr/lib', '/lib'];
  if (!dirs.some((dir) => existsSync(`${dir}/${library}`))) {
    throw new Error(`${library} is not installed: apt-get install libjemalloc2`);
  }
  return { LD_PRELOAD: library, MALLOC_CONF: conf };
}

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
  const child = spawn(process.execPath, startArgs(), {
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
