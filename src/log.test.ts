import { pino } from 'pino';
import { describe, expect, it } from 'vitest';

import { loadConfig } from './config.ts';
import {
  createLog,
  logSecrets,
  maskText,
  REDACT_PATHS,
  redactFields,
  withLogContext,
} from './log.ts';

function capture(secrets: string[] = []) {
  const lines: string[] = [];
  const log = createLog('debug', { write: (line: string) => void lines.push(line) }, secrets);
  const entries = () => lines.map((l) => JSON.parse(l) as Record<string, unknown>);
  return { log, lines, entries };
}

describe('maskText', () => {
  it('masks runs of 8 or more digits, with or without +, and the given secrets', () => {
    expect(maskText('sent to +917891971009 and 9650186697 at 12:30 on 2023-06-08')).toBe(
      'sent to [number] and [number] at 12:30 on 2023-06-08',
    );
    expect(maskText('1234567 stays', [])).toBe('1234567 stays');
    expect(maskText('pw=hunter2-secret;', ['hunter2-secret'])).toBe('pw=[redacted];');
  });
});

describe('createLog', () => {
  it('redacts personal fields and keeps ids intact', () => {
    const { log, entries } = capture();
    log.info(
      {
        shipmentId: '4980116095129-90758',
        messageId: '4921687316728868875-376937873247896673',
        phone: '917891971009',
        email: 'someone@example.com',
        outbox: { customerName: 'Aman Verma', address: 'Sadafal kunj', toNumber: '917891971009' },
      },
      'event',
    );
    expect(entries()[0]).toMatchObject({
      shipmentId: '4980116095129-90758',
      messageId: '4921687316728868875-376937873247896673',
      phone: '[redacted]',
      email: '[redacted]',
      outbox: { customerName: '[redacted]', address: '[redacted]', toNumber: '[redacted]' },
    });
  });

  it('redacts names, numbers, texts and credentials three levels deep, and keeps the message', () => {
    const { log, entries } = capture();
    log.info(
      {
        reply: { message: { name: 'Aman', waNumber: '919319278973', location: { latitude: 1 } } },
        send: { params: { send_to: '917891971009', msg: 'Hi Aman', userid: '2000' } },
        sender: { account: { hsm: { password: 'pw' } } },
        report: { remarks: 'raw body', recipient_id: '917891971009' },
        outboxId: 7,
      },
      'nested',
    );
    expect(entries()[0]).toMatchObject({
      msg: 'nested',
      outboxId: 7,
      reply: { message: { name: '[redacted]', waNumber: '[redacted]', location: '[redacted]' } },
      send: { params: { send_to: '[redacted]', msg: '[redacted]', userid: '[redacted]' } },
      sender: { account: { hsm: '[redacted]' } },
      report: { remarks: '[redacted]', recipient_id: '[redacted]' },
    });
  });

  it("redacts the customer's ids as the webhook's events name them", () => {
    const { log, entries } = capture();
    log.info(
      {
        userId: 'IN.1648738043044911',
        from: '919812345678',
        phone: '919812345678',
        message: { mobile: '919812345678', userId: 'IN.1648738043044911', from: 'x' },
        event: { phone: '919812345678' },
      },
      'event',
    );
    expect(entries()[0]).toMatchObject({
      userId: '[redacted]',
      from: '[redacted]',
      phone: '[redacted]',
      message: { mobile: '[redacted]', userId: '[redacted]', from: '[redacted]' },
      event: { phone: '[redacted]' },
    });
  });

  it('masks numbers in messages, interpolated strings and errors (string or Error)', () => {
    const { log, lines } = capture();
    log.warn('no conversation for 919650186697');
    log.info({ shipmentId: 'S-1' }, 'reply from %s', '+919650186697');
    log.error({ err: 'Duplicate entry 917891971009 for key' }, 'insert failed');
    log.error(new Error('cannot send to 917891971009'), 'send failed');
    log.error({ err: new Error('timeout talking to 9650186697') }, 'wms failed');
    const all = lines.join('\n');
    expect(all).not.toMatch(/\d{8,}/);
    expect(all).toContain('reply from [number]');
    expect(all).toContain('Duplicate entry [number] for key');
    expect(all).toContain('cannot send to [number]');
    expect(all).toContain('timeout talking to [number]');
  });

  it("logs a driver error's type, code and frames, but not the query or its parameters", () => {
    const { log, lines, entries } = capture();
    const err = Object.assign(
      new Error(
        'Failed query: insert into notification_outbox values (?, ?)\nparams: Aman Verma,917891971009',
      ),
      { name: 'DrizzleQueryError', code: 'ER_DUP_ENTRY', params: ['Aman Verma', '917891971009'] },
    );
    log.error({ err }, 'unhandled error');
    expect(lines.join('\n')).not.toMatch(/Aman Verma|917891971009|params/);
    expect(entries()[0]!.err).toMatchObject({
      type: 'DrizzleQueryError',
      code: 'ER_DUP_ENTRY',
      message: 'database query failed',
    });
    expect((entries()[0]!.err as { stack: string }).stack).toMatch(
      /^DrizzleQueryError: .*\n\s+at /,
    );
  });

  it('masks configured secrets anywhere in the line, and only secrets long enough to be one', () => {
    const { log, lines, entries } = capture(['webhook-secret-token', 'admin']);
    log.info({ req: { url: '/api/_ah/v1/message?token=webhook-secret-token' } }, 'request');
    log.info('token webhook-secret-token used at /admin/queues');
    expect(lines.join('\n')).not.toContain('webhook-secret-token');
    expect(entries()[0]).toMatchObject({ req: { url: '/api/_ah/v1/message?token=[redacted]' } });
    // "admin" is too short to be treated as a secret: paths stay readable.
    expect(entries()[1]!.msg).toBe('token [redacted] used at /admin/queues');
  });

  it('adds the log context to every line logged inside it, across awaits', async () => {
    const { log, entries } = capture();
    await withLogContext({ queue: 'message.send', jobId: 'send-outbox-1' }, async () => {
      await Promise.resolve();
      log.info({ outboxId: 1 }, 'inside');
    });
    log.info('outside');
    expect(entries()[0]).toMatchObject({ queue: 'message.send', jobId: 'send-outbox-1' });
    expect(entries()[1]).not.toHaveProperty('jobId');
  });

  it("keeps one line's fields off the next line of the same context", async () => {
    const { log, entries } = capture();
    await withLogContext({ jobId: 'send-outbox-2' }, async () => {
      log.warn({ reason: 'refused' }, 'first');
      log.info('second');
    });
    expect(entries()[0]).toMatchObject({ jobId: 'send-outbox-2', reason: 'refused' });
    expect(entries()[1]).toMatchObject({ jobId: 'send-outbox-2' });
    expect(entries()[1]).not.toHaveProperty('reason');
  });
});

describe('logSecrets', () => {
  it('lists the configured credentials, including passwords inside connection URLs', () => {
    const config = loadConfig({
      NODE_ENV: 'test',
      GUPSHUP_DEFAULT_PASSWORD: 'gupshup-pw',
      WEBHOOK_TOKEN: 'hook-token',
      ADMIN_USER: 'ops',
      ADMIN_PASSWORD: 'admin-pw',
      REDIS_URL: 'redis://:redis%40pw@127.0.0.1:6379',
      DATABASE_URL: 'mysql://app:db-pw@127.0.0.1:3306/wa',
    });
    expect(logSecrets(config)).toEqual(
      expect.arrayContaining(['gupshup-pw', 'hook-token', 'admin-pw', 'redis@pw', 'db-pw']),
    );
  });
});

describe('redactFields', () => {
  it('censors exactly what pino would with REDACT_PATHS, and leaves the logged object as it was', () => {
    const fields = {
      shipmentId: 'S-1',
      phone: '917891971009',
      to: null,
      list: [{ to: '919000000001', id: 1 }, 'text', 3],
      outbox: {
        toNumber: '917891971009',
        msg: 'hello there',
        id: 7,
        nested: { name: 'Aman', keep: 'yes', deeper: { name: 'too deep to be a path' } },
      },
      req: {
        method: 'POST',
        url: '/x',
        headers: { authorization: 'Bearer abc', host: 'h', cookie: 'c=1' },
        query: { token: 't', page: '2' },
      },
      when: new Date(0),
      err: new Error('an error is not walked'),
    };
    const before = JSON.stringify(fields);
    const lines: string[] = [];
    const reference = pino(
      { base: null, timestamp: false, redact: { paths: REDACT_PATHS, censor: '[redacted]' } },
      { write: (line: string) => void lines.push(line) },
    );
    const { err: _err, ...plain } = fields;
    reference.info(plain);
    const ours = JSON.parse(JSON.stringify(redactFields(plain))) as Record<string, unknown>;
    const theirs = JSON.parse(lines[0]!) as Record<string, unknown>;
    delete theirs.level;
    expect(ours).toEqual(theirs);
    expect(ours).toMatchObject({
      phone: '[redacted]',
      to: '[redacted]',
      list: [{ to: '[redacted]', id: 1 }, 'text', 3],
      outbox: { toNumber: '[redacted]', msg: '[redacted]', nested: { name: '[redacted]' } },
      req: { headers: { authorization: '[redacted]', host: 'h' }, query: { page: '2' } },
    });
    expect(JSON.stringify(fields)).toBe(before);
    // Nothing to censor: the same object, not a copy.
    const clean = { shipmentId: 'S-1', outbox: { id: 7 } };
    expect(redactFields(clean)).toBe(clean);
  });
});
