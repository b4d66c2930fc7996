/**
 * Hostile input over real HTTP (test/reliability/hostile.ts) against the service in this
 * process: generated requests to every public face (push, webhook, settings API, login form,
 * tracked link) get no 5xx, every refusal says why, and no refused request writes a row. Then
 * the measurement itself, against a fake target that does everything wrong.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

import mysql from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { createApiToken } from '../../src/db/api-tokens.ts';
import { saveAccountSettings } from '../../src/db/settings.ts';
import { startSandbox, type Sandbox } from '../../src/sandbox/server.ts';
import { startService, type Service } from '../../src/service.ts';
import { API_TOKEN, createTestEnv, MYSQL_URL } from '../helpers/env.ts';
import { signShipment } from '../../src/links.ts';
import { runHostileInput, signTrackedLink, type HostileTarget } from '../reliability/hostile.ts';

const ACCOUNT = 379;
const WEBHOOK_TOKEN = 'hostile-test-webhook-token';
const TRACK_LINK_SECRET = 'hostile-test-track-link-secret';
const env = createTestEnv('hostile');
let sandbox: Sandbox;
let service: Service;
let accountToken: string;

beforeAll(async () => {
  sandbox = await startSandbox();
  service = await startService(
    env.config({
      WEBHOOK_TOKEN,
      TRACK_LINK_SECRET,
      // Some requests carry a wrong credential on purpose: no brake here.
      AUTH_MAX_FAILURES: '1000000',
      CREDENTIALS_KEY: Buffer.alloc(32, 9).toString('base64'),
      PORTAL_BASE_URL: 'https://portal.example.test/track',
      GUPSHUP_ENTERPRISE_URL: sandbox.url,
      GUPSHUP_TEMPLATE_LIST_URL: sandbox.url,
      GUPSHUP_SELF_SERVE_URL: sandbox.origin,
      GUPSHUP_TIMEOUT_MS: '2000',
    }),
    ['api'],
  );
  await saveAccountSettings(service.deps.db, ACCOUNT, { enabled: true });
  ({ token: accountToken } = await createApiToken(service.deps.db, ACCOUNT, 'hostile'));
});

afterAll(async () => {
  await service?.close(5_000);
  await sandbox?.close();
  await env.dropDatabase();
});

describe('the service under hostile input', () => {
  it('answers no 5xx, gives every refusal a reason and writes nothing for a refused request', async () => {
    const target: HostileTarget = {
      url: service.url!,
      webhookToken: WEBHOOK_TOKEN,
      apiToken: API_TOKEN,
      accountId: ACCOUNT,
      accountToken,
      databaseUrl: env.env.DATABASE_URL!,
      trackLinkSecret: TRACK_LINK_SECRET,
    };
    const figures = await runHostileInput(target, { runs: 300, seed: 20_240_611, concurrency: 8 });
    expect(figures.samples).toEqual([]);
    expect(figures.requests).toBeGreaterThanOrEqual(300);
    expect(figures.server5xx).toBe(0);
    expect(figures.rejectedWithoutReason).toBe(0);
    expect(figures.rowsWrittenOnRejection).toBe(0);
    expect(figures.transportErrors).toBe(0);
    expect(figures.elapsedMs).toBeGreaterThan(0);
    for (const [endpoint, f] of Object.entries(figures.byEndpoint)) {
      expect(f.requests, endpoint).toBeGreaterThan(0);
      expect(f.rejected4xx, endpoint).toBeGreaterThan(0);
    }
    // Some of the mutated fixtures are still valid: they are accepted.
    expect(figures.byEndpoint['webhook-post']!.ok).toBeGreaterThan(0);
    expect(figures.byEndpoint['pubsub-push']!.ok).toBeGreaterThan(0);

    const ready = await fetch(`${service.url}/readyz`);
    expect(ready.status).toBe(200);
    // The account is as it was.
    const settings = await fetch(`${service.url}/v1/accounts/${ACCOUNT}/whatsapp-settings`, {
      headers: { authorization: `Bearer ${API_TOKEN}` },
    });
    expect(await settings.json()).toMatchObject({ enabled: true, senderConnectionId: 'default' });
  });
});

describe('the measurement', () => {
  it('signs tracked links as the service does', () => {
    for (const secret of [TRACK_LINK_SECRET, undefined]) {
      expect(signTrackedLink(secret, 'S-1/a#b', 1_900_000_000)).toBe(
        signShipment({ TRACK_LINK_SECRET: secret }, 'S-1/a#b', 1_900_000_000),
      );
    }
  });

  let fake: Server;
  let fakeUrl: string;
  const database = `${env.database}_fake`;
  let conn: mysql.Connection;

  beforeAll(async () => {
    conn = await mysql.createConnection({ uri: MYSQL_URL });
    await conn.query(`CREATE DATABASE \`${database}\``);
    await conn.query(`CREATE TABLE \`${database}\`.hits (id INT AUTO_INCREMENT PRIMARY KEY)`);
    // Wrong in every way the figures must see: push 500s, webhook posts write a row and refuse,
    // webhook GETs refuse without a reason, the login form refuses with a bare page.
    fake = createServer((req, res) => {
      const path = (req.url ?? '').split('?')[0]!;
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        void (async () => {
          const json = (status: number, body: unknown) => {
            res.writeHead(status, { 'content-type': 'application/json' });
            res.end(JSON.stringify(body));
          };
          if (path === '/pubsub/push') {
            return json(500, { message: 'internal error' });
          }
          if (path === '/api/_ah/v1/message' && req.method === 'POST') {
            await conn.query(`INSERT INTO \`${database}\`.hits () VALUES ()`);
            return json(400, { message: 'refused, after writing' });
          }
          if (path === '/api/_ah/v1/message') {
            res.writeHead(400);
            return res.end();
          }
          if (path === '/settings/login') {
            res.writeHead(401, { 'content-type': 'text/html' });
            return res.end('<html><body><p>no</p></body></html>');
          }
          if (path.startsWith('/trackShipment/')) {
            return json(404, { message: 'no such link' });
          }
          return json(200, {});
        })();
      });
    });
    await new Promise<void>((resolve) => fake.listen(0, '127.0.0.1', resolve));
    fakeUrl = `http://127.0.0.1:${(fake.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    await new Promise((resolve) => fake?.close(resolve));
    await conn?.query(`DROP DATABASE IF EXISTS \`${database}\``);
    await conn?.end();
  });

  it('counts 5xx, refusals without a reason and rows written by refused requests', async () => {
    const figures = await runHostileInput(
      {
        url: fakeUrl,
        webhookToken: 'fake-webhook-token',
        apiToken: 'fake-api-token',
        accountId: ACCOUNT,
        accountToken: 'wat_fake',
        databaseUrl: `${MYSQL_URL}/${database}`,
      },
      { runs: 200, seed: 7, concurrency: 4 },
    );
    const by = figures.byEndpoint;
    expect(figures.requests).toBe(200);
    expect(by['pubsub-push']!.server5xx).toBe(by['pubsub-push']!.requests);
    expect(figures.server5xx).toBe(by['pubsub-push']!.requests);
    expect(by['webhook-get']!.noReason).toBe(by['webhook-get']!.requests);
    expect(by['settings-login']!.noReason).toBe(by['settings-login']!.requests);
    expect(by['webhook-post']!.noReason).toBe(0);
    expect(by['track-link']!.noReason).toBe(0);
    expect(figures.rejectedWithoutReason).toBe(
      by['webhook-get']!.requests + by['settings-login']!.requests,
    );
    // Every webhook post wrote one row and was refused: each is pinned on replay.
    expect(by['webhook-post']!.requests).toBeGreaterThan(0);
    expect(figures.rowsWrittenOnRejection).toBe(by['webhook-post']!.requests);
    expect(figures.samples.length).toBe(20);
    expect(figures.samples.join('\n')).not.toContain('fake-webhook-token');
    expect(figures.samples.join('\n')).not.toContain('fake-api-token');
  });
});
