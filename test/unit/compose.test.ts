/**
 * docker-compose.yml is the demo stack users start with `docker compose up`; no engine runs in CI,
 * so this test checks the wiring the service depends on: BullMQ-safe Redis settings, healthchecks,
 * start order, app environment variables that point at the right services and ports, backing
 * services reachable from this host's loopback only, and the production image run read-only in
 * development mode.
 */
import { readFileSync } from 'node:fs';

import { describe, expect, it } from 'vitest';

import { loadConfig } from '../../src/config.ts';
import { parse } from 'yaml';

interface Service {
  image?: string;
  build?: unknown;
  command?: string | string[];
  environment?: Record<string, string | number | boolean | null> | string[];
  depends_on?: string[] | Record<string, { condition?: string }>;
  healthcheck?: { test?: string | string[]; disable?: boolean };
  ports?: (string | number | { host_ip?: string; published?: string | number })[];
  read_only?: boolean;
  tmpfs?: string | string[];
}

interface ComposeFile {
  services: Record<string, Service>;
}

/**
 * Compose interpolation as `docker compose` does it with an empty environment: `${VAR:-default}`
 * and `${VAR-default}` give the default, `${VAR}`/`$VAR` give '', and `$$` is a literal `$`.
 */
function interpolate(text: string): string {
  return text.replace(
    /\$\$|\$\{(\w+)(?::?-([^}]*))?\}|\$(\w+)/g,
    (match, _braced?: string, fallback?: string) => (match === '$$' ? '$' : (fallback ?? '')),
  );
}

const raw = readFileSync(new URL('../../docker-compose.yml', import.meta.url), 'utf8');
const compose = parse(interpolate(raw)) as ComposeFile;

function service(name: string): Service {
  const found = compose.services[name];
  if (!found) {
    throw new Error(`docker-compose.yml has no service "${name}"`);
  }
  return found;
}

function commandOf(name: string): string {
  const command = service(name).command ?? '';
  return Array.isArray(command) ? command.join(' ') : command;
}

function envOf(name: string): Record<string, string> {
  const environment = service(name).environment ?? {};
  if (Array.isArray(environment)) {
    return Object.fromEntries(
      environment.map((entry) => {
        const eq = entry.indexOf('=');
        return eq === -1 ? [entry, ''] : [entry.slice(0, eq), entry.slice(eq + 1)];
      }),
    );
  }
  return Object.fromEntries(
    Object.entries(environment).map(([key, value]) => [key, value === null ? '' : String(value)]),
  );
}

function appUrl(variable: string): URL {
  const value = envOf('app')[variable];
  expect(value, `app ${variable}`).toBeTruthy();
  return new URL(value!);
}

describe('docker-compose.yml', () => {
  it('defines the demo services', () => {
    expect(Object.keys(compose.services)).toEqual(
      expect.arrayContaining(['redis', 'mysql', 'pubsub', 'sandbox', 'app']),
    );
  });

  it('runs Redis with persistence and without eviction, as BullMQ requires', () => {
    const command = commandOf('redis');
    expect(command).toMatch(/--appendonly\s+yes\b/);
    expect(command).toMatch(/--maxmemory-policy\s+noeviction\b/);
  });

  it('gives every backing service a healthcheck', () => {
    const backing = Object.keys(compose.services).filter((n) => n !== 'app' && n !== 'sandbox');
    expect(backing.length).toBeGreaterThan(0);
    for (const name of backing) {
      const healthcheck = service(name).healthcheck;
      expect(healthcheck?.test, `${name} healthcheck`).toBeTruthy();
      expect(healthcheck?.disable, `${name} healthcheck disabled`).not.toBe(true);
    }
  });

  it('starts the app only once Redis, MySQL and Pub/Sub are healthy', () => {
    const dependsOn = service('app').depends_on;
    expect(Array.isArray(dependsOn), 'depends_on must be the long (map) form').toBe(false);
    for (const name of ['redis', 'mysql', 'pubsub']) {
      expect((dependsOn as Record<string, { condition?: string }>)[name]?.condition, name).toBe(
        'service_healthy',
      );
    }
  });

  it('publishes Redis, MySQL and the Pub/Sub emulator on the loopback only', () => {
    for (const name of ['redis', 'mysql', 'pubsub']) {
      const ports = service(name).ports ?? [];
      expect(ports.length, `${name} ports`).toBeGreaterThan(0);
      for (const port of ports) {
        // Short form `127.0.0.1:HOST:CONTAINER`, or the long form's host_ip.
        const hostIp = typeof port === 'object' ? port.host_ip : String(port).split(':')[0];
        expect(hostIp, `${name} publishes ${JSON.stringify(port)}`).toBe('127.0.0.1');
      }
    }
  });

  it('runs the app in development mode, stated rather than left to the image', () => {
    // The image sets NODE_ENV=production, whose checks the demo secrets would fail.
    expect(envOf('app').NODE_ENV).toBe('development');
  });

  it('runs the app and the sandbox from the compiled build, on a read-only file system', () => {
    expect(commandOf('app')).toBe('node --expose-gc dist/main.js');
    expect(commandOf('sandbox')).toBe('node dist/sandbox/main.js');
    for (const name of ['app', 'sandbox']) {
      expect(service(name).read_only, `${name} read_only`).toBe(true);
      expect([service(name).tmpfs ?? []].flat(), `${name} tmpfs`).toContain('/tmp');
    }
  });

  it('points the app at Redis', () => {
    const url = appUrl('REDIS_URL');
    expect(url.protocol).toBe('redis:');
    expect(url.hostname).toBe('redis');
    expect(url.port || '6379').toBe('6379');
  });

  it('points the app at the MySQL service, database and password', () => {
    const url = appUrl('DATABASE_URL');
    const mysql = envOf('mysql');
    expect(url.protocol).toBe('mysql:');
    expect(url.hostname).toBe('mysql');
    expect(url.port || '3306').toBe('3306');
    expect(url.pathname).toBe(`/${mysql.MYSQL_DATABASE}`);
    expect(url.username).toBe('root');
    expect(decodeURIComponent(url.password)).toBe(mysql.MYSQL_ROOT_PASSWORD ?? '');
  });

  it('points the app at the Pub/Sub emulator and its project', () => {
    const app = envOf('app');
    expect(app.PUBSUB_EMULATOR_HOST).toBe('pubsub:8085');
    expect(commandOf('pubsub')).toMatch(/--host-port=0\.0\.0\.0:8085\b/);
    expect(commandOf('pubsub')).toContain(`--project=${app.PUBSUB_PROJECT_ID}`);
  });

  it('points the app at the sandbox on the port the sandbox listens on', () => {
    const url = appUrl('GUPSHUP_ENTERPRISE_URL');
    const sandboxPort = envOf('sandbox').SANDBOX_PORT;
    expect(sandboxPort).toMatch(/^\d+$/);
    expect(url.protocol).toBe('http:');
    expect(url.hostname).toBe('sandbox');
    expect(url.port).toBe(sandboxPort);
    expect(url.pathname).toBe('/GatewayAPI/rest');
  });

  it('points the app at the sandbox WMS, and the sandbox at the app webhook with its token', () => {
    const sandbox = envOf('sandbox');
    const wms = appUrl('WMS_API_URL');
    expect(wms.hostname).toBe('sandbox');
    expect(wms.port).toBe(sandbox.SANDBOX_WMS_PORT);
    const callback = new URL(sandbox.SANDBOX_CALLBACK_URL!);
    expect(callback.hostname).toBe('app');
    expect(callback.port).toBe(envOf('app').PORT);
    expect(callback.pathname).toBe('/api/_ah/v1/message');
    expect(callback.searchParams.get('token')).toBe(envOf('app').WEBHOOK_TOKEN);
  });

  it("gives the app a valid configuration with compose's defaults", () => {
    // Resolve `${VAR:-default}` the way compose does when VAR is unset.
    const resolved = Object.fromEntries(
      Object.entries(envOf('app')).map(([key, value]) => [
        key,
        value.replace(/\$\{[A-Z0-9_]+:-([^}]*)\}/g, '$1'),
      ]),
    );
    const config = loadConfig(resolved);
    expect(config.ADMIN_USER).toBeTruthy();
    expect(config.CREDENTIALS_KEY).toBeTruthy();
  });
});
