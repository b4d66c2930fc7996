/** The seed's delivery report codes and the forward-only status rule. */
import { describe, expect, it } from 'vitest';

import type { DeliveryReport } from '../webhook/events.ts';
import { DLR_CODES, nextStatus, statusOf, type DlrStatus } from './codes.ts';

function report(patch: Partial<DeliveryReport>): DeliveryReport {
  return {
    source: 'enterprise',
    externalId: '4921687316728868875-376937873247896673',
    eventType: 'SENT',
    cause: null,
    errorCode: null,
    destAddr: null,
    srcAddr: null,
    eventTs: null,
    extra: null,
    ...patch,
  };
}

describe('statusOf', () => {
  it.each([
    ['000', 'SUCCESS', 'DELIVERED'],
    ['025', 'SENT', 'SENT'],
    ['026', 'READ', 'READ'],
    ['020', 'OTHER', 'FAILED'],
    ['003', 'UNKNOWN_SUBSCRIBER', 'FAILED'],
    ['010', 'DEFERRED', 'FAILED'],
    ['022', 'BLOCKED_FOR_USER', 'FAILED'],
    ['101', '24 Hour exceeded', 'FAILED'],
  ])("maps the seed's code %s (%s) to %s", (code, cause, status) => {
    expect(DLR_CODES).toContainEqual({ code, cause, status });
    // The code decides even when the event type says otherwise.
    expect(statusOf(report({ errorCode: code, eventType: 'SENT' }))).toEqual({
      status,
      known: true,
    });
  });

  it('maps an unknown code to FAILED, marked unknown', () => {
    expect(statusOf(report({ errorCode: '999', eventType: 'DELIVERED' }))).toEqual({
      status: 'FAILED',
      known: false,
    });
  });

  it.each(['SENT', 'DELIVERED', 'READ', 'FAILED'] as const)(
    'falls back to the event type %s when there is no code',
    (eventType) => {
      expect(statusOf(report({ eventType }))).toEqual({ status: eventType, known: true });
    },
  );

  it('maps an unknown event type without a code to FAILED, marked unknown', () => {
    expect(statusOf(report({ eventType: 'EXPIRED' }))).toEqual({ status: 'FAILED', known: false });
  });

  it('maps v2 events by type: their codes are a different numbering', () => {
    const v2 = (eventType: string, errorCode: string | null = null) =>
      statusOf(report({ source: 'v2', eventType, errorCode }));
    expect(v2('SENT')).toEqual({ status: 'SENT', known: true });
    expect(v2('DELIVERED')).toEqual({ status: 'DELIVERED', known: true });
    expect(v2('READ')).toEqual({ status: 'READ', known: true });
    expect(v2('FAILED', '1002')).toEqual({ status: 'FAILED', known: true });
    // "000" would be DELIVERED in the enterprise table; a v2 failure stays a failure.
    expect(v2('FAILED', '000')).toEqual({ status: 'FAILED', known: true });
    expect(v2('ENQUEUED')).toBeNull();
    expect(v2('DELETED')).toBeNull();
    expect(v2('MISMATCH')).toBeNull();
    expect(v2('MYSTERY')).toEqual({ status: 'FAILED', known: false });
  });

  it('maps v3 (Meta-format) events by type like v2; Meta codes are information only', () => {
    const v3 = (eventType: string, errorCode: string | null = null) =>
      statusOf(report({ source: 'v3', eventType, errorCode }));
    expect(v3('SENT')).toEqual({ status: 'SENT', known: true });
    expect(v3('DELIVERED')).toEqual({ status: 'DELIVERED', known: true });
    expect(v3('READ')).toEqual({ status: 'READ', known: true });
    expect(v3('FAILED', '131047')).toEqual({ status: 'FAILED', known: true });
    // "026" is READ in the enterprise table; here the event type decides.
    expect(v3('FAILED', '026')).toEqual({ status: 'FAILED', known: true });
    expect(v3('ENQUEUED')).toBeNull();
    expect(v3('DELETED')).toBeNull();
    expect(v3('MISMATCH')).toBeNull();
    expect(v3('WARNING')).toEqual({ status: 'FAILED', known: false });
  });
});

describe('nextStatus', () => {
  const cases: [string, DlrStatus, DlrStatus | null][] = [
    ['SUBMITTED', 'SENT', 'SENT'],
    ['SUBMITTED', 'DELIVERED', 'DELIVERED'],
    ['SUBMITTED', 'READ', 'READ'],
    ['SUBMITTED', 'FAILED', 'FAILED'],
    ['SENT', 'SENT', null],
    ['SENT', 'DELIVERED', 'DELIVERED'],
    ['SENT', 'READ', 'READ'],
    ['SENT', 'FAILED', 'FAILED'],
    ['DELIVERED', 'SENT', null],
    ['DELIVERED', 'DELIVERED', null],
    ['DELIVERED', 'READ', 'READ'],
    ['DELIVERED', 'FAILED', null],
    ['READ', 'SENT', null],
    ['READ', 'DELIVERED', null],
    ['READ', 'READ', null],
    ['READ', 'FAILED', null],
    ['FAILED', 'SENT', null],
    ['FAILED', 'FAILED', null],
    ['FAILED', 'DELIVERED', 'DELIVERED'],
    ['FAILED', 'READ', 'READ'],
    ['SOMETHING_ELSE', 'SENT', 'SENT'],
  ];
  it.each(cases)('%s + %s → %s', (current, incoming, expected) => {
    expect(nextStatus(current, incoming)).toBe(expected);
  });

  it('ends at READ for SENT, READ, a late DELIVERED and READ again', () => {
    let status = 'SUBMITTED';
    const changes: string[] = [];
    for (const incoming of ['SENT', 'READ', 'DELIVERED', 'READ'] as const) {
      const next = nextStatus(status, incoming);
      if (next) {
        changes.push(next);
        status = next;
      }
    }
    expect(status).toBe('READ');
    expect(changes).toEqual(['SENT', 'READ']);
  });
});
