/**
 * The form fields of Gupshup's self-serve send API (facts §4.1, §4.2, §8), read the way the
 * sandbox checks them before answering `{"status":"submitted","messageId"}`:
 * - `POST /wa/api/v1/msg`: `channel=whatsapp`, `source`, `destination`, `src.name` and `message`
 *   (a JSON text, list or quick reply, src/sandbox/interactive.ts);
 * - `POST /wa/api/v1/template/msg`: `source`, `destination`, `src.name`, `template` (`{"id",
 *   "params"}`, the id one of the sandbox's templates) and optional `postbackTexts`
 *   (`[{"index","text"}]`, 0-based, one per quick-reply button of the template).
 * A problem becomes the 400 answer's `message`: it names the field and the rule, never a value
 * (values can be phone numbers). Pure; used by src/sandbox/server.ts.
 */
import * as v from 'valibot';

import {
  describeIssues,
  type InteractiveContent,
  type Parsed,
  parseJson,
  parseSelfServeMessage,
} from './interactive.ts';
import {
  placeholderCount,
  type SelfServeTemplate,
  type TemplateUse,
  useTemplate,
} from './templates.ts';

export const SESSION_PATH = '/wa/api/v1/msg';
export const TEMPLATE_PATH = '/wa/api/v1/template/msg';

/** A quick-reply button's postback text: `index` is the button's 0-based position. */
export interface PostbackText {
  index: number;
  text: string;
}

/** A self-serve send the sandbox accepted. */
export interface SelfServeSend {
  /** `destination`: the customer. */
  to: string;
  /** `source`: our business number. */
  from: string;
  /** `src.name`: the app, the v2 callbacks' `app`. */
  app: string;
  /** `/msg`: the `message` JSON as sent. */
  message?: Record<string, unknown>;
  interactive?: InteractiveContent;
  template?: TemplateUse;
  postbackTexts?: PostbackText[];
}

const PHONE = /^\d{10,15}$/;

const TemplateField = v.looseObject({
  id: v.pipe(v.string('must be a string'), v.nonEmpty('must not be empty')),
  params: v.optional(v.array(v.string('must be a string'), 'must be an array of strings'), []),
});

const PostbackTextsField = v.pipe(
  v.array(
    v.looseObject({
      index: v.pipe(
        v.number('must be a number'),
        v.integer('must be a whole number'),
        v.minValue(0, 'must be at least 0'),
      ),
      text: v.pipe(v.string('must be a string'), v.nonEmpty('must not be empty')),
    }),
    'must be an array',
  ),
  v.check(
    (list) => new Set(list.map((p) => p.index)).size === list.length,
    'must give each index once',
  ),
);

/** Fields both endpoints share: who sends to whom, through which app. */
function readParties(
  fields: Record<string, string>,
): Parsed<Pick<SelfServeSend, 'to' | 'from' | 'app'>> {
  const channel = fields.channel;
  if (channel !== undefined && channel.toLowerCase() !== 'whatsapp') {
    return { ok: false, reason: 'channel: must be whatsapp' };
  }
  for (const name of ['source', 'destination'] as const) {
    const value = fields[name];
    if (!value) {
      return { ok: false, reason: `${name}: is required` };
    }
    if (!PHONE.test(value)) {
      return {
        ok: false,
        reason: `${name}: must be a phone number with country code, digits only`,
      };
    }
  }
  const app = fields['src.name'];
  if (!app?.trim()) {
    return { ok: false, reason: 'src.name: is required' };
  }
  return { ok: true, value: { to: fields.destination ?? '', from: fields.source ?? '', app } };
}

/** `POST /wa/api/v1/msg`. */
export function readSessionSend(fields: Record<string, string>): Parsed<SelfServeSend> {
  if (!fields.channel) {
    return { ok: false, reason: 'channel: is required' };
  }
  const parties = readParties(fields);
  if (!parties.ok) {
    return parties;
  }
  if (!fields.message) {
    return { ok: false, reason: 'message: is required' };
  }
  const message = parseSelfServeMessage(fields.message);
  if (!message.ok) {
    return message;
  }
  return {
    ok: true,
    value: {
      ...parties.value,
      message: message.value.json,
      ...(message.value.interactive ? { interactive: message.value.interactive } : {}),
    },
  };
}

/** `POST /wa/api/v1/template/msg`, against the sandbox's templates. */
export function readTemplateSend(
  fields: Record<string, string>,
  templates: readonly SelfServeTemplate[],
): Parsed<SelfServeSend> {
  const parties = readParties(fields);
  if (!parties.ok) {
    return parties;
  }
  if (!fields.template) {
    return { ok: false, reason: 'template: is required' };
  }
  const raw = parseJson(fields.template, 'template');
  if (!raw.ok) {
    return raw;
  }
  const given = v.safeParse(TemplateField, raw.value);
  if (!given.success) {
    return { ok: false, reason: describeIssues('template', given.issues) };
  }
  const template = templates.find((t) => t.id === given.output.id);
  if (!template) {
    return { ok: false, reason: 'template.id: no such template' };
  }
  const expected = placeholderCount(template.data);
  if (given.output.params.length !== expected) {
    return {
      ok: false,
      reason: `template.params: the template takes ${expected} parameters, ${given.output.params.length} were given`,
    };
  }
  const use = useTemplate(template, given.output.params);
  let postbackTexts: PostbackText[] | undefined;
  if (fields.postbackTexts !== undefined) {
    const list = parseJson(fields.postbackTexts, 'postbackTexts');
    if (!list.ok) {
      return list;
    }
    const parsed = v.safeParse(PostbackTextsField, list.value);
    if (!parsed.success) {
      return { ok: false, reason: describeIssues('postbackTexts', parsed.issues) };
    }
    const count = use.buttons.length;
    if (parsed.output.some((p) => p.index >= count)) {
      return {
        ok: false,
        reason:
          count === 0
            ? 'postbackTexts: the template has no quick-reply buttons'
            : `postbackTexts: the template has ${count} quick-reply buttons (index 0 to ${count - 1})`,
      };
    }
    postbackTexts = parsed.output.map((p) => ({ index: p.index, text: p.text }));
  }
  return {
    ok: true,
    value: { ...parties.value, template: use, ...(postbackTexts ? { postbackTexts } : {}) },
  };
}
