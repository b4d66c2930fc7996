/**
 * Stopping the HTTP side while a caller holds a keep-alive connection with a request in flight
 * (Gupshup posting a delivery report as the process stops): the request is answered with
 * `Connection: close` and the connection ends, so the shutdown does not wait out the 72 s
 * keep-alive timeout. Real Redis and MariaDB; a raw socket plays the caller.
 */
import { connect, type Socket } from 'node:net';

import mysql from 'mysql2/promise';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { startService, type Service } from '../../src/service.ts';
import { createTestEnv, MYSQL_URL, waitFor } from '../helpers/env.ts';

const WEBHOOK_TOKEN = 'test-webhook-token';
const env = createTestEnv('httpclose');
let service: Service | null = null;

beforeAll(async () => {
  service = await startService(env.config({ WEBHOOK_TOKEN }), ['api']);
});

afterAll(async () => {
  await service?.close(5_000);
  await env.dropDatabase();
});

describe('a request the HTTP parser refuses', () => {
  it('is answered with a reason and Connection: close, so a keep-alive caller does not reuse the dead connection', async () => {
    // One connection, kept alive: the second request goes where the first went, unless the
    // first answer said the connection closes.
    const agent = new Agent({ connections: 1, pipelining: 1 });
    try {
      const tooBig = await request(`${service!.url}/healthz`, {
        headers: { 'x-padding': 'a'.repeat(20_000) },
        dispatcher: agent,
      });
      expect(tooBig.statusCode).toBe(431);
      expect(tooBig.headers.connection).toBe('close');
      expect(await tooBig.body.json()).toMatchObject({ message: expect.any(String) });
      for (let i = 0; i < 3; i += 1) {
        const next = await request(`${service!.url}/healthz`, { dispatcher: agent });
        expect(next.statusCode).toBe(200);
        await next.body.dump();
      }
    } finally {
      await agent.close();
    }

    const url = new URL(service!.url!);
    const socket: Socket = connect(Number(url.port), url.hostname);
    let received = '';
    socket.on('data', (chunk: Buffer) => {
      received += chunk.toString('utf8');
    });
    const ended = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n');
    await ended;
    expect(received).toMatch(/^HTTP\/1\.1 400 /);
    expect(received.toLowerCase()).toContain('connection: close');
    expect(received).toMatch(/"message":"[^"]+"/);
  });
});

describe('closing the HTTP side', () => {
  it('answers a request in flight with Connection: close and lets its keep-alive connection go', async () => {
    const url = new URL(service!.url!);
    const body = new URLSearchParams({
      response: JSON.stringify([
        {
          srcAddr: 'TESTSM',
          externalId: '4921687316728868875-376937873247896673',
          eventType: 'SENT',
          errorCode: '025',
          cause: 'SENT',
          destAddr: '919650186697',
          eventTs: 1686222477000,
        },
      ]),
    }).toString();
    const socket: Socket = connect(Number(url.port), url.hostname);
    await new Promise<void>((resolve) => socket.once('connect', resolve));
    let received = '';
    socket.on('data', (chunk: Buffer) => {
      received += chunk.toString('utf8');
    });
    const ended = new Promise<void>((resolve) => socket.once('close', () => resolve()));

    // The handler is held inside its MySQL write, so the request is in flight when the
    // shutdown begins; it is let go once the shutdown has started.
    const lock = await mysql.createConnection({ uri: `${MYSQL_URL}/${env.database}` });
    let shutdown: { started: number; closing: Promise<void> } | undefined;
    try {
      await lock.query('LOCK TABLES webhook_events WRITE');
      socket.write(
        `POST /api/_ah/v1/message?token=${WEBHOOK_TOKEN} HTTP/1.1\r\nHost: ${url.host}\r\n` +
          `Connection: keep-alive\r\nContent-Type: application/x-www-form-urlencoded\r\n` +
          `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
      );
      await waitFor(
        async () => {
          const [rows] = await lock.query<mysql.RowDataPacket[]>(
            "select 1 from information_schema.processlist where info like 'insert into `webhook_events`%'",
          );
          return rows.length > 0;
        },
        { what: 'the webhook handler waiting on its insert' },
      );
      shutdown = { started: Date.now(), closing: service!.close() };
    } finally {
      await lock.query('UNLOCK TABLES');
      await lock.end();
    }

    await waitFor(() => received.includes('\r\n\r\n'), { what: 'the answer' });
    expect(received).toMatch(/^HTTP\/1\.1 200 /);
    expect(received.toLowerCase()).toContain('connection: close');
    await ended;
    await shutdown?.closing;
    service = null;
    // Far inside Fastify's 72 s keep-alive timeout, which an open connection would have waited out.
    expect(Date.now() - (shutdown?.started ?? 0)).toBeLessThan(10_000);
  });
});
