/**
 * The reliability runner's own arithmetic: what counts as lost and as a duplicate, and what the
 * hygiene search finds. A runner that miscounted would pass a broken service.
 */
import { describe, expect, it } from 'vitest';

import type { RecordedSend } from '../../src/sandbox/types.ts';
import { makeFinder } from '../reliability/scenarios/hygiene.ts';
import { SECRETS } from '../reliability/lib/stack.ts';
import { fdrKey, latency, makeCustomers, tally } from '../reliability/lib/traffic.ts';

function send(key: string, outcome: RecordedSend['outcome'], at = 0): RecordedSend {
  return {
    at: new Date(at),
    api: 'enterprise',
    method: 'SendMessage',
    params: { msg_id: `${key}.corr` },
    to: '919700000000',
    outcome,
  };
}

describe('tally', () => {
  const list = makeCustomers('t', 3, 0);
  it('counts an event with no accepted send as lost and each extra accepted send as a duplicate', () => {
    const sends = [
      send(fdrKey(list[0]!), 'success'),
      send(fdrKey(list[0]!), 'success'),
      send(fdrKey(list[0]!), 'success'),
      send(fdrKey(list[1]!), 'http_error'),
      send(fdrKey(list[2]!), 'success'),
      send('reply-9-confirm', 'success'),
    ];
    expect(tally(sends, list)).toMatchObject({
      events: 3,
      sent: 2,
      lost: 1,
      duplicates: 2,
      lostKeys: [fdrKey(list[1]!)],
      duplicateKeys: [fdrKey(list[0]!)],
    });
  });

  it('times each event from its publish to its first accepted send', () => {
    const published = list.map((customer, i) => ({ customer, at: 1_000 * i }));
    const sends = list.map((c, i) => send(fdrKey(c), 'success', 1_000 * i + 100 * (i + 1)));
    expect(latency(sends, published)).toEqual({ p50: 200, p95: 300, p99: 300 });
  });
});

describe('the hygiene search', () => {
  const [customer] = makeCustomers('h', 1, 41);
  const finder = makeFinder([customer!]);
  it('finds each kind of personal data and the secrets, by kind only', () => {
    expect(finder.find(`{"to":"91${customer!.phone}"}`)).toEqual(['phone number']);
    expect(finder.find(`x ${customer!.phone} y`)).toEqual(['phone number']);
    expect(finder.find(`hello ${customer!.name}!`)).toEqual(['name']);
    expect(finder.find(customer!.address2)).toEqual(['address']);
    expect(finder.find(`mail ${customer!.email}`)).toEqual(['email']);
    expect(finder.find(`Bearer ${SECRETS.API_TOKEN}`)).toEqual(['secret']);
    expect(finder.find('Aman Verma')).toEqual(['seed personal data']);
  });
  it('finds nothing in what the service may log', () => {
    expect(
      finder.find(
        '{"outboxId":12,"shipmentId":"REL-h-41","messageId":"4000745998926146646-720837232007925866"}',
      ),
    ).toEqual([]);
    // Another number, or ours inside a longer run of digits, is not ours.
    expect(finder.find(`9${customer!.phone}7`)).toEqual([]);
  });
});
