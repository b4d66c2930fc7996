/** Reading and validating the FDR event, on the seed event and variations of it. */
import { describe, expect, it } from 'vitest';

import fixture from '../../test/fixtures/fdr-event.json' with { type: 'json' };
import { parseFdrEvent, readFdrHeader } from './event.ts';

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
  ])('calls an FDR with %s invalid, naming the path', (_, raw, path) => {
    const header = readFdrHeader(raw);
    expect(header.kind).toBe('invalid');
    expect(header.kind === 'invalid' && header.reason).toContain(path);
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

  it('refuses an event that is not a shipment failed_delivery', () => {
    const parsed = parseFdrEvent({ ...fixture, eventSubType: 'delivered' });
    expect(parsed.ok).toBe(false);
    expect(parsed.ok ? '' : parsed.reason).toContain('eventSubType');
  });
});
