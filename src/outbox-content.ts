/**
 * What `notification_outbox.content` holds beside a message's text (`body`), as JSON:
 * - a template: its placeholder values in order (the self-serve API sends them as `params`) and,
 *   per quick-reply button, the action its signed postback asks for (null: no postback);
 * - an interactive session message: its content (list, reply buttons, call-to-action URL), the
 *   row's `body` then being the numbered-text version sent where interactive messages cannot go.
 * Written by `fdr.validate` (templates) and `reply.route` (follow-ups), read by `message.send`.
 */
import * as v from 'valibot';

import type { SessionContent } from './gupshup/types.ts';
import type { PostbackAction } from './replies/postback.ts';

export type OutboxContent =
  | { kind: 'template'; params: string[]; buttons: Array<PostbackAction | null> }
  | { kind: 'session'; content: Exclude<SessionContent, { type: 'text' }> };

const ACTIONS = [
  'reattempt',
  'reschedule',
  'date',
  'cancel',
  'concern',
  'update_address',
  'alternate_number',
] as const satisfies readonly PostbackAction[];

const Choice = v.object({ id: v.string(), title: v.string() });

const ContentSchema = v.variant('kind', [
  v.object({
    kind: v.literal('template'),
    params: v.array(v.string()),
    buttons: v.array(v.nullable(v.picklist(ACTIONS))),
  }),
  v.object({
    kind: v.literal('session'),
    content: v.variant('type', [
      v.object({
        type: v.literal('list'),
        body: v.string(),
        button: v.string(),
        section: v.string(),
        rows: v.array(v.object({ ...Choice.entries, description: v.optional(v.string()) })),
      }),
      v.object({ type: v.literal('buttons'), body: v.string(), buttons: v.array(Choice) }),
      v.object({
        type: v.literal('cta_url'),
        body: v.string(),
        displayText: v.string(),
        url: v.string(),
      }),
    ]),
  }),
]);

export function encodeContent(content: OutboxContent): string {
  return JSON.stringify(content);
}

/** The stored content, or null when there is none or it cannot be read. */
export function decodeContent(text: string | null): OutboxContent | null {
  if (text === null) {
    return null;
  }
  try {
    const parsed = v.safeParse(ContentSchema, JSON.parse(text));
    return parsed.success ? parsed.output : null;
  } catch {
    return null;
  }
}
