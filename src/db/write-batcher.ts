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
 * - Writes of one shape (a keyed insert into one table) can go as one multi-row statement for
 *   the whole batch: `runIn` hands an item to a `WriteGroup`, whose `many` writes every item of
 *   the batch at once and `one` writes an item alone (a batch of one, or after a rollback).
 * - A batch of only one group's items, when that group writes with a single statement
 *   (`oneStatement`: the ingress's inbox events, the webhook's events), needs no transaction:
 *   the statement commits by itself, even for a batch of one.
 */
import type { Db, DbOrTx, Tx } from './client.ts';

/**
 * Same-shape writes of many callers as one statement. `many` returns each item's result in the
 * items' order; when it throws (a duplicate key among them, say), the batch is rolled back and
 * each item is written by `one` in a transaction of its own, so `many` may take the easy way
 * and fail whenever the items are not all plain.
 */
export type WriteGroup<I, T> =
  | {
      many(tx: Tx, items: I[]): Promise<T[]>;
      one(tx: Tx, item: I): Promise<T>;
      oneStatement?: undefined;
    }
  | {
      /** Given the batcher's Db, outside any transaction. */
      many(db: DbOrTx, items: I[]): Promise<T[]>;
      one(tx: Tx, item: I): Promise<T>;
      /**
       * `many` writes with one statement (reads may follow it): a batch of this group's items
       * alone then runs without a transaction, its statement committing by itself, which spares
       * the batch two round trips (BEGIN, COMMIT). One statement is all or nothing as a
       * transaction is. Should a read after it fail, the items are written one by one and each
       * finds its row there already (its `created` then says false).
       */
      oneStatement: true;
    };

export interface WriteBatcher {
  /** Runs `work` in the next batch's transaction; resolves with its result once committed. */
  run<T>(work: (tx: Tx) => Promise<T>): Promise<T>;
  /** Writes `item` with the batch's other items of `group`; resolves once committed. */
  runIn<I, T>(group: WriteGroup<I, T>, item: I): Promise<T>;
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
  /** The unit alone. */
  work: (tx: Tx) => Promise<unknown>;
  /** Set for an item of a group: in a batch, written with the group's other items. */
  grouped?: { group: WriteGroup<unknown, unknown>; item: unknown };
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
    const group = soleGroup(units);
    if (units.length > 1 || group?.oneStatement) {
      try {
        const values = group?.oneStatement
          ? await runAlone(db, group, units)
          : await db.transaction((tx) => runBatch(tx, units));
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
          // These units waited for this commit already: no more waiting for company.
          flush();
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

  function add<T>(unit: Omit<Unit, 'resolve' | 'reject'>): Promise<T> {
    if (closed) {
      return Promise.reject(new Error('the write batcher is closed'));
    }
    return new Promise<T>((resolve, reject) => {
      queue.push({ ...unit, resolve: resolve as (value: unknown) => void, reject });
      schedule();
    });
  }

  return {
    run<T>(work: (tx: Tx) => Promise<T>): Promise<T> {
      return add({ work });
    },
    runIn<I, T>(group: WriteGroup<I, T>, item: I): Promise<T> {
      return add({
        work: (tx) => group.one(tx, item),
        grouped: { group: group, item },
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

/** A batch of one `oneStatement` group's items, outside any transaction. */
async function runAlone(
  db: Db,
  group: Extract<WriteGroup<unknown, unknown>, { oneStatement: true }>,
  units: Unit[],
): Promise<unknown[]> {
  const results = await group.many(
    db,
    units.map((unit) => unit.grouped!.item),
  );
  return oneEach(results, units.length);
}

/** A group's results, checked to be one per item. */
function oneEach(results: unknown[], items: number): unknown[] {
  if (results.length !== items) {
    throw new Error(`a write group returned ${results.length} results for ${items} items`);
  }
  return results;
}

/** The group every unit of the batch belongs to, if they all belong to one. */
function soleGroup(units: Unit[]): WriteGroup<unknown, unknown> | null {
  const group = units[0]?.grouped?.group;
  return group && units.every((unit) => unit.grouped?.group === group) ? group : null;
}

/**
 * A batch's units in its transaction, in order, except that a group's items are written together
 * where its first item stands. Returns each unit's result in the units' order.
 */
async function runBatch(tx: Tx, units: Unit[]): Promise<unknown[]> {
  const members = new Map<WriteGroup<unknown, unknown>, number[]>();
  units.forEach((unit, i) => {
    if (unit.grouped) {
      const at = members.get(unit.grouped.group);
      if (at) {
        at.push(i);
      } else {
        members.set(unit.grouped.group, [i]);
      }
    }
  });
  const out: unknown[] = new Array(units.length);
  const done = new Set<number>();
  for (const [i, unit] of units.entries()) {
    if (done.has(i)) {
      continue;
    }
    const grouped = unit.grouped;
    if (!grouped) {
      out[i] = await unit.work(tx);
      continue;
    }
    const at = members.get(grouped.group)!;
    const results = oneEach(
      await grouped.group.many(
        tx,
        at.map((j) => units[j]!.grouped!.item),
      ),
      at.length,
    );
    at.forEach((j, k) => {
      out[j] = results[k];
      done.add(j);
    });
  }
  return out;
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

/** `runIn` through the batcher when there is one, else the item alone in its own transaction. */
export function inGroup<I, T>(
  db: Db,
  writes: WriteBatcher | null | undefined,
  group: WriteGroup<I, T>,
  item: I,
): Promise<T> {
  return writes ? writes.runIn(group, item) : db.transaction((tx) => group.one(tx, item));
}
