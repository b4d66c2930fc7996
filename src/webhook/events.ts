/**
 * The normalised shapes of what Gupshup posts to the webhook. Gupshup's two products (Enterprise
 * and self-serve v2) and its several transports all reduce to these two types; workers only ever
 * see these, stored in `webhook_events.payload`.
 */

/** One delivery report for a message we sent. */
export interface DeliveryReport {
  source: 'enterprise' | 'v2';
  /** Gupshup's id of our message: the id SendMessage returned (enterprise `externalId`, v2 `gsId`). */
  externalId: string;
  /** SENT | DELIVERED | READ | FAILED | … as Gupshup spells it, upper-cased. */
  eventType: string;
  cause: string | null;
  /** Three-digit code, leading zeros kept ("025"); enterprise `errorCode` or `errCode`. */
  errorCode: string | null;
  destAddr: string | null;
  srcAddr: string | null;
  /** Epoch milliseconds. */
  eventTs: number | null;
  /** Our correlation string echoed back (the idempotency key we sent in `extra`). */
  extra: string | null;
}

export type InboundType =
  | 'text'
  | 'button'
  | 'interactive'
  | 'image'
  | 'document'
  | 'location'
  | 'audio'
  | 'video'
  | 'voice'
  | 'contacts'
  | 'sticker'
  | 'unknown';

/** One message the customer sent us. */
export interface InboundMessage {
  source: 'enterprise' | 'v2';
  /** The provider's id of this inbound message, when given. */
  messageId: string | null;
  /** Enterprise `replyId`: the id of our message the customer answered. */
  replyId: string | null;
  /** WhatsApp id of the message answered (`context.id`). */
  contextId: string | null;
  /** Gupshup id of the message answered (v2 `context.gsId`). */
  contextGsId: string | null;
  /** Customer MSISDN, digits only, with country code. */
  mobile: string;
  /** Our business number the message was sent to. */
  waNumber: string | null;
  name: string | null;
  type: InboundType;
  text: string | null;
  buttonText: string | null;
  buttonPayload: string | null;
  interactiveId: string | null;
  interactiveTitle: string | null;
  /** A postback text carried inside an interactive reply's id (`{"postbackText": …}`). */
  postbackText: string | null;
  media: { mimeType: string | null; url: string | null; caption: string | null } | null;
  location: {
    latitude: number;
    longitude: number;
    name: string | null;
    address: string | null;
  } | null;
  /** Epoch milliseconds. */
  timestamp: number | null;
}

export type WebhookEvent =
  { kind: 'dlr'; report: DeliveryReport } | { kind: 'inbound'; message: InboundMessage };
