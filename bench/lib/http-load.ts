/**
 * A closed-loop HTTP load: `connections` keep-alive connections, each sending its next request
 * as soon as the last one was answered, for `seconds`. Every request gets its own body from
 * `body(i)`, so the server sees distinct requests.
 */
import { Pool } from 'undici';

import { percentile } from './measure.ts';

export interface LoadResult {
  requests: number;
  perSecond: number;
  p50Ms: number;
  p99Ms: number;
  /** Answers that were not 200. */
  errors: number;
}

export async function httpLoad(opts: {
  url: string;
  connections: number;
  seconds: number;
  contentType: string;
  body: (i: number) => string;
}): Promise<LoadResult> {
  const target = new URL(opts.url);
  const pool = new Pool(target.origin, { connections: opts.connections, pipelining: 1 });
  const path = `${target.pathname}${target.search}`;
  const latencies: number[] = [];
  let next = 0;
  let errors = 0;
  const started = performance.now();
  const deadline = started + opts.seconds * 1000;
  const loop = async () => {
    while (performance.now() < deadline) {
      const i = next++;
      const t0 = performance.now();
      const res = await pool.request({
        path,
        method: 'POST',
        headers: { 'content-type': opts.contentType },
        body: opts.body(i),
      });
      await res.body.dump();
      latencies.push(performance.now() - t0);
      if (res.statusCode !== 200) {
        errors++;
      }
    }
  };
  await Promise.all(Array.from({ length: opts.connections }, loop));
  const elapsed = (performance.now() - started) / 1000;
  await pool.close();
  return {
    requests: latencies.length,
    perSecond: latencies.length / elapsed,
    p50Ms: percentile(latencies, 50),
    p99Ms: percentile(latencies, 99),
    errors,
  };
}
