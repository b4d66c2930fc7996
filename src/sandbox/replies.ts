/**
 * Builders for enterprise inbound messages (reference facts §3) in the seed's shapes, for
 * `sandbox.simulateReply` and `POST /_sandbox/reply`: a tap on a template quick-reply button
 * (test/fixtures/gupshup-inbound-button.json), a free text, and a tap on an interactive session
 * button or list row (test/fixtures/gupshup-inbound-interactive-date.json). Object-ish fields are
 * JSON strings, as the seed's payloads carry them.
 */
import { randomBytes } from 'node:crypto';

/** Fields every inbound message carries. */
export interface ReplyParty {
  /** The customer's MSISDN, digits only. */
  mobile: string;
  /** Our business WhatsApp number. */
  waNumber: string;
  /** The customer's profile name. */
  name?: string;
  /** Epoch ms; now by default. */
  timestamp?: number | string;
}

export interface ButtonReplyInput extends ReplyParty {
  /** The Gupshup id of our message the button belongs to (what the send answered). */
  replyId: string;
  /** This inbound message's id (the seed's `376937873247896673`). */
  messageId: string;
  /** The button's title, e.g. `Select new delivery date`. */
  text: string;
  /** WhatsApp id of our message in `context.id`; generated when absent. */
  contextId?: string;
}

export interface TextReplyInput extends ReplyParty {
  text: string;
  /** Present when the customer quoted one of our messages. */
  replyId?: string;
  messageId?: string;
}

export interface InteractiveReplyInput extends ReplyParty {
  /** `button_reply` for reply buttons, `list_reply` for list rows. */
  kind: 'button_reply' | 'list_reply';
  /** The id we gave the button or row. */
  id: string;
  title: string;
  description?: string;
  /** The Gupshup id of our message the tap answers (its first half, as the gateway names it). */
  replyId?: string;
  messageId?: string;
  contextId?: string;
}

export const DEFAULT_NAME = 'Sandbox Customer';

/** A tap on a template quick-reply button: `type: button`, `button` = `{"text": ...}`. */
export function buttonReply(input: ButtonReplyInput): Record<string, string> {
  return {
    mobile: input.mobile,
    type: 'button',
    button: JSON.stringify({ text: input.text }),
    context: JSON.stringify({ from: input.waNumber, id: input.contextId ?? generateWaId() }),
    timestamp: String(input.timestamp ?? Date.now()),
    waNumber: input.waNumber,
    replyId: input.replyId,
    messageId: input.messageId,
    name: input.name ?? DEFAULT_NAME,
  };
}

/** A free-text message, optionally quoting one of ours. */
export function textReply(input: TextReplyInput): Record<string, string> {
  return {
    mobile: input.mobile,
    type: 'text',
    text: input.text,
    timestamp: String(input.timestamp ?? Date.now()),
    waNumber: input.waNumber,
    ...(input.replyId === undefined ? {} : { replyId: input.replyId }),
    messageId: input.messageId ?? generateWaId(),
    name: input.name ?? DEFAULT_NAME,
  };
}

/** A tap on an interactive session button or list row, in Meta's shape as a JSON string. */
export function interactiveReply(input: InteractiveReplyInput): Record<string, string> {
  const choice = {
    id: input.id,
    title: input.title,
    ...(input.description === undefined ? {} : { description: input.description }),
  };
  return {
    mobile: input.mobile,
    type: 'interactive',
    interactive: JSON.stringify({ type: input.kind, [input.kind]: choice }),
    context: JSON.stringify({ from: input.waNumber, id: input.contextId ?? generateWaId() }),
    timestamp: String(input.timestamp ?? Date.now()),
    waNumber: input.waNumber,
    ...(input.replyId === undefined ? {} : { replyId: input.replyId }),
    messageId: input.messageId ?? generateWaId(),
    name: input.name ?? DEFAULT_NAME,
  };
}

/** WhatsApp ids look like `gBEGkZZQGGaXAgkHASKxKpM-kA4`. */
export function generateWaId(): string {
  return `gBEG${randomBytes(17).toString('base64url')}`;
}
