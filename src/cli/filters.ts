/**
 * Which failed jobs a `failed` or `requeue` command means: failed within `--since`, with
 * `--reason` in the failure message, with the `--code` the message starts with.
 */

/** The filters of `failed` and `requeue`, already parsed (see args.ts). */
export interface FailedFilter {
  /** Failed no longer ago than this many milliseconds. */
  sinceMs?: number;
  /** Text the failure reason contains, case-insensitive. */
  reason?: string;
  /** Error code the failure reason starts with, lower-case (`gupshup_100`). */
  code?: string;
  /** At most this many jobs, newest failure first. */
  limit?: number;
}

/** The part of a BullMQ job the filters read. */
export interface FailedJobFacts {
  failedReason?: string;
  /** When the job failed (epoch ms). */
  finishedOn?: number;
}

/**
 * The error code a failure reason starts with: workers throw `<code>: <details>` (message.send's
 * `gupshup_100: Unknown exception…`). Null when the reason does not start with one.
 */
export function errorCodeOf(failedReason: string | undefined): string | null {
  const match = /^([A-Za-z][\w.-]*): /.exec(failedReason ?? '');
  return match?.[1]?.toLowerCase() ?? null;
}

/** The oldest failure time `--since` accepts, or null without `--since`. */
export function sinceCutoff(filter: FailedFilter, now: number): number | null {
  return filter.sinceMs === undefined ? null : now - filter.sinceMs;
}

export function matchesFailedJob(job: FailedJobFacts, filter: FailedFilter, now: number): boolean {
  const cutoff = sinceCutoff(filter, now);
  if (cutoff !== null && (job.finishedOn ?? 0) < cutoff) {
    return false;
  }
  if (filter.code !== undefined && errorCodeOf(job.failedReason) !== filter.code) {
    return false;
  }
  if (
    filter.reason !== undefined &&
    !(job.failedReason ?? '').toLowerCase().includes(filter.reason.toLowerCase())
  ) {
    return false;
  }
  return true;
}

/** One line saying which filters applied, for messages ("with code gupshup_100, since 2h"). */
export function describeFilter(filter: FailedFilter): string {
  const parts: string[] = [];
  if (filter.code !== undefined) {
    parts.push(`code ${filter.code}`);
  }
  if (filter.reason !== undefined) {
    parts.push(`reason containing "${filter.reason}"`);
  }
  if (filter.sinceMs !== undefined) {
    parts.push(`failed in the last ${formatDuration(filter.sinceMs)}`);
  }
  return parts.length ? ` (${parts.join(', ')})` : '';
}

export function formatDuration(ms: number): string {
  const units: [string, number][] = [
    ['d', 86_400_000],
    ['h', 3_600_000],
    ['m', 60_000],
    ['s', 1_000],
  ];
  let rest = ms;
  let out = '';
  for (const [unit, size] of units) {
    const n = Math.floor(rest / size);
    if (n > 0) {
      out += `${n}${unit}`;
      rest -= n * size;
    }
  }
  return out || '0s';
}
