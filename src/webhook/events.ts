/**
 * The normalised shapes of what Gupshup posts to the webhook. Gupshup's products (Enterprise,
 * self-serve v2, and the v3 Meta-format passthrough) and their several transports all reduce to
 * these types; workers only ever see these, stored in `webhook_events.payload`.
 */

/** Which of Gupshup's callback formats an event arrived in. */
export type CallbackFormat = 'enterprise' | 'v2' | 'v3';

/** One delivery report for a message we sent. */
export interface DeliveryReport {
  source: CallbackFormat;
  /**
   * Gupshup's id of our message: the id the send returned (enterprise `externalId`, v2 `gsId`,
   * v3 `gs_id`; else the provider's `id`).
   */
  externalId: string;
  /** SENT | DELIVERED | READ | FAILED | ENQUEUED | DELETED | MISMATCH | … upper-cased. */
  eventType: string;
  cause: string | null;
  /**
   * Enterprise: three-digit code, leading zeros kept ("025"), from `errorCode` or `errCode`.
   * v2: Gupshup's failure code (1002, 4005, …). v3: Meta's error code (131047, …).
   */
  errorCode: string | null;
  /** The customer's MSISDN, digits only, when given (null when only a user id is known). */
  destAddr: string | null;
  /** The sender: the enterprise mask (`srcAddr`), or our number in v3 (`display_phone_number`). */
  srcAddr: string | null;
  /** Epoch milliseconds. */
  eventTs: number | null;
  /**
   * Our correlation string echoed back (the outbox row's correlation key we sent in `extra`;
   * v3 `biz_opaque_callback_data`). Outside input: it identifies a message only by matching a
   * stored correlation key exactly.
   */
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
  | 'reaction'
  | 'unknown';

/** One message the customer sent us. */
export interface InboundMessage {
  source: CallbackFormat;
  /** The provider's id of this inbound message, when given. */
  messageId: string | null;
  /** Enterprise `replyId`: the id of our message the customer answered. */
  replyId: string | null;
  /** WhatsApp id of the message answered (`context.id`). */
  contextId: string | null;
  /** Gupshup id of the message answered (v2 `context.gsId`, v3 `context.gs_id`). */
  contextGsId: string | null;
  /**
   * Customer MSISDN, digits only, with country code; null when the platform withholds it (Meta
   * sends a business-scoped `userId` instead for users with a username).
   */
  mobile: string | null;
  /**
   * Meta's business-scoped user id, when given (v3 `from_user_id`, `user_id` or
   * `contacts[].user_id`; v2 `sender.userId`). Scoped to one business portfolio.
   */
  userId: string | null;
  /** Our business number the message was sent to. */
  waNumber: string | null;
  name: string | null;
  type: InboundType;
  text: string | null;
  buttonText: string | null;
  buttonPayload: string | null;
  interactiveId: string | null;
  interactiveTitle: string | null;
  /**
   * A postback text: a field of its own (v2 quick replies and list rows, `postbackText`), or
   * carried inside an interactive reply's id (`{"postbackText": …}`, the seed's date reply).
   */
  postbackText: string | null;
  /**
   * An image, document, audio, voice note, video or sticker. `id` is the provider's media id
   * (Meta's, in v3 and some enterprise deployments), the only handle on the file when no `url` is
   * given.
   */
  media: {
    id: string | null;
    mimeType: string | null;
    url: string | null;
    caption: string | null;
  } | null;
  location: {
    latitude: number;
    longitude: number;
    name: string | null;
    address: string | null;
  } | null;
  /** Epoch milliseconds. */
  timestamp: number | null;
}

/**
 * A v2 `user-event` (opted-in, opted-out, sandbox-start, …): `opted-out` and `opted-in` change
 * the suppression list (`reply.route`, src/suppression.ts); any other is stored only.
 */
export interface UserEvent {
  source: CallbackFormat;
  /** The event as Gupshup names it, lower-cased: `opted-in`, `opted-out`, … */
  type: string;
  /** The customer's MSISDN, digits only, when given. */
  phone: string | null;
  /** Our app's name, when given. */
  app: string | null;
  /** Epoch milliseconds. */
  timestamp: number | null;
}

/** A v2 `billing-event` (what a message cost): stored, not acted on. */
export interface BillingEvent {
  source: CallbackFormat;
  /** Gupshup's id of the message billed (`references.gsId`, else `references.id`), when given. */
  messageId: string | null;
  /**
   * Meta's pricing category (`utility`, `service`, …), when given: `deductions.category`, or
   * before per-message pricing `deductions.type`.
   */
  category: string | null;
  /** `deductions.billable`, when given. */
  billable: boolean | null;
  /** Epoch milliseconds. */
  timestamp: number | null;
}

/**
 * Something Gupshup legitimately posts that the service has no use for (a v2 template-event or
 * account-event, a v3 change of another field, an echo of our own message): acknowledged with
 * 200 and recorded as ignored, never refused. Holds no personal data.
 */
export interface IgnoredCallback {
  source: CallbackFormat;
  /** What it was, e.g. `v2 template-event`, `v3 field account_update`, `v3 message echo`. */
  what: string;
  /** Why nothing is done with it. */
  reason: string;
  /** Epoch milliseconds, when given. */
  timestamp: number | null;
}

export type WebhookEvent =
  | { kind: 'dlr'; report: DeliveryReport }
  | { kind: 'inbound'; message: InboundMessage }
  | { kind: 'user'; event: UserEvent }
  | { kind: 'billing'; event: BillingEvent }
  | { kind: 'ignored'; ignored: IgnoredCallback };
