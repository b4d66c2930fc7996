/**
 * `/admin/queues`: Bull Board over the seven queues of the catalog, behind HTTP basic auth
 * (ADMIN_USER / ADMIN_PASSWORD, compared in constant time). Bull Board has no authentication of
 * its own, so without both credentials it is not mounted at all, in any environment; the log says
 * so (a warning in production, where someone probably expected it).
 *
 * The board is read-only: it shows what is stuck and why (job data holds ids only, failure
 * reasons are scrubbed by the workers), while fixes go through the `wa-notify` CLI, which keeps
 * the idempotency rules (a requeued send that already went out is not sent again). Its JSON API is
 * under `/admin/queues/api/queues`.
 */
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { FastifyAdapter } from '@bull-board/fastify';
import type { SwaggerTransform } from '@fastify/swagger';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

import type { Config } from '../../config.ts';
import type { Log } from '../../log.ts';
import { QUEUE_NAMES, type Queues } from '../../queues/index.ts';
import type { AuthFailures } from '../auth-failures.ts';
import { refuseWhileBraked, secretsEqual } from '../auth.ts';
import { documented, SECURITY } from '../openapi.ts';

export const ADMIN_PATH = '/admin/queues';

/** The realm browsers show in their login prompt. */
const REALM = 'wa-notify';

export interface AdminDeps {
  config: Pick<Config, 'NODE_ENV' | 'ADMIN_USER' | 'ADMIN_PASSWORD'>;
  queues: Queues;
  log: Log;
  /** Failed logins count towards the brute-force brake (src/http/auth-failures.ts). */
  failures: AuthFailures;
}

/** `user:password` from `Authorization: Basic …`, or null when absent or malformed. */
function basicCredentials(request: FastifyRequest): { user: string; password: string } | null {
  const match = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(request.headers.authorization ?? '');
  if (!match?.[1]) {
    return null;
  }
  const decoded = Buffer.from(match[1], 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  return colon < 0 ? null : { user: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

export function adminRoutes(deps: AdminDeps) {
  return async (app: FastifyInstance): Promise<void> => {
    const { ADMIN_USER: user, ADMIN_PASSWORD: password, NODE_ENV } = deps.config;
    if (!user || !password) {
      const message = `Bull Board is not mounted at ${ADMIN_PATH}: set ADMIN_USER and ADMIN_PASSWORD to enable it`;
      if (NODE_ENV === 'production') {
        deps.log.warn(message);
      } else {
        deps.log.info(message);
      }
      return;
    }

    // The hook answers itself rather than throwing: Bull Board's routes have its own error
    // handler, which would turn a thrown 401 into a 500.
    app.addHook('onRequest', async (request: FastifyRequest, reply: FastifyReply) => {
      if (await refuseWhileBraked(deps.failures, request, reply)) {
        return reply;
      }
      const given = basicCredentials(request);
      // Both comparisons always run, so the timing says nothing about which part was wrong.
      const userOk = secretsEqual(given?.user ?? '', user);
      const passwordOk = secretsEqual(given?.password ?? '', password);
      if (!given || !userOk || !passwordOk) {
        if (given) {
          request.log.warn('Bull Board login refused');
          await deps.failures.record(request.ip);
        }
        return reply
          .code(401)
          .header('www-authenticate', `Basic realm="${REALM}"`)
          .send({ code: 'ERR_UNAUTHORIZED', message: 'valid admin credentials are required' });
      }
    });

    // Fastify answers a prefix's root at `/admin/queues` and `/admin/queues/` from one options
    // object, whose url ends as the latter; the document names the former.
    const atAdminPath: SwaggerTransform = ({ schema }) => ({ schema, url: ADMIN_PATH });
    // Bull Board marks all its routes hidden from the OpenAPI document (its pages, JSON API and
    // assets are its own business); the board's address itself is listed.
    app.addHook('onRoute', (route) => {
      if (route.url === ADMIN_PATH && route.method === 'GET') {
        Object.assign(
          route,
          documented({
            tags: ['operations'],
            summary: 'Bull Board: the seven queues, read-only',
            description:
              'Mounted only when ADMIN_USER and ADMIN_PASSWORD are set. Fixes go through the `wa-notify` CLI.',
            security: SECURITY.admin,
            responses: {
              200: { description: 'The board (HTML)', body: 'html' },
              401: 'No valid admin credentials',
            },
          }),
          { config: { ...route.config, swaggerTransform: atAdminPath } },
        );
      }
    });

    const serverAdapter = new FastifyAdapter();
    serverAdapter.setBasePath(ADMIN_PATH);
    createBullBoard({
      queues: QUEUE_NAMES.map(
        (name) => new BullMQAdapter(deps.queues[name], { readOnlyMode: true }),
      ),
      serverAdapter,
      options: { uiConfig: { boardTitle: REALM } },
    });
    await app.register(serverAdapter.registerPlugin(), { prefix: ADMIN_PATH });
  };
}
