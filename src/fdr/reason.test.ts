/** Deciding an event's FDR reason from ClickPost's NDR code and the courier's remarks. */
import { describe, expect, it } from 'vitest';

import fixture from '../../test/fixtures/fdr-event.json' with { type: 'json' };
import { parseFdrEvent, type FdrEvent } from './event.ts';
import { decideReason, reasonFromNdrCode, reasonFromText, TEXT_RULES } from './reason.ts';
import type { FdrReason } from './reasons.ts';

/** ClickPost's `ndr_status_code` table (facts §6.1) and the reason each code must give. */
const NDR_CODES: [number, string, FdrReason | null][] = [
  [0, 'Unknown Exception', null],
  [1, 'Customer Unavailable', 'customer_unavailable'],
  [2, 'Rejected by Customer', 'rejected_by_customer'],
  [3, 'Delivery Rescheduled', 'delivery_rescheduled'],
  [4, 'No Attempt', null],
  [5, 'Customer Unreachable', 'customer_unreachable'],
  [6, 'Address Issue', 'address_issue'],
  [7, 'Payment Issue', 'payment_issue'],
  [8, 'Out Of Delivery Area', 'oda'],
  [9, 'Order Already Cancelled', null],
  [10, 'Self Collect', 'oda'],
  [11, 'Shipment Seized By Customer', null],
  [12, 'Customer Wants Open Delivery', 'open_delivery'],
  [13, 'Shipment Misrouted by Logistics Partner', null],
  [14, 'OTP-Based Cancellation', 'otp_cancellation'],
];

describe('reasonFromNdrCode', () => {
  it.each(NDR_CODES)('maps code %i (%s) to %s', (code, _, reason) => {
    expect(reasonFromNdrCode(code)).toBe(reason);
    expect(reasonFromNdrCode(String(code))).toBe(reason);
  });

  it.each([[null], [undefined], [15], [-1], [1.5], [''], ['abc'], ['14a'], [Number.NaN]])(
    'maps %s to null',
    (code) => {
      expect(reasonFromNdrCode(code)).toBeNull();
    },
  );

  it('reads a numeric string with spaces', () => {
    expect(reasonFromNdrCode(' 6 ')).toBe('address_issue');
  });
});

describe('reasonFromText', () => {
  it.each<[string, FdrReason | null]>([
    // OTP cancellation, including the seed's remarks, which contain "cod" inside "code".
    ['Code verified cancellation', 'otp_cancellation'],
    ['code verified cancellation', 'otp_cancellation'],
    ['OTP Verified Cancellation', 'otp_cancellation'],
    ['OTP-based cancellation', 'otp_cancellation'],
    ['Customer asked for OTP cancel', 'otp_cancellation'],
    // Not a customer reason at all.
    ['OTP Not Received/OTP Mismatch', null],
    ['OTP mismatch or unavailable', null],
    ['Not attempted', null],
    ['Shipment misrouted', null],
    ['Shipment Seized By Customer', null],
    ['Order Already Cancelled', null],
    ['Unknown Exception', null],
    ['', null],
    // The nine reasons.
    ['Customer not available', 'customer_unavailable'],
    ['Consignee Unavailable', 'customer_unavailable'],
    ['Door locked', 'customer_unavailable'],
    ['Customer not reachable', 'customer_unreachable'],
    ['Customer Unreachable', 'customer_unreachable'],
    ['Phone switched off', 'customer_unreachable'],
    ['Consignee refused to accept', 'rejected_by_customer'],
    ['Rejected by Customer', 'rejected_by_customer'],
    ["Customer doesn't want the product", 'rejected_by_customer'],
    ['Customer Wants Open Delivery', 'open_delivery'],
    ['Refused as open delivery not allowed', 'open_delivery'],
    ['Out Of Delivery Area', 'oda'],
    ['ODA shipment', 'oda'],
    ['Self Collect', 'oda'],
    ['Delivery Rescheduled', 'delivery_rescheduled'],
    ['Customer asked to reschedule', 'delivery_rescheduled'],
    ['Customer requested future delivery', 'delivery_rescheduled'],
    ['Address Issue', 'address_issue'],
    ['Consignee shifted', 'address_issue'],
    ['Incomplete details', 'address_issue'],
    ['Payment Issue', 'payment_issue'],
    ['Cash not ready', 'payment_issue'],
    ['COD amount not ready', 'payment_issue'],
    // "ODA" and "COD" only as words.
    ['Rhodamine dye', null],
    ['Encoded label', null],
  ])('reads %j as %s', (text, reason) => {
    expect(reasonFromText(text)).toBe(reason);
  });
});

/** The seed event with ClickPost's `additional` and the remarks replaced. */
function eventWith(patch: {
  code?: number | string | null;
  description?: string | null;
  latestRemark?: string | null;
  trackRemark?: string | null;
  remarks?: string | null;
}): FdrEvent {
  const track = fixture.response_data.track_payload.clickPostTrackData;
  const raw = {
    ...fixture,
    response_data: {
      ...fixture.response_data,
      remarks: patch.remarks ?? null,
      track_payload: {
        clickPostTrackData: {
          ...track,
          remark: patch.trackRemark ?? null,
          additional: {
            ...track.additional,
            ndr_status_code: patch.code ?? null,
            ndr_status_description: patch.description ?? null,
            latest_status: {
              ...track.additional.latest_status,
              remark: patch.latestRemark ?? null,
            },
          },
        },
      },
    },
  };
  const parsed = parseFdrEvent(raw);
  if (!parsed.ok) {
    throw new Error(parsed.reason);
  }
  return parsed.event;
}

describe('decideReason', () => {
  it('decides the seed event from its NDR code 14', () => {
    const parsed = parseFdrEvent(fixture);
    expect(parsed.ok && decideReason(parsed.event)).toEqual({
      reason: 'otp_cancellation',
      source: 'ndr_code',
    });
  });

  it('prefers the code over a text that says something else', () => {
    expect(decideReason(eventWith({ code: 6, description: 'Customer refused' }))).toEqual({
      reason: 'address_issue',
      source: 'ndr_code',
    });
  });

  it('falls back to the description when there is no code', () => {
    expect(decideReason(eventWith({ description: 'Customer Unreachable' }))).toEqual({
      reason: 'customer_unreachable',
      source: 'text',
    });
  });

  it('falls back to the remarks, latest status first', () => {
    expect(
      decideReason(
        eventWith({ code: 0, latestRemark: 'Consignee refused', remarks: 'cash not ready' }),
      ),
    ).toEqual({ reason: 'rejected_by_customer', source: 'text' });
    expect(decideReason(eventWith({ trackRemark: 'Door locked', remarks: 'address' }))).toEqual({
      reason: 'customer_unavailable',
      source: 'text',
    });
    expect(decideReason(eventWith({ remarks: 'code verified cancellation' }))).toEqual({
      reason: 'otp_cancellation',
      source: 'text',
    });
  });

  it('skips texts that say nothing and reads the next', () => {
    expect(
      decideReason(eventWith({ description: 'Unknown Exception', remarks: 'Payment issue' })),
    ).toEqual({ reason: 'payment_issue', source: 'text' });
  });

  it.each([4, 9, 11, 13])('lets no remark overrule non-customer code %i', (code) => {
    expect(decideReason(eventWith({ code, remarks: 'Customer not available' }))).toBeNull();
  });

  it('is null when nothing decides', () => {
    expect(decideReason(eventWith({ remarks: 'Delayed' }))).toBeNull();
  });

  it('reads the remarks when the track payload is an empty PHP array', () => {
    const parsed = parseFdrEvent({
      ...fixture,
      response_data: { ...fixture.response_data, track_payload: [], remarks: 'Address incomplete' },
    });
    expect(parsed.ok && decideReason(parsed.event)).toEqual({
      reason: 'address_issue',
      source: 'text',
    });
  });
});

describe('decideReason on a 1 MiB remark', () => {
  const MiB = 1 << 20;
  /** Runs `decide` and returns its result and how long it took, in milliseconds. */
  function timed<T>(decide: () => T): { result: T; ms: number } {
    const started = performance.now();
    const result = decide();
    return { result, ms: performance.now() - started };
  }

  it.each([
    // "otp" then a long run of separators and no "cancel": two adjacent `[\s-]*` runs used to
    // try every split of the run (about 10^12 steps for 1 MiB).
    ['"otp", then spaces', `otp${' '.repeat(MiB)}x`, null],
    ['"code", then dashes', `code${'-'.repeat(MiB)}x`, null],
    ['"verified", then spaces and dashes', `verified${' -'.repeat(MiB / 2)}x`, null],
    [
      'a reason, then a long tail',
      `Customer refused the parcel${' ,;-'.repeat(MiB / 4)}`,
      'rejected_by_customer',
    ],
    ['words that never match', 'lorem ipsum '.repeat(MiB / 12), null],
  ] as const)('decides %s in well under a second', (_, remark, reason) => {
    const event = eventWith({ remarks: remark, description: remark, latestRemark: remark });
    const { result, ms } = timed(() => decideReason(event));
    expect(result).toEqual(reason ? { reason, source: 'text' } : null);
    expect(ms).toBeLessThan(1_000);
  });

  it('has no rule that backtracks over a long run of separators, even on uncut text', () => {
    // Every word a rule starts with, then 20 000 separators and no next word: with two adjacent
    // separator runs this took seconds per rule, and grew with the square of the run.
    const words = [
      'otp',
      'code',
      'verified',
      'not',
      'no',
      'already',
      'order',
      'open',
      'out of',
      'self',
    ];
    const runs = [' ', '-', ' -', '\t'].map((sep) => sep.repeat(20_000 / sep.length));
    const { ms } = timed(() => {
      for (const { pattern } of TEXT_RULES) {
        for (const word of words) {
          for (const run of runs) {
            pattern.test(`${word}${run}x`);
          }
        }
      }
    });
    expect(ms).toBeLessThan(1_000);
  });

  it('reads only the first KiB of a remark: a keyword beyond it decides nothing', () => {
    const early = eventWith({ remarks: `Door locked${' '.repeat(MiB)}` });
    const late = eventWith({ remarks: `${'.'.repeat(2_000)} Door locked` });
    expect(decideReason(early)).toEqual({ reason: 'customer_unavailable', source: 'text' });
    expect(decideReason(late)).toBeNull();
  });

  it('reads no NDR code from a 1 MiB string of digits', () => {
    const { result, ms } = timed(() => reasonFromNdrCode(`${'1'.repeat(MiB)} `));
    expect(result).toBeNull();
    expect(ms).toBeLessThan(1_000);
  });
});
