/**
 * Template verification against the sandbox's template lists (the seed's fixture, plus one
 * PENDING template): an approved template with a correct mapping is accepted and saved in one go;
 * every rejection says exactly why and saves nothing. Also the settings rules that depend on
 * verified templates.
 */
import { and, eq, isNull } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import {
  poeChannelNotifications,
  whatsappTemplates,
  whatsappTemplateVariables,
} from '../../src/db/schema.ts';
import { startSandbox, type Sandbox } from '../../src/sandbox/server.ts';
import { startService, type Service } from '../../src/service.ts';
import { API_TOKEN, createTestEnv } from '../helpers/env.ts';
import { readFixture } from '../helpers/fixtures.ts';

const ACCOUNT = 501;
const REJECTED_ID = '992b7ece-3217-4134-a161-ebd6ffd91cd9';
const REJECTED_META_ID = '619361626878781';
const PENDING_ID = '5e0c44b1-8d3f-4c1e-a0a2-7f7d1c2b9e10';
const OPT_OUT_ID = '8f361040-b8e9-4fd6-84d0-394c347580ba';
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
  userid: '2000555001',
  password: 'templates-test-pw',
  waNumber: '919800000005',
  apiKey: 'O5kHYP3DQ4SPczX2jIMciKnN',
};

const env = createTestEnv('templates');
let sandbox: Sandbox;
let service: Service;
let connectionId: string;

function api(path: string, init: RequestInit = {}) {
  return fetch(`${service.url}${path}`, {
    ...init,
    headers: {
      authorization: `Bearer ${API_TOKEN}`,
      ...(init.body === undefined ? {} : { 'content-type': 'application/json' }),
      ...init.headers,
    },
  });
}

async function call(method: string, path: string, body?: unknown) {
  const res = await api(path, {
    method,
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

const verify = (body: unknown) =>
  call('POST', `/v1/accounts/${ACCOUNT}/whatsapp-templates/verify`, body);
const save = (reason: string, body: unknown) =>
  call('PUT', `/v1/accounts/${ACCOUNT}/whatsapp-templates/${reason}`, body);
const settings = (body: unknown) => call('PUT', `/v1/accounts/${ACCOUNT}/whatsapp-settings`, body);

/** Everything template verification may write, for "nothing was saved" checks. */
async function saved() {
  const { db } = service.deps;
  return {
    templates: await db
      .select()
      .from(whatsappTemplates)
      .where(isNull(whatsappTemplates.defaultForReason)),
    variables: (await db.select().from(whatsappTemplateVariables)).filter(
      (v) => !v.templateId.startsWith('eshopbox_fdr_'),
    ),
    notifications: await db
      .select()
      .from(poeChannelNotifications)
      .where(eq(poeChannelNotifications.accountId, ACCOUNT)),
  };
}

beforeAll(async () => {
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
  const config = env.config({
    GUPSHUP_ENTERPRISE_URL: sandbox.url,
    GUPSHUP_TEMPLATE_LIST_URL: sandbox.url,
    GUPSHUP_SELF_SERVE_URL: sandbox.origin,
    CREDENTIALS_KEY: Buffer.alloc(32, 7).toString('base64'),
  });
  service = await startService(config, ['api']);
  const created = await call('POST', `/v1/accounts/${ACCOUNT}/whatsapp-connections`, CLIENT_APP);
  expect(created.status).toBe(201);
  connectionId = created.body.id as string;
});

afterAll(async () => {
  await service?.close();
  await sandbox?.close();
  await env.dropDatabase();
});

describe('template variables', () => {
  it('lists the eleven variables with their descriptions', async () => {
    const { status, body } = await call('GET', '/v1/whatsapp-template-variables');
    expect(status).toBe(200);
    const variables = body.variables as { number: number; name: string; description: string }[];
    expect(variables.map((v) => [v.number, v.name])).toEqual([
      [1, 'customerFirstName'],
      [2, 'storeName'],
      [3, 'uniqueOrderItemId'],
      [4, 'noOfItemsInTheOrder'],
      [5, 'customerMobileNumber'],
      [6, 'quantityOfTheItem'],
      [7, 'productTitle'],
      [8, 'deliveryAddress'],
      [9, 'amountToBePaid'],
      [10, 'supportContactNumber'],
      [11, 'supportEmailAddress'],
    ]);
    expect(variables.every((v) => v.description.length > 10)).toBe(true);
  });
});

describe('verifying a template with Gupshup', () => {
  it('accepts fdr_rejected_by_the_customer with a correct mapping, saving nothing', async () => {
    const before = await saved();
    const { status, body } = await verify({
      reason: 'rejected_by_customer',
      templateId: REJECTED_ID,
      connectionId,
      variables: MAPPING,
    });
    expect(status).toBe(200);
    expect(body).toEqual({
      ok: true,
      template: {
        id: REJECTED_ID,
        name: 'fdr_rejected_by_the_customer',
        body: "Hello {{1}}!\n\nYour {{2}} order ID {{3}} having {{4}} items couldn't be delivered \n as you refused to accept it.\n\nItem(s) included in the order:\n\n- {{5}}{{6}}\n\nPlease choose your desired action",
        buttons: ['Reattempt delivery', 'Cancel my order', 'Raise a concern'],
        status: 'APPROVED',
        category: 'UTILITY',
        connectionId,
        appName: 'berrylush',
        variables: MAPPING,
      },
    });
    expect(await saved()).toEqual(before);
  });

  it('saves it for the reason: template, mapping and the account choice together', async () => {
    const { status, body } = await save('rejected_by_customer', {
      templateId: REJECTED_ID,
      connectionId,
      variables: MAPPING,
    });
    expect(status).toBe(200);
    expect(body).toMatchObject({ ok: true, saved: true, template: { id: REJECTED_ID } });

    const { templates, variables, notifications } = await saved();
    expect(templates).toHaveLength(1);
    expect(templates[0]).toMatchObject({
      id: REJECTED_ID,
      name: 'fdr_rejected_by_the_customer',
      connectionId,
      status: 'APPROVED',
      category: 'UTILITY',
    });
    expect(templates[0]!.body.endsWith('Please choose your desired action')).toBe(true);
    expect(JSON.parse(templates[0]!.buttons)).toEqual([
      'Reattempt delivery',
      'Cancel my order',
      'Raise a concern',
    ]);
    expect(
      variables
        .map((v) => [v.templateId, v.variableNumber, v.definedVariable])
        .sort((a, b) => Number(a[1]) - Number(b[1])),
    ).toEqual(Object.entries(MAPPING).map(([n, name]) => [REJECTED_ID, Number(n), name]));
    expect(notifications).toHaveLength(1);
    expect(notifications[0]).toMatchObject({
      notificationType: 'rejected_by_customer',
      whatsappTemplateId: REJECTED_ID,
      isWhatsappEnabled: 0,
    });
  });

  const rejections: [string, Record<string, unknown>, string, string][] = [
    [
      'a PENDING template',
      { templateId: PENDING_ID, variables: MAPPING },
      'template_not_approved',
      `template ${PENDING_ID} is PENDING; only APPROVED templates can be sent`,
    ],
    [
      'a wrong placeholder count',
      {
        templateId: REJECTED_ID,
        variables: Object.fromEntries(Object.entries(MAPPING).slice(0, 5)),
      },
      'placeholder_mismatch',
      'template uses 6 placeholders, mapping has 5 ({{6}} has no variable)',
    ],
    [
      'an unknown variable',
      { templateId: REJECTED_ID, variables: { ...MAPPING, '2': 'fooBar' } },
      'unknown_variable',
      'unknown variable fooBar for {{2}}',
    ],
    [
      'a nonexistent id',
      { templateId: '123', variables: MAPPING },
      'template_not_found',
      'template 123 does not exist for app berrylush',
    ],
    [
      'a MARKETING template',
      { templateId: OPT_OUT_ID, variables: {} },
      'category_not_allowed',
      `template ${OPT_OUT_ID} is a MARKETING template; allowed: UTILITY`,
    ],
  ];

  it.each(rejections)(
    'rejects %s with the reason, saving nothing',
    async (_, body, code, message) => {
      const before = await saved();
      const checked = await verify({ reason: 'rejected_by_customer', connectionId, ...body });
      expect(checked.status).toBe(422);
      expect(checked.body).toMatchObject({ ok: false, code });
      expect(checked.body.message).toContain(message);

      // Also through the saving route, over the template saved above: nothing changes.
      const put = await save('rejected_by_customer', { connectionId, ...body });
      expect(put).toEqual(checked);
      expect(await saved()).toEqual(before);
    },
  );

  it("reads the default app's enterprise list, where ids are Meta ids", async () => {
    const ok = await verify({
      reason: 'rejected_by_customer',
      connectionId: 'default',
      templateId: REJECTED_META_ID,
      variables: MAPPING,
    });
    expect(ok.status).toBe(200);
    expect(ok.body).toMatchObject({
      ok: true,
      template: { id: REJECTED_META_ID, connectionId: 'default', appName: 'eshopbox', buttons: [] },
    });
    const uuid = await verify({
      reason: 'rejected_by_customer',
      connectionId: 'default',
      templateId: REJECTED_ID,
      variables: MAPPING,
    });
    expect(uuid.body).toMatchObject({
      code: 'template_not_found',
      message: `template ${REJECTED_ID} does not exist for app eshopbox`,
    });
  });

  it('refuses bad input with 400 and an unknown connection with 422, never 500', async () => {
    expect((await verify({ templateId: REJECTED_ID, variables: MAPPING })).status).toBe(400);
    expect(
      (await save('not_a_reason', { templateId: REJECTED_ID, variables: MAPPING })).status,
    ).toBe(400);
    expect(
      (await save('oda', { reason: 'payment_issue', templateId: REJECTED_ID, variables: MAPPING }))
        .status,
    ).toBe(400);
    expect(
      await verify({
        reason: 'oda',
        connectionId: '424242',
        templateId: REJECTED_ID,
        variables: MAPPING,
      }),
    ).toMatchObject({ status: 422, body: { ok: false, code: 'sender_not_found' } });
  });
});

describe('settings that depend on verified templates', () => {
  it('only takes verified template ids', async () => {
    const unknown = await settings({ templates: { oda: 'never-verified' } });
    expect(unknown).toMatchObject({ status: 400, body: { code: 'ERR_UNKNOWN_TEMPLATE' } });
  });

  it('switches a reason on with its verified template through the sender it was verified on', async () => {
    // The template was verified on the client's app, not on the default app.
    const wrongSender = await settings({ reasons: { rejected_by_customer: true } });
    expect(wrongSender.status).toBe(422);
    expect(wrongSender.body.problems).toEqual([
      `Rejected by the Customer: template ${REJECTED_ID} was verified on connection ${connectionId}, not on the sender default`,
    ]);

    const on = await settings({
      senderConnectionId: connectionId,
      reasons: { rejected_by_customer: true },
    });
    expect(on.status).toBe(200);
    expect(on.body).toMatchObject({
      senderConnectionId: connectionId,
      reasons: { rejected_by_customer: true, oda: false },
      templates: { rejected_by_customer: REJECTED_ID },
    });
  });

  it('refuses a reason on the platform default template through a client app, listing problems', async () => {
    const refused = await settings({ reasons: { oda: true, address_issue: true } });
    expect(refused.status).toBe(422);
    expect(refused.body.code).toBe('ERR_SETTINGS_INCOMPLETE');
    expect(refused.body.problems).toHaveLength(2);
    expect(String(refused.body.message)).toContain(
      'ODA (out of delivery area): the platform default template can only be sent through the default app',
    );
    const [row] = await service.deps.db
      .select()
      .from(poeChannelNotifications)
      .where(
        and(
          eq(poeChannelNotifications.accountId, ACCOUNT),
          eq(poeChannelNotifications.notificationType, 'oda'),
        ),
      );
    expect(row?.isWhatsappEnabled ?? 0).toBe(0);
  });

  it("does not let a template of another sender replace an enabled reason's template", async () => {
    const { status, body } = await save('rejected_by_customer', {
      connectionId: 'default',
      templateId: REJECTED_META_ID,
      variables: MAPPING,
    });
    expect(status).toBe(422);
    expect(body.code).toBe('sender_mismatch');
  });

  it('always lets a reason be switched off, and store details change', async () => {
    const off = await settings({
      reasons: { rejected_by_customer: false },
      storeName: 'Berrylush',
    });
    expect(off.status).toBe(200);
    expect(off.body).toMatchObject({ enabled: false, storeName: 'Berrylush' });
  });
});

describe('a template several accounts use', () => {
  // Gupshup's template id is one row for everyone: two accounts on the default app may share a
  // template, but neither may change what the other's messages say.
  const saveFor = (accountId: number, variables: Record<string, string>) =>
    call('PUT', `/v1/accounts/${accountId}/whatsapp-templates/rejected_by_customer`, {
      connectionId: 'default',
      templateId: REJECTED_META_ID,
      variables,
    });
  const SWAPPED = { ...MAPPING, '1': 'productTitle', '6': 'customerFirstName' };

  async function mappingOf(templateId: string) {
    const rows = await service.deps.db
      .select()
      .from(whatsappTemplateVariables)
      .where(eq(whatsappTemplateVariables.templateId, templateId));
    return Object.fromEntries(rows.map((r) => [String(r.variableNumber), r.definedVariable]));
  }

  it('lets the only account using it change its mapping', async () => {
    expect((await saveFor(601, MAPPING)).status).toBe(200);
    expect((await saveFor(601, SWAPPED)).status).toBe(200);
    expect(await mappingOf(REJECTED_META_ID)).toEqual(SWAPPED);
    expect((await saveFor(601, MAPPING)).status).toBe(200);
  });

  it('shares it with the same mapping, and refuses a different one with 409, changing nothing', async () => {
    expect((await saveFor(602, MAPPING)).body).toMatchObject({ ok: true, saved: true });

    const refused = await saveFor(603, SWAPPED);
    expect(refused.status).toBe(409);
    expect(refused.body).toMatchObject({ ok: false, code: 'template_in_use' });
    expect(refused.body.message).toBe(
      `template ${REJECTED_META_ID} is in use elsewhere with another sender or variable mapping, and saving yours would change those messages; use a template of your own`,
    );
    // Nothing of the other accounts' data: not their mapping, sender or number.
    expect(refused.body.message).not.toMatch(/customerFirstName|connection|2 other/);
    expect(await mappingOf(REJECTED_META_ID)).toEqual(MAPPING);
    const chosen = await service.deps.db
      .select()
      .from(poeChannelNotifications)
      .where(eq(poeChannelNotifications.accountId, 603));
    expect(chosen).toEqual([]);

    // Still one of the sharers may not change it for the other.
    expect((await saveFor(602, SWAPPED)).status).toBe(409);
  });

  it("refuses another account's template in the settings, exactly as an unknown one", async () => {
    const choose = (accountId: number, templateId: string) =>
      call('PUT', `/v1/accounts/${accountId}/whatsapp-settings`, {
        templates: { rejected_by_customer: templateId },
      });
    const theirs = await choose(604, REJECTED_META_ID);
    const nothing = await choose(604, 'no-such-template');
    expect(theirs.status).toBe(400);
    expect(theirs.body).toEqual({
      code: 'ERR_UNKNOWN_TEMPLATE',
      message: `unknown template id(s): ${REJECTED_META_ID}`,
    });
    expect(nothing.body).toEqual({
      code: 'ERR_UNKNOWN_TEMPLATE',
      message: 'unknown template id(s): no-such-template',
    });
    // The account that verified it may choose it; anyone may choose a platform default.
    expect((await choose(602, REJECTED_META_ID)).status).toBe(200);
    expect((await choose(604, 'eshopbox_fdr_rejected_by_customer')).status).toBe(200);
  });
});
