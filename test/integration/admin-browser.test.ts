/**
 * Bull Board in a real browser: Debian's Chromium driven by playwright-core opens
 * `/admin/queues` with the admin's basic-auth credentials and shows the seven queues (no-reply.check and shipment.status among them); without
 * them the browser is challenged (401) and shows nothing. A screenshot is kept under test-results/ (gitignored) for
 * whoever reads a failed run. Skipped only where Chromium is not installed (.ci/run installs it).
 */
import { existsSync, mkdirSync } from 'node:fs';

import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { QUEUE_NAMES } from '../../src/queues/index.ts';
import { startService, type Service } from '../../src/service.ts';
import { createTestEnv } from '../helpers/env.ts';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const RESULTS = new URL('../../test-results/', import.meta.url);
const ADMIN = { username: 'ops', password: 'browser-test-admin-password' };

const env = createTestEnv('adminbrowser');
let service: Service;
let browser: Browser;

describe('Bull Board in Chromium', () => {
  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) {
      // Playwright must not download a browser of its own; Debian's is the one tested.
      throw new Error(
        `${CHROMIUM} is missing: apt-get install -y --no-install-recommends chromium`,
      );
    }
    service = await startService(
      env.config({ ADMIN_USER: ADMIN.username, ADMIN_PASSWORD: ADMIN.password }),
      ['api'],
    );
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    });
  });

  afterAll(async () => {
    await browser?.close();
    await service?.close();
    await env.dropDatabase();
  });

  it('shows the seven queues (no-reply.check and shipment.status among them) to the admin', async () => {
    const context = await browser.newContext({ httpCredentials: ADMIN });
    try {
      const page = await context.newPage();
      const response = await page.goto(`${service.url}/admin/queues`);
      expect(response?.status()).toBe(200);
      expect(QUEUE_NAMES).toContain('no-reply.check');
      expect(QUEUE_NAMES).toContain('shipment.status');
      for (const name of QUEUE_NAMES) {
        await page.getByText(name, { exact: true }).first().waitFor({ state: 'visible' });
      }
      // The overview loads after the menu; wait for it so the screenshot shows the counts.
      await page
        .getByText(/Loading/)
        .first()
        .waitFor({ state: 'hidden' });
      mkdirSync(RESULTS, { recursive: true });
      await page.screenshot({ path: new URL('bull-board.png', RESULTS).pathname, fullPage: true });
    } finally {
      await context.close();
    }
  });

  it('is challenged without credentials and shows nothing', async () => {
    const context = await browser.newContext();
    try {
      const page = await context.newPage();
      // Headless Chromium cannot show the login prompt the 401 asks for, so it fails the
      // navigation instead.
      await expect(page.goto(`${service.url}/admin/queues`)).rejects.toThrow(
        /ERR_INVALID_AUTH_CREDENTIALS/,
      );
      expect(await page.getByText('message.send').count()).toBe(0);
    } finally {
      await context.close();
    }
  });
});
