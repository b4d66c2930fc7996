/**
 * Prometheus metrics, one registry per process (per `Deps`, so several services in one test
 * process do not collide). Served at `/metrics`.
 *
 * Counters are bumped where the event happens (workers, the webhook route, the settings cache);
 * latencies of the Gupshup and WMS clients are measured by wrapping the clients where
 * `createDeps` (src/deps.ts) creates them (`instrumentGupshup`, `instrumentWms`), and job duration
 * and outcome by wrapping every processor (`observeJobs`). Queue depth is read from Redis at
 * scrape time, so it is as fresh as the scrape and costs nothing between scrapes. Label values
 * are bounded sets (queue names, states, result classes, Gupshup error ids); no id or number is
 * ever a label.
 */
import { DelayedError, UnrecoverableError, type Job, type Processor } from 'bullmq';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

import type { GupshupClient, SendResult } from './gupshup/types.ts';
import { QUEUE_NAMES, type Queues } from './queues/index.ts';
import { withTimeout } from './timeout.ts';
import type { WmsClient, WmsResult } from './wms/client.ts';

/** The job states reported per queue (BullMQ's own names). */
export const QUEUE_STATES = [
  'waiting',
  'active',
  'delayed',
  'prioritized',
  'failed',
  'completed',
] as const;

/** A scrape must answer even when Redis does not; the queue series are then left out. */
const QUEUE_SCRAPE_TIMEOUT_MS = 2_000;

export interface Metrics {
  registry: Registry;
  /** Inbound messages from numbers the service never wrote to (ignored, not stored). */
  unknownSenderReplies: Counter;
  /** Customer replies by inbound type and what was done with them. */
  replies: Counter<'type' | 'outcome'>;
  /**
   * FDR events taken from Pub/Sub (pull or push) by outcome: accepted (recorded and queued),
   * duplicate (a redelivery), ignored (not an FDR), invalid (an FDR no redelivery can fix:
   * acknowledged, recorded as skipped), status (a later status event of a shipment with an
   * outcome row, queued for `shipment.status`), status_ignored (one of a shipment without).
   */
  fdrEvents: Counter<'outcome'>;
  /**
   * Failed-delivery attempts reaching a stage of the outcomes funnel, each counted once: sent,
   * delivered, read, replied, actioned (the message and the answer), and the outcomes
   * shipment_delivered, failed_again, rto, cancelled.
   */
  outcomes: Counter<'stage'>;
  /** Attempts whose courier did not do what the customer chose, by courier. */
  notHonoured: Counter<'courier'>;
  /** Webhook requests by outcome (accepted, unauthorized, invalid, too_large, unavailable, error). */
  webhookRequests: Counter<'outcome'>;
  /**
   * Jobs per queue by outcome: completed, retrying (an attempt failed, more to come), failed,
   * delayed (put off without using an attempt: a sender's turn, a lost send's report).
   */
  jobs: Counter<'queue' | 'outcome'>;
  /** How long one processor run (one attempt) took, per queue. */
  jobDuration: Histogram<'queue'>;
  /** WhatsApp sends by kind (template, session), result (sent, retrying, failed) and error code. */
  sends: Counter<'kind' | 'result' | 'code'>;
  /**
   * Interactive follow-ups sent as their text version because the connection cannot send them:
   * `refused` (Gupshup refused this one), `remembered` (an earlier refusal stands).
   */
  interactiveFallbacks: Counter<'reason'>;
  /** Replies naming a conversation (by postback, reply or context id) from another customer. */
  forgedReplies: Counter<'boundBy'>;
  /** Delivery reports handled by `dlr.process`: applied, unchanged (old or duplicate), ignored. */
  deliveryReports: Counter<'outcome'>;
  /** Message status changes applied from delivery reports (SENT, DELIVERED, READ, FAILED). */
  deliveryStatuses: Counter<'status'>;
  /** Gupshup SendMessage latency by operation and result class. */
  gupshupLatency: Histogram<'operation' | 'result'>;
  /** WMS call latency by operation and result class. */
  wmsLatency: Histogram<'operation' | 'result'>;
  /** Account settings lookups answered from the in-process cache (hit) or MySQL (miss). */
  settingsCache: Counter<'result'>;
  /**
   * Messages not sent, by the reason the timeline's `whatsapp_not_sent` entry gives:
   * `opted_out`, `not_on_whatsapp` (the number is suppressed), `window_closed` (a session
   * message outside the customer's 24-hour window), `whatsapp_disabled`, `no_template`, ….
   */
  notSent: Counter<'reason'>;
  /**
   * Opt-outs and opt-ins applied to the suppression list, by change (`opted_out`, `opted_in`)
   * and source (`keyword`, `message`: any other message from the customer, `user_event`,
   * `api`).
   */
  optChanges: Counter<'change' | 'source'>;
}

/** Where the per-sender gauges are read at scrape time (Redis: src/sender-pace.ts, src/sender-pause.ts). */
export interface SenderStates {
  paces(): Promise<Map<string, number>>;
  paused(): Promise<string[]>;
}

/**
 * Creates the registry; with `queues`, `/metrics` also reports their depth and pause state, and
 * with `senders` each sender's pace and pause.
 */
export function createMetrics(queues?: Queues, senders?: SenderStates): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const registers = [registry];
  if (queues) {
    registerQueueGauges(registry, queues);
  }
  if (senders) {
    registerSenderGauges(registry, senders);
  }
  return {
    registry,
    unknownSenderReplies: new Counter({
      name: 'whatsapp_inbound_unknown_sender_total',
      help: 'Inbound WhatsApp messages from numbers the service never messaged (ignored)',
      registers,
    }),
    replies: new Counter({
      name: 'whatsapp_replies_total',
      help: 'Customer replies by inbound type and outcome',
      labelNames: ['type', 'outcome'],
      registers,
    }),
    fdrEvents: new Counter({
      name: 'whatsapp_fdr_events_total',
      help: 'FDR events taken from Pub/Sub by outcome (accepted, duplicate, ignored, invalid, status, status_ignored)',
      labelNames: ['outcome'],
      registers,
    }),
    webhookRequests: new Counter({
      name: 'whatsapp_webhook_requests_total',
      help: 'Gupshup webhook requests by outcome',
      labelNames: ['outcome'],
      registers,
    }),
    jobs: new Counter({
      name: 'whatsapp_jobs_total',
      help: 'Job attempts per queue by outcome (completed, retrying, failed)',
      labelNames: ['queue', 'outcome'],
      registers,
    }),
    jobDuration: new Histogram({
      name: 'whatsapp_job_duration_seconds',
      help: 'Duration of one job attempt, per queue',
      labelNames: ['queue'],
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers,
    }),
    sends: new Counter({
      name: 'whatsapp_sends_total',
      help: 'WhatsApp sends by kind, result and error code (gupshup_<id>, http_<status>, timeout, …)',
      labelNames: ['kind', 'result', 'code'],
      registers,
    }),
    forgedReplies: new Counter({
      name: 'whatsapp_replies_from_other_sender_total',
      help: "Replies that named a conversation by postback, reply id or context id but did not come from its customer's number or user id; recorded, not acted on",
      labelNames: ['boundBy'],
      registers,
    }),
    interactiveFallbacks: new Counter({
      name: 'whatsapp_interactive_fallbacks_total',
      help: 'Interactive follow-ups sent as numbered text because the connection cannot send interactive messages, by reason (refused, remembered)',
      labelNames: ['reason'],
      registers,
    }),
    deliveryReports: new Counter({
      name: 'whatsapp_delivery_reports_total',
      help: 'Delivery reports handled, by outcome (applied, unchanged, ignored)',
      labelNames: ['outcome'],
      registers,
    }),
    deliveryStatuses: new Counter({
      name: 'whatsapp_delivery_statuses_total',
      help: 'Message status changes applied from delivery reports, by new status',
      labelNames: ['status'],
      registers,
    }),
    gupshupLatency: new Histogram({
      name: 'whatsapp_gupshup_request_duration_seconds',
      help: 'Gupshup SendMessage latency by operation and result',
      labelNames: ['operation', 'result'],
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    }),
    wmsLatency: new Histogram({
      name: 'whatsapp_wms_request_duration_seconds',
      help: 'WMS API latency by operation and result',
      labelNames: ['operation', 'result'],
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    }),
    settingsCache: new Counter({
      name: 'whatsapp_settings_cache_requests_total',
      help: 'Account settings lookups by result (hit, miss)',
      labelNames: ['result'],
      registers,
    }),
    outcomes: new Counter({
      name: 'whatsapp_outcomes_total',
      help: 'Failed-delivery attempts reaching each stage of the outcomes funnel (sent, delivered, read, replied, actioned, and the outcomes shipment_delivered, failed_again, rto, cancelled)',
      labelNames: ['stage'],
      registers,
    }),
    notHonoured: new Counter({
      name: 'whatsapp_not_honoured_total',
      help: "Attempts whose courier did not honour the customer's choice (other date, no out-for-delivery, contradicting reason), by courier",
      labelNames: ['courier'],
      registers,
    }),
    notSent: new Counter({
      name: 'whatsapp_not_sent_total',
      help: 'Messages not sent, by reason (opted_out, not_on_whatsapp, window_closed, whatsapp_disabled, …)',
      labelNames: ['reason'],
      registers,
    }),
    optChanges: new Counter({
      name: 'whatsapp_opt_changes_total',
      help: 'Opt-outs and opt-ins applied to the suppression list, by change (opted_out, opted_in) and source',
      labelNames: ['change', 'source'],
      registers,
    }),
  };
}

function registerQueueGauges(registry: Registry, queues: Queues): void {
  new Gauge({
    name: 'whatsapp_queue_jobs',
    help: 'Jobs per queue and state, read from Redis at scrape time',
    labelNames: ['queue', 'state'],
    registers: [registry],
    async collect() {
      // Reset first: after a failed read the series go missing rather than stay stale.
      this.reset();
      await Promise.all(
        QUEUE_NAMES.map(async (name) => {
          const counts = await readQueue(queues[name].getJobCounts(...QUEUE_STATES), name);
          if (!counts) {
            return;
          }
          for (const state of QUEUE_STATES) {
            this.set({ queue: name, state }, counts[state] ?? 0);
          }
        }),
      );
    },
  });
  new Gauge({
    name: 'whatsapp_queue_paused',
    help: 'Whether the queue is paused (1) or not (0)',
    labelNames: ['queue'],
    registers: [registry],
    async collect() {
      this.reset();
      await Promise.all(
        QUEUE_NAMES.map(async (name) => {
          const paused = await readQueue(queues[name].isPaused(), name);
          if (paused !== null) {
            this.set({ queue: name }, paused ? 1 : 0);
          }
        }),
      );
    },
  });
}

function registerSenderGauges(registry: Registry, senders: SenderStates): void {
  new Gauge({
    name: 'whatsapp_sender_pace_per_second',
    help: 'Sends per second each sender connection may make now: GUPSHUP_SENDER_MAX_PER_SECOND, halved per throttle (HTTP 429, v2 4001, Meta 130429) and recovering step by step',
    labelNames: ['connection'],
    registers: [registry],
    async collect() {
      this.reset();
      const paces = await readQueue(senders.paces(), 'sender paces');
      for (const [connection, perSecond] of paces ?? []) {
        this.set({ connection }, perSecond);
      }
    },
  });
  new Gauge({
    name: 'whatsapp_sender_paused',
    help: 'Whether the sender connection is paused (1: credentials refused or credit exhausted; its messages wait) or not (0)',
    labelNames: ['connection'],
    registers: [registry],
    async collect() {
      this.reset();
      const [paces, paused] = await Promise.all([
        readQueue(senders.paces(), 'sender paces'),
        readQueue(senders.paused(), 'paused senders'),
      ]);
      for (const connection of paces?.keys() ?? []) {
        this.set({ connection }, 0);
      }
      for (const connection of paused ?? []) {
        this.set({ connection }, 1);
      }
    },
  });
}

async function readQueue<T>(read: Promise<T>, name: string): Promise<T | null> {
  try {
    return await withTimeout(read, QUEUE_SCRAPE_TIMEOUT_MS, `reading queue ${name}`);
  } catch {
    return null;
  }
}

/**
 * Wraps a processor to time each attempt and count its outcome. A failed attempt counts as
 * `retrying` when BullMQ will run it again (attempts left, not an UnrecoverableError), else as
 * `failed`. A job cut off by a forced shutdown never finishes here and is not counted.
 */
export function observeJobs(metrics: Metrics, queue: string, processor: Processor): Processor {
  return async (job, token, signal) => {
    const end = metrics.jobDuration.startTimer({ queue });
    try {
      const result = (await processor(job, token, signal)) as unknown;
      metrics.jobs.inc({ queue, outcome: 'completed' });
      return result;
    } catch (err) {
      const outcome =
        err instanceof DelayedError ? 'delayed' : willRetry(job, err) ? 'retrying' : 'failed';
      metrics.jobs.inc({ queue, outcome });
      throw err;
    } finally {
      end();
    }
  };
}

function willRetry(job: Job, err: unknown): boolean {
  return !(err instanceof UnrecoverableError) && job.attemptsMade + 1 < (job.opts.attempts ?? 1);
}

/** The result label for a client outcome: `ok`, or the class of its stable error code. */
function resultClass(result: { ok: true } | { ok: false; code: string }): string {
  if (result.ok) {
    return 'ok';
  }
  // `gupshup_105` → gupshup_error, `http_503` → http_error; the rest are already classes.
  return result.code.replace(/^(gupshup|http)_\d+$/, '$1_error');
}

/** The Gupshup client, with each send timed into `whatsapp_gupshup_request_duration_seconds`. */
export function instrumentGupshup(client: GupshupClient, metrics: Metrics): GupshupClient {
  const timed = async (operation: string, call: () => Promise<SendResult>) => {
    const end = metrics.gupshupLatency.startTimer({ operation });
    let result: SendResult | undefined;
    try {
      result = await call();
      return result;
    } finally {
      end({ result: result ? resultClass(result) : 'exception' });
    }
  };
  return {
    sendTemplate: (account, msg, signal) =>
      timed('send_template', () => client.sendTemplate(account, msg, signal)),
    sendSession: (account, msg, signal) =>
      timed(msg.content.type === 'text' ? 'send_text' : `send_${msg.content.type}`, () =>
        client.sendSession(account, msg, signal),
      ),
    supports: (account, type) => client.supports(account, type),
    close: () => client.close(),
  };
}

/** The WMS client, with each call timed into `whatsapp_wms_request_duration_seconds`. */
export function instrumentWms(client: WmsClient, metrics: Metrics): WmsClient {
  const timed = async <T>(operation: string, call: () => Promise<WmsResult<T>>) => {
    const end = metrics.wmsLatency.startTimer({ operation });
    let result: WmsResult<T> | undefined;
    try {
      result = await call();
      return result;
    } finally {
      end({ result: result ? resultClass(result) : 'exception' });
    }
  };
  return {
    getOrderStatus: (shipmentId, signal) =>
      timed('get_order_status', () => client.getOrderStatus(shipmentId, signal)),
    notifyNdr: (n, idempotencyKey, signal) =>
      timed('notify_ndr', () => client.notifyNdr(n, idempotencyKey, signal)),
    close: () => client.close(),
  };
}
