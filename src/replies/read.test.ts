import { describe, expect, it } from 'vitest';

import type { InboundMessage } from '../webhook/events.ts';
import { blankInbound } from '../webhook/fields.ts';
import { signPostback, type PostbackKeys } from './postback.ts';
import { intentLabel, readReply, summarise } from './read.ts';

const keys: PostbackKeys = { current: 'read-test-secret' };
const at = new Date('2023-06-08T10:00:00Z');

function message(fields: Partial<InboundMessage>): InboundMessage {
  return {
    ...blankInbound('enterprise', 'text'),
    messageId: 'm-1',
    mobile: '919811100001',
    timestamp: at.getTime(),
    ...fields,
  };
}

describe('reading a reply', () => {
  const dateToken = signPostback(keys, { conversation: 12, action: 'date', date: '2023-06-11' });

  it('takes a signed tap for what its postback says, whatever its title', () => {
    const read = readReply(
      keys,
      message({ type: 'interactive', interactiveId: dateToken, interactiveTitle: 'Cancel' }),
      at,
    );
    expect(read.postback).toMatchObject({ kind: 'valid', postback: { conversation: 12 } });
    expect(read.meaning).toEqual({
      kind: 'intent',
      intent: { kind: 'date', date: '2023-06-11' },
      signed: true,
    });
  });

  it('finds the postback in a postback text or a button payload too, and maps concern', () => {
    const concern = signPostback(keys, { conversation: 3, action: 'concern' });
    expect(
      readReply(keys, message({ type: 'button', buttonPayload: concern }), at).meaning,
    ).toEqual({
      kind: 'intent',
      intent: { kind: 'raise_concern' },
      signed: true,
    });
    expect(
      readReply(keys, message({ type: 'interactive', postbackText: dateToken }), at).meaning,
    ).toMatchObject({ signed: true });
  });

  it('reads a tap whose postback fails its check as forged, not by its title', () => {
    const read = readReply(
      keys,
      message({
        type: 'interactive',
        interactiveId: `${dateToken.slice(0, -1)}${dateToken.endsWith('A') ? 'B' : 'A'}`,
        interactiveTitle: 'Sun, 11 June 2023',
      }),
      at,
    );
    expect(read.meaning).toEqual({
      kind: 'forged',
      reason: 'the choice token signature does not match',
    });
    expect(intentLabel(read.meaning, message({ type: 'interactive' }))).toBe('invalid_postback');
  });

  it("reads words when there is no postback, like the seed's own date reply", () => {
    const read = readReply(
      keys,
      message({
        type: 'interactive',
        interactiveId: '{"msgid":"b2fab0a7","postbackText":"10 June 2023"}',
        interactiveTitle: '10 June 2023',
        postbackText: '10 June 2023',
      }),
      at,
    );
    expect(read.postback).toEqual({ kind: 'none' });
    expect(read.meaning).toEqual({
      kind: 'intent',
      intent: { kind: 'date', date: '2023-06-10' },
      signed: false,
    });
  });

  it('reads media as media and summarises it', () => {
    const image = message({
      type: 'image',
      media: { id: null, mimeType: 'image/jpeg', url: null, caption: 'gate' },
    });
    expect(readReply(keys, image, at).meaning).toEqual({ kind: 'media' });
    expect(intentLabel({ kind: 'media' }, image)).toBe('image');
    expect(summarise(image)).toBe('an image (gate)');
    expect(summarise(message({ type: 'text', text: '  call me\n after 6 ' }))).toBe(
      'call me after 6',
    );
  });
});

describe('reading a 1 MiB reply', () => {
  const MiB = 1 << 20;

  it('reads 1 MiB of text as text, and summarises it, in well under a second', () => {
    const text = `I was not home${' \n'.repeat(MiB / 2)}please come back`;
    const started = performance.now();
    const read = readReply(keys, message({ text }), at);
    const summary = summarise(message({ text }));
    const ms = performance.now() - started;
    expect(read.postback).toEqual({ kind: 'none' });
    expect(read.meaning).toEqual({
      kind: 'intent',
      intent: { kind: 'text', text: text.trim() },
      signed: false,
    });
    expect(summary).toBe('I was not home');
    expect(ms).toBeLessThan(1_000);
  });

  it('takes a 1 MiB field that starts like a postback for a malformed one, at once', () => {
    const token = signPostback(keys, { conversation: 3, action: 'cancel' });
    const forged = `${token}${'A'.repeat(MiB)}`;
    const started = performance.now();
    const read = readReply(
      keys,
      message({ type: 'button', buttonPayload: forged, postbackText: forged, text: forged }),
      at,
    );
    expect(performance.now() - started).toBeLessThan(1_000);
    expect(read.meaning).toEqual({ kind: 'forged', reason: 'the choice token is malformed' });
  });
});
