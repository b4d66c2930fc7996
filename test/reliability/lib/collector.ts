/**
 * A stand-in for the service's webhook: records every callback the sandbox posts (and answers
 * 200), so the runner can deliver them to the real webhook later, repeated and out of order.
 */
import { once } from 'node:events';
import { createServer, type IncomingMessage } from 'node:http';

export interface Collected {
  method: string;
  contentType: string;
  body: string;
  /** The query string of a GET callback. */
  search: string;
}

export interface Collector {
  url: string;
  requests: Collected[];
  close(): Promise<void>;
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) {
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

export async function startCollector(): Promise<Collector> {
  const requests: Collected[] = [];
  const server = createServer((req, res) => {
    readBody(req).then(
      (body) => {
        const url = new URL(req.url ?? '/', 'http://collector');
        requests.push({
          method: req.method ?? 'POST',
          contentType: req.headers['content-type'] ?? '',
          body,
          search: url.search,
        });
        res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
      },
      () => res.writeHead(400).end(),
    );
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}/collect`,
    requests,
    async close() {
      server.close();
      server.closeAllConnections();
      await once(server, 'close');
    },
  };
}

/** Posts callbacks to the webhook with `concurrency` in flight; resolves with non-200 answers. */
export async function replay(
  webhookUrl: string,
  list: Collected[],
  concurrency = 16,
): Promise<number> {
  let next = 0;
  let refused = 0;
  const token = new URL(webhookUrl).searchParams.get('token') ?? '';
  const lane = async () => {
    while (next < list.length) {
      const item = list[next++]!;
      const url = new URL(webhookUrl);
      if (item.method === 'GET') {
        for (const [k, v] of new URLSearchParams(item.search)) {
          url.searchParams.set(k, v);
        }
        url.searchParams.set('token', token);
      }
      const res = await fetch(url, {
        method: item.method,
        ...(item.method === 'GET'
          ? {}
          : { headers: { 'content-type': item.contentType }, body: item.body }),
      });
      await res.arrayBuffer();
      if (res.status !== 200) {
        refused++;
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, lane));
  return refused;
}

export function shuffle<T>(list: T[]): T[] {
  const out = [...list];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}
