/** The quiet-time collection: when it runs, and that it runs once per burst. */
import { afterEach, describe, expect, it, vi } from 'vitest';

import { createLog } from './log.ts';
import { startMemoryTidy, tidyStep, type TidyState } from './memory-tidy.ts';

const MiB = 2 ** 20;
const log = createLog('silent');

describe('tidyStep', () => {
  const start: TidyState = { quietMs: 0, baselineRss: 200 * MiB };
  const quiet = (rss: number) => ({ utilization: 0.01, rss, sampleMs: 1_000 });

  it('collects once the loop has been quiet long enough and the resident set has grown', () => {
    let state = start;
    const decisions: boolean[] = [];
    for (let i = 0; i < 5; i++) {
      const step = tidyStep(state, quiet(400 * MiB), 3_000);
      state = step.state;
      decisions.push(step.collect);
    }
    // Three quiet seconds, then one collection; the next quiet stretch starts from there.
    expect(decisions).toEqual([false, false, true, false, false]);
    expect(state.baselineRss).toBe(400 * MiB);
  });

  it('starts the quiet time over when the loop is busy', () => {
    let state = start;
    state = tidyStep(state, quiet(400 * MiB), 3_000).state;
    state = tidyStep(state, quiet(400 * MiB), 3_000).state;
    state = tidyStep(state, { utilization: 0.4, rss: 400 * MiB, sampleMs: 1_000 }, 3_000).state;
    expect(state.quietMs).toBe(0);
    expect(tidyStep(state, quiet(400 * MiB), 3_000).collect).toBe(false);
  });

  it('leaves a process alone that has not grown by a tenth and 32 MiB', () => {
    const quietLong = { quietMs: 60_000, baselineRss: 200 * MiB };
    // A tenth but under 32 MiB of a small process, and 32 MiB but under a tenth of a large one.
    expect(
      tidyStep({ ...quietLong, baselineRss: 100 * MiB }, quiet(130 * MiB), 3_000).collect,
    ).toBe(false);
    expect(
      tidyStep({ ...quietLong, baselineRss: 1_000 * MiB }, quiet(1_050 * MiB), 3_000).collect,
    ).toBe(false);
    expect(tidyStep(quietLong, quiet(260 * MiB), 3_000).collect).toBe(true);
  });
});

describe('startMemoryTidy', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('collects after a burst once quiet, and not again until the process grows again', () => {
    vi.useFakeTimers();
    let rss = 200 * MiB;
    let busy = 0.9;
    const gc = vi.fn(() => {
      rss = 210 * MiB;
    });
    const tidy = startMemoryTidy({
      quietForMs: 3_000,
      log,
      gc,
      rss: () => rss,
      utilization: () => busy,
    });
    try {
      // The burst: busy, growing.
      rss = 500 * MiB;
      vi.advanceTimersByTime(10_000);
      expect(gc).not.toHaveBeenCalled();
      // Quiet: one collection after three quiet seconds, then none however long it stays quiet.
      busy = 0.01;
      vi.advanceTimersByTime(2_000);
      expect(gc).not.toHaveBeenCalled();
      vi.advanceTimersByTime(1_000);
      expect(gc).toHaveBeenCalledTimes(1);
      vi.advanceTimersByTime(60_000);
      expect(gc).toHaveBeenCalledTimes(1);
      // The next burst.
      busy = 0.9;
      rss = 450 * MiB;
      vi.advanceTimersByTime(5_000);
      busy = 0.01;
      vi.advanceTimersByTime(3_000);
      expect(gc).toHaveBeenCalledTimes(2);
    } finally {
      tidy.stop();
    }
    vi.advanceTimersByTime(60_000);
    expect(gc).toHaveBeenCalledTimes(2);
  });

  it('does nothing when the collection is turned off', () => {
    vi.useFakeTimers();
    const gc = vi.fn();
    const tidy = startMemoryTidy({
      quietForMs: 0,
      log,
      gc,
      rss: () => 1_000 * MiB,
      utilization: () => 0,
    });
    vi.advanceTimersByTime(60_000);
    tidy.stop();
    expect(gc).not.toHaveBeenCalled();
  });
});
