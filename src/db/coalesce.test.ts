/** Concurrent point lookups read together, each caller its own row, nothing cached. */
import { describe, expect, it } from 'vitest';

import type { DbOrTx } from './client.ts';
import { coalescedFor } from './coalesce.ts';

const db = {} as DbOrTx;

function reader(rows: Map<number, string>) {
  const calls: number[][] = [];
  const read = coalescedFor<number, string>(async (_db, keys) => {
    calls.push([...keys]);
    return new Map([...keys].flatMap((k) => (rows.has(k) ? [[k, rows.get(k)!] as const] : [])));
  });
  return { read, calls };
}

describe('coalescedFor', () => {
  it('reads the keys asked for together in one fetch, each caller getting its own row or null', async () => {
    const { read, calls } = reader(new Map([1, 2, 3, 4].map((k) => [k, `row-${k}`])));
    const got = await Promise.all([3, 1, 9, 4, 2].map((k) => read(db, k)));
    expect(got).toEqual(['row-3', 'row-1', null, 'row-4', 'row-2']);
    expect(calls).toEqual([[3, 1, 9, 4, 2]]);
  });

  it('caches nothing: a later ask reads again and sees a change', async () => {
    const rows = new Map([[1, 'before']]);
    const { read, calls } = reader(rows);
    expect(await read(db, 1)).toBe('before');
    rows.set(1, 'after');
    expect(await read(db, 1)).toBe('after');
    expect(calls).toEqual([[1], [1]]);
  });

  it('fails every caller of a batch whose read failed, and the next batch reads afresh', async () => {
    let fail = true;
    const read = coalescedFor<number, string>(async (_db, keys) => {
      if (fail) {
        throw new Error('MySQL went away');
      }
      return new Map(keys.map((k) => [k, `row-${k}`]));
    });
    const outcomes = await Promise.allSettled([1, 2].map((k) => read(db, k)));
    expect(outcomes.map((o) => o.status)).toEqual(['rejected', 'rejected']);
    fail = false;
    expect(await read(db, 1)).toBe('row-1');
  });

  it('keeps the handles apart: a transaction reads on its own', async () => {
    const { read, calls } = reader(new Map([[1, 'row-1']]));
    const other = {} as DbOrTx;
    await Promise.all([read(db, 1), read(other, 1)]);
    expect(calls).toEqual([[1], [1]]);
  });
});
