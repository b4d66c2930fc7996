/**
 * What the people running the service rely on: Bull Board behind basic auth (and absent without
 * credentials), `/metrics` in valid Prometheus text with counters that follow the seed scenario,
 * and `/readyz` naming Pub/Sub when the subscriber cannot reach it. Real MariaDB, Redis and the
 * Pub/Sub emulator; the Gupshup sandbox and the fake WMS over real HTTP.
 */
import { once } from 'node:events';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { createDeps } from '../../src/deps.ts';
import { buildApp } from '../../src/http/app.ts';
import { WEBHOOK_PATH } from '../../src/http/routes/gupshup-webhook.ts';
import { createLog } from '../../src/log.ts';
import { QUEUE_NAMES } from '../../src/queues/index.ts';
import { startSandbox, type Sandbox } from '../../src/sandbox/server.ts';
import { startService, type Service } from '../../src/service.ts';
import type { SettingsCache } from '../../src/settings-cache.ts';
import { createTestEnv, waitFor } from '../helpers/env.ts';
import { startFakeWms, type FakeWms } from '../helpers/fake-wms.ts';
import { parsePrometheus } from '../helpers/prometheus.ts';
import { runSeedScenario } from '../helpers/seed-scenario.ts';

const env = createTestEnv('ops');
const WEBHOOK_TOKEN = 'ops-test-webhook-token';
const ADMIN = { ADMIN_USER: 'ops', ADMIN_PASSWORD: 'ops-test-admin-password' };
const basic = (user: string, password: string) =>
  `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

let sandbox: Sandbox;
let wms: FakeWms;
let service: Service;

beforeAll(async () => {
  sandbox = await startSandbox({ port: 0, host: '127.0.0.1' });
  wms = await startFakeWms();
  service = await startService(
    env.config({
      ...ADMIN,
      GUPSHUP_ENTERPRISE_URL: sandbox.url,
      WMS_API_URL: wms.url,
      WEBHOOK_TOKEN,
      REPLY_SETTLE_SECONDS: '1',
    }),
    ['api', 'worker', 'subscriber'],
  );
});

afterAll(async () => {
  await service?.close();
  await wms?.close();
  await sandbox?.close();
  await env.dropDatabase();
});

/** The settings cache an app built without the worker role never asks. */
function unusedSettings(): SettingsCache {
  return {
    get: () => Promise.reject(new Error('unused')),
    template: () => Promise.reject(new Error('unused')),
    defaultTemplate: () => Promise.reject(new Error('unused')),
    invalidate: () => Promise.resolve(),
    close: () => Promise.resolve(),
  };
}

/** An app built on its own deps (no listening), with the log lines it wrote. */
async function appWith(overrides: Record<string, string>, subscriber = false) {
  const lines: string[] = [];
  const config = env.config(overrides);
  const deps = createDeps(config, createLog('info', { write: (l: string) => void lines.push(l) }));
  // The producer connection refuses commands until it is up (as /readyz should say).
  await once(deps.redis, 'ready');
  const subscription = subscriber ? deps.pubsub.subscription(config.FDR_SUBSCRIPTION) : null;
  const app = await buildApp(deps, {
    settings: unusedSettings(),
    pushVerifier: null,
    subscription,
  });
  return {
    app,
    lines,
    async close() {
      await app.close();
      await deps.close();
    },
  };
}

describe('Bull Board at /admin/queues', () => {
  it('answers 401 with a Basic challenge without credentials or with wrong ones', async () => {
    for (const authorization of [
      undefined,
      basic('ops', 'wrong'),
      basic('root', ADMIN.ADMIN_PASSWORD),
    ]) {
      for (const path of ['/admin/queues', '/admin/queues/api/queues']) {
        const res = await fetch(`${service.url}${path}`, {
          headers: authorization ? { authorization } : {},
        });
        expect(res.status, `${path} with ${authorization ?? 'nothing'}`).toBe(401);
        expect(res.headers.get('www-authenticate')).toBe('Basic realm="wa-notify"');
      }
    }
  });

  it('shows the board and lists the seven queues to the admin', async () => {
    const authorization = basic(ADMIN.ADMIN_USER, ADMIN.ADMIN_PASSWORD);
    const page = await fetch(`${service.url}/admin/queues`, { headers: { authorization } });
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/text\/html/);

    const res = await fetch(`${service.url}/admin/queues/api/queues`, {
      headers: { authorization },
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { queues: { name: string; readOnlyMode: boolean }[] };
    expect(body.queues.map((q) => q.name).sort()).toEqual([...QUEUE_NAMES].sort());
    expect(body.queues.every((q) => q.readOnlyMode)).toBe(true);
  });

  it('is not mounted without credentials: a warning in production, a note in development', async () => {
    const production = await appWith({
      NODE_ENV: 'production',
      API_TOKEN: 'ops-test-production-api-token',
      WEBHOOK_TOKEN: 'ops-test-production-webhook-token',
      CREDENTIALS_KEY: Buffer.alloc(32, 7).toString('base64'),
      TRACK_LINK_SECRET: 'ops-test-production-track-secret',
    });
    const development = await appWith({ NODE_ENV: 'development' });
    try {
      for (const { app } of [production, development]) {
        const res = await app.inject({ url: '/admin/queues/api/queues' });
        expect(res.statusCode).toBe(404);
      }
      const note = (lines: string[]) =>
        lines
          .map((l) => JSON.parse(l) as { level: number; msg: string })
          .find((l) => l.msg.startsWith('Bull Board is not mounted'));
      expect(note(production.lines)?.level).toBe(40);
      expect(note(development.lines)?.level).toBe(30);
    } finally {
      await production.close();
      await development.close();
    }
  });
});

describe('/metrics', () => {
  async function scrape() {
    const res = await fetch(`${service.url}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    return parsePrometheus(await res.text());
  }

  it('parses as Prometheus text and its counters follow the seed scenario', async () => {
    const before = await scrape();
    expect(before.types.get('whatsapp_sends_total')).toBe('counter');
    expect(before.types.get('whatsapp_queue_jobs')).toBe('gauge');
    expect(before.types.get('whatsapp_job_duration_seconds')).toBe('histogram');
    expect(before.types.get('whatsapp_gupshup_request_duration_seconds')).toBe('histogram');

    await runSeedScenario({ service, sandbox, wms, webhookToken: WEBHOOK_TOKEN });
    const refused = await fetch(`${service.url}${WEBHOOK_PATH}?token=wrong`, { method: 'POST' });
    expect(refused.status).toBe(401);

    // Two templates and two session messages (date choices, confirmation), each reported on
    // three times; the last jobs finish a moment after the scenario's own checks.
    const after = await waitFor(
      async () => {
        const m = await scrape();
        const done = m.value('whatsapp_jobs_total', {
          queue: 'message.send',
          outcome: 'completed',
        });
        const reports =
          m.value('whatsapp_delivery_reports_total') -
          before.value('whatsapp_delivery_reports_total');
        return done - before.value('whatsapp_jobs_total', { queue: 'message.send' }) >= 4 &&
          reports >= 12 &&
          m.value('whatsapp_job_duration_seconds_count', { queue: 'dlr.process' }) -
            before.value('whatsapp_job_duration_seconds_count', { queue: 'dlr.process' }) >=
            12
          ? m
          : null;
      },
      { what: 'the scenario to show in /metrics' },
    );
    const delta = (name: string, labels?: Record<string, string>) =>
      after.value(name, labels) - before.value(name, labels);

    expect(delta('whatsapp_sends_total', { kind: 'template', result: 'sent' })).toBe(2);
    expect(delta('whatsapp_sends_total', { kind: 'session', result: 'sent' })).toBe(2);
    // Reports are processed concurrently: a READ handled before its SENT leaves the SENT with
    // nothing to change (status never moves back). Every message ends READ, every report is
    // counted once, and each applied report counts one status.
    expect(delta('whatsapp_delivery_statuses_total', { status: 'READ' })).toBe(4);
    expect(delta('whatsapp_delivery_reports_total')).toBe(12);
    expect(delta('whatsapp_delivery_reports_total', { outcome: 'applied' })).toBe(
      delta('whatsapp_delivery_statuses_total'),
    );
    expect(delta('whatsapp_delivery_reports_total', { outcome: 'ignored' })).toBe(0);
    expect(
      delta('whatsapp_webhook_requests_total', { outcome: 'accepted' }),
    ).toBeGreaterThanOrEqual(14);
    expect(delta('whatsapp_webhook_requests_total', { outcome: 'unauthorized' })).toBe(1);
    expect(delta('whatsapp_replies_total')).toBeGreaterThanOrEqual(2);
    expect(delta('whatsapp_jobs_total', { queue: 'fdr.validate', outcome: 'completed' })).toBe(2);
    expect(delta('whatsapp_job_duration_seconds_count', { queue: 'dlr.process' })).toBe(12);
    expect(
      delta('whatsapp_gupshup_request_duration_seconds_count', {
        operation: 'send_template',
        result: 'ok',
      }),
    ).toBe(2);
    expect(
      delta('whatsapp_wms_request_duration_seconds_count', {
        operation: 'notify_ndr',
        result: 'ok',
      }),
    ).toBe(1);
    expect(delta('whatsapp_settings_cache_requests_total')).toBeGreaterThanOrEqual(2);

    // Queue depth is read from Redis at scrape time, for every queue and state.
    for (const queue of QUEUE_NAMES) {
      expect(
        after.samples.filter((s) => s.name === 'whatsapp_queue_jobs' && s.labels.queue === queue),
      ).toHaveLength(6);
      expect(after.value('whatsapp_queue_paused', { queue })).toBe(0);
    }
    expect(
      after.value('whatsapp_queue_jobs', { queue: 'message.send', state: 'completed' }),
    ).toBeGreaterThanOrEqual(4);
  });
});

describe('/readyz', () => {
  it('checks Redis, MySQL and, with the subscriber running, Pub/Sub', async () => {
    const res = await fetch(`${service.url}/readyz`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({
      status: 'ready',
      checks: { redis: 'ok', mysql: 'ok', pubsub: 'ok' },
    });
  });

  it('answers 503 naming pubsub when the subscriber cannot reach Pub/Sub', async () => {
    const broken = await appWith({ PUBSUB_EMULATOR_HOST: '127.0.0.1:1' }, true);
    try {
      const res = await broken.app.inject({ url: '/readyz' });
      expect(res.statusCode).toBe(503);
      const body = res.json<{ status: string; checks: Record<string, string> }>();
      expect(body.status).toBe('unavailable');
      expect(body.checks).toMatchObject({ redis: 'ok', mysql: 'ok' });
      // Public: which dependency, not its error (that goes to the log).
      expect(body.checks.pubsub).toBe('down');
    } finally {
      await broken.close();
    }
  });
});
