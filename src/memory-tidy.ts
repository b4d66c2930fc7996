/**
 * Gives back the memory a burst took once the process is quiet again.
 *
 * V8 collects garbage when JavaScript allocates. After a burst the process goes quiet with its
 * heap at the burst's size and the garbage of the burst still in it, holding the native memory
 * of its buffers and sockets: the resident set stays at its peak until traffic returns. When the
 * process runs with `--expose-gc` (as `npm start`, the image and the compose file run it), this
 * watches the event loop and, once it has been quiet for IDLE_GC_AFTER_MS while the resident set
 * is well above where the last collection left it, runs one full collection. Without the flag,
 * or with IDLE_GC_AFTER_MS=0, it does nothing.
 */
import { performance, type EventLoopUtilization } from 'node:perf_hooks';

import type { Log } from './log.ts';

/** How often the event loop's utilization is sampled. */
const SAMPLE_MS = 1_000;

/** A second whose event loop was busy less than this share of it is quiet. */
const QUIET_BELOW = 0.05;

/** A collection is worth it once the resident set is this much above the last one's result… */
const GROWTH_RATIO = 1.1;
/** …and at least this many bytes above it. */
const GROWTH_MIN_BYTES = 32 * 2 ** 20;

export interface TidyState {
  /** Quiet time in a row so far, in ms. */
  quietMs: number;
  /** The resident set the last collection left (the process's at start before any). */
  baselineRss: number;
}

/**
 * One sample's decision: the state after it and whether to collect now. Pure, for the tests:
 * `utilization` is the event loop's busy share over the last `sampleMs`, `rss` the resident set.
 */
export function tidyStep(
  state: TidyState,
  sample: { utilization: number; rss: number; sampleMs: number },
  quietForMs: number,
): { state: TidyState; collect: boolean } {
  const quietMs = sample.utilization < QUIET_BELOW ? state.quietMs + sample.sampleMs : 0;
  const grown =
    sample.rss >= state.baselineRss * GROWTH_RATIO &&
    sample.rss - state.baselineRss >= GROWTH_MIN_BYTES;
  if (quietMs >= quietForMs && grown) {
    return { state: { quietMs: 0, baselineRss: sample.rss }, collect: true };
  }
  return { state: { quietMs, baselineRss: state.baselineRss }, collect: false };
}

export interface MemoryTidy {
  stop(): void;
}

export interface MemoryTidyOptions {
  /** IDLE_GC_AFTER_MS: quiet time before a collection; 0 turns the tidy off. */
  quietForMs: number;
  log: Log;
  /** The full collection; `globalThis.gc` (from `--expose-gc`) by default. */
  gc?: (() => void) | undefined;
  /** The resident set now; the process's by default. */
  rss?: () => number;
  /** The event loop's busy share since the previous call; measured by default. */
  utilization?: () => number;
}

export function startMemoryTidy(opts: MemoryTidyOptions): MemoryTidy {
  const gc = opts.gc ?? exposedGc();
  if (!gc || opts.quietForMs === 0) {
    opts.log.info(
      { reason: gc ? 'IDLE_GC_AFTER_MS is 0' : 'node runs without --expose-gc' },
      'idle garbage collection off',
    );
    return { stop: () => undefined };
  }
  const rss = opts.rss ?? (() => process.memoryUsage.rss());
  const utilization = opts.utilization ?? loopUtilization();
  let state: TidyState = { quietMs: 0, baselineRss: rss() };
  const timer = setInterval(() => {
    const sample = { utilization: utilization(), rss: rss(), sampleMs: SAMPLE_MS };
    const step = tidyStep(state, sample, opts.quietForMs);
    if (!step.collect) {
      state = step.state;
      return;
    }
    const started = performance.now();
    gc();
    state = { quietMs: 0, baselineRss: rss() };
    // The collection's own time is not the traffic's.
    utilization();
    opts.log.info(
      {
        rssBeforeMiB: Math.round(sample.rss / 2 ** 20),
        rssAfterMiB: Math.round(state.baselineRss / 2 ** 20),
        ms: Math.round(performance.now() - started),
      },
      'quiet after a burst: garbage collected',
    );
  }, SAMPLE_MS);
  timer.unref();
  opts.log.info({ quietForMs: opts.quietForMs }, 'idle garbage collection on');
  return { stop: () => clearInterval(timer) };
}

/** The event loop's busy share since the previous call. */
function loopUtilization(): () => number {
  let last: EventLoopUtilization = performance.eventLoopUtilization();
  return () => {
    const now = performance.eventLoopUtilization();
    const { utilization } = performance.eventLoopUtilization(now, last);
    last = now;
    return utilization;
  };
}

/**
 * `gc` of `--expose-gc`, as V8 collects on a low-memory notification ("last-resort": every
 * collectable object, in rounds). A plain `gc()` leaves the backing stores of the burst's dead
 * buffers (the bulk of what a burst leaves behind) to a later collection.
 */
function exposedGc(): (() => void) | undefined {
  const candidate: unknown = (globalThis as { gc?: unknown }).gc;
  if (typeof candidate !== 'function') {
    return undefined;
  }
  const gc = candidate as (options: object) => unknown;
  return () => void gc({ type: 'major', execution: 'sync', flavor: 'last-resort' });
}
