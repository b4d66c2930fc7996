/**
 * What a customer can tap on one of our messages, read from what the sandbox recorded of the
 * send: the rows of an interactive list, the reply buttons of an interactive message (either
 * API), or a template's quick-reply buttons (titles from the template, postback texts from a
 * self-serve send's `postbackTexts`). `pickChoice` finds one by 1-based number or by title.
 *
 * Pure; used by `sandbox.tap` (src/sandbox/server.ts), which turns the choice into a callback
 * with src/sandbox/formats.ts.
 */
import type { TappedChoice } from './formats.ts';
import type { InteractiveContent } from './interactive.ts';
import type { PostbackText } from './self-serve.ts';
import type { TemplateUse } from './templates.ts';

/** The parts of a recorded send that can offer choices. */
export interface ChoiceSource {
  interactive?: InteractiveContent;
  template?: TemplateUse;
  postbackTexts?: PostbackText[];
}

/** Every choice the message offered, in order; empty when it offered none. */
export function offeredChoices(send: ChoiceSource): TappedChoice[] {
  const { interactive, template } = send;
  if (interactive?.type === 'list') {
    return interactive.sections
      .flatMap((section) => section.rows)
      .map((row, index) => ({
        offer: 'list',
        index,
        title: row.title,
        // A self-serve option without a postback text has no id of ours: Gupshup makes one up.
        id: row.id ?? row.postbackText ?? `row-${index + 1}`,
        ...(row.description === undefined ? {} : { description: row.description }),
        ...(row.postbackText === undefined ? {} : { postbackText: row.postbackText }),
      }));
  }
  if (interactive?.type === 'buttons') {
    return interactive.buttons.map((button, index) => ({
      offer: 'buttons',
      index,
      title: button.title,
      id: button.id ?? button.postbackText ?? `button-${index + 1}`,
      ...(button.postbackText === undefined ? {} : { postbackText: button.postbackText }),
    }));
  }
  if (template) {
    return template.buttons.map((title, index) => {
      const postbackText = send.postbackTexts?.find((p) => p.index === index)?.text;
      return {
        offer: 'template',
        index,
        title,
        id: postbackText ?? `button-${index + 1}`,
        ...(postbackText === undefined ? {} : { postbackText }),
      };
    });
  }
  return [];
}

/**
 * The choice asked for: a number is its 1-based position; a string is a title (any case, outer
 * spaces ignored), or a position when no title matches and it is all digits.
 */
export function pickChoice(
  choices: readonly TappedChoice[],
  wanted: number | string,
): TappedChoice | null {
  if (typeof wanted === 'number') {
    return choices[wanted - 1] ?? null;
  }
  const title = wanted.trim().toLowerCase();
  const byTitle = choices.find((choice) => choice.title.trim().toLowerCase() === title);
  if (byTitle) {
    return byTitle;
  }
  return /^\d+$/.test(title) ? (choices[Number(title) - 1] ?? null) : null;
}
