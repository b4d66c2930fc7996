/**
 * The Gupshup webhook against real MySQL and Redis: every shape Gupshup sends is stored and
 * queued, the token is required, malformed and oversized bodies are refused with 4xx, and
 * nothing answers 500. The service runs the `api` role only, so the jobs the webhook enqueues
 * stay in their queues to be inspected.
 */
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { createDeps } from '../../src/deps.ts';
import { buildApp } from '../../src/http/app.ts';
import { WEBHOOK_PATH } from '../../src/http/routes/gupshup-webhook.ts';
import { createLog } from '../../src/log.ts';
import { webhookEvents } from '../../src/db/schema.ts';
import { markWebhookEvent } from '../../src/db/webhook-events.ts';
import type { SettingsCache } from '../../src/settings-cache.ts';
import { startService, type Service } from '../../src/service.ts';
import { sweepOnce } from '../../src/sweeper.ts';
import type { WebhookEvent } from '../../src/webhook/events.ts';
import { eventKey, parseWebhook } from '../../src/webhook/parse.ts';
import { V3_MAX_EVENTS } from '../../src/webhook/v3.ts';
import { createTestEnv, waitFor } from '../helpers/env.ts';
import { readFixture } from '../helpers/fixtures.ts';
import { formEncodable, webhookFixture, webhookFixtureNames } from '../helpers/webhook.ts';

const env = createTestEnv('webhook');
const TOKEN = 'test-webhook-token-0123456789';
const FORM = 'application/x-www-form-urlencoded';
const JSON_TYPE = 'application/json';
let service: Service;

/** Every status the webhook answered in this file: none may be a 500. */
const statuses: number[] = [];

interface Post {
  method?: 'GET' | 'POST';
  contentType?: string;
  body?: string | Buffer;
  query?: Record<string, string>;
  headers?: Record<string, string>;
  token?: string | null;
}

async function call({
  method = 'POST',
  contentType,
  body,
  query = {},
  headers = {},
  token = TOKEN,
}: Post) {
  const res = await service.app!.inject({
    method,
    url: WEBHOOK_PATH,
    query: token === null ? query : { token, ...query },
    headers: { ...(contentType ? { 'content-type': contentType } : {}), ...headers },
    ...(body !== undefined ? { payload: body } : {}),
  });
  statuses.push(res.statusCode);
  return res;
}

const seedDlr = readFixture<{ response: string }>('gupshup-dlr-sent.json');
const seedReports = JSON.parse(seedDlr.response) as Record<string, unknown>[];

/** The seed's SENT report for another message id. */
function reportFor(externalId: string, patch: Record<string, unknown> = {}) {
  return [{ ...seedReports[0], externalId, ...patch }];
}

function formOf(fields: Record<string, string>): string {
  return new URLSearchParams(fields).toString();
}

async function rowsByKey(key: string) {
  return service.deps.db.select().from(webhookEvents).where(eq(webhookEvents.eventKey, key));
}

function dlrKey(externalId: string, eventType = 'SENT'): string {
  const event: WebhookEvent = {
    kind: 'dlr',
    report: {
      source: 'enterprise',
      externalId,
      eventType,
      cause: null,
      errorCode: null,
      destAddr: null,
      srcAddr: null,
      eventTs: null,
      extra: null,
    },
  };
  return eventKey(event);
}

async function jobOf(kind: 'dlr' | 'inbound', webhookEventId: number) {
  return kind === 'dlr'
    ? service.deps.queues['dlr.process'].getJob(`dlr-event-${webhookEventId}`)
    : service.deps.queues['reply.route'].getJob(`reply-event-${webhookEventId}`);
}

beforeAll(async () => {
  service = await startService(env.config({ WEBHOOK_TOKEN: TOKEN }), ['api']);
});

afterAll(async () => {
  await service?.close();
  await env.dropDatabase();
});

describe('shapes Gupshup sends', () => {
  it.each([
    [
      "the seed's form post (`response` = JSON array string)",
      () => ({
        contentType: FORM,
        body: formOf({ response: JSON.stringify(reportFor('1000000000000000001-1')) }),
      }),
      '1000000000000000001-1',
    ],
    [
      'a raw JSON array',
      () => ({ contentType: JSON_TYPE, body: JSON.stringify(reportFor('1000000000000000002-2')) }),
      '1000000000000000002-2',
    ],
    [
      '{"response": "<json string>"}',
      () => ({
        contentType: JSON_TYPE,
        body: JSON.stringify({ response: JSON.stringify(reportFor('1000000000000000003-3')) }),
      }),
      '1000000000000000003-3',
    ],
    [
      '{"response": [...]}',
      () => ({
        contentType: JSON_TYPE,
        body: JSON.stringify({ response: reportFor('1000000000000000004-4') }),
      }),
      '1000000000000000004-4',
    ],
    [
      'JSON labelled text/plain',
      () => ({
        contentType: 'text/plain',
        body: JSON.stringify(reportFor('1000000000000000005-5')),
      }),
      '1000000000000000005-5',
    ],
    [
      'a form with a charset',
      () => ({
        contentType: `${FORM}; charset=UTF-8`,
        body: formOf({ response: JSON.stringify(reportFor('1000000000000000006-6')) }),
      }),
      '1000000000000000006-6',
    ],
  ])('stores and queues a delivery report sent as %s', async (_label, request, externalId) => {
    const res = await call(request());
    expect(res.statusCode).toBe(200);
    expect(res.body).toBe('');
    const [row] = await rowsByKey(dlrKey(externalId));
    expect(row).toMatchObject({ kind: 'dlr', status: 'received' });
    expect(JSON.parse(row!.payload)).toMatchObject({
      kind: 'dlr',
      report: { externalId, eventType: 'SENT', errorCode: '025', eventTs: 1686222477000 },
    });
    expect(await jobOf('dlr', row!.id)).toBeTruthy();
  });

  it('stores the seed fixture file itself, posted as JSON', async () => {
    const res = await call({ contentType: JSON_TYPE, body: JSON.stringify(seedDlr) });
    expect(res.statusCode).toBe(200);
    const [row] = await rowsByKey(dlrKey('4921687316728868875-376937873247896673'));
    expect(row?.kind).toBe('dlr');
  });

  it('stores every report of a batch of 20, each with its own job', async () => {
    const batch = Array.from({ length: 20 }, (_, i) => reportFor(`2000000000000000000-${i}`)[0]);
    const res = await call({
      contentType: FORM,
      body: formOf({ response: JSON.stringify(batch) }),
    });
    expect(res.statusCode).toBe(200);
    for (let i = 0; i < 20; i += 1) {
      const [row] = await rowsByKey(dlrKey(`2000000000000000000-${i}`));
      expect(await jobOf('dlr', row!.id)).toBeTruthy();
    }
  });

  it.each([
    ['gupshup-inbound-button.json', 'in|376937873247896673'],
    ['gupshup-inbound-interactive-date.json', null],
    ['gupshup-inbound-image.json', null],
    ['gupshup-inbound-document.json', null],
    ['gupshup-inbound-location.json', null],
  ])(
    'stores and queues the inbound fixture %s as JSON, form and GET query (one row)',
    async (name, key) => {
      const fields = readFixture<Record<string, string>>(name);
      for (const request of [
        { contentType: JSON_TYPE, body: JSON.stringify(fields) },
        { contentType: FORM, body: formOf(fields) },
        { method: 'GET' as const, query: fields },
      ]) {
        const res = await call(request);
        expect(res.statusCode).toBe(200);
        expect(res.body).toBe('');
      }
      const rows = await service.deps.db
        .select()
        .from(webhookEvents)
        .where(eq(webhookEvents.kind, 'inbound'));
      const mine = rows.filter((r) => {
        const event = JSON.parse(r.payload) as WebhookEvent;
        return event.kind === 'inbound' && event.message.timestamp === Number(fields.timestamp);
      });
      // The three encodings are the same message: one row, one job.
      expect(mine).toHaveLength(1);
      if (key) {
        expect(mine[0]!.eventKey).toBe(key);
      }
      expect(JSON.parse(mine[0]!.payload)).toMatchObject({
        kind: 'inbound',
        message: { mobile: '919650186697', type: fields.type },
      });
      expect(await jobOf('inbound', mine[0]!.id)).toBeTruthy();
    },
  );

  it('stores a v2 message-event and the v2 inbound text fixture; a v2 opted-in user-event is queued for reply.route', async () => {
    const gsId = '5a0c7b4e-1111-4b1e-9a1d-1c2b3a4d5e6f';
    const event = {
      app: 'ShopCoNDR',
      timestamp: 1716450020000,
      version: 2,
      type: 'message-event',
      payload: {
        id: 'gBEGkY-wa-id',
        gsId,
        type: 'delivered',
        destination: '919812345678',
        payload: { ts: 1716450012 },
      },
    };
    expect((await call({ contentType: JSON_TYPE, body: JSON.stringify(event) })).statusCode).toBe(
      200,
    );
    const [report] = await rowsByKey(dlrKey(gsId, 'DELIVERED'));
    expect(report?.kind).toBe('dlr');

    const text = readFixture('gupshup-v2-inbound-text.json');
    expect((await call({ contentType: JSON_TYPE, body: JSON.stringify(text) })).statusCode).toBe(
      200,
    );
    const [inbound] = await rowsByKey('in|ABEGkYaYVSEEAgo-sMx1DoUoQJRW');
    expect(JSON.parse(inbound!.payload)).toMatchObject({
      message: { text: 'hi', contextGsId: '9b71295f-f7af-4c1f-b2b4-31b4a4867bad' },
    });

    const userEvent = {
      app: 'ShopCoNDR',
      timestamp: 1716450020000,
      version: 2,
      type: 'user-event',
      payload: { phone: '919812345678', type: 'opted-in' },
    };
    const res = await call({ contentType: JSON_TYPE, body: JSON.stringify(userEvent) });
    expect(res.statusCode).toBe(200);
    const rows = await service.deps.db
      .select()
      .from(webhookEvents)
      .where(eq(webhookEvents.kind, 'user'));
    const mine = rows.filter((r) => r.payload.includes('1716450020000'));
    expect(mine).toHaveLength(1);
    // An opt-in (or opt-out) changes the suppression list: reply.route takes it.
    expect(mine[0]).toMatchObject({ status: 'received', note: null });
    expect(await jobOf('inbound', mine[0]!.id)).toBeTruthy();
  });
});

describe('every callback format Gupshup posts (test/fixtures/webhook/)', () => {
  /** A row whose job is queued. */
  const queued = (kind: 'dlr' | 'inbound' | 'user') => ({ kind, status: 'received', note: null });
  /** A row stored already handled, with no job. */
  const stored = (kind: 'user' | 'billing' | 'ignored', note: string) => ({
    kind,
    status: 'ignored',
    note,
  });
  const TEMPLATES = 'template changes are managed in Gupshup, not here';
  const ACCOUNT = 'account notices are for the Gupshup console, not acted on here';
  const expected: Record<string, ReturnType<typeof queued | typeof stored>[]> = {
    'enterprise-button-bare-string.json': [queued('inbound')],
    'enterprise-button-object.json': [queued('inbound')],
    'enterprise-button-reply-postback.json': [queued('inbound')],
    'enterprise-button-reply.json': [queued('inbound')],
    'enterprise-button-template.json': [queued('inbound')],
    'enterprise-list-reply-json-id.json': [queued('inbound')],
    'enterprise-list-reply-postback.json': [queued('inbound')],
    'enterprise-list-reply.json': [queued('inbound')],
    'v2-account-event.json': [stored('ignored', `ignored: v2 account-event (${ACCOUNT})`)],
    'v2-billing-event-conversation.json': [
      stored('billing', 'billing-event service: stored, no action'),
    ],
    'v2-billing-event-unknown.json': [stored('billing', 'billing-event: stored, no action')],
    'v2-billing-event.json': [stored('billing', 'billing-event utility: stored, no action')],
    'v2-button-reply.json': [queued('inbound')],
    'v2-deleted.json': [queued('dlr')],
    'v2-delivered.json': [queued('dlr')],
    'v2-enqueued.json': [queued('dlr')],
    'v2-failed-gsid-only.json': [queued('dlr')],
    'v2-failed.json': [queued('dlr')],
    'v2-list-reply.json': [queued('inbound')],
    'v2-message-event-mismatch.json': [queued('dlr')],
    'v2-message-no-phone.json': [queued('inbound')],
    'v2-quick-reply-generated-id.json': [queued('inbound')],
    'v2-quick-reply-postback.json': [queued('inbound')],
    'v2-quick-reply-template.json': [queued('inbound')],
    'v2-quick-reply.json': [queued('inbound')],
    'v2-read.json': [queued('dlr')],
    'v2-sent.json': [queued('dlr')],
    'v2-template-event.json': [stored('ignored', `ignored: v2 template-event (${TEMPLATES})`)],
    'v2-user-event-opted-in.json': [queued('user')],
    'v2-user-event-opted-out.json': [queued('user')],
    'v2-user-event-sandbox-start.json': [
      stored('user', 'user-event sandbox-start: stored, no action'),
    ],
    'v3-echo-own-number.json': [
      stored('ignored', 'ignored: v3 message echo (sent from our own number, echoed back)'),
    ],
    'v3-echo.json': [stored('ignored', 'ignored: v3 message echo (our own message, echoed back)')],
    'v3-message-audio.json': [queued('inbound')],
    'v3-message-button-reply.json': [queued('inbound')],
    'v3-message-button.json': [queued('inbound')],
    'v3-message-contacts.json': [queued('inbound')],
    'v3-message-document.json': [queued('inbound')],
    'v3-message-image.json': [queued('inbound')],
    'v3-message-list-reply.json': [queued('inbound')],
    'v3-message-location.json': [queued('inbound')],
    'v3-message-nfm-reply.json': [queued('inbound')],
    'v3-message-no-phone.json': [queued('inbound')],
    'v3-message-reaction.json': [queued('inbound')],
    'v3-message-sticker.json': [queued('inbound')],
    'v3-message-text.json': [queued('inbound')],
    'v3-message-unsupported.json': [queued('inbound')],
    'v3-message-video.json': [queued('inbound')],
    'v3-other-field.json': [stored('ignored', `ignored: v3 field account_update (${ACCOUNT})`)],
    'v3-platform-event.json': [
      stored(
        'ignored',
        "ignored: v3 field platform-event (Gupshup's connectivity check: the 200 is the answer)",
      ),
    ],
    'v3-status-delivered.json': [queued('dlr')],
    'v3-status-enqueued.json': [queued('dlr')],
    'v3-status-failed.json': [queued('dlr')],
    'v3-status-meta-id-only.json': [queued('dlr')],
    'v3-status-read.json': [queued('dlr')],
    'v3-status-sent.json': [queued('dlr')],
    'v3-statuses-batch.json': [queued('dlr'), queued('dlr'), queued('dlr'), queued('dlr')],
    'v3-template-status.json': [
      stored('ignored', `ignored: v3 field message_template_status_update (${TEMPLATES})`),
    ],
  };

  /** The keys of the events `fixture` stands for, as the webhook stores them. */
  function keysOf(fixture: unknown): string[] {
    const parsed = parseWebhook(
      { contentType: JSON_TYPE, body: Buffer.from(JSON.stringify(fixture)), query: {} },
      { maxEvents: 20 },
    );
    if (!parsed.ok) {
      throw new Error(parsed.reason);
    }
    return parsed.events.map(eventKey);
  }

  async function jobsOf(webhookEventId: number) {
    return [await jobOf('dlr', webhookEventId), await jobOf('inbound', webhookEventId)].filter(
      Boolean,
    );
  }

  it('has an expectation for every fixture', () => {
    expect(Object.keys(expected).sort()).toEqual(webhookFixtureNames());
  });

  it.each(Object.entries(expected))(
    'answers 200 to %s (as JSON, and as a form when flat) and stores it once',
    async (name, rows) => {
      const fixture = webhookFixture(name);
      const requests: Post[] = [{ contentType: JSON_TYPE, body: JSON.stringify(fixture) }];
      if (formEncodable(fixture)) {
        requests.push({ contentType: FORM, body: formOf(fixture) });
      }
      for (const request of requests) {
        const res = await call(request);
        expect(res.statusCode, `${name} as ${request.contentType}`).toBe(200);
        expect(res.body).toBe('');
      }
      const keys = keysOf(fixture);
      expect(keys).toHaveLength(rows.length);
      for (const [i, key] of keys.entries()) {
        const found = await rowsByKey(key);
        expect(found).toHaveLength(1);
        expect(found[0]).toMatchObject(rows[i]!);
        // Only reports, messages and opt-outs/opt-ins have a job (reply.route takes the last two).
        expect(await jobsOf(found[0]!.id)).toHaveLength(rows[i]!.status === 'received' ? 1 : 0);
      }
    },
  );

  it('keeps no personal data in the note of a stored-only event', async () => {
    const rows = await service.deps.db.select().from(webhookEvents);
    for (const row of rows.filter((r) => r.status === 'ignored' && r.kind !== 'dlr')) {
      expect(row.note ?? '').not.toMatch(/\d{8,}/);
    }
  });

  it('leaves stored-only events to nobody: the sweeper queues none, even one left received', async () => {
    for (const name of ['v2-billing-event.json', 'v3-echo.json']) {
      const res = await call({
        contentType: JSON_TYPE,
        body: JSON.stringify(webhookFixture(name)),
      });
      expect(res.statusCode).toBe(200);
    }
    const [row] = await rowsByKey(keysOf(webhookFixture('v2-billing-event.json'))[0]!);
    const [echo] = await rowsByKey(keysOf(webhookFixture('v3-echo.json'))[0]!);
    // As if stored before this rule: `received`, of a kind no job handles.
    await service.deps.db
      .update(webhookEvents)
      .set({ status: 'received' })
      .where(eq(webhookEvents.id, echo!.id));
    await sweepOnce(service.deps, 0);
    expect(await jobsOf(row!.id)).toHaveLength(0);
    expect(await jobsOf(echo!.id)).toHaveLength(0);
    await markWebhookEvent(service.deps.db, echo!.id, 'ignored', 'restored');
  });

  it(`answers 400 to a v3 post of more than ${V3_MAX_EVENTS} events, and stores none`, async () => {
    const body = webhookFixture<{ entry: { changes: { value: Record<string, unknown> }[] }[] }>(
      'v3-status-sent.json',
    );
    const [status] = body.entry[0]!.changes[0]!.value.statuses as Record<string, unknown>[];
    const many = Array.from({ length: V3_MAX_EVENTS + 1 }, (_, i) => ({
      ...status,
      gs_id: `v3-cap-${i}`,
    }));
    body.entry[0]!.changes[0]!.value.statuses = many;
    const res = await call({ contentType: JSON_TYPE, body: JSON.stringify(body) });
    expect(res.statusCode).toBe(400);
    expect(res.json<{ message: string }>().message).toContain(`at most ${V3_MAX_EVENTS}`);
    expect(await rowsByKey(dlrKey('v3-cap-0'))).toHaveLength(0);
  });

  it('answers 400 to a v3 message from nobody (no number, no user id), without quoting it', async () => {
    const body = webhookFixture<{ entry: { changes: { value: Record<string, unknown> }[] }[] }>(
      'v3-message-text.json',
    );
    const { value } = body.entry[0]!.changes[0]!;
    delete (value.messages as Record<string, unknown>[])[0]!.from;
    delete value.contacts;
    const res = await call({ contentType: JSON_TYPE, body: JSON.stringify(body) });
    expect(res.statusCode).toBe(400);
    const { message } = res.json<{ message: string }>();
    expect(message).toContain('neither a phone number');
    expect(message).not.toMatch(/\d{8,}/);
  });
});

describe('duplicates', () => {
  it('stores a repeated identical callback once, with one job', async () => {
    const body = formOf({ response: JSON.stringify(reportFor('3000000000000000001-1')) });
    for (let i = 0; i < 3; i += 1) {
      expect((await call({ contentType: FORM, body })).statusCode).toBe(200);
    }
    const rows = await rowsByKey(dlrKey('3000000000000000001-1'));
    expect(rows).toHaveLength(1);
    const jobs = await service.deps.queues['dlr.process'].getJobs(['waiting', 'delayed', 'active']);
    expect(jobs.filter((j) => j.data.webhookEventId === rows[0]!.id)).toHaveLength(1);
  });

  it('queues a repeat again while its event waits, and not once it is handled', async () => {
    const body = formOf({ response: JSON.stringify(reportFor('3000000000000000002-2')) });
    expect((await call({ contentType: FORM, body })).statusCode).toBe(200);
    const [row] = await rowsByKey(dlrKey('3000000000000000002-2'));
    // The job was lost (as after a Redis crash): Gupshup's retry queues it again.
    await (await jobOf('dlr', row!.id))!.remove();
    expect((await call({ contentType: FORM, body })).statusCode).toBe(200);
    expect(await jobOf('dlr', row!.id)).toBeTruthy();

    await (await jobOf('dlr', row!.id))!.remove();
    await markWebhookEvent(service.deps.db, row!.id, 'processed', null);
    expect((await call({ contentType: FORM, body })).statusCode).toBe(200);
    expect(await jobOf('dlr', row!.id)).toBeUndefined();
  });

  it('lets the sweeper queue events still waiting, delivery reports and replies alike', async () => {
    const dlrBody = formOf({ response: JSON.stringify(reportFor('3000000000000000003-3')) });
    expect((await call({ contentType: FORM, body: dlrBody })).statusCode).toBe(200);
    const reply = {
      ...readFixture<Record<string, string>>('gupshup-inbound-button.json'),
      messageId: 'SWEEP-1',
    };
    expect((await call({ contentType: JSON_TYPE, body: JSON.stringify(reply) })).statusCode).toBe(
      200,
    );
    const [dlrRow] = await rowsByKey(dlrKey('3000000000000000003-3'));
    const [replyRow] = await rowsByKey('in|SWEEP-1');
    await (await jobOf('dlr', dlrRow!.id))!.remove();
    await (await jobOf('inbound', replyRow!.id))!.remove();
    await sweepOnce(service.deps, 0);
    expect(await jobOf('dlr', dlrRow!.id)).toBeTruthy();
    expect(await jobOf('inbound', replyRow!.id)).toBeTruthy();
  });
});

describe('the token', () => {
  const body = () => formOf({ response: JSON.stringify(reportFor('4000000000000000001-1')) });

  it.each([
    ['the query', { token: TOKEN }],
    ['x-webhook-token', { token: null, headers: { 'x-webhook-token': TOKEN } }],
    ['Authorization: Bearer', { token: null, headers: { authorization: `Bearer ${TOKEN}` } }],
  ])('is accepted in %s', async (_label, request: Partial<Post>) => {
    const res = await call({ contentType: FORM, body: body(), ...request });
    expect(res.statusCode).toBe(200);
  });

  it.each([
    ['no token', { token: null }],
    ['a wrong query token', { token: 'wrong' }],
    ['a token that is a prefix of the real one', { token: TOKEN.slice(0, -1) }],
    ['a wrong header', { token: null, headers: { 'x-webhook-token': 'wrong' } }],
    ['a wrong bearer', { token: null, headers: { authorization: 'Bearer wrong' } }],
  ])('answers 401 to %s and stores nothing', async (_label, request: Partial<Post>) => {
    const fresh = formOf({ response: JSON.stringify(reportFor('4000000000000000009-9')) });
    const res = await call({ contentType: FORM, body: fresh, ...request });
    expect(res.statusCode).toBe(401);
    expect(res.json()).toMatchObject({ code: 'ERR_UNAUTHORIZED' });
    expect(await rowsByKey(dlrKey('4000000000000000009-9'))).toHaveLength(0);
  });

  it('answers 401 to a GET without the token', async () => {
    const fields = readFixture<Record<string, string>>('gupshup-inbound-location.json');
    const res = await call({ method: 'GET', query: fields, token: null });
    expect(res.statusCode).toBe(401);
  });

  it('refuses everything when WEBHOOK_TOKEN is not set', async () => {
    const lines: string[] = [];
    const log = createLog('warn', { write: (line: string) => void lines.push(line) });
    const deps = createDeps(env.config(), log);
    const app = await buildApp(deps, { settings: unusedSettings(), pushVerifier: null });
    try {
      for (const token of ['', 'undefined', TOKEN]) {
        const res = await app.inject({
          method: 'POST',
          url: WEBHOOK_PATH,
          query: { token },
          headers: { 'content-type': FORM },
          payload: body(),
        });
        statuses.push(res.statusCode);
        expect(res.statusCode).toBe(401);
      }
      expect(lines.filter((l) => l.includes('WEBHOOK_TOKEN'))).toHaveLength(1);
    } finally {
      await app.close();
      await deps.close();
    }
  });
});

describe('what is refused', () => {
  it.each([
    ['text', 'text/plain', 'hello'],
    ['broken JSON', JSON_TYPE, '{"response": '],
    ['an unrelated object', JSON_TYPE, '{"foo":1}'],
    ['a report without externalId', JSON_TYPE, JSON.stringify([{ eventType: 'SENT' }])],
    [
      '21 reports',
      FORM,
      formOf({
        response: JSON.stringify(Array.from({ length: 21 }, (_, i) => reportFor(`5-${i}`)[0])),
      }),
    ],
    ['an empty body', JSON_TYPE, ''],
    ['a form without known fields', FORM, 'a=1'],
  ])('answers 400 with a reason to %s', async (_label, contentType, body) => {
    const res = await call({ contentType, body });
    expect(res.statusCode).toBe(400);
    const answer = res.json<{ code: string; message: string }>();
    expect(answer.code).toBe('ERR_VALIDATION');
    expect(answer.message.length).toBeGreaterThan(0);
  });

  it('answers 413 to a 2 MB body and to one just above 256 KiB, 400 to one just below', async () => {
    const big = Buffer.alloc(2 * 1024 * 1024, 'a');
    expect((await call({ contentType: JSON_TYPE, body: big })).statusCode).toBe(413);
    expect(
      (await call({ contentType: FORM, body: Buffer.alloc(256 * 1024 + 1, 'a') })).statusCode,
    ).toBe(413);
    const padded = JSON.stringify({ foo: 'a'.repeat(250 * 1024) });
    expect((await call({ contentType: JSON_TYPE, body: padded })).statusCode).toBe(400);
  });

  it('answers 415 to a content type Gupshup does not send', async () => {
    const res = await call({ contentType: 'application/xml', body: '<a/>' });
    expect(res.statusCode).toBe(415);
  });

  it('never answers 500, whatever comes in', async () => {
    const odd: Post[] = [
      { contentType: JSON_TYPE, body: Buffer.from([0xff, 0xfe, 0x00, 0x7b]) },
      { contentType: JSON_TYPE, body: '{"__proto__": {"mobile": "1"}, "constructor": 1}' },
      { contentType: JSON_TYPE, body: `${'['.repeat(5_000)}${']'.repeat(5_000)}` },
      { contentType: JSON_TYPE, body: 'null' },
      { contentType: JSON_TYPE, body: JSON.stringify({ response: null }) },
      { contentType: JSON_TYPE, body: JSON.stringify({ response: '[null]' }) },
      { contentType: JSON_TYPE, body: JSON.stringify({ mobile: ['1'], type: 'text' }) },
      {
        contentType: JSON_TYPE,
        body: JSON.stringify({ app: 'x', type: 'message', payload: { type: 'text' } }),
      },
      {
        contentType: JSON_TYPE,
        body: JSON.stringify({ app: 'x', type: 'message-event', payload: 'x' }),
      },
      { contentType: FORM, body: 'response=%E0%A4%A' },
      { contentType: 'text/plain; charset=latin1', body: 'mobile=919650186697&type=text&text=%ZZ' },
      { method: 'GET', query: { mobile: 'x'.repeat(5_000), type: 'text' } },
      { method: 'GET' },
      { contentType: undefined, body: 'response=[]' },
      { contentType: 'multipart/form-data; boundary=x', body: '--x--' },
    ];
    for (const request of odd) {
      const res = await call(request);
      expect(res.statusCode, JSON.stringify(request).slice(0, 120)).toBeLessThan(500);
    }
  });
});

describe('when MySQL or Redis is down', () => {
  it('answers 503 when MySQL is unreachable, so Gupshup retries', async () => {
    const deps = createDeps(
      env.config({ WEBHOOK_TOKEN: TOKEN, DATABASE_URL: 'mysql://root@127.0.0.1:1/nowhere' }),
      createLog('silent'),
    );
    const app = await buildApp(deps, { settings: unusedSettings(), pushVerifier: null });
    try {
      const res = await app.inject({
        method: 'POST',
        url: WEBHOOK_PATH,
        query: { token: TOKEN },
        headers: { 'content-type': FORM },
        payload: formOf({ response: JSON.stringify(reportFor('6000000000000000001-1')) }),
      });
      statuses.push(res.statusCode);
      expect(res.statusCode).toBe(503);
      expect(res.json()).toMatchObject({ code: 'ERR_UNAVAILABLE' });
    } finally {
      await app.close();
      await deps.close();
    }
  });

  it('answers 503 when Redis is unreachable; the stored event waits for the sweeper', async () => {
    const deps = createDeps(
      env.config({ WEBHOOK_TOKEN: TOKEN, REDIS_URL: 'redis://127.0.0.1:1' }),
      createLog('silent'),
    );
    const app = await buildApp(deps, { settings: unusedSettings(), pushVerifier: null });
    try {
      const res = await app.inject({
        method: 'POST',
        url: WEBHOOK_PATH,
        query: { token: TOKEN },
        headers: { 'content-type': FORM },
        payload: formOf({ response: JSON.stringify(reportFor('6000000000000000002-2')) }),
      });
      statuses.push(res.statusCode);
      expect(res.statusCode).toBe(503);
      const [row] = await rowsByKey(dlrKey('6000000000000000002-2'));
      expect(row?.status).toBe('received');
      await sweepOnce(service.deps, 0);
      await waitFor(() => jobOf('dlr', row!.id), { what: 'the swept job' });
    } finally {
      await app.close();
      await deps.close();
    }
  });
});

describe('across this file', () => {
  it('answered no request with a 5xx other than the 503s above', () => {
    expect(statuses.length).toBeGreaterThan(50);
    expect(statuses.filter((s) => s >= 500 && s !== 503)).toEqual([]);
  });
});

function unusedSettings(): SettingsCache {
  return {
    get: () => Promise.reject(new Error('unused')),
    template: () => Promise.reject(new Error('unused')),
    defaultTemplate: () => Promise.reject(new Error('unused')),
    invalidate: () => Promise.resolve(),
    close: () => Promise.resolve(),
  };
}
