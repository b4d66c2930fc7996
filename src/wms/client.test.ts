/**
 * The WMS client against the in-process fake WMS on a random port: the exact requests it makes
 * (URL, headers, body) and how each kind of answer (success, 409, 4xx, 5xx, timeout, abort,
 * unreachable host, garbage) becomes a WmsResult.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

import { startFakeWms, type FakeWms } from '../../test/helpers/fake-wms.ts';
import {
  createWmsClient,
  isFailedDelivery,
  MAX_REMARKS_LENGTH,
  type NdrNotification,
  type WmsClient,
  type WmsResult,
} from './client.ts';

const TOKEN = 'wms-test-token';
const SHIPMENT = '4980116095129-90758';

const reschedule: NdrNotification = {
  shipmentId: SHIPMENT,
  accountId: 379,
  action: 'RESCHEDULE',
  deliveryDate: '2023-06-10',
  remarks: 'Customer chose 10 June 2023 on WhatsApp',
  messageId: '376937873247896673',
};

let wms: FakeWms;
let client: WmsClient;

beforeAll(async () => {
  wms = await startFakeWms({ token: TOKEN });
  client = createWmsClient({ baseUrl: wms.url, timeoutMs: 2_000, token: TOKEN });
});

afterEach(() => {
  wms.reset();
});

afterAll(async () => {
  await client.close();
  await wms.close();
});

/** Polls instead of sleeping: resolves as soon as `condition` holds, fails after `timeoutMs`. */
async function waitUntil(condition: () => boolean, timeoutMs = 2_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) {
      throw new Error('condition not met in time');
    }
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

function failure<T>(result: WmsResult<T>) {
  if (result.ok) {
    throw new Error(`expected a failure, got ${JSON.stringify(result.value)}`);
  }
  return result;
}

describe('getOrderStatus', () => {
  it('reads the status, trimmed and lower-cased, with the bearer token', async () => {
    wms.setStatus(SHIPMENT, '  Delivered ');

    const result = await client.getOrderStatus(SHIPMENT);

    expect(result).toEqual({ ok: true, value: { shipmentId: SHIPMENT, status: 'delivered' } });
    expect(wms.requests).toHaveLength(1);
    expect(wms.requests[0]).toMatchObject({
      method: 'GET',
      url: `/order/status?shipmentId=${SHIPMENT}`,
      headers: { authorization: `Bearer ${TOKEN}`, accept: 'application/json' },
    });
  });

  it('sees an unknown shipment in failed delivery (the fake default)', async () => {
    expect(await client.getOrderStatus('never-set')).toEqual({
      ok: true,
      value: { shipmentId: 'never-set', status: 'failed_delivery' },
    });
  });

  it('URL-encodes the shipment id', async () => {
    const id = 'A/B 1&shipmentId=x#?%+é';
    wms.setStatus(id, 'cancelled');

    const result = await client.getOrderStatus(id);

    // The fake decodes the query: only a fully encoded id comes back whole.
    expect(result).toEqual({ ok: true, value: { shipmentId: id, status: 'cancelled' } });
    expect(wms.requests[0]?.url).toBe(
      '/order/status?shipmentId=A%2FB%201%26shipmentId%3Dx%23%3F%25%2B%C3%A9',
    );
  });

  it('keeps a base URL path prefix', async () => {
    const prefixed = createWmsClient({
      baseUrl: `${wms.url}/wms/`,
      timeoutMs: 2_000,
      token: TOKEN,
    });
    try {
      const result = failure(await prefixed.getOrderStatus(SHIPMENT));

      // The fake serves no /wms prefix, so a 404 proves the prefix was sent.
      expect(result).toMatchObject({ retryable: false, code: 'http_404' });
      expect(wms.requests[0]?.url).toBe(`/wms/order/status?shipmentId=${SHIPMENT}`);
    } finally {
      await prefixed.close();
    }
  });

  it('treats a 200 that is not the contract as a retryable bad response', async () => {
    wms.failNext(200, 'maintenance page');
    wms.failNext(200, { shipmentId: SHIPMENT });
    wms.failNext(200, { shipmentId: 'some-other-shipment', status: 'delivered' });

    const results = [
      failure(await client.getOrderStatus(SHIPMENT)),
      failure(await client.getOrderStatus(SHIPMENT)),
      failure(await client.getOrderStatus(SHIPMENT)),
    ];

    expect(results.map((r) => [r.code, r.retryable])).toEqual([
      ['bad_response', true],
      ['bad_response', true],
      ['bad_response', true],
    ]);
    expect(results[2]?.reason).toMatch(/another shipment/);
  });

  it('accepts a numeric shipment id in the answer', async () => {
    wms.failNext(200, { shipmentId: 4980116095129, status: 'NDR' });

    expect(await client.getOrderStatus('4980116095129')).toEqual({
      ok: true,
      value: { shipmentId: '4980116095129', status: 'ndr' },
    });
  });

  it('refuses without retry when the WMS refuses the token', async () => {
    const anonymous = createWmsClient({ baseUrl: wms.url, timeoutMs: 2_000 });
    try {
      const result = failure(await anonymous.getOrderStatus(SHIPMENT));

      expect(result).toMatchObject({ retryable: false, code: 'http_401' });
      expect(wms.requests[0]?.headers.authorization).toBeUndefined();
    } finally {
      await anonymous.close();
    }
  });
});

describe('notifyNdr', () => {
  it('posts the documented body and headers', async () => {
    const result = await client.notifyNdr(reschedule, 'reply-77-RESCHEDULE');

    expect(result).toEqual({ ok: true, value: { status: 200 } });
    expect(wms.notifications).toEqual([
      {
        key: 'reply-77-RESCHEDULE',
        at: expect.any(Date),
        body: {
          shipmentId: SHIPMENT,
          accountId: 379,
          action: 'RESCHEDULE',
          deliveryDate: '2023-06-10',
          remarks: 'Customer chose 10 June 2023 on WhatsApp',
          source: 'whatsapp',
          messageId: '376937873247896673',
        },
      },
    ]);
    expect(wms.requests).toHaveLength(1);
    expect(wms.requests[0]).toMatchObject({
      method: 'POST',
      url: '/_ah/esb/v1/ndrNotification',
      headers: {
        'content-type': 'application/json',
        'idempotency-key': 'reply-77-RESCHEDULE',
        authorization: `Bearer ${TOKEN}`,
      },
    });
  });

  it('leaves out the optional fields when not given', async () => {
    await client.notifyNdr(
      { shipmentId: SHIPMENT, accountId: 379, action: 'REATTEMPT', messageId: 'm-1' },
      'reply-78-REATTEMPT',
    );

    expect(Object.keys(wms.notifications[0]?.body ?? {})).toEqual([
      'shipmentId',
      'accountId',
      'action',
      'source',
      'messageId',
    ]);
  });

  it('cuts long remarks to the documented length', async () => {
    await client.notifyNdr(
      { ...reschedule, action: 'RAISE_CONCERN', remarks: 'x'.repeat(5_000) },
      'reply-79-RAISE_CONCERN',
    );

    expect(wms.notifications[0]?.body.remarks).toBe('x'.repeat(MAX_REMARKS_LENGTH));
  });

  it('is applied once when retried with the same key', async () => {
    const first = await client.notifyNdr(reschedule, 'reply-80-RESCHEDULE');
    const second = await client.notifyNdr(reschedule, 'reply-80-RESCHEDULE');

    expect(first).toEqual({ ok: true, value: { status: 200 } });
    expect(second).toEqual({ ok: true, value: { status: 200 } });
    expect(wms.notifications).toHaveLength(1);
    expect(wms.repeats).toBe(1);
  });

  it('counts 409 (already applied under that key) as done', async () => {
    wms.failNext(409, { message: 'already applied' });

    expect(await client.notifyNdr(reschedule, 'reply-81-RESCHEDULE')).toEqual({
      ok: true,
      value: { status: 409 },
    });
  });

  it.each([503, 500, 429, 408])('retries after HTTP %d', async (status) => {
    wms.failNext(status);

    const result = failure(await client.notifyNdr(reschedule, 'reply-82-RESCHEDULE'));

    expect(result).toMatchObject({ retryable: true, code: `http_${status}` });
    expect(wms.notifications).toHaveLength(0);
  });

  it('gives up on 400 with the WMS message, bounded and without numbers', async () => {
    wms.failNext(400, { message: 'deliveryDate beyond courier limit' });
    wms.failNext(400, {
      error: { message: `customer 9876543210 / +91 98765 43210 ${'y'.repeat(500)}` },
    });

    const plain = failure(await client.notifyNdr(reschedule, 'reply-83-RESCHEDULE'));
    const noisy = failure(await client.notifyNdr(reschedule, 'reply-84-RESCHEDULE'));

    expect(plain).toEqual({
      ok: false,
      retryable: false,
      code: 'http_400',
      reason: 'WMS answered HTTP 400: deliveryDate beyond courier limit',
    });
    expect(noisy.retryable).toBe(false);
    expect(noisy.reason.length).toBeLessThanOrEqual(200);
    expect(noisy.reason).toContain('customer [number] / [number]');
    expect(noisy.reason).not.toMatch(/\d{5}/);
  });

  it('sends nothing for an invalid notification', async () => {
    const noDate = failure(
      await client.notifyNdr({ ...reschedule, deliveryDate: undefined }, 'reply-85'),
    );
    const badDate = failure(
      await client.notifyNdr({ ...reschedule, deliveryDate: '10/06/2023' }, 'reply-86'),
    );
    const noKey = failure(await client.notifyNdr(reschedule, '  '));

    for (const result of [noDate, badDate, noKey]) {
      expect(result).toMatchObject({ retryable: false, code: 'invalid_request' });
    }
    expect(noDate.reason).toMatch(/RESCHEDULE needs a deliveryDate/);
    expect(wms.requests).toHaveLength(0);
  });
});

describe('transport failures', () => {
  it('gives up with a retryable timeout when the WMS is slower than timeoutMs', async () => {
    const quick = createWmsClient({ baseUrl: wms.url, timeoutMs: 200, token: TOKEN });
    wms.hangNext();
    try {
      const started = Date.now();
      const result = failure(await quick.notifyNdr(reschedule, 'reply-90-RESCHEDULE'));

      expect(result).toMatchObject({ retryable: true, code: 'timeout' });
      expect(Date.now() - started).toBeLessThan(1_500);
    } finally {
      await quick.close();
    }
  });

  it('stops a request in flight when the signal aborts', async () => {
    wms.hangNext();
    const controller = new AbortController();

    const pending = client.getOrderStatus(SHIPMENT, controller.signal);
    await waitUntil(() => wms.requests.length === 1);
    const abortedAt = Date.now();
    controller.abort();
    const result = failure(await pending);

    expect(result).toMatchObject({ retryable: true, code: 'aborted' });
    // Ignoring the signal would only end the request at the 2 s client timeout.
    expect(Date.now() - abortedAt).toBeLessThan(1_000);
  });

  it('sends nothing when the signal is already aborted', async () => {
    const result = failure(
      await client.notifyNdr(reschedule, 'reply-91-RESCHEDULE', AbortSignal.abort()),
    );

    expect(result.code).toBe('aborted');
    expect(wms.requests).toHaveLength(0);
  });

  it('reports an unreachable WMS as a retryable unreachable failure', async () => {
    const gone = await startFakeWms();
    await gone.close();
    const dead = createWmsClient({ baseUrl: gone.url, timeoutMs: 2_000 });
    try {
      const result = failure(await dead.getOrderStatus(SHIPMENT));

      expect(result).toMatchObject({ retryable: true, code: 'unreachable' });
    } finally {
      await dead.close();
    }
  });
});

describe('isFailedDelivery', () => {
  it.each([
    'failed_delivery',
    'Failed Delivery',
    'FAILED-DELIVERY',
    'FailedDelivery',
    ' ndr ',
    'NDR',
    'undelivered',
    'Not Delivered',
    'delivery_failed',
  ])('is true for "%s"', (status) => {
    expect(isFailedDelivery(status)).toBe(true);
  });

  it.each([
    'delivered',
    'cancelled',
    'out_for_delivery',
    'rto',
    'rto_delivered',
    'intransit',
    'failed',
    '',
  ])('is false for "%s"', (status) => {
    expect(isFailedDelivery(status)).toBe(false);
  });
});
