/**
 * What the benchmark reads from the machine and the servers: CPU time and resident memory of a
 * process (from /proc), MySQL's statement counter and Redis's command counter and memory (from
 * the servers' own status), and percentiles.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

import type { Redis } from 'ioredis';
import type { Connection } from 'mysql2/promise';

const TICKS_PER_SECOND = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;

/** User + system CPU of a process so far, in ms (0 once it is gone). */
export function cpuMs(pid: number | undefined): number {
  if (!pid) {
    return 0;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces) start at state (field 3).
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[11]) + Number(fields[12]);
    return (ticks * 1000) / TICKS_PER_SECOND;
  } catch {
    return 0;
  }
}

/** Resident set size of a process, in bytes. */
export function rssBytes(pid: number | undefined): number {
  if (!pid) {
    return 0;
  }
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = /^VmRSS:\s+(\d+)/m.exec(status)?.[1];
    return kb ? Number(kb) * 1024 : 0;
  } catch {
    return 0;
  }
}

/** The pid of the MySQL server on this machine (mariadbd or mysqld), if it runs here. */
export function mysqlServerPid(): number | undefined {
  for (const name of ['mariadbd', 'mysqld']) {
    try {
      const out = execFileSync('pgrep', ['-x', name]).toString().trim().split('\n')[0];
      if (out) {
        return Number(out);
      }
    } catch {
      // not running under that name
    }
  }
  return undefined;
}

/** Statements the MySQL server has run, over all its clients. */
export async function mysqlQuestions(conn: Connection): Promise<number> {
  const [rows] = await conn.query("SHOW GLOBAL STATUS LIKE 'Questions'");
  const row = (rows as { Value: string }[])[0];
  return Number(row?.Value ?? 0);
}

/** Commands the Redis server has processed, and its memory in use. */
export async function redisStats(redis: Redis): Promise<{ commands: number; usedMemory: number }> {
  const info = await redis.info();
  const field = (name: string) => Number(new RegExp(`^${name}:(\\d+)`, 'm').exec(info)?.[1] ?? 0);
  return { commands: field('total_commands_processed'), usedMemory: field('used_memory') };
}

export function percentile(values: number[], p: number): number {
  if (values.length === 0) {
    return 0;
  }
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? 0;
}

/** Polls `probe` every `intervalMs` until it holds; throws after `timeoutMs`. */
export async function until(
  probe: () => boolean | Promise<boolean>,
  timeoutMs: number,
  what: string,
  intervalMs = 20,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) {
      throw new Error(`benchmark timed out waiting for ${what}`);
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

export function round(n: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}
