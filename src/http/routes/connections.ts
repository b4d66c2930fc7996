/**
 * Sender connections API (bearer API_TOKEN): which Gupshup apps a client may send through.
 *
 * - `GET  /v1/accounts/:accountId/whatsapp-connections`: the platform default app, the client's
 *   own apps stored here and, when INTEGRATION_ENGINE_URL is set, the apps the integration engine
 *   says are installed (src/integration-engine.ts). An engine that cannot be asked only adds a
 *   warning: the list still shows what this service has.
 * - `POST /v1/accounts/:accountId/whatsapp-connections`: stores a client's own app, on the API it
 *   uses: `"api": "enterprise"` (the default: HSM userid/password, optionally a two-way account
 *   and an API key for its template list) or `"api": "self-serve"` (`appName`, `apiKey`,
 *   `waNumber`). Credentials are encrypted before they reach MySQL (src/credentials.ts) and never
 *   leave again: not in an answer, a log line or job data (jobs carry the connection id; the
 *   worker decrypts).
 * - `DELETE /v1/accounts/:accountId/whatsapp-connections/:connectionId`: removes one, unless it is
 *   the account's chosen sender.
 *
 * Choosing a connection is the settings API's `senderConnectionId`.
 */
import type { FastifyInstance } from 'fastify';
import * as v from 'valibot';

import type { Config } from '../../config.ts';
import { credentialAad, type CredentialCipher, type CredentialColumn } from '../../credentials.ts';
import type { Db } from '../../db/client.ts';
import {
  deleteConnection,
  findConnectionSummary,
  storeConnection,
  listConnections,
  setConnectionRate,
  type ConnectionSummary,
} from '../../db/connections.ts';
import { DEFAULT_CONNECTION_ID, getAccountSettings } from '../../db/settings.ts';
import type { GupshupApi } from '../../gupshup/types.ts';
import { HttpError } from '../../errors.ts';
import type { IntegrationEngineClient } from '../../integration-engine.ts';
import { defaultSenderUsable } from '../../senders.ts';
import { requireApiAuth, type ApiAuth } from '../auth.ts';
import { documented, SECURITY } from '../openapi.ts';
import { AccountId, AccountParams, parseAccountId, parseBody } from '../validation.ts';

/** One entry of the sender dropdown. */
export interface ConnectionView {
  /** `default`, a stored connection's id, or `ie-<engine id>` for an engine-only app. */
  id: string;
  appName: string;
  waNumber: string;
  source: 'platform' | 'client' | 'integration-engine';
  /** Which Gupshup API it sends through: the Enterprise gateway or the self-serve v2 API. */
  api: GupshupApi;
  /** The platform's own app (GUPSHUP_DEFAULT_*). */
  isDefault: boolean;
  /** The account's current sender. */
  selected: boolean;
  /**
   * Whether messages can go out through it now: the default app needs its credentials
   * configured, a client's app needs CREDENTIALS_KEY, and an engine-only app needs its
   * credentials stored here first.
   */
  usable: boolean;
  hasTwoWay: boolean;
  hasApiKey: boolean;
  /**
   * The app's own sends-per-second limit (its WhatsApp number's tier); null: the platform's
   * GUPSHUP_SENDER_MAX_PER_SECOND.
   */
  maxPerSecond: number | null;
}

const text = (field: string, max: number) =>
  v.pipe(
    v.string(`${field} must be a string`),
    v.trim(),
    v.nonEmpty(`${field} must not be empty`),
    v.maxLength(max, `${field} must be at most ${max} characters`),
  );

// Secrets are kept exactly as given (no trimming) and their values never appear in a message.
const secret = (field: string, max: number) =>
  v.pipe(
    v.string(`${field} must be a string`),
    v.nonEmpty(`${field} must not be empty`),
    v.maxLength(max, `${field} must be at most ${max} characters`),
  );

const WaNumber = v.pipe(
  v.string('waNumber must be a string'),
  v.trim(),
  v.transform((n) => n.replace(/^\+/, '')),
  v.regex(/^\d{10,15}$/, 'waNumber must be 10 to 15 digits, country code first'),
);

/** A sender's sends-per-second limit, as WhatsApp tiers allow (up to 1,000 a number). */
const MaxPerSecond = v.pipe(
  v.number('maxPerSecond must be a number'),
  v.integer('maxPerSecond must be a whole number'),
  v.minValue(1, 'maxPerSecond must be at least 1'),
  v.maxValue(1_000, 'maxPerSecond must be at most 1000'),
);

/** `PATCH …/whatsapp-connections/:connectionId`: what may change without new credentials. */
export const ConnectionChangeBody = v.strictObject({
  maxPerSecond: v.nullable(MaxPerSecond),
});

/** An Enterprise gateway app: the HSM account, optionally the two-way account and an API key. */
export const EnterpriseConnectionBody = v.pipe(
  v.strictObject({
    api: v.optional(v.literal('enterprise', 'api must be enterprise or self-serve')),
    appName: text('appName', 128),
    userid: text('userid', 128),
    password: secret('password', 256),
    waNumber: WaNumber,
    twoWayUserid: v.optional(text('twoWayUserid', 128)),
    twoWayPassword: v.optional(secret('twoWayPassword', 256)),
    apiKey: v.optional(secret('apiKey', 256)),
    maxPerSecond: v.optional(MaxPerSecond),
  }),
  v.check(
    (b) => (b.twoWayUserid === undefined) === (b.twoWayPassword === undefined),
    'twoWayUserid and twoWayPassword: give both or neither',
  ),
);

/** A self-serve (v2) app: its name, API key and WhatsApp number. */
export const SelfServeConnectionBody = v.strictObject({
  api: v.literal('self-serve'),
  appName: text('appName', 128),
  apiKey: secret('apiKey', 256),
  waNumber: WaNumber,
  maxPerSecond: v.optional(MaxPerSecond),
});

/** Either kind; `api` says which (Enterprise when absent). */
export const ConnectionBody = v.union([EnterpriseConnectionBody, SelfServeConnectionBody]);

/** Parses with the schema `api` names, so the reasons given are about that kind of app. */
function parseConnectionBody(body: unknown): v.InferOutput<typeof ConnectionBody> {
  const api =
    typeof body === 'object' && body !== null ? (body as { api?: unknown }).api : undefined;
  if (api === 'self-serve') {
    return parseBody(SelfServeConnectionBody, body);
  }
  if (api !== undefined && api !== 'enterprise') {
    throw new HttpError(400, 'ERR_VALIDATION', 'api: must be enterprise or self-serve');
  }
  return parseBody(EnterpriseConnectionBody, body);
}

/** A stored connection's id, as `DELETE …/whatsapp-connections/:connectionId` takes it. */
export const ConnectionParams = v.object({
  accountId: AccountId,
  connectionId: v.pipe(v.string(), v.regex(/^\d{1,10}$/)),
});

function platformView(config: Config, selected: string): ConnectionView {
  return {
    id: DEFAULT_CONNECTION_ID,
    appName: config.GUPSHUP_DEFAULT_APP_NAME,
    waNumber: config.GUPSHUP_DEFAULT_WA_NUMBER ?? '',
    source: 'platform',
    api: config.GUPSHUP_DEFAULT_API,
    isDefault: true,
    selected: selected === DEFAULT_CONNECTION_ID,
    usable: defaultSenderUsable(config),
    hasTwoWay: Boolean(config.GUPSHUP_DEFAULT_TWO_WAY_USERID),
    hasApiKey: Boolean(config.GUPSHUP_DEFAULT_API_KEY),
    maxPerSecond: null,
  };
}

function clientView(
  c: ConnectionSummary,
  selected: string,
  cipher: CredentialCipher | null,
): ConnectionView {
  return {
    id: String(c.id),
    appName: c.appName,
    waNumber: c.waNumber,
    source: 'client',
    api: c.api,
    isDefault: false,
    selected: selected === String(c.id),
    usable: cipher !== null,
    hasTwoWay: c.hasTwoWay,
    hasApiKey: c.hasApiKey,
    maxPerSecond: c.maxPerSecond,
  };
}

/** A stored connection's id from the path; 400 for anything else (the default app included). */
function storedConnectionId(raw: string): number {
  if (!v.is(ConnectionParams.entries.connectionId, raw)) {
    throw new HttpError(
      400,
      'ERR_VALIDATION',
      raw === DEFAULT_CONNECTION_ID
        ? 'the platform default app is configured by GUPSHUP_DEFAULT_* and GUPSHUP_SENDER_MAX_PER_SECOND, not here'
        : 'connectionId must be the id of a stored connection',
    );
  }
  return Number(raw);
}

/** An app the engine lists and this service stores is one app: same name and number. */
function sameApp(a: { appName: string; waNumber: string }, b: typeof a): boolean {
  const digits = (n: string) => n.replace(/\D/g, '');
  return (
    a.appName.trim().toLowerCase() === b.appName.trim().toLowerCase() &&
    digits(a.waNumber) === digits(b.waNumber)
  );
}

export function connectionRoutes(deps: {
  config: Config;
  db: Db;
  cipher: CredentialCipher | null;
  engine: IntegrationEngineClient | null;
  auth: ApiAuth;
}) {
  const { config, db, cipher, engine } = deps;
  return async (app: FastifyInstance): Promise<void> => {
    app.addHook('onRequest', requireApiAuth(deps.auth));

    app.get<{ Params: { accountId: string } }>(
      '/v1/accounts/:accountId/whatsapp-connections',
      documented({
        tags: ['connections'],
        summary: 'List the Gupshup apps a client may send through',
        description:
          "The platform default app, the client's apps stored here and, with INTEGRATION_ENGINE_URL, the apps the integration engine lists. Never any credential.",
        security: SECURITY.api,
        params: AccountParams,
        responses: {
          200: '`connections` (the current sender has `selected: true`) and `warnings`',
          400: 'accountId is not a positive integer',
          401: 'No valid bearer token',
        },
      }),
      async (request) => {
        const accountId = parseAccountId(request.params.accountId);
        const [stored, settings, installed] = await Promise.all([
          listConnections(db, accountId),
          getAccountSettings(db, accountId),
          engine ? engine.listConnections(accountId) : Promise.resolve(null),
        ]);
        const selected = settings.senderConnectionId;
        const connections = [
          platformView(config, selected),
          ...stored.map((c) => clientView(c, selected, cipher)),
        ];
        const warnings: string[] = [];
        if (installed?.ok) {
          for (const c of installed.connections) {
            if (!stored.some((s) => sameApp(s, c))) {
              connections.push({
                id: `ie-${c.id}`,
                appName: c.appName,
                waNumber: c.waNumber,
                source: 'integration-engine',
                api: 'enterprise',
                isDefault: false,
                selected: selected === `ie-${c.id}`,
                usable: false,
                hasTwoWay: false,
                hasApiKey: false,
                maxPerSecond: null,
              });
            }
          }
        } else if (installed) {
          warnings.push(
            `installed apps could not be read from the integration engine (${installed.reason}); only the connections stored in this service are listed`,
          );
          request.log.warn(
            { accountId, reason: installed.reason },
            'integration engine unavailable',
          );
        }
        if (!cipher && stored.length > 0) {
          warnings.push('CREDENTIALS_KEY is not configured: client connections cannot be used');
        }
        return { accountId, connections, warnings };
      },
    );

    app.post<{ Params: { accountId: string } }>(
      '/v1/accounts/:accountId/whatsapp-connections',
      documented({
        tags: ['connections'],
        summary: "Store a client's own Gupshup app",
        description:
          'An Enterprise gateway app (`api` absent or `enterprise`: userid, password, optionally the two-way account and an API key for its template list) or a self-serve app (`api: self-serve`: appName, apiKey, waNumber). Credentials are encrypted at rest and never returned. Choose it as the sender with the settings API (`senderConnectionId`).',
        security: SECURITY.api,
        params: AccountParams,
        body: ConnectionBody,
        responses: {
          201: 'The stored connection, without its credentials',
          400: 'The body is invalid',
          401: 'No valid bearer token',
          409: 'ERR_CONNECTION_EXISTS: the app with that number is already stored',
          503: 'ERR_CREDENTIALS_KEY_MISSING: CREDENTIALS_KEY is not configured',
        },
      }),
      async (request, reply) => {
        const accountId = parseAccountId(request.params.accountId);
        const body = parseConnectionBody(request.body);
        if (!cipher) {
          throw new HttpError(
            503,
            'ERR_CREDENTIALS_KEY_MISSING',
            'client connections cannot be stored: CREDENTIALS_KEY is not configured on this service',
          );
        }
        const existing = await listConnections(db, accountId);
        const duplicate = existing.find((c) => sameApp(c, body));
        if (duplicate) {
          throw new HttpError(
            409,
            'ERR_CONNECTION_EXISTS',
            `app ${body.appName} with that number is already connection ${duplicate.id} of account ${accountId}; delete it first to replace its credentials`,
          );
        }
        // The credentials are bound to the row's id, so the row comes first; both in one
        // transaction, so no row is ever seen without its credentials.
        const id = await storeConnection(
          db,
          {
            accountId,
            api: body.api ?? 'enterprise',
            appName: body.appName,
            waNumber: body.waNumber,
            maxPerSecond: body.maxPerSecond ?? null,
          },
          (connectionId) => {
            const seal = (value: string, column: CredentialColumn) =>
              cipher.encrypt(value, credentialAad(accountId, connectionId, column));
            return body.api === 'self-serve'
              ? { apiKeyEnc: seal(body.apiKey, 'apiKey') }
              : {
                  useridEnc: seal(body.userid, 'userid'),
                  passwordEnc: seal(body.password, 'password'),
                  twoWayUseridEnc: body.twoWayUserid
                    ? seal(body.twoWayUserid, 'twoWayUserid')
                    : null,
                  twoWayPasswordEnc: body.twoWayPassword
                    ? seal(body.twoWayPassword, 'twoWayPassword')
                    : null,
                  apiKeyEnc: body.apiKey ? seal(body.apiKey, 'apiKey') : null,
                };
          },
        );
        request.log.info(
          { accountId, connectionId: id, api: body.api ?? 'enterprise' },
          'sender connection stored',
        );
        const summary = await findConnectionSummary(db, accountId, id);
        if (!summary) {
          throw new Error(`sender connection ${id} vanished right after it was stored`);
        }
        const { senderConnectionId } = await getAccountSettings(db, accountId);
        return reply.code(201).send(clientView(summary, senderConnectionId, cipher));
      },
    );

    app.patch<{ Params: { accountId: string; connectionId: string } }>(
      '/v1/accounts/:accountId/whatsapp-connections/:connectionId',
      documented({
        tags: ['connections'],
        summary: "Change a client's stored app (its rate limit)",
        description:
          "`maxPerSecond`: the sends per second this app may make (its WhatsApp number's limit, 1 to 1000), or null for the platform default GUPSHUP_SENDER_MAX_PER_SECOND. Every worker paces by it from its next send.",
        security: SECURITY.api,
        params: ConnectionParams,
        body: ConnectionChangeBody,
        responses: {
          200: 'The connection, without its credentials',
          400: 'The body is invalid, or not a stored connection id',
          401: 'No valid bearer token',
          404: 'No such connection for this account',
        },
      }),
      async (request) => {
        const accountId = parseAccountId(request.params.accountId);
        const id = storedConnectionId(request.params.connectionId);
        const body = parseBody(ConnectionChangeBody, request.body);
        if (!(await findConnectionSummary(db, accountId, id))) {
          throw new HttpError(
            404,
            'ERR_NOT_FOUND',
            `account ${accountId} has no sender connection ${id}`,
          );
        }
        await setConnectionRate(db, accountId, id, body.maxPerSecond);
        request.log.info(
          { accountId, connectionId: id, maxPerSecond: body.maxPerSecond },
          'sender connection rate limit changed',
        );
        const summary = (await findConnectionSummary(db, accountId, id))!;
        const { senderConnectionId } = await getAccountSettings(db, accountId);
        return clientView(summary, senderConnectionId, cipher);
      },
    );

    app.delete<{ Params: { accountId: string; connectionId: string } }>(
      '/v1/accounts/:accountId/whatsapp-connections/:connectionId',
      documented({
        tags: ['connections'],
        summary: "Delete a client's stored app",
        security: SECURITY.api,
        params: ConnectionParams,
        responses: {
          204: 'Deleted',
          400: 'Not a stored connection id (the platform default cannot be deleted)',
          401: 'No valid bearer token',
          404: 'No such connection for this account',
          409: "ERR_CONNECTION_IN_USE: it is the account's sender",
        },
      }),
      async (request, reply) => {
        const accountId = parseAccountId(request.params.accountId);
        const raw = request.params.connectionId;
        if (raw === DEFAULT_CONNECTION_ID) {
          throw new HttpError(400, 'ERR_VALIDATION', 'the platform default app cannot be deleted');
        }
        const outcome = await deleteConnection(db, accountId, storedConnectionId(raw));
        if (outcome === 'in_use') {
          throw new HttpError(
            409,
            'ERR_CONNECTION_IN_USE',
            `connection ${raw} is the sender of account ${accountId}; choose another sender first`,
          );
        }
        if (outcome === 'not_found') {
          throw new HttpError(
            404,
            'ERR_NOT_FOUND',
            `sender connection ${raw} does not exist for account ${accountId}`,
          );
        }
        request.log.info({ accountId, connectionId: raw }, 'sender connection deleted');
        return reply.code(204).send();
      },
    );
  };
}
