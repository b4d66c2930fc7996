/**
 * The OpenAPI document (issue 4, point 6): `/docs` serves it and it lists every route Fastify
 * registered; its request schemas are the valibot schemas the handlers validate with; and
 * documenting them changed no validation (valibot still answers, ajv never does).
 *
 * The service runs with ADMIN_USER/ADMIN_PASSWORD so Bull Board is mounted, and outside
 * production without PUBSUB_PUSH_AUDIENCE so `/pubsub/push` is too: every route there is.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { FDR_REASONS } from '../../src/fdr/reasons.ts';
import { registeredRoutes } from '../../src/http/openapi.ts';
import { SettingsBody } from '../../src/http/routes/settings.ts';
import { startService, type Service } from '../../src/service.ts';
import { API_TOKEN, createTestEnv } from '../helpers/env.ts';

const ADMIN_PASSWORD = 'openapi-admin-password';
const WEBHOOK_TOKEN = 'openapi-webhook-token';
const SETTINGS_PATH = '/v1/accounts/{accountId}/whatsapp-settings';

interface Operation {
  tags?: string[];
  summary?: string;
  security?: Record<string, string[]>[];
  responses?: Record<string, { description: string }>;
  requestBody?: { content: Record<string, { schema: JsonObject }> };
  parameters?: { in: string; name: string }[];
}
interface JsonObject {
  properties?: Record<string, JsonObject>;
  items?: JsonObject;
  description?: string;
  nullable?: boolean;
  enum?: string[];
  minimum?: number;
  maximum?: number;
}
interface OpenApiDocument {
  openapi: string;
  paths: Record<string, Record<string, Operation>>;
  components: { securitySchemes: Record<string, unknown> };
}

const env = createTestEnv('openapi');
let service: Service;
let documentText: string;
let doc: OpenApiDocument;

function api(method: string, path: string, body?: unknown) {
  return fetch(`${service.url}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${API_TOKEN}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
}

/** `/v1/accounts/:accountId/x` as OpenAPI writes it: `/v1/accounts/{accountId}/x`. */
const openApiPath = (url: string) => url.replace(/:(\w+)/g, '{$1}');

beforeAll(async () => {
  service = await startService(env.config({ ADMIN_USER: 'ops', ADMIN_PASSWORD, WEBHOOK_TOKEN }), [
    'api',
  ]);
  const res = await fetch(`${service.url}/docs/json`);
  expect(res.status).toBe(200);
  documentText = await res.text();
  doc = JSON.parse(documentText) as OpenApiDocument;
});

afterAll(async () => {
  await service?.close();
  await env.dropDatabase();
});

describe('the OpenAPI document', () => {
  it('is served at /docs (a page) and /docs/json (OpenAPI 3), without credentials', async () => {
    const page = await fetch(`${service.url}/docs`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    await page.body?.cancel();
    expect(doc.openapi).toMatch(/^3\./);
    expect(Object.keys(doc.components.securitySchemes).sort()).toEqual([
      'adminBasic',
      'apiToken',
      'googleOidc',
      'settingsSession',
      'webhookBearer',
      'webhookToken',
      'webhookTokenHeader',
    ]);
  });

  it('lists every route Fastify registered', () => {
    const all = registeredRoutes(service.app!);
    const excluded = (route: { method: string; url: string }) =>
      // Fastify adds a HEAD twin to every GET; the document describes the GET.
      route.method === 'HEAD' ||
      // Bull Board's pages, JSON API and assets, which it hides itself; /admin/queues is listed.
      route.url.startsWith('/admin/queues/') ||
      // The documentation's own page, assets and document.
      route.url === '/docs' ||
      route.url.startsWith('/docs/') ||
      // The settings page's stylesheet and script: files, not API.
      route.url.startsWith('/settings/assets/');
    const expected = all.filter((r) => !excluded(r));
    // The exclusions are real, and leave the routes this test must see.
    expect(all.some((r) => r.url.startsWith('/admin/queues/api/'))).toBe(true);
    expect(expected.map((r) => `${r.method} ${r.url}`)).toEqual(
      expect.arrayContaining([
        'GET /admin/queues',
        'POST /pubsub/push',
        'GET /api/_ah/v1/message',
        'POST /api/_ah/v1/message',
        'GET /settings/:accountId',
        'PUT /v1/accounts/:accountId/whatsapp-settings',
      ]),
    );

    const missing = expected.filter(
      (r) => !doc.paths[openApiPath(r.url)]?.[r.method.toLowerCase()],
    );
    expect(missing).toEqual([]);
    // Nothing else: every documented operation is a registered route.
    const documented = Object.entries(doc.paths).flatMap(([path, operations]) =>
      Object.keys(operations).map((method) => `${method.toUpperCase()} ${path}`),
    );
    expect(documented.sort()).toEqual(
      [...new Set(expected.map((r) => `${r.method} ${openApiPath(r.url)}`))].sort(),
    );
  });

  it('describes each operation: tags, summary, security and responses', () => {
    const schemes = Object.keys(doc.components.securitySchemes);
    for (const [path, operations] of Object.entries(doc.paths)) {
      for (const [method, operation] of Object.entries(operations)) {
        const where = `${method.toUpperCase()} ${path}`;
        expect(operation.tags?.length, where).toBeGreaterThan(0);
        expect(operation.summary, where).toBeTruthy();
        expect(operation.security, where).toBeDefined();
        for (const requirement of operation.security ?? []) {
          expect(schemes, where).toEqual(expect.arrayContaining(Object.keys(requirement)));
        }
        const responses = Object.values(operation.responses ?? {});
        expect(responses.length, where).toBeGreaterThan(0);
        expect(
          responses.every((r) => r.description && r.description !== 'Default Response'),
          where,
        ).toBe(true);
      }
    }
    expect(doc.paths[SETTINGS_PATH]?.put?.security).toEqual([{ apiToken: [] }]);
    expect(doc.paths['/admin/queues']?.get?.security).toEqual([{ adminBasic: [] }]);
    expect(doc.paths['/pubsub/push']?.post?.security).toEqual([{ googleOidc: [] }]);
    expect(doc.paths['/api/_ah/v1/message']?.post?.security).toEqual([
      { webhookToken: [] },
      { webhookTokenHeader: [] },
      { webhookBearer: [] },
    ]);
    expect(doc.paths['/healthz']?.get?.security).toEqual([]);
  });

  it('shows the settings PUT body as the valibot schema that validates it', () => {
    const operation = doc.paths[SETTINGS_PATH]?.put;
    const body = operation?.requestBody?.content['application/json']?.schema;
    expect(Object.keys(body?.properties ?? {}).sort()).toEqual(
      Object.keys(SettingsBody.entries).sort(),
    );
    expect(Object.keys(body?.properties?.reasons?.properties ?? {}).sort()).toEqual(
      [...FDR_REASONS].sort(),
    );
    expect(operation?.parameters).toEqual([
      expect.objectContaining({ in: 'path', name: 'accountId' }),
    ]);
  });

  it('describes the conversation policy the settings PUT takes, and how to reset a key', () => {
    const operation = doc.paths[SETTINGS_PATH]?.put;
    const body = operation?.requestBody?.content['application/json']?.schema;
    const policy = body?.properties?.policy;
    expect(policy?.description).toContain('quiet hours, the no-reply rule');
    expect(Object.keys(policy?.properties ?? {}).sort()).toEqual(
      [
        'apologyOnNotHonoured',
        'noReply',
        'optInKeywords',
        'optOutKeywords',
        'optOutTemplateId',
        'quietHours',
        'reminderTemplates',
      ].sort(),
    );
    const quiet = policy?.properties?.quietHours;
    expect(quiet?.nullable).toBe(true);
    expect(Object.keys(quiet?.properties ?? {})).toEqual(['start', 'end', 'timeZone']);
    expect(quiet?.description).toContain('DEFAULT_QUIET_HOURS');
    const noReply = policy?.properties?.noReply;
    expect(noReply?.properties?.afterHours).toMatchObject({ minimum: 1, maximum: 72 });
    expect(noReply?.properties?.then?.enum).toEqual(['remind', 'reattempt', 'nothing']);
    expect(Object.keys(policy?.properties?.reminderTemplates?.properties ?? {}).sort()).toEqual(
      [...FDR_REASONS].sort(),
    );
    expect(body?.properties?.policyDefaults?.items?.enum).toContain('quietHours');
    expect(operation?.responses?.['200']?.description).toContain('policyInEffect');
  });

  it('holds no secret', () => {
    for (const secret of [
      API_TOKEN,
      ADMIN_PASSWORD,
      WEBHOOK_TOKEN,
      env.env.GUPSHUP_DEFAULT_PASSWORD!,
    ]) {
      expect(documentText).not.toContain(secret);
    }
  });
});

describe('validation, documented', () => {
  it('a bad settings PUT is still answered by valibot: 400 ERR_VALIDATION', async () => {
    const wrongType = await api('PUT', '/v1/accounts/701/whatsapp-settings', { enabled: 'yes' });
    expect(wrongType.status).toBe(400);
    expect(await wrongType.json()).toEqual({
      code: 'ERR_VALIDATION',
      message: 'enabled: Invalid type: Expected boolean but received "yes"',
    });
    // ajv as Fastify configures it would coerce 'true' to true and drop unknown keys silently.
    const coercible = await api('PUT', '/v1/accounts/701/whatsapp-settings', { enabled: 'true' });
    expect(coercible.status).toBe(400);
    expect(await coercible.json()).toMatchObject({ code: 'ERR_VALIDATION' });
    const unknownKey = await api('PUT', '/v1/accounts/701/whatsapp-settings', { colour: 'red' });
    expect(unknownKey.status).toBe(400);
    expect(await unknownKey.json()).toEqual({
      code: 'ERR_VALIDATION',
      message: 'colour: Invalid key: Expected never but received "colour"',
    });
  });

  it('a bad path parameter still gets its own message, not a schema error', async () => {
    const res = await api('GET', '/v1/accounts/abc/whatsapp-settings');
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({
      code: 'ERR_VALIDATION',
      message: 'accountId must be a positive integer',
    });
  });

  it('a policy change is kept, shown in effect with the defaults, and a key can be reset', async () => {
    const quietHours = { start: '22:00', end: '07:00', timeZone: 'America/New_York' };
    const set = await api('PUT', '/v1/accounts/702/whatsapp-settings', {
      policy: { quietHours, noReply: { afterHours: 24, then: 'reattempt' } },
    });
    expect(set.status).toBe(200);
    expect(await set.json()).toMatchObject({
      policy: { quietHours, noReply: { afterHours: 24, then: 'reattempt' } },
      policyInEffect: { quietHours, optInKeywords: ['START'] },
    });
    const reset = await api('PUT', '/v1/accounts/702/whatsapp-settings', {
      policyDefaults: ['quietHours'],
    });
    const after = (await reset.json()) as { policy: object; policyInEffect: object };
    expect(after.policy).toEqual({ noReply: { afterHours: 24, then: 'reattempt' } });
    // This test's service runs with DEFAULT_QUIET_HOURS=off.
    expect(after.policyInEffect).toMatchObject({ quietHours: null });

    const badZone = await api('PUT', '/v1/accounts/702/whatsapp-settings', {
      policy: { quietHours: { ...quietHours, timeZone: 'Mars/Olympus' } },
    });
    expect(badZone.status).toBe(400);
    expect(await badZone.json()).toMatchObject({
      message: 'policy.quietHours.timeZone: must be an IANA time zone, e.g. Asia/Kolkata',
    });
    const unknownTemplate = await api('PUT', '/v1/accounts/702/whatsapp-settings', {
      policy: { reminderTemplates: { oda: 'no-such-template' } },
    });
    expect(unknownTemplate.status).toBe(400);
    expect(await unknownTemplate.json()).toMatchObject({ code: 'ERR_UNKNOWN_TEMPLATE' });
  });

  it('a valid change goes through and answers as before', async () => {
    const res = await api('PUT', '/v1/accounts/701/whatsapp-settings', { storeName: '  Acme  ' });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({
      accountId: 701,
      enabled: false,
      senderConnectionId: 'default',
      storeName: 'Acme',
    });
  });
});
