/**
 * Horizontal bar charts as server-rendered SVG, for the outcomes page: rects and text, no script,
 * no style attribute (the page's CSP allows only its stylesheet, which colours the bars by class).
 *
 * Each group has its label on a line of its own above its bars, so a narrow screen scales the
 * chart down without a label column to squeeze; each bar's figure is written after its end, in
 * the room kept for it on the right. The chart is an image with a title and a description
 * (`role="img"`, `aria-labelledby`); its figures are also on the page as text, in a table.
 */
import { html, type SafeHtml } from './html.ts';

/** How a bar is coloured (a class of the page's stylesheet: `bar-<tone>`). */
export type BarTone = 'messaged' | 'comparison' | 'warning';

export interface Bar {
  /** What the bar is worth, on the chart's scale (0 to `max`). */
  value: number;
  /** The figure written after it (`12`, `33.3%`). */
  text: string;
  tone: BarTone;
}

export interface BarGroup {
  label: string;
  bars: Bar[];
}

export interface BarChart {
  /** Unique on the page: the title's and description's ids derive from it. */
  id: string;
  title: string;
  description: string;
  groups: BarGroup[];
  /** The value of a full-width bar; a chart of zeros draws no bars. */
  max: number;
}

/** The viewBox's width; the stylesheet lets the chart scale down from it to any screen. */
const WIDTH = 400;
/** Kept free right of the longest bar for its figure. */
const FIGURE_ROOM = 96;
const LABEL_HEIGHT = 20;
const BAR_HEIGHT = 18;
const BAR_GAP = 4;
const GROUP_GAP = 12;
/** A label longer than this is cut in the chart (the table beside it has it whole). */
const LABEL_CHARS = 44;

function shortLabel(label: string): string {
  return label.length > LABEL_CHARS ? `${label.slice(0, LABEL_CHARS - 1)}…` : label;
}

/** The width of a bar worth `value` on a chart whose full bar is `max` (0 when max is 0). */
export function barWidth(value: number, max: number): number {
  if (max <= 0 || value <= 0) {
    return 0;
  }
  return Math.round((Math.min(value, max) / max) * (WIDTH - FIGURE_ROOM) * 10) / 10;
}

export function renderBarChart(chart: BarChart): SafeHtml {
  let y = 0;
  const groups = chart.groups.map((group) => {
    const labelY = y + LABEL_HEIGHT - 6;
    y += LABEL_HEIGHT;
    const bars = group.bars.map((bar) => {
      const width = barWidth(bar.value, chart.max);
      const top = y;
      y += BAR_HEIGHT + BAR_GAP;
      return html`<rect
          class="bar-${bar.tone}"
          x="0"
          y="${top}"
          width="${width}"
          height="${BAR_HEIGHT}"
          rx="2"
        ></rect>
        <text class="figure" x="${width + 6}" y="${top + BAR_HEIGHT - 4}">${bar.text}</text>`;
    });
    y += GROUP_GAP - BAR_GAP;
    return html`<g>
      <text class="label" x="0" y="${labelY}">${shortLabel(group.label)}</text>
      ${bars}
    </g>`;
  });
  const height = Math.max(y - GROUP_GAP, LABEL_HEIGHT);
  return html`<svg
    class="chart"
    id="${chart.id}"
    role="img"
    aria-labelledby="${chart.id}-title ${chart.id}-desc"
    viewBox="0 0 ${WIDTH} ${height}"
    width="${WIDTH}"
    height="${height}"
    preserveAspectRatio="xMinYMin meet"
  >
    <title id="${chart.id}-title">${chart.title}</title>
    <desc id="${chart.id}-desc">${chart.description}</desc>
    ${groups}
  </svg>`;
}
