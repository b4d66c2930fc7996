/**
 * The inbound-message builders against the seed's own payloads: given the seed's values they
 * rebuild the fixtures field for field.
 */
import { readFile } from 'node:fs/promises';

import { describe, expect, it } from 'vitest';

import { buttonReply, interactiveReply, textReply } from './replies.ts';

async function readFixture(name: string): Promise<unknown> {
  const url = new URL(`../../test/fixtures/${name}`, import.meta.url);
  return JSON.parse(await readFile(url, 'utf8')) as unknown;
}

const party = { mobile: '919650186697', waNumber: '919319278973', name: 'Lakshay' };

describe('buttonReply', () => {
  it("rebuilds the seed's button reply", async () => {
    const body = buttonReply({
      ...party,
      replyId: '4921687316728868875',
      messageId: '376937873247896673',
      text: 'Select new delivery date',
      timestamp: 1_686_222_621_000,
      contextId: 'gBEGkZZQGGaXAgkHASKxKpM-kA4',
    });

    expect(body).toEqual(await readFixture('gupshup-inbound-button.json'));
  });

  it('fills timestamp, context id and name when absent', () => {
    const before = Date.now();
    const body = buttonReply({
      mobile: '919812345678',
      waNumber: '918000011111',
      replyId: 'r',
      messageId: 'm',
      text: 'Reattempt delivery',
    });

    expect(Number(body.timestamp)).toBeGreaterThanOrEqual(before);
    expect(JSON.parse(body.context ?? '')).toEqual({
      from: '918000011111',
      id: expect.stringMatching(/^gBEG[\w-]{20,}$/),
    });
    expect(body.name).toEqual(expect.any(String));
    expect(JSON.parse(body.button ?? '')).toEqual({ text: 'Reattempt delivery' });
  });
});

describe('interactiveReply and textReply', () => {
  it("builds the seed's interactive date reply shape", async () => {
    const fixture = (await readFixture('gupshup-inbound-interactive-date.json')) as Record<
      string,
      string
    >;
    const choice = JSON.parse(fixture.interactive ?? '') as {
      button_reply: { id: string; title: string };
    };

    const body = interactiveReply({
      ...party,
      kind: 'button_reply',
      id: choice.button_reply.id,
      title: choice.button_reply.title,
      timestamp: fixture.timestamp,
      contextId: 'gBEGkZZQGGaXAglFLznXQ0Oi4Y4',
      messageId: 'ABEGkZlXkHkdAgo6Lm21xZ0R',
    });

    expect(body).toEqual({ ...fixture, messageId: 'ABEGkZlXkHkdAgo6Lm21xZ0R' });
  });

  it('builds a text reply, quoting our message only when asked', () => {
    const quoted = textReply({
      ...party,
      text: 'deliver after 6pm',
      replyId: '4921687316728868875',
    });
    const plain = textReply({ ...party, text: 'hello' });

    expect(quoted).toMatchObject({
      type: 'text',
      text: 'deliver after 6pm',
      replyId: '4921687316728868875',
    });
    expect(plain.replyId).toBeUndefined();
    expect(plain.messageId).toEqual(expect.any(String));
  });
});
