/**
 * The `wa-notify` CLI as operators run it: a child process (bin/wa-notify.js, which runs the
 * compiled CLI, so `npm run build` first) with the service's environment, against a real service
 * (api + worker) in this process and the Gupshup sandbox. The acceptance flow: a send failed by
 * error 100 after its retries is listed, requeued once the sandbox is healthy and sent exactly
 * once; the same requeue again sends nothing.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';

import { and, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { fdrInbox, notificationOutbox, webhookEvents } from '../../src/db/schema.ts';
import { saveAccountSettings } from '../../src/db/settings.ts';
import { enqueue, messageSend } from '../../src/queues/index.ts';
import { startSandbox, type Sandbox } from '../../src/sandbox/server.ts';
import { startService, type Service } from '../../src/service.ts';
import { createTestEnv, waitFor } from '../helpers/env.ts';
import { pushFdr } from '../helpers/push.ts';
import { fdrEvent } from '../helpers/fixtures.ts';
import { isSendOf, outboxOf } from '../helpers/outbox.ts';
import { builtFile } from '../helpers/service-process.ts';

// The bin operators run; it loads dist/cli/main.js, checked here to be built from these sources.
builtFile('dist/cli/main.js');
const WA_NOTIFY = fileURLToPath(new URL('../../bin/wa-notify.js', import.meta.url));

const env = createTestEnv('cli');
let sandbox: Sandbox;
let service: Service;
let cliEnv: Record<string, string>;

/** The fixture customer's number, as the event gives it and as the service stores it. */
const NATIONAL = '7891971009';
const MASKED = '91******1009';

interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

async function cli(...args: string[]): Promise<CliRun> {
  const child = spawn(process.execPath, [WA_NOTIFY, ...args], {
    env: cliEnv,
    // stdin is not a terminal: nobody can confirm, as in a script or a CI job.
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const [code] = (await once(child, 'close')) as [number | null];
  return { code, stdout, stderr };
}

/** Runs a command with --json, expects exit 0 and returns the parsed output. */
async function cliJson<T = Record<string, unknown>>(...args: string[]): Promise<T> {
  const run = await cli(...args, '--json');
  expect(run.stderr).toBe('');
  expect(run.code).toBe(0);
  return JSON.parse(run.stdout) as T;
}

async function push(event: unknown) {
  await pushFdr(service, event, 'm');
}

function jobState(outboxId: number) {
  return service.deps.queues['message.send'].getJobState(messageSend.jobId({ outboxId }));
}

function sendsFor(shipmentId: string, outcome?: string) {
  return sandbox.sends.filter(
    (s) => isSendOf(s, `fdr-${shipmentId}-1`) && (outcome === undefined || s.outcome === outcome),
  );
}

interface FailedJson {
  count: number;
  more: boolean;
  jobs: {
    id: string;
    shipmentId: string | null;
    attemptsMade: number;
    attempts: number;
    code: string | null;
    lastError: string;
  }[];
}

interface RequeueJson {
  matched: number;
  requeued: number;
  skipped: number;
  dryRun: boolean;
  jobs: { id: string; shipmentId: string | null; action: string; note: string | null }[];
}

interface QueuesJson {
  queues: { queue: string; paused: boolean; waiting: number; failed: number; completed: number }[];
}

beforeAll(async () => {
  sandbox = await startSandbox({ port: 0, host: '127.0.0.1' });
  const overrides = { GUPSHUP_ENTERPRISE_URL: sandbox.url, MESSAGE_SEND_ATTEMPTS: '2' };
  service = await startService(env.config(overrides), ['api', 'worker']);
  await saveAccountSettings(service.deps.db, 379, { enabled: true });
  cliEnv = {
    PATH: process.env.PATH ?? '',
    METADATA_SERVER_DETECTION: 'none',
    ...env.env,
    ...overrides,
  };
});

afterAll(async () => {
  await service?.close();
  await sandbox?.close();
  await env.dropDatabase();
});

// Each CLI run is a fresh Node process (~1-2 s on a busy two-core machine); some tests make four.
describe('wa-notify against a running service', { timeout: 60_000 }, () => {
  it('lists a send that error 100 failed after its retries, with its shipment', async () => {
    // Two sends, each failing both attempts: CLI-100 is requeued below, CLI-SENT stands for a
    // message whose job failed although the message went out (it must never be sent again).
    sandbox.failNext(...Array.from({ length: 4 }, () => ({ kind: 'error', id: '100' }) as const));
    await push(fdrEvent({ shipmentId: 'CLI-100' }));
    await push(fdrEvent({ shipmentId: 'CLI-SENT' }));
    for (const shipment of ['CLI-100', 'CLI-SENT']) {
      const row = await waitFor(async () => {
        const r = await outboxOf(service.deps.db, shipment);
        return r?.status === 'failed' ? r : null;
      });
      await waitFor(async () => (await jobState(row.id)) === 'failed', { what: 'failed job' });
    }

    const list = await cliJson<FailedJson>('failed', 'message.send', '--code', '100');
    expect(list.count).toBe(2);
    const job = list.jobs.find((j) => j.shipmentId === 'CLI-100');
    expect(job).toMatchObject({ attemptsMade: 2, attempts: 2, code: 'gupshup_100' });
    expect(job!.lastError).toContain('gupshup_100: ');

    const other = await cliJson<FailedJson>('failed', 'message.send', '--code', '105');
    expect(other.count).toBe(0);
    const recent = await cliJson<FailedJson>('failed', 'message.send', '--since', '30m');
    expect(recent.count).toBe(2);

    const table = await cli('failed', 'message.send', '--code', '100');
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/CLI-100\s+2\/2/);
  });

  it('--dry-run says what would happen and changes nothing', async () => {
    const sent = (await outboxOf(service.deps.db, 'CLI-SENT'))!;
    await service.deps.db
      .update(notificationOutbox)
      .set({ status: 'sent', gupshupMessageId: 'sent-before' })
      .where(eq(notificationOutbox.id, sent.id));
    const target = (await outboxOf(service.deps.db, 'CLI-100'))!;
    const sendsBefore = sandbox.sends.length;

    const plan = await cliJson<RequeueJson>(
      'requeue',
      'message.send',
      '--code',
      '100',
      '--dry-run',
    );
    expect(plan).toMatchObject({ dryRun: true, matched: 2, requeued: 1, skipped: 1 });
    expect(plan.jobs.find((j) => j.shipmentId === 'CLI-SENT')).toMatchObject({
      action: 'would_skip',
    });
    expect(plan.jobs.find((j) => j.shipmentId === 'CLI-SENT')!.note).toContain('already sent');

    expect((await outboxOf(service.deps.db, 'CLI-100'))!.status).toBe('failed');
    expect(await jobState(target.id)).toBe('failed');
    expect(sandbox.sends.length).toBe(sendsBefore);
  });

  it('requeue sends it exactly once; the same requeue again sends nothing more', async () => {
    sandbox.reset(); // healthy again
    const target = (await outboxOf(service.deps.db, 'CLI-100'))!;
    const result = await cliJson<RequeueJson>('requeue', 'message.send', '--code', '100', '--yes');
    expect(result).toMatchObject({ dryRun: false, matched: 2, requeued: 1, skipped: 1 });
    expect(result.jobs.find((j) => j.shipmentId === 'CLI-100')!.action).toBe('requeued');

    await waitFor(async () => (await jobState(target.id)) === 'completed', { what: 'send job' });
    expect((await outboxOf(service.deps.db, 'CLI-100'))!.status).toBe('sent');
    expect(sendsFor('CLI-100', 'success')).toHaveLength(1);

    const again = await cliJson<RequeueJson>('requeue', 'message.send', '--code', '100', '--yes');
    expect(again).toMatchObject({ matched: 1, requeued: 0, skipped: 1 });
    expect(await jobState(target.id)).toBe('completed');
    expect(sendsFor('CLI-100')).toHaveLength(1);
    // The message recorded as sent stayed untouched: no send, row still sent, job still failed.
    expect(sendsFor('CLI-SENT')).toHaveLength(0);
    const sent = (await outboxOf(service.deps.db, 'CLI-SENT'))!;
    expect(sent.status).toBe('sent');
    expect(await jobState(sent.id)).toBe('failed');

    const human = await cli('requeue', 'message.send', '--code', '100', '--yes');
    expect(human.code).toBe(0);
    expect(human.stdout).toContain('Requeued 0 of 1');
    expect(human.stdout).toContain('already sent');
  });

  it('wants --yes for more than 10 jobs when nobody can be asked', async () => {
    const queue = service.deps.queues['dlr.process'];
    for (let i = 0; i < 11; i += 1) {
      // Events that do not exist: the job fails at once, for good.
      await enqueue(service.deps.queues, 'dlr.process', { webhookEventId: 990_000 + i });
    }
    await waitFor(async () => (await queue.getFailedCount()) === 11, { what: '11 failed jobs' });

    const refused = await cli('requeue', 'dlr.process');
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('11 failed dlr.process jobs match');
    expect(refused.stderr).toContain('--yes');
    expect(await queue.getFailedCount()).toBe(11);

    const limited = await cliJson<FailedJson>('failed', 'dlr.process', '--limit', '3');
    expect(limited).toMatchObject({ count: 3, more: true });
    const byReason = await cliJson<FailedJson>(
      'failed',
      'dlr.process',
      '--reason',
      'DOES NOT EXIST',
      '--limit',
      '20',
    );
    expect(byReason).toMatchObject({ count: 11, more: false });
    expect(byReason.jobs.every((j) => j.shipmentId === null)).toBe(true);
  });

  it('queues counts jobs per queue and state', async () => {
    const { queues } = await cliJson<QueuesJson>('queues');
    expect(queues.map((q) => q.queue)).toEqual([
      'fdr.validate',
      'message.send',
      'dlr.process',
      'reply.route',
      'activity.emit',
      'no-reply.check',
      'shipment.status',
    ]);
    const byName = new Map(queues.map((q) => [q.queue, q]));
    expect(byName.get('dlr.process')).toMatchObject({ failed: 11, paused: false });
    expect(byName.get('message.send')!.failed).toBe(1);
    expect(byName.get('message.send')!.completed).toBeGreaterThanOrEqual(1);

    const table = await cli('queues');
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/dlr\.process\s+running\s+\d+\s+\d+\s+\d+\s+11\s/);
  });

  it('pause and resume show in queues', async () => {
    const paused = await cliJson<{ paused: boolean; changed: boolean }>('pause', 'reply.route');
    expect(paused).toMatchObject({ paused: true, changed: true });
    expect(await service.deps.queues['reply.route'].isPaused()).toBe(true);
    let { queues } = await cliJson<QueuesJson>('queues');
    expect(queues.find((q) => q.queue === 'reply.route')!.paused).toBe(true);

    const resumed = await cli('resume', 'reply.route');
    expect(resumed.code).toBe(0);
    expect(resumed.stdout).toContain('reply.route resumed');
    ({ queues } = await cliJson<QueuesJson>('queues'));
    expect(queues.find((q) => q.queue === 'reply.route')!.paused).toBe(false);
  });

  it('shipment shows the messages and timeline, with the number masked', async () => {
    const view = await cli('shipment', 'CLI-100');
    expect(view.code).toBe(0);
    expect(view.stdout).toContain('Shipment CLI-100');
    expect(view.stdout).toMatch(/fdr_template\s+\S+\s+sent\s+completed/);
    expect(view.stdout).toContain(MASKED);
    expect(view.stdout).toContain('whatsapp_failed');
    expect(view.stdout).toContain('whatsapp_notified');

    const json = await cli('shipment', 'CLI-100', '--json');
    expect(json.code).toBe(0);
    const parsed = JSON.parse(json.stdout) as {
      messages: { status: string; to: string; job: string }[];
      deliveryStatus: { status: string }[];
      timeline: { kind: string }[];
    };
    expect(parsed.messages).toEqual([expect.objectContaining({ status: 'sent', to: MASKED })]);
    expect(parsed.deliveryStatus).toHaveLength(1);
    expect(parsed.timeline.map((t) => t.kind)).toEqual(['whatsapp_failed', 'whatsapp_notified']);

    for (const output of [view.stdout, json.stdout]) {
      expect(output).not.toContain(NATIONAL);
      expect(output).not.toContain('Sadafal');
      expect(output).not.toContain('sandbox-secret-pw');
    }

    const missing = await cli('shipment', 'NO-SUCH-SHIPMENT');
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('no record of shipment NO-SUCH-SHIPMENT');
  });

  it('replay records a saved FDR event once, and a saved webhook body', async () => {
    const first = await cliJson<{ as: string; inboxId: number; duplicate: boolean }>(
      'replay',
      'test/fixtures/fdr-event.json',
    );
    expect(first).toMatchObject({ as: 'fdr', duplicate: false });
    const [row] = await service.deps.db
      .select()
      .from(fdrInbox)
      .where(and(eq(fdrInbox.shipmentId, '4980116095129-90758'), eq(fdrInbox.attempt, 1)));
    expect(row?.id).toBe(first.inboxId);

    const again = await cli('replay', 'test/fixtures/fdr-event.json');
    expect(again.code).toBe(0);
    expect(again.stdout).toContain('already recorded');

    const webhook = await cliJson<{ as: string; events: { kind: string; created: boolean }[] }>(
      'replay',
      'test/fixtures/gupshup-dlr-sent.json',
    );
    expect(webhook).toMatchObject({ as: 'webhook', events: [{ kind: 'dlr', created: true }] });
    const stored = await service.deps.db
      .select()
      .from(webhookEvents)
      .where(eq(webhookEvents.kind, 'dlr'));
    expect(stored).toHaveLength(1);
  });

  it('creates a token shown once, lists tokens without their values, and revokes them', async () => {
    const created = await cli('tokens', 'create', '--account', '379', '--name', 'ops dashboard');
    expect(created.code).toBe(0);
    const token = created.stdout.trimEnd().split('\n').at(-1)!;
    expect(token).toMatch(/^wat_[\w-]{43}$/);
    const json = await cliJson<{ id: number; accountId: number; token: string }>(
      'tokens',
      'create',
      '--account',
      '379',
    );
    expect(json).toMatchObject({ accountId: 379, token: expect.stringMatching(/^wat_/) });

    const settings = () =>
      service.app!.inject({
        url: '/v1/accounts/379/whatsapp-settings',
        headers: { authorization: `Bearer ${token}` },
      });
    expect((await settings()).statusCode).toBe(200);

    const listed = await cli('tokens', 'list', '--account', '379');
    expect(listed.code).toBe(0);
    expect(listed.stdout).toContain('ops dashboard');
    expect(listed.stdout).not.toContain(token);
    expect(listed.stdout).not.toContain(json.token);

    const id = listed.stdout
      .split('\n')
      .find((l) => l.includes('ops dashboard'))!
      .split('\t')[0]!;
    expect((await cli('tokens', 'revoke', id)).code).toBe(0);
    expect((await settings()).statusCode).toBe(401);
    const again = await cli('tokens', 'revoke', id);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain(`there is no live token ${id}`);
    expect((await cli('tokens', 'create', '--account', 'abc')).code).toBe(2);
  });

  it('adds, lists and removes suppressions; a bad number exits 2', async () => {
    const added = await cliJson<{ created: boolean; suppression: Record<string, unknown> }>(
      'suppression',
      'add',
      '+91 98113 00021',
      '--account',
      '379',
    );
    expect(added).toMatchObject({
      created: true,
      suppression: {
        customerNumber: '919811300021',
        senderNumber: '919319278973',
        reason: 'opted_out',
        source: 'cli',
        accountId: 379,
      },
    });
    const again = await cli('suppression', 'add', '9811300021', '--account', '379');
    expect(again.code).toBe(0);
    expect(again.stdout).toContain('was suppressed already');

    const listed = await cli('suppression', 'list', '--account', '379');
    expect(listed.code).toBe(0);
    expect(listed.stdout).toMatch(/919811300021\topted_out\tcli\taccount 379/);
    const json = await cliJson<{ total: number }>('suppression', 'list', '--reason', 'opted_out');
    expect(json.total).toBe(1);

    const removed = await cliJson<{ removed: number }>(
      'suppression',
      'remove',
      '919811300021',
      '--account',
      '379',
    );
    expect(removed.removed).toBe(1);
    const gone = await cli('suppression', 'remove', '919811300021', '--account', '379');
    expect(gone.code).toBe(1);
    expect(gone.stderr).toContain('holds no suppression');

    // Without --account: every suppression of the number, whoever set it.
    expect((await cli('suppression', 'add', '9811300023', '--account', '380')).code).toBe(0);
    const all = await cliJson<{ accountId: null; removed: number }>(
      'suppression',
      'remove',
      '919811300023',
    );
    expect(all).toEqual({ accountId: null, removed: 1 });

    const bad = await cli('suppression', 'add', '12345', '--account', '379');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('must be a phone number');
    expect((await cli('suppression', 'add', '9811300022')).code).toBe(2);
    expect((await cli('suppression', 'list', '--reason', 'bored')).code).toBe(2);
  });

  it('exits 2 for an unknown queue, naming the valid ones', async () => {
    const run = await cli('requeue', 'message.sned', '--yes');
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('valid queues: fdr.validate, message.send');
  });
});
