import { InvalidArgumentError } from 'commander';
import { describe, expect, it } from 'vitest';

import { parseDuration, parseErrorCode, parseLimit, parseQueueName } from './args.ts';

describe('parseDuration', () => {
  it.each([
    ['30m', 30 * 60_000],
    ['2h', 2 * 3_600_000],
    ['1d', 86_400_000],
    ['45s', 45_000],
    ['1h30m', 90 * 60_000],
    [' 2H ', 2 * 3_600_000],
  ])('reads %s', (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });

  it.each(['', '30', '2x', 'h', '-1h', '1.5h', '0m', '2 h'])('refuses %j', (text) => {
    expect(() => parseDuration(text)).toThrow(InvalidArgumentError);
  });
});

describe('parseQueueName', () => {
  it('accepts every catalog queue', () => {
    expect(parseQueueName('message.send')).toBe('message.send');
    expect(parseQueueName('activity.emit')).toBe('activity.emit');
  });

  it('lists the valid queues for an unknown one', () => {
    expect(() => parseQueueName('message.sent')).toThrow(
      /valid queues: fdr\.validate, message\.send, dlr\.process, reply\.route, activity\.emit/,
    );
  });
});

describe('parseLimit', () => {
  it('reads a positive whole number', () => {
    expect(parseLimit('25')).toBe(25);
  });

  it.each(['0', '-3', '2.5', 'ten', ''])('refuses %j', (text) => {
    expect(() => parseLimit(text)).toThrow(InvalidArgumentError);
  });
});

describe('parseErrorCode', () => {
  it('reads a bare Gupshup error id as gupshup_<id>', () => {
    expect(parseErrorCode('100')).toBe('gupshup_100');
  });

  it('takes other codes as given, lower-cased', () => {
    expect(parseErrorCode('GUPSHUP_105')).toBe('gupshup_105');
    expect(parseErrorCode('http_503')).toBe('http_503');
    expect(parseErrorCode('timeout')).toBe('timeout');
  });

  it('refuses text that cannot be a code', () => {
    expect(() => parseErrorCode('gupshup 100')).toThrow(InvalidArgumentError);
  });
});
