/**
 * The outcomes page's markup (server-rendered; src/http/routes/outcomes-page.ts reads the funnel
 * and src/http/routes/settings-page.ts serves it behind the settings page's login): for a period,
 * the funnel from messaged to rescued, the rescue rate by reason and by courier beside that of
 * the attempts not messaged and the lift, and the not-honoured counts per courier.
 *
 * Every chart is an SVG image with a title and a description (src/http/pages/svg-bars.ts), and
 * every figure in it is also in a table, whose rows and cells carry stable `data-*` attributes
 * (`data-stage`, `data-reason`, `data-courier`, `data-field`, with the exact figure in
 * `data-value`). Every value goes through the escaping `html` tag; there is no script: the period
 * is a GET form.
 */
import { FDR_REASON_LABELS, isFdrReason } from '../../fdr/reasons.ts';
import { rate, type FunnelRow } from '../../outcomes/funnel.ts';
import { html, type SafeHtml } from './html.ts';
import { layout, logoutForm } from './settings-view.ts';
import { renderBarChart, type BarGroup } from './svg-bars.ts';

export interface OutcomesFigures {
  total: FunnelRow;
  byReason: FunnelRow[];
  byCourier: FunnelRow[];
}

export interface OutcomesPageView {
  accountId: number;
  /** The per-session CSRF token (for the logout form); null for a bearer visit. */
  csrf: string | null;
  /** The period's first and last day as the form shows them (`YYYY-MM-DD`, or what was typed). */
  from: string;
  to: string;
  /** What is wrong with the period asked for; the figures are then left out. */
  problems: string[];
  figures: OutcomesFigures | null;
}

const numbers = new Intl.NumberFormat('en');

/** `33.3%`, or `—` when there was nothing to divide by. */
export function percent(value: number | null): string {
  return value === null ? '—' : `${(value * 100).toFixed(1)}%`;
}

/** A lift in rate points: `+8.3 pts`, `−16.7 pts`, `0.0 pts`, or `—`. */
export function points(value: number | null): string {
  if (value === null) {
    return '—';
  }
  const magnitude = (Math.abs(value) * 100).toFixed(1);
  const sign = magnitude === '0.0' ? '' : value > 0 ? '+' : '−';
  return `${sign}${magnitude} pts`;
}

function reasonLabel(key: string | null): string {
  if (key === null) {
    return 'Unknown reason';
  }
  return isFdrReason(key) ? FDR_REASON_LABELS[key] : key;
}

function courierLabel(key: string | null): string {
  return key ?? 'Unknown courier';
}

/** A figure cell: the text people read, the exact value for programs (empty when none). */
function cell(field: string, label: string, text: string, value: number | null) {
  return html`<td data-field="${field}" data-label="${label}" data-value="${value ?? ''}">
    ${text}
  </td>`;
}

interface Stage {
  stage: string;
  label: string;
  count: number;
  /** The rate from the stage it is counted against, and that stage's name. */
  rate: number | null;
  of: string;
}

function stagesOf(row: FunnelRow): Stage[] {
  const { counts, rates } = row;
  return [
    { stage: 'messaged', label: 'Messaged', count: counts.messaged, rate: null, of: '' },
    { stage: 'sent', label: 'Sent', count: counts.sent, rate: rates.sent, of: 'of messaged' },
    {
      stage: 'delivered',
      label: 'Delivered',
      count: counts.delivered,
      rate: rates.delivered,
      of: 'of sent',
    },
    { stage: 'read', label: 'Read', count: counts.read, rate: rates.read, of: 'of delivered' },
    {
      stage: 'replied',
      label: 'Replied',
      count: counts.replied,
      rate: rates.replied,
      of: 'of delivered',
    },
    {
      stage: 'actioned',
      label: 'Actioned',
      count: counts.actioned,
      rate: rates.actioned,
      of: 'of replied',
    },
    {
      stage: 'rescued',
      label: 'Rescued',
      count: counts.rescued,
      rate: rates.rescueRate,
      of: 'of messaged',
    },
  ];
}

function funnelSection(total: FunnelRow) {
  const stages = stagesOf(total);
  const messaged = total.counts.messaged;
  const chart = renderBarChart({
    id: 'funnel-chart',
    title: 'The funnel, from messaged to rescued',
    description: `Of ${messaged} attempts messaged: ${stages
      .slice(1)
      .map((s) => `${s.count} ${s.label.toLowerCase()}`)
      .join(', ')}.`,
    max: messaged,
    groups: stages.map((s) => ({
      label: s.label,
      bars: [
        {
          value: s.count,
          text: `${numbers.format(s.count)} · ${percent(rate(s.count, messaged))}`,
          tone: s.stage === 'rescued' ? 'messaged' : 'comparison',
        },
      ],
    })),
  });
  return html`<section class="card" aria-labelledby="h-funnel">
    <h2 id="h-funnel">Funnel</h2>
    ${chart}
    <table class="figures-table" id="funnel-table">
      <caption class="visually-hidden">
        Attempts per stage
      </caption>
      <thead>
        <tr>
          <th scope="col">Stage</th>
          <th scope="col">Attempts</th>
          <th scope="col">Of messaged</th>
          <th scope="col">Rate</th>
        </tr>
      </thead>
      <tbody>
        ${stages.map(
          (s) =>
            html`<tr data-stage="${s.stage}">
              <th scope="row">${s.label}</th>
              ${cell('count', 'Attempts', numbers.format(s.count), s.count)}
              ${cell('share', 'Of messaged', percent(rate(s.count, messaged)), rate(s.count, messaged))}
              ${cell('rate', 'Rate', s.of ? `${percent(s.rate)} ${s.of}` : '', s.rate)}
            </tr>`,
        )}
      </tbody>
    </table>
    <details>
      <summary>What the stages mean</summary>
      <dl class="variables">
        <dt>Messaged</dt>
        <dd>Failed deliveries the customer was sent a WhatsApp message for.</dd>
        <dt>Sent</dt>
        <dd>Gupshup accepted the message.</dd>
        <dt>Delivered, Read</dt>
        <dd>WhatsApp reported the message delivered to the phone, and read.</dd>
        <dt>Replied</dt>
        <dd>
          The customer answered (counted against delivered: with read receipts off a reply comes
          without a read report).
        </dd>
        <dt>Actioned</dt>
        <dd>The answer became an action on the order (a new date, an address, a reattempt …).</dd>
        <dt>Rescued</dt>
        <dd>The next outcome of the shipment was delivered.</dd>
      </dl>
    </details>
  </section>`;
}

function summarySection(total: FunnelRow) {
  const { counts, rates, notMessaged, lift } = total;
  const chart = renderBarChart({
    id: 'rescue-chart',
    title: 'Rescue rate, messaged and not messaged',
    description: `Messaged: ${percent(rates.rescueRate)} of ${counts.messaged} attempts delivered next. Not messaged: ${percent(notMessaged.rescueRate)} of ${notMessaged.attempts}. Lift: ${points(lift)}.`,
    max: 1,
    groups: [
      {
        label: `Messaged (${numbers.format(counts.messaged)})`,
        bars: [{ value: rates.rescueRate ?? 0, text: percent(rates.rescueRate), tone: 'messaged' }],
      },
      {
        label: `Not messaged (${numbers.format(notMessaged.attempts)})`,
        bars: [
          {
            value: notMessaged.rescueRate ?? 0,
            text: percent(notMessaged.rescueRate),
            tone: 'comparison',
          },
        ],
      },
    ],
  });
  const figure = (id: string, label: string, text: string, value: number | null) =>
    html`<div>
      <dt>${label}</dt>
      <dd id="${id}" data-value="${value ?? ''}">${text}</dd>
    </div>`;
  return html`<section class="card" aria-labelledby="h-rescue">
    <h2 id="h-rescue">Rescue rate</h2>
    <dl class="figures">
      ${figure('attempts', 'Failed deliveries', numbers.format(counts.attempts), counts.attempts)}
      ${figure('rescue-rate', 'Rescue rate, messaged', percent(rates.rescueRate), rates.rescueRate)}
      ${figure(
        'not-messaged-rate',
        'Rescue rate, not messaged',
        percent(notMessaged.rescueRate),
        notMessaged.rescueRate,
      )}
      ${figure('lift', 'Lift', points(lift), lift)}
    </dl>
    ${chart}
    <p class="hint">
      Rescued: delivered on the next attempt. Not messaged: the period's failed deliveries that got
      no message because WhatsApp was off for the account or the reason, or the number was
      suppressed; ${numbers.format(notMessaged.delivered)} of
      ${numbers.format(notMessaged.attempts)} were delivered next. Lift: the difference, in rate
      points.
    </p>
  </section>`;
}

interface GroupTable {
  id: string;
  heading: string;
  /** The row attribute naming the group: `data-reason`, `data-courier`. */
  attribute: 'reason' | 'courier';
  labelOf: (key: string | null) => string;
  rows: FunnelRow[];
  notHonoured: boolean;
}

function groupSection(t: GroupTable) {
  if (t.rows.length === 0) {
    return html`<section class="card" aria-labelledby="h-${t.id}">
      <h2 id="h-${t.id}">${t.heading}</h2>
      <p id="${t.id}-empty">No failed deliveries in this period.</p>
    </section>`;
  }
  const groups: BarGroup[] = t.rows.map((row) => ({
    label: t.labelOf(row.key),
    bars: [
      { value: row.rates.rescueRate ?? 0, text: percent(row.rates.rescueRate), tone: 'messaged' },
      {
        value: row.notMessaged.rescueRate ?? 0,
        text: percent(row.notMessaged.rescueRate),
        tone: 'comparison',
      },
    ],
  }));
  const chart = renderBarChart({
    id: `${t.id}-chart`,
    title: t.heading,
    description: t.rows
      .map(
        (row) =>
          `${t.labelOf(row.key)}: ${percent(row.rates.rescueRate)} messaged, ${percent(row.notMessaged.rescueRate)} not messaged`,
      )
      .join('; '),
    max: 1,
    groups,
  });
  return html`<section class="card" aria-labelledby="h-${t.id}">
    <h2 id="h-${t.id}">${t.heading}</h2>
    ${chart} ${legend()}
    <div class="table-scroll" role="region" aria-label="${t.heading}, figures" tabindex="0">
      <table class="figures-table" id="${t.id}-table">
        <caption class="visually-hidden">
          ${t.heading}
        </caption>
        <thead>
          <tr>
            <th scope="col">${t.attribute === 'reason' ? 'Reason' : 'Courier'}</th>
            <th scope="col">Messaged</th>
            <th scope="col">Rescued</th>
            <th scope="col">Rescue rate</th>
            <th scope="col">Not messaged</th>
            <th scope="col">Delivered anyway</th>
            <th scope="col">Rate not messaged</th>
            <th scope="col">Lift</th>
            ${t.notHonoured && html`<th scope="col">Not honoured</th>`}
          </tr>
        </thead>
        <tbody>
          ${t.rows.map(
            (row) =>
              html`<tr data-${t.attribute}="${row.key ?? ''}">
                <th scope="row">${t.labelOf(row.key)}</th>
                ${cell('messaged', 'Messaged', numbers.format(row.counts.messaged), row.counts.messaged)}
                ${cell('rescued', 'Rescued', numbers.format(row.counts.rescued), row.counts.rescued)}
                ${cell('rescueRate', 'Rescue rate', percent(row.rates.rescueRate), row.rates.rescueRate)}
                ${cell(
                  'notMessaged',
                  'Not messaged',
                  numbers.format(row.notMessaged.attempts),
                  row.notMessaged.attempts,
                )}
                ${cell(
                  'notMessagedDelivered',
                  'Delivered anyway',
                  numbers.format(row.notMessaged.delivered),
                  row.notMessaged.delivered,
                )}
                ${cell(
                  'notMessagedRate',
                  'Rate not messaged',
                  percent(row.notMessaged.rescueRate),
                  row.notMessaged.rescueRate,
                )}
                ${cell('lift', 'Lift', points(row.lift), row.lift)}
                ${
                  t.notHonoured &&
                  cell(
                    'notHonoured',
                    'Not honoured',
                    numbers.format(row.counts.notHonoured),
                    row.counts.notHonoured,
                  )
                }
              </tr>`,
          )}
        </tbody>
      </table>
    </div>
  </section>`;
}

function legend() {
  return html`<p class="legend" aria-hidden="true">
    <span><span class="swatch bar-messaged"></span>Messaged</span>
    <span><span class="swatch bar-comparison"></span>Not messaged</span>
  </p>`;
}

function notHonouredSection(byCourier: FunnelRow[]) {
  const most = Math.max(0, ...byCourier.map((row) => row.counts.notHonoured));
  const body =
    byCourier.length === 0
      ? html`<p>No failed deliveries in this period.</p>`
      : renderBarChart({
          id: 'not-honoured-chart',
          title: 'Not honoured, per courier',
          description: byCourier
            .map((row) => `${courierLabel(row.key)}: ${row.counts.notHonoured}`)
            .join('; '),
          max: Math.max(most, 1),
          groups: byCourier.map((row) => ({
            label: courierLabel(row.key),
            bars: [
              {
                value: row.counts.notHonoured,
                text: numbers.format(row.counts.notHonoured),
                tone: 'warning',
              },
            ],
          })),
        });
  return html`<section class="card" aria-labelledby="h-not-honoured">
    <h2 id="h-not-honoured">Not honoured, per courier</h2>
    <p class="hint">
      Attempts where the customer chose a date or asked for a reattempt and the courier's next event
      showed it did not follow (another date, no delivery run that day, or a reason contradicting
      the answer). The figures are in the courier table's last column.
    </p>
    ${body}
  </section>`;
}

function periodForm(view: OutcomesPageView) {
  const invalid = view.problems.length > 0;
  return html`<section class="card" aria-labelledby="h-period">
    <h2 id="h-period">Period</h2>
    ${
      invalid &&
      html`<div class="status fail" role="alert" id="period-error">
        <p>These dates cannot be shown:</p>
        <ul>
          ${view.problems.map((p) => html`<li>${p}</li>`)}
        </ul>
      </div>`
    }
    <form method="get" action="/settings/${view.accountId}/outcomes" class="period">
      <div>
        <label for="from">From</label>
        <input
          type="date"
          id="from"
          name="from"
          value="${view.from}"
          required
          aria-describedby="period-hint"
          ${invalid ? html` aria-invalid="true"` : ''}
        />
      </div>
      <div>
        <label for="to">To</label>
        <input
          type="date"
          id="to"
          name="to"
          value="${view.to}"
          required
          aria-describedby="period-hint"
          ${invalid ? html` aria-invalid="true"` : ''}
        />
      </div>
      <div class="row"><button type="submit" class="primary">Show</button></div>
    </form>
    <p class="hint" id="period-hint">
      Failed deliveries of these days (UTC), both included; at first the last 30 days.
    </p>
  </section>`;
}

export function renderOutcomesPage(view: OutcomesPageView): string {
  const figures: SafeHtml | null = view.figures
    ? html`${summarySection(view.figures.total)} ${funnelSection(view.figures.total)}
      ${groupSection({
        id: 'reason',
        heading: 'Rescue rate by reason',
        attribute: 'reason',
        labelOf: reasonLabel,
        rows: view.figures.byReason,
        notHonoured: false,
      })}
      ${groupSection({
        id: 'courier',
        heading: 'Rescue rate by courier',
        attribute: 'courier',
        labelOf: courierLabel,
        rows: view.figures.byCourier,
        notHonoured: true,
      })}
      ${notHonouredSection(view.figures.byCourier)}`
    : null;
  return layout(
    `Outcomes · account ${view.accountId} · WhatsApp settings`,
    html`<header class="bar">
        <h1>WhatsApp outcomes · account ${view.accountId}</h1>
        ${logoutForm(view.csrf)}
      </header>
      <main id="main">
        <nav class="crumbs" aria-label="Pages of this account">
          <a href="/settings/${view.accountId}" id="settings-link"
            >Settings of account ${view.accountId}</a
          >
        </nav>
        ${periodForm(view)} ${figures}
      </main>`,
  );
}
