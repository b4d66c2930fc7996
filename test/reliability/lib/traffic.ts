/**
 * The run's traffic and its tally. Every event is the seed's FDR event for a shipment of its own,
 * with a customer of its own (number, name, address, email), so a send, a duplicate or a leak in
 * a log can be traced to one event. `tally` reads what the sandbox received against what was
 * published: lost (an event no send was accepted for), duplicates (accepted sends beyond the
 * first per event) and publish-to-send latency.
 */
import { readFileSync } from 'node:fs';

import type { Topic } from '@google-cloud/pubsub';

import type { RecordedSend } from '../../../src/sandbox/types.ts';
import { check, type Check } from './result.ts';
import { keyOfSend } from '../../helpers/outbox.ts';

export const ACCOUNT_ID = 379;

export interface Customer {
  shipmentId: string;
  phone: string;
  name: string;
  address1: string;
  address2: string;
  email: string;
}

export interface Published {
  customer: Customer;
  /** Epoch ms just before its (first) publish call. */
  at: number;
}

type Json = Record<string, unknown>;

const FIXTURE = JSON.parse(
  readFileSync(new URL('../../fixtures/fdr-event.json', import.meta.url), 'utf8'),
) as Json;

const FIRST = ['Ishaan', 'Meera', 'Kabir', 'Anaya', 'Vihaan', 'Saanvi', 'Arnav', 'Diya'];
const LAST = ['Kulkarni', 'Bhattacharya', 'Menon', 'Rathore', 'Chopra', 'Iyengar', 'Sethi'];

/** `count` customers from number `base` on (distinct bases give distinct customers). */
export function makeCustomers(scenario: string, count: number, base: number): Customer[] {
  return Array.from({ length: count }, (_v, i) => {
    const n = base + i;
    const tag = n.toString(36).padStart(4, '0');
    return {
      shipmentId: `REL-${scenario}-${n}`,
      // Indian mobile numbers (6-9 first), distinct per customer.
      phone: `9${String(700_000_000 + n).padStart(9, '0')}`,
      name: `${FIRST[n % FIRST.length]} ${LAST[n % LAST.length]}${tag}`,
      address1: `Flat ${tag}, Gulmohar Residency`,
      address2: `Sector ${n % 90} road near lake ${tag}`,
      email: `cust.${tag}@mailbox.example`,
    };
  });
}

/** Every string of a customer that must never reach a log line or a job's data. */
export function personalData(c: Customer): string[] {
  return [c.phone, `91${c.phone}`, c.name, c.address1, c.address2, c.email];
}

export function fdrEvent(c: Customer): Json {
  const event = structuredClone(FIXTURE);
  const data = event.response_data as Json;
  const address = data.shippingAddress as Json;
  data.externalShipmentID = c.shipmentId;
  data.customerName = c.name;
  data.customerContactNumber = c.phone;
  data.email = c.email;
  address.customerName = c.name;
  address.contactPhone = c.phone;
  address.email = c.email;
  address.addressLine1 = c.address1;
  address.addressLine2 = c.address2;
  return event;
}

export function fdrKey(c: Customer): string {
  return `fdr-${c.shipmentId}-1`;
}

/** Publishes one event (`copies` times, as separate Pub/Sub messages). */
export async function publish(topic: Topic, c: Customer, copies = 1): Promise<Published> {
  const at = Date.now();
  const data = Buffer.from(JSON.stringify(fdrEvent(c)));
  await Promise.all(Array.from({ length: copies }, () => topic.publishMessage({ data })));
  return { customer: c, at };
}

/** Publishes all at once. */
export async function publishAll(topic: Topic, list: Customer[], copies = 1): Promise<Published[]> {
  return Promise.all(list.map((c) => publish(topic, c, copies)));
}

/** Publishes at a steady `perSecond` until every customer is out. */
export async function publishAtRate(
  topic: Topic,
  list: Customer[],
  perSecond: number,
): Promise<Published[]> {
  const started = performance.now();
  const out: Promise<Published>[] = [];
  for (let i = 0; i < list.length; i++) {
    const due = started + (i * 1000) / perSecond;
    const wait = due - performance.now();
    if (wait > 1) {
      await new Promise((r) => setTimeout(r, wait));
    }
    out.push(publish(topic, list[i]!));
  }
  return Promise.all(out);
}

/** A send Gupshup took: answered with an id, or taken and the answer lost (timeout, drop). */
export function accepted(send: RecordedSend): boolean {
  return send.outcome === 'success';
}

export interface Tally {
  events: number;
  /** Events with at least one accepted FDR send. */
  sent: number;
  lost: number;
  duplicates: number;
  /** Keys of lost events (up to 20), for the report. */
  lostKeys: string[];
  duplicateKeys: string[];
}

export function tally(sends: RecordedSend[], list: Customer[]): Tally {
  const counts = new Map<string, number>();
  for (const send of sends) {
    if (accepted(send)) {
      const key = keyOfSend(send);
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
  }
  let sent = 0;
  let duplicates = 0;
  const lostKeys: string[] = [];
  const duplicateKeys: string[] = [];
  for (const c of list) {
    const n = counts.get(fdrKey(c)) ?? 0;
    if (n > 0) {
      sent++;
    } else if (lostKeys.length < 20) {
      lostKeys.push(fdrKey(c));
    }
    if (n > 1) {
      duplicates += n - 1;
      if (duplicateKeys.length < 20) {
        duplicateKeys.push(fdrKey(c));
      }
    }
  }
  return {
    events: list.length,
    sent,
    lost: list.length - sent,
    duplicates,
    lostKeys,
    duplicateKeys,
  };
}

/** p50/p95/p99 in ms from publish to the sandbox receiving the first accepted send. */
export function latency(
  sends: RecordedSend[],
  published: Published[],
): { p50: number; p95: number; p99: number } {
  const first = new Map<string, number>();
  for (const send of sends) {
    if (accepted(send)) {
      const key = keyOfSend(send);
      if (!first.has(key)) {
        first.set(key, send.at.getTime());
      }
    }
  }
  const values = published
    .map((p) => {
      const at = first.get(fdrKey(p.customer));
      return at === undefined ? null : at - p.at;
    })
    .filter((v): v is number => v !== null)
    .sort((a, b) => a - b);
  const pick = (q: number) =>
    values.length
      ? Math.round(values[Math.min(values.length - 1, Math.floor(q * values.length))]!)
      : 0;
  return { p50: pick(0.5), p95: pick(0.95), p99: pick(0.99) };
}

export interface Settled {
  /** Outbox rows of the events that MySQL holds as sent. */
  committed: number;
  /** False when the deadline passed first. */
  quiet: boolean;
  ms: number;
}

/**
 * Waits until MySQL holds every event's FDR message as sent and no job is waiting, active or
 * delayed, then a little longer (`settleMs`) so a late duplicate would still be seen; or until
 * `timeoutMs`. The run's figures are read after this.
 */
export async function settle(
  stack: {
    pendingJobs(): Promise<number>;
    query<T>(sql: string, params?: unknown[]): Promise<T[]>;
  },
  list: Customer[],
  { timeoutMs, settleMs = 3_000, expectSent = list.length } = {} as {
    timeoutMs: number;
    settleMs?: number;
    expectSent?: number;
  },
): Promise<Settled> {
  const started = Date.now();
  const committed = async () => {
    const [row] = await stack.query<{ n: number }>(
      "SELECT COUNT(*) AS n FROM notification_outbox WHERE kind = 'fdr_template' AND status = 'sent'",
    );
    return Number(row?.n ?? 0);
  };
  let last = 0;
  let quietSince: number | null = null;
  while (Date.now() - started < timeoutMs) {
    try {
      last = await committed();
      const pending = await stack.pendingJobs();
      if (last >= expectSent && pending === 0) {
        quietSince ??= Date.now();
        if (Date.now() - quietSince >= settleMs) {
          return { committed: last, quiet: true, ms: Date.now() - started };
        }
      } else {
        quietSince = null;
      }
    } catch {
      // MySQL or Redis away for a moment (an outage scenario): ask again.
      quietSince = null;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  return { committed: last, quiet: false, ms: Date.now() - started };
}

/**
 * What every traffic scenario checks: nothing lost, at most `allowed` duplicates (none unless a
 * scenario kills processes), and MySQL holding every send.
 */
export function deliveryChecks(t: Tally, committed: number, allowed = 0): Check[] {
  const which = t.duplicateKeys.length ? ` (${t.duplicateKeys.join(', ')})` : '';
  return [
    check('every event sent', t.lost === 0, t.lost ? `lost ${t.lostKeys.join(', ')}` : 0),
    allowed === 0
      ? check('nothing sent twice', t.duplicates === 0, `${t.duplicates}${which}`)
      : check(
          'duplicates at most the kills',
          t.duplicates <= allowed,
          `${t.duplicates} ≤ ${allowed}${which}`,
        ),
    check('MySQL holds every send', committed === t.events, committed),
  ];
}
