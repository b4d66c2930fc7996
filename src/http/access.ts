/**
 * Who may call which route: one classification of every route the service registers, and the
 * words the README's route table uses for each class. The route × credential test
 * (test/integration/access.test.ts) calls every registered route with every kind of credential
 * and checks the answers against this; the docs test checks the README's table against it, so
 * the table cannot drift from what the service does.
 */

/** How a route is protected. */
export type Access =
  /** Anyone: health, metrics, the API reference, the login form and the page's assets. */
  | 'public'
  /** Public, but only a correctly signed, unexpired link does anything (else 404). */
  | 'signed-link'
  /** Bearer: the admin token, or the token of the account the path names (else 404). */
  | 'account'
  /** Bearer: the admin token, or any account's token. */
  | 'any-token'
  /** The settings page for one account: a bearer token or session of that account, or admin. */
  | 'settings-account'
  /** The settings page's account picker: a bearer token or session (an account's goes to its page). */
  | 'settings-any'
  /** The Gupshup webhook: WEBHOOK_TOKEN (header or query), optionally only from WEBHOOK_ALLOWED_CIDRS. */
  | 'webhook'
  /** Pub/Sub push: the Google-signed OIDC token of PUBSUB_PUSH_SERVICE_ACCOUNT. */
  | 'push'
  /** Bull Board: basic auth ADMIN_USER / ADMIN_PASSWORD. */
  | 'admin-basic';

/** The README's words for each class (its route table's auth column says exactly these). */
export const ACCESS_WORDS: Readonly<Record<Access, string>> = {
  public: 'public',
  'signed-link': 'public, signed, expiring',
  account: 'bearer: admin token, or the account’s own token',
  'any-token': 'bearer: admin token or any account token',
  'settings-account': 'admin or the account’s own token: bearer or login session',
  'settings-any': 'admin or an account token: bearer or login session',
  webhook: '`WEBHOOK_TOKEN` (header `x-webhook-token`, bearer or query `token`)',
  push: 'Google OIDC token of `PUBSUB_PUSH_SERVICE_ACCOUNT`',
  'admin-basic': 'basic auth `ADMIN_USER`/`ADMIN_PASSWORD`',
};

/** The class of a registered route (method and Fastify URL pattern). */
export function accessOf(method: string, url: string): Access {
  if (url === '/pubsub/push') {
    return 'push';
  }
  if (url === '/api/_ah/v1/message') {
    return 'webhook';
  }
  if (url === '/admin/queues' || url.startsWith('/admin/queues/')) {
    return 'admin-basic';
  }
  if (url.startsWith('/trackShipment/')) {
    return 'signed-link';
  }
  if (url.startsWith('/v1/')) {
    return url.includes(':accountId') || url.includes(':shipmentId') ? 'account' : 'any-token';
  }
  if (url.startsWith('/settings/:accountId')) {
    return 'settings-account';
  }
  if (url === '/settings' && method === 'GET') {
    return 'settings-any';
  }
  return 'public';
}
