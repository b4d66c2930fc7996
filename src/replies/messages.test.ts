import { describe, expect, it } from 'vitest';

import { INTERACTIVE_LIMITS } from '../gupshup/types.ts';
import { classifyReply } from './intent.ts';
import {
  concernPrompt,
  confirmation,
  dateChoices,
  invalidDate,
  optOutConfirmation,
  portalLink,
  standardReply,
  type FollowUp,
  type SignChoice,
} from './messages.ts';
import { readPostback, signPostback, type PostbackKeys } from './postback.ts';

const keys: PostbackKeys = { current: 'messages-test-secret' };
const sign: SignChoice = (choice) => signPostback(keys, { ...choice, conversation: 31 });
const dates = ['2023-06-09', '2023-06-10', '2023-06-12'];

/** Every interactive form keeps WhatsApp's limits. */
function expectWithinLimits(followUp: FollowUp) {
  const content = followUp.interactive;
  if (!content) {
    return;
  }
  expect(content.body.length).toBeLessThanOrEqual(INTERACTIVE_LIMITS.body);
  if (content.type === 'list') {
    expect(content.rows.length).toBeGreaterThan(0);
    expect(content.rows.length).toBeLessThanOrEqual(INTERACTIVE_LIMITS.listRows);
    expect(content.button.length).toBeLessThanOrEqual(INTERACTIVE_LIMITS.listButton);
    expect(content.section.length).toBeLessThanOrEqual(INTERACTIVE_LIMITS.sectionTitle);
    for (const row of content.rows) {
      expect(row.title.length).toBeLessThanOrEqual(INTERACTIVE_LIMITS.rowTitle);
      expect(row.id.length).toBeLessThanOrEqual(INTERACTIVE_LIMITS.rowId);
    }
  }
  if (content.type === 'buttons') {
    expect(content.buttons.length).toBeGreaterThan(0);
    expect(content.buttons.length).toBeLessThanOrEqual(INTERACTIVE_LIMITS.buttons);
    expect(new Set(content.buttons.map((b) => b.id)).size).toBe(content.buttons.length);
    for (const button of content.buttons) {
      expect(button.title.length).toBeLessThanOrEqual(INTERACTIVE_LIMITS.buttonTitle);
      expect(button.id.length).toBeLessThanOrEqual(INTERACTIVE_LIMITS.buttonId);
    }
  }
}

describe('follow-up messages', () => {
  it('offers dates as a list whose rows carry the signed date, and as numbered text', () => {
    const followUp = dateChoices(sign, dates);
    expect(followUp.purpose).toBe('date_choices');
    expect(followUp.interactive).toMatchObject({ type: 'list', button: 'Choose a date' });
    const rows = followUp.interactive?.type === 'list' ? followUp.interactive.rows : [];
    expect(rows.map((r) => r.title)).toEqual([
      'Fri, 9 June 2023',
      'Sat, 10 June 2023',
      'Mon, 12 June 2023',
    ]);
    expect(rows.map((r) => readPostback(keys, r.id))).toEqual(
      dates.map((date) => ({
        kind: 'valid',
        postback: { conversation: 31, action: 'date', date },
      })),
    );
    expect(followUp.text).toBe(
      'Please choose a new delivery date:\n1. Fri, 9 June 2023\n2. Sat, 10 June 2023\n3. Mon, 12 June 2023\nReply with 1, 2 or 3.',
    );
    expectWithinLimits(followUp);
  });

  it('fits ten rows with the longest month', () => {
    const many = Array.from(
      { length: 10 },
      (_v, i) => `2023-09-${String(20 + i).padStart(2, '0')}`,
    );
    expectWithinLimits(dateChoices(sign, many));
  });

  it('says which date cannot be delivered on, then lists the dates again', () => {
    const followUp = invalidDate(sign, '2023-06-30', dates);
    expect(followUp.purpose).toBe('invalid_choice');
    expect(followUp.text).toMatch(/^Sorry, 30 June 2023 is not a date we can deliver on\./);
    expect(followUp.interactive?.type).toBe('list');
  });

  it('confirms each action with reply buttons for the next step, and words that mean the same', () => {
    for (const [action, date] of [
      ['RESCHEDULE', '2023-06-10'],
      ['REATTEMPT', undefined],
      ['CANCEL', undefined],
    ] as const) {
      const followUp = confirmation(sign, action, date);
      expect(followUp.interactive?.type).toBe('buttons');
      expectWithinLimits(followUp);
      const buttons = followUp.interactive?.type === 'buttons' ? followUp.interactive.buttons : [];
      for (const button of buttons) {
        expect(readPostback(keys, button.id).kind).toBe('valid');
      }
      // The text version names, in words, one answer per button.
      expect(followUp.text.match(/reply [A-Z ]+[;.]/g)).toHaveLength(buttons.length);
    }
    expect(confirmation(sign, 'RESCHEDULE', '2023-06-10').text).toContain(
      'rescheduled to 10 June 2023',
    );
    expect(confirmation(sign, 'RAISE_CONCERN').interactive).toBeNull();
  });

  it('words its text versions so the reply reader understands the answers it asks for', () => {
    const at = new Date('2023-06-08T00:00:00Z');
    expect(classifyReply({ text: 'CHANGE DATE' }, at)).toEqual({ kind: 'reschedule' });
    expect(classifyReply({ text: 'NEW DATE' }, at)).toEqual({ kind: 'reschedule' });
    expect(classifyReply({ text: 'HELP' }, at)).toEqual({ kind: 'raise_concern' });
    expect(classifyReply({ buttonText: 'Talk to us' }, at)).toEqual({ kind: 'raise_concern' });
    expect(classifyReply({ buttonText: 'Choose a date' }, at)).toEqual({ kind: 'reschedule' });
  });

  it('sends the portal link as a call-to-action button, with the link in the text version', () => {
    const link = 'https://wa.example.test/trackShipment/WhatsApp/S1?sig=abc';
    const followUp = portalLink('update_address', link);
    expect(followUp.interactive).toEqual({
      type: 'cta_url',
      body: 'Please update your delivery address on our page.',
      displayText: 'Update address',
      url: link,
    });
    expect(followUp.text).toBe(`Please update your delivery address here: ${link}`);
    expect(portalLink('alternate_number', link).text).toContain('add an alternate contact number');
  });

  it('keeps the concern prompt and the standard reply as plain text', () => {
    expect(concernPrompt().interactive).toBeNull();
    expect(standardReply('rto_initiated').text).toContain('now rto initiated');
  });

  it("confirms an opt-out in plain text, naming the account's opt-in keyword when it has one", () => {
    expect(optOutConfirmation('START')).toEqual({
      purpose: 'opt_out_confirmation',
      text: 'You will no longer receive WhatsApp messages from us. To get them again, reply START.',
      interactive: null,
    });
    expect(optOutConfirmation(undefined).text).toBe(
      'You will no longer receive WhatsApp messages from us.',
    );
  });
});
