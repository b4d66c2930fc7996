/**
 * Group commit: the durable writes of concurrent jobs and requests in one process, committed
 * together. Each caller hands `run` a unit of work (SQL only, on the transaction it is given);
 * units that arrive within a few milliseconds of each other run one after another inside one
 * MySQL transaction, and every caller's promise settles once that
 * transaction committed. So nothing is acknowledged before it is durable, one commit (one log
 * flush) serves many callers, and unique keys in MySQL stay the idempotency guarantee.
 *
 * - When any unit throws (or the COMMIT fails), the whole batch is rolled back and each of its
 *   units runs again in a transaction of its own: the one that failed fails alone, with its own
 *   error, and the others commit. So a unit may run twice: it must change nothing outside MySQL
 *   and give its result only as its return value.
 * - A unit must not wait on anything but its own statements (no Redis, no HTTP): the batch's
 *   transaction waits for it.
 */
import type { Db, Tx } from './client.ts';

export interface WriteBatcher {
  /** Runs `work` in the next batch's transaction; resolves with its result once committed. */
  run<T>(work: (tx: Tx) => Promise<T>): Promise<T>;
  /** Commits what is queued, then refuses new work. */
  close(): Promise<void>;
}

export interface WriteBatcherOptions {
  /** How long the first unit of a batch waits for company (ms). */
  maxWaitMs?: number;
  /** Units per transaction at most. */
  maxBatch?: number;
  /** Batches in flight at once (each on its own connection). */
  concurrency?: number;
  /** Told of every committed batch's size (a metric). */
  onBatch?: (size: number) => void;
}

interface Unit {
  work: (tx: Tx) => Promise<unknown>;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

export function createWriteBatcher(db: Db, options: WriteBatcherOptions = {}): WriteBatcher {
  const maxWaitMs = options.maxWaitMs ?? 2;
  const maxBatch = options.maxBatch ?? 64;
  const concurrency = options.concurrency ?? 2;
  let queue: Unit[] = [];
  let timer: NodeJS.Timeout | null = null;
  let inFlight = 0;
  let closed = false;
  const idle: (() => void)[] = [];

  async function commit(units: Unit[]): Promise<void> {
    if (units.length > 1) {
      try {
        const values = await db.transaction(async (tx) => {
          const out: unknown[] = [];
          for (const unit of units) {
            out.push(await unit.work(tx));
          }
          return out;
        });
        options.onBatch?.(units.length);
        units.forEach((unit, i) => unit.resolve(values[i]));
        return;
      } catch {
        // Nothing of the batch was committed; each unit gets its own verdict below.
      }
    }
    await Promise.all(
      units.map((unit) =>
        db
          .transaction((tx) => unit.work(tx))
          .then((value) => {
            options.onBatch?.(1);
            unit.resolve(value);
          }, unit.reject),
      ),
    );
  }

  function flush(): void {
    if (timer) {
      clearTimeout(timer);
      timer = null;
    }
    while (queue.length > 0 && inFlight < concurrency) {
      const units = queue.slice(0, maxBatch);
      queue = queue.slice(units.length);
      inFlight++;
      void commit(units).finally(() => {
        inFlight--;
        if (queue.length > 0) {
          schedule();
        } else if (inFlight === 0) {
          idle.splice(0).forEach((done) => done());
        }
      });
    }
  }

  function schedule(): void {
    if (queue.length >= maxBatch) {
      flush();
    } else if (!timer) {
      timer = setTimeout(flush, maxWaitMs);
    }
  }

  return {
    run<T>(work: (tx: Tx) => Promise<T>): Promise<T> {
      if (closed) {
        return Promise.reject(new Error('the write batcher is closed'));
      }
      return new Promise<T>((resolve, reject) => {
        queue.push({ work, resolve: resolve as (value: unknown) => void, reject });
        schedule();
      });
    },
    async close() {
      closed = true;
      flush();
      if (inFlight > 0 || queue.length > 0) {
        await new Promise<void>((done) => idle.push(done));
      }
    },
  };
}

/**
 * Runs `work` through the batcher when there is one (group commit), else in a transaction of its
 * own: the same guarantee either way, the work committed before the promise resolves.
 */
export function inTransaction<T>(
  db: Db,
  writes: WriteBatcher | null | undefined,
  work: (tx: Tx) => Promise<T>,
): Promise<T> {
  return writes ? writes.run(work) : db.transaction(work);
}
