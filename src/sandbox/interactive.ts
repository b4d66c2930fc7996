/**
 * Interactive session messages the sandbox accepts, checked against WhatsApp's own limits (Meta's
 * Cloud API documentation, facts §8) the way WhatsApp would refuse them:
 * - Enterprise: `interactive_type=list|dr_button` with an `action` JSON string and `msg` as the
 *   body (`parseEnterpriseInteractive`).
 * - Self-serve: the `message` JSON of `/wa/api/v1/msg`, of type `text`, `list` or `quick_reply`
 *   (`parseSelfServeMessage`).
 * Both become one `InteractiveContent`, recorded on the send, from which `sandbox.tap` builds
 * the customer's answer. Problems are described by path and rule, never by value: they go back
 * to the caller and values can be phone numbers. Pure; used by src/sandbox/server.ts and
 * src/sandbox/self-serve.ts.
 */
import * as v from 'valibot';

/** WhatsApp's limits on interactive messages, in characters unless named otherwise. */
export const LIMITS = {
  body: 1_024,
  text: 4_096,
  header: 60,
  footer: 60,
  listButton: 20,
  sections: 10,
  sectionTitle: 24,
  rows: 10,
  rowId: 200,
  rowTitle: 24,
  rowDescription: 72,
  buttons: 3,
  buttonId: 256,
  buttonTitle: 20,
} as const;

/** One list row or reply button as sent; `id` is absent when a self-serve option gave none. */
export interface InteractiveChoice {
  id?: string;
  title: string;
  description?: string;
  /** Self-serve: the option's `postbackText`. */
  postbackText?: string;
}

export interface InteractiveSection {
  title?: string;
  rows: InteractiveChoice[];
}

/** An interactive message as the sandbox understood it, whichever API sent it. */
export type InteractiveContent =
  | {
      type: 'list';
      body: string;
      /** The menu button's title. */
      button: string;
      /** Self-serve list `title` (the header) and `msgid`, when given. */
      title?: string;
      msgid?: string;
      sections: InteractiveSection[];
    }
  | {
      type: 'buttons';
      body: string;
      /** Self-serve quick reply `content.caption` and `msgid`, when given. */
      caption?: string;
      msgid?: string;
      buttons: InteractiveChoice[];
    };

/** A self-serve `message` that passed: the JSON as sent, and its interactive content if any. */
export interface SelfServeMessage {
  type: 'text' | 'list' | 'quick_reply';
  json: Record<string, unknown>;
  interactive?: InteractiveContent;
}

export type Parsed<T> = { ok: true; value: T } | { ok: false; reason: string };

/** At most `max` characters (code points, so an emoji counts once). */
const text = (max: number) =>
  v.pipe(
    v.string('must be a string'),
    v.check((s) => [...s].length <= max, `must be at most ${max} characters`),
  );
const requiredText = (max: number) =>
  v.pipe(
    text(max),
    v.check((s) => s.trim() !== '', 'must not be empty'),
  );

function uniqueIds(ids: (string | undefined)[]): boolean {
  const given = ids.filter((id): id is string => id !== undefined);
  return new Set(given).size === given.length;
}

// ---------------------------------------------------------------------------------------------
// Enterprise `action`

const ListAction = v.pipe(
  v.looseObject({
    button: requiredText(LIMITS.listButton),
    sections: v.pipe(
      v.array(
        v.looseObject({
          title: v.optional(text(LIMITS.sectionTitle)),
          rows: v.pipe(
            v.array(
              v.looseObject({
                id: requiredText(LIMITS.rowId),
                title: requiredText(LIMITS.rowTitle),
                description: v.optional(text(LIMITS.rowDescription)),
              }),
              'must be an array',
            ),
            v.minLength(1, 'must hold at least one row'),
          ),
        }),
        'must be an array',
      ),
      v.minLength(1, 'must hold at least one section'),
      v.maxLength(LIMITS.sections, `must hold at most ${LIMITS.sections} sections`),
    ),
  }),
  v.check(
    (a) => a.sections.flatMap((s) => s.rows).length <= LIMITS.rows,
    `a list holds at most ${LIMITS.rows} rows in all`,
  ),
  v.check(
    (a) => uniqueIds(a.sections.flatMap((s) => s.rows.map((r) => r.id))),
    'row ids must be unique',
  ),
  v.check(
    (a) => a.sections.length === 1 || a.sections.every((s) => s.title?.trim()),
    'every section needs a title when there are several',
  ),
);

const ButtonsAction = v.pipe(
  v.looseObject({
    buttons: v.pipe(
      v.array(
        v.looseObject({
          type: v.literal('reply', 'must be reply'),
          reply: v.looseObject({
            id: requiredText(LIMITS.buttonId),
            title: requiredText(LIMITS.buttonTitle),
          }),
        }),
        'must be an array',
      ),
      v.minLength(1, 'must hold at least one button'),
      v.maxLength(LIMITS.buttons, `must hold at most ${LIMITS.buttons} buttons`),
    ),
  }),
  v.check((a) => uniqueIds(a.buttons.map((b) => b.reply.id)), 'button ids must be unique'),
);

/**
 * An enterprise interactive send: `interactive_type` (`list` or `dr_button`), `action` (JSON)
 * and `msg` (the body). Reasons read like `action.sections.0.rows.1.title: must be at most 24
 * characters`.
 */
export function parseEnterpriseInteractive(
  params: Record<string, string>,
): Parsed<InteractiveContent> {
  const kind = params.interactive_type;
  if (kind === undefined || kind === '') {
    return { ok: false, reason: 'interactive_type is required with action' };
  }
  if (kind !== 'list' && kind !== 'dr_button') {
    return { ok: false, reason: 'interactive_type must be list or dr_button' };
  }
  if (!params.action) {
    return { ok: false, reason: 'action is required with interactive_type' };
  }
  const body = checkBody(params.msg ?? '', 'msg');
  if (!body.ok) {
    return body;
  }
  const action = parseJson(params.action, 'action');
  if (!action.ok) {
    return action;
  }
  if (kind === 'list') {
    const list = v.safeParse(ListAction, action.value);
    if (!list.success) {
      return { ok: false, reason: describeIssues('action', list.issues) };
    }
    return {
      ok: true,
      value: {
        type: 'list',
        body: body.value,
        button: list.output.button,
        sections: list.output.sections.map((section) => ({
          ...(section.title === undefined ? {} : { title: section.title }),
          rows: section.rows.map((row) => ({
            id: row.id,
            title: row.title,
            ...(row.description === undefined ? {} : { description: row.description }),
          })),
        })),
      },
    };
  }
  const buttons = v.safeParse(ButtonsAction, action.value);
  if (!buttons.success) {
    return { ok: false, reason: describeIssues('action', buttons.issues) };
  }
  return {
    ok: true,
    value: {
      type: 'buttons',
      body: body.value,
      buttons: buttons.output.buttons.map((b) => ({ id: b.reply.id, title: b.reply.title })),
    },
  };
}

function checkBody(body: string, where: string): Parsed<string> {
  if (body.trim() === '') {
    return { ok: false, reason: `${where}: must not be empty` };
  }
  if ([...body].length > LIMITS.body) {
    return { ok: false, reason: `${where}: must be at most ${LIMITS.body} characters` };
  }
  return { ok: true, value: body };
}

// ---------------------------------------------------------------------------------------------
// Self-serve `message`

const TextMessage = v.looseObject({
  type: v.literal('text'),
  text: requiredText(LIMITS.text),
});

const ListMessage = v.pipe(
  v.looseObject({
    type: v.literal('list'),
    title: v.optional(text(LIMITS.header)),
    body: requiredText(LIMITS.body),
    footer: v.optional(text(LIMITS.footer)),
    msgid: v.optional(v.string('must be a string')),
    globalButtons: v.pipe(
      v.array(
        v.looseObject({
          type: v.literal('text', 'must be text'),
          title: requiredText(LIMITS.listButton),
        }),
        'must be an array',
      ),
      v.length(1, 'must hold exactly one button'),
    ),
    items: v.pipe(
      v.array(
        v.looseObject({
          title: v.optional(text(LIMITS.sectionTitle)),
          subtitle: v.optional(v.string('must be a string')),
          options: v.pipe(
            v.array(
              v.looseObject({
                type: v.literal('text', 'must be text'),
                title: requiredText(LIMITS.rowTitle),
                description: v.optional(text(LIMITS.rowDescription)),
                // It becomes the row's id on WhatsApp, so the row id's limit applies.
                postbackText: v.optional(requiredText(LIMITS.rowId)),
              }),
              'must be an array',
            ),
            v.minLength(1, 'must hold at least one option'),
          ),
        }),
        'must be an array',
      ),
      v.minLength(1, 'must hold at least one item'),
      v.maxLength(LIMITS.sections, `must hold at most ${LIMITS.sections} items`),
    ),
  }),
  v.check(
    (m) => m.items.flatMap((item) => item.options).length <= LIMITS.rows,
    `a list holds at most ${LIMITS.rows} options in all`,
  ),
  v.check(
    (m) => uniqueIds(m.items.flatMap((item) => item.options.map((o) => o.postbackText))),
    'option postbackTexts must be unique',
  ),
  v.check(
    (m) => m.items.length === 1 || m.items.every((item) => item.title?.trim()),
    'every item needs a title when there are several',
  ),
);

const QuickReplyMessage = v.pipe(
  v.looseObject({
    type: v.literal('quick_reply'),
    msgid: v.optional(v.string('must be a string')),
    content: v.looseObject({
      type: v.literal('text', 'the sandbox accepts quick_reply content of type text only'),
      text: requiredText(LIMITS.body),
      caption: v.optional(text(LIMITS.footer)),
      header: v.optional(text(LIMITS.header)),
    }),
    options: v.pipe(
      v.array(
        v.looseObject({
          type: v.literal('text', 'must be text'),
          title: requiredText(LIMITS.buttonTitle),
          postbackText: v.optional(requiredText(LIMITS.buttonId)),
        }),
        'must be an array',
      ),
      v.minLength(1, 'must hold at least one option'),
      v.maxLength(LIMITS.buttons, `must hold at most ${LIMITS.buttons} options`),
    ),
  }),
  v.check(
    (m) => uniqueIds(m.options.map((o) => o.postbackText)),
    'option postbackTexts must be unique',
  ),
);

const MessageType = v.looseObject({
  type: v.picklist(
    ['text', 'list', 'quick_reply'],
    'the sandbox accepts message types text, list and quick_reply',
  ),
});

/** The `message` field of a self-serve session send. */
export function parseSelfServeMessage(text: string): Parsed<SelfServeMessage> {
  const raw = parseJson(text, 'message');
  if (!raw.ok) {
    return raw;
  }
  const head = v.safeParse(MessageType, raw.value);
  if (!head.success) {
    return { ok: false, reason: describeIssues('message', head.issues) };
  }
  const json = head.output;
  if (json.type === 'text') {
    const message = v.safeParse(TextMessage, json);
    return message.success
      ? { ok: true, value: { type: 'text', json } }
      : { ok: false, reason: describeIssues('message', message.issues) };
  }
  if (json.type === 'list') {
    const list = v.safeParse(ListMessage, json);
    if (!list.success) {
      return { ok: false, reason: describeIssues('message', list.issues) };
    }
    const m = list.output;
    return {
      ok: true,
      value: {
        type: 'list',
        json,
        interactive: {
          type: 'list',
          body: m.body,
          button: m.globalButtons[0]?.title ?? '',
          ...(m.title === undefined ? {} : { title: m.title }),
          ...(m.msgid === undefined ? {} : { msgid: m.msgid }),
          sections: m.items.map((item) => ({
            ...(item.title === undefined ? {} : { title: item.title }),
            rows: item.options.map((o) => ({
              title: o.title,
              ...(o.description === undefined ? {} : { description: o.description }),
              ...(o.postbackText === undefined ? {} : { postbackText: o.postbackText }),
            })),
          })),
        },
      },
    };
  }
  const quick = v.safeParse(QuickReplyMessage, json);
  if (!quick.success) {
    return { ok: false, reason: describeIssues('message', quick.issues) };
  }
  const m = quick.output;
  return {
    ok: true,
    value: {
      type: 'quick_reply',
      json,
      interactive: {
        type: 'buttons',
        body: m.content.text,
        ...(m.content.caption === undefined ? {} : { caption: m.content.caption }),
        ...(m.msgid === undefined ? {} : { msgid: m.msgid }),
        buttons: m.options.map((o) => ({
          title: o.title,
          ...(o.postbackText === undefined ? {} : { postbackText: o.postbackText }),
        })),
      },
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Shared

export function parseJson(json: string, where: string): Parsed<unknown> {
  try {
    return { ok: true, value: JSON.parse(json) as unknown };
  } catch {
    return { ok: false, reason: `${where}: must be valid JSON` };
  }
}

/**
 * `where.path: rule` for the first problem. valibot's own messages quote the value received, so
 * only the messages written here are used; a type mismatch reads `expected …`.
 */
export function describeIssues(where: string, issues: readonly v.BaseIssue<unknown>[]): string {
  const [issue] = issues;
  if (!issue) {
    return `${where}: is invalid`;
  }
  const path = [where, v.getDotPath(issue)].filter(Boolean).join('.');
  return `${path}: ${describeIssue(issue)}`;
}

function describeIssue(issue: v.BaseIssue<unknown>): string {
  if (issue.received === 'undefined') {
    return 'is required';
  }
  if (!issue.message.startsWith('Invalid ')) {
    return issue.message;
  }
  return issue.expected ? `expected ${issue.expected}` : 'is invalid';
}
