import { readFileSync } from 'node:fs';

import { describe, expect, it } from 'vitest';

import { normalizeSelfServeList, type GupshupTemplate } from '../gupshup/templates.ts';
import { placeholdersOf, verifyTemplate, type VerifyInput } from './verify.ts';

const fixture: unknown = JSON.parse(
  readFileSync(new URL('../../test/fixtures/gupshup-template-list.json', import.meta.url), 'utf8'),
);
const TEMPLATES = normalizeSelfServeList(fixture)!;
const REJECTED_ID = '992b7ece-3217-4134-a161-ebd6ffd91cd9';

const MAPPING = {
  '1': 'customerFirstName',
  '2': 'storeName',
  '3': 'uniqueOrderItemId',
  '4': 'noOfItemsInTheOrder',
  '5': 'quantityOfTheItem',
  '6': 'productTitle',
};

function input(changes: Partial<VerifyInput> = {}): VerifyInput {
  return {
    templateId: REJECTED_ID,
    appName: 'berrylush',
    templates: TEMPLATES,
    mapping: MAPPING,
    allowedCategories: ['UTILITY'],
    ...changes,
  };
}

function template(changes: Partial<GupshupTemplate>): GupshupTemplate {
  return {
    id: 'tpl-1',
    externalId: null,
    name: 'tpl',
    body: 'Hello {{1}}',
    status: 'APPROVED',
    category: 'UTILITY',
    buttons: [],
    language: 'en',
    ...changes,
  };
}

describe('placeholdersOf', () => {
  it('lists each numbered placeholder once, ascending', () => {
    expect(placeholdersOf('{{2}} {{1}} {{2}} {{10}} {{ 3 }} {{x}}')).toEqual([1, 2, 10]);
  });
});

describe('verifyTemplate', () => {
  it('accepts the fixture fdr_rejected_by_the_customer with a correct mapping', () => {
    const result = verifyTemplate(input());
    expect(result.ok).toBe(true);
    if (result.ok) {
      expect(result.template.name).toBe('fdr_rejected_by_the_customer');
      expect(result.template.buttons).toEqual([
        'Reattempt delivery',
        'Cancel my order',
        'Raise a concern',
      ]);
      expect([...result.mapping]).toEqual([
        [1, 'customerFirstName'],
        [2, 'storeName'],
        [3, 'uniqueOrderItemId'],
        [4, 'noOfItemsInTheOrder'],
        [5, 'quantityOfTheItem'],
        [6, 'productTitle'],
      ]);
    }
  });

  it('also finds a self-serve template by its externalId (the enterprise id)', () => {
    const result = verifyTemplate(input({ templateId: '619361626878781' }));
    expect(result.ok && result.template.id).toBe(REJECTED_ID);
  });

  it('rejects a template the app does not have', () => {
    expect(verifyTemplate(input({ templateId: '123' }))).toEqual({
      ok: false,
      code: 'template_not_found',
      message: 'template 123 does not exist for app berrylush',
    });
    const partial = verifyTemplate(input({ templateId: '123', listComplete: false }));
    expect(!partial.ok && partial.message).toContain('only part of the template list');
  });

  it('does not match by element name', () => {
    expect(verifyTemplate(input({ templateId: 'fdr_rejected_by_the_customer' })).ok).toBe(false);
  });

  it('rejects a template that is not APPROVED', () => {
    const pending = template({ id: 'p-1', status: 'PENDING' });
    expect(
      verifyTemplate(
        input({ templateId: 'p-1', templates: [pending], mapping: { '1': 'storeName' } }),
      ),
    ).toEqual({
      ok: false,
      code: 'template_not_approved',
      message: 'template p-1 is PENDING; only APPROVED templates can be sent',
    });
  });

  it('rejects a category that is not allowed, and accepts it when allowed', () => {
    const result = verifyTemplate(
      input({ templateId: '8f361040-b8e9-4fd6-84d0-394c347580ba', mapping: {} }),
    );
    expect(result).toMatchObject({ ok: false, code: 'category_not_allowed' });
    expect(!result.ok && result.message).toContain('is a MARKETING template; allowed: UTILITY');
    expect(
      verifyTemplate(
        input({
          templateId: '8f361040-b8e9-4fd6-84d0-394c347580ba',
          mapping: {},
          allowedCategories: ['UTILITY', 'MARKETING'],
        }),
      ).ok,
    ).toBe(true);
  });

  it('rejects a mapping with fewer entries than the template has placeholders', () => {
    const { '6': _dropped, ...five } = MAPPING;
    expect(verifyTemplate(input({ mapping: five }))).toEqual({
      ok: false,
      code: 'placeholder_mismatch',
      message: 'template uses 6 placeholders, mapping has 5 ({{6}} has no variable)',
    });
  });

  it('rejects a mapping with placeholders the template does not have', () => {
    const result = verifyTemplate(input({ mapping: { ...MAPPING, '7': 'deliveryAddress' } }));
    expect(result).toEqual({
      ok: false,
      code: 'placeholder_mismatch',
      message: 'template uses 6 placeholders, mapping has 7 (the template has no {{7}})',
    });
  });

  it('names every placeholder when the counts agree but the numbers do not', () => {
    const { '6': _dropped, ...five } = MAPPING;
    expect(verifyTemplate(input({ mapping: { ...five, '7': 'productTitle' } }))).toEqual({
      ok: false,
      code: 'placeholder_mismatch',
      message: '{{6}} has no variable, the template has no {{7}}',
    });
  });

  it('rejects a variable outside the eleven', () => {
    const result = verifyTemplate(input({ mapping: { ...MAPPING, '3': 'fooBar' } }));
    expect(result).toMatchObject({ ok: false, code: 'unknown_variable' });
    expect(!result.ok && result.message).toMatch(/^unknown variable fooBar for \{\{3\}\}/);
  });

  it('rejects mapping keys that are not placeholder numbers', () => {
    for (const key of ['x', '0', '01', '-1', '1.5']) {
      expect(verifyTemplate(input({ mapping: { ...MAPPING, [key]: 'storeName' } }))).toEqual({
        ok: false,
        code: 'invalid_mapping',
        message: `mapping key "${key}" is not a placeholder number`,
      });
    }
  });

  it('rejects placeholders that cannot be filled', () => {
    const named = template({ body: 'Hello {{name}}, order {{1}}' });
    const result = verifyTemplate(
      input({ templateId: 'tpl-1', templates: [named], mapping: { '1': 'uniqueOrderItemId' } }),
    );
    expect(result).toMatchObject({ ok: false, code: 'unsupported_placeholder' });
    expect(!result.ok && result.message).toContain('{{name}}');
  });

  it('lets one variable fill two placeholders', () => {
    const twice = template({ body: '{{1}} and {{2}}' });
    const result = verifyTemplate(
      input({
        templateId: 'tpl-1',
        templates: [twice],
        mapping: { '1': 'storeName', '2': 'storeName' },
      }),
    );
    expect(result.ok).toBe(true);
  });
});
