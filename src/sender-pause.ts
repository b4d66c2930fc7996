/**
 * Paused senders, shared by every replica through Redis. A sender whose credentials Gupshup
 * refuses or whose credit ran out (src/gupshup/error-actions.ts `pause_sender`) is paused: each
 * `message.send` of its connection checks first, and while it is paused the job waits as a
 * delayed job until the next probe time (no attempt used, none fails) and is remembered, so a
 * resume can wake it at once.
 *
 * Every SENDER_PAUSE_PROBE_MS one waiting send is let through as a probe; its success resumes the
 * sender (a failure pauses it again). `wa-notify sender resume <connection>` resumes it at once.
 * Resuming wakes the remembered jobs; each still sends once (the outbox row decides).
 *
 * Keys (`<prefix>` is `QUEUE_PREFIX:{senders}`, src/redis-keys.ts): `<prefix>:sender-paused:<connection>` (hash: code, reason, since, probeAt; ms on Redis's
 * clock), `<prefix>:sender-paused` (the set of paused connections), `<prefix>:sender-held:<connection>`
 * (the ids of the jobs waiting on it).
 */
import type { RedisClient } from './redis.ts';
import { sendersKeyPrefix } from './redis-keys.ts';
import { redisScript } from './redis-script.ts';

export interface PauseState {
  connection: string;
  /** The send result code that paused it (`gupshup_123`). */
  code: string;
  reason: string;
  /** Epoch ms (Redis clock). */
  since: number;
  /** When the next send may go through as a probe (epoch ms, Redis clock). */
  probeAt: number;
  /** How many jobs wait on it. */
  held: number;
}

export type PauseCheck =
  | { kind: 'go' }
  /** The sender is paused but this send is its probe: it goes, and its outcome decides. */
  | { kind: 'probe'; since: number }
  | { kind: 'wait'; waitMs: number; since: number; code: string; reason: string };

export interface SenderPause {
  /** Pauses the connection (or renews the pause); `started` when it was not paused before. */
  pause(
    connection: string,
    why: { code: string; reason: string },
  ): Promise<{ started: boolean; since: number }>;
  /** Whether a send of the connection may go now. */
  check(connection: string): Promise<PauseCheck>;
  /** Remembers a job waiting on the connection, to wake it on resume. */
  hold(connection: string, jobId: string): Promise<void>;
  /** Lifts the pause; returns whether it was paused and the ids of the jobs that waited. */
  resume(connection: string): Promise<{ wasPaused: boolean; jobIds: string[] }>;
  list(): Promise<PauseState[]>;
}

const NOW = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
`;

const PAUSE = `${NOW}
local started = redis.call('EXISTS', KEYS[1]) == 0
if started then redis.call('HSET', KEYS[1], 'since', now) end
redis.call('HSET', KEYS[1], 'code', ARGV[1], 'reason', ARGV[2], 'probeAt', now + tonumber(ARGV[3]))
redis.call('SADD', KEYS[2], ARGV[4])
return {started and 1 or 0, tonumber(redis.call('HGET', KEYS[1], 'since'))}
`;
const runPause = redisScript(PAUSE);

const CHECK = `${NOW}
if redis.call('EXISTS', KEYS[1]) == 0 then return {0} end
local h = redis.call('HMGET', KEYS[1], 'probeAt', 'since', 'code', 'reason')
local probeAt = tonumber(h[1] or '0')
if now >= probeAt then
  redis.call('HSET', KEYS[1], 'probeAt', now + tonumber(ARGV[1]))
  return {1, 0, tonumber(h[2] or '0')}
end
return {2, probeAt - now, tonumber(h[2] or '0'), h[3] or '', h[4] or ''}
`;
const runCheck = redisScript(CHECK);

const RESUME = `
local was = redis.call('DEL', KEYS[1])
redis.call('SREM', KEYS[2], ARGV[1])
local held = redis.call('SMEMBERS', KEYS[3])
redis.call('DEL', KEYS[3])
return {was, held}
`;
const runResume = redisScript(RESUME);

export function createSenderPause(
  redis: RedisClient,
  queuePrefix: string,
  probeMs: number,
): SenderPause {
  // One hash tag for all of it: the scripts touch a connection's keys and the set together.
  const prefix = sendersKeyPrefix(queuePrefix);
  const stateKey = (c: string) => `${prefix}:sender-paused:${c}`;
  const heldKey = (c: string) => `${prefix}:sender-held:${c}`;
  const pausedSet = `${prefix}:sender-paused`;
  return {
    async pause(connection, why) {
      const [started, since] = (await runPause(
        redis,
        2,
        stateKey(connection),
        pausedSet,
        why.code,
        why.reason.slice(0, 500),
        probeMs,
        connection,
      )) as [number, number];
      return { started: started === 1, since: Number(since) };
    },
    async check(connection) {
      const out = (await runCheck(redis, 1, stateKey(connection), probeMs)) as unknown[];
      if (out[0] === 0) {
        return { kind: 'go' };
      }
      if (out[0] === 1) {
        return { kind: 'probe', since: Number(out[2]) };
      }
      return {
        kind: 'wait',
        waitMs: Number(out[1]),
        since: Number(out[2]),
        code: String(out[3]),
        reason: String(out[4]),
      };
    },
    async hold(connection, jobId) {
      await redis.sadd(heldKey(connection), jobId);
    },
    async resume(connection) {
      const [was, held] = (await runResume(
        redis,
        3,
        stateKey(connection),
        pausedSet,
        heldKey(connection),
        connection,
      )) as [number, string[]];
      return { wasPaused: was === 1, jobIds: held };
    },
    async list() {
      const connections = (await redis.smembers(pausedSet)).sort();
      const states = await Promise.all(
        connections.map(async (connection): Promise<PauseState | null> => {
          const [h, held] = await Promise.all([
            redis.hgetall(stateKey(connection)),
            redis.scard(heldKey(connection)),
          ]);
          if (!h.since) {
            return null;
          }
          return {
            connection,
            code: h.code ?? '',
            reason: h.reason ?? '',
            since: Number(h.since),
            probeAt: Number(h.probeAt ?? 0),
            held,
          };
        }),
      );
      return states.filter((s): s is PauseState => s !== null);
    },
  };
}

/**
 * Resumes the connection and wakes the jobs that waited on it (moved from `delayed` to `wait`;
 * one already gone or running is left alone). Used by the probe and by `wa-notify sender resume`.
 */
export async function resumeSender(
  pause: SenderPause,
  queue: {
    getJob(
      id: string,
    ): Promise<{ isDelayed(): Promise<boolean>; promote(): Promise<void> } | undefined>;
  },
  connection: string,
): Promise<{ wasPaused: boolean; woken: number }> {
  const { wasPaused, jobIds } = await pause.resume(connection);
  let woken = 0;
  for (const id of jobIds) {
    const job = await queue.getJob(id);
    if (job && (await job.isDelayed())) {
      await job.promote().then(
        () => (woken += 1),
        () => undefined,
      );
    }
  }
  return { wasPaused, woken };
}
