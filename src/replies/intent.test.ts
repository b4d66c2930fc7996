/**
 * Reply classification: the template's button titles and their variants, dates in the formats
 * customers and our own interactive messages use, numbered choices, and the seed's two replies.
 */
import { describe, expect, it } from 'vitest';

import { readFixture } from '../../test/helpers/fixtures.ts';
import { DEFAULT_TEMPLATES } from '../fdr/templates.ts';
import { classifyReply, type Intent } from './intent.ts';

// The seed's reply day (1686222630000 ms).
const TODAY = new Date('2023-06-08T11:10:30Z');

function classifyText(text: string, today = TODAY): Intent {
  return classifyReply({ text }, today);
}

describe('the seed replies', () => {
  it('reads the seed button reply as reschedule', () => {
    const fixture = readFixture<{ button: string }>('gupshup-inbound-button.json');
    const button = JSON.parse(fixture.button) as { text: string };

    expect(classifyReply({ buttonText: button.text }, TODAY)).toEqual({ kind: 'reschedule' });
  });

  it('reads the seed interactive date reply as 2023-06-10', () => {
    const fixture = readFixture<{ interactive: string }>('gupshup-inbound-interactive-date.json');
    const interactive = JSON.parse(fixture.interactive) as {
      button_reply: { id: string; title: string };
    };
    const id = JSON.parse(interactive.button_reply.id) as { postbackText: string };

    expect(interactive.button_reply.title).toBe('10 June 2023');
    expect(
      classifyReply(
        { interactiveTitle: interactive.button_reply.title, postbackText: id.postbackText },
        TODAY,
      ),
    ).toEqual({ kind: 'date', date: '2023-06-10' });
  });
});

describe('button titles', () => {
  it.each([
    ['Reattempt delivery', 'reattempt'],
    ['Select new delivery date', 'reschedule'],
    ['Update my address', 'update_address'],
    ['Add alternate number', 'alternate_number'],
    ['Cancel my order', 'cancel'],
    ['Raise a concern', 'raise_concern'],
  ])('maps "%s" to %s', (title, kind) => {
    expect(classifyReply({ buttonText: title }, TODAY)).toEqual({ kind });
    expect(classifyReply({ interactiveTitle: title }, TODAY)).toEqual({ kind });
  });

  it('knows every button of every default template', () => {
    const titles = new Set(DEFAULT_TEMPLATES.flatMap((template) => template.buttons));

    for (const title of titles) {
      expect(classifyReply({ buttonText: title }, TODAY).kind, title).not.toBe('text');
    }
  });

  it.each([
    ['re-attempt', 'reattempt'],
    ['RE-ATTEMPT DELIVERY', 'reattempt'],
    ['Please reattempt', 'reattempt'],
    ['deliver again', 'reattempt'],
    ['reschedule', 'reschedule'],
    ['Reschedule delivery please', 'reschedule'],
    ['change delivery date', 'reschedule'],
    ['change address', 'update_address'],
    ['I want to change my address', 'update_address'],
    ['alternate number', 'alternate_number'],
    ['add alternative number', 'alternate_number'],
    ['cancel order', 'cancel'],
    ['CANCEL', 'cancel'],
    ['cancel the order!', 'cancel'],
    ['raise concern', 'raise_concern'],
    ['RAISE_CONCERN', 'raise_concern'],
    ['complaint', 'raise_concern'],
  ])('maps the variant "%s" to %s', (text, kind) => {
    expect(classifyText(text)).toEqual({ kind });
  });

  it('reads a machine payload when the title is unknown (a client template in Hindi)', () => {
    expect(
      classifyReply({ buttonText: 'दोबारा डिलीवरी करें', buttonPayload: 'REATTEMPT' }, TODAY),
    ).toEqual({ kind: 'reattempt' });
  });

  it('does not act on text that merely mentions an action', () => {
    for (const text of [
      "Don't cancel my order",
      'do not cancel',
      'why was my order not delivered, I was at home',
      'my address is correct',
      'cancel order and refund please send it tomorrow',
    ]) {
      expect(classifyText(text)).toEqual({ kind: 'text', text });
    }
  });
});

describe('dates', () => {
  it.each([
    ['10 June 2023', '2023-06-10'],
    ['10 Jun 2023', '2023-06-10'],
    ['10th June, 2023', '2023-06-10'],
    ['10-Jun-2023', '2023-06-10'],
    ['June 10, 2023', '2023-06-10'],
    ['Saturday, 10 June 2023', '2023-06-10'],
    ['2023-06-10', '2023-06-10'],
    ['10/06/2023', '2023-06-10'],
    ['10-06-2023', '2023-06-10'],
    ['10.06.2023', '2023-06-10'],
    ['10/06/23', '2023-06-10'],
    ['1/7/2023', '2023-07-01'],
    ['  10   june  2023 ', '2023-06-10'],
  ])('reads "%s" as %s', (text, date) => {
    expect(classifyText(text)).toEqual({ kind: 'date', date });
  });

  it('reads DD/MM, never MM/DD', () => {
    expect(classifyText('03/04/2024')).toEqual({ kind: 'date', date: '2024-04-03' });
    // 06/13 would be 13 June in MM/DD, but the thirteenth month does not exist.
    expect(classifyText('06/13/2023').kind).toBe('text');
  });

  it('fills a missing year with the next such day', () => {
    expect(classifyText('10 June')).toEqual({ kind: 'date', date: '2023-06-10' });
    expect(classifyText('8 June')).toEqual({ kind: 'date', date: '2023-06-08' });
    // Already past this year: the customer means next year.
    expect(classifyText('7 June')).toEqual({ kind: 'date', date: '2024-06-07' });
    expect(classifyText('12/06')).toEqual({ kind: 'date', date: '2023-06-12' });
    expect(classifyText('2 Jan', new Date('2023-12-30T20:00:00Z'))).toEqual({
      kind: 'date',
      date: '2024-01-02',
    });
  });

  it('reads relative day words from the UTC day of today', () => {
    const lateUtc = new Date('2023-06-08T23:59:00Z');

    expect(classifyText('Tomorrow', lateUtc)).toEqual({ kind: 'date', date: '2023-06-09' });
    expect(classifyText('day after tomorrow')).toEqual({ kind: 'date', date: '2023-06-10' });
  });

  it('refuses impossible dates', () => {
    for (const text of ['31 June 2023', '29/02/2023', '2023-02-30', '10 Junuary 2023']) {
      expect(classifyText(text)).toEqual({ kind: 'text', text });
    }
  });

  it('prefers the postback text over the title when both are dates', () => {
    expect(
      classifyReply({ interactiveTitle: '10 June 2023', postbackText: '2023-06-11' }, TODAY),
    ).toEqual({ kind: 'date', date: '2023-06-11' });
  });

  it('falls back to the title when the postback text is not a date', () => {
    expect(
      classifyReply({ interactiveTitle: '12 June 2023', postbackText: 'slot-b' }, TODAY),
    ).toEqual({ kind: 'date', date: '2023-06-12' });
  });
});

describe('numbered choices', () => {
  it.each([
    ['1', 1],
    ['2 ', 2],
    ['3.', 3],
    [' 2)', 2],
    ['(3)', 3],
    ['12', 12],
  ])('reads "%s" as choice %d', (text, index) => {
    expect(classifyText(text)).toEqual({ kind: 'choice', index });
  });

  it('keeps zero, long numbers and phone numbers as text', () => {
    for (const text of ['0', '123', '9876543210', '1 2']) {
      expect(classifyText(text)).toEqual({ kind: 'text', text });
    }
  });
});

describe('anything else', () => {
  it('returns the trimmed text', () => {
    expect(classifyText('  The parcel was damaged last time  ')).toEqual({
      kind: 'text',
      text: 'The parcel was damaged last time',
    });
  });

  it('returns the tapped title when there is no text', () => {
    expect(classifyReply({ buttonText: 'Talk later', buttonPayload: 'x-17' }, TODAY)).toEqual({
      kind: 'text',
      text: 'Talk later',
    });
  });

  it('returns empty text for an empty reply', () => {
    expect(classifyReply({}, TODAY)).toEqual({ kind: 'text', text: '' });
    expect(classifyReply({ text: null, buttonText: '   ' }, TODAY)).toEqual({
      kind: 'text',
      text: '',
    });
  });
});

describe('a 1 MiB reply', () => {
  const MiB = 1 << 20;
  function timed(input: Parameters<typeof classifyReply>[0]): { intent: Intent; ms: number } {
    const started = performance.now();
    const intent = classifyReply(input, TODAY);
    return { intent, ms: performance.now() - started };
  }

  it.each([
    ['plain words', 'please call me '.repeat(MiB / 15)],
    ['an action phrase, a long gap, then "not"', `cancel${' '.repeat(MiB)}not`],
    ['a day, a long run of letters', `10${'j'.repeat(MiB)}!`],
    ['a month, a long run of spaces', `june${' '.repeat(MiB)}x`],
    ['digits', '1'.repeat(MiB)],
    ['a weekday, then commas', `friday${','.repeat(MiB)}`],
  ])('is read as text in well under a second: %s', (_, text) => {
    const { intent, ms } = timed({ text });
    expect(intent).toEqual({ kind: 'text', text: text.trim() });
    expect(ms).toBeLessThan(1_000);
  });

  it('takes no field longer than a KiB for an action, a date or a choice', () => {
    const long = `Cancel my order${'!'.repeat(2_000)}`;
    const { intent, ms } = timed({
      postbackText: long,
      buttonPayload: long,
      interactiveTitle: long,
      buttonText: long,
      text: long,
    });
    expect(intent).toEqual({ kind: 'text', text: long });
    expect(ms).toBeLessThan(1_000);
  });

  it('still reads a short reply padded with a long run of whitespace', () => {
    const { intent, ms } = timed({ text: `  Cancel my order${' '.repeat(MiB)}` });
    expect(intent).toEqual({ kind: 'cancel' });
    expect(ms).toBeLessThan(1_000);
  });
});
