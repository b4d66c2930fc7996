import { describe, expect, it } from 'vitest';

import {
  businessDate,
  courierOf,
  failedAtOf,
  notHonouredByFailure,
  readWmsTime,
} from './attempts.ts';
import { readStatusEvent } from './status-event.ts';

const IST = 'Asia/Kolkata';

describe('readWmsTime', () => {
  it('reads the WMS local time in the business zone, and an explicit offset as it says', () => {
    expect(readWmsTime('2023-06-08 16:06:16', IST)?.toISOString()).toBe('2023-06-08T10:36:16.000Z');
    expect(readWmsTime('2023-06-08T16:06:16', 'UTC')?.toISOString()).toBe(
      '2023-06-08T16:06:16.000Z',
    );
    expect(readWmsTime('2023-06-08T16:06:16Z', IST)?.toISOString()).toBe(
      '2023-06-08T16:06:16.000Z',
    );
  });

  it.each([null, 42, '', 'yesterday', '2023-02-30 10:00:00', '2023-06-08'])(
    'refuses %j',
    (value) => {
      expect(readWmsTime(value, IST)).toBeNull();
    },
  );
});

describe('failedAtOf and courierOf', () => {
  const now = new Date('2026-12-01T00:00:00Z');

  it('takes status_updated_at, else status_log.failed_delivery, else now', () => {
    const both = {
      response_data: {
        status_updated_at: '2026-11-02 09:00:00',
        status_log: { failed_delivery: '2026-11-01 09:00:00' },
      },
    };
    expect(failedAtOf(both, IST, now).toISOString()).toBe('2026-11-02T03:30:00.000Z');
    const logOnly = { response_data: { status_log: { failed_delivery: '2026-11-01 09:00:00' } } };
    expect(failedAtOf(logOnly, IST, now).toISOString()).toBe('2026-11-01T03:30:00.000Z');
    expect(failedAtOf({ response_data: [] }, IST, now)).toBe(now);
  });

  it('cuts the courier to 64 characters and reads a blank one as none', () => {
    expect(courierOf({ response_data: { courierName: 'x'.repeat(80) } })).toHaveLength(64);
    expect(courierOf({ response_data: { courierName: '  ' } })).toBeNull();
    expect(courierOf({})).toBeNull();
  });
});

describe('notHonouredByFailure', () => {
  const at = new Date('2026-11-05T06:30:00Z'); // 5 November, noon IST

  it('flags a contradicting reason after a reattempt or a date, first', () => {
    expect(
      notHonouredByFailure(
        { action: 'reattempt', chosenDate: null },
        { reason: 'rejected_by_customer', at },
        IST,
      ),
    ).toBe('contradicting_reason');
    expect(
      notHonouredByFailure(
        { action: 'reschedule', chosenDate: '2026-11-04' },
        { reason: 'otp_cancellation', at },
        IST,
      ),
    ).toBe('contradicting_reason');
  });

  it('flags a failure on another date than the chosen one, not on the date itself', () => {
    const row = { action: 'reschedule', chosenDate: '2026-11-04' };
    expect(notHonouredByFailure(row, { reason: 'customer_unavailable', at }, IST)).toBe(
      'other_date',
    );
    expect(
      notHonouredByFailure(
        { ...row, chosenDate: '2026-11-05' },
        { reason: 'customer_unavailable', at },
        IST,
      ),
    ).toBeNull();
  });

  it('leaves answers that asked for no delivery alone', () => {
    for (const action of [null, 'cancel', 'update_address', 'raise_concern']) {
      expect(
        notHonouredByFailure(
          { action, chosenDate: null },
          { reason: 'rejected_by_customer', at },
          IST,
        ),
      ).toBeNull();
    }
  });

  it('reads the business date in the zone', () => {
    expect(businessDate(new Date('2026-11-30T19:00:00Z'), IST)).toBe('2026-12-01');
  });
});

describe('readStatusEvent', () => {
  const now = new Date('2026-12-01T00:00:00Z');
  const event = (subType: string, data: Record<string, unknown>) => ({
    resource: 'shipment',
    eventSubType: subType,
    response_data: { externalShipmentID: 'S-1', ...data },
  });

  it('reads the statuses taken in, from eventSubType or else response_data.status', () => {
    expect(
      readStatusEvent(event('delivered', { status_updated_at: '2026-11-02 10:00:00' }), IST, now),
    ).toEqual({ shipmentId: 'S-1', status: 'delivered', at: new Date('2026-11-02T04:30:00Z') });
    expect(readStatusEvent(event('status_update', { status: 'rto_initiated' }), IST, now)).toEqual({
      shipmentId: 'S-1',
      status: 'rto_initiated',
      at: now,
    });
  });

  it('times an out-for-delivery by its status_log entry first', () => {
    const ofd = event('out_for_delivery', {
      status_updated_at: '2026-11-02 18:00:00',
      status_log: { out_for_delivery: '2026-11-02 08:00:00' },
    });
    expect(readStatusEvent(ofd, IST, now)?.at.toISOString()).toBe('2026-11-02T02:30:00.000Z');
  });

  it.each([
    ['another status', event('intransit', {})],
    ['another resource', { ...event('delivered', {}), resource: 'order' }],
    ['a shipment id no shipment has', event('delivered', { externalShipmentID: 'a b' })],
  ])('takes no %s', (_what, raw) => {
    expect(readStatusEvent(raw, IST, now)).toBeNull();
  });
});
