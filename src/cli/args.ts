/**
 * Parsers for the CLI's arguments and option values (commander calls them while parsing). Each
 * throws commander's InvalidArgumentError, which the program turns into exit code 2.
 */
import { InvalidArgumentError } from 'commander';

import { QUEUE_NAMES, type QueueName } from '../queues/index.ts';

const UNIT_MS = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/**
 * A duration such as `30m`, `2h`, `1d` or `1h30m` (units s, m, h, d), in milliseconds. A bare
 * number is refused: "30" could mean seconds or minutes, and a wrong guess requeues the wrong jobs.
 */
export function parseDuration(text: string): number {
  const value = text.trim().toLowerCase();
  if (!/^(\d+[smhd])+$/.test(value)) {
    throw new InvalidArgumentError('use a duration like 30m, 2h or 1d (units s, m, h, d).');
  }
  let ms = 0;
  for (const [, amount, unit] of value.matchAll(/(\d+)([smhd])/g)) {
    ms += Number(amount) * UNIT_MS[unit as keyof typeof UNIT_MS];
  }
  if (ms <= 0 || !Number.isSafeInteger(ms)) {
    throw new InvalidArgumentError('the duration must be longer than zero.');
  }
  return ms;
}

/** One of the catalog's queue names; an unknown name lists the valid ones. */
export function parseQueueName(text: string): QueueName {
  const name = text.trim();
  if ((QUEUE_NAMES as string[]).includes(name)) {
    return name as QueueName;
  }
  throw new InvalidArgumentError(`unknown queue; valid queues: ${QUEUE_NAMES.join(', ')}.`);
}

/** A whole number of jobs, at least 1. */
export function parseLimit(text: string): number {
  const value = text.trim();
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n) || n < 1) {
    throw new InvalidArgumentError('use a whole number of jobs, at least 1.');
  }
  return n;
}

/**
 * An error code as it starts a failed job's reason (`gupshup_100: …`). A bare Gupshup error id
 * (`100`) means `gupshup_100`; other codes (`http_503`, `timeout`, `network`) are taken as given.
 */
export function parseErrorCode(text: string): string {
  const value = text.trim().toLowerCase();
  if (/^\d+$/.test(value)) {
    return `gupshup_${value}`;
  }
  if (/^[a-z][a-z0-9_.-]*$/.test(value)) {
    return value;
  }
  throw new InvalidArgumentError('use a Gupshup error id like 100, or a code like http_503.');
}

/** A client's account id: a positive whole number. */
export function parseAccount(text: string): number {
  const value = text.trim();
  if (!/^\d{1,10}$/.test(value) || Number(value) < 1 || Number(value) > 2_147_483_647) {
    throw new InvalidArgumentError('an account id is a positive whole number.');
  }
  return Number(value);
}

/** A token's id, as `wa-notify tokens list` shows it. */
export function parseTokenId(text: string): number {
  const value = text.trim();
  if (!/^\d{1,10}$/.test(value) || Number(value) < 1) {
    throw new InvalidArgumentError('a token id is a positive whole number (see tokens list).');
  }
  return Number(value);
}

/** A suppression reason: `opted_out` or `not_on_whatsapp`. */
export function parseSuppressionReason(text: string): 'opted_out' | 'not_on_whatsapp' {
  const value = text.trim().toLowerCase();
  if (value === 'opted_out' || value === 'not_on_whatsapp') {
    return value;
  }
  throw new InvalidArgumentError('use opted_out or not_on_whatsapp.');
}
