/**
 * An FDR template rendered for one shipment, as its outbox row holds it: shared by the FDR
 * message (`fdr.validate`) and a no-reply reminder with a template of its own.
 */
import type { StoredTemplate } from '../db/templates.ts';
import { encodeContent } from '../outbox-content.ts';
import { classifyReply } from '../replies/intent.ts';
import type { PostbackAction } from '../replies/postback.ts';

/**
 * A rendered template as an outbox row holds it: the text, and as content its placeholder values
 * in order and the action each quick-reply button stands for.
 */
export function templateContent(
  template: Pick<StoredTemplate, 'buttons'>,
  rendered: { text: string; params: Record<number, string> },
): { body: string; content: string } {
  return {
    body: rendered.text,
    content: encodeContent({
      kind: 'template',
      params: Object.keys(rendered.params)
        .map(Number)
        .sort((a, b) => a - b)
        .map((n) => rendered.params[n] ?? ''),
      buttons: template.buttons.map(buttonAction),
    }),
  };
}

/**
 * The action a template quick-reply button stands for, by its title ("Reattempt delivery" →
 * reattempt): its signed postback, where the API sends one, names it. A title that names no
 * action gets no postback and is read by its words when tapped.
 */
function buttonAction(title: string): PostbackAction | null {
  const intent = classifyReply({ buttonText: title }, new Date());
  switch (intent.kind) {
    case 'reattempt':
    case 'reschedule':
    case 'cancel':
    case 'update_address':
    case 'alternate_number':
      return intent.kind;
    case 'raise_concern':
      return 'concern';
    default:
      return null;
  }
}
