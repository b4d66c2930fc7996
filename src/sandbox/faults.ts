/**
 * The sandbox's probabilistic fault policy (`setFaults`, `POST /_sandbox/faults`): its schema,
 * and the picker that decides, send by send, whether and which fault applies. The faults
 * themselves are played by src/sandbox/server.ts; their meaning is documented on `FaultKind`
 * in src/sandbox/types.ts.
 *
 * The picker draws from a small seeded PRNG (mulberry32), so a policy with a `seed` faults the
 * same sends, with the same kinds and statuses, on every run.
 */
import { randomInt } from 'node:crypto';

import * as v from 'valibot';

import type { FaultKind, FaultPolicy } from './types.ts';

export const FAULT_KINDS = [
  'http5xx',
  'http429',
  'timeout',
  'drop',
] as const satisfies readonly FaultKind[];

/** The statuses an `http5xx` fault answers, one picked per send. */
export const FAULT_5XX_STATUSES = [500, 502, 503] as const;

export const DEFAULT_FAULT_TIMEOUT_MS = 15_000;

const weight = v.pipe(v.number(), v.finite(), v.minValue(0, 'must be at least 0'));

export const FaultPolicySchema = v.object({
  rate: v.pipe(
    v.number(),
    v.minValue(0, 'must be between 0 and 1'),
    v.maxValue(1, 'must be between 0 and 1'),
  ),
  mix: v.optional(
    v.pipe(
      v.strictObject({
        http5xx: v.optional(weight),
        http429: v.optional(weight),
        timeout: v.optional(weight),
        drop: v.optional(weight),
      }),
      v.check(
        (mix) => Object.values(mix).some((w) => w !== undefined && w > 0),
        'needs at least one positive weight',
      ),
    ),
  ),
  seed: v.optional(v.pipe(v.number(), v.integer('must be a whole number'))),
  timeoutMs: v.optional(
    v.pipe(
      v.number(),
      v.integer('must be a whole number of ms'),
      v.minValue(0, 'must be at least 0'),
      v.maxValue(600_000, 'must be at most 600000'),
    ),
  ),
});

/** The fault chosen for one send; `status` for the HTTP kinds. */
export interface FaultDraw {
  kind: FaultKind;
  status?: number;
}

export interface FaultPicker {
  /** Whether the next send gets a fault, and which. */
  next(): FaultDraw | null;
  timeoutMs: number;
}

/** mulberry32: a 32-bit seeded PRNG, uniform in [0, 1). Plenty for picking faults. */
export function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/** A fresh seed when a policy gives none. */
export function randomSeed(): number {
  return randomInt(0, 2 ** 32);
}

/**
 * Builds the picker of a checked policy. Each send draws once for "fault or not" and, when
 * faulted, once for the kind (and once more for an `http5xx` status). Without `mix` every kind
 * weighs the same; with it, a kind it leaves out weighs 0.
 */
export function createFaultPicker(policy: FaultPolicy): FaultPicker {
  const random = mulberry32(policy.seed ?? randomSeed());
  const weights = FAULT_KINDS.map((kind) => (policy.mix ? (policy.mix[kind] ?? 0) : 1));
  const total = weights.reduce((sum, w) => sum + w, 0);
  return {
    timeoutMs: policy.timeoutMs ?? DEFAULT_FAULT_TIMEOUT_MS,
    next: () => {
      if (random() >= policy.rate) {
        return null;
      }
      const kind = pickWeighted(random() * total, weights);
      if (kind === 'http5xx') {
        const index = Math.floor(random() * FAULT_5XX_STATUSES.length);
        return { kind, status: FAULT_5XX_STATUSES[index] ?? 500 };
      }
      return kind === 'http429' ? { kind, status: 429 } : { kind };
    },
  };
}

function pickWeighted(point: number, weights: number[]): FaultKind {
  let rest = point;
  let last: FaultKind = 'http5xx';
  for (const [index, kind] of FAULT_KINDS.entries()) {
    const w = weights[index] ?? 0;
    if (w <= 0) {
      continue;
    }
    last = kind;
    if (rest < w) {
      return kind;
    }
    rest -= w;
  }
  // Rounding can leave `rest` a hair above the last weight: that point belongs to the last kind.
  return last;
}
