import { describe, expect, it } from 'vitest';

import { safeErrorMessage } from './errors.ts';

describe('safeErrorMessage', () => {
  it('cuts the query and parameters a driver error quotes', () => {
    const err = new Error(
      'Failed query: insert into `fdr_inbox` (`payload`) values (?)\nparams: {"customerName":"Aman Verma","contactPhone":"7891971009"}',
    );
    expect(safeErrorMessage(err)).toBe('database query failed');
    const wrapped = new Error('connect ECONNREFUSED\nparams: 7891971009,Aman');
    expect(safeErrorMessage(wrapped)).toBe('connect ECONNREFUSED');
  });

  it('masks long digit runs and keeps ordinary messages', () => {
    expect(safeErrorMessage(new Error('no reply for 917891971009'))).toBe('no reply for [number]');
    expect(safeErrorMessage('plain text')).toBe('plain text');
  });
});
