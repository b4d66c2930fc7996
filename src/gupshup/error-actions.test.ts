import { describe, expect, it } from 'vitest';

import {
  ERROR_ACTIONS,
  ERROR_TABLE,
  failureReason,
  lookup,
  reportErrorRule,
  sendErrorRule,
  type ErrorAction,
} from './error-actions.ts';

/** The table as the issue states it: source, code, action. */
const EXPECTED: [string, string, ErrorAction][] = [
  ['enterprise', '100', 'retry'],
  ['http', '5xx', 'retry'],
  ['http', '408', 'retry'],
  ['transport', 'timeout', 'retry'],
  ['transport', 'network', 'retry'],
  ['transport', 'unreachable', 'retry'],
  ['transport', 'bad_response', 'retry'],
  ['transport', 'aborted', 'retry'],
  ['http', '429', 'slow_sender'],
  ['v2', '4001', 'slow_sender'],
  ['meta', '130429', 'slow_sender'],
  ['meta', '131056', 'delay_customer'],
  ['enterprise', '102', 'pause_sender'],
  ['enterprise', '103', 'pause_sender'],
  ['enterprise', '104', 'pause_sender'],
  ['enterprise', '123', 'pause_sender'],
  ['enterprise', '124', 'pause_sender'],
  ['v2', '1003', 'pause_sender'],
  ['v2', '1002', 'not_on_whatsapp'],
  ['enterprise_report', '003', 'not_on_whatsapp'],
  ['v2', '1012', 'opted_out'],
  ['meta', '131050', 'opted_out'],
  ['enterprise_report', '101', 'window_closed'],
  ['v2', '470', 'window_closed'],
  ['meta', '131047', 'window_closed'],
  ['meta', '131049', 'frequency_capped'],
  ['v2', '4003', 'template_refused'],
  ['v2', '4005', 'template_refused'],
  ['v2', '1005', 'template_refused'],
  ['v2', '1006', 'template_refused'],
  ['v2', '1007', 'template_refused'],
  ['v2', '1008', 'template_refused'],
  ['meta', '132000', 'template_refused'],
  ['meta', '132001', 'template_refused'],
  ['meta', '132015', 'template_refused'],
  ['meta', '132016', 'template_refused'],
  ['enterprise', '175', 'fail'],
];

describe('the provider error table', () => {
  it('has exactly the rows the policy names, one action each', () => {
    expect(ERROR_TABLE.map((r) => [r.source, r.code, r.action])).toEqual(EXPECTED);
    const keys = ERROR_TABLE.map((r) => `${r.source}:${r.code}`);
    expect(new Set(keys).size).toBe(keys.length);
    for (const row of ERROR_TABLE) {
      expect(ERROR_ACTIONS).toContain(row.action);
      expect(row.meaning.length).toBeGreaterThan(0);
    }
  });

  it.each(EXPECTED.filter(([source]) => source !== 'enterprise_report'))(
    'a send refused with %s %s: %s',
    (source, code, action) => {
      const resultCode =
        source === 'enterprise'
          ? `gupshup_${code}`
          : source === 'transport'
            ? code
            : source === 'http' && code === '5xx'
              ? 'http_503'
              : `${source}_${code}`;
      expect(sendErrorRule(resultCode).action).toBe(action);
    },
  );

  it.each(EXPECTED.filter(([source]) => source === 'enterprise_report'))(
    'an Enterprise report with code %s %s: %s',
    (_source, code, action) => {
      expect(reportErrorRule('enterprise', code)?.action).toBe(action);
    },
  );

  it('reads every 5xx as a server error, and other 4xx as a failure', () => {
    for (const status of [500, 502, 503, 504, 599]) {
      expect(sendErrorRule(`http_${status}`).action).toBe('retry');
    }
    for (const status of [400, 401, 403, 404, 410]) {
      expect(sendErrorRule(`http_${status}`)).toMatchObject({ action: 'fail', code: `${status}` });
    }
  });

  it('keeps the numberings apart: Enterprise send id 101 is not the report code 101', () => {
    expect(sendErrorRule('gupshup_101').action).toBe('fail');
    expect(reportErrorRule('enterprise', '101')?.action).toBe('window_closed');
    expect(sendErrorRule('gupshup_003').action).toBe('fail');
    expect(sendErrorRule('gupshup_1002').action).toBe('fail');
    expect(sendErrorRule('v2_1002').action).toBe('not_on_whatsapp');
  });

  it('fails anything else with its raw code', () => {
    for (const code of [
      'gupshup_105',
      'gupshup_175',
      'gupshup_error',
      'interactive_unsupported',
      'template_params_missing',
      'v2_9999',
      'meta_1',
    ]) {
      expect(sendErrorRule(code)).toMatchObject({ action: 'fail' });
    }
    expect(sendErrorRule('gupshup_175')).toMatchObject({ action: 'fail', code: '175' });
    expect(lookup('enterprise', '999')).toEqual({
      action: 'fail',
      source: 'enterprise',
      code: '999',
      meaning: null,
    });
  });

  it('reads report codes by format: v2 codes as Gupshup or (six digits) Meta, v3 as Meta', () => {
    expect(reportErrorRule('v2', '1002')?.action).toBe('not_on_whatsapp');
    expect(reportErrorRule('v2', '131047')?.action).toBe('window_closed');
    expect(reportErrorRule('v2', '4005')?.action).toBe('template_refused');
    expect(reportErrorRule('v3', '131047')?.action).toBe('window_closed');
    expect(reportErrorRule('v3', '131056')?.action).toBe('delay_customer');
    expect(reportErrorRule('v3', '1002')?.action).toBe('fail');
    expect(reportErrorRule('enterprise', '020')?.action).toBe('fail');
    expect(reportErrorRule('enterprise', null)).toBeNull();
    expect(reportErrorRule('v2', '')).toBeNull();
  });

  it('names a failure reason for the actions that end a message with one', () => {
    expect(failureReason('window_closed')).toBe('window_closed');
    expect(failureReason('not_on_whatsapp')).toBe('not_on_whatsapp');
    expect(failureReason('opted_out')).toBe('opted_out');
    expect(failureReason('frequency_capped')).toBe('frequency_capped');
    expect(failureReason('template_refused')).toBe('template_refused');
    for (const action of [
      'retry',
      'slow_sender',
      'delay_customer',
      'pause_sender',
      'fail',
    ] as const) {
      expect(failureReason(action)).toBeNull();
    }
  });
});
