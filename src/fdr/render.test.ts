/** Template variables from the FDR event, and rendering a body with them. */
import { describe, expect, it } from 'vitest';

import fixture from '../../test/fixtures/fdr-event.json' with { type: 'json' };
import { parseFdrEvent, type FdrEvent } from './event.ts';
import { MAX_BODY_LENGTH, extractVariables, renderTemplate, sanitizeParam } from './render.ts';
import type { TemplateVariable } from './variables.ts';

/** The seed event with some `response_data` fields replaced, parsed. */
function eventWith(patch: Record<string, unknown> = {}): FdrEvent {
  const parsed = parseFdrEvent({
    ...fixture,
    response_data: { ...fixture.response_data, ...patch },
  });
  if (!parsed.ok) {
    throw new Error(parsed.reason);
  }
  return parsed.event;
}

const SEED_ITEM = fixture.response_data.items[0]!;

/** The spec's three-item example (items of the seed shape). */
const THREE_ITEMS = [
  { ...SEED_ITEM, productName: 'Red t-shirt', quantity: 1, invoiceTotal: 499 },
  { ...SEED_ITEM, productName: 'casual shoes', quantity: 1, invoiceTotal: 1299.5 },
  {
    ...SEED_ITEM,
    productName: 'Qute 12 Powerful Personal Table Air Cooler with USB',
    quantity: 2,
    invoiceTotal: 3000,
  },
];

describe('sanitizeParam', () => {
  it.each([
    ['a\nb', 'a b'],
    ['a\r\nb', 'a b'],
    ['a\tb', 'a b'],
    ['a     b', 'a b'],
    ['a  \n\t  b', 'a b'],
    ['  padded  ', 'padded'],
    ['\n', ''],
    [
      'Advance Whey Protein with 20 Vitamins & Minerals',
      'Advance Whey Protein with 20 Vitamins & Minerals',
    ],
  ])('turns %j into %j', (input, expected) => {
    expect(sanitizeParam(input)).toBe(expected);
  });
});

describe('extractVariables', () => {
  it('reads every variable from the seed event', () => {
    expect(extractVariables(eventWith(), {})).toEqual({
      customerFirstName: 'Aman',
      storeName: 'vitaminplanet',
      uniqueOrderItemId: '4980116095129',
      noOfItemsInTheOrder: '1',
      customerMobileNumber: '7891971009',
      quantityOfTheItem: '1',
      productTitle: 'Advance Whey Protein with 20 Vitamins & Minerals',
      deliveryAddress: 'Sadafal kunj, Arjun club road ward num 26, churu, RAJASTHAN - 331403',
      amountToBePaid: '1,889.10',
      supportContactNumber: '',
      supportEmailAddress: '',
    });
  });

  it('takes store name and support details from the settings', () => {
    const values = extractVariables(eventWith(), {
      storeName: 'Vitamin Planet',
      supportContactNumber: ' +91-9876543210 ',
      supportEmailAddress: 'care@example.com',
    });
    expect(values.storeName).toBe('Vitamin Planet');
    expect(values.supportContactNumber).toBe('+91-9876543210');
    expect(values.supportEmailAddress).toBe('care@example.com');
  });

  it('falls back to the account slug when the store name is blank', () => {
    expect(extractVariables(eventWith(), { storeName: '  ' }).storeName).toBe('vitaminplanet');
  });

  it('falls back to the vendor order number', () => {
    expect(extractVariables(eventWith({ customerOrderNumber: '' }), {}).uniqueOrderItemId).toBe(
      '#98079',
    );
  });

  it('falls back to the order-level customer name', () => {
    const values = extractVariables(
      eventWith({
        shippingAddress: { ...fixture.response_data.shippingAddress, customerName: null },
      }),
      {},
    );
    expect(values.customerFirstName).toBe('Aman');
    expect(
      extractVariables(eventWith({ shippingAddress: null, customerName: '  Ria  Sen ' }), {})
        .customerFirstName,
    ).toBe('Ria');
  });

  it('uses the shipping phone when the order phone is not a valid number', () => {
    const values = extractVariables(
      eventWith({
        customerContactNumber: '12345',
        shippingAddress: {
          ...fixture.response_data.shippingAddress,
          contactPhone: '+91 96501 86697',
        },
      }),
      {},
    );
    expect(values.customerMobileNumber).toBe('9650186697');
  });

  it('skips empty address parts', () => {
    const values = extractVariables(
      eventWith({
        shippingAddress: {
          ...fixture.response_data.shippingAddress,
          addressLine2: '',
          state: null,
        },
      }),
      {},
    );
    expect(values.deliveryAddress).toBe('Sadafal kunj, churu - 331403');
  });

  it('puts a multi-line address on one line', () => {
    const values = extractVariables(
      eventWith({
        shippingAddress: {
          ...fixture.response_data.shippingAddress,
          addressLine1: 'Flat 2,\nSadafal kunj',
          addressLine2: 'Arjun club road\t\tward     26',
        },
      }),
      {},
    );
    expect(values.deliveryAddress).toBe(
      'Flat 2, Sadafal kunj, Arjun club road ward 26, churu, RAJASTHAN - 331403',
    );
  });

  it('lists a three-item shipment on one line', () => {
    const values = extractVariables(eventWith({ items: THREE_ITEMS }), {});
    expect(values.noOfItemsInTheOrder).toBe('4');
    expect(values.quantityOfTheItem).toBe('1');
    expect(values.productTitle).toBe(
      'Red t-shirt, 1 casual shoes, 2 Qute 12 Powerful Personal Table Air Cooler with USB',
    );
    expect(values.amountToBePaid).toBe('4,798.50');
    const rendered = renderTemplate(
      'Item(s) included in the order: {{1}} {{2}}',
      { 1: 'quantityOfTheItem', 2: 'productTitle' },
      values,
    );
    expect(rendered).toMatchObject({
      ok: true,
      text: 'Item(s) included in the order: 1 Red t-shirt, 1 casual shoes, 2 Qute 12 Powerful Personal Table Air Cooler with USB',
    });
  });

  it('sanitises product names', () => {
    const values = extractVariables(
      eventWith({ items: [{ ...SEED_ITEM, productName: 'Whey\nProtein\t 1KG     Tub ' }] }),
      {},
    );
    expect(values.productTitle).toBe('Whey Protein 1KG Tub');
  });

  it('leaves item variables empty for a shipment without items', () => {
    const values = extractVariables(eventWith({ items: [] }), {});
    expect(values.noOfItemsInTheOrder).toBe('');
    expect(values.quantityOfTheItem).toBe('');
    expect(values.productTitle).toBe('');
  });

  it('asks for nothing on a prepaid shipment', () => {
    const values = extractVariables(eventWith({ isCOD: '0', paymentType: 'Prepaid' }), {});
    expect(values.amountToBePaid).toBe('0.00');
  });

  it('recognises COD from the payment type alone', () => {
    const values = extractVariables(eventWith({ isCOD: null }), {});
    expect(values.amountToBePaid).toBe('1,889.10');
  });

  it('sums line totals, then customer prices, in paise', () => {
    const values = extractVariables(
      eventWith({
        items: [
          { ...SEED_ITEM, invoiceTotal: null, lineItemTotal: 0.1 },
          { ...SEED_ITEM, invoiceTotal: null, lineItemTotal: null, customerPrice: 0.2 },
          { ...SEED_ITEM, invoiceTotal: '123456.40' },
        ],
      }),
      {},
    );
    expect(values.amountToBePaid).toBe('1,23,456.70');
  });

  it('leaves the amount empty for a COD shipment without any amount', () => {
    const values = extractVariables(
      eventWith({
        items: [{ ...SEED_ITEM, invoiceTotal: null, lineItemTotal: null, customerPrice: null }],
      }),
      {},
    );
    expect(values.amountToBePaid).toBe('');
  });
});

const VALUES: Record<TemplateVariable, string> = {
  customerFirstName: 'Aman',
  storeName: 'vitaminplanet',
  uniqueOrderItemId: '4980116095129',
  noOfItemsInTheOrder: '1',
  customerMobileNumber: '7891971009',
  quantityOfTheItem: '1',
  productTitle: 'Whey',
  deliveryAddress: 'Sadafal kunj, churu - 331403',
  amountToBePaid: '1,889.10',
  supportContactNumber: '',
  supportEmailAddress: '',
};

describe('renderTemplate', () => {
  it('fills placeholders from a record or a map, repeated ones too', () => {
    const body = 'Hello {{1}}! Order {{2}} for {{1}}.';
    const expected = {
      ok: true,
      text: 'Hello Aman! Order 4980116095129 for Aman.',
      params: { 1: 'Aman', 2: '4980116095129' },
    };
    expect(
      renderTemplate(body, { 1: 'customerFirstName', 2: 'uniqueOrderItemId' }, VALUES),
    ).toEqual(expected);
    expect(
      renderTemplate(
        body,
        new Map<number, TemplateVariable>([
          [1, 'customerFirstName'],
          [2, 'uniqueOrderItemId'],
        ]),
        VALUES,
      ),
    ).toEqual(expected);
  });

  it('ignores mapped variables the body does not use', () => {
    expect(
      renderTemplate('Hi {{1}}', { 1: 'storeName', 2: 'supportEmailAddress' }, VALUES),
    ).toMatchObject({ ok: true, text: 'Hi vitaminplanet' });
  });

  it('sanitises values it is given', () => {
    expect(
      renderTemplate(
        'Hi {{1}}',
        { 1: 'customerFirstName' },
        { ...VALUES, customerFirstName: ' A\nB ' },
      ),
    ).toMatchObject({ ok: true, text: 'Hi A B' });
  });

  it('refuses a placeholder without a variable, naming it', () => {
    const rendered = renderTemplate('Hello {{1}}, order {{3}}', { 1: 'customerFirstName' }, VALUES);
    expect(rendered).toMatchObject({ ok: false, code: 'unmapped_placeholder' });
    expect(rendered.ok ? '' : rendered.reason).toContain('{{3}}');
  });

  it('refuses a variable without a value, naming it', () => {
    const rendered = renderTemplate(
      'Call {{1}} or write to {{2}}',
      { 1: 'supportContactNumber', 2: 'supportEmailAddress' },
      { ...VALUES, supportContactNumber: '+91-9876543210', supportEmailAddress: ' \n ' },
    );
    expect(rendered).toMatchObject({ ok: false, code: 'missing_variable' });
    expect(rendered.ok ? '' : rendered.reason).toContain('supportEmailAddress');
    expect(rendered.ok ? '' : rendered.reason).not.toContain('supportContactNumber');
  });

  it('keeps a body of exactly 1024 characters as it is', () => {
    const body = `${'x'.repeat(MAX_BODY_LENGTH - 4)}{{1}}`;
    const rendered = renderTemplate(body, { 1: 'productTitle' }, VALUES);
    expect(rendered).toMatchObject({ ok: true });
    expect(rendered.ok && rendered.text.length).toBe(MAX_BODY_LENGTH);
    expect(rendered.ok && rendered.text.endsWith('Whey')).toBe(true);
  });

  it('shortens the product list to fit 1024 characters', () => {
    const title = Array.from({ length: 60 }, (_, i) => `Product number ${i}`).join(', 1 ');
    const body =
      'Hello {{1}}!\n\nItem(s) included in the order: {{2}} {{3}}\n\nDelivery address: {{4}}';
    const rendered = renderTemplate(
      body,
      { 1: 'customerFirstName', 2: 'quantityOfTheItem', 3: 'productTitle', 4: 'deliveryAddress' },
      { ...VALUES, productTitle: title },
    );
    if (!rendered.ok) {
      throw new Error(rendered.reason);
    }
    expect(rendered.text.length).toBeLessThanOrEqual(MAX_BODY_LENGTH);
    expect(rendered.text.length).toBeGreaterThan(MAX_BODY_LENGTH - 20);
    expect(rendered.params[3]).toMatch(/^Product number 0, 1 Product number 1, .*[^,\s]…$/);
    // The address was short enough to keep.
    expect(rendered.params[4]).toBe(VALUES.deliveryAddress);
    expect(rendered.text).toContain(`Delivery address: ${VALUES.deliveryAddress}`);
  });

  it('shortens the address once the product list is as short as it goes', () => {
    const address = `${'Lane '.repeat(250)}churu - 331403`;
    const rendered = renderTemplate(
      'Items: {{1}}\nAddress: {{2}}',
      { 1: 'productTitle', 2: 'deliveryAddress' },
      { ...VALUES, productTitle: 'A very long product title indeed', deliveryAddress: address },
    );
    if (!rendered.ok) {
      throw new Error(rendered.reason);
    }
    expect(rendered.text.length).toBeLessThanOrEqual(MAX_BODY_LENGTH);
    expect(rendered.params[1]).toBe('A very lon…');
    expect(rendered.params[2]).toMatch(/^Lane Lane .*…$/);
  });

  it('is too_long when shortening cannot make it fit', () => {
    const rendered = renderTemplate(
      `${'x'.repeat(MAX_BODY_LENGTH)} {{1}}`,
      { 1: 'productTitle' },
      { ...VALUES, productTitle: 'A product title long enough to cut' },
    );
    expect(rendered).toMatchObject({ ok: false, code: 'too_long' });
  });
});
