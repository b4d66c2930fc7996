import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { startSandbox, type Sandbox } from '../sandbox/server.ts';
import {
  createTemplateListClient,
  normalizeEnterpriseList,
  normalizeSelfServeList,
  splitButtons,
  type TemplateListClient,
} from './templates.ts';

describe('splitButtons', () => {
  it('splits the self-serve button suffix off the body', () => {
    expect(
      splitButtons('Hi {{1}}\n\nPlease choose | [Reattempt delivery] | [Cancel my order]'),
    ).toEqual({
      body: 'Hi {{1}}\n\nPlease choose',
      buttons: ['Reattempt delivery', 'Cancel my order'],
    });
  });

  it('leaves a body without buttons alone', () => {
    expect(splitButtons('You will no longer receive messages')).toEqual({
      body: 'You will no longer receive messages',
      buttons: [],
    });
  });

  it('keeps brackets that are not a trailing button list', () => {
    expect(splitButtons('Pick [one] of these: {{1}}')).toEqual({
      body: 'Pick [one] of these: {{1}}',
      buttons: [],
    });
  });
});

describe('normalizers', () => {
  it('reads the enterprise shape and notices a cut list', () => {
    const list = normalizeEnterpriseList({
      data: [
        {
          id: 619361626878781,
          name: 'fdr_rejected',
          category: 'utility',
          body: 'Hello {{1}}',
          button_type: 'QUICK_REPLY',
          status: 'approved',
        },
      ],
      meta: { total: 3 },
    });
    expect(list).toEqual({
      complete: false,
      templates: [
        {
          id: '619361626878781',
          externalId: null,
          name: 'fdr_rejected',
          body: 'Hello {{1}}',
          status: 'APPROVED',
          category: 'UTILITY',
          buttons: [],
          language: null,
        },
      ],
    });
    expect(normalizeEnterpriseList({ response: { status: 'error', id: '102' } })).toBeNull();
  });

  it('reads the self-serve shape', () => {
    expect(normalizeSelfServeList({ status: 'error', message: 'x' })).toBeNull();
    expect(
      normalizeSelfServeList({
        status: 'success',
        templates: [
          {
            id: 'u-1',
            elementName: 'n',
            data: 'Hi | [A]',
            status: 'PENDING',
            category: 'UTILITY',
            externalId: '77',
            languageCode: 'en',
          },
        ],
      }),
    ).toEqual([
      {
        id: 'u-1',
        externalId: '77',
        name: 'n',
        body: 'Hi',
        status: 'PENDING',
        category: 'UTILITY',
        buttons: ['A'],
        language: 'en',
      },
    ]);
  });
});

describe('template list client against the sandbox', () => {
  let sandbox: Sandbox;
  let client: TemplateListClient;

  beforeAll(async () => {
    sandbox = await startSandbox({ port: 0 });
    client = createTemplateListClient({
      enterpriseUrl: sandbox.url,
      selfServeUrl: sandbox.origin,
      timeoutMs: 2_000,
    });
  });

  afterAll(async () => {
    await client.close();
    await sandbox.close();
  });

  it('reads the enterprise list (bare bodies, Meta ids)', async () => {
    const result = await client.listTemplates({
      kind: 'enterprise',
      appName: 'eshopbox',
      userid: '2000000001',
      password: 'pw',
    });
    expect(result.ok).toBe(true);
    if (result.ok) {
      expect(result.complete).toBe(true);
      const rejected = result.templates.find((t) => t.id === '619361626878781');
      expect(rejected?.name).toBe('fdr_rejected_by_the_customer');
      expect(rejected?.body).not.toContain('[');
      expect(rejected?.body.endsWith('Please choose your desired action')).toBe(true);
    }
  });

  it('reads the self-serve list (uuids, buttons)', async () => {
    const result = await client.listTemplates({
      kind: 'self-serve',
      appName: 'berrylush',
      apiKey: 'key',
    });
    expect(result.ok).toBe(true);
    if (result.ok) {
      const rejected = result.templates.find(
        (t) => t.id === '992b7ece-3217-4134-a161-ebd6ffd91cd9',
      );
      expect(rejected?.externalId).toBe('619361626878781');
      expect(rejected?.buttons).toEqual([
        'Reattempt delivery',
        'Cancel my order',
        'Raise a concern',
      ]);
    }
  });

  it('reports refusals and unreachable upstreams without throwing', async () => {
    const refused = await client.listTemplates({
      kind: 'enterprise',
      appName: 'eshopbox',
      userid: '',
      password: '',
    });
    expect(refused).toMatchObject({ ok: false, kind: 'refused', code: 'gupshup_101' });
    const down = createTemplateListClient({
      enterpriseUrl: 'http://127.0.0.1:9/GatewayAPI/rest',
      selfServeUrl: 'http://127.0.0.1:9',
      timeoutMs: 500,
    });
    try {
      const result = await down.listTemplates({ kind: 'self-serve', appName: 'a', apiKey: 'k' });
      expect(result).toMatchObject({ ok: false, kind: 'unavailable' });
    } finally {
      await down.close();
    }
  });
});
