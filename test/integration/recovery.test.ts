/**
 * Recovery from the faults a crash or an outage leaves behind, each once, against real Redis,
 * MariaDB and the sandbox over HTTP:
 * - work MySQL says is unfinished is revived by the sweeper even when its job sits in the failed
 *   set (a job that stalled too often, say);
 * - Gupshup's answer, once received, is never lost: when MySQL refuses the commit, the retry
 *   finds the answer kept with the job and records the message instead of sending it again;
 * - a delivery report without our key (the seed's own sample has none) names the one send to
 *   that number whose answer was lost, so it is recorded as sent, not sent twice; with a second
 *   unfinished send to that number, nothing is attributed;
 * - a report that arrives while its send is still in flight is looked at again every moment,
 *   not at the queue's growing backoff, so it settles the send before its reconcile wait ends;
 * - a send past its reconcile wait does not go again while reports received since its attempt
 *   are still queued (a backlog after a restart).
 */
import { Queue, UnrecoverableError, Worker } from 'bullmq';
import { eq } from 'drizzle-orm';
import mysql from 'mysql2/promise';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

import { redisOptions } from '../../src/deps.ts';
import { queuePrefix } from '../../src/redis-keys.ts';
import { listShipmentActivity } from '../../src/db/activity.ts';
import { openConversation } from '../../src/db/conversations.ts';
import { insertOutbox, noteAcceptedSendByNumber } from '../../src/db/outbox.ts';
import { fdrInbox, notificationOutbox, webhookEvents } from '../../src/db/schema.ts';
import { createLog } from '../../src/log.ts';
import { saveAccountSettings } from '../../src/db/settings.ts';
import { startSandbox, textReply, type Sandbox } from '../../src/sandbox/server.ts';
import { startService, type Service, type ServiceOptions } from '../../src/service.ts';
import { sweepOnce } from '../../src/sweeper.ts';
import { createTestEnv, MYSQL_URL, REDIS_URL, waitFor } from '../helpers/env.ts';
import { fdrEvent } from '../helpers/fixtures.ts';
import { isSendOf, outboxOf } from '../helpers/outbox.ts';
import { pushFdr } from '../helpers/push.ts';

const WEBHOOK_TOKEN = 'recovery-webhook-token';
const env = createTestEnv('recovery');
let sandbox: Sandbox;
const services: Service[] = [];

async function start(
  overrides: Record<string, string>,
  roles: Array<'api' | 'worker'>,
  options: ServiceOptions = {},
) {
  const service = await startService(
    env.config({
      GUPSHUP_ENTERPRISE_URL: sandbox.url,
      WEBHOOK_TOKEN,
      DB_MIGRATE_ON_START: services.length === 0 ? 'true' : 'false',
      ...overrides,
    }),
    roles,
    options,
  );
  services.push(service);
  return service;
}

function sendsOf(shipmentId: string) {
  return sandbox.sends.filter((s) => isSendOf(s, `fdr-${shipmentId}-1`) && s.outcome === 'success');
}

beforeAll(async () => {
  sandbox = await startSandbox({ port: 0, host: '127.0.0.1' });
});

afterEach(async () => {
  while (services.length > 1) {
    await services.pop()!.close(5_000);
  }
  sandbox.setCallback(null);
  sandbox.reset();
});

afterAll(async () => {
  for (const service of services) {
    await service.close(5_000);
  }
  await sandbox?.close();
  await env.dropDatabase();
});

describe('recovery', () => {
  it('revives an unfinished FDR event whose job failed (stalled too often), and sends it once', async () => {
    const api = await start({}, ['api']);
    await saveAccountSettings(api.deps.db, 379, { enabled: true });
    await pushFdr(api, fdrEvent({ shipmentId: 'REVIVE-1' }));
    // A worker that fails the job for good, as BullMQ does past JOB_MAX_STALLS.
    const killer = new Worker(
      'fdr.validate',
      () => Promise.reject(new UnrecoverableError('job stalled more than allowable limit')),
      {
        connection: redisOptions(REDIS_URL),
        prefix: queuePrefix(api.deps.config.QUEUE_PREFIX, 'fdr.validate'),
      },
    );
    const queue = new Queue('fdr.validate', {
      connection: redisOptions(REDIS_URL),
      prefix: queuePrefix(api.deps.config.QUEUE_PREFIX, 'fdr.validate'),
    });
    try {
      await waitFor(async () => (await queue.getFailedCount()) === 1, { what: 'the failed job' });
    } finally {
      await killer.close();
      await queue.close();
    }
    const [inbox] = await api.deps.db
      .select()
      .from(fdrInbox)
      .where(eq(fdrInbox.shipmentId, 'REVIVE-1'));
    expect(inbox?.status).toBe('received');

    const swept = await sweepOnce(api.deps, 0);
    expect(swept.revived).toBe(1);
    await start({}, ['worker']);
    await waitFor(() => sendsOf('REVIVE-1').length === 1, { what: 'the revived send' });
    const outbox = await waitFor(async () => {
      const row = await outboxOf(api.deps.db, 'REVIVE-1');
      return row?.status === 'sent' ? row : null;
    });
    expect(outbox.attempts).toBe(1);
  });

  it("keeps Gupshup's answer with the job when MySQL refuses the commit, and records it on the retry without sending again", async () => {
    const service = await start({ SEND_RECONCILE_MS: '0', MESSAGE_SEND_BACKOFF_MS: '1500' }, [
      'api',
      'worker',
    ]);
    await saveAccountSettings(service.deps.db, 379, { enabled: true });
    const conn = await mysql.createConnection({ uri: `${MYSQL_URL}/${env.database}` });
    try {
      // The commit's first write fails: the table is briefly gone.
      await conn.query('RENAME TABLE whatsapp_status_logs TO whatsapp_status_logs_away');
      await pushFdr(service, fdrEvent({ shipmentId: 'KEPT-1' }));
      await waitFor(() => sendsOf('KEPT-1').length === 1, { what: 'the send Gupshup accepted' });
      // The commit has failed once (the job is waiting out its backoff), before the table is back.
      await waitFor(
        async () => {
          const row = await outboxOf(service.deps.db, 'KEPT-1');
          const job = row
            ? await service.deps.queues['message.send'].getJob(`send-outbox-${row.id}`)
            : undefined;
          return (job?.attemptsMade ?? 0) >= 1;
        },
        { what: 'the failed commit' },
      );
    } finally {
      await conn.query('RENAME TABLE whatsapp_status_logs_away TO whatsapp_status_logs');
      await conn.end();
    }
    const outbox = await waitFor(
      async () => {
        const row = await outboxOf(service.deps.db, 'KEPT-1');
        return row?.status === 'sent' ? row : null;
      },
      { what: 'the message recorded as sent' },
    );
    expect(outbox.gupshupMessageId).toBe(sendsOf('KEPT-1')[0]!.messageId);
    expect(sandbox.sends.filter((s) => isSendOf(s, 'fdr-KEPT-1-1'))).toHaveLength(1);
  });

  it('records a send whose answer was lost by its report without our key, sending nothing twice', async () => {
    const service = await start({ GUPSHUP_TIMEOUT_MS: '300', SEND_RECONCILE_MS: '60000' }, [
      'api',
      'worker',
    ]);
    await saveAccountSettings(service.deps.db, 379, { enabled: true });
    // Reports like the seed's sample: no `extra`.
    sandbox.setCallback({
      url: `${service.url}/api/_ah/v1/message?token=${WEBHOOK_TOKEN}`,
      echoExtra: false,
      delaysMs: { sent: 50, delivered: -1, read: -1 },
    });
    // Gupshup answers after the service gave up on it; the message still goes out.
    sandbox.failNext({ kind: 'delay', ms: 800 });
    await pushFdr(service, fdrEvent({ shipmentId: 'NOKEY-1', phone: '9811400001' }));
    const outbox = await waitFor(
      async () => {
        const row = await outboxOf(service.deps.db, 'NOKEY-1');
        return row?.status === 'sent' ? row : null;
      },
      { timeoutMs: 20_000, what: 'the message recorded by its report' },
    );
    // Well inside SEND_RECONCILE_MS: the report, not the timer, settled it.
    expect(outbox.attempts).toBe(1);
    expect(sandbox.sends.filter((s) => isSendOf(s, 'fdr-NOKEY-1-1'))).toHaveLength(1);
    expect(outbox.gupshupMessageId).toBe(
      sandbox.sends.find((s) => isSendOf(s, 'fdr-NOKEY-1-1'))!.messageId,
    );
  });

  it('settles a send by a report that came while it was in flight, before its reconcile wait ends', async () => {
    // The attempt is given up at 1.8 s, Gupshup takes it at 2 s and reports at once; the attempt
    // goes stale at 3.6 s and its reconcile wait ends at 4.6 s. With the queue's backoff (1 s,
    // then 2 s) the report would be looked at again only at about 5 s: too late.
    const service = await start({ GUPSHUP_TIMEOUT_MS: '1800', SEND_RECONCILE_MS: '2800' }, [
      'api',
      'worker',
    ]);
    await saveAccountSettings(service.deps.db, 379, { enabled: true });
    sandbox.setCallback({
      url: `${service.url}/api/_ah/v1/message?token=${WEBHOOK_TOKEN}`,
      echoExtra: false,
      delaysMs: { sent: 50, delivered: -1, read: -1 },
    });
    sandbox.failNext({ kind: 'delay', ms: 2_000 });
    await pushFdr(service, fdrEvent({ shipmentId: 'INFLIGHT-1', phone: '9811400002' }));
    const outbox = await waitFor(
      async () => {
        const row = await outboxOf(service.deps.db, 'INFLIGHT-1');
        return row?.status === 'sent' ? row : null;
      },
      { timeoutMs: 20_000, what: 'the message recorded' },
    );
    const sends = sandbox.sends.filter((s) => isSendOf(s, 'fdr-INFLIGHT-1-1'));
    expect(sends).toHaveLength(1);
    expect(outbox.gupshupMessageId).toBe(sends[0]!.messageId);
    // Recorded by the report before the reconcile wait ran out.
    expect(outbox.sentAt!.getTime() - sends[0]!.at.getTime()).toBeLessThan(4_600);
  });

  it('holds a send past its reconcile wait while reports received since its attempt are queued', async () => {
    const lines: string[] = [];
    const service = await start(
      { GUPSHUP_TIMEOUT_MS: '300', SEND_RECONCILE_MS: '1000' },
      ['api', 'worker'],
      { log: createLog('info', { write: (line: string) => void lines.push(line) }) },
    );
    await saveAccountSettings(service.deps.db, 379, { enabled: true });
    // No reports at all: the answer is lost and nothing will name the send.
    sandbox.failNext({ kind: 'delay', ms: 600 });
    await pushFdr(service, fdrEvent({ shipmentId: 'BACKLOG-1', phone: '9811400003' }));
    await waitFor(() => sendsOf('BACKLOG-1').length === 1, { what: 'the first attempt' });
    // A report received after that attempt, not processed yet (its job behind a backlog).
    await service.deps.db.insert(webhookEvents).values({
      eventKey: 'backlog-report-1',
      kind: 'dlr',
      payload: '{}',
    });
    await waitFor(
      () => lines.some((l) => l.includes('reports received since the earlier attempt')),
      { timeoutMs: 10_000, what: 'the send to wait for the queued reports' },
    );
    expect(sendsOf('BACKLOG-1')).toHaveLength(1);
    // Once the backlog is through (the report was not this send's), it goes again.
    await service.deps.db
      .update(webhookEvents)
      .set({ status: 'processed' })
      .where(eq(webhookEvents.eventKey, 'backlog-report-1'));
    await waitFor(() => sendsOf('BACKLOG-1').length === 2, {
      timeoutMs: 10_000,
      what: 'the second attempt',
    });
  });

  it('does not wait for reports that came after its reconcile wait (steady traffic)', async () => {
    const service = await start({ GUPSHUP_TIMEOUT_MS: '300', SEND_RECONCILE_MS: '1000' }, [
      'api',
      'worker',
    ]);
    await saveAccountSettings(service.deps.db, 379, { enabled: true });
    sandbox.failNext({ kind: 'delay', ms: 600 });
    await pushFdr(service, fdrEvent({ shipmentId: 'STEADY-1', phone: '9811400004' }));
    await waitFor(() => sendsOf('STEADY-1').length === 1, { what: 'the first attempt' });
    // Always some report queued, but from after this send's wait: not its own.
    await service.deps.db.insert(webhookEvents).values({
      eventKey: 'steady-report-1',
      kind: 'dlr',
      payload: '{}',
      createdAt: new Date(Date.now() + 3_600_000),
    });
    await waitFor(() => sendsOf('STEADY-1').length === 2, {
      timeoutMs: 10_000,
      what: 'the second attempt, once the wait is over',
    });
  });

  it('binds a reply that comes before its send is committed, once the commit lands', async () => {
    const service = await start({}, ['api', 'worker']);
    const db = service.deps.db;
    const mobile = '919811400009';
    // Gupshup delivered the message and the customer answered; the send is still committing.
    const { id: outboxId } = await insertOutbox(db, {
      idempotencyKey: 'fdr-EARLY-1-1',
      kind: 'fdr_template',
      shipmentId: 'EARLY-1',
      accountId: 379,
      connectionId: 'default',
      toNumber: mobile,
      body: 'x',
    });
    await db
      .update(notificationOutbox)
      .set({ status: 'sending', attempts: 1 })
      .where(eq(notificationOutbox.id, outboxId));
    sandbox.setCallback({ url: `${service.url}/api/_ah/v1/message?token=${WEBHOOK_TOKEN}` });
    const posted = await sandbox.simulateReply(
      textReply({ mobile, waNumber: '919319278973', text: 'I will be home tomorrow' }),
      'form',
    );
    expect(posted.status).toBe(200);
    // The reply waits instead of being dropped as from an unknown sender.
    await waitFor(async () => (await service.deps.queues['reply.route'].getDelayedCount()) > 0, {
      what: 'the reply to wait for the send',
    });
    await openConversation(db, {
      outboxId,
      shipmentId: 'EARLY-1',
      accountId: 379,
      customerNumber: mobile,
      connectionId: 'default',
    });
    await db
      .update(notificationOutbox)
      .set({ status: 'sent' })
      .where(eq(notificationOutbox.id, outboxId));
    await waitFor(
      async () =>
        (await listShipmentActivity(db, 'EARLY-1')).some((a) => a.kind === 'whatsapp_reply'),
      { what: 'the reply on the timeline' },
    );
  });

  it('attributes nothing by number while two sends to that number are unfinished', async () => {
    const db = services[0]!.deps.db;
    const row = (key: string) => ({
      idempotencyKey: key,
      kind: 'fdr_template',
      shipmentId: key,
      accountId: 379,
      connectionId: 'default',
      toNumber: '919811499999',
      body: 'x',
    });
    const a = await insertOutbox(db, row('TWO-A'));
    const b = await insertOutbox(db, row('TWO-B'));
    const longAgo = new Date(Date.now() - 60_000);
    for (const id of [a.id, b.id]) {
      await db
        .update(notificationOutbox)
        .set({ status: 'sending', attempts: 1, errorCode: 'timeout', updatedAt: longAgo })
        .where(eq(notificationOutbox.id, id));
    }
    const now = new Date();
    expect(await noteAcceptedSendByNumber(db, '919811499999', 'G-1', Date.now(), now)).toBeNull();
    // With one of them finished, the other is the only one: now it is attributed.
    await db
      .update(notificationOutbox)
      .set({ status: 'failed' })
      .where(eq(notificationOutbox.id, b.id));
    expect(await noteAcceptedSendByNumber(db, '919811499999', 'G-1', Date.now(), now)).toBe(a.id);
    // Not an attempt with a known outcome, not one still in flight, not one already named.
    expect(await noteAcceptedSendByNumber(db, '919811499999', 'G-2', Date.now(), now)).toBeNull();
  });
});
