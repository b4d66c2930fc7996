import { describe, expect, it } from 'vitest';

import { barWidth, renderBarChart } from './svg-bars.ts';

describe('SVG bar charts', () => {
  it('scales bars to the widest and draws nothing for zero or an empty scale', () => {
    expect(barWidth(1, 1)).toBe(304);
    expect(barWidth(1, 4)).toBe(76);
    expect(barWidth(0, 4)).toBe(0);
    expect(barWidth(3, 0)).toBe(0);
    // A value past the scale is drawn full, never beyond the room for its figure.
    expect(barWidth(5, 4)).toBe(304);
  });

  it('is an image with a title and a description, its labels escaped', () => {
    const svg = renderBarChart({
      id: 'c',
      title: 'Rescue <rate>',
      description: 'A & B',
      max: 2,
      groups: [
        { label: '<script>x</script>', bars: [{ value: 1, text: '50%', tone: 'messaged' }] },
      ],
    }).value;
    expect(svg).toContain('role="img"');
    expect(svg).toContain('aria-labelledby="c-title c-desc"');
    expect(svg).toContain('<title id="c-title">Rescue &lt;rate&gt;</title>');
    expect(svg).toContain('<desc id="c-desc">A &amp; B</desc>');
    expect(svg).toContain('&lt;script&gt;x&lt;/script&gt;');
    expect(svg).not.toContain('<script>');
    expect(svg).toMatch(/<rect\s+class="bar-messaged"\s+x="0"\s+y="20"\s+width="152"/);
    expect(svg).not.toContain('style=');
  });

  it('cuts a long label in the chart', () => {
    const svg = renderBarChart({
      id: 'c',
      title: 't',
      description: 'd',
      max: 1,
      groups: [{ label: 'x'.repeat(60), bars: [] }],
    }).value;
    expect(svg).toContain(`${'x'.repeat(43)}…`);
    expect(svg).not.toContain('x'.repeat(44));
  });
});
