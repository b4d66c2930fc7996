/**
 * Every message the customer gets after they reply, as they see it: the date list, the
 * confirmations with their next choices as reply buttons, the portal link, the concern prompt and
 * the standard reply. Each follow-up has two forms: the native interactive one (a list, reply
 * buttons or a call-to-action URL button, every choice's id a signed postback) and a text one that
 * says the same in words the reply reader understands (numbered dates, "reply CHANGE DATE"). The
 * `message.send` worker sends the interactive form where the connection can, else the text.
 *
 * Pure: the `reply.route` worker passes a signer bound to the conversation.
 */
import type { ListRow, ReplyButton, SessionContent } from '../gupshup/types.ts';
import type { NdrAction } from '../wms/client.ts';
import { formatDateChoice, formatDateRow } from './dates.ts';
import type { Postback } from './postback.ts';

/** Why a follow-up is sent; also the outbox row's `reason` and its timeline label. */
export type FollowUpPurpose =
  | 'date_choices'
  | 'concern_prompt'
  | 'portal_link'
  | 'standard_reply'
  | 'confirmation'
  | 'invalid_choice'
  | 'opt_out_confirmation'
  | 'apology';

export interface FollowUp {
  purpose: FollowUpPurpose;
  /** The text form: what is sent where interactive messages cannot go. */
  text: string;
  /** The interactive form; null for a plain text message. */
  interactive: Exclude<SessionContent, { type: 'text' }> | null;
}

/** Signs a choice of this conversation (src/replies/postback.ts, bound to its key). */
export type SignChoice = (choice: Omit<Postback, 'conversation'>) => string;

/** How each follow-up's timeline entry names it. */
export const FOLLOW_UP_LABELS: Readonly<Record<FollowUpPurpose, string>> = {
  date_choices: 'delivery date choices',
  concern_prompt: 'asked for the concern',
  portal_link: 'customer portal link',
  standard_reply: 'order no longer in failed delivery',
  confirmation: 'action confirmed',
  invalid_choice: 'asked to choose again',
  opt_out_confirmation: 'opt-out confirmed',
  apology: "apology for the courier's missed delivery, dates offered again",
};

const CHANGE_DATE = 'Change date';
const CHOOSE_DATE = 'Choose a date';
const TALK_TO_US = 'Talk to us';

/** The next delivery dates as a list, each row's id the signed date. */
export function dateChoices(sign: SignChoice, dates: readonly string[], intro?: string): FollowUp {
  const ask = 'Please choose a new delivery date';
  const rows: ListRow[] = dates.map((date) => ({
    id: sign({ action: 'date', date }),
    title: formatDateRow(date),
  }));
  const lines = dates.map((d, i) => `${i + 1}. ${formatDateRow(d)}`);
  const lead = intro ? `${intro} ` : '';
  return {
    purpose: intro ? 'invalid_choice' : 'date_choices',
    text: `${lead}${ask}:\n${lines.join('\n')}\nReply with ${numbers(dates.length)}.`,
    interactive: {
      type: 'list',
      body: `${lead}${ask} from the list.`,
      button: 'Choose a date',
      section: 'Delivery dates',
      rows,
    },
  };
}

/**
 * The apology when the courier did not do what the customer asked for (src/outcomes/apology.ts),
 * with the delivery dates to choose from again.
 */
export function apology(sign: SignChoice, dates: readonly string[]): FollowUp {
  return {
    ...dateChoices(
      sign,
      dates,
      'We are sorry: the courier did not deliver as you asked. We will make sure they do.',
    ),
    purpose: 'apology',
  };
}

/** A date the customer asked for that the courier cannot deliver on, then the dates again. */
export function invalidDate(sign: SignChoice, date: string, dates: readonly string[]): FollowUp {
  const asked = formatDateOrRaw(date);
  return dateChoices(sign, dates, `Sorry, ${asked} is not a date we can deliver on.`);
}

/** The action booked, and what the customer may do next as reply buttons. */
export function confirmation(sign: SignChoice, action: NdrAction, deliveryDate?: string): FollowUp {
  const change = (title: string): ReplyButton => ({ id: sign({ action: 'reschedule' }), title });
  const talk: ReplyButton = { id: sign({ action: 'concern' }), title: TALK_TO_US };
  switch (action) {
    case 'RESCHEDULE': {
      const date = deliveryDate ? formatDateChoice(deliveryDate) : 'the date you chose';
      return withButtons(
        `Your delivery is rescheduled to ${date}. Thank you!`,
        [change(CHANGE_DATE), talk],
        `To choose another date, reply CHANGE DATE; to talk to us, reply HELP.`,
      );
    }
    case 'REATTEMPT':
      return withButtons(
        'We will attempt the delivery again. Thank you!',
        [change(CHOOSE_DATE), talk],
        'To choose a date instead, reply NEW DATE; to talk to us, reply HELP.',
      );
    case 'CANCEL':
      return withButtons(
        'Your order will be cancelled as requested.',
        [talk],
        'To talk to us, reply HELP.',
      );
    case 'RAISE_CONCERN':
      return text(
        'confirmation',
        'Thank you. Your concern is recorded and our team will contact you.',
      );
  }
}

/** The signed portal link, as a call-to-action URL button where the API has one. */
export function portalLink(why: 'update_address' | 'alternate_number', link: string): FollowUp {
  const what =
    why === 'update_address' ? 'update your delivery address' : 'add an alternate contact number';
  return {
    purpose: 'portal_link',
    text: `Please ${what} here: ${link}`,
    interactive: {
      type: 'cta_url',
      body: `Please ${what} on our page.`,
      displayText: why === 'update_address' ? 'Update address' : 'Add number',
      url: link,
    },
  };
}

export function concernPrompt(): FollowUp {
  return text(
    'concern_prompt',
    'Please tell us your concern in one message and we will get back to you.',
  );
}

/** The order is no longer in failed delivery: nothing to do. */
export function standardReply(status: string): FollowUp {
  return text(
    'standard_reply',
    `Thank you for your reply. Your order is now ${status.replace(/_/g, ' ')}, so no action is needed. For any help, please contact the store.`,
  );
}

/**
 * The opt-out confirmation, when the account has no template for it (`optOutTemplateId`): sent
 * once per opt-out message, while the customer's window is open (they have just written).
 */
export function optOutConfirmation(optInKeyword: string | undefined): FollowUp {
  const back = optInKeyword ? ` To get them again, reply ${optInKeyword}.` : '';
  return text(
    'opt_out_confirmation',
    `You will no longer receive WhatsApp messages from us.${back}`,
  );
}

function withButtons(body: string, buttons: ReplyButton[], howToReply: string): FollowUp {
  return {
    purpose: 'confirmation',
    text: `${body}\n${howToReply}`,
    interactive: { type: 'buttons', body, buttons },
  };
}

function text(purpose: FollowUpPurpose, body: string): FollowUp {
  return { purpose, text: body, interactive: null };
}

/** "1", "1 or 2", "1, 2 or 3". */
function numbers(count: number): string {
  const all = Array.from({ length: count }, (_v, i) => String(i + 1));
  const last = all.pop();
  return all.length ? `${all.join(', ')} or ${last}` : (last ?? '');
}

function formatDateOrRaw(date: string): string {
  try {
    return formatDateChoice(date);
  } catch {
    return date;
  }
}
