/**
 * The bodies the sandbox posts to the service's webhook, in each of Gupshup's callback formats:
 * - delivery reports (`buildReportRequests`): enterprise (facts §2, the `response` form field),
 *   v2 `message-event`s (§4.4: `enqueued`, `sent`, `delivered`, `read`, `failed`, one per POST)
 *   and v3 Meta-shaped `statuses` (§8, several per POST);
 * - a customer's tap on something we offered (`buildTapRequest`) and a free text
 *   (`buildTextRequest`): enterprise form fields (§3, built by src/sandbox/replies.ts), a v2
 *   `message` (§4.4) or a v3 `messages` change (§8), echoing the ids of the message answered.
 *
 * Pure: src/sandbox/server.ts plans when, src/sandbox/callbacks.ts posts. Labels name the kind
 * and Gupshup's id only, never a phone number.
 */
import { createHash, randomBytes } from 'node:crypto';

import { parsePhoneNumberFromString } from 'libphonenumber-js';

import {
  buildDlrRequest,
  buildReplyRequest,
  type CallbackFormat,
  type CallbackRequest,
  type PlannedPost,
  type PlannedReport,
  type ReplyEncoding,
  toDlrEvent,
} from './callbacks.ts';
import { buttonReply, generateWaId, interactiveReply, textReply } from './replies.ts';

/** The v2 `app` of enterprise sends (a self-serve send names its own in `src.name`). */
export const DEFAULT_APP_NAME = 'SandboxApp';
/** v3 `gs_app_id`, `entry[].id` (the WhatsApp Business Account) and `phone_number_id`. */
export const SANDBOX_APP_ID = '4844b1fa-37ff-4ec8-b477-3940dfc48fc1';
export const SANDBOX_WABA_ID = '108133288928594';
export const SANDBOX_PHONE_NUMBER_ID = '100609346426084';

/** What a report or a reply needs to know about one of our sends. */
export interface SentMessage {
  /** Gupshup's id, what the send answered. */
  gsId: string;
  /** WhatsApp's id of the message. */
  wamid: string;
  /** The customer's number, digits only. */
  customer: string;
  /** Our business number. */
  business: string;
  /** The v2 `app`. */
  app: string;
  /** A template or a session message (v2 `enqueued` tells them apart). */
  kind: 'template' | 'session';
  /** Enterprise only: the send's `extra` and the report's `srcAddr`. */
  extra?: string;
  srcAddr: string;
  /** Epoch ms of the send. */
  sentAt: number;
}

/** WhatsApp message ids look like `wamid.HBgMOTE5…==`. */
export function generateWamid(): string {
  return `wamid.HBgM${randomBytes(33).toString('base64')}`;
}

// ---------------------------------------------------------------------------------------------
// Delivery reports

/** The requests for one planned POST: one, except in v2, which posts one event per request. */
export function buildReportRequests(
  format: CallbackFormat,
  url: string,
  post: PlannedPost,
  sent: SentMessage,
): CallbackRequest[] {
  if (format === 'enterprise') {
    const events = post.reports.flatMap((report) => {
      const event = toDlrEvent(report, { ...sent, externalId: sent.gsId, destAddr: sent.customer });
      return event ? [event] : [];
    });
    return events.length > 0 ? [buildDlrRequest(url, events)] : [];
  }
  if (format === 'v2') {
    return post.reports.map((report) =>
      jsonRequest('dlr', `${report.status} ${sent.gsId} (v2)`, url, v2Event(report, sent)),
    );
  }
  const statuses = post.reports.flatMap((report) => {
    const status = v3Status(report, sent);
    return status ? [status] : [];
  });
  if (statuses.length === 0) {
    return [];
  }
  const types = post.reports.map((report) => report.status).join(',');
  return [
    jsonRequest('dlr', `${types} ${sent.gsId} (v3)`, url, v3Envelope(sent.business, { statuses })),
  ];
}

/** A failure code as the format carries it: a number when it is one. */
function numericCode(code: string): number | string {
  return /^\d+$/.test(code) ? Number(code) : code;
}

function v2Event(report: PlannedReport, sent: SentMessage) {
  const eventTs = sent.sentAt + report.atMs;
  const envelope = (payload: Record<string, unknown>) => ({
    app: sent.app,
    timestamp: eventTs,
    version: 2,
    type: 'message-event',
    payload,
  });
  switch (report.status) {
    case 'ENQUEUED':
      return envelope({
        id: sent.gsId,
        type: 'enqueued',
        destination: sent.customer,
        payload: { whatsappMessageId: sent.wamid, type: sent.kind },
      });
    case 'FAILED':
      return envelope({
        id: sent.gsId,
        gsId: sent.gsId,
        type: 'failed',
        destination: sent.customer,
        payload: { code: numericCode(report.errorCode), reason: report.cause },
      });
    default:
      return envelope({
        id: sent.wamid,
        gsId: sent.gsId,
        type: report.status.toLowerCase(),
        destination: sent.customer,
        payload: { ts: Math.floor(eventTs / 1_000) },
      });
  }
}

function v3Status(report: PlannedReport, sent: SentMessage) {
  if (report.status === 'ENQUEUED') {
    return null;
  }
  return {
    id: sent.wamid,
    gs_id: sent.gsId,
    status: report.status.toLowerCase(),
    timestamp: String(Math.floor((sent.sentAt + report.atMs) / 1_000)),
    recipient_id: sent.customer,
    ...(report.status === 'FAILED'
      ? { errors: [{ code: numericCode(report.errorCode), title: report.cause }] }
      : {}),
  };
}

/** Meta's webhook envelope around one `messages` change, as Gupshup's v3 passes it on. */
function v3Envelope(business: string, value: Record<string, unknown>) {
  return {
    object: 'whatsapp_business_account',
    gs_app_id: SANDBOX_APP_ID,
    entry: [
      {
        id: SANDBOX_WABA_ID,
        changes: [
          {
            field: 'messages',
            value: {
              messaging_product: 'whatsapp',
              metadata: {
                display_phone_number: business,
                phone_number_id: SANDBOX_PHONE_NUMBER_ID,
              },
              ...value,
            },
          },
        ],
      },
    ],
  };
}

function jsonRequest(
  kind: CallbackRequest['kind'],
  label: string,
  url: string,
  body: unknown,
): CallbackRequest {
  return {
    kind,
    label,
    method: 'POST',
    url,
    contentType: 'application/json',
    body: JSON.stringify(body),
  };
}

// ---------------------------------------------------------------------------------------------
// Customer replies

/** Who replies, and how. */
export interface ReplyParty {
  /** The customer's number, digits only. */
  customer: string;
  /** Our business number. */
  business: string;
  /** The v2 `app`. */
  app: string;
  name: string;
  /** v3 only: no phone number, a business-scoped user id instead. */
  withoutPhone?: boolean;
  /** Enterprise only: form (default), JSON or GET query. */
  as?: ReplyEncoding;
}

/** One choice tapped, with the ids it was sent with. */
export interface TappedChoice {
  /** What was offered: list rows, reply buttons, or a template's quick-reply buttons. */
  offer: 'list' | 'buttons' | 'template';
  /** 0-based position among all the offer's choices. */
  index: number;
  title: string;
  /** The row or button id sent; for a template, its postback text or a generated id. */
  id: string;
  description?: string;
  /** The postback text sent with it, when there was one. */
  postbackText?: string;
}

/** A tap on one of our messages, in the format asked for. */
export function buildTapRequest(
  format: CallbackFormat,
  url: string,
  party: ReplyParty,
  quoted: Pick<SentMessage, 'gsId' | 'wamid'>,
  choice: TappedChoice,
): CallbackRequest {
  const now = Date.now();
  const replyType =
    choice.offer === 'list' ? 'list_reply' : choice.offer === 'buttons' ? 'button_reply' : null;
  if (format === 'enterprise') {
    const common = {
      mobile: party.customer,
      waNumber: party.business,
      name: party.name,
      timestamp: now,
      // The gateway names our message by the first half of the id it answered.
      replyId: quoted.gsId.split('-')[0] ?? quoted.gsId,
      messageId: generateWaId(),
      contextId: quoted.wamid,
    };
    const fields = replyType
      ? interactiveReply({
          ...common,
          kind: replyType,
          id: choice.id,
          title: choice.title,
          ...(choice.description === undefined ? {} : { description: choice.description }),
        })
      : buttonReply({ ...common, text: choice.title });
    return buildReplyRequest(url, fields, party.as ?? 'form');
  }
  const reply = `${choice.title} ${choice.index + 1}`;
  if (format === 'v2') {
    const payload =
      replyType === 'list_reply'
        ? {
            title: choice.title,
            id: choice.id,
            reply,
            postbackText: choice.postbackText ?? choice.id,
            ...(choice.description === undefined ? {} : { description: choice.description }),
          }
        : { title: choice.title, id: choice.id, reply };
    const type = replyType ?? 'quick_reply';
    return v2Message(url, party, now, type, payload, quoted);
  }
  const message = replyType
    ? {
        type: 'interactive',
        interactive: {
          type: replyType,
          [replyType]: {
            id: choice.id,
            title: choice.title,
            ...(replyType === 'list_reply' && choice.description !== undefined
              ? { description: choice.description }
              : {}),
          },
        },
      }
    : {
        type: 'button',
        button: { payload: choice.postbackText ?? choice.title, text: choice.title },
      };
  return v3Message(url, party, now, message, quoted, `tap ${replyType ?? 'button'} (v3)`);
}

/** A free text from the customer, quoting nothing. */
export function buildTextRequest(
  format: CallbackFormat,
  url: string,
  party: ReplyParty,
  text: string,
): CallbackRequest {
  const now = Date.now();
  if (format === 'enterprise') {
    return buildReplyRequest(
      url,
      textReply({
        mobile: party.customer,
        waNumber: party.business,
        name: party.name,
        timestamp: now,
        text,
      }),
      party.as ?? 'form',
    );
  }
  if (format === 'v2') {
    return v2Message(url, party, now, 'text', { text }, null);
  }
  return v3Message(url, party, now, { type: 'text', text: { body: text } }, null, 'text (v3)');
}

function v2Message(
  url: string,
  party: ReplyParty,
  now: number,
  type: string,
  payload: Record<string, unknown>,
  quoted: Pick<SentMessage, 'gsId' | 'wamid'> | null,
): CallbackRequest {
  const phone = parsePhoneNumberFromString(`+${party.customer}`);
  const body = {
    app: party.app,
    timestamp: now,
    version: 2,
    type: 'message',
    payload: {
      id: generateWaId(),
      source: party.customer,
      type,
      payload,
      sender: {
        phone: party.customer,
        name: party.name,
        country_code: phone?.countryCallingCode ?? '',
        dial_code: phone?.nationalNumber ?? party.customer,
      },
      ...(quoted ? { context: { id: quoted.wamid, gsId: quoted.gsId } } : {}),
    },
  };
  const label = type === 'text' ? 'text (v2)' : `tap ${type} (v2)`;
  return jsonRequest('reply', label, url, body);
}

function v3Message(
  url: string,
  party: ReplyParty,
  now: number,
  content: Record<string, unknown>,
  quoted: Pick<SentMessage, 'gsId' | 'wamid'> | null,
  label: string,
): CallbackRequest {
  const who = party.withoutPhone
    ? {
        message: { from_user_id: businessScopedId(party.customer) },
        contact: { user_id: businessScopedId(party.customer) },
      }
    : { message: { from: party.customer }, contact: { wa_id: party.customer } };
  const message = {
    ...who.message,
    id: generateWamid(),
    timestamp: String(Math.floor(now / 1_000)),
    ...content,
    ...(quoted ? { context: { from: party.business, id: quoted.wamid, gs_id: quoted.gsId } } : {}),
  };
  const body = v3Envelope(party.business, {
    contacts: [{ profile: { name: party.name }, ...who.contact }],
    messages: [message],
  });
  return jsonRequest('reply', party.withoutPhone ? `${label} without phone` : label, url, body);
}

/**
 * Meta's business-scoped user id for a customer who hides their number: the number's country
 * (`IN.`) and 16 hex digits, the same for the same number on every call (the sandbox is one
 * business portfolio).
 */
export function businessScopedId(customer: string): string {
  const country = parsePhoneNumberFromString(`+${customer}`)?.country ?? 'ZZ';
  const digest = createHash('sha256').update(`bsuid|${customer}`).digest('hex');
  return `${country}.${digest.slice(0, 16)}`;
}
