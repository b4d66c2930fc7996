/**
 * The settings page's stylesheet and script, served as static files by
 * src/http/routes/settings-page.ts (`/settings/assets/*`) so the page's Content-Security-Policy
 * can forbid inline script and style altogether.
 *
 * The script is plain ES2017 in a string: there is no front-end build, and it is small. It only
 * enhances the server-rendered form: placeholder rows, "Verify" (POST /settings/:id/verify) and
 * "Save" (POST /settings/:id/save), both answered in JSON; every message it shows is set with
 * `textContent`, never as markup.
 */
import { createHash } from 'node:crypto';

export const SETTINGS_PAGE_CSS = `
:root {
  color-scheme: light;
  --fg: #1b1f24;
  --muted: #4a525c;
  --bg: #f4f6f8;
  --card: #ffffff;
  --border: #c5cbd3;
  --field: #626b77;
  --accent: #0b5cad;
  --ok: #146c2e;
  --ok-bg: #e6f4ea;
  --bad: #a4161a;
  --bad-bg: #fdeceb;
  --focus: #ffbf47;
}
* { box-sizing: border-box; }
html { -webkit-text-size-adjust: 100%; text-size-adjust: 100%; }
body {
  margin: 0;
  font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
  color: var(--fg);
  background: var(--bg);
}
a { color: var(--accent); }
.skip-link { position: absolute; left: -9999px; top: 0; }
.skip-link:focus { left: 1rem; top: 1rem; z-index: 10; background: #fff; padding: .5rem 1rem; }
.bar {
  display: flex; flex-wrap: wrap; gap: .5rem 1rem; align-items: center; justify-content: space-between;
  padding: .75rem 1rem; background: #14324f; color: #fff;
}
.bar h1 { font-size: 1.15rem; margin: 0; }
.bar form { margin: 0; }
.bar button { background: transparent; color: #fff; border-color: #fff; }
main { max-width: 52rem; margin: 0 auto; padding: 1rem; }
main.narrow { max-width: 26rem; }
.card {
  background: var(--card); border: 1px solid var(--border); border-radius: .5rem;
  padding: 1rem; margin: 0 0 1rem;
}
h2 { font-size: 1.2rem; margin: 0 0 .5rem; }
h3 { font-size: 1rem; margin: 1rem 0 .25rem; }
label { display: block; font-weight: 600; margin: .75rem 0 .25rem; }
fieldset { border: 0; padding: 0; margin: 0; min-width: 0; }
legend { font-weight: 600; padding: 0; margin: .75rem 0 .25rem; }
.hint { color: var(--muted); font-size: .92rem; margin: .25rem 0 0; }
.hint.refused { color: var(--bad); font-weight: 600; }
input[type=text], input[type=email], input[type=tel], input[type=password], input[type=number],
input[type=time], select, textarea {
  display: block; width: 100%; max-width: 100%; min-height: 2.75rem;
  font: inherit; color: inherit; background: #fff;
  padding: .45rem .6rem; border: 1px solid var(--field); border-radius: .35rem;
}
input[type=number] { max-width: 8rem; }
textarea { resize: vertical; line-height: 1.4; }
input:disabled { background: #eef0f3; color: var(--muted); }
.inline-fields { display: flex; flex-wrap: wrap; gap: 0 .75rem; margin-left: 2rem; }
.inline-fields > div { flex: 1 1 7rem; min-width: 0; }
.inline-fields > .wide { flex: 3 1 14rem; }
.policy > fieldset, .policy > details { margin-top: 1.25rem; }
.policy > fieldset > legend { font-size: 1.05rem; }
input[aria-invalid=true] { border: 2px solid var(--bad); }
button {
  font: inherit; font-weight: 600; min-height: 2.75rem; padding: .5rem 1rem; cursor: pointer;
  border-radius: .35rem; border: 2px solid var(--accent); background: #fff; color: var(--accent);
}
button.primary { background: var(--accent); color: #fff; }
button[aria-disabled=true] { opacity: .65; cursor: progress; }
:focus-visible { outline: 3px solid var(--accent); outline-offset: 2px; box-shadow: 0 0 0 6px var(--focus); }
.bar :focus-visible { outline-color: var(--focus); box-shadow: none; }
.switch { display: flex; align-items: center; gap: .75rem; margin: .5rem 0; }
.switch label { margin: 0; }
input[role=switch] {
  -webkit-appearance: none; appearance: none; flex: none; margin: 0; cursor: pointer;
  width: 3.25rem; height: 1.85rem; border-radius: 1rem; border: 2px solid var(--field);
  background: radial-gradient(circle at .8rem 50%, #fff .55rem, transparent .6rem) #6b7480;
}
input[role=switch]:checked {
  border-color: var(--ok);
  background: radial-gradient(circle at calc(100% - .8rem) 50%, #fff .55rem, transparent .6rem) var(--ok);
}
@media (forced-colors: active) {
  input[role=switch] { -webkit-appearance: auto; appearance: auto; width: auto; height: auto; }
}
.checks { display: grid; grid-template-columns: repeat(auto-fill, minmax(15rem, 1fr)); gap: 0 1rem; }
.check { display: flex; align-items: center; gap: .6rem; min-height: 2.75rem; }
.check input { width: 1.35rem; height: 1.35rem; margin: 0; flex: none; }
.check label { margin: 0; font-weight: 400; }
details.reason { border: 1px solid var(--border); border-radius: .4rem; margin: .5rem 0; background: #fff; }
details.reason > summary { padding: .75rem; cursor: pointer; font-weight: 600; overflow-wrap: anywhere; }
.badge { font-weight: 400; font-size: .9rem; color: var(--muted); }
.reason-body { padding: 0 .75rem .75rem; }
.placeholders { display: grid; grid-template-columns: repeat(auto-fill, minmax(12rem, 1fr)); gap: 0 .75rem; }
.row { display: flex; flex-wrap: wrap; gap: .5rem; align-items: center; margin-top: .75rem; }
.result { margin: .5rem 0 0; border-radius: .35rem; overflow-wrap: anywhere; }
.result:not(:empty) { padding: .5rem .75rem; }
.result.ok, .status.ok { background: var(--ok-bg); color: var(--ok); border-left: 4px solid var(--ok); }
.result.fail, .status.fail { background: var(--bad-bg); color: var(--bad); border-left: 4px solid var(--bad); }
.result.pending { background: #eef2f7; }
.status { font-weight: 600; border-radius: .35rem; overflow-wrap: anywhere; }
.status:not(:empty) { padding: .5rem .75rem; margin: 0 0 1rem; }
.errors { border: 3px solid var(--bad); background: var(--bad-bg); border-radius: .4rem; padding: .75rem 1rem; margin: 0 0 1rem; }
.errors h2 { color: var(--bad); font-size: 1.05rem; }
.errors ul { margin: .25rem 0 0; padding-left: 1.25rem; overflow-wrap: anywhere; }
.savebar {
  position: sticky; bottom: 0; z-index: 5; display: flex; flex-wrap: wrap; gap: .75rem; align-items: center;
  padding: .75rem 0; background: var(--bg); border-top: 1px solid var(--border);
}
.activity { list-style: none; padding: 0; margin: 0; }
.activity li { border-top: 1px solid var(--border); padding: .5rem 0; overflow-wrap: anywhere; }
.activity li:first-child { border-top: 0; }
.activity time, .activity .meta { display: block; color: var(--muted); font-size: .9rem; }
.variables dt { font-weight: 600; margin-top: .4rem; }
.variables dd { margin: 0; color: var(--muted); }
.crumbs { margin: 0 0 1rem; }
.crumbs a { font-weight: 600; }
form.period { display: flex; flex-wrap: wrap; gap: 0 .75rem; align-items: flex-end; }
form.period > div { flex: 1 1 9rem; min-width: 0; }
form.period > .row { flex: 0 0 auto; }
input[type=date] {
  display: block; width: 100%; max-width: 100%; min-height: 2.75rem; font: inherit; color: inherit;
  background: #fff; padding: .45rem .6rem; border: 1px solid var(--field); border-radius: .35rem;
}
.status ul { margin: .25rem 0 0; padding-left: 1.25rem; }
.status p { margin: 0; }
.chart { display: block; width: 100%; max-width: 30rem; height: auto; margin: .5rem 0 1rem; }
.chart .label { font-size: 14px; font-weight: 600; fill: var(--fg); }
.chart .figure { font-size: 14px; fill: var(--fg); }
.bar-messaged { fill: var(--accent); background: var(--accent); }
.bar-comparison { fill: #8a939e; background: #8a939e; }
.bar-warning { fill: var(--bad); background: var(--bad); }
.legend { display: flex; flex-wrap: wrap; gap: .25rem 1rem; margin: -.5rem 0 1rem; font-size: .92rem; }
.swatch { display: inline-block; width: .9rem; height: .9rem; margin-right: .35rem; vertical-align: -.1rem; border-radius: 2px; }
.figures { display: grid; grid-template-columns: repeat(auto-fill, minmax(8.5rem, 1fr)); gap: .5rem 1rem; margin: 0 0 .5rem; }
.figures dt { color: var(--muted); font-size: .92rem; }
.figures dd { margin: 0; font-size: 1.5rem; font-weight: 700; }
.figures-table { width: 100%; border-collapse: collapse; margin: 0 0 .75rem; font-variant-numeric: tabular-nums; }
.figures-table { font-size: .95rem; }
.table-scroll { overflow-x: auto; margin: 0 0 .75rem; }
.table-scroll .figures-table { margin: 0; }
.figures-table th, .figures-table td { padding: .35rem .3rem; border-bottom: 1px solid var(--border); text-align: right; }
.figures-table td { white-space: nowrap; }
.figures-table th:first-child { text-align: left; min-width: 6.5rem; }
.figures-table thead th { font-size: .85rem; color: var(--muted); vertical-align: bottom; }
@media (max-width: 40rem) {
  /* Narrow screens: each row becomes a small card of label: figure lines. */
  .figures-table thead { position: absolute; width: 1px; height: 1px; overflow: hidden; clip-path: inset(50%); }
  .figures-table, .figures-table tbody, .figures-table tr, .figures-table th, .figures-table td { display: block; }
  .figures-table tr { border: 1px solid var(--border); border-radius: .4rem; margin: 0 0 .5rem; padding: .25rem .5rem; }
  .figures-table th[scope=row] { border: 0; padding: .25rem 0; overflow-wrap: anywhere; }
  .figures-table td { display: flex; justify-content: space-between; gap: 1rem; border: 0; padding: .15rem 0; white-space: normal; }
  .figures-table td::before { content: attr(data-label); color: var(--muted); text-align: left; }
}
.visually-hidden {
  position: absolute !important; width: 1px; height: 1px; padding: 0; margin: -1px; overflow: hidden;
  clip: rect(0 0 0 0); clip-path: inset(50%); white-space: nowrap; border: 0;
}
`;

export const SETTINGS_PAGE_JS = `
(function () {
  'use strict';
  var form = document.getElementById('settings-form');
  if (!form) { return; }
  var base = form.getAttribute('data-base');
  var csrf = form.getAttribute('data-csrf') || '';
  var statusEl = document.getElementById('status');
  var errorsEl = document.getElementById('errors');
  var errorsTitle = document.getElementById('errors-title');
  var errorsList = document.getElementById('errors-list');
  var master = document.getElementById('enabled');
  var sender = document.getElementById('sender');
  var saveButton = document.getElementById('save');
  var variableSelect = document.getElementById('variable-select');
  var reasons = Array.prototype.map.call(form.querySelectorAll('details[data-reason]'), function (el) {
    return el.getAttribute('data-reason');
  });
  var MAX_PLACEHOLDERS = 30;
  var saving = false;
  var POLICY_PARTS = ['noReply', 'optOutKeywords', 'optInKeywords', 'reminderTemplates'];
  var policyInitial = null;

  function byId(id) { return document.getElementById(id); }

  function say(message, kind) {
    statusEl.className = 'status' + (kind ? ' ' + kind : '');
    statusEl.textContent = message;
  }

  function clearErrors() {
    errorsEl.hidden = true;
    errorsList.textContent = '';
  }

  function showErrors(title, problems) {
    errorsTitle.textContent = title;
    errorsList.textContent = '';
    problems.forEach(function (problem) {
      var item = document.createElement('li');
      item.textContent = problem;
      errorsList.appendChild(item);
    });
    errorsEl.hidden = false;
    errorsEl.focus();
  }

  function setResult(reason, message, kind) {
    var el = byId('result-' + reason);
    el.className = 'result' + (kind ? ' ' + kind : '');
    el.textContent = message;
  }

  function makeRow(reason, n) {
    var id = 'ph-' + reason + '-' + n;
    var row = document.createElement('div');
    row.className = 'placeholder';
    var label = document.createElement('label');
    label.htmlFor = id;
    label.textContent = 'Placeholder {{' + n + '}}';
    var select = variableSelect.content.firstElementChild.cloneNode(true);
    select.id = id;
    select.setAttribute('data-placeholder', String(n));
    row.appendChild(label);
    row.appendChild(select);
    return row;
  }

  function setPlaceholderCount(reason, count) {
    var container = byId('placeholders-' + reason);
    var rows = container.querySelectorAll('.placeholder');
    var n;
    for (n = rows.length + 1; n <= count; n += 1) { container.appendChild(makeRow(reason, n)); }
    for (n = rows.length; n > count; n -= 1) { container.removeChild(rows[n - 1]); }
  }

  function mappingOf(reason) {
    var mapping = {};
    byId('placeholders-' + reason).querySelectorAll('select').forEach(function (select) {
      if (select.value) { mapping[select.getAttribute('data-placeholder')] = select.value; }
    });
    return mapping;
  }

  function linesOf(id) {
    return byId(id).value.split('\\n').map(function (line) { return line.trim(); }).filter(Boolean);
  }

  function quietMode() {
    var checked = form.querySelector('input[name=quietHoursMode]:checked');
    return checked ? checked.value : 'default';
  }

  function syncQuietFields() {
    var custom = quietMode() === 'custom';
    ['qh-start', 'qh-end', 'qh-zone'].forEach(function (id) { byId(id).disabled = !custom; });
  }

  // The policy as the fields show it, in the API's shapes.
  function readPolicy() {
    var reminders = {};
    form.querySelectorAll('input[data-reminder]').forEach(function (input) {
      var id = input.value.trim();
      if (id) { reminders[input.getAttribute('data-reminder')] = id; }
    });
    var hours = byId('noReply-afterHours').value.trim();
    return {
      mode: quietMode(),
      quietHours: { start: byId('qh-start').value, end: byId('qh-end').value, timeZone: byId('qh-zone').value.trim() },
      noReply: { afterHours: hours === '' ? 0 : Number(hours), then: byId('noReply-then').value },
      optOutKeywords: linesOf('optOutKeywords'),
      optInKeywords: linesOf('optInKeywords'),
      reminderTemplates: reminders
    };
  }

  // Quiet hours as chosen; the other parts only when changed here, so an account keeps following
  // the platform's defaults for what nobody touched.
  function policyChange() {
    var now = readPolicy();
    var policy = {};
    var defaults = [];
    if (now.mode === 'default') { defaults.push('quietHours'); }
    else if (now.mode === 'off') { policy.quietHours = null; }
    else { policy.quietHours = now.quietHours; }
    POLICY_PARTS.forEach(function (key) {
      if (JSON.stringify(now[key]) !== JSON.stringify(policyInitial[key])) { policy[key] = now[key]; }
    });
    return { policy: policy, defaults: defaults };
  }

  function syncBadges() {
    reasons.forEach(function (reason) {
      var on = master.checked && byId('reason-on-' + reason).checked;
      byId('badge-' + reason).textContent = on ? 'sending' : 'not sending';
    });
  }

  function messageOf(res) {
    var data = res.data || {};
    if (res.status === 401) { return 'your session has ended: reload the page and log in again'; }
    if (res.status === 403) { return (data.message || 'forbidden') + ' (reload the page and try again)'; }
    return data.message || ('the service answered ' + res.status);
  }

  function post(path, body) {
    return fetch(base + path, {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'content-type': 'application/json', 'x-csrf-token': csrf },
      body: JSON.stringify(body)
    }).then(function (res) {
      return res.json().catch(function () { return {}; }).then(function (data) {
        return { status: res.status, data: data };
      });
    });
  }

  reasons.forEach(function (reason) {
    var count = byId('count-' + reason);
    count.addEventListener('input', function () {
      var n = parseInt(count.value, 10);
      if (isNaN(n) || n < 0) { return; }
      setPlaceholderCount(reason, Math.min(n, MAX_PLACEHOLDERS));
    });
    byId('reason-on-' + reason).addEventListener('change', syncBadges);
  });

  form.querySelectorAll('input[name=quietHoursMode]').forEach(function (radio) {
    radio.addEventListener('change', syncQuietFields);
  });

  master.addEventListener('change', function () {
    var switches = reasons.map(function (reason) { return byId('reason-on-' + reason); });
    // Switching WhatsApp on with no reason ticked means every reason, as in the settings API.
    if (master.checked && !switches.some(function (s) { return s.checked; })) {
      switches.forEach(function (s) { s.checked = true; });
      say('Every reason is now ticked: untick the ones that should not send, then save.');
    }
    syncBadges();
  });

  form.addEventListener('click', function (event) {
    var button = event.target.closest('button[data-verify]');
    if (!button || button.getAttribute('aria-disabled') === 'true') { return; }
    var reason = button.getAttribute('data-verify');
    var input = byId('template-' + reason);
    var templateId = input.value.trim();
    if (!templateId) {
      setResult(reason, 'Not verified: enter a template id first.', 'fail');
      input.focus();
      return;
    }
    button.setAttribute('aria-disabled', 'true');
    setResult(reason, 'Verifying with Gupshup…', 'pending');
    post('/verify', {
      reason: reason,
      templateId: templateId,
      connectionId: sender.value,
      variables: mappingOf(reason)
    }).then(function (res) {
      var t = res.data && res.data.template;
      if (res.status === 200 && res.data.ok && t) {
        setResult(reason, 'Verified: ' + t.name + ' · ' + t.status + ' · ' + t.category + ' · on ' + t.appName, 'ok');
      } else {
        setResult(reason, 'Not verified: ' + messageOf(res), 'fail');
      }
    }, function () {
      setResult(reason, 'Not verified: the service could not be reached; try again.', 'fail');
    }).then(function () {
      button.removeAttribute('aria-disabled');
    });
  });

  function applySaved(settings) {
    if (!settings) { return; }
    master.checked = Boolean(settings.enabled);
    sender.value = settings.senderConnectionId;
    reasons.forEach(function (reason) {
      byId('reason-on-' + reason).checked = Boolean(settings.reasons && settings.reasons[reason]);
    });
    syncBadges();
  }

  form.addEventListener('submit', function (event) {
    event.preventDefault();
    if (saving) { return; }
    saving = true;
    saveButton.setAttribute('aria-disabled', 'true');
    clearErrors();
    // Refusals of an earlier save would be stale once this one answers.
    reasons.forEach(function (reason) {
      if (byId('result-' + reason).textContent.indexOf('Not saved: ') === 0) { setResult(reason, '', ''); }
    });
    say('Saving…');
    var body = {
      enabled: master.checked,
      senderConnectionId: sender.value,
      storeName: byId('storeName').value,
      supportContactNumber: byId('supportContactNumber').value,
      supportEmailAddress: byId('supportEmailAddress').value,
      reasons: {}
    };
    var change = policyChange();
    body.policy = change.policy;
    if (change.defaults.length) { body.policyDefaults = change.defaults; }
    reasons.forEach(function (reason) {
      body.reasons[reason] = {
        enabled: byId('reason-on-' + reason).checked,
        templateId: byId('template-' + reason).value.trim(),
        variables: mappingOf(reason)
      };
    });
    post('/save', body).then(function (res) {
      var data = res.data || {};
      if (res.status === 200 && data.ok) {
        applySaved(data.settings);
        policyInitial = readPolicy();
        say(data.message || 'Settings saved.', 'ok');
        return;
      }
      var perReason = data.reasons || {};
      Object.keys(perReason).forEach(function (reason) {
        if (byId('result-' + reason)) {
          setResult(reason, 'Not saved: ' + perReason[reason], 'fail');
          byId('reason-' + reason).open = true;
        }
      });
      var problems = Array.isArray(data.problems) && data.problems.length ? data.problems : [messageOf(res)];
      say('Not saved: see the problems listed above.', 'fail');
      showErrors(data.message || 'The settings were not saved:', problems);
    }, function () {
      say('Not saved: the service could not be reached; try again.', 'fail');
    }).then(function () {
      saving = false;
      saveButton.removeAttribute('aria-disabled');
    });
  });

  syncBadges();
  syncQuietFields();
  policyInitial = readPolicy();
})();
`;

/** A short content hash, so the page can let browsers cache the assets across deploys safely. */
export const SETTINGS_ASSETS_VERSION = createHash('sha256')
  .update(SETTINGS_PAGE_CSS)
  .update(SETTINGS_PAGE_JS)
  .digest('hex')
  .slice(0, 12);
