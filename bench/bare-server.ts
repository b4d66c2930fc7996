/**
 * The baseline HTTP route: a bare Fastify server whose one route parses a form body and enqueues
 * one BullMQ job, nothing else. Run as its own process by the benchmark (like the service), it
 * prints `listening <port>` once it listens. REDIS_URL and QUEUE_PREFIX say where the job goes.
 */
import { Queue } from 'bullmq';
import Fastify from 'fastify';

import { redisOptions } from '../src/deps.ts';

const connection = { ...redisOptions(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379') };
const queue = new Queue('bare', { connection, prefix: process.env.QUEUE_PREFIX ?? 'bench-bare' });
const app = Fastify({ logger: false });
app.addContentTypeParser(
  'application/x-www-form-urlencoded',
  { parseAs: 'string' },
  (_request, body, done) => done(null, Object.fromEntries(new URLSearchParams(String(body)))),
);
app.post('/bare', async (request, reply) => {
  await queue.add('bare', { body: request.body }, { removeOnComplete: true });
  return reply.code(200).send();
});
await app.listen({ port: 0, host: '127.0.0.1' });
const address = app.server.address();
console.log(`listening ${typeof address === 'object' && address ? address.port : 0}`);
process.on('SIGTERM', () => {
  void app
    .close()
    .then(() => queue.close())
    .then(() => process.exit(0));
});
