/**
 * The evidence trail of customers' answers: when `reply.route` binds an inbound message to a
 * conversation as a reply from its customer, one `whatsapp_reply_evidence` row keeps what a
 * dispute with a courier about a fake attempt needs — Gupshup's id of the message, the
 * callback's own timestamp, the choice read and what it carried (a date, a concern's text),
 * and the request body exactly as the webhook received it with its SHA-256, copied from the
 * `webhook_events` row (which retention deletes long before the evidence goes).
 *
 * Written once by reply id, so a retried job adds nothing. A reply whose webhook row has no raw
 * body (stored before bodies were kept, or fed in by `wa-notify replay`) gets no evidence: no
 * hash could say what was received; it is logged with the reply id. A reply that names a
 * conversation but does not come from its customer is not the customer's answer and gets none.
 */
import { createHash } from 'node:crypto';

import type { ConversationRow, ReplyRow } from './db/conversations.ts';
import type { Db } from './db/client.ts';
import { findEvidenceSource, insertReplyEvidence, type EvidenceRow } from './db/reply-evidence.ts';
import type { Log } from './log.ts';
import type { Request, ReplyMeaning } from './replies/rules.ts';
import type { InboundMessage } from './webhook/events.ts';
import { plausibleEpochMs } from './webhook/fields.ts';

/** `whatsapp_reply_evidence.detail` holds at most this many characters. */
const DETAIL_LENGTH = 512;

export interface AnswerToRecord {
  reply: ReplyRow;
  conversation: ConversationRow;
  message: InboundMessage;
  /** What the reply was read as, when it was read (a keyword reply is not). */
  meaning?: ReplyMeaning;
  /** What it asks for, when decided. */
  request?: Request;
}

/**
 * Records the evidence of one answer; returns whether a row is there for it now. `other_sender`
 * replies are skipped (see the header).
 */
export async function recordReplyEvidence(
  deps: { db: Db; log: Log },
  answer: AnswerToRecord,
): Promise<boolean> {
  const { reply, conversation, message, request } = answer;
  if (request?.kind === 'refused' && request.code === 'other_sender') {
    return false;
  }
  const source = await findEvidenceSource(deps.db, reply.webhookEventId, conversation.outboxId);
  if (!source?.rawBody || !source.bodySha256) {
    deps.log.warn(
      { replyId: reply.id, webhookEventId: reply.webhookEventId },
      'reply has no stored request body; no evidence recorded',
    );
    return false;
  }
  const callbackAt = plausibleEpochMs(message.timestamp);
  await insertReplyEvidence(deps.db, {
    replyId: reply.id,
    webhookEventId: reply.webhookEventId,
    shipmentId: conversation.shipmentId,
    accountId: conversation.accountId,
    attempt: source.attempt,
    // The column cannot be null: a callback without an id (some interactive replies) keeps ''.
    gupshupMessageId: message.messageId?.slice(0, 191) ?? '',
    callbackAt: callbackAt === null ? null : new Date(callbackAt),
    choice: reply.intent,
    detail: answerDetail(answer),
    bodySha256: source.bodySha256,
    rawBody: source.rawBody,
    // When the webhook received it, not when it was bound: the row's age for retention too.
    createdAt: source.receivedAt,
  });
  return true;
}

/**
 * What the answer carried, in a few words: the delivery date asked for (a number answered is
 * the date it stood for), a concern's text, the words typed, a location's coordinates; null
 * when a button or keyword says it all. Personal: erased with the body.
 */
export function answerDetail(answer: Pick<AnswerToRecord, 'message' | 'meaning' | 'request'>) {
  const { message, meaning, request } = answer;
  const detail =
    (request?.kind === 'ndr' ? (request.deliveryDate ?? request.remarks) : undefined) ??
    (request?.kind === 'invalid_date' ? request.date : undefined) ??
    intentDetail(meaning) ??
    (message.location ? `${message.location.latitude},${message.location.longitude}` : null) ??
    message.media?.caption ??
    null;
  return detail === null ? null : detail.slice(0, DETAIL_LENGTH);
}

function intentDetail(meaning: ReplyMeaning | undefined): string | null {
  if (meaning?.kind !== 'intent') {
    return null;
  }
  const { intent } = meaning;
  switch (intent.kind) {
    case 'date':
      return intent.date;
    case 'choice':
      return String(intent.index);
    case 'text':
      return intent.text;
    default:
      return null;
  }
}

/** One answer's evidence as the API and the CLI show it. */
export interface AnswerEvidence {
  replyId: number;
  /** Gupshup's id of the customer's message; null when the callback carried none. */
  gupshupMessageId: string | null;
  attempt: number | null;
  /** The callback's own timestamp (ISO), when it carried a plausible one. */
  callbackAt: string | null;
  /** When the webhook received the request (ISO). */
  receivedAt: string;
  choice: string;
  /** Null once erased (or when the answer carried nothing beyond its choice). */
  detail: string | null;
  bodySha256: string;
  /** The request as received; null once erased. */
  rawBody: string | null;
  erasedAt: string | null;
  /** Whether the stored body still hashes to `bodySha256`; null once erased. */
  hashMatches: boolean | null;
}

export function answerEvidence(row: EvidenceRow): AnswerEvidence {
  return {
    replyId: row.replyId,
    gupshupMessageId: row.gupshupMessageId === '' ? null : row.gupshupMessageId,
    attempt: row.attempt,
    callbackAt: row.callbackAt?.toISOString() ?? null,
    receivedAt: row.createdAt.toISOString(),
    choice: row.choice,
    detail: row.detail,
    bodySha256: row.bodySha256,
    rawBody: row.rawBody,
    erasedAt: row.erasedAt?.toISOString() ?? null,
    hashMatches: row.rawBody === null ? null : sha256Hex(row.rawBody) === row.bodySha256,
  };
}

/** The hex SHA-256 of a stored body's UTF-8 bytes. */
export function sha256Hex(body: string): string {
  return createHash('sha256').update(body, 'utf8').digest('hex');
}
