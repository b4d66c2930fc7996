/**
 * `wa-notify shipment <shipmentId>`: everything the service knows about one shipment, from
 * MySQL (and each message's job state from Redis): the FDR events taken in, the WhatsApp
 * messages and their states, the delivery status rows, and the timeline. With `--evidence`, the
 * customer's answers as the evidence trail keeps them (src/reply-evidence.ts).
 *
 * Customers' numbers are masked (`91******1009`) wherever they appear, addresses and
 * credentials never shown; names in timeline titles stay, as the portal shows them.
 */
import { listShipmentActivity } from '../db/activity.ts';
import type { Db } from '../db/client.ts';
import { listShipmentInbox } from '../db/inbox.ts';
import { listShipmentOutbox } from '../db/outbox.ts';
import { listShipmentEvidence } from '../db/reply-evidence.ts';
import { listShipmentStatusLogs } from '../db/status-logs.ts';
import { messageSend, type Queues } from '../queues/index.ts';
import { answerEvidence, type AnswerEvidence } from '../reply-evidence.ts';
import { CommandError } from './errors.ts';
import {
  createNumberScrubber,
  formatTime,
  isoTime,
  maskNumber,
  renderTable,
  sanitize,
  truncate,
} from './output.ts';

export interface ShipmentView {
  shipmentId: string;
  events: {
    inboxId: number;
    attempt: number;
    status: string;
    reason: string | null;
    receivedAt: string | null;
  }[];
  messages: {
    outboxId: number;
    kind: string;
    reason: string | null;
    templateId: string | null;
    status: string;
    attempts: number;
    /** Masked. */
    to: string;
    /** State of the message.send job in Redis: waiting, active, failed, completed, unknown… */
    job: string;
    gupshupMessageId: string | null;
    errorCode: string | null;
    lastError: string | null;
    createdAt: string | null;
    sentAt: string | null;
  }[];
  deliveryStatus: {
    id: number;
    status: string;
    messageId: string | null;
    createdAt: string | null;
    updatedAt: string | null;
    reportedAt: string | null;
  }[];
  timeline: {
    occurredAt: string | null;
    kind: string;
    title: string;
    published: boolean;
    details: unknown;
  }[];
}

export async function loadShipment(
  deps: { db: Db; queues: Queues },
  shipmentId: string,
): Promise<ShipmentView> {
  const { db, queues } = deps;
  const [events, outbox, statuses, activity] = await Promise.all([
    listShipmentInbox(db, shipmentId),
    listShipmentOutbox(db, shipmentId),
    listShipmentStatusLogs(db, shipmentId),
    listShipmentActivity(db, shipmentId),
  ]);
  if (events.length + outbox.length + statuses.length + activity.length === 0) {
    throw new CommandError('ERR_NOT_FOUND', `no record of shipment ${shipmentId}`);
  }
  const scrub = createNumberScrubber(outbox.map((m) => m.toNumber));
  const jobStates = await Promise.all(
    outbox.map((m) => queues['message.send'].getJobState(messageSend.jobId({ outboxId: m.id }))),
  );
  return {
    shipmentId,
    events: events.map((e) => ({
      inboxId: e.id,
      attempt: e.attempt,
      status: e.status,
      reason: e.reason === null ? null : scrub(e.reason),
      receivedAt: isoTime(e.createdAt),
    })),
    messages: outbox.map((m, i) => ({
      outboxId: m.id,
      kind: m.kind,
      reason: m.reason,
      templateId: m.templateId,
      status: m.status,
      attempts: m.attempts,
      to: maskNumber(m.toNumber),
      job: jobStates[i] ?? 'unknown',
      gupshupMessageId: m.gupshupMessageId,
      errorCode: m.errorCode,
      lastError: m.lastError === null ? null : scrub(m.lastError),
      createdAt: isoTime(m.createdAt),
      sentAt: isoTime(m.sentAt),
    })),
    // `remarks` is left out: it holds the raw reports, whose destAddr is the customer's number.
    deliveryStatus: statuses.map((s) => ({
      id: s.id,
      status: s.status,
      messageId: s.messageId,
      createdAt: isoTime(s.createdAt),
      updatedAt: isoTime(s.updatedAt),
      reportedAt: isoTime(s.externalUpdatedAt),
    })),
    timeline: activity.map((a) => ({
      occurredAt: isoTime(a.occurredAt),
      kind: a.kind,
      title: scrub(a.title),
      published: a.publishedAt !== null,
      details: sanitize(a.details, scrub),
    })),
  };
}

const at = (iso: string | null) => formatTime(iso === null ? null : Date.parse(iso));

export function renderShipment(view: ShipmentView): string {
  const section = (title: string, body: string) => `\n${title}\n${body || '  (none)\n'}`;
  const indent = (text: string) =>
    text
      .split('\n')
      .map((line) => (line ? `  ${line}` : line))
      .join('\n');
  const table = (headers: string[], rows: string[][]) =>
    rows.length ? indent(renderTable(headers, rows)) : '';
  return [
    `Shipment ${view.shipmentId}\n`,
    section(
      'FDR events',
      table(
        ['INBOX', 'ATTEMPT', 'STATUS', 'RECEIVED', 'NOTE'],
        view.events.map((e) => [
          String(e.inboxId),
          String(e.attempt),
          e.status,
          at(e.receivedAt),
          truncate(e.reason ?? '', 80),
        ]),
      ),
    ),
    section(
      'WhatsApp messages',
      table(
        [
          'OUTBOX',
          'KIND',
          'REASON',
          'STATUS',
          'JOB',
          'ATTEMPTS',
          'TO',
          'SENT AT',
          'GUPSHUP ID',
          'ERROR',
        ],
        view.messages.map((m) => [
          String(m.outboxId),
          m.kind,
          m.reason ?? '-',
          m.status,
          m.job,
          String(m.attempts),
          m.to,
          at(m.sentAt),
          m.gupshupMessageId ?? '-',
          m.errorCode ? truncate(`${m.errorCode}: ${m.lastError ?? ''}`, 80) : '',
        ]),
      ),
    ),
    section(
      'Delivery status',
      table(
        ['ID', 'STATUS', 'GUPSHUP ID', 'SINCE', 'REPORTED AT'],
        view.deliveryStatus.map((s) => [
          String(s.id),
          s.status,
          s.messageId ?? '-',
          at(s.updatedAt),
          at(s.reportedAt),
        ]),
      ),
    ),
    section(
      'Timeline',
      table(
        ['WHEN', 'KIND', 'ENTRY'],
        view.timeline.map((t) => [at(t.occurredAt), t.kind, truncate(t.title, 120)]),
      ),
    ),
  ].join('');
}

/** `wa-notify shipment <id> --evidence`: the customer's answers, numbers masked. */
export interface ShipmentEvidenceView {
  shipmentId: string;
  /**
   * As the API gives them, the customer's numbers masked in `rawBody` and `detail`; `hashMatches`
   * is judged on the body as stored, before masking.
   */
  evidence: AnswerEvidence[];
}

export async function loadShipmentEvidence(
  deps: { db: Db },
  shipmentId: string,
): Promise<ShipmentEvidenceView> {
  const [rows, outbox] = await Promise.all([
    listShipmentEvidence(deps.db, shipmentId),
    listShipmentOutbox(deps.db, shipmentId),
  ]);
  if (rows.length + outbox.length === 0) {
    throw new CommandError('ERR_NOT_FOUND', `no record of shipment ${shipmentId}`);
  }
  const scrub = createNumberScrubber(outbox.map((m) => m.toNumber));
  return {
    shipmentId,
    evidence: rows.map((row) => {
      const answer = answerEvidence(row);
      return {
        ...answer,
        detail: answer.detail === null ? null : scrub(answer.detail),
        rawBody: answer.rawBody === null ? null : scrub(answer.rawBody),
      };
    }),
  };
}

export function renderShipmentEvidence(view: ShipmentEvidenceView): string {
  const rows = view.evidence.map((e) => [
    String(e.replyId),
    e.gupshupMessageId ?? '-',
    e.attempt === null ? '-' : String(e.attempt),
    at(e.callbackAt),
    at(e.receivedAt),
    e.choice,
    e.erasedAt ? `(erased ${at(e.erasedAt)})` : truncate(e.detail ?? '', 40),
    e.bodySha256,
    e.hashMatches === null ? 'erased' : e.hashMatches ? 'yes' : 'NO',
  ]);
  const table = rows.length
    ? renderTable(
        [
          'REPLY',
          'GUPSHUP ID',
          'ATTEMPT',
          'CALLBACK AT',
          'RECEIVED',
          'CHOICE',
          'DETAIL',
          'SHA-256',
          'MATCHES',
        ],
        rows,
      )
        .split('\n')
        .map((line) => (line ? `  ${line}` : line))
        .join('\n')
    : '  (none)\n';
  return `Evidence of shipment ${view.shipmentId}\n\n${table}`;
}
