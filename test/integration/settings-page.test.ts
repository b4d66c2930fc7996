/**
 * The settings page end to end in a real browser: Playwright (playwright-core) drives Debian's
 * Chromium (/usr/bin/chromium) against a real service (api + worker roles) whose Gupshup template
 * lists come from the in-process sandbox (the seed's fixture plus one PENDING template).
 *
 * Covers: anonymous visitors refused (redirect for a browser, 401 otherwise), the bearer token
 * accepted; logging in through the form (a session cookie that is HttpOnly, SameSite=Strict and
 * not the token); switching WhatsApp on, picking the client's own app as sender, a template that
 * fails verification (PENDING) and one that passes; a save refused with the API's problems shown
 * inline; a save that passes; a reload showing the saved state; the conversation policy (quiet
 * hours, the no-reply rule, keywords, reminder templates) edited, refused and saved; recent activity, escaped; every
 * control labelled; a 375px-wide screen without horizontal scrolling; CSRF; logging out.
 *
 * Screenshots are kept in test-results/settings-page/ (gitignored; CI keeps it as an artifact).
 */
import { existsSync, mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { insertActivity } from '../../src/db/activity.ts';
import { startSandbox, type Sandbox } from '../../src/sandbox/server.ts';
import { startService, type Service } from '../../src/service.ts';
import { API_TOKEN, createTestEnv } from '../helpers/env.ts';
import { readFixture } from '../helpers/fixtures.ts';

const ACCOUNT = 601;
const OTHER_ACCOUNT = 602;
const REJECTED_ID = '992b7ece-3217-4134-a161-ebd6ffd91cd9';
const PENDING_ID = '5e0c44b1-8d3f-4c1e-a0a2-7f7d1c2b9e10';
/** The fixture body has {{1}}..{{6}}: name, store, order id, item count, quantity, title. */
const MAPPING = {
  '1': 'customerFirstName',
  '2': 'storeName',
  '3': 'uniqueOrderItemId',
  '4': 'noOfItemsInTheOrder',
  '5': 'quantityOfTheItem',
  '6': 'productTitle',
};
const CLIENT_APP = {
  appName: 'berrylush',
  userid: '2000555002',
  password: 'settings-page-test-pw',
  waNumber: '919800000006',
  apiKey: 'P6kHYP3DQ4SPczX2jIMciKnN',
};
const STORE_NAME = 'Berrylush <Fashion> & Co';
const ACTIVITY_TITLE = 'Delivery attempt failed <img src=x onerror=alert(1)>';
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

const env = createTestEnv('settingspage');
let sandbox: Sandbox;
let service: Service;
let browser: Browser;
let connectionId: string;
let pageUrl: string;

async function api(method: string, path: string, body?: unknown) {
  const res = await fetch(`${service.url}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${API_TOKEN}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

/** Fails the test on any script error or console error (a CSP violation shows up as one). */
function watchErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('pageerror', (err) => errors.push(err.message));
  page.on('console', (message) => {
    // Chromium logs every 4xx answer to fetch; the refusals tested here are expected ones.
    if (message.type() === 'error' && !message.text().startsWith('Failed to load resource')) {
      errors.push(message.text());
    }
  });
  return errors;
}

beforeAll(async () => {
  mkdirSync(SHOTS, { recursive: true });
  const fixture = readFixture<{ templates: Record<string, unknown>[] }>(
    'gupshup-template-list.json',
  );
  const rejected = fixture.templates.find((t) => t.id === REJECTED_ID)!;
  const pending = {
    ...rejected,
    id: PENDING_ID,
    externalId: '700000000000001',
    elementName: 'fdr_rejected_by_the_customer_v2',
    status: 'PENDING',
  };
  sandbox = await startSandbox({ port: 0, templates: [...fixture.templates, pending] });
  service = await startService(
    env.config({
      GUPSHUP_ENTERPRISE_URL: sandbox.url,
      GUPSHUP_TEMPLATE_LIST_URL: sandbox.url,
      GUPSHUP_SELF_SERVE_URL: sandbox.origin,
      CREDENTIALS_KEY: Buffer.alloc(32, 9).toString('base64'),
    }),
    ['api', 'worker'],
  );
  pageUrl = `${service.url}/settings/${ACCOUNT}`;
  const created = await api('POST', `/v1/accounts/${ACCOUNT}/whatsapp-connections`, CLIENT_APP);
  expect(created.status).toBe(201);
  connectionId = created.body.id as string;

  const { db } = service.deps;
  const at = (minute: number) => new Date(Date.UTC(2026, 0, 5, 10, minute));
  await insertActivity(db, {
    key: 'settings-page-1',
    shipmentId: 'SHIP-601-A',
    accountId: ACCOUNT,
    kind: 'fdr',
    title: ACTIVITY_TITLE,
    details: {},
    occurredAt: at(1),
  });
  await insertActivity(db, {
    key: 'settings-page-2',
    shipmentId: 'SHIP-601-A',
    accountId: ACCOUNT,
    kind: 'notified',
    title: 'WhatsApp message sent',
    details: {},
    occurredAt: at(2),
  });
  await insertActivity(db, {
    key: 'settings-page-other',
    shipmentId: 'SHIP-602-A',
    accountId: OTHER_ACCOUNT,
    kind: 'notified',
    title: 'Another account’s message',
    details: {},
    occurredAt: at(3),
  });

  if (!existsSync(CHROMIUM)) {
    // Playwright must not download a browser of its own; Debian's is the one this test drives.
    throw new Error(`${CHROMIUM} is missing: apt-get install -y --no-install-recommends chromium`);
  }
  browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
});

afterAll(async () => {
  await browser?.close();
  await service?.close();
  await sandbox?.close();
  await env.dropDatabase();
});

describe('access to the settings page', () => {
  it('redirects an anonymous browser to the login form and refuses anything else with 401', async () => {
    const browserLike = await fetch(pageUrl, {
      headers: { accept: 'text/html' },
      redirect: 'manual',
    });
    expect(browserLike.status).toBe(303);
    expect(browserLike.headers.get('location')).toBe(
      `/settings/login?next=${encodeURIComponent(`/settings/${ACCOUNT}`)}`,
    );

    expect((await fetch(pageUrl)).status).toBe(401);
    const wrongToken = await fetch(pageUrl, { headers: { authorization: 'Bearer nope' } });
    expect(wrongToken.status).toBe(401);
    const forged = await fetch(pageUrl, {
      headers: {
        cookie: `wa_settings_session=s1.9999999999999.${'a'.repeat(22)}.${'b'.repeat(43)}`,
      },
    });
    expect(forged.status).toBe(401);
    const save = await fetch(`${pageUrl}/save`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{}',
    });
    expect(save.status).toBe(401);
  });

  it('serves the page to the bearer token', async () => {
    const res = await fetch(pageUrl, { headers: { authorization: `Bearer ${API_TOKEN}` } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(res.headers.get('content-security-policy')).toContain("script-src 'self'");
    const page = await res.text();
    expect(page).toContain(`WhatsApp settings · account ${ACCOUNT}`);
    // Escaped, never markup.
    expect(page).toContain('Delivery attempt failed &lt;img src=x onerror=alert(1)&gt;');
    expect(page).not.toContain('<img');
  });

  it('answers bad input with 4xx and a reason, never 500', async () => {
    const bearer = { authorization: `Bearer ${API_TOKEN}` };
    const picked = await fetch(`${service.url}/settings?accountId=${ACCOUNT}`, {
      headers: bearer,
      redirect: 'manual',
    });
    expect(picked.status).toBe(303);
    expect(picked.headers.get('location')).toBe(`/settings/${ACCOUNT}`);
    const badPick = await fetch(`${service.url}/settings?accountId=abc`, { headers: bearer });
    expect(badPick.status).toBe(400);
    expect(await badPick.text()).toContain('accountId must be a positive integer');
    expect((await fetch(`${service.url}/settings/0`, { headers: bearer })).status).toBe(400);

    const badSave = await fetch(`${pageUrl}/save`, {
      method: 'POST',
      headers: { ...bearer, 'content-type': 'application/json' },
      body: JSON.stringify({ enabled: 'yes' }),
    });
    expect(badSave.status).toBe(400);
    expect(((await badSave.json()) as { message: string }).message).toContain(
      'enabled: enabled must be true or false',
    );
    const badVerify = await fetch(`${pageUrl}/verify`, {
      method: 'POST',
      headers: { ...bearer, 'content-type': 'application/json' },
      body: JSON.stringify({ templateId: REJECTED_ID, variables: MAPPING }),
    });
    expect(badVerify.status).toBe(400);
    expect(await badVerify.json()).toMatchObject({
      ok: false,
      message: expect.stringContaining('reason'),
    });
  });

  it('refuses a wrong password on the login form', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(pageUrl);
    await page.waitForURL(/\/settings\/login\?next=/);
    await page.getByLabel('API token').fill('not-the-token');
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByRole('alert').filter({ hasText: 'That is not a valid token.' }).waitFor();
    expect(await context.cookies()).not.toContainEqual(
      expect.objectContaining({ name: 'wa_settings_session' }),
    );
    await context.close();
  });
});

describe('the settings page in a browser', () => {
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

  const reason = () => page.locator('#reason-rejected_by_customer');
  const master = () =>
    page.getByRole('switch', { name: 'WhatsApp messages for failed deliveries' });
  const reasonSwitch = (label: string) => page.getByRole('checkbox', { name: label, exact: true });
  const sender = () => page.getByLabel('WhatsApp sender (Gupshup app)');

  it('logs in through the form with a signed, HttpOnly, SameSite=Strict session cookie', async () => {
    await page.goto(pageUrl);
    await page.waitForURL(/\/settings\/login/);
    await page.screenshot({ path: `${SHOTS}login.png`, fullPage: true });
    await page.getByLabel('API token').fill(API_TOKEN);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.waitForURL(pageUrl);

    const session = (await context.cookies()).find((c) => c.name === 'wa_settings_session');
    expect(session).toMatchObject({ httpOnly: true, sameSite: 'Strict', path: '/settings' });
    expect(session!.value).not.toContain(API_TOKEN);
    expect(session!.expires).toBeGreaterThan(Date.now() / 1000);
  });

  it('starts off, with the default app preselected', async () => {
    expect(await master().isChecked()).toBe(false);
    expect(await sender().inputValue()).toBe('default');
    expect(await reasonSwitch('Rejected by the Customer').isChecked()).toBe(false);
    await page.getByText(ACTIVITY_TITLE, { exact: true }).waitFor();
    expect(await page.getByText('Another account’s message').count()).toBe(0);
  });

  it('verifies a template on the chosen sender: one fails with the reason, one passes', async () => {
    await sender().selectOption(connectionId);
    await master().check();
    // Switching on with no reason ticked ticks every reason (the API's `enabled: true`).
    await expect.poll(() => reasonSwitch('Address Issue').isChecked()).toBe(true);
    expect(await reasonSwitch('Rejected by the Customer').isChecked()).toBe(true);

    await reason().locator('summary').click();
    await reason().getByLabel('Template id').fill(PENDING_ID);
    await reason().getByLabel('Placeholders in the template').fill('6');
    for (const [n, variable] of Object.entries(MAPPING)) {
      await reason().getByLabel(`Placeholder {{${n}}}`, { exact: true }).selectOption(variable);
    }
    // Keyboard: focus the button and press Enter.
    await reason()
      .getByRole('button', { name: /^Verify/ })
      .focus();
    await page.keyboard.press('Enter');
    const result = reason().locator('.result');
    await result.filter({ hasText: 'Not verified' }).waitFor();
    expect(await result.textContent()).toBe(
      `Not verified: template ${PENDING_ID} is PENDING; only APPROVED templates can be sent`,
    );
    await page.screenshot({ path: `${SHOTS}verify-failed.png`, fullPage: true });

    await reason().getByLabel('Template id').fill(REJECTED_ID);
    await reason()
      .getByRole('button', { name: /^Verify/ })
      .click();
    await result.filter({ hasText: 'Verified:' }).waitFor();
    expect(await result.textContent()).toBe(
      'Verified: fdr_rejected_by_the_customer · APPROVED · UTILITY · on berrylush',
    );
    await page.screenshot({ path: `${SHOTS}verify-passed.png`, fullPage: true });
  });

  it("shows the API's refusal inline when a save cannot be accepted, never a 500", async () => {
    await page.getByLabel('Store name').fill(STORE_NAME);
    await page.getByLabel('Support contact number').fill('+91 98000 00006');
    await page.getByLabel('Support email address').fill('care@berrylush.example');
    // Every reason is on, but only one has a template of the client's app.
    await page.getByRole('button', { name: 'Save settings' }).click();
    const summary = page.locator('#errors');
    await summary.waitFor();
    const problems = await summary.locator('li').allTextContents();
    expect(problems).toHaveLength(8);
    expect(problems).toContain(
      `Address Issue: the platform default template can only be sent through the default app, not through connection ${connectionId}; verify a template of that connection for this reason`,
    );
    expect(await page.locator('#errors-title').textContent()).toBe(
      'The templates of Rejected by the Customer were verified and saved; nothing else was saved:',
    );
    // The summary takes focus, so keyboard and screen-reader users land on it.
    expect(await page.evaluate('document.activeElement && document.activeElement.id')).toBe(
      'errors',
    );
    await page.screenshot({ path: `${SHOTS}save-refused.png`, fullPage: true });
    expect((await api('GET', `/v1/accounts/${ACCOUNT}/whatsapp-settings`)).body).toMatchObject({
      enabled: false,
      senderConnectionId: 'default',
      storeName: null,
    });
  });

  it('saves, and a reload shows the saved state', async () => {
    for (const label of await page.locator('.checks label').allTextContents()) {
      if (label !== 'Rejected by the Customer') {
        await reasonSwitch(label).uncheck();
      }
    }
    await page.getByRole('button', { name: 'Save settings' }).click();
    await page.getByRole('status').filter({ hasText: 'Settings saved.' }).waitFor();
    expect(await page.locator('#errors').isHidden()).toBe(true);

    const saved = await api('GET', `/v1/accounts/${ACCOUNT}/whatsapp-settings`);
    expect(saved.body).toMatchObject({
      enabled: true,
      senderConnectionId: connectionId,
      storeName: STORE_NAME,
      supportContactNumber: '+91 98000 00006',
      supportEmailAddress: 'care@berrylush.example',
      reasons: { rejected_by_customer: true, address_issue: false, oda: false },
      templates: { rejected_by_customer: REJECTED_ID, address_issue: null },
    });

    await page.reload();
    expect(await master().isChecked()).toBe(true);
    expect(await reasonSwitch('Rejected by the Customer').isChecked()).toBe(true);
    expect(await reasonSwitch('Address Issue').isChecked()).toBe(false);
    expect(await sender().inputValue()).toBe(connectionId);
    expect(await reason().getByLabel('Template id').inputValue()).toBe(REJECTED_ID);
    for (const [n, variable] of Object.entries(MAPPING)) {
      expect(await reason().getByLabel(`Placeholder {{${n}}}`, { exact: true }).inputValue()).toBe(
        variable,
      );
    }
    expect(await reason().textContent()).toContain(
      `Saved: fdr_rejected_by_the_customer (APPROVED), verified on connection ${connectionId}.`,
    );
    expect(await page.getByLabel('Store name').inputValue()).toBe(STORE_NAME);
    expect(await page.getByLabel('Support email address').inputValue()).toBe(
      'care@berrylush.example',
    );
    await page.screenshot({ path: `${SHOTS}saved.png`, fullPage: true });
  });

  it('edits the conversation policy: quiet hours, the no-reply rule, keywords, reminder templates', async () => {
    const policyPart = () => page.locator('section[aria-labelledby="h-policy"]');
    // What the account follows until it chooses: the platform's defaults.
    expect(await page.getByLabel('Platform default (none)').isChecked()).toBe(true);
    expect(await page.getByLabel('From', { exact: true }).isDisabled()).toBe(true);
    expect(await page.getByLabel('Hours without a reply').inputValue()).toBe('12');
    expect(await page.getByLabel('Then', { exact: true }).inputValue()).toBe('remind');
    expect(await page.getByLabel('Opt-out keywords').inputValue()).toContain('STOP\nUNSUBSCRIBE');
    expect(await page.getByLabel('Opt-in keywords').inputValue()).toBe('START');

    await page.getByLabel('These hours:').check();
    await page.getByLabel('From', { exact: true }).fill('22:00');
    await page.getByLabel('Until', { exact: true }).fill('08:00');
    await page.getByLabel('Time zone', { exact: true }).fill('Mars/Olympus');
    await page.getByLabel('Hours without a reply').fill('6');
    await page.getByLabel('Then', { exact: true }).selectOption('reattempt');
    const optOut = page.getByLabel('Opt-out keywords');
    await optOut.fill(`${await optOut.inputValue()}\nBAS KARO`);
    await policyPart().getByText('Reminder templates', { exact: true }).click();
    await policyPart()
      .getByRole('textbox', { name: 'Rejected by the Customer', exact: true })
      .fill(REJECTED_ID);

    // A zone that does not exist: refused before anything is saved, named as the page names it.
    await page.getByRole('button', { name: 'Save settings' }).click();
    await page.locator('#errors').waitFor();
    expect(await page.locator('#errors li').allTextContents()).toEqual([
      'Quiet hours, time zone: must be an IANA time zone, e.g. Asia/Kolkata',
    ]);
    expect(await page.locator('#errors-title').textContent()).toBe('Nothing was saved:');
    expect((await api('GET', `/v1/accounts/${ACCOUNT}/whatsapp-settings`)).body.policy).toEqual({});

    await page.getByLabel('Time zone', { exact: true }).fill('Europe/London');
    await page.getByRole('button', { name: 'Save settings' }).click();
    await page.getByRole('status').filter({ hasText: 'Settings saved.' }).waitFor();
    const saved = await api('GET', `/v1/accounts/${ACCOUNT}/whatsapp-settings`);
    expect(saved.body.policy).toEqual({
      quietHours: { start: '22:00', end: '08:00', timeZone: 'Europe/London' },
      noReply: { afterHours: 6, then: 'reattempt' },
      optOutKeywords: ['STOP', 'UNSUBSCRIBE', 'STOP ALL', 'OPT OUT', 'बंद', 'band karo', 'BAS KARO'],
      reminderTemplates: { rejected_by_customer: REJECTED_ID },
    });
    // Untouched keys keep following the platform default.
    expect(saved.body.policyInEffect).toMatchObject({ optInKeywords: ['START'] });

    await page.reload();
    expect(await page.getByLabel('These hours:').isChecked()).toBe(true);
    expect(await page.getByLabel('From', { exact: true }).inputValue()).toBe('22:00');
    expect(await page.getByLabel('Time zone', { exact: true }).inputValue()).toBe('Europe/London');
    expect(await page.getByLabel('Hours without a reply').inputValue()).toBe('6');
    expect(await page.getByLabel('Then', { exact: true }).inputValue()).toBe('reattempt');
    expect(await page.getByLabel('Opt-out keywords').inputValue()).toContain('BAS KARO');
    expect(
      await policyPart()
        .getByRole('textbox', { name: 'Rejected by the Customer', exact: true })
        .inputValue(),
    ).toBe(REJECTED_ID);
    await policyPart().screenshot({ path: `${SHOTS}policy.png` });

    // None, then back to the platform default.
    await page.getByLabel('None: send at any hour').check();
    await page.getByRole('button', { name: 'Save settings' }).click();
    await page.getByRole('status').filter({ hasText: 'Settings saved.' }).waitFor();
    expect(
      (await api('GET', `/v1/accounts/${ACCOUNT}/whatsapp-settings`)).body.policy as object,
    ).toMatchObject({ quietHours: null, noReply: { afterHours: 6, then: 'reattempt' } });
    await page.getByLabel('Platform default (none)').check();
    await page.getByRole('button', { name: 'Save settings' }).click();
    await expect
      .poll(async () => (await api('GET', `/v1/accounts/${ACCOUNT}/whatsapp-settings`)).body.policy)
      .not.toHaveProperty('quietHours');
  });

  it('labels every control and fits a 375px-wide screen', async () => {
    const unlabelled =
      await page.evaluate(`[...document.querySelectorAll('input, select, textarea, button')]
      .filter((el) => el.type !== 'hidden')
      .filter((el) => !(el.labels && el.labels.length) && !el.getAttribute('aria-label') && !el.textContent.trim())
      .map((el) => el.outerHTML)`);
    expect(unlabelled).toEqual([]);

    await page.setViewportSize({ width: 375, height: 812 });
    await page.reload();
    await master().waitFor();
    expect(await page.evaluate('document.documentElement.scrollWidth')).toBeLessThanOrEqual(375);
    await page.screenshot({ path: `${SHOTS}mobile-375.png`, fullPage: true });
    await page.screenshot({ path: `${SHOTS}mobile-375-top.png` });
  });

  it('refuses a state change made with the cookie but without the session’s CSRF token', async () => {
    const cookies = (await context.cookies())
      .filter((c) => c.name === 'wa_settings_session')
      .map((c) => `${c.name}=${c.value}`)
      .join('; ');
    for (const token of [undefined, 'forged-token']) {
      const res = await fetch(`${pageUrl}/save`, {
        method: 'POST',
        headers: {
          cookie: cookies,
          'content-type': 'application/json',
          ...(token ? { 'x-csrf-token': token } : {}),
        },
        body: JSON.stringify({ enabled: false }),
      });
      expect(res.status).toBe(403);
    }
    expect((await api('GET', `/v1/accounts/${ACCOUNT}/whatsapp-settings`)).body.enabled).toBe(true);
  });

  it('logs out, after which the page asks for the login again', async () => {
    await page.getByRole('button', { name: 'Log out' }).click();
    await page.waitForURL(/\/settings\/login$/);
    await page.goto(pageUrl);
    await page.waitForURL(/\/settings\/login\?next=/);
    expect(errors).toEqual([]);
  });
});
