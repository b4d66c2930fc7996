/** The nine default templates, checked against WhatsApp's rules and rendered with the seed event. */
import { describe, expect, it } from 'vitest';

import fixture from '../../test/fixtures/fdr-event.json' with { type: 'json' };
import { parseFdrEvent } from './event.ts';
import { FDR_REASONS, type FdrReason } from './reasons.ts';
import { MAX_BODY_LENGTH, extractVariables, renderTemplate } from './render.ts';
import { DEFAULT_TEMPLATES, type DefaultTemplate } from './templates.ts';
import { TEMPLATE_VARIABLE_NAMES, type TemplateVariable } from './variables.ts';

const BUTTONS: Record<FdrReason, string[]> = {
  customer_unreachable: ['Add alternate number', 'Select new delivery date', 'Raise a concern'],
  address_issue: ['Update my address', 'Raise a concern'],
  rejected_by_customer: ['Reattempt delivery', 'Cancel my order', 'Raise a concern'],
  customer_unavailable: ['Reattempt delivery', 'Select new delivery date', 'Raise a concern'],
  delivery_rescheduled: ['Reattempt delivery', 'Select new delivery date', 'Raise a concern'],
  oda: ['Update my address', 'Cancel my order', 'Raise a concern'],
  payment_issue: ['Reattempt delivery', 'Cancel my order', 'Raise a concern'],
  otp_cancellation: ['Reattempt delivery', 'Cancel my order', 'Raise a concern'],
  open_delivery: ['Reattempt delivery', 'Cancel my order', 'Raise a concern'],
};

const SETTINGS = {
  supportContactNumber: '+91-9876543210',
  supportEmailAddress: 'eshopbox@support.com',
};

function templateFor(reason: FdrReason): DefaultTemplate {
  const template = DEFAULT_TEMPLATES.find((t) => t.reason === reason);
  if (!template) {
    throw new Error(`no default template for ${reason}`);
  }
  return template;
}

/** The placeholder numbers of a body, in order of appearance. */
function placeholders(body: string): number[] {
  return Array.from(body.matchAll(/\{\{(\d+)\}\}/g), (m) => Number(m[1]));
}

/** The variable a template shows right after `text`, e.g. "your number (" → customerMobileNumber. */
function variableAfter(template: DefaultTemplate, text: string): TemplateVariable | undefined {
  const match = new RegExp(`${text.replace(/[()]/g, '\\$&')}\\{\\{(\\d+)\\}\\}`).exec(
    template.body,
  );
  return match ? template.variables[Number(match[1])] : undefined;
}

function seedValues(): Record<TemplateVariable, string> {
  const parsed = parseFdrEvent(fixture);
  if (!parsed.ok) {
    throw new Error(parsed.reason);
  }
  return extractVariables(parsed.event, SETTINGS);
}

describe('DEFAULT_TEMPLATES', () => {
  it('has one template per reason, named after it', () => {
    expect(DEFAULT_TEMPLATES.map((t) => t.reason).sort()).toEqual([...FDR_REASONS].sort());
    for (const t of DEFAULT_TEMPLATES) {
      expect(t.id).toBe(`eshopbox_fdr_${t.reason}`);
      expect(t.name).toBe(t.id);
    }
  });

  it.each(FDR_REASONS)('%s has its quick-reply buttons', (reason) => {
    const { buttons } = templateFor(reason);
    expect(buttons).toEqual(BUTTONS[reason]);
    // WhatsApp: at most 3 quick replies, each title at most 25 characters.
    expect(buttons.length).toBeLessThanOrEqual(3);
    for (const b of buttons) {
      expect(b.length).toBeLessThanOrEqual(25);
    }
  });

  it.each(FDR_REASONS)('%s numbers its placeholders 1..n in order, each mapped', (reason) => {
    const t = templateFor(reason);
    const numbers = placeholders(t.body);
    expect(numbers).toEqual(numbers.map((_, i) => i + 1));
    expect(Object.keys(t.variables).map(Number)).toEqual(numbers);
    for (const name of Object.values(t.variables)) {
      expect(TEMPLATE_VARIABLE_NAMES).toContain(name);
    }
  });

  it.each(FDR_REASONS)('%s has the shared shape', (reason) => {
    const t = templateFor(reason);
    expect(t.body).toMatch(/^Hello \{\{1\}\}!\n\n/);
    expect(t.body.endsWith('\n\nPlease choose your desired action')).toBe(true);
    expect(variableAfter(t, 'Hello ')).toBe('customerFirstName');
    expect(t.body).toMatch(/\nItem\(s\) included in the order: \{\{\d+\}\} \{\{\d+\}\}\n/);
    expect(variableAfter(t, 'Item(s) included in the order: ')).toBe('quantityOfTheItem');
    expect(t.body).not.toContain('as as');
    // Meta refuses bodies with more than two consecutive newlines or trailing spaces on a line.
    expect(t.body).not.toMatch(/\n\n\n| \n/);
  });

  it('shows what each reason needs', () => {
    expect(variableAfter(templateFor('customer_unreachable'), 'your number (')).toBe(
      'customerMobileNumber',
    );
    expect(variableAfter(templateFor('address_issue'), 'Delivery address: ')).toBe(
      'deliveryAddress',
    );
    expect(variableAfter(templateFor('payment_issue'), 'Amount to be paid - Rs ')).toBe(
      'amountToBePaid',
    );
    expect(variableAfter(templateFor('open_delivery'), 'customer support team at ')).toBe(
      'supportContactNumber',
    );
    expect(variableAfter(templateFor('open_delivery'), 'via email at ')).toBe(
      'supportEmailAddress',
    );
  });

  it.each(FDR_REASONS)('%s renders the seed event', (reason) => {
    const t = templateFor(reason);
    const rendered = renderTemplate(t.body, t.variables, seedValues());
    if (!rendered.ok) {
      throw new Error(rendered.reason);
    }
    expect(rendered.text).not.toContain('{{');
    expect(rendered.text.length).toBeLessThanOrEqual(MAX_BODY_LENGTH);
    expect(rendered.text).toContain('Hello Aman!');
    expect(rendered.text).toContain('4980116095129');
    expect(rendered.text).toContain(
      'Item(s) included in the order: 1 Advance Whey Protein with 20 Vitamins & Minerals\n',
    );
    const params = Object.values(rendered.params);
    expect(params).toHaveLength(placeholders(t.body).length);
    for (const param of params) {
      expect(param).not.toMatch(/[\n\t]| {5}/);
      expect(param).not.toBe('');
    }
  });

  it('renders the OTP cancellation message exactly', () => {
    const t = templateFor('otp_cancellation');
    expect(renderTemplate(t.body, t.variables, seedValues())).toMatchObject({
      ok: true,
      text:
        'Hello Aman!\n\n' +
        "Your vitaminplanet order ID 4980116095129 having 1 items couldn't be delivered as you requested to cancel this order.\n\n" +
        'Item(s) included in the order: 1 Advance Whey Protein with 20 Vitamins & Minerals\n\n' +
        'Please choose your desired action',
    });
  });

  it('renders the payment and address details of the seed event', () => {
    const values = seedValues();
    const payment = templateFor('payment_issue');
    const address = templateFor('address_issue');
    expect(renderTemplate(payment.body, payment.variables, values)).toMatchObject({
      ok: true,
      text: expect.stringContaining('\n\nAmount to be paid - Rs 1,889.10\n\n') as unknown,
    });
    expect(renderTemplate(address.body, address.variables, values)).toMatchObject({
      ok: true,
      text: expect.stringContaining(
        '\n\nDelivery address: Sadafal kunj, Arjun club road ward num 26, churu, RAJASTHAN - 331403\n\n',
      ) as unknown,
    });
  });

  it('refuses open delivery when the account has no support details', () => {
    const t = templateFor('open_delivery');
    const rendered = renderTemplate(t.body, t.variables, {
      ...seedValues(),
      supportEmailAddress: '',
    });
    expect(rendered).toMatchObject({ ok: false, code: 'missing_variable' });
  });
});
