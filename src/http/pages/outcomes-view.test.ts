import { describe, expect, it } from 'vitest';

import { percent, points } from './outcomes-view.ts';

describe('the outcomes page figures', () => {
  it('writes rates as percentages with one decimal, and — when there is none', () => {
    expect(percent(0.4444)).toBe('44.4%');
    expect(percent(1)).toBe('100.0%');
    expect(percent(0)).toBe('0.0%');
    expect(percent(null)).toBe('—');
  });

  it('writes a lift in rate points with its sign', () => {
    expect(points(0.1667)).toBe('+16.7 pts');
    expect(points(-0.0556)).toBe('−5.6 pts');
    expect(points(0.0004)).toBe('0.0 pts');
    expect(points(-0.0004)).toBe('0.0 pts');
    expect(points(null)).toBe('—');
  });
});
