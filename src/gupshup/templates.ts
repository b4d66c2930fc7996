/**
 * Gupshup template lists: what a sender account has registered, read before a client's template
 * is accepted (src/templates/verify.ts). Two products, one result shape:
 *
 * - Enterprise: `GET GUPSHUP_TEMPLATE_LIST_URL?method=get_whatsapp_hsm&userid&password&format=json
 *   &v=1.1&limit=N` → `{ data: [{ id, name, category, body, button_type, status, … }], meta: { total } }`
 *   (reference facts §1.6). Used for the platform default app and for clients' apps without an
 *   API key. The body is bare; button titles are not listed.
 * - Self-serve: `GET {GUPSHUP_SELF_SERVE_URL}/sm/api/v1/template/list/{appName}` with header
 *   `apikey` → `{ status: 'success', templates: [{ id, elementName, data, status, category,
 *   externalId, … }] }` (§4.3, the seed's fixture). Used when the client gave an API key. `data`
 *   carries the quick-reply buttons as a ` | [Title]` suffix, split off here.
 *
 * Both normalise to `GupshupTemplate`. Every outcome (list, Gupshup refusal, HTTP failure,
 * timeout, network failure) becomes a `TemplateListResult`; nothing throws and nothing logs. The
 * enterprise request carries the password in its query string (Gupshup's API), so URLs built here
 * must never be logged.
 */
import type { Pool } from 'undici';
import * as v from 'valibot';
import { createPool, MAX_RESPONSE_BYTES, requestDeadline, scrubReason } from '../outbound.ts';

/** One template as both lists describe it. */
export interface GupshupTemplate {
  /** The list's own id: the self-serve uuid, or the enterprise (Meta) id. */
  id: string;
  /** The self-serve list's Meta id, which is what the enterprise list calls `id`. */
  externalId: string | null;
  /** Element name (`fdr_rejected_by_the_customer`). */
  name: string;
  /** Body with `{{n}}` placeholders, without the self-serve ` | [Button]` suffix. */
  body: string;
  /** Upper-cased: APPROVED, PENDING, REJECTED, PAUSED, DISABLED, … */
  status: string;
  /** Upper-cased: UTILITY, MARKETING, AUTHENTICATION. */
  category: string;
  /** Quick-reply titles, in order (only the self-serve list names them). */
  buttons: string[];
  language: string | null;
}

/** Where to read a sender's templates from, with the credentials that list needs. */
export type TemplateListSource =
  | { kind: 'enterprise'; appName: string; userid: string; password: string }
  | { kind: 'self-serve'; appName: string; apiKey: string };

/**
 * `complete: false` when the enterprise list says it holds more than one page returned. A failure
 * is `refused` (Gupshup said no: bad credentials, unknown app; the client must fix something) or
 * `unavailable` (5xx, 408/429, timeout, network, unreadable answer; worth trying again later).
 */
export type TemplateListResult =
  | { ok: true; templates: GupshupTemplate[]; complete: boolean }
  | { ok: false; kind: 'refused' | 'unavailable'; code: string; reason: string };

export interface TemplateListClient {
  listTemplates(source: TemplateListSource, signal?: AbortSignal): Promise<TemplateListResult>;
  close(): Promise<void>;
}

/** Templates asked for per enterprise request; a WABA holds at most a few hundred. */
export const ENTERPRISE_LIST_LIMIT = 1000;

const IdSchema = v.pipe(
  v.union([v.string(), v.number()]),
  v.transform((id) => String(id)),
);

const EnterpriseListSchema = v.object({
  data: v.array(
    v.looseObject({
      id: IdSchema,
      name: v.optional(v.string()),
      body: v.optional(v.string()),
      status: v.optional(v.string()),
      category: v.optional(v.string()),
      language: v.optional(v.nullable(v.string())),
    }),
  ),
  meta: v.optional(v.looseObject({ total: v.optional(v.number()) })),
});

const SelfServeListSchema = v.object({
  templates: v.array(
    v.looseObject({
      id: IdSchema,
      elementName: v.optional(v.string()),
      data: v.optional(v.string()),
      status: v.optional(v.string()),
      category: v.optional(v.string()),
      externalId: v.optional(v.nullable(IdSchema)),
      languageCode: v.optional(v.nullable(v.string())),
    }),
  ),
});

/** Gupshup's enterprise error envelope, also used by the list method. */
const ErrorEnvelopeSchema = v.object({
  response: v.object({
    id: v.optional(IdSchema),
    details: v.optional(v.string()),
    status: v.string(),
  }),
});

const BUTTON_SUFFIX = /(?:\s*\|\s*\[[^\]]*\])+\s*$/;

/** Splits the self-serve ` | [Reattempt delivery] | [Cancel my order]` suffix off a body. */
export function splitButtons(data: string): { body: string; buttons: string[] } {
  const match = BUTTON_SUFFIX.exec(data);
  if (!match) {
    return { body: data, buttons: [] };
  }
  const buttons = Array.from(match[0].matchAll(/\[([^\]]*)\]/g), (m) => (m[1] ?? '').trim());
  return { body: data.slice(0, match.index).trimEnd(), buttons: buttons.filter(Boolean) };
}

/** Normalises an enterprise `get_whatsapp_hsm` answer; null when it has no `data` list. */
export function normalizeEnterpriseList(
  json: unknown,
): { templates: GupshupTemplate[]; complete: boolean } | null {
  const parsed = v.safeParse(EnterpriseListSchema, json);
  if (!parsed.success) {
    return null;
  }
  const templates = parsed.output.data.map((t) => {
    // The enterprise body should be bare; split anyway so both lists agree if it is not.
    const { body, buttons } = splitButtons(t.body ?? '');
    return {
      id: t.id,
      externalId: null,
      name: t.name ?? t.id,
      body,
      status: (t.status ?? 'UNKNOWN').toUpperCase(),
      category: (t.category ?? 'UNKNOWN').toUpperCase(),
      buttons,
      language: t.language ?? null,
    };
  });
  const total = parsed.output.meta?.total;
  return { templates, complete: total === undefined || total <= templates.length };
}

/** Normalises a self-serve template list answer; null when it has no `templates` list. */
export function normalizeSelfServeList(json: unknown): GupshupTemplate[] | null {
  const parsed = v.safeParse(SelfServeListSchema, json);
  if (!parsed.success) {
    return null;
  }
  return parsed.output.templates.map((t) => {
    const { body, buttons } = splitButtons(t.data ?? '');
    return {
      id: t.id,
      externalId: t.externalId ?? null,
      name: t.elementName ?? t.id,
      body,
      status: (t.status ?? 'UNKNOWN').toUpperCase(),
      category: (t.category ?? 'UNKNOWN').toUpperCase(),
      buttons,
      language: t.languageCode ?? null,
    };
  });
}

export function createTemplateListClient(opts: {
  enterpriseUrl: string;
  selfServeUrl: string;
  timeoutMs: number;
}): TemplateListClient {
  const enterprise = new URL(opts.enterpriseUrl);
  const selfServe = new URL(opts.selfServeUrl);
  const pools = new Map<string, Pool>();
  // One pool per upstream origin (both may be the same host, as with the sandbox).
  const poolFor = (origin: string): Pool => {
    let pool = pools.get(origin);
    if (!pool) {
      // A template list can be long (hundreds of templates): more room than other answers.
      pool = createPool(origin, opts.timeoutMs, 8 * MAX_RESPONSE_BYTES);
      pools.set(origin, pool);
    }
    return pool;
  };

  async function fetchJson(
    url: URL,
    headers: Record<string, string>,
    signal?: AbortSignal,
  ): Promise<
    { ok: true; status: number; json: unknown } | Extract<TemplateListResult, { ok: false }>
  > {
    const { deadline, signal: combined } = requestDeadline(opts.timeoutMs, signal);
    try {
      const res = await poolFor(url.origin).request({
        method: 'GET',
        path: `${url.pathname}${url.search}`,
        headers: { accept: 'application/json', ...headers },
        signal: combined,
      });
      const text = await res.body.text();
      let json: unknown = null;
      try {
        json = JSON.parse(text);
      } catch {
        json = null;
      }
      return { ok: true, status: res.statusCode, json };
    } catch {
      // Coarser than classifyTransportError on purpose: a caller abort or an undici phase timeout
      // that beat the deadline both count as "could not be reached".
      return {
        ok: false,
        kind: 'unavailable',
        code: deadline.aborted ? 'timeout' : 'network',
        reason: deadline.aborted
          ? 'Gupshup did not answer the template list request in time'
          : 'the Gupshup template list could not be reached',
      };
    }
  }

  async function listEnterprise(
    source: Extract<TemplateListSource, { kind: 'enterprise' }>,
    signal?: AbortSignal,
  ): Promise<TemplateListResult> {
    const url = new URL(enterprise);
    url.search = new URLSearchParams({
      method: 'get_whatsapp_hsm',
      userid: source.userid,
      password: source.password,
      format: 'json',
      v: '1.1',
      limit: String(ENTERPRISE_LIST_LIMIT),
    }).toString();
    const res = await fetchJson(url, {}, signal);
    if (!res.ok) {
      return res;
    }
    const failed = httpFailure(res.status);
    if (failed) {
      return failed;
    }
    const list = normalizeEnterpriseList(res.json);
    if (list) {
      return { ok: true, ...list };
    }
    // Gupshup answers 200 with its error envelope for refusals (bad credentials: id 102).
    const error = v.safeParse(ErrorEnvelopeSchema, res.json);
    if (error.success && error.output.response.status.toLowerCase() === 'error') {
      const { id, details } = error.output.response;
      return {
        ok: false,
        kind: id === '100' ? 'unavailable' : 'refused',
        code: `gupshup_${id ?? 'error'}`,
        reason: scrubReason(details) || `Gupshup error ${id ?? ''}`.trim(),
      };
    }
    return unreadable();
  }

  async function listSelfServe(
    source: Extract<TemplateListSource, { kind: 'self-serve' }>,
    signal?: AbortSignal,
  ): Promise<TemplateListResult> {
    const base = selfServe.pathname.replace(/\/+$/, '');
    const url = new URL(selfServe);
    url.pathname = `${base}/sm/api/v1/template/list/${encodeURIComponent(source.appName)}`;
    const res = await fetchJson(url, { apikey: source.apiKey }, signal);
    if (!res.ok) {
      return res;
    }
    const failed = httpFailure(res.status, res.json);
    if (failed) {
      return failed;
    }
    const templates = normalizeSelfServeList(res.json);
    return templates ? { ok: true, templates, complete: true } : unreadable();
  }

  return {
    listTemplates: (source, signal) =>
      source.kind === 'enterprise' ? listEnterprise(source, signal) : listSelfServe(source, signal),
    async close() {
      await Promise.all([...pools.values()].map((pool) => pool.close()));
    },
  };
}

/** 4xx except 408/429 is a refusal; 5xx, 408 and 429 are "try again later". */
function httpFailure(
  status: number,
  json?: unknown,
): Extract<TemplateListResult, { ok: false }> | null {
  if (status >= 200 && status < 300) {
    return null;
  }
  const retryable = status >= 500 || status === 408 || status === 429;
  const message =
    typeof json === 'object' &&
    json !== null &&
    'message' in json &&
    typeof json.message === 'string'
      ? `: ${scrubReason(json.message)}`
      : '';
  return {
    ok: false,
    kind: retryable ? 'unavailable' : 'refused',
    code: `http_${status}`,
    reason: `Gupshup answered HTTP ${status}${message}`,
  };
}

function unreadable(): Extract<TemplateListResult, { ok: false }> {
  return {
    ok: false,
    kind: 'unavailable',
    code: 'bad_response',
    reason: 'the Gupshup template list answer could not be read',
  };
}
