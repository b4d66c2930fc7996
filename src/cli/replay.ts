/**
 * `wa-notify replay <file>`: feeds a saved event through the same ingress code the service runs,
 * for incident recovery (an event lost upstream, a webhook call that got a 503 for good).
 *
 * - An FDR event (the WMS's JSON), a Pub/Sub push envelope, or a Pub/Sub message
 *   (`{ data, messageId }`) → `ingestFdrMessage`, exactly as the pull subscriber and push route:
 *   recorded in `fdr_inbox` and `fdr.validate` enqueued.
 * - A Gupshup webhook body (JSON, or the form-encoded body as Gupshup posts it) → the webhook's
 *   `parseWebhook` and `storeAndEnqueue`: stored in `webhook_events`, `dlr.process` or
 *   `reply.route` enqueued (user and billing events and ignored callbacks are only stored).
 *
 * Both paths are idempotent by their keys, so replaying the same file twice changes nothing more.
 */
import { readFile } from 'node:fs/promises';

import type { Config } from '../config.ts';
import type { Db } from '../db/client.ts';
import { storeAndEnqueue } from '../http/routes/gupshup-webhook.ts';
import type { Log } from '../log.ts';
import type { Metrics } from '../metrics.ts';
import { ingestFdrMessage } from '../pubsub/ingest.ts';
import type { Queues } from '../queues/index.ts';
import type { WebhookEvent } from '../webhook/events.ts';
import { parseWebhook } from '../webhook/parse.ts';
import { CommandError } from './errors.ts';

export type ReplayAs = 'fdr' | 'webhook';

/** What a file holds, decided from its content (or forced with `--as`). */
export type ReplayInput =
  | { kind: 'fdr'; data: Buffer; pubsubMessageId: string | null; source: 'event' | 'pubsub' }
  | { kind: 'webhook'; body: Buffer; contentType: string };

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** A Pub/Sub message's base64 data and id, from a push envelope or a bare message. */
function pubsubMessage(raw: unknown): { data: Buffer; messageId: string | null } | null {
  const message = isRecord(raw) && isRecord(raw.message) ? raw.message : raw;
  if (!isRecord(message) || typeof message.data !== 'string' || !BASE64.test(message.data)) {
    return null;
  }
  if (message !== raw || 'messageId' in message || 'message_id' in message) {
    const id = message.messageId ?? message.message_id;
    return {
      data: Buffer.from(message.data, 'base64'),
      messageId: typeof id === 'string' ? id : null,
    };
  }
  return null;
}

export function classifyReplay(bytes: Buffer, as?: ReplayAs): ReplayInput {
  let raw: unknown;
  let json = true;
  try {
    raw = JSON.parse(bytes.toString('utf8'));
  } catch {
    json = false;
  }
  const envelope = json ? pubsubMessage(raw) : null;
  if (as === 'fdr' || (as === undefined && envelope)) {
    return envelope
      ? { kind: 'fdr', data: envelope.data, pubsubMessageId: envelope.messageId, source: 'pubsub' }
      : { kind: 'fdr', data: bytes, pubsubMessageId: null, source: 'event' };
  }
  // The WMS's events all name their `resource`; Gupshup's bodies never do.
  if (as === undefined && json && isRecord(raw) && 'resource' in raw) {
    return { kind: 'fdr', data: bytes, pubsubMessageId: null, source: 'event' };
  }
  return {
    kind: 'webhook',
    body: bytes,
    // A body that is not JSON is taken as the form Gupshup posts (`response=[…]`).
    contentType: json ? 'application/json' : 'application/x-www-form-urlencoded',
  };
}

export type ReplayResult =
  | {
      file: string;
      as: 'fdr';
      source: 'event' | 'pubsub';
      inboxId: number;
      duplicate: boolean;
    }
  | {
      file: string;
      as: 'webhook';
      events: { kind: WebhookEvent['kind']; created: boolean }[];
    };

export async function replayFile(
  deps: {
    config: Pick<Config, 'OUTCOME_TIME_ZONE'>;
    db: Db;
    queues: Queues;
    metrics: Pick<Metrics, 'fdrEvents'>;
    log: Log;
    maxEvents: number;
  },
  file: string,
  as?: ReplayAs,
): Promise<ReplayResult> {
  const bytes = await readFile(file).catch((err: NodeJS.ErrnoException) => {
    throw new CommandError('ERR_FILE', `cannot read ${file}: ${err.code ?? err.message}`);
  });
  const input = classifyReplay(bytes, as);
  if (input.kind === 'fdr') {
    const result = await ingestFdrMessage(deps, input.data, input.pubsubMessageId);
    if (result.status === 'status') {
      throw new CommandError(
        'ERR_NOT_REPLAYED',
        `not replayed (status): a ${result.shipmentStatus} event, queued for its outcome`,
      );
    }
    if (result.status !== 'accepted') {
      throw new CommandError(
        'ERR_NOT_REPLAYED',
        `not replayed (${result.status}): ${result.reason}`,
      );
    }
    return {
      file,
      as: 'fdr',
      source: input.source,
      inboxId: result.inboxId,
      duplicate: result.duplicate,
    };
  }
  const parsed = parseWebhook(
    { contentType: input.contentType, body: input.body, query: {} },
    { maxEvents: deps.maxEvents },
  );
  if (!parsed.ok) {
    throw new CommandError(
      'ERR_NOT_REPLAYED',
      `not an FDR event, Pub/Sub message or Gupshup webhook body: ${parsed.reason}`,
    );
  }
  if (parsed.events.length === 0) {
    throw new CommandError(
      'ERR_NOT_REPLAYED',
      'the webhook body holds no delivery report or message',
    );
  }
  const events: { kind: WebhookEvent['kind']; created: boolean }[] = [];
  for (const event of parsed.events) {
    events.push({ kind: event.kind, created: await storeAndEnqueue(deps, event) });
  }
  return { file, as: 'webhook', events };
}

const KIND_LABELS: Readonly<Record<WebhookEvent['kind'], string>> = {
  dlr: 'delivery report',
  inbound: 'inbound message',
  user: 'user event (an opt-out or opt-in is queued, others stored only)',
  billing: 'billing event (stored only)',
  ignored: 'ignored callback (stored only)',
};

export function renderReplay(result: ReplayResult): string {
  if (result.as === 'fdr') {
    const what = result.source === 'pubsub' ? 'Pub/Sub message' : 'FDR event';
    return result.duplicate
      ? `${what} already recorded (fdr_inbox ${result.inboxId}); nothing new was taken in.\n`
      : `${what} recorded as fdr_inbox ${result.inboxId} and queued for fdr.validate.\n`;
  }
  const created = result.events.filter((e) => e.created).length;
  const kinds = result.events.map((e) => KIND_LABELS[e.kind]);
  return `Webhook body: ${result.events.length} event(s) (${[...new Set(kinds)].join(', ')}), ${created} new, ${result.events.length - created} already recorded; new ones queued.\n`;
}
