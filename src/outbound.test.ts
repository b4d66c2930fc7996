import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

import { describe, expect, it } from 'vitest';

import {
  callerAborted,
  classifyTransportError,
  createPool,
  errorCode,
  requestDeadline,
  scrubReason,
} from './outbound.ts';

/** A signal that has already fired, like a deadline that ran out. */
function fired(): AbortSignal {
  const controller = new AbortController();
  controller.abort();
  return controller.signal;
}

const live = (): AbortSignal => new AbortController().signal;

describe('errorCode', () => {
  it('returns a string code and ignores anything else', () => {
    expect(errorCode(Object.assign(new Error('x'), { code: 'ECONNREFUSED' }))).toBe('ECONNREFUSED');
    expect(errorCode(new DOMException('aborted', 'AbortError'))).toBeUndefined();
    expect(errorCode({ code: 42 })).toBeUndefined();
    expect(errorCode('boom')).toBeUndefined();
    expect(errorCode(null)).toBeUndefined();
  });
});

describe('scrubReason', () => {
  it('masks long digit runs, cuts at max and turns missing text into an empty string', () => {
    expect(scrubReason('invalid number +917891971009')).toBe('invalid number [number]');
    expect(scrubReason('order 1234567 kept')).toBe('order 1234567 kept');
    expect(scrubReason('a'.repeat(300))).toHaveLength(200);
    expect(scrubReason('abcdef', 3)).toBe('abc');
    expect(scrubReason(undefined)).toBe('');
    expect(scrubReason('')).toBe('');
  });
});

describe('classifyTransportError', () => {
  it('reports the caller abort first, whatever was thrown', () => {
    const result = classifyTransportError(new Error('x'), {
      peer: 'WMS',
      deadline: fired(),
      caller: fired(),
    });
    expect(result).toEqual(callerAborted());
    expect(result).toEqual({
      ok: false,
      retryable: true,
      code: 'aborted',
      reason: 'request aborted by caller',
    });
  });

  it('reports the deadline and undici phase timeouts as a timeout naming the peer', () => {
    expect(
      classifyTransportError(new DOMException('t', 'TimeoutError'), {
        peer: 'Gupshup',
        deadline: fired(),
        caller: live(),
      }),
    ).toEqual({
      ok: false,
      retryable: true,
      code: 'timeout',
      reason: 'Gupshup did not answer in time',
    });
    for (const code of ['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT']) {
      const thrown = Object.assign(new Error('slow'), { code });
      expect(classifyTransportError(thrown, { peer: 'WMS', deadline: live() })).toMatchObject({
        code: 'timeout',
        reason: 'WMS did not answer in time',
      });
    }
  });

  it('reports a connection never made as unreachable, even when the deadline fired too', () => {
    for (const code of ['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'UND_ERR_CONNECT_TIMEOUT']) {
      const thrown = Object.assign(new Error(`connect ${code} for 917891971009`), { code });
      for (const deadline of [live(), fired()]) {
        expect(classifyTransportError(thrown, { peer: 'WMS', deadline })).toEqual({
          ok: false,
          retryable: true,
          code: 'unreachable',
          reason: `WMS could not be reached (${code})`,
        });
      }
    }
  });

  it('reports anything else as a scrubbed network failure', () => {
    const thrown = Object.assign(new Error('read ECONNRESET for 917891971009'), {
      code: 'ECONNRESET',
    });
    expect(classifyTransportError(thrown, { peer: 'WMS', deadline: live() })).toEqual({
      ok: false,
      retryable: true,
      code: 'network',
      reason: 'ECONNRESET: read ECONNRESET for [number]',
    });
    expect(classifyTransportError('socket hang up', { peer: 'WMS', deadline: live() })).toEqual({
      ok: false,
      retryable: true,
      code: 'network',
      reason: 'socket hang up',
    });
    expect(
      classifyTransportError(new Error('a  b'), {
        peer: 'WMS',
        deadline: live(),
        scrub: (text) => text.replace(/\s+/g, ' '),
      }).reason,
    ).toBe('a b');
  });
});

describe('requestDeadline', () => {
  it('hands undici the deadline alone, or combined with the caller signal', () => {
    const alone = requestDeadline(1_000);
    expect(alone.signal).toBe(alone.deadline);
    const caller = new AbortController();
    const combined = requestDeadline(1_000, caller.signal);
    expect(combined.signal).not.toBe(combined.deadline);
    caller.abort();
    expect(combined.signal.aborted).toBe(true);
    expect(combined.deadline.aborted).toBe(false);
  });
});

describe('createPool', () => {
  it('fails an answer larger than its limit instead of reading it all', async () => {
    const server = createServer((_req, res) => {
      res.end('x'.repeat(64 * 1_024));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const pool = createPool(`http://127.0.0.1:${port}`, 2_000, 16 * 1_024);
    try {
      const thrown = await pool
        .request({ method: 'GET', path: '/' })
        .then((res) => res.body.text())
        .then(
          () => null,
          (err: unknown) => err,
        );
      expect(errorCode(thrown)).toBe('UND_ERR_RES_EXCEEDED_MAX_SIZE');
      const small = createPool(`http://127.0.0.1:${port}`, 2_000);
      const res = await small.request({ method: 'GET', path: '/' });
      expect((await res.body.text()).length).toBe(64 * 1_024);
      await small.close();
    } finally {
      await pool.close();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
