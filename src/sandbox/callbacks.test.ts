/**
 * The delivery-report planner: which reports one send produces, when, in which POSTs and order,
 * for the default sequence, skipped delays and each `DlrSpec` variant; and how replies are
 * encoded as form, JSON and GET query.
 */
import { describe, expect, it } from 'vitest';

import {
  buildDlrRequest,
  buildReplyRequest,
  type DlrDelays,
  type DlrPost,
  type DlrSpec,
  planDlrReports,
  planReports,
} from './callbacks.ts';

const base = {
  externalId: '4921687316728868875-376937873247896673',
  destAddr: '919650186697',
  srcAddr: 'TESTSM',
  sentAt: 1_686_222_477_000,
};

function plan(spec: DlrSpec = {}, delays: DlrDelays = {}): DlrPost[] {
  return planDlrReports({ ...base, delays, spec });
}

/** `[atMs, 'SENT,DELIVERED']` per POST: the timing and content at a glance. */
function outline(posts: DlrPost[]): [number, string][] {
  return posts.map((post) => [post.atMs, post.events.map((e) => e.eventType).join(',')]);
}

describe('planDlrReports', () => {
  it('plans SENT, DELIVERED, READ at 300, 800, 1500 ms by default, with the seed codes', () => {
    const posts = plan();

    expect(outline(posts)).toEqual([
      [300, 'SENT'],
      [800, 'DELIVERED'],
      [1_500, 'READ'],
    ]);
    expect(posts.map((p) => p.events[0])).toEqual([
      {
        srcAddr: 'TESTSM',
        channel: 'WHATSAPP',
        externalId: base.externalId,
        cause: 'SENT',
        errorCode: '025',
        destAddr: '919650186697',
        eventType: 'SENT',
        eventTs: base.sentAt + 300,
      },
      expect.objectContaining({ cause: 'SUCCESS', errorCode: '000', eventTs: base.sentAt + 800 }),
      expect.objectContaining({ cause: 'READ', errorCode: '026', eventTs: base.sentAt + 1_500 }),
    ]);
  });

  it('skips a report whose delay is null or negative, and defaults an absent one', () => {
    expect(outline(plan({}, { sent: 5, delivered: null, read: -1 }))).toEqual([[5, 'SENT']]);
    expect(outline(plan({}, { sent: null }))).toEqual([
      [800, 'DELIVERED'],
      [1_500, 'READ'],
    ]);
    expect(plan({}, { sent: -1, delivered: -1, read: null })).toEqual([]);
  });

  it('orders reports by delay, so delays alone can put DELIVERED first', () => {
    expect(outline(plan({}, { sent: 50, delivered: 10, read: 60 }))).toEqual([
      [10, 'DELIVERED'],
      [50, 'SENT'],
      [60, 'READ'],
    ]);
  });

  it('replaces the sequence with one FAILED report at the first delay', () => {
    const posts = plan(
      { fail: { errorCode: '003', cause: 'UNKNOWN_SUBSCRIBER' } },
      { sent: null, delivered: 20 },
    );

    expect(outline(posts)).toEqual([[20, 'FAILED']]);
    expect(posts[0]?.events[0]).toMatchObject({
      cause: 'UNKNOWN_SUBSCRIBER',
      errorCode: '003',
      eventType: 'FAILED',
      eventTs: base.sentAt + 20,
    });
    // Asked for explicitly, a failure is posted even when every report is switched off.
    expect(
      outline(
        plan(
          { fail: { errorCode: '007', cause: 'BLOCKED' } },
          { sent: null, delivered: null, read: null },
        ),
      ),
    ).toEqual([[300, 'FAILED']]);
  });

  it('posts every report twice with duplicate', () => {
    expect(outline(plan({ duplicate: true }, { sent: 5, delivered: 10, read: 15 }))).toEqual([
      [5, 'SENT'],
      [5, 'SENT'],
      [10, 'DELIVERED'],
      [10, 'DELIVERED'],
      [15, 'READ'],
      [15, 'READ'],
    ]);
  });

  it('holds reversed reports until the last has happened, keeping their true times', () => {
    const posts = plan({ reverse: true }, { sent: 5, delivered: 10, read: 15 });

    expect(outline(posts)).toEqual([
      [15, 'READ'],
      [15, 'DELIVERED'],
      [15, 'SENT'],
    ]);
    expect(posts.map((p) => (p.events[0]?.eventTs ?? 0) - base.sentAt)).toEqual([15, 10, 5]);
  });

  it('puts every report in one POST with batch, reversed too if asked', () => {
    expect(outline(plan({ batch: true }, { sent: 5, delivered: 10, read: 15 }))).toEqual([
      [15, 'SENT,DELIVERED,READ'],
    ]);
    expect(outline(plan({ batch: true, reverse: true, duplicate: true }))).toEqual([
      [1_500, 'READ,DELIVERED,SENT'],
      [1_500, 'READ,DELIVERED,SENT'],
    ]);
  });
});

describe('planReports', () => {
  const statuses = (delays: DlrDelays, spec: DlrSpec = {}) =>
    planReports({ delays, spec, enqueued: true }).map((post) => [
      post.atMs,
      post.reports.map((r) => r.status).join(','),
    ]);

  it('adds ENQUEUED at once when asked, before the other reports', () => {
    expect(statuses({ sent: 5, delivered: 10, read: 15 })).toEqual([
      [0, 'ENQUEUED'],
      [5, 'SENT'],
      [10, 'DELIVERED'],
      [15, 'READ'],
    ]);
    expect(statuses({ enqueued: 3, sent: 5, delivered: null, read: null })).toEqual([
      [3, 'ENQUEUED'],
      [5, 'SENT'],
    ]);
  });

  it('skips ENQUEUED on a null delay, with no other report, and for a failure', () => {
    expect(statuses({ enqueued: null, sent: 5, delivered: null, read: null })).toEqual([
      [5, 'SENT'],
    ]);
    expect(statuses({ sent: null, delivered: null, read: null })).toEqual([]);
    expect(
      statuses({ sent: 5 }, { fail: { errorCode: '1002', cause: 'Number Does Not Exist' } }),
    ).toEqual([[5, 'FAILED']]);
  });

  it('batches and reverses ENQUEUED with the rest', () => {
    expect(statuses({ sent: 5, delivered: 10, read: 15 }, { batch: true, reverse: true })).toEqual([
      [15, 'READ,DELIVERED,SENT,ENQUEUED'],
    ]);
  });

  it('leaves ENQUEUED out of enterprise plans', () => {
    expect(planDlrReports({ ...base, delays: {}, spec: {} }).flatMap((p) => p.events)).toHaveLength(
      3,
    );
  });
});

describe('callback requests', () => {
  it('encodes reports as the single form field response holding a JSON array', () => {
    const [post] = plan({}, { sent: 5, delivered: null, read: null });
    const req = buildDlrRequest('http://app/hook?token=t', post?.events ?? []);

    expect(req).toMatchObject({
      kind: 'dlr',
      method: 'POST',
      url: 'http://app/hook?token=t',
      contentType: 'application/x-www-form-urlencoded',
      label: `SENT ${base.externalId}`,
    });
    const form = new URLSearchParams(req.body);
    expect([...form.keys()]).toEqual(['response']);
    expect(JSON.parse(form.get('response') ?? '')).toEqual(post?.events);
  });

  it('encodes a reply as form, JSON or query, keeping the token and personal data out of the label', () => {
    const fields = { mobile: '919650186697', type: 'text', text: 'a&b=c' };

    const form = buildReplyRequest('http://app/hook?token=t', fields, 'form');
    const json = buildReplyRequest('http://app/hook?token=t', fields, 'json');
    const query = buildReplyRequest('http://app/hook?token=t', fields, 'query');

    expect(form).toMatchObject({
      method: 'POST',
      contentType: 'application/x-www-form-urlencoded',
      label: 'reply text',
    });
    expect(Object.fromEntries(new URLSearchParams(form.body))).toEqual(fields);
    expect(json).toMatchObject({ method: 'POST', contentType: 'application/json' });
    expect(JSON.parse(json.body)).toEqual(fields);
    expect(query.method).toBe('GET');
    expect(query.contentType).toBeUndefined();
    const url = new URL(query.url);
    expect(Object.fromEntries(url.searchParams)).toEqual({ token: 't', ...fields });
    expect(form.label).not.toContain('919650186697');
  });
});
