/**
 * The settings page for a client (issue 4, point 5): a server-rendered HTML page over the JSON
 * settings API, for people rather than programs.
 *
 * - `GET  /settings/login`, `POST /settings/login`: a form whose password is the admin token
 *   (API_TOKEN) or an account token; success sets the session cookie and redirects (303) to
 *   `next` (a `/settings/<id>` path it may reach) or, for an account token, its own page.
 * - `POST /settings/logout`: ends the session (clears the cookie).
 * - `GET  /settings`: asks for an account id (`?accountId=N` redirects to `/settings/N`).
 * - `GET  /settings/:accountId`: the page: on/off switch and per-reason switches, the sender
 *   dropdown, per reason the template id with its placeholder mapping and a Verify button, the
 *   store name and support contacts, the conversation policy (quiet hours, the no-reply rule,
 *   opt-out and opt-in keywords, reminder templates), and the account's last 20 timeline entries.
 * - `GET  /settings/:accountId/outcomes`: the account's outcomes (the funnel, rescue rates by
 *   reason and courier beside the not-messaged ones, not honoured per courier) for a period;
 *   answered by src/http/routes/outcomes-page.ts once the visitor is admitted here.
 * - `POST /settings/:accountId/verify`, `POST /settings/:accountId/save`: the page's script
 *   calls these with JSON; they answer JSON (`{ ok, message, problems?, reasons? }`).
 * - `GET  /settings/assets/settings.{css,js}`: the page's stylesheet and script.
 *
 * Authentication: `Authorization: Bearer <token>` (the admin token or an account token), or
 * the session cookie. The cookie holds an HMAC-signed session id, expiry (8 hours) and whom it
 * was issued to (the admin, or an account token's id and account), never the token; the signing
 * key is derived from API_TOKEN, so rotating it ends every session, and a session of an account
 * token ends when that token is revoked (checked on every request). It is HttpOnly,
 * SameSite=Strict, scoped to /settings, and Secure when the request came over https. An account
 * token reaches only its own account's page: any other is 404. Failed logins and bearer tokens
 * count towards the brute-force brake (src/http/auth-failures.ts). Without authentication a
 * browser (Accept: text/html) is redirected to the login form; anything else gets 401.
 *
 * CSRF: every state-changing request made with the cookie carries a per-session token (an HMAC of
 * the session id), in the `x-csrf-token` header (script) or a `csrf` field (logout form); the login
 * form carries a random token matched against a short-lived login cookie (double submit). Bearer
 * requests need none: browsers never attach that header by themselves.
 *
 * Reuse: the page reads and writes through the JSON API with `app.inject` rather than calling
 * its internals. Validation, the 422 `problems`, the Gupshup verification, cache invalidation on
 * every replica and the logs are then exactly those of the API, by construction, without
 * exporting the route modules' private helpers (`findProblems`, `verify`) or keeping a second copy
 * of their rules. `inject` runs the request in this process, without a socket; the cost is one
 * JSON round trip per call, which a settings page can afford.
 */
import { createHmac, hkdfSync, randomBytes } from 'node:crypto';

import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import * as v from 'valibot';

import type { Config } from '../../config.ts';
import { listAccountActivity } from '../../db/activity.ts';
import { countSuppressions } from '../../db/suppressions.ts';
import { isTokenLive } from '../../db/api-tokens.ts';
import type { Db } from '../../db/client.ts';
import { DEFAULT_CONNECTION_ID } from '../../db/settings.ts';
import { findDefaultTemplate, findTemplate, type StoredTemplate } from '../../db/templates.ts';
import { HttpError } from '../../errors.ts';
import { FDR_REASON_LABELS, FDR_REASONS, type FdrReason } from '../../fdr/reasons.ts';
import { TEMPLATE_VARIABLES } from '../../fdr/variables.ts';
import {
  effectivePolicy,
  PolicySchema,
  type ConversationPolicy,
  type QuietHours,
} from '../../policy.ts';
import { describeQuietHours } from '../../quiet-hours.ts';
import {
  bearerToken,
  mayReach,
  refuseWhileBraked,
  secretsEqual,
  type ApiAuth,
  type Principal,
} from '../auth.ts';
import { documented, SECURITY, undocumented, type ResponseDoc } from '../openapi.ts';
import {
  SETTINGS_ASSETS_VERSION,
  SETTINGS_PAGE_CSS,
  SETTINGS_PAGE_JS,
} from '../pages/settings-assets.ts';
import {
  renderAccountPicker,
  renderErrorPage,
  renderLoginPage,
  renderSettingsPage,
  type PolicyView,
  type ReasonView,
  type SenderOption,
  type SettingsPageView,
} from '../pages/settings-view.ts';
import { AccountParams, parseAccountId, parseBody } from '../validation.ts';
import { outcomesPage, OutcomesQuery } from './outcomes-page.ts';
import { POLICY_KEYS } from './settings.ts';
import { VerifyBody } from './templates.ts';

const SESSION_COOKIE = 'wa_settings_session';
const LOGIN_COOKIE = 'wa_settings_login';
const SESSION_TTL_SECONDS = 8 * 60 * 60;
const LOGIN_TTL_SECONDS = 30 * 60;
const ACTIVITY_SHOWN = 20;

/** Scripts and styles only from this origin (no inline code), requests only to it, no framing. */
const CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "connect-src 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
].join('; ');

interface Session {
  csrf: string;
}

type Visitor = { principal: Principal } & (
  { via: 'bearer' } | { via: 'session'; session: Session }
);

/** A session's principal as the cookie writes it: `admin` or `t<token id>-<account id>`. */
function scopeOf(principal: Principal): string {
  return principal.kind === 'admin' ? 'admin' : `t${principal.tokenId}-${principal.accountId}`;
}

function principalOf(scope: string): Principal | null {
  if (scope === 'admin') {
    return { kind: 'admin' };
  }
  const match = /^t(\d{1,10})-(\d{1,10})$/.exec(scope);
  return match ? { kind: 'account', tokenId: Number(match[1]), accountId: Number(match[2]) } : null;
}

/**
 * Signs and checks session cookies: `s2.<expiry ms>.<scope>.<random id>.<HMAC>`. The key is
 * derived from API_TOKEN with HKDF, so the page needs no secret of its own and a rotation of the
 * admin token ends every session.
 */
function createSessionSigner(apiToken: string) {
  const key = Buffer.from(
    hkdfSync('sha256', apiToken, '', 'whatsapp-settings-page/session/v1', 32),
  );
  const sign = (data: string) => createHmac('sha256', key).update(data).digest('base64url');
  const sessionOf = (sid: string): Session => ({ csrf: sign(`csrf.${sid}`) });
  return {
    /** A new session's cookie value, for `principal`. */
    issue(principal: Principal, now = Date.now()): string {
      const sid = randomBytes(16).toString('base64url');
      const payload = `s2.${now + SESSION_TTL_SECONDS * 1000}.${scopeOf(principal)}.${sid}`;
      return `${payload}.${sign(payload)}`;
    },
    /** The session a cookie value stands for, if it is intact and not expired. */
    read(
      value: string | undefined,
      now = Date.now(),
    ): { session: Session; principal: Principal } | null {
      const match = value
        ? /^(s2\.(\d{13,15})\.(admin|t\d{1,10}-\d{1,10})\.([\w-]{22}))\.([\w-]{43})$/.exec(value)
        : null;
      const [, payload, expires, scope, sid, signature] = match ?? [];
      if (!payload || !expires || !scope || !sid || !signature) {
        return null;
      }
      if (!secretsEqual(signature, sign(payload)) || Number(expires) <= now) {
        return null;
      }
      const principal = principalOf(scope);
      return principal ? { session: sessionOf(sid), principal } : null;
    },
  };
}

function readCookie(request: FastifyRequest, name: string): string | undefined {
  for (const part of (request.headers.cookie ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) {
      return part.slice(eq + 1).trim();
    }
  }
  return undefined;
}

function cookie(name: string, value: string, path: string, maxAge: number, secure: boolean) {
  return `${name}=${value}; Path=${path}; Max-Age=${maxAge}; HttpOnly; SameSite=Strict${secure ? '; Secure' : ''}`;
}

/** Only a settings page of this service may be the target of the post-login redirect. */
function safeNext(raw: string | undefined): string | null {
  return raw !== undefined && /^\/settings\/\d{1,10}(?:\/outcomes)?$/.test(raw) ? raw : null;
}

function wantsHtml(request: FastifyRequest): boolean {
  return (request.headers.accept ?? '').includes('text/html');
}

function firstHeader(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

function sendHtml(reply: FastifyReply, status: number, body: string) {
  return reply
    .code(status)
    .header('content-type', 'text/html; charset=utf-8')
    .header('cache-control', 'no-store')
    .header('content-security-policy', CSP)
    .header('x-content-type-options', 'nosniff')
    .header('x-frame-options', 'DENY')
    .header('referrer-policy', 'same-origin')
    .send(body);
}

/* What the page reads of the API's answers; anything else in them is ignored. */
const ApiSettings = v.object({
  enabled: v.boolean(),
  senderConnectionId: v.string(),
  storeName: v.nullable(v.string()),
  supportContactNumber: v.nullable(v.string()),
  supportEmailAddress: v.nullable(v.string()),
  reasons: v.record(v.string(), v.boolean()),
  templates: v.record(v.string(), v.nullable(v.string())),
  policy: v.optional(v.unknown()),
});
type ApiSettings = v.InferOutput<typeof ApiSettings>;

const ApiConnections = v.object({
  connections: v.array(
    v.object({
      id: v.string(),
      appName: v.string(),
      waNumber: v.string(),
      api: v.optional(v.picklist(['enterprise', 'self-serve'])),
      isDefault: v.boolean(),
      selected: v.boolean(),
      usable: v.boolean(),
    }),
  ),
  warnings: v.array(v.string()),
});

const ApiFailure = v.object({
  message: v.optional(v.string()),
  problems: v.optional(v.array(v.string())),
});

/* What the page's script sends to save. Reasons left out are left as they are. */
const PageReason = v.strictObject({
  enabled: v.boolean('enabled must be true or false'),
  templateId: v.pipe(v.string(), v.trim(), v.maxLength(128, 'template id: at most 128 characters')),
  variables: v.record(v.string(), v.string(), 'variables must be placeholder → variable'),
});

export const PageSaveBody = v.strictObject({
  enabled: v.boolean('enabled must be true or false'),
  senderConnectionId: v.pipe(v.string(), v.trim(), v.nonEmpty('choose a sender')),
  storeName: v.string(),
  supportContactNumber: v.string(),
  supportEmailAddress: v.string(),
  reasons: v.strictObject(
    Object.fromEntries(FDR_REASONS.map((r) => [r, v.optional(PageReason)])) as Record<
      FdrReason,
      v.OptionalSchema<typeof PageReason, undefined>
    >,
  ),
  /** The conversation policy's keys the page changed (judged in full before anything is saved). */
  policy: v.optional(
    v.pipe(
      v.record(v.string(), v.unknown()),
      v.description('Keys as in the settings API `policy` (src/policy.ts).'),
    ),
  ),
  policyDefaults: v.optional(v.array(v.picklist(POLICY_KEYS))),
});
type PageSave = v.InferOutput<typeof PageSaveBody>;

/** What the page calls each policy field in its problems. */
function policyFieldLabel(path: string): string {
  const [key, field] = path.split('.');
  const reasonLabel = field ? FDR_REASON_LABELS[field as FdrReason] : undefined;
  switch (key) {
    case 'quietHours':
      return field === 'start'
        ? 'Quiet hours, from'
        : field === 'end'
          ? 'Quiet hours, until'
          : field === 'timeZone'
            ? 'Quiet hours, time zone'
            : 'Quiet hours';
    case 'noReply':
      return field === 'afterHours' ? 'No reply, hours without a reply' : 'No reply';
    case 'optOutKeywords':
      return 'Opt-out keywords';
    case 'optInKeywords':
      return 'Opt-in keywords';
    case 'reminderTemplates':
      return reasonLabel ? `Reminder template for ${reasonLabel}` : 'Reminder templates';
    default:
      return key ?? 'Conversation policy';
  }
}

/** The page's policy fields, validated as the API will; problems named as the page names fields. */
function readPagePolicy(
  raw: Record<string, unknown> | undefined,
): { ok: true; policy: ConversationPolicy | undefined } | { ok: false; problems: string[] } {
  if (raw === undefined) {
    return { ok: true, policy: undefined };
  }
  const parsed = v.safeParse(PolicySchema, raw);
  if (parsed.success) {
    return { ok: true, policy: parsed.output };
  }
  return {
    ok: false,
    problems: parsed.issues.map((i) => `${policyFieldLabel(v.getDotPath(i) ?? '')}: ${i.message}`),
  };
}

/** `21:00–09:00 Asia/Kolkata`, or `none` when the platform has no quiet hours. */
function quietHoursLabel(quiet: QuietHours | null): string {
  return quiet ? describeQuietHours(quiet) : 'none';
}

const TIME_ZONES: readonly string[] = Intl.supportedValuesOf('timeZone');
type GivenReason = { reason: FdrReason } & v.InferOutput<typeof PageReason>;

export const LoginForm = v.object({
  password: v.pipe(v.string(), v.description('The API token.')),
  csrf: v.pipe(v.string(), v.description("The form's own token, matched against its cookie.")),
  next: v.optional(v.string()),
});

export const LogoutForm = v.object({ csrf: v.string() });

const FORM = ['application/x-www-form-urlencoded'];

/** What the HTML routes answer beside the page itself. */
const HTML_FAILURES = {
  400: { description: 'The page, saying what was wrong (HTML)', body: 'html' },
  401: 'Not logged in, and the client does not accept HTML',
} as const satisfies Record<number, ResponseDoc>;

/** What the page's script gets from its JSON endpoints when a step fails. */
const SCRIPT_FAILURES = {
  400: { description: '`{ ok: false, message, problems? }`, or ERR_VALIDATION', body: 'json' },
  401: 'Not logged in',
  403: 'ERR_CSRF: a session request without its CSRF token (`x-csrf-token`)',
  409: {
    description: '`{ ok: false, message, problems }`: a template other accounts use differently',
    body: 'json',
  },
  422: { description: '`{ ok: false, message, problems?, reasons? }`: what to fix', body: 'json' },
  502: {
    description: 'Gupshup or the settings API failed: `{ ok: false, message }`',
    body: 'json',
  },
} as const satisfies Record<number, ResponseDoc>;

interface PageAnswer {
  status: number;
  body: {
    ok: boolean;
    message: string;
    problems?: string[];
    /** Problems that belong to one reason, for the page to show next to it. */
    reasons?: Partial<Record<FdrReason, string>>;
    settings?: ApiSettings;
  };
}

function emptyToNull(text: string): string | null {
  const trimmed = text.trim();
  return trimmed === '' ? null : trimmed;
}

function sameMapping(stored: StoredTemplate['mapping'], given: Record<string, string>): boolean {
  const entries = Object.entries(given);
  return (
    entries.length === stored.size && entries.every(([n, name]) => stored.get(Number(n)) === name)
  );
}

/** The API's problems that start with a reason's label (`Address Issue: …`), by reason. */
function problemsByReason(problems: readonly string[]): Partial<Record<FdrReason, string>> {
  const byReason: Partial<Record<FdrReason, string>> = {};
  for (const problem of problems) {
    const reason = FDR_REASONS.find((r) => problem.startsWith(`${FDR_REASON_LABELS[r]}: `));
    if (reason) {
      const text = problem.slice(FDR_REASON_LABELS[reason].length + 2);
      byReason[reason] = byReason[reason] ? `${byReason[reason]}; ${text}` : text;
    }
  }
  return byReason;
}

export function settingsPageRoutes(deps: { config: Config; db: Db; auth: ApiAuth }) {
  const { config, db, auth } = deps;
  const apiToken = config.API_TOKEN;
  const signer = apiToken ? createSessionSigner(apiToken) : null;
  const answerOutcomes = outcomesPage({ db });

  return async (app: FastifyInstance): Promise<void> => {
    // The login and logout forms post urlencoded fields; only this plugin accepts them.
    app.addContentTypeParser(
      'application/x-www-form-urlencoded',
      { parseAs: 'string', bodyLimit: 8_192 },
      (_request, body, done) => {
        done(null, Object.fromEntries(new URLSearchParams(String(body))));
      },
    );

    function isSecure(request: FastifyRequest): boolean {
      // A forwarded "https" can only make the cookie stricter, so it is believed without trustProxy.
      const forwarded = firstHeader(request.headers['x-forwarded-proto'])?.split(',')[0]?.trim();
      return (
        request.protocol === 'https' ||
        forwarded === 'https' ||
        Boolean(config.PUBLIC_BASE_URL?.startsWith('https:'))
      );
    }

    /** Each request is authenticated once (in `onRequest`), then read from here. */
    const visitors = new WeakMap<FastifyRequest, Visitor | null>();

    async function authenticate(request: FastifyRequest): Promise<Visitor | null> {
      if (visitors.has(request)) {
        return visitors.get(request) ?? null;
      }
      const visitor = await identifyVisitor(request);
      visitors.set(request, visitor);
      return visitor;
    }

    // Credentials before the body: a script call without them is refused unread.
    app.addHook('onRequest', async (request) => {
      const path = request.url.split('?')[0] ?? '';
      if (request.method === 'POST' && /^\/settings\/\d+\/(verify|save)$/.test(path)) {
        if (!(await authenticate(request))) {
          throw new HttpError(
            401,
            'ERR_UNAUTHORIZED',
            'log in again, or send a valid bearer token',
          );
        }
      }
    });

    async function identifyVisitor(request: FastifyRequest): Promise<Visitor | null> {
      if (!apiToken || !signer) {
        return null;
      }
      const given = bearerToken(request);
      if (given !== null) {
        // A wrong bearer token is refused even if a valid cookie came along.
        const principal = await auth.authenticator.identify(given);
        if (!principal) {
          await auth.failures.record(request.ip);
          return null;
        }
        return { via: 'bearer', principal };
      }
      const read = signer.read(readCookie(request, SESSION_COOKIE));
      if (!read) {
        return null;
      }
      // A session of a revoked account token ends with it.
      if (read.principal.kind === 'account' && !(await isTokenLive(db, read.principal.tokenId))) {
        return null;
      }
      return { via: 'session', session: read.session, principal: read.principal };
    }

    /**
     * For the JSON endpoints: 401 without authentication, 403 without the session's token, 404
     * for an account the visitor may not reach.
     */
    async function requireVisitor(request: FastifyRequest, accountId: number): Promise<Visitor> {
      const visitor = await authenticate(request);
      if (!visitor) {
        throw new HttpError(401, 'ERR_UNAUTHORIZED', 'log in again, or send a valid bearer token');
      }
      checkCsrf(visitor, firstHeader(request.headers['x-csrf-token']));
      if (!mayReach(visitor.principal, accountId)) {
        throw new HttpError(404, 'ERR_NOT_FOUND', 'no such account');
      }
      return visitor;
    }

    /** Where a visitor lands without a `next`: the picker, or an account token's own page. */
    function homeOf(principal: Principal): string {
      return principal.kind === 'admin' ? '/settings' : `/settings/${principal.accountId}`;
    }

    /** A `next` the principal may reach, else its home. */
    function landingOf(principal: Principal, next: string | null): string {
      const account = next ? /^\/settings\/(\d{1,10})(?:$|[/?#])/.exec(next) : null;
      if (
        next &&
        (principal.kind === 'admin' || (account && mayReach(principal, Number(account[1]))))
      ) {
        return next;
      }
      return homeOf(principal);
    }

    function checkCsrf(visitor: Visitor, given: string | undefined): void {
      if (visitor.via === 'session' && !(given && secretsEqual(given, visitor.session.csrf))) {
        throw new HttpError(
          403,
          'ERR_CSRF',
          'this request did not come from the settings page of your session',
        );
      }
    }

    /**
     * An account page's visitor and account, or the answer already sent: the login form (or 401)
     * for no visitor, 400 for an account id that is none, 404 for an account out of reach.
     */
    async function pageVisitor(
      request: FastifyRequest<{ Params: { accountId: string } }>,
      reply: FastifyReply,
    ): Promise<{ visitor: Visitor; accountId: number } | { answered: FastifyReply }> {
      const visitor = await authenticate(request);
      if (!visitor) {
        return {
          answered: refuseAnonymous(request, reply, safeNext(request.url.split('?')[0])),
        };
      }
      const accountId = pageAccountId(request.params.accountId);
      if (accountId instanceof HttpError) {
        return {
          answered: sendHtml(
            reply,
            400,
            renderErrorPage('No such account', accountId.message, homeOf(visitor.principal)),
          ),
        };
      }
      if (!mayReach(visitor.principal, accountId)) {
        return {
          answered: sendHtml(
            reply,
            404,
            renderErrorPage('No such account', 'There is no such page.', homeOf(visitor.principal)),
          ),
        };
      }
      return { visitor, accountId };
    }

    function refuseAnonymous(request: FastifyRequest, reply: FastifyReply, next: string | null) {
      if (wantsHtml(request)) {
        const query = next ? `?next=${encodeURIComponent(next)}` : '';
        return reply.code(303).header('location', `/settings/login${query}`).send();
      }
      return reply
        .code(401)
        .header('www-authenticate', 'Bearer')
        .send({ code: 'ERR_UNAUTHORIZED', message: 'a valid bearer token or session is required' });
    }

    function sendLogin(
      request: FastifyRequest,
      reply: FastifyReply,
      status: number,
      next: string | null,
      error: string | null,
    ) {
      const loginCsrf = randomBytes(16).toString('base64url');
      reply.header(
        'set-cookie',
        cookie(LOGIN_COOKIE, loginCsrf, '/settings/login', LOGIN_TTL_SECONDS, isSecure(request)),
      );
      return sendHtml(reply, status, renderLoginPage({ loginCsrf, next, error }));
    }

    async function callApi(method: 'GET' | 'POST' | 'PUT', url: string, payload?: object) {
      const res = await app.inject({
        method,
        url,
        headers: { authorization: `Bearer ${apiToken ?? ''}` },
        ...(payload === undefined ? {} : { payload }),
      });
      return { status: res.statusCode, body: parseJson(res.body) };
    }

    /** What an API refusal says, as one line and as a list. */
    function failureOf(res: { status: number; body: unknown }): {
      message: string;
      problems: string[];
    } {
      const parsed = v.safeParse(ApiFailure, res.body);
      const message =
        (parsed.success && parsed.output.message) || `the settings API answered ${res.status}`;
      const problems =
        parsed.success && parsed.output.problems?.length ? parsed.output.problems : [message];
      return { message, problems };
    }

    /** The page's status for an API failure: the API's own 4xx, and 502 for anything worse. */
    const statusOf = (apiStatus: number) => (apiStatus >= 500 ? 502 : apiStatus);

    async function loadView(
      accountId: number,
      csrf: string | null,
    ): Promise<SettingsPageView | { status: number; message: string }> {
      const base = `/v1/accounts/${accountId}`;
      const [settingsRes, connectionsRes, activity, suppressedNumbers] = await Promise.all([
        callApi('GET', `${base}/whatsapp-settings`),
        callApi('GET', `${base}/whatsapp-connections`),
        listAccountActivity(db, accountId, ACTIVITY_SHOWN),
        countSuppressions(db, { accountId }),
      ]);
      const settings = v.safeParse(ApiSettings, settingsRes.body);
      const connections = v.safeParse(ApiConnections, connectionsRes.body);
      if (settingsRes.status !== 200 || !settings.success) {
        return { status: statusOf(settingsRes.status), message: failureOf(settingsRes).message };
      }
      if (connectionsRes.status !== 200 || !connections.success) {
        return {
          status: statusOf(connectionsRes.status),
          message: failureOf(connectionsRes).message,
        };
      }
      const current = settings.output;
      const ids = [...new Set(Object.values(current.templates).filter((id) => id !== null))];
      const stored = new Map(
        (await Promise.all(ids.map((id) => findTemplate(db, id)))).flatMap((t) =>
          t ? [[t.id, t] as const] : [],
        ),
      );
      const defaults = new Map(
        await Promise.all(
          FDR_REASONS.map(
            async (reason) => [reason, await findDefaultTemplate(db, reason)] as const,
          ),
        ),
      );
      const reasons: ReasonView[] = FDR_REASONS.map((reason) => {
        const templateId = current.templates[reason] ?? null;
        const template = templateId === null ? undefined : stored.get(templateId);
        const inUse = templateId === null ? defaults.get(reason) : template;
        return {
          reason,
          label: FDR_REASON_LABELS[reason],
          enabled: current.reasons[reason] ?? false,
          templateId,
          template: template
            ? { name: template.name, status: template.status, connectionId: template.connectionId }
            : null,
          mapping: template ? [...template.mapping].sort(([a], [b]) => a - b) : [],
          refused: inUse?.refused ?? null,
        };
      });
      const senders: SenderOption[] = connections.output.connections.map((c) => ({
        id: c.id,
        label: [
          c.appName,
          c.waNumber && `+${c.waNumber}`,
          c.api === 'self-serve' && 'self-serve API',
          c.isDefault && 'platform default',
          !c.usable && 'not usable yet',
        ]
          .filter(Boolean)
          .join(' · '),
        selected: c.id === current.senderConnectionId,
        disabled: !c.usable,
      }));
      if (!senders.some((s) => s.selected)) {
        senders.push({
          id: current.senderConnectionId,
          label: `connection ${current.senderConnectionId} (no longer listed)`,
          selected: true,
          disabled: false,
        });
      }
      return {
        accountId,
        csrf,
        enabled: current.enabled,
        reasons,
        senders,
        senderWarnings: connections.output.warnings,
        storeName: current.storeName ?? '',
        supportContactNumber: current.supportContactNumber ?? '',
        supportEmailAddress: current.supportEmailAddress ?? '',
        activity: activity.map((a) => ({
          occurredAt: a.occurredAt,
          shipmentId: a.shipmentId,
          kind: a.kind,
          title: a.title,
        })),
        suppressedNumbers,
        variables: TEMPLATE_VARIABLES,
        policy: policyView(current.policy),
      };
    }

    /** The policy fields: what the account stored, else what it follows by default. */
    function policyView(raw: unknown): PolicyView {
      const parsed = v.safeParse(PolicySchema, raw ?? {});
      const stored: ConversationPolicy = parsed.success ? parsed.output : {};
      const platform = config.DEFAULT_QUIET_HOURS;
      const inEffect = effectivePolicy(stored, { quietHours: platform });
      const custom = stored.quietHours ??
        platform ?? {
          start: '21:00',
          end: '09:00',
          timeZone: 'Asia/Kolkata',
        };
      return {
        quietHoursMode:
          stored.quietHours === undefined ? 'default' : stored.quietHours ? 'custom' : 'off',
        quietHours: custom,
        platformQuietHours: quietHoursLabel(platform),
        noReply: inEffect.noReply,
        noReplyIsDefault: stored.noReply === undefined,
        optOutKeywords: inEffect.optOutKeywords,
        optInKeywords: inEffect.optInKeywords,
        reminderTemplates: FDR_REASONS.map((reason) => ({
          reason,
          label: FDR_REASON_LABELS[reason],
          templateId: inEffect.reminderTemplates[reason] ?? '',
        })),
        timeZones: TIME_ZONES,
      };
    }

    /**
     * Saves what the page sends, through the API: first every template that is new or changed is
     * verified (nothing is saved if one fails), then saved (`PUT …/whatsapp-templates/:reason`,
     * which verifies again and records the mapping), then the settings (`PUT
     * …/whatsapp-settings`, which refuses a reason switched on without a usable sender/template).
     * The API has no transaction spanning both, so a settings refusal after templates were saved
     * says which templates were kept; each of them had passed verification on this sender.
     */
    async function saveFromPage(accountId: number, page: PageSave): Promise<PageAnswer> {
      const base = `/v1/accounts/${accountId}`;
      const currentRes = await callApi('GET', `${base}/whatsapp-settings`);
      const current = v.safeParse(ApiSettings, currentRes.body);
      if (currentRes.status !== 200 || !current.success) {
        const failure = failureOf(currentRes);
        return {
          status: statusOf(currentRes.status),
          body: { ok: false, message: 'Nothing was saved:', problems: failure.problems },
        };
      }
      const before = current.output;
      const policy = readPagePolicy(page.policy);
      if (!policy.ok) {
        return {
          status: 400,
          body: { ok: false, message: 'Nothing was saved:', problems: policy.problems },
        };
      }
      const sender = page.senderConnectionId;
      const given: GivenReason[] = FDR_REASONS.flatMap((reason) => {
        const r = page.reasons[reason];
        return r ? [{ reason, ...r }] : [];
      });
      const anyOn = FDR_REASONS.some((r) => page.reasons[r]?.enabled ?? before.reasons[r] ?? false);
      if (page.enabled && !anyOn) {
        return {
          status: 400,
          body: {
            ok: false,
            message: 'Nothing was saved:',
            problems: [
              'WhatsApp is switched on but no reason is: tick at least one reason, or switch WhatsApp off',
            ],
          },
        };
      }

      const changed: GivenReason[] = [];
      for (const r of given) {
        if (r.templateId === '') {
          continue;
        }
        const stored =
          r.templateId === before.templates[r.reason] ? await findTemplate(db, r.templateId) : null;
        const unchanged =
          stored !== null &&
          (stored.connectionId ?? DEFAULT_CONNECTION_ID) === sender &&
          sameMapping(stored.mapping, r.variables);
        if (!unchanged) {
          changed.push(r);
        }
      }
      const templateBody = (r: GivenReason) => ({
        templateId: r.templateId,
        connectionId: sender,
        variables: r.variables,
      });

      const verified = await Promise.all(
        changed.map((r) =>
          callApi('POST', `${base}/whatsapp-templates/verify`, {
            reason: r.reason,
            ...templateBody(r),
          }),
        ),
      );
      const refused: Partial<Record<FdrReason, string>> = {};
      let worst = 200;
      verified.forEach((res, i) => {
        const r = changed[i];
        if (r && res.status !== 200) {
          refused[r.reason] = failureOf(res).message;
          worst = Math.max(worst, statusOf(res.status));
        }
      });
      if (Object.keys(refused).length > 0) {
        return {
          status: worst,
          body: {
            ok: false,
            message: 'Nothing was saved: these templates did not pass verification:',
            problems: Object.entries(refused).map(
              ([reason, why]) => `${FDR_REASON_LABELS[reason as FdrReason]}: ${why}`,
            ),
            reasons: refused,
          },
        };
      }

      const savedTemplates: FdrReason[] = [];
      const keptNote = () =>
        savedTemplates.length
          ? `The templates of ${savedTemplates.map((r) => FDR_REASON_LABELS[r]).join(', ')} were verified and saved; nothing else was saved:`
          : 'Nothing was saved:';
      for (const r of changed) {
        const res = await callApi('PUT', `${base}/whatsapp-templates/${r.reason}`, templateBody(r));
        if (res.status !== 200) {
          const { message } = failureOf(res);
          return {
            status: statusOf(res.status),
            body: {
              ok: false,
              message: keptNote(),
              problems: [`${FDR_REASON_LABELS[r.reason]}: ${message}`],
              reasons: { [r.reason]: message },
            },
          };
        }
        savedTemplates.push(r.reason);
      }

      const settingsRes = await callApi('PUT', `${base}/whatsapp-settings`, {
        senderConnectionId: sender,
        storeName: emptyToNull(page.storeName),
        supportContactNumber: emptyToNull(page.supportContactNumber),
        supportEmailAddress: emptyToNull(page.supportEmailAddress),
        // Off for the account means off for every reason; on follows each reason's switch.
        ...(page.enabled
          ? { reasons: Object.fromEntries(given.map((r) => [r.reason, r.enabled])) }
          : { enabled: false }),
        templates: Object.fromEntries(given.map((r) => [r.reason, r.templateId || null])),
        ...(policy.policy ? { policy: policy.policy } : {}),
        ...(page.policyDefaults?.length ? { policyDefaults: page.policyDefaults } : {}),
      });
      const saved = v.safeParse(ApiSettings, settingsRes.body);
      if (settingsRes.status !== 200 || !saved.success) {
        const { problems } = failureOf(settingsRes);
        return {
          status: statusOf(settingsRes.status),
          body: { ok: false, message: keptNote(), problems, reasons: problemsByReason(problems) },
        };
      }
      return {
        status: 200,
        body: {
          ok: true,
          message: savedTemplates.length
            ? `Settings saved, with the verified templates of ${savedTemplates.map((r) => FDR_REASON_LABELS[r]).join(', ')}.`
            : 'Settings saved.',
          settings: saved.output,
        },
      };
    }

    // Static assets of the page: not part of the API, so not in the OpenAPI document.
    app.get<{ Querystring: { v?: string } }>(
      '/settings/assets/settings.css',
      undocumented,
      (request, reply) => sendAsset(request, reply, 'text/css; charset=utf-8', SETTINGS_PAGE_CSS),
    );
    app.get<{ Querystring: { v?: string } }>(
      '/settings/assets/settings.js',
      undocumented,
      (request, reply) =>
        sendAsset(request, reply, 'text/javascript; charset=utf-8', SETTINGS_PAGE_JS),
    );

    const loginPage = documented({
      tags: ['settings page'],
      summary: 'The login form',
      description: '`?next=/settings/<accountId>`: where a successful login goes.',
      security: SECURITY.public,
      responses: {
        200: { description: 'The form (HTML)', body: 'html' },
        503: { description: 'API_TOKEN is not configured (HTML)', body: 'html' },
      },
    });
    app.get<{ Querystring: { next?: string } }>(
      '/settings/login',
      loginPage,
      async (request, reply) => {
        if (!signer) {
          return sendHtml(
            reply,
            503,
            renderErrorPage('Unavailable', 'API_TOKEN is not configured on this service.', null),
          );
        }
        return sendLogin(request, reply, 200, safeNext(request.query.next), null);
      },
    );

    const login = documented({
      tags: ['settings page'],
      summary: 'Log in with the API token',
      security: SECURITY.public,
      body: LoginForm,
      consumes: FORM,
      responses: {
        303: 'Logged in: the session cookie is set; to `next` or the account picker',
        400: { description: 'The form expired or was incomplete (HTML)', body: 'html' },
        401: { description: 'Not the API token (HTML)', body: 'html' },
        503: { description: 'API_TOKEN is not configured (HTML)', body: 'html' },
      },
    });
    app.post('/settings/login', login, async (request, reply) => {
      const form = v.safeParse(LoginForm, request.body);
      const next = form.success ? safeNext(form.output.next) : null;
      if (!signer || !apiToken) {
        return sendHtml(
          reply,
          503,
          renderErrorPage('Unavailable', 'API_TOKEN is not configured on this service.', null),
        );
      }
      if (await refuseWhileBraked(auth.failures, request, reply)) {
        return reply;
      }
      if (!form.success) {
        return sendLogin(request, reply, 400, next, 'The login form was incomplete; try again.');
      }
      const loginCookie = readCookie(request, LOGIN_COOKIE);
      if (!loginCookie || !secretsEqual(form.output.csrf, loginCookie)) {
        return sendLogin(
          request,
          reply,
          400,
          next,
          'The login form expired, or this browser does not keep cookies; try again.',
        );
      }
      const principal = await auth.authenticator.identify(form.output.password);
      if (!principal) {
        await auth.failures.record(request.ip);
        request.log.warn('settings page login refused');
        return sendLogin(request, reply, 401, next, 'That is not a valid token.');
      }
      const value = signer.issue(principal);
      const secure = isSecure(request);
      request.log.info(
        {
          as: principal.kind,
          ...(principal.kind === 'account' ? { accountId: principal.accountId } : {}),
        },
        'settings page login',
      );
      return reply
        .code(303)
        .header('set-cookie', [
          cookie(SESSION_COOKIE, value, '/settings', SESSION_TTL_SECONDS, secure),
          cookie(LOGIN_COOKIE, '', '/settings/login', 0, secure),
        ])
        .header('cache-control', 'no-store')
        .header('location', landingOf(principal, next))
        .send();
    });

    const logout = documented({
      tags: ['settings page'],
      summary: 'Log out (clears the session cookie)',
      security: SECURITY.settingsPage,
      body: LogoutForm,
      consumes: FORM,
      responses: {
        303: 'To the login form',
        403: { description: 'A stale form: no CSRF token of the session (HTML)', body: 'html' },
      },
    });
    app.post('/settings/logout', logout, async (request, reply) => {
      const visitor = await authenticate(request);
      const form = v.safeParse(LogoutForm, request.body);
      const token = form.success ? form.output.csrf : undefined;
      if (visitor?.via === 'session' && !(token && secretsEqual(token, visitor.session.csrf))) {
        return sendHtml(
          reply,
          403,
          renderErrorPage(
            'Not logged out',
            'The logout form was stale; reload the page and try again.',
            '/settings',
          ),
        );
      }
      return reply
        .code(303)
        .header('set-cookie', cookie(SESSION_COOKIE, '', '/settings', 0, isSecure(request)))
        .header('location', '/settings/login')
        .send();
    });

    const picker = documented({
      tags: ['settings page'],
      summary: 'Choose an account',
      description: '`?accountId=N` redirects to `/settings/N`.',
      security: SECURITY.settingsPage,
      responses: {
        200: { description: 'The account picker (HTML)', body: 'html' },
        303: 'To `/settings/<accountId>`, or to the login form (a browser not logged in)',
        ...HTML_FAILURES,
      },
    });
    app.get<{ Querystring: { accountId?: string } }>(
      '/settings',
      picker,
      async (request, reply) => {
        const visitor = await authenticate(request);
        if (!visitor) {
          return refuseAnonymous(request, reply, null);
        }
        // An account token has one account: no picker.
        if (visitor.principal.kind === 'account') {
          return reply.redirect(homeOf(visitor.principal), 303);
        }
        const csrf = visitor.via === 'session' ? visitor.session.csrf : null;
        const raw = request.query.accountId?.trim();
        if (raw === undefined) {
          return sendHtml(reply, 200, renderAccountPicker({ csrf, error: null }));
        }
        const accountId = pageAccountId(raw);
        if (accountId instanceof HttpError) {
          return sendHtml(reply, 400, renderAccountPicker({ csrf, error: accountId.message }));
        }
        return reply.redirect(`/settings/${accountId}`, 303);
      },
    );

    const page = documented({
      tags: ['settings page'],
      summary: "An account's settings page",
      description:
        'On/off switches, sender, template and placeholder mapping per reason with a Verify button, store name and support contacts, the conversation policy (quiet hours, the no-reply rule, opt-out and opt-in keywords, reminder templates), and the last 20 timeline entries.',
      security: SECURITY.settingsPage,
      params: AccountParams,
      responses: {
        200: { description: 'The page (HTML)', body: 'html' },
        303: 'To the login form (a browser not logged in)',
        ...HTML_FAILURES,
        502: { description: 'The settings could not be loaded (HTML)', body: 'html' },
      },
    });
    app.get<{ Params: { accountId: string } }>(
      '/settings/:accountId',
      page,
      async (request, reply) => {
        const reached = await pageVisitor(request, reply);
        if (!('accountId' in reached)) {
          return reached.answered;
        }
        const { visitor, accountId } = reached;
        const view = await loadView(
          accountId,
          visitor.via === 'session' ? visitor.session.csrf : null,
        );
        if ('message' in view) {
          return sendHtml(
            reply,
            view.status,
            renderErrorPage('The settings could not be loaded', view.message, '/settings'),
          );
        }
        return sendHtml(reply, 200, renderSettingsPage(view));
      },
    );

    const outcomes = documented({
      tags: ['settings page'],
      summary: "An account's outcomes page",
      description:
        'For a period (`from`, `to`: UTC days, both included; default the last 30 days): the funnel from messaged to rescued as a chart and a table, the rescue rate by reason and by courier beside the not-messaged rate and the lift, and the not-honoured counts per courier.',
      security: SECURITY.settingsPage,
      params: AccountParams,
      querystring: OutcomesQuery,
      responses: {
        200: { description: 'The page (HTML)', body: 'html' },
        303: 'To the login form (a browser not logged in)',
        ...HTML_FAILURES,
        404: { description: 'Not an account this visitor may see (HTML)', body: 'html' },
      },
    });
    app.get<{ Params: { accountId: string }; Querystring: { from?: unknown; to?: unknown } }>(
      '/settings/:accountId/outcomes',
      outcomes,
      async (request, reply) => {
        const reached = await pageVisitor(request, reply);
        if (!('accountId' in reached)) {
          return reached.answered;
        }
        const { visitor, accountId } = reached;
        const answer = await answerOutcomes({
          accountId,
          csrf: visitor.via === 'session' ? visitor.session.csrf : null,
          query: request.query,
        });
        return sendHtml(reply, answer.status, answer.body);
      },
    );

    app.post<{ Params: { accountId: string } }>(
      '/settings/:accountId/verify',
      documented({
        tags: ['settings page'],
        summary: "The page's Verify button",
        description: 'Passed on to `POST /v1/accounts/{accountId}/whatsapp-templates/verify`.',
        security: SECURITY.settingsPage,
        params: AccountParams,
        body: VerifyBody,
        responses: { 200: '`{ ok: true, template }`', ...SCRIPT_FAILURES },
      }),
      async (request, reply) => {
        const accountId = parseAccountId(request.params.accountId);
        await requireVisitor(request, accountId);
        // Passed on as it came: the API validates it and says what is wrong.
        const res = await callApi(
          'POST',
          `/v1/accounts/${accountId}/whatsapp-templates/verify`,
          typeof request.body === 'object' && request.body !== null ? request.body : {},
        );
        if (res.status === 200) {
          return reply.header('cache-control', 'no-store').send(res.body);
        }
        const { message } = failureOf(res);
        return reply
          .code(statusOf(res.status))
          .header('cache-control', 'no-store')
          .send({ ok: false, message });
      },
    );

    app.post<{ Params: { accountId: string } }>(
      '/settings/:accountId/save',
      documented({
        tags: ['settings page'],
        summary: "The page's Save button",
        description:
          'Checks the conversation policy and verifies every new or changed template (nothing is saved if either fails), saves the templates, then the settings and policy, through the API.',
        security: SECURITY.settingsPage,
        params: AccountParams,
        body: PageSaveBody,
        responses: { 200: '`{ ok: true, message, settings }`', ...SCRIPT_FAILURES },
      }),
      async (request, reply) => {
        const accountId = parseAccountId(request.params.accountId);
        await requireVisitor(request, accountId);
        const page = parseBody(PageSaveBody, request.body);
        const answer = await saveFromPage(accountId, page);
        request.log.info(
          { accountId, ok: answer.body.ok, status: answer.status },
          'settings page save',
        );
        return reply.code(answer.status).header('cache-control', 'no-store').send(answer.body);
      },
    );
  };
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return null;
  }
}

/** An account id from a page URL, or the error to show (pages answer HTML, not JSON). */
function pageAccountId(raw: string): number | HttpError {
  try {
    return parseAccountId(raw);
  } catch (err) {
    if (err instanceof HttpError) {
      return err;
    }
    throw err;
  }
}

function sendAsset(
  request: FastifyRequest<{ Querystring: { v?: string } }>,
  reply: FastifyReply,
  type: string,
  body: string,
) {
  // The page links assets with their content hash, so a matching request may be cached for good.
  const cache =
    request.query.v === SETTINGS_ASSETS_VERSION
      ? 'public, max-age=31536000, immutable'
      : 'no-cache';
  return reply
    .header('content-type', type)
    .header('cache-control', cache)
    .header('x-content-type-options', 'nosniff')
    .send(body);
}
