/**
 * The evidence trail end to end: customer replies posted to the webhook as Gupshup would (a form
 * body, a JSON body, a GET query) are bound to their conversation, and
 * `GET /v1/shipments/:id/evidence` returns each answer with its Gupshup message id, callback
 * time, choice and the body as received, whose stored hash is the SHA-256 of the exact bytes
 * posted; an account token reaches its own shipment only; a reply stored without a body gets no
 * evidence; `wa-notify shipment <id> --evidence` (the compiled CLI, so `npm run build` first)
 * shows it with the customer's number masked. Real Redis, MariaDB and emulator; the Gupshup
 * sandbox and a fake WMS over real HTTP.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';

import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { createApiToken } from '../../src/db/api-tokens.ts';
import { webhookEvents, whatsappReplies, whatsappReplyEvidence } from '../../src/db/schema.ts';
import { saveAccountSettings } from '../../src/db/settings.ts';
import { storeAndEnqueue } from '../../src/http/routes/gupshup-webhook.ts';
import type { AnswerEvidence } from '../../src/reply-evidence.ts';
import { startSandbox, type Sandbox } from '../../src/sandbox/server.ts';
import { startService, type Service } from '../../src/service.ts';
import { API_TOKEN, createTestEnv, waitFor } from '../helpers/env.ts';
import { startFakeWms } from '../helpers/fake-wms.ts';
import { fdrEvent, readFixture } from '../helpers/fixtures.ts';
import { isSendOf, outboxOf } from '../helpers/outbox.ts';
import { pushFdr } from '../helpers/push.ts';
import { builtFile } from '../helpers/service-process.ts';
import { parseJson } from '../helpers/webhook.ts';

builtFile('dist/cli/main.js');
const WA_NOTIFY = fileURLToPath(new URL('../../bin/wa-notify.js', import.meta.url));

const WEBHOOK_TOKEN = 'evidence-webhook-token';
const env = createTestEnv('evidence');
let sandbox: Sandbox;
let wms: Awaited<ReturnType<typeof startFakeWms>>;
let service: Service;

const SHIPMENT = 'EVIDENCE-1';
const CUSTOMER = '919650186697';
const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

interface EvidenceBody {
  shipmentId: string;
  evidence: AnswerEvidence[];
}

/** Posts `body` to the webhook exactly as given (its bytes are what the hash must be of). */
async function postWebhook(body: Buffer, contentType: string): Promise<void> {
  const res = await fetch(`${service.url}/api/_ah/v1/message`, {
    method: 'POST',
    headers: { 'content-type': contentType, 'x-webhook-token': WEBHOOK_TOKEN },
    body,
  });
  expect(res.status).toBe(200);
}

function evidenceCount(shipmentId: string) {
  return service.deps.db
    .select({ id: whatsappReplyEvidence.id })
    .from(whatsappReplyEvidence)
    .where(eq(whatsappReplyEvidence.shipmentId, shipmentId))
    .then((rows) => rows.length);
}

async function getEvidence(shipmentId: string, token = API_TOKEN) {
  return fetch(`${service.url}/v1/shipments/${shipmentId}/evidence`, {
    headers: { authorization: `Bearer ${token}` },
  });
}

async function cli(...args: string[]) {
  const child = spawn(process.execPath, [WA_NOTIFY, ...args], {
    env: { PATH: process.env.PATH ?? '', METADATA_SERVER_DETECTION: 'none', ...env.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const [code] = (await once(child, 'close')) as [number | null];
  return { code, stdout, stderr };
}

// The seed's two replies: the template button as a form post, the date row as JSON.
const buttonForm = Buffer.from(
  new URLSearchParams(
    readFixture<Record<string, string>>('gupshup-inbound-button.json'),
  ).toString(),
);
const dateJson = Buffer.from(JSON.stringify(readFixture('gupshup-inbound-interactive-date.json')));
// Free text with characters beyond ASCII: the hash is of the UTF-8 bytes posted.
const textJson = Buffer.from(
  JSON.stringify({
    mobile: CUSTOMER,
    type: 'text',
    text: 'कृपया कल आइए — please come tomorrow',
    timestamp: '1686222640000',
    waNumber: '919319278973',
    messageId: '376937873247896699',
    name: 'Lakshay',
  }),
  'utf8',
);

beforeAll(async () => {
  sandbox = await startSandbox({ port: 0, host: '127.0.0.1' });
  wms = await startFakeWms();
  service = await startService(
    env.config({
      GUPSHUP_ENTERPRISE_URL: sandbox.url,
      WMS_API_URL: wms.url,
      WEBHOOK_TOKEN,
      REPLY_SETTLE_SECONDS: '1',
    }),
    ['api', 'worker'],
  );
  sandbox.setCallback({ url: `${service.url}/api/_ah/v1/message?token=${WEBHOOK_TOKEN}` });
  await saveAccountSettings(service.deps.db, 379, { enabled: true });
  // The FDR message the replies answer (the button names it by the id SendMessage returned).
  sandbox.nextMessageIds('4921687316728868875');
  await pushFdr(service, fdrEvent({ shipmentId: SHIPMENT, phone: '9650186697' }));
  await waitFor(
    () => sandbox.sends.find((s) => isSendOf(s, `fdr-${SHIPMENT}-1`) && s.outcome === 'success'),
    { what: 'the FDR message' },
  );
  await waitFor(async () => (await outboxOf(service.deps.db, SHIPMENT))?.status === 'sent', {
    what: 'the FDR message to be recorded as sent',
  });
});

afterAll(async () => {
  await service?.close();
  await wms?.close();
  await sandbox?.close();
  await env.dropDatabase();
});

describe('the evidence trail', () => {
  it('keeps each answer with its message id, callback time, choice and the body as posted', async () => {
    await postWebhook(buttonForm, 'application/x-www-form-urlencoded');
    await waitFor(async () => (await evidenceCount(SHIPMENT)) === 1, { what: 'the first answer' });
    await postWebhook(dateJson, 'application/json');
    await waitFor(async () => (await evidenceCount(SHIPMENT)) === 2, { what: 'the date answer' });
    await postWebhook(textJson, 'application/json; charset=utf-8');
    await waitFor(async () => (await evidenceCount(SHIPMENT)) === 3, { what: 'the text answer' });

    const res = await getEvidence(SHIPMENT);
    expect(res.status).toBe(200);
    const { evidence } = (await res.json()) as EvidenceBody;
    expect(evidence.map((e) => e.choice)).toEqual(['reschedule', 'date', 'text']);
    const [button, date, text] = evidence as [AnswerEvidence, AnswerEvidence, AnswerEvidence];

    expect(button).toMatchObject({
      gupshupMessageId: '376937873247896673',
      attempt: 1,
      callbackAt: new Date(1686222621000).toISOString(),
      detail: null,
      rawBody: buttonForm.toString('utf8'),
      bodySha256: sha256(buttonForm),
      erasedAt: null,
      hashMatches: true,
    });
    // The seed's date row carries no message id of its own.
    expect(date).toMatchObject({
      gupshupMessageId: null,
      callbackAt: new Date(1686222630000).toISOString(),
      detail: '2023-06-10',
      rawBody: dateJson.toString('utf8'),
      bodySha256: sha256(dateJson),
      hashMatches: true,
    });
    expect(text).toMatchObject({
      gupshupMessageId: '376937873247896699',
      detail: 'कृपया कल आइए — please come tomorrow',
      bodySha256: sha256(textJson),
      hashMatches: true,
    });
    // Recomputed from the stored body, and equal to the row the webhook wrote.
    for (const e of evidence) {
      expect(sha256(Buffer.from(e.rawBody!, 'utf8'))).toBe(e.bodySha256);
      expect(Date.parse(e.receivedAt)).toBeGreaterThan(Date.parse('2026-01-01'));
    }
    const [stored] = await service.deps.db
      .select({ rawBody: webhookEvents.rawBody, bodySha256: webhookEvents.bodySha256 })
      .from(webhookEvents)
      .where(eq(webhookEvents.eventKey, 'in|376937873247896673'));
    expect(stored).toEqual({
      rawBody: buttonForm.toString('utf8'),
      bodySha256: sha256(buttonForm),
    });
  });

  it("answers an account token for its own shipment only; another account's gets 404", async () => {
    const own = await createApiToken(service.deps.db, 379, 'evidence');
    const other = await createApiToken(service.deps.db, 380, 'evidence');
    const mine = await getEvidence(SHIPMENT, own.token);
    expect(mine.status).toBe(200);
    expect(((await mine.json()) as EvidenceBody).evidence).toHaveLength(3);
    const theirs = await getEvidence(SHIPMENT, other.token);
    expect(theirs.status).toBe(404);
    expect(await theirs.text()).not.toContain('reschedule');
    expect((await getEvidence(SHIPMENT, 'wat_not-a-token')).status).toBe(401);
    expect((await getEvidence('bad%20id')).status).toBe(400);
  });

  it('keeps a GET reply as its query string, without the webhook token', async () => {
    const query =
      `mobile=${CUSTOMER}&type=text&text=Deliver%20on%20Monday&timestamp=1686222650000` +
      `&messageId=376937873247896700&token=${WEBHOOK_TOKEN}&waNumber=919319278973`;
    const res = await fetch(`${service.url}/api/_ah/v1/message?${query}`);
    expect(res.status).toBe(200);
    await waitFor(async () => (await evidenceCount(SHIPMENT)) === 4, { what: 'the GET answer' });
    const { evidence } = (await (await getEvidence(SHIPMENT)).json()) as EvidenceBody;
    const kept = evidence[3]!;
    const expected = query.replace(`&token=${WEBHOOK_TOKEN}`, '');
    expect(kept.rawBody).toBe(expected);
    expect(kept.rawBody).not.toContain(WEBHOOK_TOKEN);
    expect(kept.bodySha256).toBe(sha256(Buffer.from(expected)));
    expect(kept.hashMatches).toBe(true);
  });

  it('records no evidence for a reply whose webhook row holds no body (replayed)', async () => {
    const parsed = parseJson({
      mobile: CUSTOMER,
      type: 'text',
      text: 'replayed answer',
      timestamp: '1686222660000',
      messageId: '376937873247896701',
    });
    if (!parsed.ok) {
      throw new Error(parsed.reason);
    }
    await storeAndEnqueue(service.deps, parsed.events[0]!);
    const reply = await waitFor(
      async () =>
        (
          await service.deps.db
            .select({ id: whatsappReplies.id })
            .from(whatsappReplies)
            .innerJoin(webhookEvents, eq(webhookEvents.id, whatsappReplies.webhookEventId))
            .where(eq(webhookEvents.eventKey, 'in|376937873247896701'))
        )[0],
      { what: 'the replayed reply' },
    );
    const rows = await service.deps.db
      .select()
      .from(whatsappReplyEvidence)
      .where(eq(whatsappReplyEvidence.replyId, reply.id));
    expect(rows).toEqual([]);
    expect(await evidenceCount(SHIPMENT)).toBe(4);
  });

  it('wa-notify shipment --evidence shows it, the number masked', async () => {
    const json = await cli('shipment', SHIPMENT, '--evidence', '--json');
    expect(json.stderr).toBe('');
    expect(json.code).toBe(0);
    const view = JSON.parse(json.stdout) as EvidenceBody;
    expect(view.evidence.map((e) => e.choice)).toEqual(['reschedule', 'date', 'text', 'text']);
    expect(view.evidence[0]).toMatchObject({
      gupshupMessageId: '376937873247896673',
      bodySha256: sha256(buttonForm),
      hashMatches: true,
    });
    expect(json.stdout).not.toContain(CUSTOMER);
    expect(view.evidence[0]!.rawBody).toContain('91******6697');

    const human = await cli('shipment', SHIPMENT, '--evidence');
    expect(human.code).toBe(0);
    expect(human.stdout).toContain(`Evidence of shipment ${SHIPMENT}`);
    expect(human.stdout).toContain(sha256(buttonForm));
    expect(human.stdout).toContain('376937873247896673');
    expect(human.stdout).toContain('2023-06-10');
    expect(human.stdout).not.toContain(CUSTOMER);
  });
});
