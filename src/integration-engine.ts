/**
 * Integration engine client (`INTEGRATION_ENGINE_URL`, the seed's "Apps & Integration" service):
 * which WhatsApp (Gupshup) apps a client has installed, for the sender dropdown. Read by
 * `GET /v1/accounts/:accountId/whatsapp-connections`; nothing else calls it.
 *
 * Contract (the seed names only the path, so it is ours to define and the engine's to implement):
 * - `POST {INTEGRATION_ENGINE_URL}/connection/start`, JSON `{ "accountId": 379, "app": "whatsapp-gupshup" }`
 * - 200 → `{ "connections": [{ "id": "482", "appName": "berrylush", "waNumber": "919876543210" }] }`
 *   (`id` may be a string or a number; other fields are ignored). Credentials are never part of
 *   the answer: the engine keeps them, and a client who wants to send through an app stores its
 *   credentials here with `POST /v1/accounts/:accountId/whatsapp-connections`.
 * - Anything else (non-2xx, unreadable body, timeout, refused connection) means "unavailable": the
 *   listing then shows what this service has and says the engine could not be asked.
 *
 * No authentication is sent (no setting exists for one yet). Nothing here logs.
 */
import * as v from 'valibot';
import { createPool, requestDeadline } from './outbound.ts';

export const INTEGRATION_APP = 'whatsapp-gupshup';

/**
 * A settings page waits on this call; an engine slower than this is reported as unavailable
 * rather than holding the page.
 */
export const ENGINE_TIMEOUT_MS = 5_000;

export interface EngineConnection {
  id: string;
  appName: string;
  waNumber: string;
}

export type EngineResult =
  { ok: true; connections: EngineConnection[] } | { ok: false; reason: string };

export interface IntegrationEngineClient {
  listConnections(accountId: number, signal?: AbortSignal): Promise<EngineResult>;
  close(): Promise<void>;
}

const ConnectionsSchema = v.object({
  connections: v.array(
    v.looseObject({
      id: v.pipe(
        v.union([v.string(), v.number()]),
        v.transform((id) => String(id)),
      ),
      appName: v.string(),
      waNumber: v.pipe(
        v.union([v.string(), v.number()]),
        v.transform((n) => String(n)),
      ),
    }),
  ),
});

export function createIntegrationEngineClient(opts: {
  baseUrl: string;
  timeoutMs?: number;
}): IntegrationEngineClient {
  const base = new URL(opts.baseUrl);
  const timeoutMs = opts.timeoutMs ?? ENGINE_TIMEOUT_MS;
  const pool = createPool(base.origin, timeoutMs);
  const path = `${base.pathname.replace(/\/+$/, '')}/connection/start`;

  return {
    async listConnections(accountId, signal) {
      const { deadline, signal: combined } = requestDeadline(timeoutMs, signal);
      try {
        const res = await pool.request({
          method: 'POST',
          path,
          headers: { 'content-type': 'application/json', accept: 'application/json' },
          body: JSON.stringify({ accountId, app: INTEGRATION_APP }),
          signal: combined,
        });
        if (res.statusCode < 200 || res.statusCode >= 300) {
          await res.body.dump();
          return { ok: false, reason: `the integration engine answered HTTP ${res.statusCode}` };
        }
        const parsed = v.safeParse(ConnectionsSchema, await res.body.json());
        if (!parsed.success) {
          return { ok: false, reason: 'the integration engine answer lacks a connections list' };
        }
        return {
          ok: true,
          connections: parsed.output.connections.map((c) => ({
            id: c.id,
            appName: c.appName,
            waNumber: c.waNumber,
          })),
        };
      } catch {
        return {
          ok: false,
          reason: deadline.aborted
            ? 'the integration engine did not answer in time'
            : 'the integration engine could not be reached',
        };
      }
    },
    close: () => pool.close(),
  };
}
