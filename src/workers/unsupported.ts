/**
 * Processor for queues whose producers are not part of this release (`dlr.process`,
 * `reply.route`: the Gupshup webhook). A job that appears there anyway fails visibly rather than
 * being dropped, so it can be re-queued once handling exists.
 */
import type { Processor } from 'bullmq';

import { PermanentError } from '../errors.ts';

export function processUnsupported(queue: string): Processor {
  return () =>
    Promise.reject(
      new PermanentError('ERR_UNSUPPORTED', `${queue} jobs are not processed by this version`),
    );
}
