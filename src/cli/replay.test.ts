import { readFileSync } from 'node:fs';

import { describe, expect, it } from 'vitest';

import { classifyReplay } from './replay.ts';

const fixture = (name: string) =>
  readFileSync(new URL(`../../test/fixtures/${name}`, import.meta.url));

describe('classifyReplay', () => {
  it('takes a WMS event as an FDR event', () => {
    const input = classifyReplay(fixture('fdr-event.json'));
    expect(input).toMatchObject({ kind: 'fdr', source: 'event', pubsubMessageId: null });
  });

  it('unwraps a Pub/Sub push envelope', () => {
    const event = fixture('fdr-event.json');
    const envelope = {
      message: { data: event.toString('base64'), messageId: 'm-1' },
      subscription: 'projects/p/subscriptions/s',
    };
    const input = classifyReplay(Buffer.from(JSON.stringify(envelope)));
    expect(input).toMatchObject({ kind: 'fdr', source: 'pubsub', pubsubMessageId: 'm-1' });
    expect(input.kind === 'fdr' && input.data.equals(event)).toBe(true);
  });

  it('unwraps a bare Pub/Sub message', () => {
    const message = { data: Buffer.from('{"a":1}').toString('base64'), messageId: 'm-2' };
    expect(classifyReplay(Buffer.from(JSON.stringify(message)))).toMatchObject({
      kind: 'fdr',
      pubsubMessageId: 'm-2',
    });
  });

  it('takes a Gupshup delivery report body as a webhook body', () => {
    expect(classifyReplay(fixture('gupshup-dlr-sent.json'))).toMatchObject({
      kind: 'webhook',
      contentType: 'application/json',
    });
  });

  it('takes a form body as the form Gupshup posts', () => {
    expect(classifyReplay(Buffer.from('response=%5B%5D'))).toMatchObject({
      kind: 'webhook',
      contentType: 'application/x-www-form-urlencoded',
    });
  });

  it('follows --as over the guess', () => {
    expect(classifyReplay(fixture('fdr-event.json'), 'webhook').kind).toBe('webhook');
    expect(classifyReplay(fixture('gupshup-dlr-sent.json'), 'fdr').kind).toBe('fdr');
  });
});
