/**
 * MySQL tables (drizzle mysql-core). Runs on MySQL 8 in production and MariaDB 10.11 in tests,
 * so only the common subset is used (no JSON column type, no RETURNING, no lateral joins).
 *
 * The first four tables are named by the product spec and read by other company systems:
 * their table and column names are kept exactly. The rest are this service's own.
 */
import { sql } from 'drizzle-orm';
import {
  bigint,
  char,
  customType,
  date,
  datetime,
  index,
  int,
  mediumtext,
  mysqlTable,
  primaryKey,
  text,
  tinyint,
  uniqueIndex,
  varchar,
} from 'drizzle-orm/mysql-core';

/**
 * A varchar compared byte for byte (`utf8mb4_bin`), where the database's default collation would
 * take `a` and `A` for the same: for values that are secrets in part, matched exactly or not at all.
 */
const exactVarchar = (name: string, length: number) =>
  customType<{ data: string; driverData: string }>({
    dataType: () => `varchar(${length}) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin`,
  })(name);

const createdAt = () =>
  datetime('created_at', { mode: 'date', fsp: 3 })
    .notNull()
    .default(sql`CURRENT_TIMESTAMP(3)`);
const updatedAt = () =>
  datetime('updated_at', { mode: 'date', fsp: 3 })
    .notNull()
    .default(sql`CURRENT_TIMESTAMP(3)`)
    .$onUpdate(() => new Date());

/** Per account and notification type (one row per FDR reason): is WhatsApp on, which template. */
export const poeChannelNotifications = mysqlTable(
  'poe_channel_notifications',
  {
    id: int('id').autoincrement().primaryKey(),
    accountId: int('account_id').notNull(),
    notificationType: varchar('notification_type', { length: 64 }).notNull(),
    isWhatsappEnabled: tinyint('isWhatsappEnabled').notNull().default(0),
    whatsappTemplateId: varchar('whatsappTemplateId', { length: 128 }),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [
    uniqueIndex('poe_channel_notifications_account_type').on(t.accountId, t.notificationType),
  ],
);

/** Per account: which Gupshup sender connection sends, and the store's own contact details. */
export const poeChannelSettings = mysqlTable('poe_channel_settings', {
  id: int('id').autoincrement().primaryKey(),
  accountId: int('account_id').notNull().unique('poe_channel_settings_account'),
  whatsappSenderConnectionId: varchar('whatsappSenderConnectionId', { length: 64 }),
  storeName: varchar('store_name', { length: 255 }),
  supportContactNumber: varchar('support_contact_number', { length: 32 }),
  supportEmailAddress: varchar('support_email_address', { length: 255 }),
  /**
   * The account's conversation policy as JSON (src/policy.ts): quiet hours, the no-reply rule,
   * opt-out and opt-in keywords, reminder and opt-out templates. Null, or a key left out, takes
   * the platform default; `quietHours: null` switches quiet hours off for the account.
   */
  conversationPolicy: text('conversation_policy'),
  createdAt: createdAt(),
  updatedAt: updatedAt(),
});

/** One row per WhatsApp message sent for a shipment; `status` only moves forward. */
export const whatsappStatusLogs = mysqlTable(
  'whatsapp_status_logs',
  {
    id: bigint('id', { mode: 'number', unsigned: true }).autoincrement().primaryKey(),
    shipmentId: varchar('shipment_id', { length: 64 }).notNull(),
    status: varchar('status', { length: 16 }).notNull(),
    messageId: varchar('message_id', { length: 128 }),
    remarks: mediumtext('remarks'),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
    externalUpdatedAt: datetime('external_updatedAt', { mode: 'date', fsp: 3 }),
  },
  (t) => [
    index('whatsapp_status_logs_shipment').on(t.shipmentId),
    index('whatsapp_status_logs_message').on(t.messageId),
    // Retention clears old report history by age (src/retention.ts).
    index('whatsapp_status_logs_created').on(t.createdAt),
  ],
);

/** Which of the eleven defined variables fills which placeholder of a template. */
export const whatsappTemplateVariables = mysqlTable(
  'whatsappTemplateVariables',
  {
    id: int('id').autoincrement().primaryKey(),
    variableNumber: int('variable_number').notNull(),
    definedVariable: varchar('defined_variable', { length: 64 }).notNull(),
    description: varchar('description', { length: 512 }),
    templateId: varchar('template_id', { length: 128 }).notNull(),
  },
  (t) => [
    uniqueIndex('whatsapp_template_variables_template_number').on(t.templateId, t.variableNumber),
  ],
);

/** Template bodies known to the service: the platform defaults and clients' verified templates. */
export const whatsappTemplates = mysqlTable('whatsapp_templates', {
  id: varchar('id', { length: 128 }).primaryKey(),
  name: varchar('name', { length: 255 }).notNull(),
  /** The FDR reason this template is the platform default for; null for clients' templates. */
  defaultForReason: varchar('default_for_reason', { length: 64 }).unique(
    'whatsapp_templates_default_reason',
  ),
  /**
   * Sender connection the template was verified on (`default` or a client's connection id); null
   * for the seeded platform defaults, which belong to the default app.
   */
  connectionId: varchar('connection_id', { length: 64 }),
  body: text('body').notNull(),
  /** Quick-reply button titles, JSON array of strings (approved with the template). */
  buttons: text('buttons').notNull(),
  category: varchar('category', { length: 32 }).notNull().default('UTILITY'),
  status: varchar('status', { length: 32 }).notNull().default('APPROVED'),
  /**
   * Set when Gupshup or Meta refused a send of this template as paused or not matching
   * (src/gupshup/error-actions.ts `template_refused`): the send's code (`v2_4005`), its reason and
   * when. Cleared when the template is verified again.
   */
  refusedCode: varchar('refused_code', { length: 32 }),
  refusedReason: varchar('refused_reason', { length: 255 }),
  refusedAt: datetime('refused_at', { mode: 'date', fsp: 3 }),
  createdAt: createdAt(),
  updatedAt: updatedAt(),
});

/** Gupshup sender accounts of clients. The platform default app comes from the environment. */
export const whatsappSenderConnections = mysqlTable(
  'whatsapp_sender_connections',
  {
    id: int('id').autoincrement().primaryKey(),
    accountId: int('account_id').notNull(),
    appName: varchar('app_name', { length: 128 }).notNull(),
    waNumber: varchar('wa_number', { length: 20 }).notNull(),
    /** Which Gupshup API the app uses: `enterprise` (userid/password) or `self-serve` (API key). */
    api: varchar('api', { length: 16 }).notNull().default('enterprise'),
    /**
     * AES-256-GCM ciphertexts (`v1:keyId:iv:tag:data`, src/credentials.ts); never plaintext.
     * Enterprise apps have userid and password; self-serve apps have only the API key.
     */
    useridEnc: text('userid_enc'),
    passwordEnc: text('password_enc'),
    twoWayUseridEnc: text('two_way_userid_enc'),
    twoWayPasswordEnc: text('two_way_password_enc'),
    apiKeyEnc: text('api_key_enc'),
    /** Sends per second this app may make (its WhatsApp number's limit); null: the default. */
    maxPerSecond: int('max_per_second'),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [index('whatsapp_sender_connections_account').on(t.accountId)],
);

/**
 * Inbox of FDR events: one row per shipment and failed-delivery attempt. Written before Pub/Sub
 * is acknowledged, so MySQL (not Redis) is the record of what must still be validated.
 */
export const fdrInbox = mysqlTable(
  'fdr_inbox',
  {
    id: bigint('id', { mode: 'number', unsigned: true }).autoincrement().primaryKey(),
    /** `<shipmentId>#<attempt>`: a redelivered event hits this key and changes nothing. */
    eventKey: varchar('event_key', { length: 191 }).notNull().unique('fdr_inbox_event_key'),
    shipmentId: varchar('shipment_id', { length: 64 }).notNull(),
    attempt: int('attempt').notNull(),
    accountId: int('account_id'),
    pubsubMessageId: varchar('pubsub_message_id', { length: 128 }),
    payload: mediumtext('payload').notNull(),
    /** received → processed | skipped | failed */
    status: varchar('status', { length: 16 }).notNull().default('received'),
    reason: varchar('reason', { length: 512 }),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [index('fdr_inbox_status_created').on(t.status, t.createdAt)],
);

/** Outbox of WhatsApp messages to send: one row per message, unique by idempotency key. */
export const notificationOutbox = mysqlTable(
  'notification_outbox',
  {
    id: bigint('id', { mode: 'number', unsigned: true }).autoincrement().primaryKey(),
    /** `fdr-<shipment>-<attempt>`, `reply-<reply>-<purpose>`: one step yields one message. */
    idempotencyKey: varchar('idempotency_key', { length: 191 })
      .notNull()
      .unique('notification_outbox_key'),
    /**
     * What goes to Gupshup in `msg_id`/`extra` and comes back in delivery reports: the
     * idempotency key, a dot and 22 random base64url characters (128 bits), drawn once when the
     * row is inserted, so every attempt sends the same value and nobody can guess it. A report's
     * `extra` matches this whole value, byte for byte (case included), or nothing. Null on rows written before it existed: those
     * are never matched by `extra`.
     */
    correlationKey: exactVarchar('correlation_key', 191).unique('notification_outbox_correlation'),
    kind: varchar('kind', { length: 32 }).notNull(),
    shipmentId: varchar('shipment_id', { length: 64 }).notNull(),
    accountId: int('account_id').notNull(),
    inboxId: bigint('inbox_id', { mode: 'number', unsigned: true }),
    /** For follow-up (session) messages: the conversation they belong to. */
    conversationId: bigint('conversation_id', { mode: 'number', unsigned: true }),
    reason: varchar('reason', { length: 64 }),
    connectionId: varchar('connection_id', { length: 64 }).notNull(),
    templateId: varchar('template_id', { length: 128 }),
    toNumber: varchar('to_number', { length: 20 }).notNull(),
    customerName: varchar('customer_name', { length: 255 }),
    /** The text sent: the rendered template, or a session message's text (version). */
    body: text('body').notNull(),
    /**
     * JSON, src/workers/message-send.ts `OutboxContent`: for a template its placeholder values and
     * the actions of its quick-reply buttons; for an interactive session message (list, reply
     * buttons, call-to-action URL) its content, `body` then being its numbered-text version.
     */
    content: text('content'),
    /** pending → sending → sent | failed */
    status: varchar('status', { length: 16 }).notNull().default('pending'),
    attempts: int('attempts').notNull().default(0),
    gupshupMessageId: varchar('gupshup_message_id', { length: 128 }),
    statusLogId: bigint('status_log_id', { mode: 'number', unsigned: true }),
    errorCode: varchar('error_code', { length: 32 }),
    lastError: varchar('last_error', { length: 1024 }),
    sentAt: datetime('sent_at', { mode: 'date', fsp: 3 }),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [
    index('notification_outbox_status_created').on(t.status, t.createdAt),
    index('notification_outbox_shipment').on(t.shipmentId),
    index('notification_outbox_gupshup').on(t.gupshupMessageId),
    // Reports without our key are matched to a customer's unfinished send by number.
    index('notification_outbox_to_status').on(t.toNumber, t.status),
  ],
);

/**
 * The shipment activity timeline. Rows are written by the step that happened (keyed, so a
 * retried step writes nothing twice); `activity.emit` publishes them and sets `published_at`.
 */
export const shipmentActivity = mysqlTable(
  'shipment_activity',
  {
    id: bigint('id', { mode: 'number', unsigned: true }).autoincrement().primaryKey(),
    activityKey: varchar('activity_key', { length: 191 }).notNull().unique('shipment_activity_key'),
    shipmentId: varchar('shipment_id', { length: 64 }).notNull(),
    accountId: int('account_id'),
    kind: varchar('kind', { length: 32 }).notNull(),
    title: varchar('title', { length: 512 }).notNull(),
    /** JSON object with the entry's data points (app name, numbers, times, status…). */
    details: text('details').notNull(),
    occurredAt: datetime('occurred_at', { mode: 'date', fsp: 3 }).notNull(),
    publishedAt: datetime('published_at', { mode: 'date', fsp: 3 }),
    createdAt: createdAt(),
  },
  (t) => [
    index('shipment_activity_shipment').on(t.shipmentId, t.occurredAt),
    index('shipment_activity_account').on(t.accountId, t.id),
    index('shipment_activity_unpublished').on(t.publishedAt, t.createdAt),
  ],
);

/**
 * Raw Gupshup webhook events (delivery reports and inbound messages), normalised, stored before
 * the webhook answers. `event_key` makes a repeated callback a no-op.
 */
export const webhookEvents = mysqlTable(
  'webhook_events',
  {
    id: bigint('id', { mode: 'number', unsigned: true }).autoincrement().primaryKey(),
    eventKey: varchar('event_key', { length: 191 }).notNull().unique('webhook_events_key'),
    /** dlr | inbound */
    kind: varchar('kind', { length: 16 }).notNull(),
    /** The normalised event as JSON (see src/webhook/events.ts). */
    payload: mediumtext('payload').notNull(),
    /**
     * Inbound messages only: the request body exactly as received and its hex SHA-256, copied
     * into `whatsapp_reply_evidence` when the message is bound to a conversation as a reply.
     */
    rawBody: mediumtext('raw_body'),
    bodySha256: char('body_sha256', { length: 64 }),
    /** received → processed | ignored | failed */
    status: varchar('status', { length: 16 }).notNull().default('received'),
    note: varchar('note', { length: 512 }),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [index('webhook_events_status_created').on(t.status, t.createdAt)],
);

/**
 * One conversation per FDR template message sent: what the customer's replies bind to, and what
 * the service is waiting for from them (a date, a concern).
 */
export const whatsappConversations = mysqlTable(
  'whatsapp_conversations',
  {
    id: bigint('id', { mode: 'number', unsigned: true }).autoincrement().primaryKey(),
    outboxId: bigint('outbox_id', { mode: 'number', unsigned: true })
      .notNull()
      .unique('whatsapp_conversations_outbox'),
    shipmentId: varchar('shipment_id', { length: 64 }).notNull(),
    accountId: int('account_id').notNull(),
    customerNumber: varchar('customer_number', { length: 20 }).notNull(),
    /**
     * The customer's business-scoped user id (Meta's, for users with a username), once a reply
     * proved it belongs to this customer; a later reply without a number is checked against it.
     */
    customerUserId: varchar('customer_user_id', { length: 128 }),
    connectionId: varchar('connection_id', { length: 64 }).notNull(),
    /** null | date | concern */
    awaiting: varchar('awaiting', { length: 16 }),
    /** JSON array of YYYY-MM-DD offered to the customer. */
    offeredDates: text('offered_dates'),
    /** The latest reply that asks for an action; only it is acted on (settle window). */
    lastActionableReplyId: bigint('last_actionable_reply_id', { mode: 'number', unsigned: true }),
    closedAt: datetime('closed_at', { mode: 'date', fsp: 3 }),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [index('whatsapp_conversations_number').on(t.customerNumber, t.createdAt)],
);

/** Every customer reply bound to a conversation, and what became of it. */
export const whatsappReplies = mysqlTable(
  'whatsapp_replies',
  {
    id: bigint('id', { mode: 'number', unsigned: true }).autoincrement().primaryKey(),
    webhookEventId: bigint('webhook_event_id', { mode: 'number', unsigned: true })
      .notNull()
      .unique('whatsapp_replies_event'),
    conversationId: bigint('conversation_id', { mode: 'number', unsigned: true }).notNull(),
    shipmentId: varchar('shipment_id', { length: 64 }).notNull(),
    /** The inbound message type: text, button, interactive, image, document, location, … */
    type: varchar('type', { length: 16 }).notNull(),
    /** The classified intent: reattempt, reschedule, date, cancel, raise_concern, text, media … */
    intent: varchar('intent', { length: 32 }).notNull(),
    summary: varchar('summary', { length: 512 }),
    receivedAt: datetime('received_at', { mode: 'date', fsp: 3 }).notNull(),
    /** pending → acted | superseded | logged | declined */
    state: varchar('state', { length: 16 }).notNull().default('pending'),
    action: varchar('action', { length: 32 }),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [
    index('whatsapp_replies_conversation').on(t.conversationId, t.id),
    // The personal-data retention job's walk.
    index('whatsapp_replies_received').on(t.receivedAt),
  ],
);

/**
 * What a sender connection turned out not to support, remembered across replicas: an account
 * that refused interactive messages gets their text versions until INTERACTIVE_RECHECK_HOURS
 * have passed. Keyed by connection id (`default` for the platform app).
 */
export const whatsappConnectionFeatures = mysqlTable('whatsapp_connection_features', {
  connectionId: varchar('connection_id', { length: 64 }).primaryKey(),
  interactiveRefusedAt: datetime('interactive_refused_at', { mode: 'date', fsp: 3 }),
  /** Gupshup's answer when it refused (code and reason, no personal data). */
  interactiveRefusal: varchar('interactive_refusal', { length: 512 }),
  createdAt: createdAt(),
  updatedAt: updatedAt(),
});

/**
 * Per-account API tokens (`wa-notify tokens create`): each reaches only its own account's
 * settings, connections, templates and shipments. Only the SHA-256 of a token is stored; the
 * token itself is shown once, when it is created. The platform's admin token is API_TOKEN.
 */
export const apiTokens = mysqlTable(
  'api_tokens',
  {
    id: int('id').autoincrement().primaryKey(),
    accountId: int('account_id').notNull(),
    name: varchar('name', { length: 128 }),
    /** Hex SHA-256 of the token. */
    tokenHash: varchar('token_hash', { length: 64 }).notNull().unique('api_tokens_hash'),
    createdAt: createdAt(),
    revokedAt: datetime('revoked_at', { mode: 'date', fsp: 3 }),
  },
  (t) => [index('api_tokens_account').on(t.accountId)],
);

/**
 * Numbers a sender number must not message, per (sender WhatsApp number, customer number): the
 * customer opted out (a keyword, a v2 `opted-out` user-event, a send refused with an opt-out
 * error, an operator), or the number cannot receive WhatsApp messages (for a while).
 */
export const whatsappSuppressions = mysqlTable(
  'whatsapp_suppressions',
  {
    id: bigint('id', { mode: 'number', unsigned: true }).autoincrement().primaryKey(),
    /** Our business number, digits with the country code. */
    senderNumber: varchar('sender_number', { length: 20 }).notNull(),
    /** The customer's number, digits with the country code. */
    customerNumber: varchar('customer_number', { length: 20 }).notNull(),
    /** opted_out | not_on_whatsapp */
    reason: varchar('reason', { length: 32 }).notNull(),
    /** keyword | user_event | send_error | report | api | cli */
    source: varchar('source', { length: 32 }).notNull(),
    /** The account whose conversation (or operator) suppressed it, when known. */
    accountId: int('account_id'),
    /** Null: until lifted; otherwise it lapses then. */
    expiresAt: datetime('expires_at', { mode: 'date', fsp: 3 }),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [
    uniqueIndex('whatsapp_suppressions_key').on(t.senderNumber, t.customerNumber, t.reason),
    index('whatsapp_suppressions_account').on(t.accountId),
  ],
);

/**
 * When each customer last wrote to each of our numbers: a session (free-form) message may go to
 * them only within 24 hours of that.
 */
export const whatsappCustomerWindows = mysqlTable(
  'whatsapp_customer_windows',
  {
    senderNumber: varchar('sender_number', { length: 20 }).notNull(),
    customerNumber: varchar('customer_number', { length: 20 }).notNull(),
    lastInboundAt: datetime('last_inbound_at', { mode: 'date', fsp: 3 }).notNull(),
    updatedAt: updatedAt(),
  },
  (t) => [primaryKey({ columns: [t.senderNumber, t.customerNumber] })],
);

/**
 * One no-reply check per FDR message sent (seed edge case 3): due `afterHours` after the send,
 * then done (what it did) or cancelled (why). The record the sweeper re-creates a lost job from.
 */
export const whatsappNoReplyChecks = mysqlTable(
  'whatsapp_no_reply_checks',
  {
    id: bigint('id', { mode: 'number', unsigned: true }).autoincrement().primaryKey(),
    outboxId: bigint('outbox_id', { mode: 'number', unsigned: true })
      .notNull()
      .unique('whatsapp_no_reply_checks_outbox'),
    shipmentId: varchar('shipment_id', { length: 64 }).notNull(),
    accountId: int('account_id').notNull(),
    dueAt: datetime('due_at', { mode: 'date', fsp: 3 }).notNull(),
    /** scheduled → done | cancelled */
    status: varchar('status', { length: 16 }).notNull().default('scheduled'),
    /** remind | reattempt | nothing when done; the reason when cancelled. */
    outcome: varchar('outcome', { length: 64 }),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [
    index('whatsapp_no_reply_checks_status_due').on(t.status, t.dueAt),
    index('whatsapp_no_reply_checks_shipment').on(t.shipmentId),
  ],
);

/**
 * One row per failed-delivery attempt of an account's shipment that `fdr.validate` decided on:
 * messaged or not (and why not), the stages the conversation reached, the customer's action, and
 * the shipment's next outcome. Written incrementally as each step happens, so the funnel reads
 * only the period's rows (by account and `failed_at`). It holds no personal data: ids, codes,
 * dates and the courier's name.
 */
export const whatsappAttemptOutcomes = mysqlTable(
  'whatsapp_attempt_outcomes',
  {
    id: bigint('id', { mode: 'number', unsigned: true }).autoincrement().primaryKey(),
    shipmentId: varchar('shipment_id', { length: 64 }).notNull(),
    attempt: int('attempt').notNull(),
    accountId: int('account_id').notNull(),
    /** The FDR reason code (src/fdr/reasons.ts); null when it could not be decided. */
    reason: varchar('reason', { length: 32 }),
    /** The event's `courierName`, as sent (bounded). */
    courier: varchar('courier', { length: 64 }),
    templateId: varchar('template_id', { length: 128 }),
    outboxId: bigint('outbox_id', { mode: 'number', unsigned: true }),
    /** 1 when a message was queued for the attempt. */
    messaged: tinyint('messaged').notNull().default(0),
    /** Why it was not messaged: the skip code (whatsapp_disabled, opted_out, …). */
    notMessagedCode: varchar('not_messaged_code', { length: 32 }),
    /** When delivery failed (the event's status time): the period an attempt belongs to. */
    failedAt: datetime('failed_at', { mode: 'date', fsp: 3 }).notNull(),
    sentAt: datetime('sent_at', { mode: 'date', fsp: 3 }),
    deliveredAt: datetime('delivered_at', { mode: 'date', fsp: 3 }),
    readAt: datetime('read_at', { mode: 'date', fsp: 3 }),
    repliedAt: datetime('replied_at', { mode: 'date', fsp: 3 }),
    /** The action taken on the customer's answer: reattempt, reschedule, update_address, … */
    action: varchar('action', { length: 32 }),
    actionAt: datetime('action_at', { mode: 'date', fsp: 3 }),
    /** The delivery date the customer chose (reschedule), `YYYY-MM-DD`. */
    chosenDate: date('chosen_date', { mode: 'string' }),
    /** The latest out-for-delivery time seen after the action. */
    outForDeliveryAt: datetime('out_for_delivery_at', { mode: 'date', fsp: 3 }),
    /** open → delivered | failed_again | rto | cancelled */
    outcome: varchar('outcome', { length: 16 }).notNull().default('open'),
    /** The shipment status that closed it (delivered, failed_delivery, rto_initiated, …). */
    outcomeStatus: varchar('outcome_status', { length: 32 }),
    /** For failed_again: the next attempt's reason code. */
    nextReason: varchar('next_reason', { length: 32 }),
    outcomeAt: datetime('outcome_at', { mode: 'date', fsp: 3 }),
    /** The courier did not do what the customer chose: other_date | no_out_for_delivery | contradicting_reason */
    notHonoured: varchar('not_honoured', { length: 32 }),
    notHonouredAt: datetime('not_honoured_at', { mode: 'date', fsp: 3 }),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [
    uniqueIndex('whatsapp_attempt_outcomes_attempt').on(t.shipmentId, t.attempt),
    index('whatsapp_attempt_outcomes_account_failed').on(t.accountId, t.failedAt),
    index('whatsapp_attempt_outcomes_failed').on(t.failedAt),
    index('whatsapp_attempt_outcomes_open_chosen').on(t.outcome, t.chosenDate),
  ],
);

/**
 * The evidence of each customer answer, for disputes with couriers: the Gupshup message id, the
 * callback's own timestamp, the choice, and the SHA-256 of the callback's raw body as received
 * (`raw_body`, kept until PERSONAL_DATA_RETENTION_DAYS, then erased with `detail`; the hash,
 * the ids and the choice stay).
 */
export const whatsappReplyEvidence = mysqlTable(
  'whatsapp_reply_evidence',
  {
    id: bigint('id', { mode: 'number', unsigned: true }).autoincrement().primaryKey(),
    replyId: bigint('reply_id', { mode: 'number', unsigned: true })
      .notNull()
      .unique('whatsapp_reply_evidence_reply'),
    webhookEventId: bigint('webhook_event_id', { mode: 'number', unsigned: true }).notNull(),
    shipmentId: varchar('shipment_id', { length: 64 }).notNull(),
    accountId: int('account_id').notNull(),
    attempt: int('attempt'),
    gupshupMessageId: varchar('gupshup_message_id', { length: 191 }).notNull(),
    /** The callback's own timestamp (Gupshup's), not the time it reached us. */
    callbackAt: datetime('callback_at', { mode: 'date', fsp: 3 }),
    /** The intent read from the answer: reattempt, reschedule, date, cancel, … */
    choice: varchar('choice', { length: 32 }).notNull(),
    /** What the choice carried (a date, an address, a number): personal, erased with the body. */
    detail: varchar('detail', { length: 512 }),
    /** Hex SHA-256 of `raw_body` as received. */
    bodySha256: char('body_sha256', { length: 64 }).notNull(),
    rawBody: mediumtext('raw_body'),
    erasedAt: datetime('erased_at', { mode: 'date', fsp: 3 }),
    createdAt: createdAt(),
  },
  (t) => [
    index('whatsapp_reply_evidence_shipment').on(t.shipmentId, t.id),
    index('whatsapp_reply_evidence_created').on(t.createdAt),
  ],
);
