/** Reading and validating the FDR event, on the seed event and variations of it. */
import { is } from 'drizzle-orm';
import { getTableConfig, MySqlTable } from 'drizzle-orm/mysql-core';
import { describe, expect, it } from 'vitest';

import fixture from '../../test/fixtures/fdr-event.json' with { type: 'json' };
import * as schema from '../db/schema.ts';
import { MAX_SHIPMENT_ID, parseFdrEvent, readFdrHeader, SHIPMENT_ID } from './event.ts';

/** The seed event with some `response_data` fields replaced (undefined removes a field). */
function withData(patch: Record<string, unknown>): Record<string, unknown> {
  const data: Record<string, unknown> = { ...fixture.response_data, ...patch };
  for (const [key, value] of Object.entries(patch)) {
    if (value === undefined) {
      delete data[key];
    }
  }
  return { ...fixture, response_data: data };
}

describe('readFdrHeader', () => {
  it('reads shipment, attempt and account from the seed event', () => {
    expect(readFdrHeader(fixture)).toEqual({
      kind: 'fdr',
      shipmentId: '4980116095129-90758',
      attempt: 1,
      accountId: 379,
    });
  });

  it.each([
    ['null', null],
    ['a string', 'failed_delivery'],
    ['an array', [fixture]],
    ['another resource', { ...fixture, resource: 'order' }],
    ['another sub-type', { ...fixture, eventSubType: 'delivered' }],
    ['no sub-type', { ...fixture, eventSubType: undefined }],
  ])('calls %s not an FDR', (_, raw) => {
    expect(readFdrHeader(raw)).toEqual({ kind: 'not_fdr' });
  });

  it.each([
    ['a missing shipment id', withData({ externalShipmentID: undefined }), 'externalShipmentID'],
    ['a blank shipment id', withData({ externalShipmentID: '   ' }), 'externalShipmentID'],
    [
      'a numeric shipment id',
      withData({ externalShipmentID: 4980116095129 }),
      'externalShipmentID',
    ],
    [
      'a zero attempt count',
      withData({ status_log_count: { failed_delivery: 0 } }),
      'status_log_count.failed_delivery',
    ],
    [
      'a fractional attempt count',
      withData({ status_log_count: { failed_delivery: '1.5' } }),
      'status_log_count.failed_delivery',
    ],
    ['no response_data', { ...fixture, response_data: undefined }, 'response_data'],
    // Longer than the shipment_id columns: stored, it would be cut to 64 and never found again.
    [
      'a 300-character shipment id',
      withData({ externalShipmentID: 'S'.repeat(300) }),
      'externalShipmentID: must be at most 64 characters',
    ],
    [
      'a 65-character shipment id',
      withData({ externalShipmentID: `S-${'1'.repeat(63)}` }),
      'externalShipmentID: must be at most 64 characters',
    ],
    [
      'an attempt count beyond INT',
      withData({ status_log_count: { failed_delivery: 2 ** 31 } }),
      'status_log_count.failed_delivery',
    ],
  ])('calls an FDR with %s invalid, naming the path', (_, raw, path) => {
    const header = readFdrHeader(raw);
    expect(header.kind).toBe('invalid');
    expect(header.kind === 'invalid' && header.reason).toContain(path);
  });

  it.each(['S 1', 'S:1', 'S%201', 'S\u00e91', "S'1", 'S\n1', 'S|1'])(
    'calls an FDR with the shipment id %j invalid',
    (id) => {
      const header = readFdrHeader(withData({ externalShipmentID: id }));
      expect(header).toEqual({
        kind: 'invalid',
        reason: 'response_data.externalShipmentID: must hold only letters, digits and _ . # / -',
      });
    },
  );

  it('never quotes the invalid shipment id in its reason', () => {
    const header = readFdrHeader(withData({ externalShipmentID: `917891971009${'x'.repeat(80)}` }));
    expect(header.kind === 'invalid' && header.reason).not.toContain('917891971009');
  });

  it.each(['4980116095129-90758', 'AWB_1.2#3/4-5', 'S'.repeat(64)])(
    'takes the shipment id %s',
    (id) => {
      expect(readFdrHeader(withData({ externalShipmentID: id }))).toMatchObject({
        kind: 'fdr',
        shipmentId: id,
      });
    },
  );

  it('bounds the shipment id to the length of every shipment_id column', () => {
    const lengths = Object.values(schema as Record<string, unknown>)
      .filter((t): t is MySqlTable => is(t, MySqlTable))
      .flatMap((t) => getTableConfig(t).columns)
      .filter((c) => c.name === 'shipment_id')
      .map((c) => (c as unknown as { length?: number }).length);
    expect(lengths.length).toBeGreaterThan(3);
    expect(new Set(lengths)).toEqual(new Set([MAX_SHIPMENT_ID]));
    expect(SHIPMENT_ID.test('S'.repeat(MAX_SHIPMENT_ID))).toBe(true);
    expect(SHIPMENT_ID.test('S'.repeat(MAX_SHIPMENT_ID + 1))).toBe(false);
  });

  it('refuses a long numeric string at once (no backtracking on the digits)', () => {
    const started = performance.now();
    const header = readFdrHeader(
      withData({ status_log_count: { failed_delivery: `${'1'.repeat(100_000)}x` } }),
    );
    expect(header.kind).toBe('invalid');
    expect(performance.now() - started).toBeLessThan(1_000);
  });

  it('trims the shipment id', () => {
    expect(readFdrHeader(withData({ externalShipmentID: ' S-1 \n' }))).toMatchObject({
      shipmentId: 'S-1',
    });
  });

  it.each([
    ['missing', withData({ status_log_count: undefined }), 1],
    ['an empty PHP array', withData({ status_log_count: [] }), 1],
    ['without failed_delivery', withData({ status_log_count: { intransit: 7 } }), 1],
    ['a numeric string', withData({ status_log_count: { failed_delivery: '2' } }), 2],
    ['a number', withData({ status_log_count: { failed_delivery: 3 } }), 3],
  ])('reads the attempt when the count is %s', (_, raw, attempt) => {
    expect(readFdrHeader(raw)).toMatchObject({ kind: 'fdr', attempt });
  });

  it.each([
    ['a numeric string', withData({ account_id: ' 379 ' }), 379],
    ['missing', withData({ account_id: undefined }), null],
    ['null', withData({ account_id: null }), null],
    ['not a number', withData({ account_id: 'abc' }), null],
    ['beyond INT', withData({ account_id: 2 ** 31 }), null],
    [
      'missing but set on the envelope',
      { ...withData({ account_id: undefined }), accountId: 12 },
      12,
    ],
  ])('reads the account id when it is %s', (_, raw, accountId) => {
    expect(readFdrHeader(raw)).toMatchObject({ kind: 'fdr', accountId });
  });
});

describe('parseFdrEvent', () => {
  it('accepts the seed event and keeps the fields the service reads', () => {
    const parsed = parseFdrEvent(fixture);
    if (!parsed.ok) {
      throw new Error(parsed.reason);
    }
    const data = parsed.event.response_data;
    expect(parsed.event.accountSlug).toBe('vitaminplanet');
    expect(parsed.event.accountId).toBeNull();
    expect(data.account_id).toBe(379);
    expect(data.externalShipmentID).toBe('4980116095129-90758');
    expect(data.customerOrderNumber).toBe('4980116095129');
    expect(data.shippingAddress?.city).toBe('churu');
    expect(data.items).toHaveLength(1);
    expect(data.items[0]).toMatchObject({ quantity: 1, invoiceTotal: 1889.1 });
    expect(data.track_payload?.clickPostTrackData?.additional?.ndr_status_code).toBe(14);
    expect(data.track_payload?.clickPostTrackData?.additional?.latest_status?.remark).toBe(
      'Code verified cancellation',
    );
  });

  it('reads numbers sent as strings, and ids sent as numbers', () => {
    const parsed = parseFdrEvent(
      withData({
        account_id: '379',
        customerOrderNumber: 4980116095129,
        customerContactNumber: 7891971009,
        items: [{ productName: 'Shoes', quantity: '2', invoiceTotal: '10.50', lineItemTotal: '' }],
      }),
    );
    if (!parsed.ok) {
      throw new Error(parsed.reason);
    }
    expect(parsed.event.response_data.account_id).toBe(379);
    expect(parsed.event.response_data.customerOrderNumber).toBe('4980116095129');
    expect(parsed.event.response_data.customerContactNumber).toBe('7891971009');
    expect(parsed.event.response_data.items[0]).toMatchObject({
      quantity: 2,
      invoiceTotal: 10.5,
      lineItemTotal: null,
    });
  });

  it('tolerates nulls, missing optional fields and empty PHP arrays', () => {
    const parsed = parseFdrEvent(
      withData({
        items: null,
        shippingAddress: [],
        track_payload: null,
        remarks: null,
        customerName: undefined,
        status_log_count: [],
      }),
    );
    if (!parsed.ok) {
      throw new Error(parsed.reason);
    }
    expect(parsed.event.response_data.items).toEqual([]);
    expect(parsed.event.response_data.shippingAddress).toBeNull();
    expect(parsed.event.response_data.track_payload).toBeNull();
  });

  it('lists every failing path in its reason', () => {
    const parsed = parseFdrEvent(
      withData({
        externalShipmentID: '',
        items: [{ productName: 'Shoes', quantity: 'two' }],
        shippingAddress: { city: 42 },
        track_payload: [1],
      }),
    );
    expect(parsed.ok).toBe(false);
    const reason = parsed.ok ? '' : parsed.reason;
    expect(reason).toContain('response_data.externalShipmentID');
    expect(reason).toContain('response_data.items.0.quantity: must be a number');
    expect(reason).toContain('response_data.shippingAddress');
    expect(reason).toContain('response_data.track_payload');
  });

  it('names the first ten failing paths and counts the rest', () => {
    const items = Array.from({ length: 5_000 }, () => ({ quantity: 'two' }));
    const parsed = parseFdrEvent(withData({ items }));
    const reason = parsed.ok ? '' : parsed.reason;
    expect(reason.split('; ')).toHaveLength(11);
    expect(reason).toContain('response_data.items.9.quantity: must be a number');
    expect(reason).not.toContain('response_data.items.10.');
    expect(reason.endsWith('and 4990 more')).toBe(true);
  });

  it('refuses an event that is not a shipment failed_delivery', () => {
    const parsed = parseFdrEvent({ ...fixture, eventSubType: 'delivered' });
    expect(parsed.ok).toBe(false);
    expect(parsed.ok ? '' : parsed.reason).toContain('eventSubType');
  });
});
