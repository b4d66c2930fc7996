/**
 * Test helpers for the sandbox's own tests (src/sandbox/*.test.ts): a tiny webhook that records
 * what the sandbox posts to it, and polling for a condition instead of sleeping. Not used by the
 * sandbox itself.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One request the in-test webhook received. */
export interface Received {
  method: string;
  url: URL;
  contentType: string;
  body: string;
}

export interface Receiver {
  /** The webhook URL, with a token in the query string like the service's. */
  url: string;
  received: Received[];
  /** Statuses for the next requests, in order; 202 once they run out. */
  answerNext(...statuses: number[]): void;
  close(): Promise<void>;
}

export async function startReceiver(): Promise<Receiver> {
  const received: Received[] = [];
  const statuses: number[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      received.push({
        method: req.method ?? '',
        url: new URL(req.url ?? '/', 'http://receiver'),
        contentType: req.headers['content-type'] ?? '',
        body: Buffer.concat(chunks).toString('utf8'),
      });
      res.statusCode = statuses.shift() ?? 202;
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/api/_ah/v1/message?token=dev-webhook-token`,
    received,
    answerNext: (...next) => {
      statuses.push(...next);
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      }),
  };
}

/** Resolves once `condition` holds; rejects after `timeoutMs`. */
export async function waitUntil(condition: () => boolean, timeoutMs = 2_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) {
      throw new Error('condition not met in time');
    }
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
