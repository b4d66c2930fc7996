/**
 * A WMS stand-in for tests and the local demo (`npm run sandbox` serves it on SANDBOX_WMS_PORT):
 * a Fastify server that speaks the contract documented in src/wms/client.ts.
 *
 * - `GET /order/status?shipmentId=` answers `{ shipmentId, status }`; a shipment nobody set is in
 *   `failed_delivery`, the state every FDR conversation starts from.
 * - `POST /_ah/esb/v1/ndrNotification` checks the body against the contract (400 otherwise),
 *   records it once per `Idempotency-Key`, and answers a repeated key with 200 without recording
 *   it again (counted in `repeats`), the way the real WMS is expected to dedupe.
 * - `failNext` / `hangNext` script the answers to the next requests, whichever endpoint they hit.
 *
 * With `token`, both endpoints require `Authorization: Bearer <token>` (401 otherwise).
 */
import type { AddressInfo } from 'node:net';

import { fastify, type FastifyRequest } from 'fastify';
import * as v from 'valibot';

export interface RecordedNotification {
  /** The Idempotency-Key header. */
  key: string;
  body: Record<string, unknown>;
  at: Date;
}

export interface RecordedRequest {
  method: string;
  /** Path and query exactly as received (still percent-encoded). */
  url: string;
  /** Lower-cased header names; repeated headers joined with ", ". */
  headers: Record<string, string>;
  at: Date;
}

export interface FakeWms {
  /** Base URL, what WMS_API_URL points at. */
  url: string;
  setStatus(shipmentId: string, status: string): void;
  /** Accepted ndrNotifications, oldest first, one per idempotency key. */
  notifications: RecordedNotification[];
  /** How many ndrNotifications repeated an already accepted key. */
  readonly repeats: number;
  /** Every request received, oldest first, including refused ones. */
  requests: RecordedRequest[];
  /** The next request (either endpoint) gets this status and body (default `{ message }`). */
  failNext(status: number, body?: unknown): void;
  /** The next request gets no answer until the fake closes: for client timeouts and aborts. */
  hangNext(): void;
  /** Forgets statuses, recorded requests and notifications, repeats and scripted answers. */
  reset(): void;
  close(): Promise<void>;
}

type Scripted = { kind: 'answer'; status: number; body: unknown } | { kind: 'hang' };

const DEFAULT_STATUS = 'failed_delivery';

/** The ndrNotification body the service must send; strict, so a stray field is caught too. */
const NdrBodySchema = v.pipe(
  v.strictObject({
    shipmentId: v.pipe(v.string(), v.nonEmpty()),
    accountId: v.pipe(v.number(), v.integer()),
    action: v.picklist(['REATTEMPT', 'RESCHEDULE', 'CANCEL', 'RAISE_CONCERN']),
    deliveryDate: v.optional(v.pipe(v.string(), v.isoDate())),
    remarks: v.optional(v.string()),
    source: v.literal('whatsapp'),
    messageId: v.pipe(v.string(), v.nonEmpty()),
  }),
  v.check(
    (body) => body.action !== 'RESCHEDULE' || body.deliveryDate !== undefined,
    'RESCHEDULE needs a deliveryDate',
  ),
);

export async function startFakeWms(
  opts: { token?: string; port?: number; host?: string } = {},
): Promise<FakeWms> {
  const statuses = new Map<string, string>();
  const notifications: RecordedNotification[] = [];
  const requests: RecordedRequest[] = [];
  const seenKeys = new Set<string>();
  const scripted: Scripted[] = [];
  let repeats = 0;
  // Aborted on close so hung requests end instead of holding app.close() open.
  const closing = new AbortController();

  const app = fastify({ logger: false });

  app.addHook('onRequest', async (request, reply) => {
    requests.push({
      method: request.method,
      url: request.url,
      headers: flattenHeaders(request),
      at: new Date(),
    });
    const next = scripted.shift();
    if (next?.kind === 'answer') {
      return reply.code(next.status).send(next.body);
    }
    if (next?.kind === 'hang') {
      await waitForClose(closing.signal);
      return reply.code(503).send({ message: 'fake WMS: closing' });
    }
    if (opts.token && request.headers.authorization !== `Bearer ${opts.token}`) {
      return reply.code(401).send({ message: 'missing or wrong bearer token' });
    }
    return undefined;
  });

  app.get('/order/status', (request, reply) => {
    const shipmentId = new URL(request.url, 'http://fake-wms').searchParams.get('shipmentId');
    if (!shipmentId) {
      return reply.code(400).send({ message: 'shipmentId is required' });
    }
    return reply.send({ shipmentId, status: statuses.get(shipmentId) ?? DEFAULT_STATUS });
  });

  app.post('/_ah/esb/v1/ndrNotification', (request, reply) => {
    const key = request.headers['idempotency-key'];
    if (typeof key !== 'string' || key === '') {
      return reply.code(400).send({ message: 'Idempotency-Key header is required' });
    }
    const parsed = v.safeParse(NdrBodySchema, request.body);
    if (!parsed.success) {
      const problems = parsed.issues.map(
        (issue) => `${v.getDotPath(issue) ?? '(body)'}: ${issue.message}`,
      );
      return reply.code(400).send({ message: problems.join('; ') });
    }
    if (seenKeys.has(key)) {
      repeats += 1;
      return reply.send({ status: 'already_applied' });
    }
    seenKeys.add(key);
    notifications.push({ key, body: parsed.output, at: new Date() });
    return reply.send({ status: 'applied' });
  });

  await app.listen({ port: opts.port ?? 0, host: opts.host ?? '127.0.0.1' });
  const { port } = app.server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    setStatus: (shipmentId, status) => {
      statuses.set(shipmentId, status);
    },
    notifications,
    get repeats() {
      return repeats;
    },
    requests,
    failNext: (status, body) => {
      scripted.push({
        kind: 'answer',
        status,
        body: body === undefined ? { message: `fake WMS: injected HTTP ${status}` } : body,
      });
    },
    hangNext: () => {
      scripted.push({ kind: 'hang' });
    },
    reset: () => {
      statuses.clear();
      notifications.length = 0;
      requests.length = 0;
      seenKeys.clear();
      scripted.length = 0;
      repeats = 0;
    },
    close: async () => {
      closing.abort();
      await app.close();
    },
  };
}

function flattenHeaders(request: FastifyRequest): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(request.headers)) {
    if (value !== undefined) {
      headers[name] = Array.isArray(value) ? value.join(', ') : value;
    }
  }
  return headers;
}

function waitForClose(signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) {
      resolve();
      return;
    }
    signal.addEventListener('abort', () => resolve(), { once: true });
  });
}
