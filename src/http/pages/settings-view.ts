/**
 * The settings page's markup (server-rendered; src/http/routes/settings-page.ts gathers the data
 * and serves it): the login form, the account picker, error pages and the settings page itself.
 *
 * Every value goes through the escaping `html` tag. Accessibility: every control has a <label>
 * (or is a fieldset with a legend), messages land in an aria-live region, errors in a focused
 * role="alert" summary, and the layout is a single column that fits a 375px-wide screen.
 */
import { html, type SafeHtml } from './html.ts';
import { SETTINGS_ASSETS_VERSION } from './settings-assets.ts';

export interface SenderOption {
  id: string;
  label: string;
  selected: boolean;
  /** Not selectable: it cannot send yet (the label says why). */
  disabled: boolean;
}

export interface ReasonView {
  reason: string;
  label: string;
  enabled: boolean;
  /** The account's own template for the reason; null means the platform default. */
  templateId: string | null;
  /** What the service stored when the template was verified, if it is known here. */
  template: { name: string; status: string; connectionId: string | null } | null;
  /** Placeholder number → variable name, in placeholder order. */
  mapping: [number, string][];
  /**
   * Gupshup or Meta refused a send of the template in use (own or platform default) as paused or
   * not matching, since it was last verified.
   */
  refused: { code: string; reason: string | null; at: Date } | null;
}

export interface ActivityView {
  occurredAt: Date;
  shipmentId: string;
  kind: string;
  title: string;
}

/** The conversation policy as the page edits it (src/policy.ts). */
export interface PolicyView {
  /** default: the platform's DEFAULT_QUIET_HOURS; off: none; custom: the fields below. */
  quietHoursMode: 'default' | 'off' | 'custom';
  /** The custom window's fields (prefilled with the platform default when not custom). */
  quietHours: { start: string; end: string; timeZone: string };
  /** The platform default, as people read it (`21:00–09:00 Asia/Kolkata`, or `none`). */
  platformQuietHours: string;
  noReply: { afterHours: number; then: string };
  /** Whether the account follows the platform default for these (nothing of its own stored). */
  noReplyIsDefault: boolean;
  optOutKeywords: string[];
  optInKeywords: string[];
  /** Per reason: its reminder template id, '' for the reason's own template. */
  reminderTemplates: { reason: string; label: string; templateId: string }[];
  /** IANA zones offered as suggestions. */
  timeZones: readonly string[];
}

export interface SettingsPageView {
  accountId: number;
  /** The per-session CSRF token; null when the page was fetched with the bearer token. */
  csrf: string | null;
  enabled: boolean;
  reasons: ReasonView[];
  senders: SenderOption[];
  senderWarnings: string[];
  storeName: string;
  supportContactNumber: string;
  supportEmailAddress: string;
  activity: ActivityView[];
  /** Numbers the account's messages do not go to (opted out, not on WhatsApp), in force. */
  suppressedNumbers: number;
  variables: readonly { name: string; description: string }[];
  policy: PolicyView;
}

/** The page shell every settings page shares: head, stylesheet, optional script, skip link. */
export function layout(
  title: string,
  body: SafeHtml | SafeHtml[],
  options: { script?: boolean } = {},
) {
  return html`<!doctype html>
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <meta name="referrer" content="same-origin" />
        <title>${title}</title>
        <link rel="stylesheet" href="/settings/assets/settings.css?v=${SETTINGS_ASSETS_VERSION}" />
        ${options.script && html`<script src="/settings/assets/settings.js?v=${SETTINGS_ASSETS_VERSION}" defer></script>`}
      </head>
      <body>
        <a class="skip-link" href="#main">Skip to content</a>
        ${body}
      </body>
    </html> `.value;
}

export function renderLoginPage(input: {
  loginCsrf: string;
  next: string | null;
  error: string | null;
}): string {
  const { error } = input;
  return layout(
    'Log in · WhatsApp settings',
    html`<header class="bar"><h1>WhatsApp settings</h1></header>
      <main id="main" class="narrow">
        <section class="card" aria-labelledby="login-title">
          <h2 id="login-title">Log in</h2>
          ${error && html`<div class="status fail" role="alert" id="login-error">${error}</div>`}
          <form method="post" action="/settings/login">
            <input type="hidden" name="csrf" value="${input.loginCsrf}" />
            ${input.next && html`<input type="hidden" name="next" value="${input.next}" />`}
            <label for="password">API token</label>
            <input
              type="password"
              id="password"
              name="password"
              autocomplete="current-password"
              required
              aria-describedby="password-hint${error ? ' login-error' : ''}"
              ${error ? html` aria-invalid="true"` : ''}
            />
            <p class="hint" id="password-hint">
              The service's API token (API_TOKEN). You stay logged in for 8 hours on this browser.
            </p>
            <div class="row"><button type="submit" class="primary">Log in</button></div>
          </form>
        </section>
      </main>`,
  );
}

export function renderAccountPicker(input: { csrf: string | null; error: string | null }): string {
  return layout(
    'Choose an account · WhatsApp settings',
    html`<header class="bar">
        <h1>WhatsApp settings</h1>
        ${logoutForm(input.csrf)}
      </header>
      <main id="main" class="narrow">
        <section class="card" aria-labelledby="pick-title">
          <h2 id="pick-title">Which account?</h2>
          ${input.error && html`<div class="status fail" role="alert">${input.error}</div>`}
          <form method="get" action="/settings">
            <label for="accountId">Account id</label>
            <input
              type="text"
              id="accountId"
              name="accountId"
              inputmode="numeric"
              pattern="[0-9]*"
              required
            />
            <div class="row"><button type="submit" class="primary">Open settings</button></div>
          </form>
        </section>
      </main>`,
  );
}

export function renderErrorPage(title: string, message: string, back: string | null): string {
  return layout(
    `${title} · WhatsApp settings`,
    html`<header class="bar"><h1>WhatsApp settings</h1></header>
      <main id="main" class="narrow">
        <section class="card" aria-labelledby="error-title">
          <h2 id="error-title">${title}</h2>
          <p role="alert">${message}</p>
          ${back && html`<p><a href="${back}">Back</a></p>`}
        </section>
      </main>`,
  );
}

export function logoutForm(csrf: string | null) {
  // A bearer-authenticated visit has no session to end.
  return (
    csrf &&
    html`<form method="post" action="/settings/logout">
      <input type="hidden" name="csrf" value="${csrf}" /><button type="submit">Log out</button>
    </form>`
  );
}

/** The variable dropdown; the page's script clones the unnumbered one for new placeholder rows. */
function variableSelect(
  variables: SettingsPageView['variables'],
  chosen: string | null,
  row: { id: string; n: number } | null,
) {
  return html`<select${row && html` id="${row.id}" data-placeholder="${row.n}"`}>
<option value="">Choose a variable</option>
${variables.map((v) => html`<option value="${v.name}" ${v.name === chosen && html` selected`}>${v.name}</option>`)}
</select>`;
}

function placeholderRow(reason: string, n: number, variable: string, view: SettingsPageView) {
  // Same markup as the script's makeRow(), so rendered and added rows behave alike.
  const id = `ph-${reason}-${n}`;
  return html`<div class="placeholder">
    <label for="${id}">Placeholder {{${n}}}</label
    >${variableSelect(view.variables, variable, { id, n })}
  </div>`;
}

function reasonSection(r: ReasonView, view: SettingsPageView) {
  const own = r.templateId !== null;
  const saved = r.template
    ? `Saved: ${r.template.name} (${r.template.status}), verified on ${
        r.template.connectionId === null || r.template.connectionId === 'default'
          ? 'the default app'
          : `connection ${r.template.connectionId}`
      }.`
    : own
      ? 'Saved: this id; its details are not stored here.'
      : 'Saved: the platform default template (sent only through the default app).';
  const id = r.reason;
  return html`<details
    class="reason"
    id="reason-${id}"
    data-reason="${id}"
    ${own || r.enabled ? html` open` : ''}
  >
    <summary>
      ${r.label}
      <span class="badge"
        >(<span id="badge-${id}">${r.enabled && view.enabled ? 'sending' : 'not sending'}</span
        >${own ? html`, own template` : ''})</span
      >
    </summary>
    <div class="reason-body">
      <fieldset>
        <legend class="visually-hidden">${r.label} template</legend>
        <label for="template-${id}">Template id</label>
        <input
          type="text"
          id="template-${id}"
          value="${r.templateId ?? ''}"
          autocomplete="off"
          spellcheck="false"
          aria-describedby="template-${id}-hint"
        />
        <p class="hint" id="template-${id}-hint">${saved} Empty: the platform default.</p>
        ${
          r.refused
            ? html`<p class="hint refused" id="template-${id}-refused" role="note">
                Gupshup refused this template on ${r.refused.at.toISOString().slice(0, 10)}:
                ${r.refused.reason ?? 'refused'} (${r.refused.code}). Messages for this reason fail
                until the template is fixed with Gupshup and verified again.
              </p>`
            : ''
        }
        <label for="count-${id}">Placeholders in the template</label>
        <input
          type="number"
          id="count-${id}"
          min="0"
          max="30"
          inputmode="numeric"
          value="${r.mapping.length}"
          aria-describedby="count-${id}-hint"
        />
        <p class="hint" id="count-${id}-hint">
          How many {{n}} the template body has; choose a variable for each.
        </p>
        <div class="placeholders" id="placeholders-${id}">
          ${r.mapping.map(([n, variable]) => placeholderRow(id, n, variable, view))}
        </div>
        <div class="row">
          <button type="button" data-verify="${id}" aria-describedby="result-${id}">
            Verify<span class="visually-hidden"> the ${r.label} template</span>
          </button>
        </div>
        <p class="result" id="result-${id}" aria-live="polite"></p>
      </fieldset>
    </div>
  </details>`;
}

const NO_REPLY_CHOICES = [
  ['remind', 'Send one reminder (the same template, or the reminder template below)'],
  ['reattempt', 'Ask the courier to reattempt delivery'],
  ['nothing', 'Do nothing'],
] as const;

function policySection(p: PolicyView) {
  const mode = (value: PolicyView['quietHoursMode'], label: string) =>
    html`<div class="check">
      <input
        type="radio"
        name="quietHoursMode"
        id="qh-${value}"
        value="${value}"
        ${p.quietHoursMode === value ? html` checked` : ''}
      /><label for="qh-${value}">${label}</label>
    </div>`;
  const anyReminder = p.reminderTemplates.some((r) => r.templateId !== '');
  return html`<section class="card policy" aria-labelledby="h-policy">
    <h2 id="h-policy">Conversation policy</h2>
    <fieldset aria-describedby="quiet-hint">
      <legend>Quiet hours</legend>
      ${mode('default', `Platform default (${p.platformQuietHours})`)}
      ${mode('off', 'None: send at any hour')} ${mode('custom', 'These hours:')}
      <div class="inline-fields" id="qh-fields">
        <div>
          <label for="qh-start">From</label>
          <input type="time" id="qh-start" value="${p.quietHours.start}" step="60" />
        </div>
        <div>
          <label for="qh-end">Until</label>
          <input type="time" id="qh-end" value="${p.quietHours.end}" step="60" />
        </div>
        <div class="wide">
          <label for="qh-zone">Time zone</label>
          <input
            type="text"
            id="qh-zone"
            value="${p.quietHours.timeZone}"
            list="time-zones"
            autocomplete="off"
            spellcheck="false"
          />
        </div>
      </div>
      <p class="hint" id="quiet-hint">
        A failed-delivery message or reminder that would go out inside these local hours waits until
        they end (the timeline says for when). Replies to a customer who just wrote are never held.
        From 21:00 until 09:00 runs past midnight.
      </p>
    </fieldset>
    <datalist id="time-zones">
      ${p.timeZones.map((z) => html`<option value="${z}"></option>`)}
    </datalist>

    <fieldset aria-describedby="noreply-hint">
      <legend>No reply</legend>
      <label for="noReply-afterHours">Hours without a reply</label>
      <input
        type="number"
        id="noReply-afterHours"
        min="1"
        max="72"
        inputmode="numeric"
        value="${p.noReply.afterHours}"
      />
      <label for="noReply-then">Then</label>
      <select id="noReply-then">
        ${NO_REPLY_CHOICES.map(
          ([value, label]) =>
            html`<option value="${value}" ${p.noReply.then === value && html` selected`}>
              ${label}
            </option>`,
        )}
      </select>
      <p class="hint" id="noreply-hint">
        When the customer has not answered the failed-delivery message in this many hours and the
        order is still in failed delivery, once per
        attempt.${
          p.noReplyIsDefault
            ? ' The platform default (12 hours, one reminder) applies until changed here.'
            : ''
        }
      </p>
    </fieldset>

    <label for="optOutKeywords">Opt-out keywords</label>
    <textarea id="optOutKeywords" rows="4" spellcheck="false" aria-describedby="keywords-hint">
${p.optOutKeywords.join('\n')}</textarea>
    <label for="optInKeywords">Opt-in keywords</label>
    <textarea id="optInKeywords" rows="2" spellcheck="false" aria-describedby="keywords-hint">
${p.optInKeywords.join('\n')}</textarea>
    <p class="hint" id="keywords-hint">One keyword or phrase per line.</p>

    <details class="reason" id="reminder-templates" ${anyReminder ? html` open` : ''}>
      <summary>Reminder templates</summary>
      <div class="reason-body">
        <fieldset aria-describedby="reminder-hint">
          <legend class="visually-hidden">Reminder template per reason</legend>
          <p class="hint" id="reminder-hint">
            The template the no-reply reminder sends, per reason. Empty: the reason's own template
            again.
          </p>
          ${p.reminderTemplates.map(
            (r) =>
              html`<label for="reminder-${r.reason}">${r.label}</label>
                <input
                  type="text"
                  id="reminder-${r.reason}"
                  data-reminder="${r.reason}"
                  value="${r.templateId}"
                  autocomplete="off"
                  spellcheck="false"
                />`,
          )}
        </fieldset>
      </div>
    </details>
  </section>`;
}

function activityList(entries: ActivityView[]) {
  if (entries.length === 0) {
    return html`<p>No activity yet for this account.</p>`;
  }
  return html`<ol class="activity">
    ${entries.map(
      (e) =>
        html`<li>
          <time datetime="${e.occurredAt.toISOString()}"
            >${e.occurredAt.toISOString().replace('T', ' ').slice(0, 19)} UTC</time
          >
          <strong>${e.title}</strong>
          <span class="meta">Shipment ${e.shipmentId} · ${e.kind}</span>
        </li>`,
    )}
  </ol>`;
}

export function renderSettingsPage(view: SettingsPageView): string {
  const base = `/settings/${view.accountId}`;
  const senderHint = view.senderWarnings.length
    ? view.senderWarnings.join(' ')
    : 'The Gupshup app messages are sent through. Templates are verified on the app chosen here.';
  return layout(
    `Account ${view.accountId} · WhatsApp settings`,
    html`<header class="bar">
        <h1>WhatsApp settings · account ${view.accountId}</h1>
        ${logoutForm(view.csrf)}
      </header>
      <main id="main">
        <nav class="crumbs" aria-label="Pages of this account">
          <a href="${base}/outcomes" id="outcomes-link">Outcomes: the rescue rate and its funnel</a>
        </nav>
        <div class="errors" id="errors" role="alert" tabindex="-1" hidden>
          <h2 id="errors-title">The settings were not saved:</h2>
          <ul id="errors-list"></ul>
        </div>
        <noscript
          ><p class="status fail">
            This page needs JavaScript to verify templates and save.
          </p></noscript
        >
        <form id="settings-form" data-base="${base}" data-csrf="${view.csrf ?? ''}" novalidate>
          <section class="card" aria-labelledby="h-notifications">
            <h2 id="h-notifications">Notifications</h2>
            <div class="switch">
              <input
                type="checkbox"
                role="switch"
                id="enabled"
                ${view.enabled ? html` checked` : ''}
                aria-describedby="enabled-hint"
              />
              <label for="enabled">WhatsApp messages for failed deliveries</label>
            </div>
            <p class="hint" id="enabled-hint">
              Off by default. While off, no reason sends. Switching it on with no reason ticked
              ticks them all.
            </p>
            <fieldset>
              <legend>Send for these reasons</legend>
              <div class="checks">
                ${view.reasons.map(
                  (r) =>
                    html`<div class="check">
                      <input
                        type="checkbox"
                        id="reason-on-${r.reason}"
                        ${r.enabled ? html` checked` : ''}
                      /><label for="reason-on-${r.reason}">${r.label}</label>
                    </div>`,
                )}
              </div>
            </fieldset>
          </section>

          <section class="card" aria-labelledby="h-sender">
            <h2 id="h-sender">Sender</h2>
            <label for="sender">WhatsApp sender (Gupshup app)</label>
            <select id="sender" aria-describedby="sender-hint">
              ${view.senders.map(
                (s) =>
                  html`<option
                    value="${s.id}"
                    ${s.selected ? html` selected` : ''}${s.disabled && !s.selected ? html` disabled` : ''}
                  >
                    ${s.label}
                  </option>`,
              )}
            </select>
            <p class="hint" id="sender-hint">${senderHint}</p>
          </section>

          <section class="card" aria-labelledby="h-store">
            <h2 id="h-store">Store and support details</h2>
            <p class="hint">
              Used in messages as the variables storeName, supportContactNumber and
              supportEmailAddress.
            </p>
            <label for="storeName">Store name</label>
            <input
              type="text"
              id="storeName"
              value="${view.storeName}"
              maxlength="255"
              autocomplete="organization"
            />
            <label for="supportContactNumber">Support contact number</label>
            <input
              type="tel"
              id="supportContactNumber"
              value="${view.supportContactNumber}"
              maxlength="32"
              autocomplete="tel"
            />
            <label for="supportEmailAddress">Support email address</label>
            <input
              type="email"
              id="supportEmailAddress"
              value="${view.supportEmailAddress}"
              maxlength="255"
              autocomplete="email"
            />
          </section>

          <section class="card" aria-labelledby="h-templates">
            <h2 id="h-templates">Templates</h2>
            <p class="hint">
              A template is checked with Gupshup on the chosen sender: it must exist there, be
              APPROVED and a UTILITY template, and every placeholder needs one of the variables
              below.
            </p>
            ${view.reasons.map((r) => reasonSection(r, view))}
            <details>
              <summary>What the variables mean</summary>
              <dl class="variables">
                ${view.variables.map(
                  (v) =>
                    html`<dt>${v.name}</dt>
                      <dd>${v.description}</dd>`,
                )}
              </dl>
            </details>
          </section>

          ${policySection(view.policy)}

          <div class="savebar">
            <button type="submit" class="primary" id="save">Save settings</button>
            <div id="status" class="status" role="status" aria-live="polite"></div>
          </div>
        </form>

        <section class="card" aria-labelledby="h-activity">
          <h2 id="h-activity">Recent activity</h2>
          <p id="suppressed">
            Suppressed numbers (opted out or not on WhatsApp): ${String(view.suppressedNumbers)}
          </p>
          ${activityList(view.activity)}
        </section>
      </main>
      <template id="variable-select">${variableSelect(view.variables, null, null)}</template>`,
    { script: true },
  );
}
