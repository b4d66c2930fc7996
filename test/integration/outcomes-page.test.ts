/**
 * The outcomes page (`/settings/:accountId/outcomes`) over rows seeded straight into
 * `whatsapp_attempt_outcomes`: two couriers, three reasons, attempts not messaged (one of them
 * for a reason outside the comparison), attempts not honoured, one attempt just after the period
 * and one of another account. Over HTTP: refused without a session and with another account's,
 * a bad period answered 400 with its reason. In Chromium (Playwright, Debian's chromium, as in
 * settings-page.test.ts): logged in through the form, the expected figures read from the DOM
 * (stages, rescue rate per reason and courier, the not-messaged rate, the lift, not honoured per
 * courier), a shorter period changing them as expected, the links to and from the settings page,
 * and no horizontal overflow at 375px.
 *
 * Screenshots are kept in test-results/settings-page/ (gitignored; CI keeps it as an artifact).
 */
import { existsSync, mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { createApiToken } from '../../src/db/api-tokens.ts';
import { whatsappAttemptOutcomes } from '../../src/db/schema.ts';
import { startService, type Service } from '../../src/service.ts';
import { API_TOKEN, createTestEnv } from '../helpers/env.ts';

const ACCOUNT = 701;
const OTHER_ACCOUNT = 702;
const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-quic',
  '--no-first-run',
  '--disable-component-update',
  '--disable-sync',
];
const SHOTS = fileURLToPath(new URL('../../test-results/settings-page/', import.meta.url));

const env = createTestEnv('outcomespage');
let service: Service;
let browser: Browser;
let pageUrl: string;
let ownToken: string;
let otherToken: string;

type Row = typeof whatsappAttemptOutcomes.$inferInsert;
let next = 0;
const day = (d: number, month = 11) => new Date(Date.UTC(2026, month - 1, d, 10));
function attempt(courier: string, reason: string, failedOn: number, row: Partial<Row> = {}): Row {
  next += 1;
  return {
    shipmentId: `OUTPAGE-${next}`,
    attempt: 1,
    accountId: ACCOUNT,
    courier,
    reason,
    failedAt: day(failedOn),
    ...row,
  };
}
const at = day(28);
const sent = { messaged: 1, templateId: 'tpl-outcomes', sentAt: at };
const delivered = { ...sent, deliveredAt: at };
const UR = 'customer_unreachable';
const AI = 'address_issue';
const RJ = 'rejected_by_customer';

/**
 * November, account 701. Messaged: 9 (8 sent, 7 delivered, 4 read, 5 replied and actioned, 4
 * rescued, 3 not honoured). Not messaged for a comparison reason: 4, of which 2 delivered; one
 * more skipped for a bad number, outside the comparison.
 */
const ROWS: Row[] = [
  attempt('Delhivery', UR, 3, {
    ...delivered,
    readAt: at,
    repliedAt: at,
    action: 'reattempt',
    actionAt: at,
    outcome: 'delivered',
  }),
  attempt('Delhivery', UR, 5, { ...delivered, outcome: 'delivered' }),
  attempt('Delhivery', AI, 10, {
    ...delivered,
    readAt: at,
    repliedAt: at,
    action: 'update_address',
    actionAt: at,
    outcome: 'delivered',
  }),
  attempt('Delhivery', AI, 20, {
    ...delivered,
    repliedAt: at,
    action: 'reschedule',
    actionAt: at,
    chosenDate: '2026-11-22',
    notHonoured: 'other_date',
    notHonouredAt: at,
    outcome: 'failed_again',
    nextReason: AI,
  }),
  attempt('Delhivery', RJ, 22, { ...sent, outcome: 'rto' }),
  attempt('Bluedart', UR, 8, {
    ...delivered,
    readAt: at,
    repliedAt: at,
    action: 'reschedule',
    actionAt: at,
    chosenDate: '2026-11-10',
    notHonoured: 'no_out_for_delivery',
    notHonouredAt: at,
    outcome: 'failed_again',
  }),
  attempt('Bluedart', RJ, 12, { ...delivered, readAt: at, outcome: 'delivered' }),
  attempt('Bluedart', RJ, 25, {
    ...delivered,
    repliedAt: at,
    action: 'reattempt',
    actionAt: at,
    notHonoured: 'contradicting_reason',
    notHonouredAt: at,
    outcome: 'rto',
  }),
  // Queued but never accepted by Gupshup: messaged, not sent.
  attempt('Bluedart', AI, 28, { messaged: 1, templateId: 'tpl-outcomes' }),
  attempt('Delhivery', UR, 4, { notMessagedCode: 'whatsapp_disabled', outcome: 'delivered' }),
  attempt('Delhivery', UR, 18, { notMessagedCode: 'opted_out', outcome: 'rto' }),
  attempt('Bluedart', RJ, 9, { notMessagedCode: 'whatsapp_disabled', outcome: 'delivered' }),
  attempt('Bluedart', AI, 21, { notMessagedCode: 'not_on_whatsapp', outcome: 'rto' }),
  attempt('Delhivery', AI, 6, { notMessagedCode: 'invalid_phone', outcome: 'delivered' }),
  // The first instant after the period, and another account's attempt within it.
  attempt('Delhivery', UR, 1, {
    ...delivered,
    failedAt: new Date('2026-12-01T00:00:00Z'),
    outcome: 'delivered',
  }),
  attempt('Delhivery', UR, 3, {
    ...delivered,
    accountId: OTHER_ACCOUNT,
    notHonoured: 'other_date',
    outcome: 'delivered',
  }),
];

/** Fails the test on any script error or console error (a CSP violation shows up as one). */
function watchErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('pageerror', (err) => errors.push(err.message));
  page.on('console', (message) => {
    if (message.type() === 'error' && !message.text().startsWith('Failed to load resource')) {
      errors.push(message.text());
    }
  });
  return errors;
}

/** A settings-page session for `token`, through the login form: its cookie header. */
async function sessionOf(token: string): Promise<string> {
  const form = await fetch(`${service.url}/settings/login`);
  const loginCookie = form.headers.getSetCookie()[0]!.split(';')[0]!;
  const csrf = /name="csrf" value="([^"]+)"/.exec(await form.text())![1]!;
  const res = await fetch(`${service.url}/settings/login`, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: loginCookie },
    body: new URLSearchParams({ password: token, csrf }).toString(),
  });
  expect(res.status).toBe(303);
  const session = res.headers
    .getSetCookie()
    .find((c) => c.startsWith('wa_settings_session='))!
    .split(';')[0]!;
  return session;
}

beforeAll(async () => {
  mkdirSync(SHOTS, { recursive: true });
  service = await startService(env.config(), ['api']);
  pageUrl = `${service.url}/settings/${ACCOUNT}/outcomes`;
  const { db } = service.deps;
  await db.insert(whatsappAttemptOutcomes).values(ROWS);
  ownToken = (await createApiToken(db, ACCOUNT, 'outcomes page')).token;
  otherToken = (await createApiToken(db, OTHER_ACCOUNT, 'another account')).token;

  if (!existsSync(CHROMIUM)) {
    // Playwright must not download a browser of its own; Debian's is the one this test drives.
    throw new Error(`${CHROMIUM} is missing: apt-get install -y --no-install-recommends chromium`);
  }
  browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
});

afterAll(async () => {
  await browser?.close();
  await service?.close();
  await env.dropDatabase();
});

describe('access to the outcomes page', () => {
  it('sends an anonymous browser to the login form and refuses anything else with 401', async () => {
    const browserLike = await fetch(pageUrl, {
      headers: { accept: 'text/html' },
      redirect: 'manual',
    });
    expect(browserLike.status).toBe(303);
    expect(browserLike.headers.get('location')).toBe(
      `/settings/login?next=${encodeURIComponent(`/settings/${ACCOUNT}/outcomes`)}`,
    );
    expect((await fetch(pageUrl)).status).toBe(401);
    const wrong = await fetch(pageUrl, { headers: { authorization: 'Bearer nope' } });
    expect(wrong.status).toBe(401);
  });

  it("shows an account token its own page and not another account's, by session or bearer", async () => {
    const own = await fetch(`${pageUrl}?from=2026-11-01&to=2026-11-30`, {
      headers: { cookie: await sessionOf(ownToken) },
    });
    expect(own.status).toBe(200);
    expect(own.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect(await own.text()).toContain(`WhatsApp outcomes · account ${ACCOUNT}`);

    const otherSession = await fetch(pageUrl, { headers: { cookie: await sessionOf(otherToken) } });
    expect(otherSession.status).toBe(404);
    const otherPage = await otherSession.text();
    expect(otherPage).toContain('There is no such page.');
    expect(otherPage).not.toContain('funnel-table');
    const otherBearer = await fetch(pageUrl, {
      headers: { authorization: `Bearer ${otherToken}` },
    });
    expect(otherBearer.status).toBe(404);
  });

  it('answers a bad period with 400 and the reason, never a 500', async () => {
    const bearer = { authorization: `Bearer ${API_TOKEN}` };
    const cases: [string, string][] = [
      ['from=2026-02-30&to=2026-03-01', 'From: &quot;2026-02-30&quot; is not a date (YYYY-MM-DD)'],
      ['from=2026-11-20&to=2026-11-10', 'From must not be after To'],
      ['from=2024-01-01&to=2026-11-10', 'The period can be at most 366 days'],
      ['to=tomorrow', 'To: &quot;tomorrow&quot; is not a date (YYYY-MM-DD)'],
      ['from=2026-11-01&from=2026-11-02', 'From: give one date'],
    ];
    for (const [query, message] of cases) {
      const res = await fetch(`${pageUrl}?${query}`, { headers: bearer });
      expect(res.status, query).toBe(400);
      const body = await res.text();
      expect(body, query).toContain(message);
      expect(body, query).toContain('role="alert"');
      expect(body, query).not.toContain('funnel-table');
    }
    expect((await fetch(`${service.url}/settings/0/outcomes`, { headers: bearer })).status).toBe(
      400,
    );
  });
});

describe('the outcomes page in a browser', () => {
  let context: BrowserContext;
  let page: Page;
  let errors: string[];

  beforeAll(async () => {
    context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    page = await context.newPage();
    page.setDefaultTimeout(15_000);
    errors = watchErrors(page);
  });

  afterAll(async () => {
    await context?.close();
  });

  const text = async (selector: string) => (await page.locator(selector).textContent())?.trim();
  const stage = (name: string, field: string) =>
    text(`#funnel-table tr[data-stage="${name}"] td[data-field="${field}"]`);
  const figure = (table: string, group: string, key: string, field: string) =>
    text(`#${table}-table tr[data-${group}="${key}"] td[data-field="${field}"]`);

  async function showPeriod(from: string, to: string) {
    await page.getByLabel('From', { exact: true }).fill(from);
    await page.getByLabel('To', { exact: true }).fill(to);
    await page.getByRole('button', { name: 'Show' }).click();
    await page.waitForURL(`${pageUrl}?from=${from}&to=${to}`);
  }

  it('logs in through the form and lands on the outcomes page, the last 30 days at first', async () => {
    await page.goto(pageUrl);
    await page.waitForURL(/\/settings\/login\?next=/);
    await page.getByLabel('API token').fill(API_TOKEN);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.waitForURL(pageUrl);
    const today = new Date();
    const todayText = today.toISOString().slice(0, 10);
    const from = new Date(today.getTime() - 29 * 24 * 60 * 60 * 1000).toISOString().slice(0, 10);
    expect(await page.getByLabel('From', { exact: true }).inputValue()).toBe(from);
    expect(await page.getByLabel('To', { exact: true }).inputValue()).toBe(todayText);
  });

  it('shows the month: every stage, the rescue rates beside the not-messaged ones, not honoured', async () => {
    await showPeriod('2026-11-01', '2026-11-30');

    const counts: Record<string, string> = {};
    for (const name of [
      'messaged',
      'sent',
      'delivered',
      'read',
      'replied',
      'actioned',
      'rescued',
    ]) {
      counts[name] = (await stage(name, 'count'))!;
    }
    expect(counts).toEqual({
      messaged: '9',
      sent: '8',
      delivered: '7',
      read: '4',
      replied: '5',
      actioned: '5',
      rescued: '4',
    });
    expect(await stage('sent', 'rate')).toBe('88.9% of messaged');
    expect(await stage('delivered', 'rate')).toBe('87.5% of sent');
    expect(await stage('read', 'rate')).toBe('57.1% of delivered');
    expect(await stage('replied', 'rate')).toBe('71.4% of delivered');
    expect(await stage('actioned', 'rate')).toBe('100.0% of replied');
    expect(await stage('rescued', 'share')).toBe('44.4%');

    expect(await text('#attempts')).toBe('14');
    expect(await text('#rescue-rate')).toBe('44.4%');
    expect(await page.locator('#rescue-rate').getAttribute('data-value')).toBe('0.4444');
    expect(await text('#not-messaged-rate')).toBe('50.0%');
    expect(await text('#lift')).toBe('−5.6 pts');

    const byReason = await Promise.all(
      (await page.locator('#reason-table tbody tr').all()).map((row) =>
        row.getAttribute('data-reason'),
      ),
    );
    expect(byReason).toEqual(['address_issue', 'customer_unreachable', 'rejected_by_customer']);
    expect(await figure('reason', 'reason', UR, 'rescueRate')).toBe('66.7%');
    expect(await figure('reason', 'reason', UR, 'notMessagedRate')).toBe('50.0%');
    expect(await figure('reason', 'reason', UR, 'lift')).toBe('+16.7 pts');
    expect(await figure('reason', 'reason', AI, 'rescueRate')).toBe('33.3%');
    expect(await figure('reason', 'reason', AI, 'notMessaged')).toBe('1');
    expect(await figure('reason', 'reason', AI, 'notMessagedRate')).toBe('0.0%');
    expect(await figure('reason', 'reason', RJ, 'rescueRate')).toBe('33.3%');
    expect(await figure('reason', 'reason', RJ, 'notMessagedRate')).toBe('100.0%');
    expect(await figure('reason', 'reason', RJ, 'lift')).toBe('−66.7 pts');
    expect(await text(`#reason-table tr[data-reason="${UR}"] th`)).toBe('Customer Unreachable');

    expect(await figure('courier', 'courier', 'Bluedart', 'messaged')).toBe('4');
    expect(await figure('courier', 'courier', 'Bluedart', 'rescueRate')).toBe('25.0%');
    expect(await figure('courier', 'courier', 'Bluedart', 'notMessagedRate')).toBe('50.0%');
    expect(await figure('courier', 'courier', 'Bluedart', 'notHonoured')).toBe('2');
    expect(await figure('courier', 'courier', 'Delhivery', 'messaged')).toBe('5');
    expect(await figure('courier', 'courier', 'Delhivery', 'rescueRate')).toBe('60.0%');
    expect(await figure('courier', 'courier', 'Delhivery', 'lift')).toBe('+10.0 pts');
    expect(await figure('courier', 'courier', 'Delhivery', 'notHonoured')).toBe('1');

    // The charts are images with a title and a description, and say the same figures.
    expect(await text('#funnel-chart title')).toBe('The funnel, from messaged to rescued');
    expect(await text('#funnel-chart desc')).toBe(
      'Of 9 attempts messaged: 8 sent, 7 delivered, 4 read, 5 replied, 5 actioned, 4 rescued.',
    );
    expect(await page.locator('#funnel-chart').getAttribute('role')).toBe('img');
    expect(await text('#not-honoured-chart desc')).toBe('Bluedart: 2; Delhivery: 1');
    expect(await page.locator('#courier-chart text.figure').allTextContents()).toEqual([
      '25.0%',
      '50.0%',
      '60.0%',
      '50.0%',
    ]);
    await page.screenshot({ path: `${SHOTS}outcomes-desktop.png`, fullPage: true });
    await page
      .locator('section[aria-labelledby="h-courier"]')
      .screenshot({ path: `${SHOTS}outcomes-desktop-courier.png` });
    // At desktop width the widest table fits its card: no scrolling inside it either.
    expect(
      await page.evaluate(
        `(() => { const t = document.getElementById('courier-table'); return t.scrollWidth <= t.parentElement.clientWidth; })()`,
      ),
    ).toBe(true);
  });

  it('shows fewer attempts for the first half of the month', async () => {
    await showPeriod('2026-11-01', '2026-11-15');
    expect(await stage('messaged', 'count')).toBe('5');
    expect(await stage('replied', 'count')).toBe('3');
    expect(await stage('rescued', 'count')).toBe('4');
    expect(await text('#attempts')).toBe('8');
    expect(await text('#rescue-rate')).toBe('80.0%');
    expect(await text('#not-messaged-rate')).toBe('100.0%');
    expect(await text('#lift')).toBe('−20.0 pts');
    expect(await figure('reason', 'reason', AI, 'rescueRate')).toBe('100.0%');
    // The bad number's attempt is outside the comparison: nothing to compare with.
    expect(await figure('reason', 'reason', AI, 'notMessagedRate')).toBe('—');
    expect(await figure('courier', 'courier', 'Bluedart', 'rescueRate')).toBe('50.0%');
    expect(await figure('courier', 'courier', 'Bluedart', 'notHonoured')).toBe('1');
    expect(await figure('courier', 'courier', 'Delhivery', 'rescueRate')).toBe('100.0%');
    expect(await figure('courier', 'courier', 'Delhivery', 'notHonoured')).toBe('0');
  });

  it('says so for a period without failed deliveries, and tells a bad period in the page', async () => {
    await showPeriod('2026-10-01', '2026-10-31');
    expect(await text('#attempts')).toBe('0');
    expect(await text('#rescue-rate')).toBe('—');
    expect(await text('#reason-empty')).toBe('No failed deliveries in this period.');

    await showPeriod('2026-11-30', '2026-11-01');
    await page.getByRole('alert').filter({ hasText: 'From must not be after To' }).waitFor();
    expect(await page.locator('#funnel-table').count()).toBe(0);
  });

  it('links to the settings page and back', async () => {
    await page.getByRole('link', { name: `Settings of account ${ACCOUNT}` }).click();
    await page.waitForURL(`${service.url}/settings/${ACCOUNT}`);
    await page.getByRole('link', { name: 'Outcomes: the rescue rate and its funnel' }).click();
    await page.waitForURL(pageUrl);
  });

  it('labels every control and fits a 375px-wide screen', async () => {
    await page.goto(`${pageUrl}?from=2026-11-01&to=2026-11-30`);
    const unlabelled =
      await page.evaluate(`[...document.querySelectorAll('input, select, textarea, button')]
      .filter((el) => el.type !== 'hidden')
      .filter((el) => !(el.labels && el.labels.length) && !el.getAttribute('aria-label') && !el.textContent.trim())
      .map((el) => el.outerHTML)`);
    expect(unlabelled).toEqual([]);

    await page.setViewportSize({ width: 375, height: 812 });
    await page.reload();
    await page.locator('#funnel-table').waitFor();
    expect(await page.evaluate('document.documentElement.scrollWidth')).toBeLessThanOrEqual(375);
    // The figures are still there, one card per row.
    expect(await figure('courier', 'courier', 'Delhivery', 'notHonoured')).toBe('1');
    await page.screenshot({ path: `${SHOTS}outcomes-375.png`, fullPage: true });
    await page.screenshot({ path: `${SHOTS}outcomes-375-top.png` });
    await page
      .locator('section[aria-labelledby="h-courier"]')
      .screenshot({ path: `${SHOTS}outcomes-375-courier.png` });
    expect(errors).toEqual([]);
  });
});
