/**
 * What a customer's reply means, read without the conversation's state: a tap whose signed
 * postback checks (src/replies/postback.ts) means what the postback says; one whose postback
 * fails its check is forged — free text, never acted on; an image, document, location … is
 * media; anything else is read from its words (src/replies/intent.ts). Also the one-line
 * summary the timeline shows. Pure: the `reply.route` worker passes the postback keys and the
 * reply's time, then hands the meaning to the rule table (src/replies/rules.ts).
 */
import { cutForSearch } from '../match-limit.ts';
import type { InboundMessage } from '../webhook/events.ts';
import { classifyReply, type Intent } from './intent.ts';
import {
  findPostback,
  type Postback,
  type PostbackKeys,
  type PostbackReading,
} from './postback.ts';
import type { ReplyMeaning } from './rules.ts';

/** A reply as read: its signed postback (if any) and what it means. */
export interface ReadReply {
  postback: PostbackReading;
  meaning: ReplyMeaning;
}

const MEDIA_LABELS: Record<string, string> = {
  image: 'an image',
  document: 'a document',
  location: 'a location',
  audio: 'an audio message',
  voice: 'a voice message',
  video: 'a video',
  contacts: 'a contact card',
  sticker: 'a sticker',
  reaction: 'a reaction',
};

const MEDIA_TYPES: ReadonlySet<string> = new Set([
  'image',
  'document',
  'location',
  'audio',
  'video',
  'voice',
  'contacts',
  'sticker',
  'reaction',
]);

/**
 * What a reply means: a tap whose signed postback checks means what the postback says; one whose
 * postback fails is forged (free text, never acted on); media is media; anything else is read
 * from its words (src/replies/intent.ts).
 */
export function readReply(keys: PostbackKeys, message: InboundMessage, at: Date): ReadReply {
  const postback = findPostback(keys, [
    message.interactiveId,
    message.postbackText,
    message.buttonPayload,
  ]);
  if (postback.kind === 'valid') {
    return {
      postback,
      meaning: { kind: 'intent', intent: intentOf(postback.postback), signed: true },
    };
  }
  if (postback.kind === 'invalid') {
    return { postback, meaning: { kind: 'forged', reason: postback.reason } };
  }
  if (MEDIA_TYPES.has(message.type)) {
    return { postback, meaning: { kind: 'media' } };
  }
  const intent = classifyReply(
    {
      buttonText: message.buttonText,
      buttonPayload: message.buttonPayload,
      interactiveTitle: message.interactiveTitle,
      postbackText: message.postbackText,
      text: message.text,
    },
    at,
  );
  return { postback, meaning: { kind: 'intent', intent, signed: false } };
}

function intentOf(postback: Postback): Intent {
  switch (postback.action) {
    case 'date':
      return { kind: 'date', date: postback.date ?? '' };
    case 'concern':
      return { kind: 'raise_concern' };
    default:
      return { kind: postback.action };
  }
}

/** `whatsapp_replies.intent`: the intent read, `invalid_postback`, or the media type. */
export function intentLabel(meaning: ReplyMeaning, message: InboundMessage): string {
  if (meaning.kind === 'intent') {
    return meaning.intent.kind;
  }
  return meaning.kind === 'forged' ? 'invalid_postback' : message.type;
}

/**
 * The reply in one line, for the timeline: what was tapped or typed, or what was sent. At most
 * 500 characters are kept, so only the first KiB is read (cut before the whitespace is folded).
 */
export function summarise(message: InboundMessage): string {
  const text =
    message.buttonText ??
    message.interactiveTitle ??
    message.postbackText ??
    message.text ??
    (MEDIA_LABELS[message.type] ?? `a ${message.type} message`) +
      (message.media?.caption ? ` (${message.media.caption})` : '');
  return cutForSearch(text).replace(/\s+/g, ' ').trim().slice(0, 500);
}
